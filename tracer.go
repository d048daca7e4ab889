package flightcache

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/flightcache/flightcache/singleflight"
)

// This file is tracing: the Tracer a Loader reports each call of its source
// to, and the record, kept with each key's call, of the callers that waited
// on it (rule 15: one span per call of the source, none for a hit).

// Tracer traces the calls of a Loader's source, one span per call: package
// flightotel has one for OpenTelemetry (flightotel.NewTracer). Put it in
// Options.Tracer.
//
// A Tracer is called from many goroutines at once. It is called by a
// Loader's reporter, which recovers a panic in it, counts it
// (stats.Panic) and logs it, as for a Recorder: the load goes on without
// its span, and the key is never left without its result. A Tracer must
// not block.
//
// A nil Tracer costs nothing: no allocation and no work on a hit, and on a
// miss nothing beyond a nil check where a span would start and where a
// caller joins a load.
type Tracer interface {
	// StartLoad starts the span of one call of the source (a LoadFunc,
	// or a BatchLoadFunc for a batch of keys, each call of a batch split
	// by Options.MaxBatch, each Batcher window), right before the call,
	// on the goroutine that makes it. It is never called for a hit, nor
	// for a fill that found its keys in the Store or only waited on
	// another instance's lease (rule 15).
	//
	// ctx is the context the source would get: it ends at the fill's
	// deadline and carries the values of the caller whose load it is
	// (the one that started it, the first of a Batcher's window, or the
	// reader that found the key stale), so that a span in it is the
	// parent. StartLoad returns the context the source gets instead,
	// which must be ctx or a context made from it (a child, holding the
	// span): one that is not (nil included) is ignored, and the source
	// gets ctx, so that it keeps the fill's deadline and SetPolicy and
	// Previous keep finding their fill.
	// The LoadSpan it returns (nil: none) is ended once the source
	// returns.
	StartLoad(ctx context.Context, load LoadInfo) (context.Context, LoadSpan)
}

// LoadSpan is the span of one call of the source, which a Tracer started.
// Its methods are called on one goroutine, the one that called the source,
// right after the source returns: Link once for each of some of the
// callers that waited on the call (at most MaxLinks), then End once.
type LoadSpan interface {
	// Link is given the context of a caller, other than the one whose
	// load it is, that waited on the call: one that joined it, or that
	// started another key of the same Batcher window. A caller that
	// waited on several keys of a batch may be given more than once.
	Link(waiter context.Context)

	// End ends the span. err is the error the source returned, or the
	// error that stands for its panic (wrapping *singleflight.PanicError)
	// or runtime.Goexit (singleflight.ErrGoexit); a key the source
	// did not find is not an error of the call. waiters is how many
	// callers waited on the call besides the one whose load it is, once
	// per key they waited for, MaxLinks or fewer of which were given to
	// Link.
	End(err error, waiters int)
}

// MaxLinks is the most callers that one LoadSpan is given to Link: beyond
// it, LoadSpan.End counts them only, so that a hot key that a thousand
// callers wait on costs a span no more than a few dozen links.
const MaxLinks = 32

// LoadInfo describes a call of the source, for Tracer.StartLoad.
type LoadInfo struct {
	// Keys is how many keys the call loads: 1 for a LoadFunc.
	Keys int

	// Served is how the callers the call is for are served: ServedLoaded
	// when they wait for what it loads (a miss), ServedStale when they
	// were served the value the Store holds and it refreshes that value
	// (a background refresh, an early one included, or Loader.Refresh).
	Served Served

	// Batch reports that the source is a BatchLoadFunc (GetOrLoadMany, a
	// Batcher, a Batcher's refreshes).
	Batch bool
}

// waiters is the record, kept as the note of a key's call (see
// singleflight.Ticket.NoteOnce), of the callers that waited on it: their
// count, and the contexts of the first MaxLinks of them. It is made only
// when the Loader has a Tracer and a caller waits on the call. Once the
// call of the source has returned, it is taken, and counts no more.
type waiters struct {
	mu    sync.Mutex
	n     int
	ctxs  []context.Context
	taken bool
}

func newWaiters() any { return new(waiters) }

// noteWaiter records that the caller whose context is ctx waits on the
// call of t, which another caller started.
func noteWaiter[K comparable, V any](t ticket[K, V], ctx context.Context) {
	w, _ := t.NoteOnce(newWaiters).(*waiters)
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.taken {
		return // its span has ended: it waits for the write only
	}
	w.n++
	if len(w.ctxs) < MaxLinks {
		w.ctxs = append(w.ctxs, ctx)
	}
}

// take appends to links the contexts recorded, up to MaxLinks in all, and
// returns them with the number of waiters; it counts no more after.
func (w *waiters) take(links []context.Context) ([]context.Context, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.taken = true
	room := max(MaxLinks-len(links), 0)
	links = append(links, w.ctxs[:min(room, len(w.ctxs))]...)
	n := w.n
	w.ctxs = nil
	return links, n
}

// takeWaiters takes the waiters of the calls of the keys at idx (those of
// a Batcher window's repeated keys included).
func (j *job[K, V]) takeWaiters(idx []int) (links []context.Context, n int) {
	take := func(t ticket[K, V]) {
		if w, _ := t.Note().(*waiters); w != nil {
			var m int
			links, m = w.take(links)
			n += m
		}
	}
	for _, i := range idx {
		take(j.tickets[i])
	}
	for _, a := range j.also {
		if _, ok := slices.BinarySearch(idx, a.i); ok {
			take(a.t)
		}
	}
	return links, n
}

// callTraced is callCounted in a span of the Loader's Tracer.
func (j *job[K, V]) callTraced(sc scope, idx []int) (outs []outcome[V], err error) {
	info := LoadInfo{Keys: len(idx), Served: ServedLoaded, Batch: j.src.many != nil}
	if j.refresh {
		info.Served = ServedStale
	}
	ctx, span := j.f.rep.startLoad(sc, info)
	if ctx == nil || ctx.Value(fillKey{}) != sc {
		// Not made from sc: the source would lose its deadline, or
		// SetPolicy and Previous their fill.
		ctx = sc
	}
	returned := false
	defer func() {
		if !returned {
			// The source called runtime.Goexit.
			j.endSpan(span, idx, fmt.Errorf("flightcache: load of %s: %w", j.describe(), singleflight.ErrGoexit))
		}
	}()
	outs, err = j.callCounted(ctx, idx)
	returned = true
	j.endSpan(span, idx, err)
	return outs, err
}

// endSpan links span, if not nil, to the callers that waited on the keys at
// idx, and ends it with err.
func (j *job[K, V]) endSpan(span LoadSpan, idx []int, err error) {
	if span == nil {
		return
	}
	links, n := j.takeWaiters(idx)
	j.f.rep.endLoad(span, links, n, err)
}
