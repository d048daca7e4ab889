// Package tiered is a flightcache.Store made of two: a fast local store in
// front of a shared one, such as an in-memory LRU in front of Redis.
//
// Reads try the local tier, then the shared one, and copy a shared hit into
// the local tier with its original timestamps, so a copy never lives longer
// than the entry it copies. Writes and deletes go to both tiers, and, with a
// Notifier, tell the other instances of a fleet to drop the key from their
// local tiers.
//
// # Old values never come back
//
// A value read from the shared tier is copied into the local tier only if
// no Set, Delete, SetMany, EvictLocal or ResetLocal for that key happened on
// this instance since the read began (DESIGN rule 8, for tiers; issue 13):
// each key being read from the shared tier has a generation, which those
// calls advance, and the copy is made, under the same lock, only when the
// generation is the one the read began with. The generations exist only
// while reads of the key are in flight, so they cost no memory at rest.
//
// # Stale local copies
//
// A local copy that is no longer fresh (its FreshUntil has passed) must not
// hide the shared tier from a fill: otherwise an instance whose copy went
// stale cannot see that another instance has just reloaded the key, and
// each instance of a fleet loads it once per expiry (issue 13: [1 3 3 3 3]
// loads per round for three instances). So Lease, which the Loader calls
// only for a key it found nothing fresh for, and after which it looks at
// the Store again, also reads the shared entry when the local copy is
// stale, and puts it in the local tier when it is the newer of the two (the
// later FreshUntil, then StaleUntil, then ExpiresAt). GetMany does the same for the stale
// local copies it finds, since batches take no leases. The Store does not
// decide freshness for the Loader; it only picks the newer of its two
// copies of one key, and only where the Loader has already found the local
// one stale. Get reads no clock: a local hit costs one local Get (a clock
// reading would cost about as much on the hit path).
//
// # A fleet's local tier
//
// Over a fleet (redisstore.Subscribe), the local tier serves only while
// the instance can prove it would hear of changes made elsewhere: at a gap
// in the invalidation channel the subscription calls SuspendLocal, and
// until ResumeLocal every read goes to the shared tier and nothing is
// copied into the local one (a hit then costs one atomic load more).
//
// # Tags and Clear
//
// Over a shared tier that is a flightcache.InvalidationLog (redisstore), a
// Store is one too, forwarding to it (see log.go): the Loader's
// InvalidateTag and Clear reach the fleet, and the Loader judges the local
// tier's entries, which keep their LoadedAt and Tags, as it judges the
// shared tier's. While the shared tier replays the fleet's invalidations
// (a Replayer), the local tier serves nothing.
//
// # Writes the shared tier refused
//
// A Set, Delete or SetMany whose shared write failed is repaired in the
// background (see repair.go): the key is deleted from the shared tier until
// that lands, and this instance serves no shared copy of it meanwhile.
// Close stops the repairs.
package tiered

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/internal/keys"
)

// Notifier tells the other instances of a fleet that a key changed, so that
// they drop it from their local tiers. *redisstore.Store is one.
type Notifier[K comparable] interface {
	Notify(ctx context.Context, key K) error
}

// Purger is a local tier that can drop everything at once, as
// *lrustore.Store can. ResetLocal needs it.
type Purger interface {
	Purge()
}

// Store is a local Store in front of a shared one, as New returns it. It is
// safe for concurrent use when both tiers are. It is a
// flightcache.BatchStore, reading and writing the shared tier in one round
// trip when that tier is one. It is a flightcache.Leaser exactly when its
// shared tier is one, taking its leases there: the Loader finds out by type
// assertion, so a Store over a shared tier without leases costs no lease
// round trips. Likewise it is a flightcache.BatchFencer exactly when its
// shared tier is a flightcache.Fencer: versions live in the shared tier,
// and a fenced write that lands there is copied into the local tier. And
// it is a flightcache.InvalidationLog exactly when its shared tier is one
// (see log.go): InvalidateTag and Clear reach the fleet through the shared
// tier, and the Loader judges the local tier's entries by the LoadedAt and
// Tags they keep.
//
// Store is an interface, not a struct, for that reason: a struct's methods
// cannot depend on what it was built over. Its EvictLocal and ResetLocal
// make it a redisstore.Evicter.
type Store[K comparable, V any] interface {
	flightcache.BatchStore[K, V]
	// EvictLocal drops key from the local tier only, and keeps a shared
	// read of key in flight from copying an older value back.
	// redisstore.Subscribe calls it for keys that other instances changed.
	EvictLocal(ctx context.Context, key K) error
	// ResetLocal drops every key from the local tier, which must be a
	// Purger, and keeps every shared read in flight from copying into it.
	ResetLocal(ctx context.Context) error
	// SuspendLocal drops every key from the local tier, as ResetLocal
	// does, and until ResumeLocal serves none from it and copies none into
	// it: reads go to the shared tier. redisstore.Subscribe calls it while
	// it cannot prove that this instance would hear of changes made
	// elsewhere (see redisstore.Suspender).
	SuspendLocal(ctx context.Context) error
	// ResumeLocal drops every key from the local tier again (the writes
	// of this instance during the suspension included), then serves it
	// again.
	ResumeLocal(ctx context.Context) error
	// PendingRepairs reports how many keys whose write the shared tier
	// refused are still being deleted from it in the background (see the
	// package documentation).
	PendingRepairs() int
	// Close stops those repairs and waits for them, and for the
	// notifications that went on after their caller's context ended. It
	// closes neither tier. It is safe to call more than once.
	Close() error
}

