package ristrettostore_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/ristrettostore"
	"github.com/flightcache/flightcache/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newStore returns a Store that t closes when it ends.
func newStore[K ristrettostore.Key, V any](t testing.TB, maxCost int64) *ristrettostore.Store[K, V] {
	t.Helper()
	s, err := ristrettostore.New[K, V](maxCost)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func entry(v int) flightcache.Entry[int] {
	now := time.Now().Round(0)
	return flightcache.Entry[int]{
		Value:        v,
		FreshUntil:   flightcache.DeadlineOf(now.Add(time.Minute)),
		ExpiresAt:    flightcache.DeadlineOf(now.Add(time.Hour)),
		LoadDuration: flightcache.Micros(v),
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) flightcache.Store[string, string] {
		return newStore[string, string](t, storetest.MaxEntries)
	})
}

func TestConformanceWithOptions(t *testing.T) {
	storetest.Run(t, func(t *testing.T) flightcache.Store[string, string] {
		s, err := ristrettostore.NewWithOptions[string, string](100*storetest.MaxEntries, ristrettostore.Options[string]{
			Cost:        func(v string) int64 { return int64(len(v)) },
			NumCounters: 10 * storetest.MaxEntries,
			BufferItems: 128,
			Metrics:     true,
		})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

func TestBadOptions(t *testing.T) {
	cost := func(int) int64 { return 1 }
	cases := []struct {
		name    string
		maxCost int64
		opts    ristrettostore.Options[int]
		want    string // the setting the error must name
	}{
		{"zero maxCost", 0, ristrettostore.Options[int]{}, "maxCost is 0"},
		{"negative maxCost", -5, ristrettostore.Options[int]{}, "maxCost is -5"},
		{"maxCost too large for default counters", 1 << 62, ristrettostore.Options[int]{}, "maxCost"},
		{"negative NumCounters", 10, ristrettostore.Options[int]{NumCounters: -1}, "NumCounters is -1"},
		{"Cost without NumCounters", 10, ristrettostore.Options[int]{Cost: cost}, "NumCounters"},
		{"negative BufferItems", 10, ristrettostore.Options[int]{BufferItems: -64}, "BufferItems is -64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ristrettostore.NewWithOptions[string](c.maxCost, c.opts)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), c.want)
			assert.True(t, strings.HasPrefix(err.Error(), "ristrettostore: "), err.Error())
		})
	}
	s, err := ristrettostore.New[string, int](0)
	require.Error(t, err)
	assert.Nil(t, s)
	assert.Contains(t, err.Error(), "maxCost")

	// The largest maxCost with a Cost function needs no default counters.
	s, err = ristrettostore.NewWithOptions[string](1<<62, ristrettostore.Options[int]{Cost: cost, NumCounters: 100})
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

func TestReadYourWritesOverFreshKeys(t *testing.T) {
	// ristretto applies a Set of a new key later, on its own goroutine; the
	// Store waits for it, so every Get right after a Set hits.
	const n = 10_000
	ctx := context.Background()
	s := newStore[string, int](t, n)
	for i := range n {
		k := "key-" + strconv.Itoa(i)
		e := entry(i)
		require.NoError(t, s.Set(ctx, k, e))
		got, ok, err := s.Get(ctx, k)
		require.NoError(t, err)
		require.True(t, ok, "Get(%q) right after its Set missed", k)
		require.Equal(t, e, got)
	}
	// They are all still there: the budget is exactly n entries.
	for i := range n {
		got, ok, err := s.Get(ctx, "key-"+strconv.Itoa(i))
		require.NoError(t, err)
		require.True(t, ok, i)
		require.Equal(t, i, got.Value)
	}
}

func TestReadYourWritesIntKeys(t *testing.T) {
	ctx := context.Background()
	s := newStore[int64, int](t, 1000)
	for i := range int64(1000) {
		k := i*7919 - 500_000 // negative keys too
		require.NoError(t, s.Set(ctx, k, entry(int(i))))
		got, ok, err := s.Get(ctx, k)
		require.NoError(t, err)
		require.True(t, ok, k)
		require.Equal(t, int(i), got.Value)
	}
}

func TestNamedKeyTypes(t *testing.T) {
	type userID string
	ctx := context.Background()
	s := newStore[userID, int](t, 10)
	require.NoError(t, s.Set(ctx, "alice", entry(1)))
	require.NoError(t, s.Set(ctx, "bob", entry(2)))
	got, ok, err := s.Get(ctx, "alice")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 1, got.Value)
}

func TestCostFunction(t *testing.T) {
	ctx := context.Background()
	var calls atomic.Int64
	s, err := ristrettostore.NewWithOptions[string](10, ristrettostore.Options[string]{
		Cost: func(v string) int64 {
			calls.Add(1)
			return int64(len(v))
		},
		NumCounters: 1000,
	})
	require.NoError(t, err)
	defer s.Close()

	// An entry that costs more than the whole budget is not kept.
	require.NoError(t, s.Set(ctx, "huge", flightcache.Entry[string]{Value: strings.Repeat("x", 11)}))
	_, ok, err := s.Get(ctx, "huge")
	require.NoError(t, err)
	assert.False(t, ok, "an entry costing 11 is kept in a budget of 10")
	assert.EqualValues(t, 1, calls.Load())

	// One that costs the whole budget is.
	require.NoError(t, s.Set(ctx, "full", flightcache.Entry[string]{Value: strings.Repeat("x", 10)}))
	got, ok, err := s.Get(ctx, "full")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Len(t, got.Value, 10)

	// Entries of cost 4 fill the budget of 10: however ristretto admits and
	// evicts, what it keeps costs at most 10, so at most two of them.
	keys := []string{"a", "b", "c", "d", "e", "full"}
	for _, k := range keys[:5] {
		require.NoError(t, s.Set(ctx, k, flightcache.Entry[string]{Value: "xxxx"}))
	}
	var kept int64
	for _, k := range keys {
		e, ok, err := s.Get(ctx, k)
		require.NoError(t, err)
		if ok {
			kept += int64(len(e.Value))
		}
	}
	assert.LessOrEqual(t, kept, int64(10))

	// A negative entry costs 1 and is not weighed: Cost never sees its zero
	// value.
	before := calls.Load()
	neg := flightcache.Entry[string]{Missing: true}
	require.NoError(t, s.Set(ctx, "absent", neg))
	assert.Equal(t, before, calls.Load())
}

func TestCostBelowOneCountsAsOne(t *testing.T) {
	// With costs of 0 counted as 0, the budget would never fill.
	ctx := context.Background()
	s, err := ristrettostore.NewWithOptions[int](3, ristrettostore.Options[int]{
		Cost:        func(int) int64 { return 0 },
		NumCounters: 100,
	})
	require.NoError(t, err)
	defer s.Close()
	for k := range 20 {
		require.NoError(t, s.Set(ctx, k, entry(k)))
	}
	kept := 0
	for k := range 20 {
		_, ok, err := s.Get(ctx, k)
		require.NoError(t, err)
		if ok {
			kept++
		}
	}
	assert.LessOrEqual(t, kept, 3)
	assert.Positive(t, kept)
}

func TestDefaultCostIsOneEntry(t *testing.T) {
	ctx := context.Background()
	s := newStore[int, int](t, 5)
	for k := range 50 {
		require.NoError(t, s.Set(ctx, k, entry(k)))
	}
	kept := 0
	for k := range 50 {
		_, ok, err := s.Get(ctx, k)
		require.NoError(t, err)
		if ok {
			kept++
		}
	}
	assert.LessOrEqual(t, kept, 5)
	assert.Positive(t, kept)
}

func TestExpiresAtIsTheTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, err := ristrettostore.New[string, int](10)
		require.NoError(t, err)
		defer s.Close()

		e := entry(1) // expires in an hour
		forever := flightcache.Entry[int]{Value: 2}
		require.NoError(t, s.Set(ctx, "hour", e))
		require.NoError(t, s.Set(ctx, "forever", forever))

		time.Sleep(59 * time.Minute) // synctest's clock: returns at once
		got, ok, err := s.Get(ctx, "hour")
		require.NoError(t, err)
		require.True(t, ok, "an entry is kept until its ExpiresAt")
		assert.Equal(t, e, got)

		time.Sleep(2 * time.Minute)
		_, ok, err = s.Get(ctx, "hour")
		require.NoError(t, err)
		assert.False(t, ok, "an entry is dropped after its ExpiresAt")

		time.Sleep(10 * time.Hour)
		got, ok, err = s.Get(ctx, "forever")
		require.NoError(t, err)
		require.True(t, ok, "an entry with a zero ExpiresAt never expires")
		assert.Equal(t, forever, got)
	})
}

