// Package flightprom exports the statistics of flightcache Loaders to
// Prometheus.
//
// A [Collector] reads a snapshot of one Loader's statistics, usually those of
// the [stats.Counter] in its
// [github.com/flightcache/flightcache.Options].Recorder, each time Prometheus
// scrapes it, and reports every count as a counter and the load latencies as a
// histogram:
//
//	flightcache_hits_total             reads served fresh from the store
//	flightcache_misses_total           reads that waited for a load
//	flightcache_missing_hits_total     reads served a cached "not found"
//	flightcache_stale_hits_total       reads served a value past its freshness
//	flightcache_coalesced_total        callers that joined a load in flight
//	flightcache_loads_total            calls of the source
//	flightcache_load_errors_total      calls of the source that failed
//	flightcache_keys_loaded_total      keys asked of the source
//	flightcache_refreshes_total        background refreshes started
//	flightcache_refresh_errors_total   background refreshes that failed
//	flightcache_store_errors_total     failed Store calls
//	flightcache_panics_total           loads that panicked
//	flightcache_throttled_total        calls refused a load by the failure throttle
//	flightcache_load_duration_seconds  histogram of the time loads took
//
// Every series carries a constant label name, the Loader's name, so that the
// Collectors of several Loaders can be registered in one registry. To add
// labels of your own, register through [prometheus.WrapRegistererWith].
//
// Failures have counters of their own (flightcache_load_errors_total beside
// flightcache_loads_total), as Prometheus's naming practice has it; the
// OpenTelemetry exporter, package flightotel, follows OpenTelemetry's
// conventions instead and puts an error.type attribute on the instrument of
// the operation.
//
// The package is a module of its own, so that the flightcache module never
// depends on the Prometheus client.
//
// # Hit ratio and loads per read
//
// Every read of a Loader is counted once, in exactly one of hits_total,
// missing_hits_total, stale_hits_total and misses_total. A miss is a read
// that waited for a load, whether it started the load or joined one
// (coalesced_total): in a burst of 1,000 reads over 30 cold keys,
// misses_total may be 400 while the source was called 30 times. So
// misses over reads is the share of reads that waited, not the share that
// reached the source, and one minus it is not the hit ratio one usually
// means. misses_total minus coalesced_total is the reads that started a
// load. The share of reads served from the cache (fresh, stale, or a cached
// "not found"), and the calls of the source per read, are:
//
//	sum by (name) (rate(flightcache_hits_total[5m]) + rate(flightcache_stale_hits_total[5m]) + rate(flightcache_missing_hits_total[5m]))
//	  / sum by (name) (rate(flightcache_hits_total[5m]) + rate(flightcache_stale_hits_total[5m]) + rate(flightcache_missing_hits_total[5m]) + rate(flightcache_misses_total[5m]))
//
//	sum by (name) (rate(flightcache_loads_total[5m]))
//	  / sum by (name) (rate(flightcache_hits_total[5m]) + rate(flightcache_stale_hits_total[5m]) + rate(flightcache_missing_hits_total[5m]) + rate(flightcache_misses_total[5m]))
//
// loads_total counts background refreshes too, and a batch load once; put
// keys_loaded_total in its place to count the keys asked of the source.
package flightprom

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flightcache/flightcache/stats"
)

// NameLabel is the constant label that tells apart the series of different
// Loaders.
const NameLabel = "name"

// counterMetric describes one counter: its name without the namespace, its
// help text, and the field of stats.Stats it reports.
type counterMetric struct {
	name  string
	help  string
	value func(stats.Stats) uint64
}

// counterMetrics are the counters a Collector reports, in the order of
// stats.Stats.
var counterMetrics = []counterMetric{
	{"hits_total", "Reads served from the store while fresh.",
		func(s stats.Stats) uint64 { return s.Hits }},
	{"misses_total", "Reads that found nothing servable and waited for a load.",
		func(s stats.Stats) uint64 { return s.Misses }},
	{"missing_hits_total", "Reads served by a cached \"not found\" answer.",
		func(s stats.Stats) uint64 { return s.MissingHits }},
	{"stale_hits_total", "Reads served a value past its freshness.",
		func(s stats.Stats) uint64 { return s.StaleHits }},
	{"coalesced_total", "Callers, or keys of a batch, that joined a load in flight instead of starting one.",
		func(s stats.Stats) uint64 { return s.Coalesced }},
	{"loads_total", "Calls of the source, refreshes and batches included.",
		func(s stats.Stats) uint64 { return s.Loads }},
	{"keys_loaded_total", "Keys asked of the source.",
		func(s stats.Stats) uint64 { return s.KeysLoaded }},
	{"load_errors_total", "Calls of the source that failed.",
		func(s stats.Stats) uint64 { return s.LoadErrors }},
	{"refreshes_total", "Background refreshes started.",
		func(s stats.Stats) uint64 { return s.Refreshes }},
	{"refresh_errors_total", "Background refreshes that failed.",
		func(s stats.Stats) uint64 { return s.RefreshErrors }},
	{"store_errors_total", "Store calls that failed.",
		func(s stats.Stats) uint64 { return s.StoreErrors }},
	{"panics_total", "Loads that panicked.",
		func(s stats.Stats) uint64 { return s.Panics }},
	{"throttled_total", "Calls refused a load by the failure throttle.",
		func(s stats.Stats) uint64 { return s.Throttled }},
	{"expires_total", "Expire calls that made an entry stale.",
		func(s stats.Stats) uint64 { return s.Expires }},
	{"tag_invalidations_total", "InvalidateTag calls that took effect.",
		func(s stats.Stats) uint64 { return s.TagInvalidations }},
	{"clears_total", "Clear calls that took effect.",
		func(s stats.Stats) uint64 { return s.Clears }},
	{"peeks_total", "Peek calls.",
		func(s stats.Stats) uint64 { return s.Peeks }},
	{"peek_hits_total", "Peek calls that found what a read would serve.",
		func(s stats.Stats) uint64 { return s.PeekHits }},
}

