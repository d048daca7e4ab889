package flightcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// This file is the batch window: single-key misses and refreshes that
// arrive close together are loaded in one call of a BatchLoadFunc, as
// Facebook's DataLoader batches the loads of one tick. A window collects
// the keys a Batcher's callers start, and submits them to the fill pipeline
// as one fill of many keys when the window closes.

// Window says how long a Batcher collects keys before it loads them.
type Window struct {
	// Wait is how long the first key of a batch waits for others to join
	// it. It must be > 0.
	Wait time.Duration

	// MaxKeys loads a batch at once when it has this many keys, without
	// waiting for the rest of Wait. 0 means no limit; Options.MaxBatch
	// still splits a batch into calls of at most that many keys.
	MaxKeys int
}

// Batcher is a Loader's single-key entry point whose misses and background
// refreshes are collected into batches, one call of its BatchLoadFunc for
// all the keys that miss, or go stale, within one Window. Hits are served
// at once, as GetOrLoad serves them; a caller whose key is being loaded, by
// a batch or any other fill, joins that load. A miss waits up to
// Window.Wait longer than it would with GetOrLoad: that is the price of the
// batch. The BatchLoadFunc gets the values of the context of the first
// caller of its batch, not those of the others. Make one with
// [Loader.Batcher]. Safe for concurrent use.
type Batcher[K comparable, V any] struct {
	l   *Loader[K, V]
	win *window[K, V]
}

// Batcher returns a Batcher over l that loads with load in batches of keys
// collected for w. It returns an error for a nil load or a Window whose Wait
// is not > 0 or whose MaxKeys is negative. A Batcher needs no closing: its
// Loader's Close ends it, and keys collected then get ErrClosed once their
// window closes.
func (l *Loader[K, V]) Batcher(load BatchLoadFunc[K, V], w Window) (*Batcher[K, V], error) {
	switch {
	case load == nil:
		return nil, errNilLoad
	case w.Wait <= 0:
		return nil, fmt.Errorf("flightcache: Window.Wait must be > 0, not %v", w.Wait)
	case w.MaxKeys < 0:
		return nil, fmt.Errorf("flightcache: Window.MaxKeys is negative (%d)", w.MaxKeys)
	}
	return &Batcher[K, V]{l: l, win: &window[K, V]{l: l, load: load, w: w}}, nil
}

// GetOrLoad is Loader.GetOrLoad with the Batcher's BatchLoadFunc, called in
// batches. A key that the batch's call leaves out of its map does not exist
// (ErrNotFound); an error of the call is the error of every key in it.
func (b *Batcher[K, V]) GetOrLoad(ctx context.Context, key K) (V, error) {
	if b == nil || b.l == nil {
		var zero V
		return zero, errNilBatcher
	}
	var r Result[V]
	err := b.l.get(ctx, key, nil, b.win, &r, false)
	return r.Value, err
}

// GetOrLoadResult is Loader.GetOrLoadResult with the Batcher's batches.
func (b *Batcher[K, V]) GetOrLoadResult(ctx context.Context, key K) (Result[V], error) {
	if b == nil || b.l == nil {
		return Result[V]{}, errNilBatcher
	}
	var r Result[V]
	err := b.l.get(ctx, key, nil, b.win, &r, true)
	return r, err
}

var errNilBatcher = errors.New("flightcache: nil Batcher; make one with Loader.Batcher")

// window collects keys for a Batcher. Its state is the batch of misses and
// the batch of refreshes being collected, each under mu.
type window[K comparable, V any] struct {
	l    *Loader[K, V]
	load BatchLoadFunc[K, V]
	w    Window

	mu     sync.Mutex
	misses pending[K, V]
	stale  pending[K, V]
}

// pending is one batch being collected: its keys, the tickets of the keys
// whose fills it starts (misses) or the FreshUntil each refresh replaces
// (refreshes), the context of its first caller, whose values the load gets,
// and a generation that tells its timer whether the batch is still the one
// it was set for.
type pending[K comparable, V any] struct {
	keys      []K
	tickets   []ticket[K, V]
	replacing []Deadline
	seen      map[K]struct{} // refreshes only: keys already in the batch
	ctx       context.Context
	gen       uint64
}

