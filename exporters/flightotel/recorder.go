// Package flightotel exports the statistics of flightcache Loaders as
// OpenTelemetry metrics, and traces the calls of their sources.
//
// A [Recorder] is a [stats.Recorder] to put in a Loader's
// [github.com/flightcache/flightcache.Options].Recorder. It counts every
// event in a [stats.Counter] and reports each count as an asynchronous
// (observable) counter, read from the Counter's snapshot when the metrics are
// collected; it also records the duration of each load in a synchronous
// histogram:
//
//	flightcache.hits            {hit}      reads served fresh from the store
//	flightcache.misses          {miss}     reads that waited for a load
//	flightcache.missing_hits    {hit}      reads served a cached "not found"
//	flightcache.stale_hits      {hit}      reads served a value past its freshness
//	flightcache.coalesced       {call}     callers that joined a load in flight
//	flightcache.loads           {load}     calls of the source; failed ones with error.type
//	flightcache.keys_loaded     {key}      keys asked of the source
//	flightcache.refreshes       {refresh}  background refreshes started
//	flightcache.store_errors    {error}    failed Store calls
//	flightcache.load.duration   s          histogram of the time loads took; failed ones with error.type
//
// Every measurement carries the attribute flightcache.name, the Loader's
// name, so that several Loaders can share a MeterProvider. Exported to
// Prometheus through OpenTelemetry, the names become flightcache_hits_total,
// flightcache_load_duration_seconds and so on, as in package flightprom.
//
// # Errors
//
// As the OpenTelemetry semantic conventions ask, a failed operation is
// counted on the instrument of the operation, with the attribute error.type
// ([semconv.ErrorTypeKey]), rather than on an instrument of its own; a
// successful one carries no error.type. The total of an instrument is the
// sum over its error.type values, the failures are the points that have
// one. The values this package reports:
//
//	timeout  the load ran past Options.LoadTimeout, or its context's deadline
//	panic    the load panicked (a *singleflight.PanicError)
//	_OTHER   any other failure
//
// A background refresh is a load: a failed one is counted by
// flightcache.loads and the histogram with its error.type, while
// flightcache.refreshes counts the refreshes started, whose outcome is not
// known yet when they are counted. Store errors have no operation
// instrument to be an attribute of (the Loader does not count its Store
// calls), so they keep a counter of their own.
//
// flightcache.loads and the histogram count the loads that reach the
// Recorder's RecordLoad, each in its class from the start, so that every
// data point only ever grows; the other counters come from the Counter.
//
// # Why the histogram is synchronous
//
// OpenTelemetry has no asynchronous histogram: a callback can observe
// counters and gauges, but not a distribution. The counters are therefore
// read from the snapshot, which costs nothing between collections, while
// the load durations are recorded as they happen, one Record per load, into
// a Float64Histogram whose explicit bucket boundaries are those of
// [stats.LoadBucketBounds]. That is why the exporter is a Recorder wrapping
// the Counter rather than a reader of it: a reader could pass on only the
// sum and count of load time. A hit costs what it costs with the Counter
// alone (a few nanoseconds, no allocation); a load, slow by nature, also
// pays for one histogram measurement (a few hundred nanoseconds, no
// allocation).
//
// # Traces
//
// [NewTracer] returns a flightcache.Tracer, for Options.Tracer, that makes
// one span per call of a Loader's source: a child of the span of the caller
// whose load it is, linked to the spans of the callers that waited on it
// (capped at flightcache.MaxLinks, all of them counted), with the key count,
// the kind of fill and how its callers are served as attributes. A hit has
// no span, so that a cache in front of a database adds one span per load,
// not one per read, and the database's spans nest under it.
//
// The package is a module of its own, so that the flightcache module never
// depends on OpenTelemetry.
package flightotel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// ScopeName is the instrumentation scope of the Meter a Recorder creates its
// instruments with.
const ScopeName = "github.com/flightcache/flightcache/exporters/flightotel"

// NameKey is the attribute that tells apart the measurements of different
// Loaders.
const NameKey = attribute.Key("flightcache.name")

// The error.type values a Recorder reports; see the package documentation.
const (
	ErrorTypeTimeout = "timeout"
	ErrorTypePanic   = "panic"
	ErrorTypeOther   = "_OTHER"
)

// errorClass is the error.type of a failed load.
type errorClass int

const (
	classOK errorClass = iota
	classTimeout
	classPanic
	classOther
	numClasses
)

