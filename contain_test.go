package flightcache_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// Tests of issue 12: nothing a caller or a plugged-in part does can wedge
// the Loader, crash the process, or undo a write.

// TestAFillThatBeganDuringInvalidateIsNotJoinedAfterIt: the store holds v1,
// the source says v2. A fill begins while Invalidate runs and reads v1 from
// the store; a caller that starts after Invalidate returned must not join
// that fill and get v1.
func TestAFillThatBeganDuringInvalidateIsNotJoinedAfterIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &scriptStore{memStore: newMemStore[string](), holdGet: make(chan struct{}), holdDelete: make(chan struct{})}
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour})
		require.NoError(t, l.Set(context.Background(), "k", "v1"))
		src := newSource()
		src.answer = func(context.Context, string) (string, error) { return "v2", nil }

		invalidated := make(chan struct{})
		go func() {
			assert.NoError(t, l.Invalidate(context.Background(), "k"))
			close(invalidated)
		}()
		synctest.Wait() // Invalidate is in Delete, which has not deleted yet

		first := make(chan string)
		go func() {
			// Its own look misses (scripted); its fill reads v1 and is
			// held there.
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.NoError(t, err)
			first <- v
		}()
		synctest.Wait()
		close(store.holdDelete)
		<-invalidated

		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v2", v, "a caller that starts after Invalidate returned gets the source's value")
		close(store.holdGet)
		<-first
	})
}

// scriptStore is a memStore whose first Get after a Delete began reports a
// miss, whose second is held after it read, and whose Delete waits for
// holdDelete before it deletes.
type scriptStore struct {
	*memStore[string]
	mu         sync.Mutex
	deleting   bool
	gets       int
	holdGet    chan struct{}
	holdDelete chan struct{}
}

func (s *scriptStore) Get(ctx context.Context, key string) (flightcache.Entry[string], bool, error) {
	s.mu.Lock()
	n := 0
	if s.deleting {
		s.gets++
		n = s.gets
	}
	s.mu.Unlock()
	switch n {
	case 1:
		return flightcache.Entry[string]{}, false, nil
	case 2:
		e, ok, err := s.memStore.Get(ctx, key)
		<-s.holdGet
		return e, ok, err
	}
	return s.memStore.Get(ctx, key)
}

func (s *scriptStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	s.deleting = true
	s.mu.Unlock()
	<-s.holdDelete
	return s.memStore.Delete(ctx, key)
}

// panickyRecorder panics on one event.
type panickyRecorder struct {
	stats.Counter
	on stats.Event
}

func (r *panickyRecorder) Record(e stats.Event, n int) {
	if e == r.on {
		panic("recorder bug")
	}
	r.Counter.Record(e, n)
}

func TestARecorderThatPanicsOnRefreshDoesNotWedgeClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &panickyRecorder{on: stats.Refresh}
		store, src := newMemStore[string](), newSource()
		l, err := flightcache.New[string, string](store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, MaxRefreshes: 1, Recorder: rec})
		require.NoError(t, err)
		_, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		for range 3 {
			assert.Panics(t, func() { _, _ = l.GetOrLoad(context.Background(), "k", src.load) },
				"a Recorder that panics on a caller's path panics there")
			synctest.Wait()
			time.Sleep(2 * time.Minute)
		}
		assert.Equal(t, 4, src.count("k"), "the refresh slot and the key were given back each time")
		assert.NoError(t, l.Close(), "and Close does not hang")
	})
}

// panicHandler is an slog.Handler that panics.
type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("handler bug") }

func TestPanicsOnABackgroundRefreshAreRecoveredAndCounted(t *testing.T) {
	for name, opts := range map[string]*flightcache.Options{
		"Recorder": {Recorder: &panickyRecorder{on: stats.RefreshError}},
		"Logger":   {Logger: slog.New(panicHandler{}), Recorder: new(stats.Counter)},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts.FreshFor, opts.StaleFor = time.Minute, time.Hour
				l := newLoader(t, newMemStore[string](), opts)
				src := newSource()
				_, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
				time.Sleep(2 * time.Minute)
				src.answer = func(context.Context, string) (string, error) { return "", errBackend }
				v, err := l.GetOrLoad(context.Background(), "k", src.load) // the refresh fails
				require.NoError(t, err)
				assert.Equal(t, "value-k", v)
				synctest.Wait() // a crash would have ended the process here
				assert.NotZero(t, l.Stats().Panics, "the panic was counted")
			})
		})
	}
}

