package flightcache

import (
	"context"
	"sync"
	"time"

	"github.com/flightcache/flightcache/stats"
)

// The Stores and the Recorder the internal tests plug in.

// mapStore is a Store over a map.
type mapStore[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]Entry[V]
}

func newMapStore[K comparable, V any]() *mapStore[K, V] {
	return &mapStore[K, V]{m: make(map[K]Entry[V])}
}

func (s *mapStore[K, V]) Get(_ context.Context, k K) (Entry[V], bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	return e, ok, nil
}

func (s *mapStore[K, V]) Set(_ context.Context, k K, e Entry[V]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = e
	return nil
}

func (s *mapStore[K, V]) Delete(_ context.Context, k K) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

// fixedStore answers every Get with entry(), whatever the key, and ignores
// writes.
type fixedStore struct{ entry func() Entry[string] }

func (s fixedStore) Get(context.Context, string) (Entry[string], bool, error) {
	return s.entry(), true, nil
}
func (fixedStore) Set(context.Context, string, Entry[string]) error { return nil }
func (fixedStore) Delete(context.Context, string) error             { return nil }

// staleStore answers every Get with a stale entry, as a store full of keys
// past their freshness would, and keeps nothing.
var staleStore = fixedStore{entry: func() Entry[string] {
	now := time.Now()
	return Entry[string]{Value: "old", FreshUntil: DeadlineOf(now.Add(-time.Second)), ExpiresAt: DeadlineOf(now.Add(time.Hour))}
}}

// hookRecorder is a Recorder that counts nothing: onRecordLoad, when set,
// runs for each load, and may block or end its goroutine, as a Recorder
// with a bug would.
type hookRecorder struct {
	onRecordLoad func(elapsed time.Duration, err error)
}

func (hookRecorder) Record(stats.Event, int) {}

func (r hookRecorder) RecordLoad(elapsed time.Duration, err error) {
	if r.onRecordLoad != nil {
		r.onRecordLoad(elapsed, err)
	}
}