// errorTypes are the error.type values of each class; "" for classOK.
var errorTypes = [numClasses]string{"", ErrorTypeTimeout, ErrorTypePanic, ErrorTypeOther}

// classify returns the class of the error a load ended with.
func classify(err error) errorClass {
	var pe *singleflight.PanicError
	switch {
	case err == nil:
		return classOK
	case errors.As(err, &pe):
		return classPanic
	case errors.Is(err, flightcache.ErrLoadTimeout), errors.Is(err, context.DeadlineExceeded):
		return classTimeout
	default:
		return classOther
	}
}

// counterInstrument describes one observable counter: its name, unit and
// description, and the field of stats.Stats it reports.
type counterInstrument struct {
	name, unit, description string
	value                   func(stats.Stats) uint64
}

// counterInstruments are the counters a Recorder reads from the Counter's
// snapshot, in the order of stats.Stats. Loads, split by error.type, are
// reported apart.
var counterInstruments = []counterInstrument{
	{"flightcache.hits", "{hit}", "Reads served from the store while fresh.",
		func(s stats.Stats) uint64 { return s.Hits }},
	{"flightcache.misses", "{miss}", "Reads that found nothing servable and waited for a load.",
		func(s stats.Stats) uint64 { return s.Misses }},
	{"flightcache.missing_hits", "{hit}", "Reads served by a cached \"not found\" answer.",
		func(s stats.Stats) uint64 { return s.MissingHits }},
	{"flightcache.stale_hits", "{hit}", "Reads served a value past its freshness.",
		func(s stats.Stats) uint64 { return s.StaleHits }},
	{"flightcache.coalesced", "{call}", "Callers, or keys of a batch, that joined a load in flight instead of starting one.",
		func(s stats.Stats) uint64 { return s.Coalesced }},
	{"flightcache.keys_loaded", "{key}", "Keys asked of the source.",
		func(s stats.Stats) uint64 { return s.KeysLoaded }},
	{"flightcache.refreshes", "{refresh}", "Background refreshes started; a failed one is a failed load.",
		func(s stats.Stats) uint64 { return s.Refreshes }},
	{"flightcache.store_errors", "{error}", "Store calls that failed.",
		func(s stats.Stats) uint64 { return s.StoreErrors }},
	{"flightcache.throttled", "{call}", "Calls refused a load by the failure throttle.",
		func(s stats.Stats) uint64 { return s.Throttled }},
	{"flightcache.expires", "{call}", "Expire calls that made an entry stale.",
		func(s stats.Stats) uint64 { return s.Expires }},
	{"flightcache.tag_invalidations", "{call}", "InvalidateTag calls that took effect.",
		func(s stats.Stats) uint64 { return s.TagInvalidations }},
	{"flightcache.clears", "{call}", "Clear calls that took effect.",
		func(s stats.Stats) uint64 { return s.Clears }},
	{"flightcache.peeks", "{call}", "Peek calls.",
		func(s stats.Stats) uint64 { return s.Peeks }},
	{"flightcache.peek_hits", "{call}", "Peek calls that found what a read would serve.",
		func(s stats.Stats) uint64 { return s.PeekHits }},
}

// Recorder is a [stats.Recorder] that counts a Loader's events in a
// [stats.Counter] and exports them as OpenTelemetry metrics. Create one with
// [New] and put it in the Loader's Options.Recorder. All methods are safe
// for concurrent use.
type Recorder struct {
	counter  *stats.Counter
	duration metric.Float64Histogram
	// recordOpts holds, for each error class, the attributes of a load
	// measurement, made once: passing the option alone to Record would
	// allocate a slice on every load.
	recordOpts [numClasses][]metric.RecordOption
	// loads counts the loads that reached RecordLoad, by error class.
	loads [numClasses]atomic.Uint64

	mu  sync.Mutex
	reg metric.Registration // nil once unregistered
}

