package flightcache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/flightcache/flightcache/stats"
)

// This file is the waiting stage: for the keys a caller misses, the
// decisions that GetOrLoad, GetOrLoadResult, GetOrLoadMany and the Batcher
// share, each made here once: whether a caller that has left starts
// anything, the failure throttle, claim or join (or load alone, after a
// private result), run inline or hand off, whether the soft timeout
// applies, what a caller that leaves keeps, and what a private result gives
// whom. A single key takes a lean path (missOne) through the same
// decisions as many keys (missMany).

// missed is a key a caller waits for: the old entry that may stand in for a
// failed load (fallback, nil: none), and the call of the key it waits on.
type missed[K comparable, V any] struct {
	key      K
	fallback *Entry[V]
	t        ticket[K, V]
	started  bool // the caller started t: a private result is its own
}

// claim takes m's call: a new one the caller must start, or the one in
// flight, which it joins. A caller that must load alone (its key's last
// result was private, or the call it joined gave a private result to
// another) gets a call nobody joins.
func (l *Loader[K, V]) claim(m *missed[K, V], alone bool) (err error) {
	if alone || l.fill.pass.has(m.key) {
		m.t, err = l.fill.group.ClaimUnshared(m.key)
		m.started = err == nil
		return err
	}
	m.t, m.started, err = l.fill.group.Claim(m.key)
	return err
}

// keepsSoft reports whether a caller waits at most SoftTimeout: it holds an
// old value that may stand in for the load.
func (l *Loader[K, V]) keepsSoft(hasFallback bool) bool {
	return hasFallback && l.softTimeout > 0
}

// runInline reports whether a fill runs on its caller's goroutine: the
// caller could not leave before it ends anyway (its ctx can never end, and
// it has no SoftTimeout to keep).
func runInline(ctx context.Context, keepSoft bool) bool {
	return ctx.Done() == nil && !keepSoft
}

// softTimer starts the SoftTimeout of a caller that keeps one, and returns
// its channel (nil: none) and its timer, to stop with stopTimer.
func (l *Loader[K, V]) softTimer(keepSoft bool) (<-chan time.Time, *time.Timer) {
	if !keepSoft {
		return nil, nil
	}
	t := time.NewTimer(l.softTimeout)
	return t.C, t
}

// stopTimer stops t, if not nil.
func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// startOne starts the fill of one key whose call the caller started: in a
// Batcher's window (win), unless the caller loads alone, or now.
func (l *Loader[K, V]) startOne(ctx context.Context, m *missed[K, V], load LoadFunc[K, V], win *window[K, V], alone, keepSoft bool) {
	o := fillOptions[K]{inline: runInline(ctx, keepSoft)}
	switch {
	case win != nil && !alone:
		win.add(ctx, m.key, m.t)
	case win != nil:
		_ = l.fill.submitOne(ctx, m.key, m.t, source[K, V]{many: win.load}, o)
	default:
		_ = l.fill.submitOne(ctx, m.key, m.t, source[K, V]{one: load}, o)
	}
}

// left counts, for a caller that left before the keys ms were settled, each
// of them that held an old value as a miss: it was judged a stand-in that
// was never served.
func (l *Loader[K, V]) left(ms []missed[K, V]) {
	for i := range ms {
		if ms[i].fallback != nil {
			l.rep.settled(false)
		}
	}
}

// missOne loads key and waits for it, on behalf of a call that found
// nothing to serve, and sets r. r holds what the Store had for key: when
// hasFallback, an old value that may stand in for a failed load. It is a
// function of its own so that the hit path's stack frame stays small.
func (l *Loader[K, V]) missOne(ctx context.Context, key K, load LoadFunc[K, V], win *window[K, V], hasFallback bool, r *Result[V]) error {
	var ms [1]missed[K, V]
	m := &ms[0]
	m.key = key
	if hasFallback {
		old := r.Entry
		m.fallback = &old
	}
	*r = Result[V]{}
	if err := ctx.Err(); err != nil {
		l.left(ms[:])
		return err // a caller that has left starts nothing
	}
	if err := l.throttled(key); err != nil {
		return l.settle(Entry[V]{}, err, m.fallback, r)
	}
	keepSoft := l.keepsSoft(hasFallback)
	soft, timer := l.softTimer(keepSoft)
	defer stopTimer(timer)
	for alone := false; ; alone = true {
		if err := l.claim(m, alone); err != nil {
			return err
		}
		if m.started {
			l.startOne(ctx, m, load, win, alone, keepSoft)
		} else {
			l.rep.record(stats.Coalesced)
			if l.rep.tracer != nil {
				noteWaiter(m.t, ctx)
			}
		}
		e, err, patient := l.wait(ctx, m.t, soft, m.fallback, nil)
		switch {
		case !patient:
			return l.settle(Entry[V]{}, ErrSoftTimeout, m.fallback, r) // the load goes on
		case l.leaving(ctx, err):
			l.left(ms[:])
			return err // the caller left; the load goes on
		}
		e, err, reload := delivered(e, err, m.started)
		if !reload {
			return l.settle(e, err, m.fallback, r)
		}
	}
}

