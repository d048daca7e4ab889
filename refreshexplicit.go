package flightcache

import (
	"context"
	"sync"

	"github.com/flightcache/flightcache/stats"
)

// explicitRefreshes owns the refreshes Loader.Refresh runs: at most one per
// key at a time (issue 24, the Set storm).
//
// A Refresh of a key whose refresh is still the key's fill in flight joins
// it, as a Refresh joins any fill of the key in flight. A Set, Invalidate,
// Expire, InvalidateTag or Clear supersedes that refresh (the Group forgets
// its call: its result will not be written, and later callers no longer
// join it), but its load runs on until it returns, which a load that
// ignores its context does only when it is done; a refresh whose result is
// out, failed or timed out, has no load to join either, though its onEnd
// (a Recorder, or the deadline's expire, may hold it) has not cleared it
// yet. A Refresh that comes in either case is kept, not started: the
// refresh it asks for runs as soon as the one before ends, and the
// Refreshes that come until then are that one refresh (the latest ctx and
// load are used). Without this, a storm of Sets and Refreshes of a few hot
// keys started a new fill at each Refresh after each Set, thousands in
// flight at once for 32 keys.
//
// Whether the refresh is still joinable is the Group's to say
// (singleflight.Ticket.Joinable), so that writes and invalidations tell
// nobody here. Every method is safe for concurrent use; mu is taken
// before the Group's lock, never after it.
type explicitRefreshes[K comparable, V any] struct {
	fill *filler[K, V]
	rep  *reporter
	// ended counts and logs the failures of a refresh that ended.
	ended func(keys []K, errs []error)

	mu      sync.Mutex
	running map[K]*explicitRefresh[K, V]
}

// explicitRefresh is the refresh of one key that Loader.Refresh runs.
type explicitRefresh[K comparable, V any] struct {
	// t is the ticket of its fill's call, once claimed is set; until then
	// the refresh is starting, and a Refresh that comes joins it.
	t       ticket[K, V]
	claimed bool
	// next, when not nil, is the Refresh that runs once this one ends.
	next *nextRefresh[K, V]
}

// nextRefresh is a Refresh kept for when the key's refresh running ends.
type nextRefresh[K comparable, V any] struct {
	ctx  context.Context
	load LoadFunc[K, V]
}

// refresh refreshes key with load, as Loader.Refresh documents, or keeps
// the call for when the key's refresh running ends.
func (x *explicitRefreshes[K, V]) refresh(ctx context.Context, key K, load LoadFunc[K, V]) error {
	x.mu.Lock()
	if cur, ok := x.running[key]; ok {
		if cur.claimed && !cur.t.Joinable() {
			cur.next = &nextRefresh[K, V]{ctx: ctx, load: load}
		}
		x.mu.Unlock()
		return nil // joined the refresh in flight, or kept for when it ends
	}
	if x.running == nil {
		x.running = map[K]*explicitRefresh[K, V]{}
	}
	x.running[key] = &explicitRefresh[K, V]{}
	x.mu.Unlock()
	return x.start(ctx, key, load)
}

// start runs the refresh of key that x.running holds, or ends it (see done)
// when a fill of key is in flight already, which the refresh joins, or when
// it cannot start.
func (x *explicitRefreshes[K, V]) start(ctx context.Context, key K, load LoadFunc[K, V]) error {
	t, started, err := x.fill.group.Claim(key)
	if err == nil && started {
		x.mu.Lock()
		if cur, ok := x.running[key]; ok {
			cur.t, cur.claimed = t, true
		}
		x.mu.Unlock()
		err = x.fill.submitOne(ctx, key, t, source[K, V]{one: load},
			fillOptions[K]{force: true, onEnd: x.end, background: true})
		if err == nil {
			x.rep.record(stats.Refresh)
			return nil
		}
	}
	x.done(key)
	return err
}

// end is the onEnd of an explicit refresh's fill.
func (x *explicitRefreshes[K, V]) end(keys []K, errs []error) {
	x.ended(keys, errs)
	x.done(keys[0])
}

// done ends the refresh of key, and starts the one kept for its end, if
// any. That one's error (ErrClosed after Close) reaches nobody: its caller
// returned nil when it was kept.
func (x *explicitRefreshes[K, V]) done(key K) {
	x.mu.Lock()
	cur, ok := x.running[key]
	if !ok || cur.next == nil {
		delete(x.running, key)
		x.mu.Unlock()
		return
	}
	next := cur.next
	x.running[key] = &explicitRefresh[K, V]{}
	x.mu.Unlock()
	_ = x.start(next.ctx, key, next.load)
}
