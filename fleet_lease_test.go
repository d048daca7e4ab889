package flightcache_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// leaseStore is a store shared by several Loaders, as Redis is by the
// instances of a fleet, with fleet-wide leases: Lease waits while another
// holder has the key's lease, as redisstore's does.
type leaseStore struct {
	*memStore[string]

	mu     sync.Mutex
	held   map[string]chan struct{} // closed when the lease is released
	leases atomic.Int64             // leases taken
	calls  atomic.Int64             // calls of Lease and LeaseMany
}

func newLeaseStore() *leaseStore {
	return &leaseStore{memStore: newMemStore[string](), held: make(map[string]chan struct{})}
}

func (s *leaseStore) take(key string) (release func(), wait chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.held[key]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	s.held[key] = ch
	s.leases.Add(1)
	return func() {
		s.mu.Lock()
		delete(s.held, key)
		s.mu.Unlock()
		close(ch)
	}, nil
}

func (s *leaseStore) Lease(ctx context.Context, key string) (func(), error) {
	s.calls.Add(1)
	release, wait := s.take(key)
	if release != nil {
		return release, nil
	}
	select {
	case <-wait:
		return nil, nil // the holder released it: look again
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// batchLeaseStore is a leaseStore that takes many leases in one call.
type batchLeaseStore struct{ *leaseStore }

func (s batchLeaseStore) LeaseMany(_ context.Context, keys []string) ([]string, func(), error) {
	s.calls.Add(1)
	var taken []string
	var releases []func()
	for _, k := range keys {
		if release, _ := s.take(k); release != nil {
			taken, releases = append(taken, k), append(releases, release)
		}
	}
	return taken, func() {
		for _, r := range releases {
			r()
		}
	}, nil
}

func TestBatchesLeaseEveryKeyTheyLoad(t *testing.T) {
	for name, store := range map[string]flightcache.Store[string, string]{
		"Leaser":      newLeaseStore(),
		"BatchLeaser": batchLeaseStore{newLeaseStore()},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})
			got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b", "c"}, newBatchSource().load)
			require.NoError(t, err)
			assert.Equal(t, values("a", "b", "c"), got)
			var ls *leaseStore
			switch s := store.(type) {
			case *leaseStore:
				ls = s
			case batchLeaseStore:
				ls = s.leaseStore
				assert.Equal(t, int64(1), ls.calls.Load(), "one round trip for the batch's leases")
			}
			assert.Equal(t, int64(3), ls.leases.Load(), "a batch of 3 cold keys takes 3 leases")
		})
	}
}

// TestTwoInstancesBatchLoadingTheSameKeysLoadEachOnce runs two Loaders (two
// instances of a fleet) over one shared store, each loading the same 20 cold
// keys in one batch at the same moment.
func TestTwoInstancesBatchLoadingTheSameKeysLoadEachOnce(t *testing.T) {
	for name, newStore := range map[string]func() flightcache.Store[string, string]{
		"Leaser":      func() flightcache.Store[string, string] { return newLeaseStore() },
		"BatchLeaser": func() flightcache.Store[string, string] { return batchLeaseStore{newLeaseStore()} },
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				shared := newStore()
				a := newLoader(t, shared, &flightcache.Options{FreshFor: time.Minute})
				b := newLoader(t, shared, &flightcache.Options{FreshFor: time.Minute})
				src := newBatchSource()
				slow := func(ctx context.Context, keys []string) (map[string]string, error) {
					time.Sleep(10 * time.Millisecond)
					return src.load(ctx, keys)
				}
				keys := make([]string, 20)
				for i := range keys {
					keys[i] = fmt.Sprint("k", i)
				}
				var wg sync.WaitGroup
				for _, l := range []*flightcache.Loader[string, string]{a, b} {
					wg.Go(func() {
						got, err := l.GetOrLoadMany(context.Background(), keys, slow)
						assert.NoError(t, err)
						assert.Len(t, got, len(keys))
					})
				}
				wg.Wait()
				for _, k := range keys {
					assert.Equal(t, 1, src.count(k), "key %s loaded once for the fleet", k)
				}
			})
		})
	}
}

// TestInstancesHoldingDifferentPartsOfABatchDoNotWaitOnEachOther: instance
// A holds the lease of k1 (its load is slow), instance B batch-loads k1 and
// k2. B loads k2 at once instead of waiting for k1's lease first.
func TestInstancesHoldingDifferentPartsOfABatchDoNotWaitOnEachOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shared := batchLeaseStore{newLeaseStore()}
		a := newLoader(t, shared, &flightcache.Options{FreshFor: time.Minute})
		b := newLoader(t, shared, &flightcache.Options{FreshFor: time.Minute})
		gate := make(chan struct{})
		go a.GetOrLoad(context.Background(), "k1", func(context.Context, string) (string, error) {
			<-gate
			return "value-k1", nil
		})
		synctest.Wait()

		src := newBatchSource()
		done := make(chan map[string]string)
		go func() {
			got, err := b.GetOrLoadMany(context.Background(), []string{"k1", "k2"}, src.load)
			assert.NoError(t, err)
			done <- got
		}()
		synctest.Wait()
		assert.Equal(t, 1, src.count("k2"), "k2 was loaded while k1's lease is held elsewhere")
		_, ok := shared.entry("k2")
		assert.True(t, ok, "and stored")
		assert.Equal(t, 0, src.count("k1"))

		close(gate)
		assert.Equal(t, values("k1", "k2"), <-done)
		assert.Equal(t, 0, src.count("k1"), "k1 came from the instance that held its lease")
	})
}

// panicReleaseStore is a BatchLeaser whose release releases the leases and
// then panics.
type panicReleaseStore struct{ *leaseStore }

func (s panicReleaseStore) LeaseMany(ctx context.Context, keys []string) ([]string, func(), error) {
	taken, release, err := batchLeaseStore(s).LeaseMany(ctx, keys)
	return taken, func() {
		release()
		panic("release bug")
	}, err
}

func (s *leaseStore) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// TestABatchLeaseReleaseThatPanicsStillReleasesEveryLease: a release that
// panics is contained; the batch's values still reach the caller, and the
// leases it released stay released. Issue 12: what is taken before a call
// into a plug-in is given back on every exit path.
func TestABatchLeaseReleaseThatPanicsStillReleasesEveryLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := panicReleaseStore{newLeaseStore()}
		l, err := flightcache.New[string, string](store, &flightcache.Options{LoadTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		defer l.Close()
		got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b", "c"}, newBatchSource().load)
		require.NoError(t, err)
		assert.Len(t, got, 3)
		synctest.Wait()
		assert.Zero(t, store.heldCount(), "every lease the batch took is released")
	})
}