func TestKeysGoCannotHashAreErrorsFromEveryEntryPoint(t *testing.T) {
	store := newMemStore[string]()
	_ = store
	l, err := flightcache.New[any, string](anyStore{}, nil)
	require.NoError(t, err)
	defer l.Close()
	ctx := context.Background()
	load := func(context.Context, any) (string, error) { return "v", nil }
	batch := func(context.Context, []any) (map[any]string, error) { return nil, nil }
	for _, bad := range []any{[]int{1}, map[string]int{}, func() {}, struct{ X any }{[]byte("x")}, math.NaN()} {
		_, err := l.GetOrLoad(ctx, bad, load)
		assert.ErrorIs(t, err, flightcache.ErrInvalidKey, "GetOrLoad %T", bad)
		_, err = l.GetOrLoadMany(ctx, []any{"ok", bad}, batch)
		assert.ErrorIs(t, err, flightcache.ErrInvalidKey, "GetOrLoadMany %T", bad)
		assert.ErrorIs(t, l.Set(ctx, bad, "v"), flightcache.ErrInvalidKey, "Set %T", bad)
		assert.ErrorIs(t, l.Invalidate(ctx, bad), flightcache.ErrInvalidKey, "Invalidate %T", bad)
	}
	v, err := l.GetOrLoad(ctx, "fine", load)
	require.NoError(t, err, "every other key still works")
	assert.Equal(t, "v", v)
}

// anyStore is a store for keys of type any that panics on any key it
// cannot hash, as a map-based store does.
type anyStore struct{}

func (anyStore) Get(_ context.Context, key any) (flightcache.Entry[string], bool, error) {
	_ = map[any]bool{key: true}
	return flightcache.Entry[string]{}, false, nil
}
func (anyStore) Set(_ context.Context, key any, _ flightcache.Entry[string]) error {
	_ = map[any]bool{key: true}
	return nil
}
func (anyStore) Delete(_ context.Context, key any) error {
	_ = map[any]bool{key: true}
	return nil
}

func TestKeysLruStoreCannotHashNeverReachIt(t *testing.T) {
	store, err := lrustore.New[any, string](10)
	require.NoError(t, err)
	l, err := flightcache.New[any, string](store, nil)
	require.NoError(t, err)
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := l.GetOrLoad(context.Background(), []int{1}, func(context.Context, any) (string, error) { return "v", nil })
		assert.ErrorIs(t, err, flightcache.ErrInvalidKey)
		v, err := l.GetOrLoad(context.Background(), 1, func(context.Context, any) (string, error) { return "v", nil })
		assert.NoError(t, err)
		assert.Equal(t, "v", v)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the store's lock is wedged")
	}
}

func TestABatchLoadThatFiltersItsKeysInPlaceCannotFakeValues(t *testing.T) {
	l := newLoader(t, newMemStore[string](), nil)
	got, err := l.GetOrLoadMany(context.Background(), []string{"bad1", "good1", "good2"},
		func(_ context.Context, keys []string) (map[string]string, error) {
			valid := keys[:0]
			for _, k := range keys {
				if strings.HasPrefix(k, "good") {
					valid = append(valid, k)
				}
			}
			out := make(map[string]string)
			for _, k := range valid {
				out[k] = "value-" + k
			}
			return out, nil
		})
	require.NoError(t, err)
	assert.Equal(t, values("good1", "good2"), got, "bad1 was not answered: it does not exist")
}

func TestAGetOrLoadManyCallerMayReuseItsKeysAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		src := newBatchSource()
		src.gate = make(chan struct{})
		keys := []string{"a", "b"}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			_, err := l.GetOrLoadMany(ctx, keys, src.load)
			assert.ErrorIs(t, err, context.Canceled)
		}()
		synctest.Wait()
		cancel()
		synctest.Wait()
		keys[0], keys[1] = "x", "y" // the caller's slice is its own again
		close(src.gate)
		synctest.Wait()
		got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, src.load)
		require.NoError(t, err)
		assert.Equal(t, values("a", "b"), got)
		assert.Equal(t, 1, src.count("a"), "the batch stored a and b, not x and y")
	})
}

