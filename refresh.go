package flightcache

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/flightcache/flightcache/stats"
)

// DefaultMaxRefreshes bounds the background refreshes that run at once when
// Options.MaxRefreshes is 0.
const DefaultMaxRefreshes = 32

// refresher owns the background refreshes: which keys are refreshing, and
// the refresh slots. A key whose last load failed backs off as the fill's
// throttle says. Refreshes run as fills (see filler), which Close waits for.
//
// A stale read asks due first: it reads the key's marks and the slot count
// with atomic loads, and takes no lock, reads no clock and allocates
// nothing when the key is refreshing or backing off or every slot is taken.
// Only a read that starts a refresh writes (per key, inside the map's
// Compute). Safe for concurrent use.
type refresher[K comparable, V any] struct {
	fill     *filler[K, V]
	throttle *throttle[K]
	rep      *reporter
	clock    clock

	max     int64
	slots   atomic.Int64            // refreshes running; at most max
	running *xsync.Map[K, struct{}] // keys refreshing

	explicit explicitRefreshes[K, V] // Loader.Refresh's
}

func newRefresher[K comparable, V any](f *filler[K, V], rep *reporter, c clock, maxRefreshes int) *refresher[K, V] {
	if maxRefreshes == 0 {
		maxRefreshes = DefaultMaxRefreshes
	}
	r := &refresher[K, V]{fill: f, throttle: f.throttle, rep: rep, clock: c, max: int64(maxRefreshes), running: xsync.NewMap[K, struct{}]()}
	r.explicit = explicitRefreshes[K, V]{fill: f, rep: rep, ended: r.ended}
	return r
}

// due reports whether a refresh of key may start at now: none is running or
// backing off for it, and a slot is free. It takes no lock.
func (r *refresher[K, V]) due(key K, now int64) bool {
	if r.slots.Load() >= r.max {
		return false
	}
	if _, ok := r.running.Load(key); ok {
		return false
	}
	_, _, blocked := r.throttle.blocked(key, now)
	return !blocked
}

// start refreshes key in the background unless a refresh of it is running
// or backing off, every slot is taken, or the Loader is closed. It never
// blocks and never queues: a refresh skipped now is tried again by a later
// read. replacing is the FreshUntil of the entry an early refresh replaces,
// and zero for a stale entry.
func (r *refresher[K, V]) start(ctx context.Context, key K, load LoadFunc[K, V], replacing Deadline, now int64) {
	if !r.due(key, now) {
		return
	}
	var rep []Deadline
	if !replacing.IsZero() {
		rep = []Deadline{replacing}
	}
	r.run(ctx, []K{key}, source[K, V]{one: load}, rep, now)
}

// startMany refreshes keys with one fill of a batch source, which takes one
// slot. replacing gives, for each key, what start's replacing does. Keys
// refreshing or backing off are left out.
func (r *refresher[K, V]) startMany(ctx context.Context, keys []K, replacing []Deadline, load BatchLoadFunc[K, V], now int64) {
	if r.slots.Load() >= r.max {
		return
	}
	due, rep := keys[:0:0], replacing[:0:0]
	for i, k := range keys {
		if r.due(k, now) {
			due, rep = append(due, k), append(rep, replacing[i])
		}
	}
	if len(due) > 0 {
		r.run(ctx, due, source[K, V]{many: load}, rep, now)
	}
}

// run claims keys and a slot, and submits the fill of the keys no other fill
// is loading. keys is the refresher's own.
func (r *refresher[K, V]) run(ctx context.Context, keys []K, src source[K, V], replacing []Deadline, now int64) {
	mine := keys[:0]
	var rep []Deadline
	for i, k := range keys {
		if r.claimKey(k, now) {
			mine = append(mine, k)
			if replacing != nil {
				rep = append(rep, replacing[i])
			}
		}
	}
	if len(mine) == 0 {
		return
	}
	if !r.takeSlot() {
		r.release(mine, nil)
		return
	}
	// A key that a fill is loading already needs no refresh: that fill
	// stores a new entry.
	tickets, started, err := r.fill.claim(mine)
	if err != nil {
		r.release(mine, nil)
		r.slots.Add(-1)
		return
	}
	var skip []K
	n := 0
	for i, k := range mine {
		if !started[i] {
			skip = append(skip, k)
			continue
		}
		mine[n], tickets[n] = k, tickets[i]
		if rep != nil {
			rep[n] = rep[i]
		}
		n++
	}
	mine, tickets = mine[:n], tickets[:n]
	if rep != nil {
		rep = rep[:n]
	}
	r.release(skip, nil)
	if n == 0 {
		r.slots.Add(-1)
		return
	}
	if err := r.fill.submit(ctx, mine, tickets, src, fillOptions[K]{replacing: rep, onEnd: r.end, background: true}); err != nil {
		r.release(mine, nil)
		r.slots.Add(-1)
		return
	}
	// Counted once the fill owns the slot and the keys: a Recorder that
	// panics here takes nothing with it.
	r.rep.recordN(stats.Refresh, n)
}

// claimKey marks key as refreshing, unless it is already or is backing off.
func (r *refresher[K, V]) claimKey(key K, now int64) bool {
	if _, _, blocked := r.throttle.blocked(key, now); blocked {
		return false
	}
	_, running := r.running.LoadOrStore(key, struct{}{})
	return !running
}

// takeSlot takes a refresh slot if one is free.
func (r *refresher[K, V]) takeSlot() bool {
	for {
		n := r.slots.Load()
		if n >= r.max {
			return false
		}
		if r.slots.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// end is the fill's onEnd: it frees the slot, and backs off, counts and logs
// the keys whose refresh failed.
func (r *refresher[K, V]) end(keys []K, errs []error) {
	defer r.slots.Add(-1)
	r.report(keys, errs, r.release(keys, errs))
}

// ended counts and logs the keys that failed in a refresh that holds no
// slot and no mark in running: an explicit Loader.Refresh, whose own state
// explicitRefreshes keeps (its onEnd calls this).
func (r *refresher[K, V]) ended(keys []K, errs []error) {
	failed := 0
	for _, err := range errs {
		if refreshFailed(err) {
			failed++
		}
	}
	r.report(keys, errs, failed)
}

// report counts and logs failed refreshes, of which there are failed.
func (r *refresher[K, V]) report(keys []K, errs []error, failed int) {
	if failed == 0 {
		return
	}
	r.rep.contain("Recorder", func() { r.rep.recordN(stats.RefreshError, failed) })
	for i, err := range errs {
		if refreshFailed(err) {
			r.rep.warn(context.Background(), false, logRefresh, "flightcache: background refresh failed; serving the old value",
				keys[i], err, slog.Int("keys", failed))
			break
		}
	}
}

// refreshFailed reports whether a refresh that ended with err failed. A
// refresh that found the key gone, or that Close refused, did not.
func refreshFailed(err error) bool {
	return err != nil && err != errPrivate && err != errReload && !isNotFound(err) && !errors.Is(err, ErrClosed)
}

// release ends the refresh of keys, whose refreshes ended with errs (nil:
// none ran), and returns how many failed. The fill has told the throttle.
func (r *refresher[K, V]) release(keys []K, errs []error) (failed int) {
	for i, k := range keys {
		if errs != nil && refreshFailed(errs[i]) {
			failed++
		}
		r.running.Delete(k)
	}
	return failed
}
