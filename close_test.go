package flightcache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
)

func TestCloseWaitsForLoadsAndThenRefusesCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		src.gate = make(chan struct{})
		l, err := flightcache.New[string, string](store, nil)
		require.NoError(t, err)

		got := make(chan error)
		go func() {
			_, err := l.GetOrLoad(context.Background(), "k", src.load)
			got <- err
		}()
		synctest.Wait()
		closed := make(chan struct{})
		go func() {
			assert.NoError(t, l.Close())
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while a load was running")
		default:
		}
		close(src.gate)
		<-closed
		assert.NoError(t, <-got, "a load that was running when Close began completes")
		_, ok := store.entry("k")
		assert.True(t, ok, "and is stored")

		_, err = l.GetOrLoad(context.Background(), "k", src.load)
		assert.ErrorIs(t, err, flightcache.ErrClosed)
		assert.ErrorIs(t, l.Set(context.Background(), "k", "v"), flightcache.ErrClosed)
		assert.ErrorIs(t, l.Invalidate(context.Background(), "k"), flightcache.ErrClosed)
		assert.NoError(t, l.Close(), "a second Close does nothing")
	})
}

// Close, called while an inline fill runs, waits for it; the caller gets
// its value and the value is stored; later calls get ErrClosed.
func TestCloseWaitsForAnInlineFillThatRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemStore[string]()
		l, err := flightcache.New[string, string](s, &flightcache.Options{LoadTimeout: time.Minute})
		require.NoError(t, err)
		type res struct {
			v   string
			err error
		}
		got := make(chan res, 1)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
				time.Sleep(time.Second)
				return "v", nil
			})
			got <- res{v, err}
		}()
		synctest.Wait()
		start := time.Now()
		require.NoError(t, l.Close())
		assert.Equal(t, time.Second, time.Since(start))
		r := <-got
		require.NoError(t, r.err)
		assert.Equal(t, "v", r.v)
		_, ok := s.entry("k")
		assert.True(t, ok)
		_, err = l.GetOrLoad(context.Background(), "k2", func(context.Context, string) (string, error) { return "", nil })
		assert.ErrorIs(t, err, flightcache.ErrClosed)
	})
}

// Close waits for the fills running "to finish and store their results", and
// the README says to close the Store after the Loader. A lease's release is
// part of the fill: Close waits for it, after an inline fill (a Background
// caller, which has its value already) as after a fill handed off to a
// goroutine of the Loader's (a caller that can leave; up to the fill's
// deadline: TestCloseReturnsWithinLoadTimeoutOfALeaseReleaseThatBlocks), so
// that no release uses a Store the user has closed and no goroutine is left
// behind.
func TestCloseWaitsForTheLeaseReleaseOfAFill(t *testing.T) {
	for name, caller := range map[string]func() (context.Context, context.CancelFunc){
		"inline":     func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
		"handed off": func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gate := make(chan struct{})
				var released atomic.Bool
				s := releasing(func() {
					<-gate
					released.Store(true)
				})
				l, err := flightcache.New[string, string](s, &flightcache.Options{LoadTimeout: time.Second})
				require.NoError(t, err)
				ctx, cancel := caller()
				defer cancel()
				loaded := make(chan struct{})
				go func() {
					defer close(loaded)
					v, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "v", nil })
					assert.NoError(t, err)
					assert.Equal(t, "v", v)
				}()
				synctest.Wait()
				closed := make(chan struct{})
				go func() {
					_ = l.Close()
					close(closed)
				}()
				synctest.Wait()
				select {
				case <-closed:
					t.Fatal("Close returned while the lease's release still ran")
				default:
				}
				close(gate)
				<-closed
				<-loaded
				assert.True(t, released.Load())
			})
		})
	}
}

// TestCloseReturnsWithinLoadTimeoutOfALeaseReleaseThatBlocks: Close waits
// for running fills "each within Options.LoadTimeout". A fill whose keys all
// have their results but whose lease release never returns is over for Close
// at its deadline all the same: Close does not hang on it.
func TestCloseReturnsWithinLoadTimeoutOfALeaseReleaseThatBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		unblock := make(chan struct{}) // a release over a dead connection
		store := releasing(func() { <-unblock })
		src := newSource()
		l, err := flightcache.New[string, string](store, &flightcache.Options{LoadTimeout: time.Second})
		require.NoError(t, err)
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		require.Equal(t, "value-k", v)

		closed := make(chan struct{})
		go func() {
			l.Close()
			close(closed)
		}()
		time.Sleep(time.Minute) // 60 × LoadTimeout
		synctest.Wait()
		select {
		case <-closed:
		default:
			t.Error("Close still waiting a minute after it began, with LoadTimeout = 1s")
		}
		close(unblock)
		<-closed
	})
}

// Waits and a Close racing fills that start and end: every Wait returns, and
// Close returns only once the fills it admitted have ended.
func TestCloseWaitsForTheFillsItAdmittedWhileWaitsRaceIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := flightcache.New[int, int](newMapStore[int, int](), &flightcache.Options{LoadTimeout: time.Minute})
		require.NoError(t, err)
		var running atomic.Int64
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * time.Millisecond)
				_, _ = l.GetOrLoad(context.Background(), i, func(context.Context, int) (int, error) {
					running.Add(1)
					defer running.Add(-1)
					time.Sleep(time.Duration(20-i) * time.Millisecond)
					return i, nil
				})
			})
		}
		for range 5 {
			wg.Go(func() { assert.NoError(t, l.Wait(context.Background())) })
		}
		time.Sleep(5 * time.Millisecond)
		require.NoError(t, l.Close())
		assert.Zero(t, running.Load(), "Close returned while a load it admitted ran")
		wg.Wait()
	})
}

