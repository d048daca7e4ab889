package flightcache_test

import (
	"context"
	"fmt"
	"runtime"
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

func newLoader(t *testing.T, store flightcache.Store[string, string], opts *flightcache.Options) *flightcache.Loader[string, string] {
	t.Helper()
	l, err := flightcache.New(store, opts)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func TestGetOrLoadLoadsOnceThenHits(t *testing.T) {
	store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
	l := newLoader(t, store, &flightcache.Options{Recorder: rec})

	for range 3 {
		v, err := l.GetOrLoad(context.Background(), "a", src.load)
		require.NoError(t, err)
		assert.Equal(t, "value-a", v)
	}
	assert.Equal(t, 1, src.count("a"))
	s := rec.Snapshot()
	assert.Equal(t, uint64(2), s.Hits)
	assert.Equal(t, uint64(1), s.Misses)
	assert.Equal(t, uint64(1), s.Loads)
	assert.Zero(t, s.Coalesced)
	assert.Zero(t, s.LoadErrors)
}

func TestConcurrentMissesLoadOnceAndAreCoalesced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
		src.gate = make(chan struct{})
		l := newLoader(t, store, &flightcache.Options{Recorder: rec})

		const callers = 50
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				v, err := l.GetOrLoad(context.Background(), "k", src.load)
				assert.NoError(t, err)
				assert.Equal(t, "value-k", v)
			})
		}
		synctest.Wait()
		close(src.gate)
		wg.Wait()

		assert.Equal(t, 1, src.count("k"))
		s := rec.Snapshot()
		assert.Equal(t, uint64(callers), s.Misses)
		assert.Equal(t, uint64(callers-1), s.Coalesced)
		assert.Equal(t, uint64(1), s.Loads)
	})
}

// TestCallerThatMissedBeforeTheFillDoesNotLoadAgain pins down the race behind
// the ristretto pitfall: a caller reads the store just before a fill stores
// its value, and asks for a load just after that fill has ended.
func TestCallerThatMissedBeforeTheFillDoesNotLoadAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		l := newLoader(t, store, nil)

		missed, resume := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		store.afterGet = func(key string, found bool) {
			if !found && first.CompareAndSwap(false, true) {
				close(missed)
				<-resume
			}
		}
		late := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.NoError(t, err)
			late <- v
		}()
		<-missed // the late caller has missed, and is held before it asks for a load

		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "value-k", v)
		synctest.Wait() // the first fill has ended and left the group

		close(resume)
		assert.Equal(t, "value-k", <-late)
		assert.Equal(t, 1, src.count("k"), "the late caller loaded the key a second time")
	})
}

func TestErrorsAreNotCached(t *testing.T) {
	store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
	src.answer = func(context.Context, string) (string, error) { return "", errBackend }
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, MissingFor: time.Minute, Recorder: rec})

	for range 2 {
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		assert.ErrorIs(t, err, errBackend)
	}
	assert.Equal(t, 2, src.count("k"))
	_, ok := store.entry("k")
	assert.False(t, ok)
	assert.Equal(t, uint64(2), rec.Snapshot().LoadErrors)
}

func TestNotFoundIsCachedForMissingFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
		src.answer = func(_ context.Context, key string) (string, error) {
			return "", fmt.Errorf("user %s: %w", key, flightcache.ErrNotFound)
		}
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, MissingFor: 10 * time.Second, Recorder: rec})

		_, err := l.GetOrLoad(context.Background(), "ghost", src.load)
		assert.ErrorIs(t, err, flightcache.ErrNotFound)
		assert.Contains(t, err.Error(), "user ghost", "the first caller gets the load's own error")

		time.Sleep(9 * time.Second)
		_, err = l.GetOrLoad(context.Background(), "ghost", src.load)
		assert.ErrorIs(t, err, flightcache.ErrNotFound)
		assert.Equal(t, 1, src.count("ghost"), "the cached answer is served")
		assert.Equal(t, uint64(1), rec.Snapshot().MissingHits)
		assert.Zero(t, rec.Snapshot().LoadErrors, "not found is an answer, not a failure")

		time.Sleep(2 * time.Second)
		_, err = l.GetOrLoad(context.Background(), "ghost", src.load)
		assert.ErrorIs(t, err, flightcache.ErrNotFound)
		assert.Equal(t, 2, src.count("ghost"), "the cached answer expired")
	})
}