// leaving reports whether err, what a wait ended with, is the caller's ctx
// ending: the caller leaves, and the load goes on.
func (l *Loader[K, V]) leaving(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
}

// throttled returns, when the failure throttle holds back loads of key, the
// error that says so, wrapping ErrThrottled and the last load's error, and
// nil otherwise. A call refused with no old value to serve is counted.
func (l *Loader[K, V]) throttled(key K) error {
	th := l.fill.throttle
	if !th.callers {
		return nil
	}
	last, left, blocked := th.blocked(key, l.clock.now())
	if !blocked {
		return nil
	}
	if last == nil {
		return fmt.Errorf("%w: key %v, for %v more", ErrThrottled, key, left)
	}
	return fmt.Errorf("%w: key %v, for %v more: %w", ErrThrottled, key, left, last)
}

// wait waits for the result of t as long as ctx allows, and reports
// patient false, with no result, when soft (nil: never) fires first: the
// SoftTimeout of a caller holding fallback, an old value, unless that value
// no longer stands in by then (see standsIn: the caller then holds nothing
// to fall back on, and waits as such a caller does). A caller that is told
// patient false is served fallback as it was judged here (see settle).
// wait sets *fired, unless fired is nil, when it takes soft's tick, which
// comes once: the caller's other keys are past their SoftTimeout too.
func (l *Loader[K, V]) wait(ctx context.Context, t ticket[K, V], soft <-chan time.Time, fallback *Entry[V], fired *bool) (e Entry[V], err error, patient bool) {
	if soft != nil {
		select {
		case <-t.Done():
		case <-ctx.Done():
		case <-soft:
			if fired != nil {
				*fired = true
			}
			if !t.Ended() && l.standsIn(fallback) {
				return e, nil, false
			}
		}
	}
	e, err, _ = t.Wait(ctx)
	return e, err, true
}

// settle sets r to what a caller gets for a key whose load ended with e and
// err (or was not started: throttled, or waited for past SoftTimeout), and
// returns the caller's error. fallback, when not nil, is the old entry that
// stands in for a failed load: the caller then gets it and a nil error,
// unless an invalidation has covered it since it was read, or its serving
// windows ended while the caller waited. A caller past its SoftTimeout
// (ErrSoftTimeout) is served fallback as wait judged it an instant before:
// judged twice, it could pass the first judgment and fail the second, and
// the caller would get ErrSoftTimeout for an answer while the load goes on.
func (l *Loader[K, V]) settle(e Entry[V], err error, fallback *Entry[V], r *Result[V]) error {
	if fallback != nil && err != ErrSoftTimeout && (gone(&l.policy, fallback) || err != nil && l.outlived(fallback)) {
		// An InvalidateTag or Clear came while the caller waited, or the
		// load outlasted the old entry's windows: the old entry stands in
		// for nothing (rule 6: no value is served past its windows).
		l.rep.settled(false)
		fallback = nil
	}
	if err != nil && isNotFound(err) {
		// The source said the key does not exist: that is the answer,
		// whatever old value there was.
		if fallback != nil {
			l.rep.settled(false)
		}
		*r = Result[V]{Entry: e, Served: ServedLoaded}
		return err
	}
	if err != nil {
		served := fallback != nil && !errors.Is(err, ErrClosed)
		if fallback != nil {
			l.rep.settled(served)
		} else if errors.Is(err, ErrThrottled) {
			l.rep.record(stats.Throttled)
		}
		if served {
			*r = Result[V]{Entry: *fallback, Served: ServedStandIn, Err: err}
			return nil
		}
		return err
	}
	if fallback != nil {
		l.rep.settled(false)
	}
	*r = Result[V]{Entry: e, Served: ServedLoaded}
	if e.Missing {
		return ErrNotFound
	}
	return nil
}

// standsIn reports whether e, an old entry read as a stand-in for a load
// (nil: none), may still stand in now (see outlived).
func (l *Loader[K, V]) standsIn(e *Entry[V]) bool { return e != nil && !l.outlived(e) }

// outlived reports whether e, an old entry read as a stand-in for a failed
// load, is judged a miss now: its serving windows have ended, or an
// InvalidateTag or Clear has covered it, since it was read. Only a caller
// whose load failed or outlasted its SoftTimeout pays for this clock read.
func (l *Loader[K, V]) outlived(e *Entry[V]) bool {
	return judge(&l.policy, e, l.clock.exactNow(), rand.Float64) == verdictMiss
}