// blockingHandler blocks every line until released.
type blockingHandler struct {
	slog.Handler
	release chan struct{}
}

func (blockingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h blockingHandler) Handle(context.Context, slog.Record) error {
	<-h.release
	return nil
}

func TestALoggerThatBlocksHoldsNoCallerPastItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		store.fail = errors.New("store down")
		h := blockingHandler{release: make(chan struct{})}
		l := newLoader(t, store, &flightcache.Options{Logger: slog.New(h)})
		defer close(h.release)
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			start := time.Now()
			_, _ = l.GetOrLoad(ctx, "k", newSource().load)
			cancel()
			assert.LessOrEqual(t, time.Since(start), 200*time.Millisecond)
		}
	})
}

func TestANilContextIsAnError(t *testing.T) {
	l := newLoader(t, newMemStore[string](), nil)
	//nolint:staticcheck // the point of the test
	var ctx context.Context
	load := newSource().load
	_, err := l.GetOrLoad(ctx, "k", load)
	assert.Error(t, err)
	_, err = l.GetOrLoadMany(ctx, []string{"k"}, newBatchSource().load)
	assert.Error(t, err)
	assert.Error(t, l.Set(ctx, "k", "v"))
	assert.Error(t, l.Invalidate(ctx, "k"))
	assert.Error(t, l.Shutdown(ctx))
}

func TestTypedNilPlugInsAreRefusedByNew(t *testing.T) {
	var store *memStore[string]
	_, err := flightcache.New[string, string](store, nil)
	assert.ErrorContains(t, err, "Store")
	var counter *stats.Counter
	_, err = flightcache.New[string, string](newMemStore[string](), &flightcache.Options{Recorder: counter})
	assert.ErrorContains(t, err, "Options.Recorder")
	_, err = flightcache.New[string, string](newMemStore[string](), &flightcache.Options{Logger: &slog.Logger{}})
	assert.ErrorContains(t, err, "Options.Logger")
}

func TestDurationsAsLongAsTheyGoMeanAtLeastThatLong(t *testing.T) {
	century := 100 * 365 * 24 * time.Hour
	for name, opts := range map[string]flightcache.Options{
		"FreshFor max":         {FreshFor: math.MaxInt64},
		"FreshFor 250y":        {FreshFor: 250 * 365 * 24 * time.Hour},
		"FreshFor max jitter":  {FreshFor: math.MaxInt64, Jitter: 1},
		"FreshFor 200y jitter": {FreshFor: 2 * century, Jitter: 0.5},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLoader(t, newMemStore[string](), &opts)
			src := newSource()
			for range 3 {
				v, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
				assert.Equal(t, "value-k", v)
			}
			assert.Equal(t, 1, src.count("k"), "3 reads, 1 load")
		})
	}
	t.Run("MissingFor max", func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{MissingFor: math.MaxInt64})
		src := newSource()
		src.answer = func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
		for range 3 {
			_, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.ErrorIs(t, err, flightcache.ErrNotFound)
		}
		assert.Equal(t, 1, src.count("k"))
	})
	t.Run("StaleFor max", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleFor: math.MaxInt64})
			src := newSource()
			versionedSource(src)
			_, err := l.GetOrLoad(context.Background(), "k", src.load)
			require.NoError(t, err)
			time.Sleep(century / 100)
			src.gate = make(chan struct{})
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			require.NoError(t, err)
			assert.Equal(t, "v1", v, "served stale, at once, while the refresh runs")
			close(src.gate)
		})
	})
}

