package otterstore_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/otterstore"
	"github.com/flightcache/flightcache/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newStore returns a Store of size entries that t closes when it ends.
func newStore[K comparable, V any](t testing.TB, size int) *otterstore.Store[K, V] {
	t.Helper()
	s, err := otterstore.New[K, V](size)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) flightcache.Store[string, string] {
		return newStore[string, string](t, storetest.MaxEntries)
	})
}

func TestBadSize(t *testing.T) {
	for _, size := range []int{0, -1, -1 << 40} {
		s, err := otterstore.New[string, int](size)
		require.Error(t, err, "size %d", size)
		assert.Nil(t, s)
		assert.Contains(t, err.Error(), "maximumSize")
		assert.Contains(t, err.Error(), strconv.Itoa(size))
	}
}

func TestZeroStoreFailsWithoutPanic(t *testing.T) {
	ctx := context.Background()
	for name, s := range map[string]*otterstore.Store[string, int]{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			_, ok, err := s.Get(ctx, "k")
			assert.Error(t, err)
			assert.False(t, ok)
			assert.Error(t, s.Set(ctx, "k", flightcache.Entry[int]{Value: 1}))
			assert.Error(t, s.Delete(ctx, "k"))
			assert.Zero(t, s.Len())
			s.Purge()
			assert.NoError(t, s.Close())
		})
	}
}

func entry(v int, expiresIn time.Duration) flightcache.Entry[int] {
	now := time.Now()
	return flightcache.Entry[int]{
		Value:      v,
		FreshUntil: flightcache.DeadlineOf(now.Add(expiresIn / 2)),
		ExpiresAt:  flightcache.DeadlineOf(now.Add(expiresIn)),
	}
}

func TestEntryExpiresAtItsExpiresAt(t *testing.T) {
	ctx := context.Background()
	s := newStore[string, int](t, 100)

	require.NoError(t, s.Set(ctx, "short", entry(1, 50*time.Millisecond)))
	require.NoError(t, s.Set(ctx, "long", entry(2, time.Hour)))
	require.NoError(t, s.Set(ctx, "never", flightcache.Entry[int]{Value: 3}))
	far := flightcache.Entry[int]{Value: 4, ExpiresAt: flightcache.DeadlineOf(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))}
	require.NoError(t, s.Set(ctx, "far", far))

	_, ok, err := s.Get(ctx, "short")
	require.NoError(t, err)
	require.True(t, ok, "an entry is there before its ExpiresAt")

	time.Sleep(80 * time.Millisecond)
	_, ok, err = s.Get(ctx, "short")
	require.NoError(t, err)
	assert.False(t, ok, "an entry is gone after its ExpiresAt")
	for k, v := range map[string]int{"long": 2, "never": 3, "far": 4} {
		e, ok, err := s.Get(ctx, k)
		require.NoError(t, err)
		require.True(t, ok, k)
		assert.Equal(t, v, e.Value, k)
	}
}

func TestShorterExpiresAtOnUpdateWins(t *testing.T) {
	// An update's lifetime replaces the old one, also when it is shorter.
	ctx := context.Background()
	s := newStore[string, int](t, 100)
	require.NoError(t, s.Set(ctx, "k", entry(1, time.Hour)))
	require.NoError(t, s.Set(ctx, "k", entry(2, 30*time.Millisecond)))
	e, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 2, e.Value)
	time.Sleep(60 * time.Millisecond)
	_, ok, err = s.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestEvictsAtMaximumSize(t *testing.T) {
	ctx := context.Background()
	const size = 100
	s := newStore[int, int](t, size)
	for i := range 10 * size {
		require.NoError(t, s.Set(ctx, i, entry(i, time.Hour)))
	}
	// otter applies its eviction policy after writes, on maintenance that
	// may run a little later; wait for it to catch up.
	require.Eventually(t, func() bool { return s.Len() <= size }, 5*time.Second, time.Millisecond)
	s.Purge()
	assert.Zero(t, s.Len())
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	ctx := context.Background()
	s, err := otterstore.New[string, int](10)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.NoError(t, s.Set(ctx, "k", entry(1, time.Hour)))
	e, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 1, e.Value)
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := newStore[int, int](t, 64)

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
}

func TestGetAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore[string, int](t, 100)
	require.NoError(t, s.Set(ctx, "k", entry(1, time.Hour)))
	var st flightcache.Store[string, int] = s
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok, _ := st.Get(ctx, "k"); !ok {
			t.Fatal("miss")
		}
	})
	assert.Zero(t, allocs)
}

// BenchmarkGet compares a hit through the flightcache.Store interface, as the
// Loader calls it (impl=adapter), and through its GetRef, as a Loader over
// it calls it (impl=ref), with otter's own GetIfPresent on a cache of
// the same size and per-entry expiry holding the same entries (impl=backend)
// and holding bare pointers to the values (impl=bare). Compare with
// benchstat -col /impl.
func BenchmarkGet(b *testing.B) {
	storetest.BenchmarkGets(b,
		storetest.StoreGets("adapter", func(b *testing.B) flightcache.Store[string, *storetest.Payload] {
			return newStore[string, *storetest.Payload](b, 10_000)
		}),
		storetest.StoreRefGets("ref", func(b *testing.B) flightcache.Store[string, *storetest.Payload] {
			return newStore[string, *storetest.Payload](b, 10_000)
		}),
		storetest.GetImpl{Name: "backend", Open: func(b *testing.B, values map[string]*storetest.Payload) func(string) bool {
			c := otter.Must(&otter.Options[string, flightcache.Entry[*storetest.Payload]]{
				MaximumSize: 10_000,
				ExpiryCalculator: otter.ExpiryWritingFunc(func(oe otter.Entry[string, flightcache.Entry[*storetest.Payload]]) time.Duration {
					return time.Duration(oe.Value.ExpiresAt.Time().UnixNano() - oe.SnapshotAtNano)
				}),
			})
			b.Cleanup(func() { c.StopAllGoroutines() })
			for k, v := range values {
				c.Set(k, flightcache.Entry[*storetest.Payload]{Value: v, ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour))})
			}
			return func(k string) bool {
				e, ok := c.GetIfPresent(k)
				return ok && e.Value != nil
			}
		}},
		storetest.GetImpl{Name: "bare", Open: func(b *testing.B, values map[string]*storetest.Payload) func(string) bool {
			c := otter.Must(&otter.Options[string, *storetest.Payload]{
				MaximumSize: 10_000,
				ExpiryCalculator: otter.ExpiryWritingFunc(func(otter.Entry[string, *storetest.Payload]) time.Duration {
					return time.Hour
				}),
			})
			b.Cleanup(func() { c.StopAllGoroutines() })
			for k, v := range values {
				c.Set(k, v)
			}
			return func(k string) bool {
				v, ok := c.GetIfPresent(k)
				return ok && v != nil
			}
		}},
	)
}

func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	s := newStore[string, int](b, 1024)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	e := entry(1, time.Hour)
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
