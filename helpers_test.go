package flightcache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// callerKey is the key of a value a caller's context carries to its load.
type callerKey struct{}

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
