package flightcache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// batchSource is a fake backend with a batch query. It counts loads per key
// and records the keys of every call.
type batchSource struct {
	mu    sync.Mutex
	loads map[string]int
	calls [][]string

	gate chan struct{} // when set, each call waits for it
	// exists says whether a key exists; nil: every key does.
	exists func(key string) bool
	// fail, when it returns an error for a call's keys, fails that call.
	fail func(keys []string) error
}

func newBatchSource() *batchSource { return &batchSource{loads: make(map[string]int)} }

func (s *batchSource) load(_ context.Context, keys []string) (map[string]string, error) {
	s.mu.Lock()
	for _, k := range keys {
		s.loads[k]++
	}
	s.calls = append(s.calls, slices.Clone(keys))
	s.mu.Unlock()
	if s.gate != nil {
		<-s.gate
	}
	if s.fail != nil {
		if err := s.fail(keys); err != nil {
			return nil, err
		}
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		if s.exists == nil || s.exists(k) {
			out[k] = "value-" + k
		}
	}
	return out, nil
}

func (s *batchSource) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads[key]
}

func (s *batchSource) callKeys() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]string, len(s.calls))
	for i, c := range s.calls {
		out[i] = slices.Sorted(slices.Values(c))
	}
	return out
}

func values(keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = "value-" + k
	}
	return m
}

func TestGetOrLoadManyLoadsMissesInOneCallAndHitsFromTheStore(t *testing.T) {
	store, src, rec := newMemStore[string](), newBatchSource(), new(stats.Counter)
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, Recorder: rec})

	got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b", "c"}, src.load)
	require.NoError(t, err)
	assert.Equal(t, values("a", "b", "c"), got)

	got, err = l.GetOrLoadMany(context.Background(), []string{"b", "c", "d"}, src.load)
	require.NoError(t, err)
	assert.Equal(t, values("b", "c", "d"), got)
	assert.Equal(t, [][]string{{"a", "b", "c"}, {"d"}}, src.callKeys(), "only the miss is loaded, in one call")

	s := rec.Snapshot()
	assert.Equal(t, uint64(2), s.Hits)
	assert.Equal(t, uint64(4), s.Misses)
	assert.Equal(t, uint64(2), s.Loads, "one per batch call")
	assert.Equal(t, uint64(4), s.KeysLoaded)
}

func TestGetOrLoadManyLoadsDuplicateKeysOnce(t *testing.T) {
	src := newBatchSource()
	l := newLoader(t, newMemStore[string](), nil)
	got, err := l.GetOrLoadMany(context.Background(), []string{"a", "a", "b", "a", "b"}, src.load)
	require.NoError(t, err)
	assert.Equal(t, values("a", "b"), got)
	assert.Equal(t, [][]string{{"a", "b"}}, src.callKeys())
}

func TestOverlappingBatchesAndGetOrLoadShareLoads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newBatchSource()
		src.gate = make(chan struct{})
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute})

		results := make(chan map[string]string, 2)
		go func() {
			got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b", "c"}, src.load)
			assert.NoError(t, err)
			results <- got
		}()
		synctest.Wait()
		single := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "c", func(context.Context, string) (string, error) {
				t.Error("GetOrLoad loaded a key a batch was loading")
				return "", nil
			})
			assert.NoError(t, err)
			single <- v
		}()
		go func() {
			got, err := l.GetOrLoadMany(context.Background(), []string{"b", "c", "d"}, src.load)
			assert.NoError(t, err)
			results <- got
		}()
		synctest.Wait()
		assert.Equal(t, [][]string{{"a", "b", "c"}, {"d"}}, src.callKeys(), "the second batch joined b and c")

		close(src.gate)
		assert.Equal(t, "value-c", <-single)
		all := []map[string]string{<-results, <-results}
		assert.ElementsMatch(t, []map[string]string{values("a", "b", "c"), values("b", "c", "d")}, all)
	})
}

func TestGetOrLoadManyJoinsALoadInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, single := newBatchSource(), newSource()
		single.gate = make(chan struct{})
		l := newLoader(t, newMemStore[string](), nil)
		go l.GetOrLoad(context.Background(), "a", single.load)
		synctest.Wait()

		got := make(chan map[string]string)
		go func() {
			m, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, src.load)
			assert.NoError(t, err)
			got <- m
		}()
		synctest.Wait()
		assert.Equal(t, [][]string{{"b"}}, src.callKeys())
		close(single.gate)
		assert.Equal(t, values("a", "b"), <-got)
		assert.Equal(t, 1, single.count("a"))
	})
}