var (
	_ Store[string, int]                   = (*store[string, int])(nil)
	_ flightcache.BatchFencer[string, int] = (*fencingStore[string, int])(nil)
	_ flightcache.BatchFencer[string, int] = (*leasingFencingStore[string, int])(nil)
	_ flightcache.Leaser[string, int]      = (*leasingFencingStore[string, int])(nil)
	_ flightcache.Leaser[string, int]      = (*leasingStore[string, int])(nil)
	_ flightcache.BatchStore[string, int]  = (*leasingStore[string, int])(nil)
	_ flightcache.BatchLeaser[string, int] = (*batchLeasingStore[string, int])(nil)
	_ flightcache.BatchLeaser[string, int] = (*batchLeasingFencingStore[string, int])(nil)
	_ flightcache.BatchFencer[string, int] = (*batchLeasingFencingStore[string, int])(nil)
)

// New returns a Store that keeps entries in local and in shared. It is a
// flightcache.Leaser when shared is one, and a flightcache.InvalidationLog
// when shared is one. A nil tier (or a nil pointer in
// one) gives a Store every call of which returns an error naming it.
func New[K comparable, V any](local, shared flightcache.Store[K, V]) Store[K, V] {
	return NewWithNotifier[K, V](local, shared, nil)
}

// NewWithNotifier is New with cross-instance invalidation: every Set and
// Delete also calls n.Notify, so that other instances drop the key from
// their local tiers (with redisstore, they learn of it through
// redisstore.Store.Subscribe). A nil n notifies no one.
func NewWithNotifier[K comparable, V any](local, shared flightcache.Store[K, V], n Notifier[K]) Store[K, V] {
	switch {
	case isNil(local):
		return invalid[K, V]{errors.New("tiered: the local tier is nil")}
	case isNil(shared):
		return invalid[K, V]{errors.New("tiered: the shared tier is nil")}
	}
	s := &store[K, V]{local: local, shared: shared, notifier: n, gens: gens[K]{m: map[K]*slot{}, kind: keys.Of[K]()}}
	if r, ok := shared.(Replayer); ok {
		s.replaying = r.Replaying
	}
	if log, ok := shared.(flightcache.InvalidationLog); ok {
		return withLog(variant(s, shared), log)
	}
	return variant(s, shared)
}

// variant returns s as the Store type that has the capabilities of shared
// (leases, fences), as New describes.
func variant[K comparable, V any](s *store[K, V], shared flightcache.Store[K, V]) Store[K, V] {
	l, leases := shared.(flightcache.Leaser[K, V])
	bl, batchLeases := shared.(flightcache.BatchLeaser[K, V])
	f, fences := shared.(flightcache.Fencer[K, V])
	switch {
	case batchLeases && fences:
		return &batchLeasingFencingStore[K, V]{
			leasingFencingStore: &leasingFencingStore[K, V]{fencingStore: &fencingStore[K, V]{store: s, fencer: f}, leaser: l},
			batch:               bl,
		}
	case leases && fences:
		return &leasingFencingStore[K, V]{fencingStore: &fencingStore[K, V]{store: s, fencer: f}, leaser: l}
	case fences:
		return &fencingStore[K, V]{store: s, fencer: f}
	case batchLeases:
		return &batchLeasingStore[K, V]{leasingStore: &leasingStore[K, V]{store: s, leaser: l}, batch: bl}
	case leases:
		return &leasingStore[K, V]{store: s, leaser: l}
	}
	return s
}

// batchLeasingStore is a Store over a shared tier that is a
// flightcache.BatchLeaser.
type batchLeasingStore[K comparable, V any] struct {
	*leasingStore[K, V]
	batch flightcache.BatchLeaser[K, V]
}