// missMany loads the keys ms, which a GetOrLoadMany found nothing to serve
// for, and waits for them, as missOne does for one key: each key's value
// goes into values, and the keys that failed into failed. It returns
// ctx.Err() when the caller leaves first. The keys whose loads nobody
// started yet are loaded together, in one fill; a key joined to a load
// whose result was private to another caller is loaded again alone.
func (l *Loader[K, V]) missMany(ctx context.Context, ms []missed[K, V], load BatchLoadFunc[K, V], values map[K]V) (failed map[K]error, err error) {
	if err := ctx.Err(); err != nil {
		l.left(ms)
		return nil, err // a caller that has left starts nothing
	}
	give := func(m *missed[K, V], e Entry[V], err error) {
		var r Result[V]
		switch err := l.settle(e, err, m.fallback, &r); {
		case err == nil:
			values[m.key] = r.Value
		case isNotFound(err):
		default:
			if failed == nil {
				failed = make(map[K]error)
			}
			failed[m.key] = err
		}
	}
	// Keys whose loads the failure throttle holds back are settled now.
	todo := ms[:0]
	keepSoft := false
	for i := range ms {
		if err := l.throttled(ms[i].key); err != nil {
			give(&ms[i], Entry[V]{}, err)
			continue
		}
		todo = append(todo, ms[i])
		keepSoft = keepSoft || l.keepsSoft(ms[i].fallback != nil)
	}
	soft, timer := l.softTimer(keepSoft)
	defer stopTimer(timer)
	softOver := false // soft has fired: it fires once, for every round
	for alone := false; len(todo) > 0; alone = true {
		if err := l.startMany(ctx, todo, load, alone, keepSoft); err != nil {
			return nil, err
		}
		if todo, err = l.awaitMany(ctx, todo, soft, &softOver, give); err != nil {
			return nil, err
		}
	}
	return failed, nil
}

// startMany claims the calls of the keys ms and starts, in one fill, those
// that nobody is loading yet; the others are joined. alone and keepSoft are
// as for claim and runInline.
func (l *Loader[K, V]) startMany(ctx context.Context, ms []missed[K, V], load BatchLoadFunc[K, V], alone, keepSoft bool) error {
	var keys []K
	var tickets []ticket[K, V]
	for i := range ms {
		if err := l.claim(&ms[i], alone); err != nil {
			// Cannot happen for checked keys; give back what was taken.
			for _, t := range tickets {
				t.Finish(Entry[V]{}, err)
			}
			return err
		}
		if ms[i].started {
			keys, tickets = append(keys, ms[i].key), append(tickets, ms[i].t)
		} else if l.rep.tracer != nil {
			noteWaiter(ms[i].t, ctx)
		}
	}
	if len(keys) > 0 {
		_ = l.fill.submit(ctx, keys, tickets, source[K, V]{many: load}, fillOptions[K]{inline: runInline(ctx, keepSoft)})
	}
	// Counted once the fill owns the keys: a Recorder that panics here
	// leaves no key without its fill.
	l.rep.recordN(stats.Coalesced, len(ms)-len(keys))
	return nil
}

// awaitMany waits for the calls of the keys ms and gives each its result,
// the keys that hold an old value no longer than soft allows, and returns
// the keys that must be loaded again alone (a private result went to
// another caller). softOver says whether soft has fired, in this round or
// an earlier one, and is set when it does. It returns ctx.Err() when the
// caller leaves first.
func (l *Loader[K, V]) awaitMany(ctx context.Context, ms []missed[K, V], soft <-chan time.Time, softOver *bool, give func(*missed[K, V], Entry[V], error)) (again []missed[K, V], err error) {
	for i := range ms {
		m := &ms[i]
		if *softOver && !m.t.Ended() && l.standsIn(m.fallback) {
			give(m, Entry[V]{}, ErrSoftTimeout)
			continue
		}
		var until <-chan time.Time
		if m.fallback != nil {
			until = soft
		}
		e, err, patient := l.wait(ctx, m.t, until, m.fallback, softOver)
		if !patient {
			give(m, Entry[V]{}, ErrSoftTimeout)
			continue
		}
		if l.leaving(ctx, err) {
			l.left(ms[i:])
			return nil, err // the caller left; the loads go on
		}
		e, err, reload := delivered(e, err, m.started)
		if reload {
			again = append(again, missed[K, V]{key: m.key, fallback: m.fallback})
			continue
		}
		give(m, e, err)
	}
	return again, nil
}