// Wait returns while fills start and end around it, and many Waits and a
// Close racing them all return.
func TestManyWaitsRacingFillsAndCloseAllReturn(t *testing.T) {
	l, err := flightcache.New[int, int](newMapStore[int, int](), nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx := context.Background()
				_, err := l.GetOrLoad(ctx, g*1_000_000+i, func(context.Context, int) (int, error) { return i, nil })
				if errors.Is(err, flightcache.ErrClosed) {
					return
				}
			}
		})
	}
	var waits sync.WaitGroup
	for range 16 {
		waits.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for range 50 {
				if l.Wait(ctx) != nil {
					t.Error("Wait did not return under churn")
					return
				}
			}
		})
	}
	waits.Wait()
	require.NoError(t, l.Close())
	close(stop)
	wg.Wait()
	require.NoError(t, l.Wait(context.Background()))
}

// TestNoGoroutineOutlivesCloseOutsideABubble: goleak right after Close, outside a
// synctest bubble, where the process's coarse clock ticks.
func TestNoGoroutineOutlivesCloseOutsideABubble(t *testing.T) {
	before := goleak.IgnoreCurrent()
	l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{FreshFor: time.Hour})
	require.NoError(t, err)
	load := newSource().load
	for range 3 {
		_, err = l.GetOrLoad(context.Background(), "k", load)
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	goleak.VerifyNone(t, before)
}

// TestEveryEntryPointAfterCloseIsErrClosedAndNeverPanics replays
// go-pkgz/lcw#36 (a second Close of a loading cache panicked) and
// dgraph-io/ristretto#202 (public methods panicked after Close): Close and
// Shutdown again do nothing, and every entry point, a Batcher made before
// Close included, returns ErrClosed.
func TestEveryEntryPointAfterCloseIsErrClosedAndNeverPanics(t *testing.T) {
	src := newSource()
	l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{FreshFor: time.Minute})
	require.NoError(t, err)
	b, err := l.Batcher(src.loadMany, flightcache.Window{Wait: time.Millisecond})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = l.GetOrLoad(ctx, "k", src.load)
	require.NoError(t, err)

	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
	require.NoError(t, l.Shutdown(ctx))
	require.NoError(t, l.Wait(ctx))

	calls := map[string]func() error{
		"GetOrLoad":       func() error { _, err := l.GetOrLoad(ctx, "k", src.load); return err },
		"GetOrLoadResult": func() error { _, err := l.GetOrLoadResult(ctx, "k", src.load); return err },
		"GetOrLoadMany":   func() error { _, err := l.GetOrLoadMany(ctx, []string{"k", "j"}, src.loadMany); return err },
		"Batcher":         func() error { _, err := b.GetOrLoad(ctx, "k"); return err },
		"BatcherResult":   func() error { _, err := b.GetOrLoadResult(ctx, "j"); return err },
		"Peek":            func() error { _, _, err := l.Peek(ctx, "k"); return err },
		"Set":             func() error { return l.Set(ctx, "k", "v") },
		"SetWithPolicy":   func() error { return l.SetWithPolicy(ctx, "k", "v", flightcache.EntryPolicy{FreshFor: time.Second}) },
		"Invalidate":      func() error { return l.Invalidate(ctx, "k") },
		"Expire":          func() error { return l.Expire(ctx, "k") },
		"InvalidateTag":   func() error { return l.InvalidateTag(ctx, "t") },
		"Clear":           func() error { return l.Clear(ctx) },
		"Refresh":         func() error { return l.Refresh(ctx, "k", src.load) },
	}
	for name, call := range calls {
		assert.NotPanics(t, func() {
			assert.ErrorIs(t, call(), flightcache.ErrClosed, name)
		}, name)
	}
	assert.Equal(t, 1, src.count("k"), "nothing loads after Close")
}

// TestABatcherWindowOpenAtCloseGivesItsCallersErrClosed: callers whose keys
// a Batcher is still collecting when Close is called get ErrClosed once the
// window closes (Loader.Batcher's doc), their load never runs, and nothing
// is left running (goleak).
func TestABatcherWindowOpenAtCloseGivesItsCallersErrClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource()
		l, err := flightcache.New[string, string](newMemStore[string](), nil)
		require.NoError(t, err)
		b, err := l.Batcher(src.loadMany, flightcache.Window{Wait: time.Second})
		require.NoError(t, err)
		errs := make(chan error, 3)
		for _, k := range []string{"a", "b", "a"} {
			go func() {
				_, err := b.GetOrLoad(context.Background(), k)
				errs <- err
			}()
		}
		synctest.Wait()
		require.NoError(t, l.Close())
		for range 3 {
			assert.ErrorIs(t, <-errs, flightcache.ErrClosed)
		}
		assert.Zero(t, src.total.Load())
	})
}
