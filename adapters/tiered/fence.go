package tiered

import (
	"context"
	"errors"

	"github.com/flightcache/flightcache"
)

// fencingStore is a Store over a shared tier that is a flightcache.Fencer.
// Versions live in the shared tier only: GetVersioned reads it there (a
// fill reads the shared tier anyway), and SetIfVersion writes there first
// and copies into the local tier only what the shared tier took.
type fencingStore[K comparable, V any] struct {
	*store[K, V]
	fencer flightcache.Fencer[K, V]
}

// leasingFencingStore is a Store over a shared tier that is both a
// flightcache.Leaser and a flightcache.Fencer.
type leasingFencingStore[K comparable, V any] struct {
	*fencingStore[K, V]
	leaser flightcache.Leaser[K, V]
}

// Lease takes the shared tier's lease on key, as leasingStore.Lease does.
func (s *leasingFencingStore[K, V]) Lease(ctx context.Context, key K) (func(), error) {
	release, err := s.leaser.Lease(ctx, key)
	if err == nil {
		s.lookPastStale(ctx, key)
	}
	return release, err
}

// GetVersioned reads key's entry and version from the shared tier, and
// copies a found entry into the local tier as Get does (only if nothing
// changed key here since the read began, and only over an older copy).
func (s *fencingStore[K, V]) GetVersioned(ctx context.Context, key K) (flightcache.Entry[V], bool, flightcache.Version, error) {
	tok := s.gens.begin(key)
	e, ok, v, err := s.fencer.GetVersioned(ctx, key)
	if err != nil || !ok || s.repairing(key) {
		// A key under repair: its shared entry may be the one a failed
		// write replaced; its version still fences the fill.
		s.gens.end(key, tok, nil)
		return flightcache.Entry[V]{}, false, v, err
	}
	s.gens.end(key, tok, func() { s.copyIfNewer(ctx, key, e) })
	return e, true, v, nil
}

// copyIfNewer puts e in the local tier unless the local copy is newer. The
// caller holds the gens lock.
func (s *fencingStore[K, V]) copyIfNewer(ctx context.Context, key K, e flightcache.Entry[V]) {
	if le, ok, err := s.local.Get(ctx, key); err == nil && ok && !newer(e, le) {
		return
	}
	s.local.Set(ctx, key, e)
}

// SetIfVersion writes e to the shared tier if key's version there is still
// v; when it did, it writes e to the local tier too and notifies the other
// instances, as Set does.
func (s *fencingStore[K, V]) SetIfVersion(ctx context.Context, key K, e flightcache.Entry[V], v flightcache.Version) (bool, error) {
	written, err := s.fencer.SetIfVersion(ctx, key, e, v)
	if err != nil || !written {
		return false, err
	}
	errLocal := s.gens.write(key, func() error { return s.local.Set(ctx, key, e) })
	return true, errors.Join(errLocal, s.notify(ctx, key))
}

// GetManyVersioned reads the entries and versions of keys from the shared
// tier, in one call when it is a flightcache.BatchFencer, and copies found
// entries into the local tier as GetVersioned does.
func (s *fencingStore[K, V]) GetManyVersioned(ctx context.Context, keys []K) (map[K]flightcache.Entry[V], map[K]flightcache.Version, error) {
	if err := s.gens.hashable(keys); err != nil {
		return nil, nil, err
	}
	toks := make([]token, len(keys))
	for i, k := range keys {
		toks[i] = s.gens.begin(k)
	}
	var (
		entries  map[K]flightcache.Entry[V]
		versions map[K]flightcache.Version
		err      error
	)
	if bf, ok := s.fencer.(flightcache.BatchFencer[K, V]); ok {
		entries, versions, err = bf.GetManyVersioned(ctx, keys)
	} else {
		entries, versions = map[K]flightcache.Entry[V]{}, map[K]flightcache.Version{}
		for _, k := range keys {
			var (
				e     flightcache.Entry[V]
				found bool
				v     flightcache.Version
			)
			if e, found, v, err = s.fencer.GetVersioned(ctx, k); err != nil {
				break
			}
			if found {
				entries[k] = e
			}
			if v != 0 {
				versions[k] = v
			}
		}
	}
	for i, k := range keys {
		e, found := entries[k]
		if found && s.repairing(k) {
			delete(entries, k)
			found = false
		}
		if err != nil || !found {
			s.gens.end(k, toks[i], nil)
			continue
		}
		s.gens.end(k, toks[i], func() { s.copyIfNewer(ctx, k, e) })
	}
	return entries, versions, err
}

// SetManyIfVersion writes each entry to the shared tier as SetIfVersion
// does, in one call when it is a flightcache.BatchFencer, then the written
// ones to the local tier, and notifies the other instances of them.
func (s *fencingStore[K, V]) SetManyIfVersion(ctx context.Context, entries map[K]flightcache.Entry[V], versions map[K]flightcache.Version) (map[K]bool, error) {
	var (
		written map[K]bool
		errs    []error
	)
	if bf, ok := s.fencer.(flightcache.BatchFencer[K, V]); ok {
		var err error
		written, err = bf.SetManyIfVersion(ctx, entries, versions)
		errs = append(errs, err)
	} else {
		written = map[K]bool{}
		for k, e := range entries {
			ok, err := s.fencer.SetIfVersion(ctx, k, e, versions[k])
			errs = append(errs, err)
			if ok {
				written[k] = true
			}
		}
	}
	for k := range written {
		errs = append(errs, s.gens.write(k, func() error { return s.local.Set(ctx, k, entries[k]) }), s.notify(ctx, k))
	}
	return written, errors.Join(errs...)
}