func TestExpiredSetRemovesTheKey(t *testing.T) {
	ctx := context.Background()
	s := newStore[string, int](t, 10)
	require.NoError(t, s.Set(ctx, "k", entry(1)))

	old := entry(2)
	old.ExpiresAt = flightcache.DeadlineOf(time.Now().Add(-time.Nanosecond))
	require.NoError(t, s.Set(ctx, "k", old))
	_, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok)

	// ExpiresAt exactly now is a time to live of zero, which ristretto
	// takes for "never expires"; the Store removes the key instead.
	synctest.Test(t, func(t *testing.T) {
		s, err := ristrettostore.New[string, int](10)
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.Set(ctx, "k", entry(1)))
		now := entry(3)
		now.ExpiresAt = flightcache.DeadlineOf(time.Now()) // synctest's clock does not move here
		require.NoError(t, s.Set(ctx, "k", now))
		_, ok, err := s.Get(ctx, "k")
		require.NoError(t, err)
		assert.False(t, ok)
	})
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	plain := newStore[string, int](t, 10)
	assert.Nil(t, plain.Metrics())

	s, err := ristrettostore.NewWithOptions[string](10, ristrettostore.Options[int]{Metrics: true})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Set(ctx, "k", entry(1)))
	_, _, _ = s.Get(ctx, "k")
	_, _, _ = s.Get(ctx, "absent")
	m := s.Metrics()
	require.NotNil(t, m)
	assert.EqualValues(t, 1, m.Hits())
	assert.EqualValues(t, 1, m.Misses())
	assert.EqualValues(t, 1, m.KeysAdded())
}