// TestConcurrentBatchesLoadEachKeyOnce races many overlapping batches and
// single loads over a small key space, with real goroutines; every key must
// be loaded exactly once. Run it with -race and -count.
func TestConcurrentBatchesLoadEachKeyOnce(t *testing.T) {
	for rep := range 20 {
		src := newBatchSource()
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour, MaxBatch: 7})
		const keys = 60
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(rep), uint64(g)))
				for range 20 {
					if rng.IntN(4) == 0 {
						k := fmt.Sprint(rng.IntN(keys))
						v, err := l.GetOrLoad(context.Background(), k, func(ctx context.Context, k string) (string, error) {
							m, err := src.load(ctx, []string{k})
							return m[k], err
						})
						assert.NoError(t, err)
						assert.Equal(t, "value-"+k, v)
						continue
					}
					var ks []string
					for range 1 + rng.IntN(20) {
						ks = append(ks, fmt.Sprint(rng.IntN(keys)))
					}
					got, err := l.GetOrLoadMany(context.Background(), ks, src.load)
					assert.NoError(t, err)
					for _, k := range ks {
						assert.Equal(t, "value-"+k, got[k])
					}
				}
			})
		}
		wg.Wait()
		for k, n := range src.loads {
			require.Equal(t, 1, n, "repetition %d: key %s loaded %d times", rep, k, n)
		}
		for _, c := range src.calls {
			require.LessOrEqual(t, len(c), 7, "a call larger than MaxBatch")
		}
	}
}

func TestGetOrLoadManyLeavesOutKeysThatDoNotExist(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, missingFor := range []time.Duration{0, time.Minute} {
			src, rec := newBatchSource(), new(stats.Counter)
			src.exists = func(k string) bool { return k != "ghost" }
			l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour, MissingFor: missingFor, Recorder: rec})

			for range 2 {
				got, err := l.GetOrLoadMany(context.Background(), []string{"a", "ghost"}, src.load)
				require.NoError(t, err, "a key that does not exist is not an error")
				assert.Equal(t, values("a"), got)
			}
			_, err := l.GetOrLoad(context.Background(), "ghost", func(context.Context, string) (string, error) {
				return "", flightcache.ErrNotFound
			})
			assert.ErrorIs(t, err, flightcache.ErrNotFound)
			if missingFor > 0 {
				assert.Equal(t, 1, src.count("ghost"), "the answer is cached for MissingFor")
				assert.Equal(t, uint64(2), rec.Snapshot().MissingHits)
			} else {
				assert.Equal(t, 2, src.count("ghost"), "without MissingFor, not cached")
			}
		}
	})
}

func TestGetOrLoadManySplitsCallsAtMaxBatch(t *testing.T) {
	src, rec := newBatchSource(), new(stats.Counter)
	l := newLoader(t, newMemStore[string](), &flightcache.Options{MaxBatch: 3, Recorder: rec})
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	got, err := l.GetOrLoadMany(context.Background(), keys, src.load)
	require.NoError(t, err)
	assert.Equal(t, values(keys...), got)
	calls := src.callKeys()
	assert.Len(t, calls, 4)
	var all []string
	for _, c := range calls {
		assert.LessOrEqual(t, len(c), 3)
		all = append(all, c...)
	}
	assert.ElementsMatch(t, keys, all, "each key in exactly one call")
	assert.Equal(t, uint64(4), rec.Snapshot().Loads)
	assert.Equal(t, uint64(10), rec.Snapshot().KeysLoaded)
}

func TestAFailedBatchFailsOnlyItsKeys(t *testing.T) {
	src, rec := newBatchSource(), new(stats.Counter)
	src.fail = func(keys []string) error {
		if slices.Contains(keys, "c") {
			return errBackend
		}
		return nil
	}
	l := newLoader(t, newMemStore[string](), &flightcache.Options{MaxBatch: 2, Recorder: rec})
	got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b", "c", "d"}, src.load)
	assert.Equal(t, values("a", "b"), got, "the keys of the calls that worked are returned")
	assert.ErrorIs(t, err, errBackend)
	var be *flightcache.BatchError[string]
	require.ErrorAs(t, err, &be)
	assert.Equal(t, []string{"c", "d"}, slices.Sorted(func(yield func(string) bool) {
		for k := range be.Failed {
			if !yield(k) {
				return
			}
		}
	}))
	assert.Contains(t, err.Error(), "2 keys failed")
	assert.Equal(t, uint64(1), rec.Snapshot().LoadErrors)

	src.fail = nil
	got, err = l.GetOrLoadMany(context.Background(), []string{"a", "b", "c", "d"}, src.load)
	require.NoError(t, err, "errors are not cached")
	assert.Equal(t, values("a", "b", "c", "d"), got)
}

