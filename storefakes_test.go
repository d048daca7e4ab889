package flightcache_test

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/flightcache/flightcache"
)

// The Stores the tests plug in. mapStore is the plain one, with hooks that
// let a test stop, fail or watch a call at a chosen point; the others add
// one capability each (BatchStore, Leaser, BatchLeaser) or hold one entry
// for every key. A fake whose behaviour is its own (fleet-wide leases,
// fencing, a RefStore, a scripted Store) stays beside the tests it serves.

// mapStore is a Store over a map.
type mapStore[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]flightcache.Entry[V]

	// fail, when set, is returned by every call.
	fail error
	// watch, when set, runs first in Get and Set, with the call's context.
	watch func(ctx context.Context)
	// afterGet runs after Get has read the map, outside the lock.
	afterGet func(key K, found bool)
	// beforeSet runs before Set writes the map, outside the lock.
	beforeSet func(key K, e flightcache.Entry[V])

	gets, sets, deletes atomic.Int64
}

func newMapStore[K comparable, V any]() *mapStore[K, V] {
	return &mapStore[K, V]{m: make(map[K]flightcache.Entry[V])}
}

// memStore is the mapStore of string keys, the tests' usual Store.
type memStore[V any] = mapStore[string, V]

func newMemStore[V any]() *memStore[V] { return newMapStore[string, V]() }

func (s *mapStore[K, V]) Get(ctx context.Context, key K) (flightcache.Entry[V], bool, error) {
	if s.watch != nil {
		s.watch(ctx)
	}
	s.gets.Add(1)
	if s.fail != nil {
		return flightcache.Entry[V]{}, false, s.fail
	}
	s.mu.Lock()
	e, ok := s.m[key]
	s.mu.Unlock()
	if s.afterGet != nil {
		s.afterGet(key, ok)
	}
	return e, ok, nil
}

func (s *mapStore[K, V]) Set(ctx context.Context, key K, e flightcache.Entry[V]) error {
	if s.watch != nil {
		s.watch(ctx)
	}
	s.sets.Add(1)
	if s.fail != nil {
		return s.fail
	}
	if s.beforeSet != nil {
		s.beforeSet(key, e)
	}
	s.mu.Lock()
	s.m[key] = e
	s.mu.Unlock()
	return nil
}

func (s *mapStore[K, V]) Delete(_ context.Context, key K) error {
	s.deletes.Add(1)
	if s.fail != nil {
		return s.fail
	}
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
	return nil
}

// entry returns what the store holds for key.
func (s *mapStore[K, V]) entry(key K) (flightcache.Entry[V], bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	return e, ok
}

// batchStore is a memStore that is a BatchStore, counting its batch calls.
type batchStore struct {
	*memStore[string]
	getMany, setMany atomic.Int64
}

func (s *batchStore) GetMany(ctx context.Context, keys []string) (map[string]flightcache.Entry[string], error) {
	s.getMany.Add(1)
	out := make(map[string]flightcache.Entry[string])
	for _, k := range keys {
		if e, ok := s.entry(k); ok {
			out[k] = e
		}
	}
	return out, nil
}

func (s *batchStore) SetMany(ctx context.Context, entries map[string]flightcache.Entry[string]) error {
	s.setMany.Add(1)
	for k, e := range entries {
		if err := s.memStore.Set(ctx, k, e); err != nil {
			return err
		}
	}
	return nil
}

// leasingStore is a memStore that is a Leaser: lease answers every Lease.
type leasingStore struct {
	*memStore[string]
	lease func(ctx context.Context, key string) (release func(), err error)
}

func (s *leasingStore) Lease(ctx context.Context, key string) (func(), error) {
	return s.lease(ctx, key)
}

// releasing is a leasingStore whose every lease is granted, with release
// as its release.
func releasing(release func()) *leasingStore {
	return &leasingStore{
		memStore: newMemStore[string](),
		lease:    func(context.Context, string) (func(), error) { return release, nil },
	}
}

// batchLeasingStore is a leasingStore that is a BatchLeaser too: leaseMany
// answers every LeaseMany.
type batchLeasingStore struct {
	*leasingStore
	leaseMany func(ctx context.Context, keys []string) (taken []string, release func(), err error)
}

func (s *batchLeasingStore) LeaseMany(ctx context.Context, keys []string) ([]string, func(), error) {
	return s.leaseMany(ctx, keys)
}

// fixedStore holds one entry for every key, given by entry, and ignores
// writes. Its Get allocates nothing.
type fixedStore[K comparable] struct {
	mu    sync.Mutex
	entry flightcache.Entry[string]
}

func (s *fixedStore[K]) Get(context.Context, K) (flightcache.Entry[string], bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entry, true, nil
}
func (s *fixedStore[K]) Set(context.Context, K, flightcache.Entry[string]) error { return nil }
func (s *fixedStore[K]) Delete(context.Context, K) error                         { return nil }