func TestAfterClose(t *testing.T) {
	ctx := context.Background()
	s, err := ristrettostore.New[string, int](10)
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "k", entry(1)))
	var c io.Closer = s
	require.NoError(t, c.Close())

	_, ok, err := s.Get(ctx, "k")
	assert.ErrorIs(t, err, ristrettostore.ErrClosed)
	assert.False(t, ok)
	assert.ErrorIs(t, s.Set(ctx, "k", entry(2)), ristrettostore.ErrClosed)
	expired := entry(3)
	expired.ExpiresAt = flightcache.DeadlineOf(time.Now().Add(-time.Hour))
	assert.ErrorIs(t, s.Set(ctx, "k", expired), ristrettostore.ErrClosed)
	assert.ErrorIs(t, s.Delete(ctx, "k"), ristrettostore.ErrClosed)
	assert.NoError(t, s.Close(), "a second Close")
}

func TestCloseStopsGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	s, err := ristrettostore.New[string, int](10)
	require.NoError(t, err)
	require.NoError(t, s.Set(context.Background(), "k", entry(1)))
	require.True(t, ristrettoRunning(), "ristretto's goroutines are not running, so this test cannot fail")

	require.NoError(t, s.Close())
	goleak.VerifyNone(t, before)
}

// ristrettoRunning reports whether any goroutine is running ristretto's
// code. Right after Close, ristretto's goroutines may still be on their way
// out, so only goleak, which retries, can tell that they have gone.
func ristrettoRunning() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Contains(string(buf), "dgraph-io/ristretto")
}