func TestAPanickingBatchBecomesAnError(t *testing.T) {
	rec := new(stats.Counter)
	l := newLoader(t, newMemStore[string](), &flightcache.Options{Recorder: rec})
	_, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, func(context.Context, []string) (map[string]string, error) {
		panic("bad batch")
	})
	var pe *singleflight.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "bad batch", pe.Value)
	assert.Equal(t, uint64(1), rec.Snapshot().Panics)

	got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, newBatchSource().load)
	require.NoError(t, err, "the keys load again")
	assert.Equal(t, values("a", "b"), got)
}

func TestGetOrLoadManyCallerLeavesAndTheBatchIsStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newBatchSource()
		src.gate = make(chan struct{})
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		got, err := l.GetOrLoadMany(ctx, []string{"a", "b"}, src.load)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Nil(t, got)
		assert.Equal(t, time.Second, time.Since(start))

		close(src.gate)
		synctest.Wait()
		for _, k := range []string{"a", "b"} {
			e, ok := store.entry(k)
			require.True(t, ok)
			assert.Equal(t, "value-"+k, e.Value)
		}
		got, err = l.GetOrLoadMany(context.Background(), []string{"a", "b"}, src.load)
		require.NoError(t, err)
		assert.Equal(t, values("a", "b"), got)
		assert.Len(t, src.callKeys(), 1)
	})
}

func TestSetAndInvalidateWinOverABatchInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newBatchSource()
		src.gate = make(chan struct{})
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})
		got := make(chan map[string]string)
		go func() {
			m, err := l.GetOrLoadMany(context.Background(), []string{"a", "b", "c"}, src.load)
			assert.NoError(t, err)
			got <- m
		}()
		synctest.Wait()
		require.NoError(t, l.Set(context.Background(), "a", "written"))
		require.NoError(t, l.Invalidate(context.Background(), "b"))
		close(src.gate)
		assert.Equal(t, values("a", "b", "c"), <-got, "the batch's callers get its results")
		synctest.Wait()

		e, _ := store.entry("a")
		assert.Equal(t, "written", e.Value)
		_, ok := store.entry("b")
		assert.False(t, ok)
		e, _ = store.entry("c")
		assert.Equal(t, "value-c", e.Value)
	})
}

func TestStaleKeysAreRefreshedInOneBackgroundCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newBatchSource(), new(stats.Counter)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute, Recorder: rec})
		keys := []string{"a", "b", "c", "d", "e"}
		_, err := l.GetOrLoadMany(context.Background(), keys, src.load)
		require.NoError(t, err)

		time.Sleep(61 * time.Second)
		gate := make(chan struct{})
		load := func(ctx context.Context, ks []string) (map[string]string, error) {
			if !slices.Contains(ks, "new") {
				<-gate // hold the refresh until every read is done
			}
			return src.load(ctx, ks)
		}
		for range 3 {
			got, err := l.GetOrLoadMany(context.Background(), append(keys, "new"), load)
			require.NoError(t, err)
			assert.Equal(t, values(append(keys, "new")...), got)
		}
		close(gate)
		synctest.Wait()

		assert.ElementsMatch(t, [][]string{keys, keys, {"new"}}, src.callKeys(),
			"the initial load, one refresh of all stale keys, and the one miss")
		s := rec.Snapshot()
		assert.Equal(t, uint64(15), s.StaleHits)
		assert.Equal(t, uint64(5), s.Refreshes)
		e, _ := store.entry("c")
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), e.FreshUntil)
	})
}

func TestGetOrLoadManyUsesABatchStore(t *testing.T) {
	store := &batchStore{memStore: newMemStore[string]()}
	src := newBatchSource()
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})
	got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b", "c"}, src.load)
	require.NoError(t, err)
	assert.Equal(t, values("a", "b", "c"), got)
	assert.Equal(t, int64(2), store.getMany.Load(), "one read for the request, one before loading")
	assert.Equal(t, int64(1), store.setMany.Load())
	assert.Zero(t, store.gets.Load())
	assert.Equal(t, int64(3), store.sets.Load())

	got, err = l.GetOrLoadMany(context.Background(), []string{"a", "b", "c"}, src.load)
	require.NoError(t, err)
	assert.Equal(t, values("a", "b", "c"), got)
	assert.Equal(t, int64(3), store.getMany.Load())
}

