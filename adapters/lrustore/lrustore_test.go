package lrustore_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) flightcache.Store[string, string] {
		s, err := lrustore.New[string, string](storetest.MaxEntries)
		require.NoError(t, err)
		return s
	})
}

func TestConformanceWithEvict(t *testing.T) {
	storetest.Run(t, func(t *testing.T) flightcache.Store[string, string] {
		s, err := lrustore.NewWithEvict(storetest.MaxEntries, func(string, flightcache.Entry[string]) {})
		require.NoError(t, err)
		return s
	})
}

func TestBadSize(t *testing.T) {
	for _, size := range []int{0, -1, -1 << 40} {
		s, err := lrustore.New[string, int](size)
		require.Error(t, err, "size %d", size)
		assert.Nil(t, s)
		assert.Contains(t, err.Error(), "size")
		assert.Contains(t, err.Error(), strconv.Itoa(size))

		s, err = lrustore.NewWithEvict(size, func(string, flightcache.Entry[int]) {})
		require.Error(t, err, "size %d", size)
		assert.Nil(t, s)
		assert.Contains(t, err.Error(), "size")
	}
}

func TestZeroStoreFailsWithoutPanic(t *testing.T) {
	ctx := context.Background()
	for name, s := range map[string]*lrustore.Store[string, int]{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			_, ok, err := s.Get(ctx, "k")
			assert.Error(t, err)
			assert.False(t, ok)
			assert.Error(t, s.Set(ctx, "k", flightcache.Entry[int]{Value: 1}))
			assert.Error(t, s.Delete(ctx, "k"))
			assert.Zero(t, s.Len())
			s.Purge()
		})
	}
}

type evicted struct {
	key string
	e   flightcache.Entry[int]
}

// recorder collects what an eviction callback receives.
type recorder struct {
	mu  sync.Mutex
	got []evicted
}

func (r *recorder) onEvict(key string, e flightcache.Entry[int]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, evicted{key, e})
}

func (r *recorder) take() []evicted {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

func entry(v int) flightcache.Entry[int] {
	now := time.Now().Round(0)
	return flightcache.Entry[int]{
		Value:        v,
		FreshUntil:   flightcache.DeadlineOf(now.Add(time.Minute)),
		ExpiresAt:    flightcache.DeadlineOf(now.Add(time.Hour)),
		LoadDuration: flightcache.MicrosOf(time.Duration(v) * time.Millisecond),
	}
}

func TestEvictsLeastRecentlyUsedAtSize(t *testing.T) {
	ctx := context.Background()
	var r recorder
	s, err := lrustore.NewWithEvict(3, r.onEvict)
	require.NoError(t, err)

	entries := map[string]flightcache.Entry[int]{"a": entry(1), "b": entry(2), "c": entry(3), "d": entry(4), "e": entry(5)}
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, s.Set(ctx, k, entries[k]))
	}
	assert.Equal(t, 3, s.Len())
	assert.Empty(t, r.take(), "nothing is evicted before the Store is full")

	// Reading "a" makes "b" the least recently used.
	_, ok, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.True(t, ok)

	require.NoError(t, s.Set(ctx, "d", entries["d"]))
	assert.Equal(t, 3, s.Len())
	assert.Equal(t, []evicted{{"b", entries["b"]}}, r.take())
	_, ok, err = s.Get(ctx, "b")
	require.NoError(t, err)
	assert.False(t, ok, "the evicted key is gone")

	// Overwriting a key evicts nothing and calls nothing.
	require.NoError(t, s.Set(ctx, "c", entries["e"]))
	assert.Empty(t, r.take())
	got, ok, err := s.Get(ctx, "c")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, entries["e"], got)

	// "a" is now the least recently used.
	require.NoError(t, s.Set(ctx, "e", entries["e"]))
	assert.Equal(t, []evicted{{"a", entries["a"]}}, r.take())
	for _, k := range []string{"c", "d", "e"} {
		_, ok, err := s.Get(ctx, k)
		require.NoError(t, err)
		assert.True(t, ok, k)
	}
}

func TestEvictCallbackOnDeleteExpiredSetAndPurge(t *testing.T) {
	ctx := context.Background()
	var r recorder
	s, err := lrustore.NewWithEvict(10, r.onEvict)
	require.NoError(t, err)

	a, b, c := entry(1), entry(2), entry(3)
	require.NoError(t, s.Set(ctx, "a", a))
	require.NoError(t, s.Set(ctx, "b", b))
	require.NoError(t, s.Set(ctx, "c", c))

	require.NoError(t, s.Delete(ctx, "a"))
	assert.Equal(t, []evicted{{"a", a}}, r.take())
	require.NoError(t, s.Delete(ctx, "a"))
	assert.Empty(t, r.take(), "deleting a missing key removes nothing")

	old := entry(20)
	old.ExpiresAt = flightcache.DeadlineOf(time.Now().Add(-time.Second))
	require.NoError(t, s.Set(ctx, "b", old))
	assert.Equal(t, []evicted{{"b", b}}, r.take(), "an expired Set removes the entry it replaces")
	require.NoError(t, s.Set(ctx, "b", old))
	assert.Empty(t, r.take(), "an expired Set of a missing key removes nothing")
	assert.Equal(t, 1, s.Len())

	s.Purge()
	assert.Equal(t, []evicted{{"c", c}}, r.take())
	assert.Zero(t, s.Len())
}

