package flightcache_test

import (
	"context"
	"fmt"
	"slices"
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

// windowSource records the keys of each call of its BatchLoadFunc.
type windowSource struct {
	mu    sync.Mutex
	calls [][]string
	fail  error
}

func (s *windowSource) load(_ context.Context, keys []string) (map[string]string, error) {
	s.mu.Lock()
	s.calls = append(s.calls, slices.Sorted(slices.Values(keys)))
	s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	out := make(map[string]string)
	for _, k := range keys {
		if k != "absent" {
			out[k] = "v-" + k
		}
	}
	return out, nil
}

func (s *windowSource) seen() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// readAll reads keys through b from a goroutine each, all at once, and
// returns what each got and how long it waited.
func readAll(t *testing.T, b *flightcache.Batcher[string, string], keys []string) (map[string]string, map[string]error, time.Duration) {
	var mu sync.Mutex
	got, errs := map[string]string{}, map[string]error{}
	start := time.Now()
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			v, err := b.GetOrLoad(context.Background(), k)
			mu.Lock()
			defer mu.Unlock()
			got[k], errs[k] = v, err
		})
	}
	wg.Wait()
	return got, errs, time.Since(start)
}

func TestABatcherLoadsTheMissesOfAWindowInOneCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, rec := new(windowSource), new(stats.Counter)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, Recorder: rec})
		b, err := l.Batcher(src.load, flightcache.Window{Wait: 2 * time.Millisecond})
		require.NoError(t, err)
		keys := []string{"a", "b", "c", "d", "a", "b", "absent"}
		got, errs, waited := readAll(t, b, keys)
		assert.Equal(t, [][]string{{"a", "absent", "b", "c", "d"}}, src.seen(), "one call, each key once")
		assert.Equal(t, 2*time.Millisecond, waited, "the window's Wait")
		for _, k := range []string{"a", "b", "c", "d"} {
			assert.NoError(t, errs[k])
			assert.Equal(t, "v-"+k, got[k])
		}
		assert.ErrorIs(t, errs["absent"], flightcache.ErrNotFound)
		assert.Equal(t, uint64(1), rec.Snapshot().Loads)

		start := time.Now()
		v, err := b.GetOrLoad(context.Background(), "a")
		require.NoError(t, err)
		assert.Equal(t, "v-a", v)
		assert.Zero(t, time.Since(start), "a hit does not wait for a window")
		assert.Len(t, src.seen(), 1)
	})
}

func TestAFullWindowLoadsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := new(windowSource)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute})
		b, err := l.Batcher(src.load, flightcache.Window{Wait: time.Second, MaxKeys: 4})
		require.NoError(t, err)
		keys := make([]string, 10)
		for i := range keys {
			keys[i] = fmt.Sprint("k", i)
		}
		_, errs, waited := readAll(t, b, keys)
		for _, err := range errs {
			require.NoError(t, err)
		}
		calls := src.seen()
		require.Len(t, calls, 3)
		assert.Equal(t, []int{4, 4, 2}, []int{len(calls[0]), len(calls[1]), len(calls[2])})
		assert.Equal(t, time.Second, waited, "the last two waited for the window")
	})
}

func TestABatchErrorFailsEveryKeyOfItsWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &windowSource{fail: errBackend}
		l := newLoader(t, newMemStore[string](), nil)
		b, err := l.Batcher(src.load, flightcache.Window{Wait: time.Millisecond})
		require.NoError(t, err)
		_, errs, _ := readAll(t, b, []string{"a", "b"})
		assert.ErrorIs(t, errs["a"], errBackend)
		assert.ErrorIs(t, errs["b"], errBackend)
		assert.Len(t, src.seen(), 1)
	})
}

// TestAWindowJoinsLoadsInFlightAndIsJoined: a key a GetOrLoad is loading
// is not put in a batch, and a GetOrLoad of a key in a batch joins it.
func TestAWindowJoinsLoadsInFlightAndIsJoined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, single := new(windowSource), newSource()
		single.gate = make(chan struct{})
		l := newLoader(t, newMemStore[string](), nil)
		b, err := l.Batcher(src.load, flightcache.Window{Wait: time.Second})
		require.NoError(t, err)
		go func() { _, _ = l.GetOrLoad(context.Background(), "busy", single.load) }()
		synctest.Wait()
		var wg sync.WaitGroup
		var fromBatch, fromSingle string
		wg.Go(func() { fromSingle, _ = b.GetOrLoad(context.Background(), "busy") })
		wg.Go(func() { fromBatch, _ = b.GetOrLoad(context.Background(), "queued") })
		synctest.Wait()
		v, err := l.GetOrLoad(context.Background(), "queued", func(context.Context, string) (string, error) {
			t.Error("a key in a window is joined, not loaded again")
			return "", nil
		})
		require.NoError(t, err)
		assert.Equal(t, "v-queued", v)
		close(single.gate)
		wg.Wait()
		assert.Equal(t, "value-busy", fromSingle)
		assert.Equal(t, "v-queued", fromBatch)
		assert.Equal(t, [][]string{{"queued"}}, src.seen())
	})
}

func TestAWindowBatchesStaleRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := new(windowSource)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour})
		b, err := l.Batcher(src.load, flightcache.Window{Wait: 5 * time.Millisecond})
		require.NoError(t, err)
		keys := []string{"a", "b", "c"}
		readAll(t, b, keys)
		time.Sleep(2 * time.Minute)
		start := time.Now()
		for range 3 {
			for _, k := range keys {
				r, err := b.GetOrLoadResult(context.Background(), k)
				require.NoError(t, err)
				assert.Equal(t, flightcache.ServedStale, r.Served)
			}
		}
		assert.Zero(t, time.Since(start), "stale reads do not wait")
		time.Sleep(5 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, [][]string{{"a", "b", "c"}, {"a", "b", "c"}}, src.seen(), "one refresh call for the three keys")
		r, err := b.GetOrLoadResult(context.Background(), "a")
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedFresh, r.Served)
	})
}

func TestACallerLeavesItsWindowWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, store := new(windowSource), newMemStore[string]()
		l := newLoader(t, store, nil)
		b, err := l.Batcher(src.load, flightcache.Window{Wait: time.Second})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		_, err = b.GetOrLoad(ctx, "k")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		time.Sleep(time.Second)
		synctest.Wait()
		_, ok := store.entry("k")
		assert.True(t, ok, "the batch loaded and stored the key all the same")
	})
}

func TestBatcherRefusesWhatItCannotDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		src := new(windowSource)
		_, err := l.Batcher(nil, flightcache.Window{Wait: time.Second})
		assert.Error(t, err)
		_, err = l.Batcher(src.load, flightcache.Window{})
		assert.ErrorContains(t, err, "Window.Wait")
		_, err = l.Batcher(src.load, flightcache.Window{Wait: time.Second, MaxKeys: -1})
		assert.ErrorContains(t, err, "Window.MaxKeys")
		var nilBatcher *flightcache.Batcher[string, string]
		_, err = nilBatcher.GetOrLoad(context.Background(), "k")
		assert.ErrorContains(t, err, "nil Batcher")

		b, err := l.Batcher(src.load, flightcache.Window{Wait: time.Second})
		require.NoError(t, err)
		done := make(chan error)
		go func() {
			_, err := b.GetOrLoad(context.Background(), "k")
			done <- err
		}()
		synctest.Wait()
		require.NoError(t, l.Close())
		assert.ErrorIs(t, <-done, flightcache.ErrClosed, "a key collected before Close")
		_, err = b.GetOrLoad(context.Background(), "k")
		assert.ErrorIs(t, err, flightcache.ErrClosed)
		assert.Empty(t, src.seen())
	})
}

// TestAWindowOfOneKeyLoadsEachMissAtOnce: a window of one key loads each
// miss at once, alone.
func TestAWindowOfOneKeyLoadsEachMissAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		ws := new(windowSource)
		b, err := l.Batcher(ws.load, flightcache.Window{Wait: time.Hour, MaxKeys: 1})
		require.NoError(t, err)
		got, errs, took := readAll(t, b, []string{"a", "b", "c"})
		assert.Zero(t, took, "a full window does not wait")
		for _, k := range []string{"a", "b", "c"} {
			assert.NoError(t, errs[k])
			assert.Equal(t, "v-"+k, got[k])
		}
		assert.ElementsMatch(t, [][]string{{"a"}, {"b"}, {"c"}}, ws.seen())
	})
}

// TestABatcherWhoseLoadPanicsFailsItsWindowOnly: every caller of the window
// gets an error wrapping *singleflight.PanicError; the next window loads
// again.
func TestABatcherWhoseLoadPanicsFailsItsWindowOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		var calls atomic.Int64
		b, err := l.Batcher(func(ctx context.Context, keys []string) (map[string]string, error) {
			if calls.Add(1) == 1 {
				panic("boom")
			}
			out := map[string]string{}
			for _, k := range keys {
				out[k] = "v-" + k
			}
			return out, nil
		}, flightcache.Window{Wait: time.Millisecond})
		require.NoError(t, err)
		_, errs, _ := readAll(t, b, []string{"a", "b"})
		for _, k := range []string{"a", "b"} {
			var pe *singleflight.PanicError
			require.ErrorAs(t, errs[k], &pe, k)
			assert.Equal(t, "boom", pe.Value)
		}
		got, errs, _ := readAll(t, b, []string{"a", "b"})
		assert.NoError(t, errs["a"])
		assert.Equal(t, "v-a", got["a"])
	})
}

// TestBatcherCallersRacingCloseGetAValueOrErrClosed: callers of a Batcher
// while the Loader closes each get a value or ErrClosed, never hang, and
// leave no goroutine.
func TestBatcherCallersRacingCloseGetAValueOrErrClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := flightcache.New[string, string](newMemStore[string](), nil)
		require.NoError(t, err)
		ws := new(windowSource)
		b, err := l.Batcher(ws.load, flightcache.Window{Wait: 10 * time.Millisecond, MaxKeys: 3})
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * time.Millisecond)
				v, err := b.GetOrLoad(context.Background(), fmt.Sprint("k", i))
				if err != nil {
					assert.ErrorIs(t, err, flightcache.ErrClosed)
					return
				}
				assert.Equal(t, fmt.Sprint("v-k", i), v)
			})
		}
		time.Sleep(7 * time.Millisecond)
		require.NoError(t, l.Close())
		wg.Wait()
		_, err = b.GetOrLoad(context.Background(), "after")
		require.ErrorIs(t, err, flightcache.ErrClosed)
	})
}