func TestNotFoundIsNotCachedWithoutMissingFor(t *testing.T) {
	store, src := newMemStore[string](), newSource()
	src.answer = func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour})
	for range 2 {
		_, err := l.GetOrLoad(context.Background(), "ghost", src.load)
		assert.ErrorIs(t, err, flightcache.ErrNotFound)
	}
	assert.Equal(t, 2, src.count("ghost"))
	if e, ok := store.entry("ghost"); ok {
		assert.False(t, e.ExpiresAt.Time().After(time.Now()), "only an already expired entry may be written, to clear an old value")
	}
}

func TestValuesExpireAfterFreshFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})
		get := func() {
			_, err := l.GetOrLoad(context.Background(), "k", src.load)
			require.NoError(t, err)
		}
		get()
		time.Sleep(59 * time.Second)
		get()
		assert.Equal(t, 1, src.count("k"))
		time.Sleep(2 * time.Second)
		get()
		assert.Equal(t, 2, src.count("k"))

		e, ok := store.entry("k")
		require.True(t, ok)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), e.FreshUntil)
		assert.Equal(t, e.FreshUntil, e.ExpiresAt, "with nothing served stale, a value expires when it goes stale")
	})
}

func TestJitterSpreadsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		const freshFor, jitter = 100 * time.Second, 0.2
		l := newLoader(t, store, &flightcache.Options{FreshFor: freshFor, Jitter: jitter})

		const keys = 1000
		for i := range keys {
			_, err := l.GetOrLoad(context.Background(), fmt.Sprint(i), src.load)
			require.NoError(t, err)
		}
		// All keys were loaded at the same instant of the fake clock.
		now := time.Now()
		lo, hi := now.Add(80*time.Second), now.Add(120*time.Second)
		var buckets [10]int // tenths of the [lo, hi] window
		for i := range keys {
			e, ok := store.entry(fmt.Sprint(i))
			require.True(t, ok)
			require.False(t, e.FreshUntil.Time().Before(lo) || e.FreshUntil.Time().After(hi), "FreshUntil %v outside %v..%v", e.FreshUntil, lo, hi)
			buckets[min(9, int(e.FreshUntil.Time().Sub(lo)*10/hi.Sub(lo)))]++
		}
		// Uniform spread: each tenth gets about 100 keys. A loader without
		// jitter puts all 1000 in one bucket.
		for i, n := range buckets {
			assert.Greater(t, n, 50, "tenth %d of the window has %d keys: %v", i, n, buckets)
		}
	})
}

func TestPanicInLoadBecomesErrorAndKeyLoadsAgain(t *testing.T) {
	store, rec := newMemStore[string](), new(stats.Counter)
	l := newLoader(t, store, &flightcache.Options{Recorder: rec})

	_, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
		panic("corrupt row")
	})
	var pe *singleflight.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "corrupt row", pe.Value)
	assert.NotEmpty(t, pe.Stack)
	assert.Equal(t, uint64(1), rec.Snapshot().Panics)

	v, err := l.GetOrLoad(context.Background(), "k", newSource().load)
	require.NoError(t, err)
	assert.Equal(t, "value-k", v)
}

func TestPanicReachesEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		gate := make(chan struct{})
		load := func(context.Context, string) (string, error) {
			<-gate
			panic(errBackend)
		}
		errs := make(chan error, 5)
		for range 5 {
			go func() {
				_, err := l.GetOrLoad(context.Background(), "k", load)
				errs <- err
			}()
		}
		synctest.Wait()
		close(gate)
		for range 5 {
			err := <-errs
			var pe *singleflight.PanicError
			assert.ErrorAs(t, err, &pe)
			assert.ErrorIs(t, err, errBackend, "a panic with an error value unwraps to it")
		}
	})
}