func TestGetOrLoadManyBadInput(t *testing.T) {
	l, err := flightcache.New[string, string](newMemStore[string](), nil)
	require.NoError(t, err)
	_, err = l.GetOrLoadMany(context.Background(), []string{"a"}, nil)
	assert.Error(t, err)
	got, err := l.GetOrLoadMany(context.Background(), nil, newBatchSource().load)
	assert.NoError(t, err)
	assert.Empty(t, got)
	l.Close()
	_, err = l.GetOrLoadMany(context.Background(), []string{"a"}, newBatchSource().load)
	assert.ErrorIs(t, err, flightcache.ErrClosed)
	_, err = flightcache.New[string, string](newMemStore[string](), &flightcache.Options{MaxBatch: -1})
	assert.ErrorContains(t, err, "Options.MaxBatch")
}

func TestBatchErrorUnwrapsDistinctErrors(t *testing.T) {
	other := errors.New("other")
	be := &flightcache.BatchError[int]{Failed: map[int]error{1: errBackend, 2: errBackend, 3: other}}
	assert.Len(t, be.Unwrap(), 2)
	assert.ErrorIs(t, be, other)
	assert.ErrorIs(t, be, errBackend)
}

// TestMaxBatchChunksThatFailPanicOrExitFailOnlyTheirKeys: with MaxBatch
// splitting a batch, a chunk that errors, one that panics and one that calls
// runtime.Goexit fail only their own keys; the others are loaded and stored.
func TestMaxBatchChunksThatFailPanicOrExitFailOnlyTheirKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l, err := flightcache.New[string, string](store, &flightcache.Options{MaxBatch: 2, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		defer l.Close()
		load := func(_ context.Context, keys []string) (map[string]string, error) {
			m := make(map[string]string)
			for _, k := range keys {
				switch k {
				case "err":
					return nil, errBackend
				case "panic":
					panic("batch bug")
				case "exit":
					runtime.Goexit()
				}
				m[k] = "v-" + k
			}
			return m, nil
		}
		keys := []string{"a", "b", "err", "c", "panic", "d", "exit", "e", "f", "g"}
		got, err := l.GetOrLoadMany(context.Background(), keys, load)
		var be *flightcache.BatchError[string]
		require.ErrorAs(t, err, &be)
		assert.Equal(t, map[string]string{"a": "v-a", "b": "v-b", "f": "v-f", "g": "v-g"}, got)
		assert.Len(t, be.Failed, 6)
		assert.ErrorIs(t, be.Failed["err"], errBackend)
		var pe *singleflight.PanicError
		assert.ErrorAs(t, be.Failed["panic"], &pe)
		assert.ErrorIs(t, be.Failed["exit"], singleflight.ErrGoexit)
		for _, k := range []string{"a", "b", "f", "g"} {
			_, ok := store.entry(k)
			assert.True(t, ok, k)
		}
	})
}

type uncomparableErr struct{ detail any }

func (uncomparableErr) Error() string { return "uncomparable" }

func TestBatchErrorNeverPanicsOnUncomparableErrors(t *testing.T) {
	l := newLoader(t, newMemStore[string](), &flightcache.Options{MaxBatch: 1})
	_, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, func(_ context.Context, keys []string) (map[string]string, error) {
		return nil, uncomparableErr{detail: []string{keys[0]}}
	})
	require.Error(t, err)
	assert.NotPanics(t, func() {
		_ = errors.Is(err, flightcache.ErrNotFound)
		_ = err.Error()
	})
}

// TestGetOrLoadManyLoadsDuplicatesOnceAndStoresAfterItsCallerLeft: duplicate
// keys are loaded once; a caller that leaves gets ctx.Err() at once and the
// batch is still stored.
func TestGetOrLoadManyLoadsDuplicatesOnceAndStoresAfterItsCallerLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l, err := flightcache.New[string, string](store, nil)
		require.NoError(t, err)
		defer l.Close()
		gate := make(chan struct{})
		var calls atomic.Int64
		var seen []string
		load := func(_ context.Context, keys []string) (map[string]string, error) {
			calls.Add(1)
			seen = append(seen, keys...)
			<-gate
			return map[string]string{"a": "1", "b": "2"}, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := l.GetOrLoadMany(ctx, []string{"a", "b", "a", "b", "a"}, load)
			done <- err
		}()
		synctest.Wait()
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
		close(gate)
		synctest.Wait()
		assert.Equal(t, int64(1), calls.Load())
		assert.ElementsMatch(t, []string{"a", "b"}, seen)
		_, ok := store.entry("b")
		assert.True(t, ok)
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