// LeaseMany takes the shared tier's free leases of keys in one round trip
// (see flightcache.BatchLeaser), then, as Lease does, replaces stale local
// copies of the keys it took with newer shared ones.
func (s *batchLeasingStore[K, V]) LeaseMany(ctx context.Context, keys []K) ([]K, func(), error) {
	return leaseMany(ctx, s.batch, s.store, keys)
}

// batchLeasingFencingStore is a Store over a shared tier that is a
// flightcache.BatchLeaser and a flightcache.Fencer.
type batchLeasingFencingStore[K comparable, V any] struct {
	*leasingFencingStore[K, V]
	batch flightcache.BatchLeaser[K, V]
}

// LeaseMany is batchLeasingStore.LeaseMany.
func (s *batchLeasingFencingStore[K, V]) LeaseMany(ctx context.Context, keys []K) ([]K, func(), error) {
	return leaseMany(ctx, s.batch, s.store, keys)
}

func leaseMany[K comparable, V any](ctx context.Context, bl flightcache.BatchLeaser[K, V], s *store[K, V], keys []K) ([]K, func(), error) {
	taken, release, err := bl.LeaseMany(ctx, keys)
	if err == nil {
		for _, k := range taken {
			s.lookPastStale(ctx, k)
		}
	}
	return taken, release, err
}

// store is a Store over a shared tier without leases.
type store[K comparable, V any] struct {
	local, shared flightcache.Store[K, V]
	notifier      Notifier[K]
	gens          gens[K]
	rep           repairs[K]
	notifying     notifying
	repairLog     limiter
	// replaying is the shared tier's, when it is a Replayer: while it
	// reports true, the local tier serves nothing.
	replaying func() bool
}

// Replayer is a shared tier that may be replaying a fleet's invalidations
// to this instance (see flightcache.InvalidationLog), and meanwhile serves
// no entry: *redisstore.Store is one. While Replaying reports true, a Store
// over it serves none from its local tier either, since an invalidation of
// a tag or a Clear not yet replayed may cover any of them; a local hit
// then costs one call of Replaying more.
type Replayer interface {
	Replaying() bool
}

// localOff reports whether the local tier may not serve now: it is
// suspended (see SuspendLocal), or the shared tier replays invalidations.
func (s *store[K, V]) localOff() bool {
	return s.gens.suspended.Load() || s.replaying != nil && s.replaying()
}

// inner returns the store every variant of Store embeds.
func (s *store[K, V]) inner() *store[K, V] { return s }

// leasingStore is a Store over a shared tier that is a flightcache.Leaser.
type leasingStore[K comparable, V any] struct {
	*store[K, V]
	leaser flightcache.Leaser[K, V]
}

// Lease takes the shared tier's lease on key (see flightcache.Leaser), then
// replaces a stale local copy of key with a newer shared one, for the
// Loader's look after the lease to find.
func (s *leasingStore[K, V]) Lease(ctx context.Context, key K) (func(), error) {
	release, err := s.leaser.Lease(ctx, key)
	if err == nil {
		s.lookPastStale(ctx, key)
	}
	return release, err
}

// freshAt reports whether e may still be served as fresh at now: its
// FreshUntil has not passed (a zero FreshUntil never goes stale).
func freshAt[V any](e flightcache.Entry[V], now time.Time) bool {
	return e.FreshUntil.IsZero() || now.Before(e.FreshUntil.Time())
}

// newer reports whether a is a later copy than b: fresh for longer (a zero
// FreshUntil, never stale, beats any time); on a tie, served while it
// refreshes for longer (StaleUntil, compared only when both copies have
// one, since a zero StaleUntil leaves the window to the Loader's Options);
// on a tie again, kept for longer (a zero ExpiresAt, never expiring, beats
// any time).
func newer[V any](a, b flightcache.Entry[V]) bool {
	if c := later(a.FreshUntil, b.FreshUntil); c != 0 {
		return c > 0
	}
	if !a.StaleUntil.IsZero() && !b.StaleUntil.IsZero() && !a.StaleUntil.Equal(b.StaleUntil) {
		return a.StaleUntil.After(b.StaleUntil)
	}
	return later(a.ExpiresAt, b.ExpiresAt) > 0
}

// later compares two deadlines, where zero means never: 1 when a
// is the later, -1 when b is, 0 when they are equal.
func later(a, b flightcache.Deadline) int {
	switch {
	case a.IsZero() != b.IsZero():
		if a.IsZero() {
			return 1
		}
		return -1
	case a.Equal(b):
		return 0
	case a.After(b):
		return 1
	}
	return -1
}