// TestGoexitInLoadBecomesError: a caller that could leave (its ctx can end)
// had its load run elsewhere, and gets an error.
func TestGoexitInLoadBecomesError(t *testing.T) {
	l := newLoader(t, newMemStore[string](), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
		runtime.Goexit()
		return "", nil
	})
	assert.ErrorIs(t, err, singleflight.ErrGoexit)
}

func TestCallerCancellationReturnsPromptlyAndLoadIsStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		src.gate = make(chan struct{})
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := l.GetOrLoad(ctx, "k", src.load)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start), "the caller left at its own deadline")

		close(src.gate)
		synctest.Wait()
		e, ok := store.entry("k")
		require.True(t, ok, "the load finished after its only caller left, and was stored")
		assert.Equal(t, "value-k", e.Value)

		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "value-k", v)
		assert.Equal(t, 1, src.count("k"))
	})
}

func TestLoadContextKeepsValuesButNotCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type traceID struct{}
		l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: 5 * time.Second})
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), traceID{}, "t-1"))
		cancel()
		_, err := l.GetOrLoad(ctx, "k", newSource().load)
		assert.ErrorIs(t, err, context.Canceled, "a caller whose context is done starts no load")

		ctx, cancel = context.WithTimeout(context.WithValue(context.Background(), traceID{}, "t-2"), time.Millisecond)
		defer cancel()
		start := time.Now()
		seen := make(chan context.Context, 1)
		l.GetOrLoad(ctx, "k", func(ctx context.Context, _ string) (string, error) {
			<-ctx.Done() // ends at LoadTimeout, not at the caller's deadline
			seen <- ctx
			return "", ctx.Err()
		})
		synctest.Wait()
		lctx := <-seen
		assert.Equal(t, "t-2", lctx.Value(traceID{}))
		deadline, ok := lctx.Deadline()
		require.True(t, ok)
		assert.Equal(t, start.Add(5*time.Second), deadline, "the load's deadline is LoadTimeout, not the caller's")
	})
}

func TestLoadTimeoutEndsAHungLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, rec := newMemStore[string](), new(stats.Counter)
		l := newLoader(t, store, &flightcache.Options{LoadTimeout: 2 * time.Second, Recorder: rec})

		hang := make(chan struct{})
		defer close(hang)
		start := time.Now()
		// A caller whose ctx can end: the load runs on a goroutine of the
		// Loader's, and the caller gets the timeout at the deadline.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
			<-hang // ignores its context
			return "late", nil
		})
		assert.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 2*time.Second, time.Since(start))
		synctest.Wait() // the timeout is counted once the callers have it
		assert.Equal(t, uint64(1), rec.Snapshot().LoadErrors)

		v, err := l.GetOrLoad(context.Background(), "k", newSource().load)
		require.NoError(t, err, "the key loads again after a hung load timed out")
		assert.Equal(t, "value-k", v)
	})
}

func TestStaleIfErrorServesTheOldValueInsideItsWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleIfError: 30 * time.Second, Recorder: rec})
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		e, _ := store.entry("k")
		assert.Equal(t, e.FreshUntil.Add(30*time.Second), e.ExpiresAt, "the entry is kept for its stale-if-error window")

		src.answer = func(context.Context, string) (string, error) { return "", errBackend }
		time.Sleep(time.Minute + 10*time.Second)
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "value-k", v, "the old value stands in for the failed load")
		s := rec.Snapshot()
		assert.Equal(t, uint64(1), s.StaleHits)
		assert.Equal(t, uint64(1), s.Misses, "the first load; the stale-if-error read counts once, as a stale hit")
		assert.Equal(t, uint64(1), s.LoadErrors)

		time.Sleep(30 * time.Second)
		_, err = l.GetOrLoad(context.Background(), "k", src.load)
		assert.ErrorIs(t, err, errBackend, "past the window the error is returned")
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
