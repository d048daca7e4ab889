package flightcache

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"time"

	"github.com/flightcache/flightcache/stats"
)

// DefaultLoadTimeout bounds one load when Options.LoadTimeout is 0.
const DefaultLoadTimeout = 30 * time.Second

// Options tune a Loader. The zero value is valid: values never go stale, "not
// found" is not cached, and loads are bounded by DefaultLoadTimeout.
//
// FreshFor 0 means for ever here: a loaded value is never stale, and stays
// until the Store evicts it or it is invalidated. In an [EntryPolicy] that
// a load sets for its own result, FreshFor 0 means the opposite, stale at
// once (HTTP's max-age=0), and [Forever] means for ever.
//
// New refuses Options that break one of these rules, with an error that
// names the first field that does:
//
//   - no duration is negative, nor MaxRefreshes or MaxBatch;
//   - Jitter is in [0, 1]; EarlyRefresh is finite and not negative;
//   - StaleFor and StaleIfError need FreshFor > 0 (a value that is never
//     stale is never served stale or stood in: they would do nothing);
//     EarlyRefresh and SoftTimeout need nothing here, as they also apply
//     to the windows a load sets with [SetPolicy];
//   - FailureBackoff is the zero Backoff, or has Initial > 0, Max 0 (then
//     Initial) or at least Initial, no negative duration, and Jitter in
//     [0, 1];
//   - Recorder is nil or holds a non-nil value; Logger, when set, has a
//     non-nil Handler.
type Options struct {
	// FreshFor is how long a loaded value is served as it is. 0 means it
	// never goes stale: it stays until the Store evicts it or it is
	// invalidated (in an EntryPolicy, 0 means stale at once).
	FreshFor time.Duration

	// StaleFor is how long after FreshFor a value is still served while a
	// background refresh loads a new one. 0 turns stale-while-revalidate off.
	// It needs FreshFor > 0.
	StaleFor time.Duration

	// StaleIfError is how long after FreshFor an old value stands in for a
	// load that failed. The caller then receives the old value and a nil
	// error, and the failure is counted (stats.Stats.StaleHits and
	// LoadErrors). 0 turns it off. It needs FreshFor > 0.
	StaleIfError time.Duration

	// MissingFor is how long a "not found" answer (a load that returned
	// ErrNotFound) is cached. 0 turns negative caching off.
	MissingFor time.Duration

	// Jitter spreads FreshFor and MissingFor by up to ± this fraction, drawn
	// at random for each load, so that keys loaded together do not expire
	// together.
	Jitter float64

	// EarlyRefresh is the beta of probabilistic early refresh (XFetch): hot
	// keys are refreshed shortly before they go stale. 0 turns it off. It
	// applies to entries that go stale, with the Options' FreshFor or the
	// one a load set with [SetPolicy].
	EarlyRefresh float64

	// LoadTimeout bounds one load. The load runs on a context detached from
	// its callers that ends after LoadTimeout; if the load has not returned
	// by then, its callers get an error wrapping ErrLoadTimeout and the key
	// can be loaded again. A caller whose ctx can never end (ctx.Done()
	// returns nil, as for context.Background()) and who holds no old value
	// for SoftTimeout runs the load on its own goroutine, as
	// golang.org/x/sync/singleflight does, since it could not leave
	// earlier anyway: it gets that error when a load that ignores its
	// context returns, and it waits, too, for a Store call or a lease that
	// ignores the fill's context. 0 means DefaultLoadTimeout.
	LoadTimeout time.Duration

	// SoftTimeout bounds how long a caller that holds a usable old value
	// (inside StaleIfError) waits for a load: past it, the caller gets the
	// old value and a nil error, counted as a stale hit, while the load goes
	// on in the background, under LoadTimeout, and is stored when it lands
	// (FusionCache's soft timeout). A caller with nothing to fall back on
	// waits as long as its context and LoadTimeout allow. 0 turns it off.
	// It applies to every entry with a stale-if-error window, the
	// Options' StaleIfError or the one a load set with [SetPolicy]: it needs
	// neither.
	SoftTimeout time.Duration

	// FailureBackoff throttles loads of a key whose last load failed: no
	// new load of it starts until the backoff's wait has passed, and
	// meanwhile a caller gets the old value where one is usable (inside
	// StaleFor or StaleIfError), counted as a stale hit, and otherwise an
	// error wrapping ErrThrottled and the last load's error, counted as
	// stats.Throttled. A load that succeeds, or finds the key gone, ends
	// it, as Set and Invalidate of the key do. Loader.Refresh is not
	// throttled. The zero Backoff throttles
	// only background refreshes, by a wait of 1s doubling up to 1m
	// without jitter; a Backoff set here applies to them too.
	FailureBackoff Backoff

	// MaxRefreshes bounds the background refreshes that run at once; a
	// batch refresh of many keys counts once. When every slot is taken, a
	// stale read still returns the stale value and leaves the refresh to a
	// later read. 0 means DefaultMaxRefreshes.
	MaxRefreshes int

	// MaxBatch is the most keys that GetOrLoadMany passes to one call of a
	// BatchLoadFunc; more are split into several calls. 0 means no limit.
	MaxBatch int

	// Recorder receives statistics. nil records nothing and costs nothing.
	Recorder stats.Recorder

	// Tracer traces each call of the source as a span, a child of the
	// span of the caller whose load it is, linked to the callers that
	// waited on it (see [Tracer]); a hit has none. nil traces nothing and
	// costs nothing.
	Tracer Tracer

	// Logger receives warnings, with the key and the cause, about failures
	// nobody waits for: failed background refreshes, Store calls that
	// failed and were absorbed, and fleet-wide leases that could not be
	// taken. Each kind is logged at most once a second, with a count of the
	// lines held back, so that a dead source cannot flood the log. nil
	// means slog.Default().
	Logger *slog.Logger
}