func TestABatchOfManyKeysCostsABoundedNumberOfGoroutines(t *testing.T) {
	// fillGoroutines counts the goroutines working for fills: those with a
	// frame of the fill pipeline, or of a singleflight call, in their stack.
	// (runtime.NumGoroutine would count whatever else the test binary runs.)
	fillGoroutines := func() int {
		buf := make([]byte, 4<<20)
		n := 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "flightcache.(*job[") || strings.Contains(g, "singleflight.(*Group[") {
				n++
			}
		}
		return n
	}
	for _, maxBatch := range []int{0, 10} {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{MaxBatch: maxBatch})
		const n = 100_000
		keys := make([]string, n)
		for i := range keys {
			keys[i] = itoa(i)
		}
		peak, calls := 0, 0
		var mu sync.Mutex
		got, err := l.GetOrLoadMany(context.Background(), keys, func(_ context.Context, keys []string) (map[string]string, error) {
			mu.Lock()
			if calls++; calls%500 == 1 {
				peak = max(peak, fillGoroutines())
			}
			mu.Unlock()
			out := make(map[string]string, len(keys))
			for _, k := range keys {
				out[k] = k
			}
			return out, nil
		})
		require.NoError(t, err)
		assert.Len(t, got, n)
		assert.Positive(t, peak, "the count sees the fill's goroutines")
		assert.LessOrEqual(t, peak, 5, "MaxBatch %d: goroutines for a batch of %d keys", maxBatch, n)
	}
}

func TestRefreshLoadsNowInTheBackgroundAndJoinsALoadInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
		versionedSource(src)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, Recorder: rec})
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		require.Equal(t, "v1", v)

		src.gate = make(chan struct{})
		require.NoError(t, l.Refresh(context.Background(), "k", src.load), "returns at once")
		synctest.Wait()
		v, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v1", v, "readers get the stored value while the refresh runs")
		require.NoError(t, l.Refresh(context.Background(), "k", src.load), "joins the refresh in flight")
		close(src.gate)
		synctest.Wait()
		assert.Equal(t, 2, src.count("k"), "one refresh, though asked twice, of a key that was fresh")
		v, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v2", v)

		require.NoError(t, l.Close())
		assert.ErrorIs(t, l.Refresh(context.Background(), "k", src.load), flightcache.ErrClosed)
	})
}

func TestALoadThatEndsAtItsDeadlineIsALoadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Second})
		for name, load := range map[string]flightcache.LoadFunc[string, string]{
			"single": func(ctx context.Context, _ string) (string, error) { <-ctx.Done(); return "", ctx.Err() },
		} {
			_, err := l.GetOrLoad(context.Background(), name, load)
			assert.ErrorIs(t, err, flightcache.ErrLoadTimeout, name)
			assert.ErrorIs(t, err, context.DeadlineExceeded, name)
		}
		_, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, func(ctx context.Context, _ []string) (map[string]string, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})
		assert.ErrorIs(t, err, flightcache.ErrLoadTimeout, "batch")
	})
}

func TestAStaleReadWhoseRefreshIsRunningAllocatesNothing(t *testing.T) {
	store := newMemStore[string]()
	rec := new(stats.Counter)
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, StaleFor: time.Hour, Recorder: rec})
	stuck := make(chan struct{})
	defer close(stuck)
	load := func(context.Context, string) (string, error) {
		<-stuck
		return "new", nil
	}
	require.NoError(t, store.Set(context.Background(), "k", flightcache.Entry[string]{
		Value: "old", FreshUntil: time.Now().Add(-time.Second), ExpiresAt: time.Now().Add(time.Hour),
	}))
	v, err := l.GetOrLoad(context.Background(), "k", load) // starts the refresh, which stays stuck
	require.NoError(t, err)
	require.Equal(t, "old", v)
	allocs := testing.AllocsPerRun(1000, func() {
		if v, err := l.GetOrLoad(context.Background(), "k", load); err != nil || v != "old" {
			t.Fatal(v, err)
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, uint64(1), rec.Snapshot().Refreshes, "one refresh, however many stale reads")
}

func TestAnUnhashableKeyMatchesSingleflightsErrorToo(t *testing.T) {
	l, err := flightcache.New[any, string](anyStore{}, nil)
	require.NoError(t, err)
	defer l.Close()
	_, err = l.GetOrLoad(context.Background(), []int{1}, func(context.Context, any) (string, error) { return "", nil })
	assert.ErrorIs(t, err, flightcache.ErrInvalidKey)
	assert.ErrorIs(t, err, singleflight.ErrUnhashableKey)
}