// Get returns the local entry for key, or else the shared one, which it
// copies into the local tier unchanged (unless key changed here meanwhile;
// see the package documentation). A failing local tier is skipped; the
// error of a failing shared tier is returned when the local tier missed.
func (s *store[K, V]) Get(ctx context.Context, key K) (flightcache.Entry[V], bool, error) {
	if !s.localOff() {
		if e, ok, err := s.local.Get(ctx, key); err == nil && ok {
			return e, true, nil
		}
	}
	if s.repairing(key) {
		return flightcache.Entry[V]{}, false, nil
	}
	tok := s.gens.begin(key)
	e, ok, err := s.shared.Get(ctx, key)
	if err != nil || !ok {
		s.gens.end(key, tok, nil)
		return flightcache.Entry[V]{}, false, err
	}
	// A copy that failed is only a later miss.
	s.gens.end(key, tok, func() { s.local.Set(ctx, key, e) })
	return e, true, nil
}

// lookPastStale replaces a local copy of key that is no longer fresh with
// the shared tier's, when that one is newer (see the package
// documentation). Lease calls it: the Loader leases only keys it found no
// fresh entry for, and looks at the Store again after Lease returns.
func (s *store[K, V]) lookPastStale(ctx context.Context, key K) {
	if s.localOff() || s.repairing(key) {
		return
	}
	le, ok, err := s.local.Get(ctx, key)
	if err != nil || !ok || freshAt(le, time.Now()) {
		return
	}
	tok := s.gens.begin(key)
	se, ok, err := s.shared.Get(ctx, key)
	if err != nil || !ok || !newer(se, le) {
		s.gens.end(key, tok, nil)
		return
	}
	s.gens.end(key, tok, func() { s.local.Set(ctx, key, se) })
}

// Set writes e to the shared tier and then to the local tier, even when the
// shared tier fails, then notifies the other instances. It returns the
// errors of both tiers and of the notification, joined. When the shared
// tier failed, the caller may assume that this instance serves e or
// nothing for key, and that the fleet converges on a miss of key within
// moments of the shared tier answering again (see the package
// documentation).
func (s *store[K, V]) Set(ctx context.Context, key K, e flightcache.Entry[V]) error {
	errShared := s.shared.Set(ctx, key, e)
	s.landed([]K{key}, errShared)
	errLocal := s.gens.write(key, func() error { return s.local.Set(ctx, key, e) })
	return errors.Join(errShared, errLocal, s.notify(ctx, key))
}

// Delete removes key from the shared tier and then from the local tier,
// then notifies the other instances. When the shared tier failed, the
// caller may assume what Set says.
func (s *store[K, V]) Delete(ctx context.Context, key K) error {
	errShared := s.shared.Delete(ctx, key)
	s.landed([]K{key}, errShared)
	errLocal := s.gens.write(key, func() error { return s.local.Delete(ctx, key) })
	return errors.Join(errShared, errLocal, s.notify(ctx, key))
}

// landed ends the repairs of keys whose shared write landed, or puts them
// under repair when it failed with err.
func (s *store[K, V]) landed(keys []K, err error) {
	if err != nil {
		s.failedWrite(keys, err)
		return
	}
	for _, k := range keys {
		s.endRepair(k)
	}
}

// isNil reports whether st is nil, or a nil pointer in an interface.
func isNil(st any) bool {
	if st == nil {
		return true
	}
	v := reflect.ValueOf(st)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// invalid is what New returns for a nil tier: a Store each of whose calls
// returns the error that names the tier, rather than one that panics on its
// first call.
type invalid[K comparable, V any] struct{ err error }

func (s invalid[K, V]) Get(context.Context, K) (flightcache.Entry[V], bool, error) {
	return flightcache.Entry[V]{}, false, s.err
}
func (s invalid[K, V]) Set(context.Context, K, flightcache.Entry[V]) error { return s.err }
func (s invalid[K, V]) Delete(context.Context, K) error                    { return s.err }
func (s invalid[K, V]) GetMany(context.Context, []K) (map[K]flightcache.Entry[V], error) {
	return nil, s.err
}
func (s invalid[K, V]) SetMany(context.Context, map[K]flightcache.Entry[V]) error { return s.err }
func (s invalid[K, V]) EvictLocal(context.Context, K) error                       { return s.err }
func (s invalid[K, V]) ResetLocal(context.Context) error                          { return s.err }
func (s invalid[K, V]) SuspendLocal(context.Context) error                        { return s.err }
func (s invalid[K, V]) ResumeLocal(context.Context) error                         { return s.err }
func (s invalid[K, V]) PendingRepairs() int                                       { return 0 }
func (s invalid[K, V]) Close() error                                              { return nil }