// validate returns o with defaults filled in, or an error naming the first
// field that is not valid.
func (o Options) validate() (_ Options, err error) {
	if err := firstNegative("Options", []namedDuration{
		{"FreshFor", o.FreshFor},
		{"StaleFor", o.StaleFor},
		{"StaleIfError", o.StaleIfError},
		{"MissingFor", o.MissingFor},
		{"LoadTimeout", o.LoadTimeout},
		{"SoftTimeout", o.SoftTimeout},
	}); err != nil {
		return o, err
	}
	if math.IsNaN(o.Jitter) || o.Jitter < 0 || o.Jitter > 1 {
		return o, fmt.Errorf("flightcache: Options.Jitter must be in [0, 1], not %v", o.Jitter)
	}
	if math.IsNaN(o.EarlyRefresh) || math.IsInf(o.EarlyRefresh, 0) || o.EarlyRefresh < 0 {
		return o, fmt.Errorf("flightcache: Options.EarlyRefresh must be a finite beta >= 0, not %v", o.EarlyRefresh)
	}
	if o.MaxRefreshes < 0 {
		return o, fmt.Errorf("flightcache: Options.MaxRefreshes is negative (%d)", o.MaxRefreshes)
	}
	if o.MaxBatch < 0 {
		return o, fmt.Errorf("flightcache: Options.MaxBatch is negative (%d)", o.MaxBatch)
	}
	if o.FreshFor == 0 {
		// A value that never goes stale is never served stale or refreshed:
		// these settings would silently do nothing.
		switch {
		case o.StaleFor > 0:
			return o, errors.New("flightcache: Options.StaleFor needs Options.FreshFor > 0")
		case o.StaleIfError > 0:
			return o, errors.New("flightcache: Options.StaleIfError needs Options.FreshFor > 0")
		}
		// EarlyRefresh is not refused: it applies on top of the policy a
		// load sets (EntryPolicy), whose FreshFor it makes meaningful
		// (rule 14).
	}
	// SoftTimeout needs no StaleIfError in the Options: it applies to every
	// entry that has a usable stale-if-error window, whether the Options
	// or a load's EntryPolicy gave it (rule 14).
	if o.FailureBackoff, err = o.FailureBackoff.validate("FailureBackoff"); err != nil {
		return o, err
	}
	if err := o.checkPlugins(); err != nil {
		return o, err
	}
	if o.LoadTimeout == 0 {
		o.LoadTimeout = DefaultLoadTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	} else if o.Logger.Handler() == nil || isNil(o.Logger.Handler()) {
		return o, errors.New("flightcache: Options.Logger has a nil Handler")
	}
	return o, nil
}

// checkPlugins returns an error naming the first plug-in of o, a Recorder
// or a Tracer, that is a nil pointer in an interface, on which every call
// would fail.
func (o Options) checkPlugins() error {
	if o.Recorder != nil && isNil(o.Recorder) {
		return errors.New("flightcache: Options.Recorder is a nil pointer in an interface; use a nil Recorder to record nothing")
	}
	if o.Tracer != nil && isNil(o.Tracer) {
		return errors.New("flightcache: Options.Tracer is a nil pointer in an interface; use a nil Tracer to trace nothing")
	}
	return nil
}

// namedDuration is a duration field, for firstNegative.
type namedDuration struct {
	name string
	v    time.Duration
}

// firstNegative returns an error naming the first of ds, fields of the type
// named typ, that is negative, and nil when none is.
func firstNegative(typ string, ds []namedDuration) error {
	for _, d := range ds {
		if d.v < 0 {
			return fmt.Errorf("flightcache: %s.%s is negative (%v)", typ, d.name, d.v)
		}
	}
	return nil
}

// isNil reports whether v is a nil interface, or holds a nil pointer, map,
// slice, func or channel, on which any method call would fail.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}
