package flightcache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memStore is a Store over a map with hooks that let a test stop a call at a
// chosen point.
type memStore[V any] struct {
	mu sync.Mutex
	m  map[string]flightcache.Entry[V]

	// fail, when set, is returned by every call.
	fail error
	// afterGet runs after Get has read the map, outside the lock.
	afterGet func(key string, found bool)
	// beforeSet runs before Set writes the map, outside the lock.
	beforeSet func(key string, e flightcache.Entry[V])

	gets, sets, deletes atomic.Int64
}

func newMemStore[V any]() *memStore[V] {
	return &memStore[V]{m: make(map[string]flightcache.Entry[V])}
}

func (s *memStore[V]) Get(_ context.Context, key string) (flightcache.Entry[V], bool, error) {
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

func (s *memStore[V]) Set(_ context.Context, key string, e flightcache.Entry[V]) error {
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

func (s *memStore[V]) Delete(_ context.Context, key string) error {
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
func (s *memStore[V]) entry(key string) (flightcache.Entry[V], bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	return e, ok
}

// source is a fake slow backend that counts its loads per key.
type source struct {
	mu    sync.Mutex
	loads map[string]int
	total atomic.Int64

	// gate, when set, is received from before each load returns.
	gate chan struct{}
	// started, when set, receives the key of each load as it starts.
	started chan string
	// answer computes the result; nil means "value-" + key.
	answer func(ctx context.Context, key string) (string, error)
}

func newSource() *source { return &source{loads: make(map[string]int)} }

func (s *source) load(ctx context.Context, key string) (string, error) {
	s.mu.Lock()
	s.loads[key]++
	s.mu.Unlock()
	s.total.Add(1)
	if s.started != nil {
		s.started <- key
	}
	if s.gate != nil {
		<-s.gate
	}
	if s.answer != nil {
		return s.answer(ctx, key)
	}
	return "value-" + key, nil
}

func (s *source) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads[key]
}

var errBackend = errors.New("backend unavailable")