func TestEvictCallbackMayCallTheStore(t *testing.T) {
	ctx := context.Background()
	var s *lrustore.Store[string, int]
	var seen []string
	s, err := lrustore.NewWithEvict(1, func(key string, _ flightcache.Entry[int]) {
		// The Store's lock is not held here, so this does not deadlock.
		_, ok, err := s.Get(ctx, key)
		assert.NoError(t, err)
		assert.False(t, ok)
		seen = append(seen, key)
	})
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "a", entry(1)))
	require.NoError(t, s.Set(ctx, "b", entry(2)))
	assert.Equal(t, []string{"a"}, seen)
}

func TestExpiredEntryStaysUntilOverwritten(t *testing.T) {
	// The Store does not judge entries when it reads them: one that expires
	// after it was stored is still returned, and the Loader ignores it.
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, err := lrustore.New[string, int](10)
		require.NoError(t, err)

		e := entry(1)
		require.NoError(t, s.Set(ctx, "k", e))
		time.Sleep(2 * time.Hour) // on synctest's fake clock: returns at once
		require.True(t, time.Now().After(e.ExpiresAt.Time()))

		got, ok, err := s.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok, "an entry that expired after its Set stays until overwritten")
		assert.Equal(t, e, got)
		assert.Equal(t, 1, s.Len())

		// A Set of it now removes it.
		require.NoError(t, s.Set(ctx, "k", got))
		_, ok, err = s.Get(ctx, "k")
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Zero(t, s.Len())
	})
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s, err := lrustore.New[int, int](64)
	require.NoError(t, err)

	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 8 {
		wg.Go(func() {
			<-start
			for i := range 2000 {
				k := (g*31 + i) % 128 // more keys than room, so evictions happen
				switch i % 3 {
				case 0:
					assert.NoError(t, s.Set(ctx, k, flightcache.Entry[int]{Value: k * 10}))
				case 1:
					e, ok, err := s.Get(ctx, k)
					assert.NoError(t, err)
					if ok {
						assert.Equal(t, k*10, e.Value)
					}
				case 2:
					assert.NoError(t, s.Delete(ctx, k))
				}
			}
		})
	}
	close(start)
	wg.Wait()
	assert.LessOrEqual(t, s.Len(), 64)
}

// BenchmarkGet compares a hit through the flightcache.Store interface, as the
// Loader calls it (impl=adapter), and through its GetRef, as a Loader over
// it calls it (impl=ref), with golang-lru's own Get on a cache of the
// same size holding the same entries (impl=backend) and holding bare pointers
// to the values (impl=bare), which is what a cache without timestamps would
// keep. Compare with benchstat -col /impl.
func BenchmarkGet(b *testing.B) {
	storetest.BenchmarkGets(b,
		storetest.StoreGets("adapter", func(b *testing.B) flightcache.Store[string, *storetest.Payload] {
			s, err := lrustore.New[string, *storetest.Payload](10_000)
			require.NoError(b, err)
			return s
		}),
		storetest.StoreRefGets("ref", func(b *testing.B) flightcache.Store[string, *storetest.Payload] {
			s, err := lrustore.New[string, *storetest.Payload](10_000)
			require.NoError(b, err)
			return s
		}),
		storetest.GetImpl{Name: "backend", Open: func(b *testing.B, values map[string]*storetest.Payload) func(string) bool {
			c, err := lru.New[string, flightcache.Entry[*storetest.Payload]](10_000)
			require.NoError(b, err)
			for k, v := range values {
				c.Add(k, flightcache.Entry[*storetest.Payload]{Value: v, ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour))})
			}
			return func(k string) bool {
				e, ok := c.Get(k)
				return ok && e.Value != nil
			}
		}},
		storetest.GetImpl{Name: "bare", Open: func(b *testing.B, values map[string]*storetest.Payload) func(string) bool {
			c, err := lru.New[string, *storetest.Payload](10_000)
			require.NoError(b, err)
			for k, v := range values {
				c.Add(k, v)
			}
			return func(k string) bool {
				v, ok := c.Get(k)
				return ok && v != nil
			}
		}},
	)
}

func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	s, err := lrustore.New[string, int](1024)
	require.NoError(b, err)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	e := entry(1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := s.Set(ctx, keys[i%len(keys)], e); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