// namespace prefixes every metric name.
const namespace = "flightcache"

// Collector is a [prometheus.Collector] that reports the statistics of one
// Loader, labelled with its name. Create one with [New] or [NewForCounter]
// and register it with [prometheus.Registerer]; it is safe for
// concurrent use, and every scrape takes one snapshot.
type Collector struct {
	snapshot func() stats.Stats
	err      error // set when the Collector cannot report anything

	counters []*prometheus.Desc // one for each of counterMetrics
	duration *prometheus.Desc
}

// New returns a Collector that reports what snapshot returns, with the label
// name="name" on every series. snapshot is called once for each scrape, and
// may be called from several goroutines at once; [stats.Counter.Snapshot]
// is one. Its counts must only ever increase.
//
// name should be unique among the Collectors of one registry: registering a
// second Collector with the same name fails with a
// [prometheus.AlreadyRegisteredError]. A nil snapshot makes registration fail
// with an error that names the Collector.
func New(name string, snapshot func() stats.Stats) *Collector {
	c := &Collector{snapshot: snapshot}
	if snapshot == nil {
		c.err = fmt.Errorf("flightprom: Collector %q has a nil snapshot function", name)
	}
	labels := prometheus.Labels{NameLabel: name}
	for _, m := range counterMetrics {
		c.counters = append(c.counters,
			prometheus.NewDesc(prometheus.BuildFQName(namespace, "", m.name), m.help, nil, labels))
	}
	c.duration = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "load_duration_seconds"),
		"Time calls of the source took, failed ones included.", nil, labels)
	return c
}

// NewForCounter returns a [Collector] that reports the statistics of counter,
// like New(name, counter.Snapshot). A nil counter makes registration fail
// with an error that names the Collector.
func NewForCounter(name string, counter *stats.Counter) *Collector {
	if counter == nil {
		c := New(name, nil)
		c.err = fmt.Errorf("flightprom: Collector %q has a nil *stats.Counter", name)
		return c
	}
	return New(name, counter.Snapshot)
}

// Describe sends the descriptors of every metric the Collector reports, or,
// when it has nothing to read from, one invalid descriptor carrying the
// reason, so that registering it fails.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	if c.err != nil {
		ch <- prometheus.NewInvalidDesc(c.err)
		return
	}
	for _, d := range c.counters {
		ch <- d
	}
	ch <- c.duration
}

// Collect takes one snapshot and sends a counter for each of its counts and
// the load-latency histogram. When the snapshot function panics, Collect
// sends an invalid metric carrying the panic instead, which fails the scrape
// rather than the process.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(c.err), c.err)
		return
	}
	s, err := c.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.duration, err)
		return
	}
	for i, m := range counterMetrics {
		ch <- constMetric(c.counters[i], prometheus.CounterValue, float64(m.value(s)))
	}
	buckets := make(map[float64]uint64, len(s.LoadBuckets))
	for _, b := range s.LoadBuckets {
		buckets[b.UpperBound.Seconds()] = b.Count
	}
	h, err := prometheus.NewConstHistogram(c.duration, s.Loads, s.LoadTime.Seconds(), buckets)
	if err != nil {
		h = prometheus.NewInvalidMetric(c.duration, err)
	}
	ch <- h
}

// read calls the snapshot function, turning a panic into an error.
func (c *Collector) read() (s stats.Stats, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("flightprom: snapshot function panicked: %v", p)
		}
	}()
	return c.snapshot(), nil
}

// constMetric returns a constant metric, or an invalid one carrying the
// error if it cannot be made.
func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

var _ prometheus.Collector = (*Collector)(nil)
