package flightcache

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/flightcache/flightcache/stats"
)

// DefaultMaxRefreshes bounds the background refreshes that run at once when
// Options.MaxRefreshes is 0.
const DefaultMaxRefreshes = 32

// Backoff of a key whose background refresh failed: the first retry waits
// refreshBackoffMin, each further failure doubles the wait, up to
// refreshBackoffMax. Reads in the meantime serve the old value.
const (
	refreshBackoffMin = time.Second
	refreshBackoffMax = time.Minute
)

// earlyRefreshWindow: no entry is refreshed early before the last
// 1/earlyRefreshWindow of FreshFor.
const earlyRefreshWindow = 10

// staleState is the Loader's machinery for serving values past their
// freshness and refreshing them in the background.
type staleState[K comparable] struct {
	// slots holds a token for each refresh running; its capacity is
	// Options.MaxRefreshes.
	slots chan struct{}
	// running is the set of keys with a refresh running; guarded by the
	// Loader's mu.
	running map[K]struct{}
	// backoff holds the keys whose last refresh failed; guarded by the
	// Loader's mu.
	backoff map[K]retry
	sweepAt int // size of backoff that triggers the next sweep
	wg      sync.WaitGroup
}

// retry is the backoff of one key.
type retry struct {
	failures int
	notUntil time.Time
}

func (o Options) validateStale() error { return nil }

func (s *staleState[K]) init(o Options) {
	n := o.MaxRefreshes
	if n == 0 {
		n = DefaultMaxRefreshes
	}
	s.slots = make(chan struct{}, n)
	s.running = make(map[K]struct{})
	s.backoff = make(map[K]retry)
	s.sweepAt = 64
}

// close waits for the refreshes that are running. The Loader's closed flag
// already keeps new ones from starting.
func (s *staleState[K]) close() {
	s.wg.Wait()
}

// serveStale reports whether e, no longer fresh at now, may still be served
// while a background refresh runs, and starts that refresh when the bound on
// refreshes allows.
func (l *Loader[K, V]) serveStale(ctx context.Context, key K, e *Entry[V], now int64, load LoadFunc[K, V]) bool {
	if !l.staleServable(e, now) {
		return false
	}
	l.startRefresh(ctx, key, load, false, e.FreshUntil)
	return true
}

// staleServable reports whether e, no longer fresh at now, is inside its
// stale-while-revalidate window.
func (l *Loader[K, V]) staleServable(e *Entry[V], now int64) bool {
	return l.opts.StaleFor > 0 && !e.Missing && !e.expiredAt(now) &&
		now < e.FreshUntil.Add(l.opts.StaleFor).UnixNano()
}

// maybeRefreshEarly starts a background refresh of a fresh entry by the XFetch
// rule of Vattani, Chierichetti and Lowenstein ("Optimal Probabilistic Cache
// Stampede Prevention", VLDB 2015): refresh when
//
//	now - delta*beta*ln(rand) >= FreshUntil
//
// where delta is how long the entry's load took and rand is uniform in
// (0, 1]. The closer the entry is to going stale, and the more often it is
// read, the likelier a read refreshes it first, so hot keys are refreshed
// before they go stale while cold keys are never refreshed early.
//
// How early a key is refreshed grows with the log of its read rate; for a key
// read tens of thousands of times a second whose load takes a tenth of
// FreshFor, the rule alone would refresh it several times per FreshFor. So
// no entry is refreshed earlier than the last tenth of FreshFor, or than
// twice its scaled load time when that is longer, which still leaves the
// refresh time to finish before the entry goes stale.
func (l *Loader[K, V]) maybeRefreshEarly(ctx context.Context, key K, e *Entry[V], now int64, load LoadFunc[K, V]) {
	beta := l.opts.EarlyRefresh
	if beta == 0 || e.LoadDuration <= 0 || e.Missing || e.FreshUntil.IsZero() {
		return
	}
	gap := float64(e.FreshUntil.UnixNano() - now)
	scale := float64(e.LoadDuration) * beta
	// -ln(rand) is below 745 for any float64 in (0, 1]: entries further from
	// going stale than that never qualify, and cost no random number.
	if gap > 745*scale || gap > max(float64(l.opts.FreshFor/earlyRefreshWindow), 2*scale) {
		return
	}
	if -math.Log(1-rand.Float64())*scale < gap {
		return
	}
	l.startRefresh(ctx, key, load, true, e.FreshUntil)
}