func TestCloseWhileInUse(t *testing.T) {
	// Close may run while other calls do: they finish or return ErrClosed,
	// and nothing panics or races. With BufferItems 1 every Get hands its
	// key to ristretto's policy, whose Close must not run at the same time.
	ctx := context.Background()
	s, err := ristrettostore.NewWithOptions[int](100, ristrettostore.Options[int]{BufferItems: 1})
	require.NoError(t, err)
	for k := range 10 {
		require.NoError(t, s.Set(ctx, k, flightcache.Entry[int]{Value: k}))
	}

	const goroutines = 8
	var (
		wg      sync.WaitGroup
		started sync.WaitGroup
		closed  atomic.Int64 // goroutines that saw ErrClosed
	)
	started.Add(goroutines)
	for g := range goroutines {
		wg.Go(func() {
			warming := true
			defer func() {
				if warming {
					started.Done()
				}
			}()
			for i := 0; ; i++ {
				if warming && i == 100 {
					started.Done()
					warming = false
				}
				k := (g + i) % 10
				var err error
				switch {
				case g == 0 && i%2 == 0: // one writer
					err = s.Set(ctx, k, flightcache.Entry[int]{Value: k})
				case g == 0:
					err = s.Delete(ctx, k)
				default: // and readers
					var (
						e  flightcache.Entry[int]
						ok bool
					)
					e, ok, err = s.Get(ctx, k)
					if err == nil && ok && e.Value != k {
						t.Errorf("Get(%d) = %d", k, e.Value)
					}
				}
				if errors.Is(err, ristrettostore.ErrClosed) {
					closed.Add(1)
					return
				}
				if err != nil {
					t.Errorf("call %d: %v", i, err)
					return
				}
			}
		})
	}
	started.Wait() // every goroutine is calling the Store
	require.NoError(t, s.Close())
	wg.Wait()
	assert.EqualValues(t, goroutines, closed.Load())
}

func TestConcurrentCloses(t *testing.T) {
	before := goleak.IgnoreCurrent()
	s, err := ristrettostore.New[string, int](10)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { assert.NoError(t, s.Close()) })
	}
	wg.Wait()
	goleak.VerifyNone(t, before)
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

// BenchmarkGet compares a hit through the flightcache.Store interface, as the
// Loader calls it (impl=adapter), and through its GetRef, as a Loader over
// it calls it (impl=ref), with ristretto's own Get on a cache
// configured as New configures it, with the same time to live, holding the
// same entries (impl=backend) and holding bare pointers to the values
// (impl=bare). Compare with benchstat -col /impl.
func BenchmarkGet(b *testing.B) {
	// config is how New configures ristretto for a store of 10,000 entries.
	config := func() (numCounters, maxCost, bufferItems int64) { return 10 * 10_000, 10_000, 64 }
	storetest.BenchmarkGets(b,
		storetest.StoreGets("adapter", func(b *testing.B) flightcache.Store[string, *storetest.Payload] {
			return newStore[string, *storetest.Payload](b, 10_000)
		}),
		storetest.StoreRefGets("ref", func(b *testing.B) flightcache.Store[string, *storetest.Payload] {
			return newStore[string, *storetest.Payload](b, 10_000)
		}),
		storetest.GetImpl{Name: "backend", Open: func(b *testing.B, values map[string]*storetest.Payload) func(string) bool {
			n, m, items := config()
			c, err := ristretto.NewCache(&ristretto.Config[string, flightcache.Entry[*storetest.Payload]]{
				NumCounters: n, MaxCost: m, BufferItems: items, IgnoreInternalCost: true,
			})
			require.NoError(b, err)
			b.Cleanup(c.Close)
			for k, v := range values {
				c.SetWithTTL(k, flightcache.Entry[*storetest.Payload]{Value: v, ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour))}, 1, time.Hour)
				c.Wait()
			}
			return func(k string) bool {
				e, ok := c.Get(k)
				return ok && e.Value != nil
			}
		}},
		storetest.GetImpl{Name: "bare", Open: func(b *testing.B, values map[string]*storetest.Payload) func(string) bool {
			n, m, items := config()
			c, err := ristretto.NewCache(&ristretto.Config[string, *storetest.Payload]{
				NumCounters: n, MaxCost: m, BufferItems: items, IgnoreInternalCost: true,
			})
			require.NoError(b, err)
			b.Cleanup(c.Close)
			for k, v := range values {
				c.SetWithTTL(k, v, 1, time.Hour)
				c.Wait()
			}
			return func(k string) bool {
				v, ok := c.Get(k)
				return ok && v != nil
			}
		}},
	)
}

// BenchmarkSet measures a Set, which waits for ristretto to apply it.
func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	s := newStore[int, int](b, 1024)
	e := entry(1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := s.Set(ctx, i%4096, e); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
