package flightcache

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache/stats"
)

// logEvery is the least time between two log lines of one kind; the lines
// held back in between are counted in the next one, so that a dead source or
// store cannot flood the log.
const logEvery = time.Second

// logKind is a kind of failure that nobody waits for, logged to
// Options.Logger.
type logKind int

const (
	logRefresh logKind = iota // a background refresh failed
	logStore                  // a Store call failed, and was treated as a miss or a lost write
	logLease                  // a fleet-wide lease could not be taken
	logPanic                  // a plug-in panicked on a background goroutine
	numLogKinds
)

// reporter owns the Loader's statistics, its traces and its rate-limited
// logs; every call into a Recorder, a Tracer or a log handler goes through
// it. Lines are written on a goroutine of their own, at most one per kind at
// a time, so that a Logger whose handler blocks or panics never holds a
// caller or a fill. Its methods are safe for concurrent use.
type reporter struct {
	rec    stats.Recorder // nil: no statistics
	tracer Tracer         // nil: no traces
	logger *slog.Logger

	kinds   [numLogKinds]logLimit
	writing counter // lines being written
}

// logLimit lets through at most one line of its kind per logEvery.
type logLimit struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
	busy       atomic.Bool // a line of this kind is being written
}

// record counts one e. It runs on callers' goroutines: a Recorder that
// panics there panics in the caller, holding nothing of the Loader's.
func (r *reporter) record(e stats.Event) {
	if r.rec != nil {
		r.rec.Record(e, 1)
	}
}

// judged counts a read of an entry the policy judged v: a hit, a cached
// "not found", a stale hit or a miss. A read that holds an old value that
// may stand in for a failed load (verdictFallback) is counted by settled,
// once the load has ended.
func (r *reporter) judged(v verdict) {
	if r.rec != nil {
		r.count(v)
	}
}

// count is judged with a Recorder.
func (r *reporter) count(v verdict) {
	switch v {
	case verdictFresh, verdictRefreshEarly:
		r.rec.Record(stats.Hit, 1)
	case verdictMissing:
		r.rec.Record(stats.MissingHit, 1)
	case verdictStale:
		r.rec.Record(stats.StaleHit, 1)
	case verdictMiss:
		r.rec.Record(stats.Miss, 1)
	}
}

// settled counts a read that held an old value for a failed load
// (verdictFallback) once its load ended: a stale hit when the old value was
// served, a miss otherwise (the load answered, or the caller left).
func (r *reporter) settled(served bool) {
	if served {
		r.record(stats.StaleHit)
	} else {
		r.record(stats.Miss)
	}
}

// recordN counts n of e.
func (r *reporter) recordN(e stats.Event, n int) {
	if r.rec != nil && n > 0 {
		r.rec.Record(e, n)
	}
}

// recordLoad counts one call of the source for keys keys.
func (r *reporter) recordLoad(elapsed time.Duration, keys int, err error) {
	if r.rec != nil {
		r.rec.RecordLoad(elapsed, err)
		r.rec.Record(stats.KeysLoaded, keys)
	}
}

// startLoad starts the span of a call of the source through the Tracer,
// which must not be nil, and returns the context it gives the source (ctx
// when the Tracer panicked) and the span (nil: none). A Tracer that panics
// is counted and logged, and the call goes on without a span.
func (r *reporter) startLoad(ctx context.Context, info LoadInfo) (out context.Context, span LoadSpan) {
	out = ctx
	r.contain("Tracer", func() { out, span = r.tracer.StartLoad(ctx, info) })
	return out, span
}

// endLoad links span to the callers that waited on its call of the source,
// of which there were waiters, and ends it with err. A Link that panics
// ends the linking, not the span.
func (r *reporter) endLoad(span LoadSpan, links []context.Context, waiters int, err error) {
	r.contain("Tracer", func() {
		for _, c := range links {
			span.Link(c)
		}
	})
	r.contain("Tracer", func() { span.End(err, waiters) })
}

// contain runs f, which calls into a plug-in on a background goroutine, and
// turns a panic in it into a counted and logged event instead of a crash.
func (r *reporter) contain(what string, f func()) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked(what, p)
		}
	}()
	f()
}

// panicked counts and logs a panic recovered on a background goroutine. A
// Recorder that panics again is not asked twice.
func (r *reporter) panicked(what string, p any) {
	func() {
		defer func() { _ = recover() }()
		r.record(stats.Panic)
	}()
	r.warn(context.Background(), false, logPanic, "flightcache: "+what+" panicked; recovered", nil, fmt.Errorf("panic: %v", p))
}

// allow reports whether a line may be logged now, and how many were held
// back since the last one.
func (k *logLimit) allow() (ok bool, suppressed int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	if (!k.last.IsZero() && now.Sub(k.last) < logEvery) || k.busy.Load() {
		k.suppressed++
		return false, 0
	}
	suppressed = k.suppressed
	k.last, k.suppressed = now, 0
	k.busy.Store(true)
	return true, suppressed
}

// warn logs msg about key and err, unless a line of the same kind went out
// less than logEvery ago or is still being written. The line is written on a
// goroutine of its own with ctx's values, so that a handler can attach the
// caller's trace; with wait, warn waits for it as long as ctx allows, so that
// a caller's lines come out in order with its work but a handler that blocks
// holds it no longer than its context. key is formatted on that goroutine: it
// must not be memory that the caller may change.
func (r *reporter) warn(ctx context.Context, wait bool, kind logKind, msg string, key any, err error, attrs ...slog.Attr) {
	k := &r.kinds[kind]
	ok, suppressed := k.allow()
	if !ok {
		return
	}
	done := make(chan struct{})
	r.writing.add()
	go func() {
		defer r.writing.done()
		defer close(done)
		defer k.busy.Store(false)
		defer func() {
			// A handler that panics loses its line; logging the panic
			// would only panic again.
			if recover() != nil {
				func() {
					defer func() { _ = recover() }()
					r.record(stats.Panic)
				}()
			}
		}()
		all := make([]slog.Attr, 0, len(attrs)+3)
		if key != nil {
			all = append(all, slog.String("key", fmt.Sprint(key)))
		}
		all = append(all, slog.Any("err", err))
		all = append(all, attrs...)
		all = append(all, slog.Int("suppressed", suppressed))
		r.logger.LogAttrs(context.WithoutCancel(ctx), slog.LevelWarn, msg, all...)
	}()
	if wait {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
}

// storeFailed counts and logs a failed Store call that the Loader absorbed.
func (r *reporter) storeFailed(ctx context.Context, wait bool, op string, key any, err error) {
	if wait {
		r.record(stats.StoreError)
	} else {
		r.contain("Recorder", func() { r.record(stats.StoreError) })
	}
	r.warn(ctx, wait, logStore, "flightcache: store "+op+" failed; treated as a miss or a lost write", key, err)
}

// wait waits for the lines being written, for as long as ctx allows.
// detach runs f on a goroutine of its own that wait waits for, as it waits
// for the lines being logged: a plug-in's call that a caller stopped
// waiting for, but that Close must not leave behind.
func (r *reporter) detach(f func()) {
	r.writing.add()
	go func() {
		defer r.writing.done()
		f()
	}()
}

func (r *reporter) wait(ctx context.Context) error {
	select {
	case <-r.writing.zero():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