// usableOnError reports whether e, no longer fresh at now, may stand in for a
// failed load.
func (l *Loader[K, V]) usableOnError(e *Entry[V], now int64) bool {
	return l.opts.StaleIfError > 0 && !e.Missing && !e.expiredAt(now) &&
		now < e.FreshUntil.Add(l.opts.StaleIfError).UnixNano()
}

// startRefresh starts a background refresh of key unless one is running, the
// key is backing off after a failed refresh, every refresh slot is taken, or
// the Loader is closed. It never blocks and never queues: a refresh skipped
// now is tried again by a later read.
//
// replacing is the FreshUntil of the entry the refresh is to replace. An
// early refresh replaces an entry that is still fresh, so only an entry with
// another FreshUntil counts as already refreshed.
func (l *Loader[K, V]) startRefresh(ctx context.Context, key K, load LoadFunc[K, V], early bool, replacing time.Time) {
	if l.claimRefresh([]K{key}) == nil {
		return
	}
	l.record(stats.Refresh)
	go l.refresh(context.WithoutCancel(ctx), key, load, early, replacing)
}

// claimRefresh takes one refresh slot for the keys that have no refresh
// running and are not backing off, marks them as refreshing and returns
// them. It returns nil, taking nothing, when none is due, every slot is
// taken, or the Loader is closed. The caller must start a refresh of the
// keys it returns, which ends with endRefreshes.
func (l *Loader[K, V]) claimRefresh(keys []K) []K {
	s := &l.stale
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return nil
	}
	now := time.Now()
	var due []K
	for _, k := range keys {
		if _, ok := s.running[k]; ok {
			continue
		}
		if r, ok := s.backoff[k]; ok && now.Before(r.notUntil) {
			continue
		}
		due = append(due, k)
	}
	if len(due) == 0 {
		return nil
	}
	select {
	case s.slots <- struct{}{}:
	default:
		return nil
	}
	for _, k := range due {
		s.running[k] = struct{}{}
	}
	s.wg.Add(1)
	return due
}

// refresh loads key in the background, joining a load of key that is in
// flight if there is one, and keeps the old value when the load fails.
func (l *Loader[K, V]) refresh(ctx context.Context, key K, load LoadFunc[K, V], early bool, replacing time.Time) {
	s := &l.stale
	defer s.wg.Done()
	_, err, _ := l.group.Do(ctx, key, func(ctx context.Context) (Entry[V], error) {
		return l.fill(ctx, key, load, early, replacing)
	})
	l.endRefreshes([]K{key}, []error{err})
}

// endRefreshes ends the refresh of keys, whose loads ended with errs, which
// held one refresh slot: it frees the slot, and backs off, counts and logs
// the keys whose refresh failed.
func (l *Loader[K, V]) endRefreshes(keys []K, errs []error) {
	s := &l.stale
	var failed int
	var firstKey K
	var firstErr error
	var wait time.Duration

	l.mu.Lock()
	<-s.slots
	for i, k := range keys {
		delete(s.running, k)
		err := errs[i]
		if err == nil || isNotFound(err) || errors.Is(err, ErrClosed) {
			delete(s.backoff, k)
			continue
		}
		r := s.backoff[k]
		r.failures++
		w := min(refreshBackoffMax, refreshBackoffMin<<min(r.failures-1, 16))
		r.notUntil = time.Now().Add(w)
		s.backoff[k] = r
		if failed == 0 {
			firstKey, firstErr, wait = k, err, w
		}
		failed++
	}
	if failed > 0 {
		s.sweepBackoff()
	}
	l.mu.Unlock()

	if failed > 0 {
		if l.rec != nil {
			l.rec.Record(stats.RefreshError, failed)
		}
		l.warn(logRefresh, "flightcache: background refresh failed; serving the old value", firstKey, firstErr,
			slog.Duration("retry_in", wait), slog.Int("keys", failed))
	}
}

// sweepBackoff forgets keys whose backoff ended long ago, so that keys that
// are never read again do not stay in the map. The Loader's mu must be held.
func (s *staleState[K]) sweepBackoff() {
	if len(s.backoff) < s.sweepAt {
		return
	}
	cutoff := time.Now().Add(-refreshBackoffMax)
	for k, r := range s.backoff {
		if r.notUntil.Before(cutoff) {
			delete(s.backoff, k)
		}
	}
	s.sweepAt = max(64, 2*len(s.backoff))
}
