package flightcache

import (
	"context"
	"slices"
)

// This file is the Loader's one view of its Store: the optional
// capabilities a Store may have (RefStore, BatchStore, Leaser, BatchLeaser,
// Fencer, BatchFencer, InvalidationLog) are found once, in New, as database/sql finds a
// driver's optional interfaces, and the fill calls the view, never asking
// which of them the Store has.

// storeView is a Store with the capabilities it has. It holds no state of
// its own after New and is safe for concurrent use as the Store is.
type storeView[K comparable, V any] struct {
	store   Store[K, V]
	ref     RefStore[K, V]    // store, when it is one
	batch   BatchStore[K, V]  // store, when it is one
	leaser  Leaser[K, V]      // store, when it is one
	bleaser BatchLeaser[K, V] // store, when it is one
	fencer  Fencer[K, V]      // store, when it is one
	bfencer BatchFencer[K, V] // store, when it is one
	log     InvalidationLog   // store, when it is one
}

func newStoreView[K comparable, V any](store Store[K, V]) storeView[K, V] {
	v := storeView[K, V]{store: store}
	v.ref, _ = store.(RefStore[K, V])
	v.batch, _ = store.(BatchStore[K, V])
	v.leaser, _ = store.(Leaser[K, V])
	v.bleaser, _ = store.(BatchLeaser[K, V])
	v.fencer, _ = store.(Fencer[K, V])
	v.bfencer, _ = store.(BatchFencer[K, V])
	v.log, _ = store.(InvalidationLog)
	return v
}

// lookup is what the Store holds for one key.
type lookup[V any] struct {
	e  Entry[V]
	ok bool
	v  Version // the key's Version, over a Fencer
}

// fenced reports whether the Store fences writes: a fill reads each key's
// Version with its entry and writes only if it is unchanged (rule 9).
func (s *storeView[K, V]) fenced() bool { return s.fencer != nil }

// leases reports whether the Store gives fleet-wide leases (rule 10).
func (s *storeView[K, V]) leases() bool { return s.leaser != nil }

// readsMany reports whether keys are read in one round trip, with their
// Versions when versioned.
func (s *storeView[K, V]) readsMany(keys int, versioned bool) bool {
	if keys < 2 {
		return false
	}
	if versioned {
		return s.bfencer != nil
	}
	return s.batch != nil
}

// getFenced is get of one key, with its Version over a Fencer: a write of
// the Loader's that reads first (Expire) writes back only while the key is
// as it read it, on every instance of a fleet (rule 9).
func (s *storeView[K, V]) getFenced(ctx context.Context, key K) (lookup[V], error) {
	return s.get(ctx, key, s.fenced())
}

// get reads one key, with its Version when versioned (over a Fencer).
func (s *storeView[K, V]) get(ctx context.Context, key K, versioned bool) (lookup[V], error) {
	if versioned {
		e, ok, v, err := s.fencer.GetVersioned(ctx, key)
		return lookup[V]{e, ok, v}, err
	}
	e, ok, err := s.store.Get(ctx, key)
	return lookup[V]{e: e, ok: ok}, err
}

// getMany reads keys in one round trip (see readsMany) into out, in the
// order of keys. The Store gets a copy of keys, which it may change.
func (s *storeView[K, V]) getMany(ctx context.Context, keys []K, versioned bool, out []lookup[V]) error {
	if versioned {
		found, versions, err := s.bfencer.GetManyVersioned(ctx, slices.Clone(keys))
		if err != nil {
			return err
		}
		for n, k := range keys {
			out[n].e, out[n].ok = found[k]
			out[n].v = versions[k]
		}
		return nil
	}
	found, err := s.batch.GetMany(ctx, slices.Clone(keys))
	if err != nil {
		return err
	}
	for n, k := range keys {
		out[n].e, out[n].ok = found[k]
	}
	return nil
}

// writesMany reports whether entries of several keys are written in one
// round trip, fenced when the Store fences writes.
func (s *storeView[K, V]) writesMany() bool {
	if s.fencer != nil {
		return s.bfencer != nil
	}
	return s.batch != nil
}

// set writes e for key: over a Fencer, only while key's Version is still v.
func (s *storeView[K, V]) set(ctx context.Context, key K, e Entry[V], v Version) error {
	if s.fencer != nil {
		_, err := s.fencer.SetIfVersion(ctx, key, e, v)
		return err
	}
	return s.store.Set(ctx, key, e)
}

// setMany writes entries in one round trip (see writesMany): over a
// BatchFencer, each only while its key's Version is still the one in
// versions.
func (s *storeView[K, V]) setMany(ctx context.Context, entries map[K]Entry[V], versions map[K]Version) error {
	if s.bfencer != nil {
		_, err := s.bfencer.SetManyIfVersion(ctx, entries, versions)
		return err
	}
	return s.batch.SetMany(ctx, entries)
}

// leasesMany reports whether several keys are leased in one round trip.
func (s *storeView[K, V]) leasesMany(keys int) bool { return keys > 1 && s.bleaser != nil }