// New returns a Recorder that counts events in counter and reports them, with
// the attribute flightcache.name=name, through instruments of the Meter that
// provider gives for [ScopeName]. A nil provider means the global one,
// [otel.GetMeterProvider], so that a Recorder made before the application
// sets its provider with otel.SetMeterProvider reports through it once it
// is set. A nil counter means a new one, of the Recorder's own.
//
// The counters are observed from counter.Snapshot at each collection; the
// duration of each load that reaches the Recorder is recorded in the
// histogram and counted by flightcache.loads. Events recorded in counter
// directly, not through the Recorder, show in the other counters but not in
// flightcache.loads or the histogram.
//
// name should be unique among the Recorders of one provider. New returns an
// error when an instrument cannot be created; call [Recorder.Unregister]
// when the Loader is closed.
func New(provider metric.MeterProvider, name string, counter *stats.Counter) (*Recorder, error) {
	if provider == nil {
		provider = otel.GetMeterProvider()
	}
	if counter == nil {
		counter = new(stats.Counter)
	}
	meter := provider.Meter(ScopeName)
	nameAttr := NameKey.String(name)
	r := &Recorder{counter: counter}
	var observeOpts [numClasses][]metric.ObserveOption
	for c := range numClasses {
		set := attribute.NewSet(nameAttr)
		if c != classOK {
			set = attribute.NewSet(nameAttr, semconv.ErrorTypeKey.String(errorTypes[c]))
		}
		r.recordOpts[c] = []metric.RecordOption{metric.WithAttributeSet(set)}
		observeOpts[c] = []metric.ObserveOption{metric.WithAttributeSet(set)}
	}

	bounds := stats.LoadBucketBounds()
	seconds := make([]float64, len(bounds))
	for i, b := range bounds {
		seconds[i] = b.Seconds()
	}
	var err error
	r.duration, err = meter.Float64Histogram("flightcache.load.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time calls of the source took; failed ones carry error.type."),
		metric.WithExplicitBucketBoundaries(seconds...))
	if err != nil {
		return nil, fmt.Errorf("flightotel: Recorder %q: %w", name, err)
	}

	counters := make([]metric.Int64ObservableCounter, len(counterInstruments))
	observables := make([]metric.Observable, 0, len(counterInstruments)+2)
	for i, c := range counterInstruments {
		counters[i], err = meter.Int64ObservableCounter(c.name,
			metric.WithUnit(c.unit), metric.WithDescription(c.description))
		if err != nil {
			return nil, fmt.Errorf("flightotel: Recorder %q: %w", name, err)
		}
		observables = append(observables, counters[i])
	}
	loads, err := meter.Int64ObservableCounter("flightcache.loads", metric.WithUnit("{load}"),
		metric.WithDescription("Calls of the source, refreshes and batches included; failed ones carry error.type."))
	if err != nil {
		return nil, fmt.Errorf("flightotel: Recorder %q: %w", name, err)
	}
	observables = append(observables, loads)

	r.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := counter.Snapshot()
		for i, c := range counterInstruments {
			o.ObserveInt64(counters[i], toInt64(c.value(s)), observeOpts[classOK]...)
		}
		for c := range r.loads {
			o.ObserveInt64(loads, toInt64(r.loads[c].Load()), observeOpts[c]...)
		}
		return nil
	}, observables...)
	if err != nil {
		return nil, fmt.Errorf("flightotel: Recorder %q: %w", name, err)
	}
	return r, nil
}

// toInt64 converts a count to the int64 an Int64ObservableCounter takes,
// holding at the largest int64 rather than wrapping around.
func toInt64(n uint64) int64 {
	return int64(min(n, math.MaxInt64))
}

// Record adds n occurrences of e to the [stats.Counter].
func (r *Recorder) Record(e stats.Event, n int) {
	r.counter.Record(e, n)
}

// RecordLoad counts one load in the Counter and records its duration, in
// seconds, in the histogram, with the error.type of err when err is not nil.
// A negative elapsed is recorded as 0.
func (r *Recorder) RecordLoad(elapsed time.Duration, err error) {
	elapsed = max(elapsed, 0)
	class := classify(err)
	r.loads[class].Add(1)
	r.counter.RecordLoad(elapsed, err)
	r.duration.Record(context.Background(), elapsed.Seconds(), r.recordOpts[class]...)
}

// Snapshot returns a snapshot of the Counter, as [stats.Counter.Snapshot] does,
// for instance to report the same figures to Prometheus as well.
func (r *Recorder) Snapshot() stats.Stats {
	return r.counter.Snapshot()
}

// Unregister stops reporting the counters. The histogram, a synchronous
// instrument that OpenTelemetry cannot remove, keeps what it has recorded,
// and goes on recording the loads that reach the Recorder. Calling
// Unregister again does nothing.
func (r *Recorder) Unregister() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reg == nil {
		return nil
	}
	err := r.reg.Unregister()
	r.reg = nil
	if err != nil {
		return fmt.Errorf("flightotel: unregister: %w", err)
	}
	return nil
}

var _ stats.Recorder = (*Recorder)(nil)