// add puts key, whose fill the caller started with t, into the batch of
// misses.
func (w *window[K, V]) add(ctx context.Context, key K, t ticket[K, V]) {
	w.put(&w.misses, ctx, func(p *pending[K, V]) bool {
		if len(p.keys) > 0 && w.l.rep.tracer != nil {
			// Another caller's load: this one waits on it.
			noteWaiter(t, ctx)
		}
		p.keys, p.tickets = append(p.keys, key), append(p.tickets, t)
		return true
	}, w.submitMisses)
}

// refresh puts key, found stale at now (or due for an early refresh of the
// entry fresh until replacing), into the batch of refreshes, unless a
// refresh of it could not start now or it is in the batch already.
func (w *window[K, V]) refresh(ctx context.Context, key K, replacing Deadline, now int64) {
	if !w.l.refresh.due(key, now) {
		return
	}
	w.put(&w.stale, ctx, func(p *pending[K, V]) bool {
		if _, in := p.seen[key]; in {
			return false
		}
		if p.seen == nil {
			p.seen = make(map[K]struct{})
		}
		p.seen[key] = struct{}{}
		p.keys, p.replacing = append(p.keys, key), append(p.replacing, replacing)
		return true
	}, w.submitStale)
}

// put adds a key to the batch p with add, which reports whether it did;
// the first key of a batch sets the timer that closes its window, and a
// batch that holds MaxKeys keys is submitted at once.
func (w *window[K, V]) put(p *pending[K, V], ctx context.Context, add func(*pending[K, V]) bool, submit func(pending[K, V])) {
	w.mu.Lock()
	first := len(p.keys) == 0
	if !add(p) {
		w.mu.Unlock()
		return
	}
	if first {
		p.ctx = ctx
		gen := p.gen
		time.AfterFunc(w.w.Wait, func() { w.flush(p, gen, submit) })
	}
	if w.w.MaxKeys > 0 && len(p.keys) >= w.w.MaxKeys {
		w.take(p, submit) // unlocks
		return
	}
	w.mu.Unlock()
}

// flush submits the batch p when its window closes, if it is still the
// batch of generation gen.
func (w *window[K, V]) flush(p *pending[K, V], gen uint64, submit func(pending[K, V])) {
	w.mu.Lock()
	if p.gen != gen || len(p.keys) == 0 {
		w.mu.Unlock()
		return
	}
	w.take(p, submit)
}

// take empties p for the next batch, unlocks mu, and submits what p held.
// Call with mu held.
func (w *window[K, V]) take(p *pending[K, V], submit func(pending[K, V])) {
	b := *p
	*p = pending[K, V]{gen: b.gen + 1}
	w.mu.Unlock()
	submit(b)
}

// submitMisses loads a batch of misses as one fill, each key once: a key
// the batch got twice (invalidated while it waited, then missed again,
// which started a second call of it) is loaded once for both of its calls.
func (w *window[K, V]) submitMisses(b pending[K, V]) {
	j := w.l.fill.newJob()
	j.keys, j.tickets, j.also = onceEach(b.keys, b.tickets)
	_ = w.l.fill.start(b.ctx, j, source[K, V]{many: w.load}, fillOptions[K]{})
}

// onceEach returns keys without repeats, each with its first ticket, and
// the tickets of the repeats, each with the index of its key. When no key
// repeats, as is usual, it returns keys and tickets as they are.
func onceEach[K comparable, V any](keys []K, tickets []ticket[K, V]) ([]K, []ticket[K, V], []alsoTicket[K, V]) {
	if len(keys) < 2 {
		return keys, tickets, nil
	}
	first := make(map[K]int, len(keys))
	for i, k := range keys {
		if _, dup := first[k]; dup {
			break
		}
		first[k] = i
	}
	if len(first) == len(keys) {
		return keys, tickets, nil
	}
	clear(first)
	var uk []K
	var ut []ticket[K, V]
	var also []alsoTicket[K, V]
	for i, k := range keys {
		if at, dup := first[k]; dup {
			also = append(also, alsoTicket[K, V]{at, tickets[i]})
			continue
		}
		first[k] = len(uk)
		uk, ut = append(uk, k), append(ut, tickets[i])
	}
	return uk, ut, also
}

// submitStale starts a batch of refreshes as one background refresh (one
// slot).
func (w *window[K, V]) submitStale(b pending[K, V]) {
	if w.l.closed.Load() {
		return
	}
	w.l.refresh.startMany(b.ctx, b.keys, b.replacing, w.load, w.l.clock.now())
}
