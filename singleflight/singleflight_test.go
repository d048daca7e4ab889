package singleflight_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache/singleflight"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// blockingFn returns a fn that counts its runs, signals started, then waits for
// release and returns v, err.
func blockingFn[V any](calls *atomic.Int32, release <-chan struct{}, v V, err error) func(context.Context) (V, error) {
	return func(context.Context) (V, error) {
		calls.Add(1)
		<-release
		return v, err
	}
}

func TestDoReturnsResultAndIsNotSharedAlone(t *testing.T) {
	var g singleflight.Group[string, int]
	v, err, shared := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 42, nil })
	require.NoError(t, err)
	assert.Equal(t, 42, v)
	assert.False(t, shared)
	assert.Zero(t, singleflight.InFlight(&g))
}

func TestDoRunsFnOnceForConcurrentCallers(t *testing.T) {
	for _, name := range []string{"value", "error"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g singleflight.Group[string, *int]
				var calls atomic.Int32
				release := make(chan struct{})
				want := new(int)
				var wantErr error
				if name == "error" {
					want, wantErr = nil, errors.New("load failed")
				}
				fn := blockingFn(&calls, release, want, wantErr)

				const callers = 10
				type out struct {
					v      *int
					err    error
					shared bool
				}
				outs := make([]out, callers)
				var wg sync.WaitGroup
				for i := range callers {
					// Half of the callers can leave, half cannot: both wait paths
					// must see the same call.
					ctx := context.Background()
					if i%2 == 1 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithCancel(ctx)
						defer cancel()
					}
					wg.Go(func() {
						v, err, shared := g.Do(ctx, "k", fn)
						outs[i] = out{v, err, shared}
					})
					synctest.Wait() // the first caller starts, the rest join in order
				}
				assert.Equal(t, int32(1), calls.Load())
				assert.Equal(t, callers-1, singleflight.Joiners(&g, "k"))

				close(release)
				wg.Wait()
				for i, o := range outs {
					assert.Same(t, want, o.v, "caller %d", i)
					assert.True(t, o.err == wantErr, "caller %d got error %v, not the same instance", i, o.err)
					assert.True(t, o.shared, "caller %d", i)
				}
				assert.Zero(t, singleflight.InFlight(&g))
			})
		})
	}
}

func TestDoRunsDistinctKeysConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		aStarted, bStarted := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		// Each fn waits for the other to start: run one after the other, they
		// would deadlock, and synctest would report it.
		wg.Go(func() {
			v, err, _ := g.Do(context.Background(), "a", func(context.Context) (string, error) {
				close(aStarted)
				<-bStarted
				return "A", nil
			})
			assert.NoError(t, err)
			assert.Equal(t, "A", v)
		})
		wg.Go(func() {
			v, err, _ := g.Do(context.Background(), "b", func(context.Context) (string, error) {
				close(bStarted)
				<-aStarted
				return "B", nil
			})
			assert.NoError(t, err)
			assert.Equal(t, "B", v)
		})
		wg.Wait()
	})
}

type ctxKey struct{}

func TestFnContextKeepsValuesButNotCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		ctx := context.WithValue(context.Background(), ctxKey{}, "request-7")
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()

		var fnCtx context.Context
		release := make(chan struct{})
		go g.Do(ctx, "k", func(ctx context.Context) (string, error) {
			fnCtx = ctx
			<-release
			return "", ctx.Err()
		})
		synctest.Wait()
		cancel()
		synctest.Wait()

		assert.Equal(t, "request-7", fnCtx.Value(ctxKey{}))
		_, hasDeadline := fnCtx.Deadline()
		assert.False(t, hasDeadline)
		assert.NoError(t, fnCtx.Err(), "the caller's cancellation must not reach fn")
		close(release)
	})
}

func TestCallerLeavesWhenItsContextEndsAndCallGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		var calls atomic.Int32
		release := make(chan struct{})
		fn := blockingFn(&calls, release, 7, nil)

		starterCtx, cancelStarter := context.WithCancel(context.Background())
		starterDone := make(chan error)
		go func() {
			_, err, shared := g.Do(starterCtx, "k", fn)
			assert.False(t, shared, "nobody had joined when the starter left")
			starterDone <- err
		}()
		synctest.Wait()

		timedCtx, cancelTimed := context.WithTimeout(context.Background(), time.Second)
		defer cancelTimed()
		timedDone := make(chan error)
		go func() {
			_, err, shared := g.Do(timedCtx, "k", fn)
			assert.True(t, shared, "a joiner that leaves had still joined")
			timedDone <- err
		}()
		stayDone := make(chan int)
		go func() {
			v, err, _ := g.Do(context.Background(), "k", fn)
			assert.NoError(t, err)
			stayDone <- v
		}()
		synctest.Wait()

		cancelStarter()
		assert.ErrorIs(t, <-starterDone, context.Canceled)
		assert.ErrorIs(t, <-timedDone, context.DeadlineExceeded) // the fake clock moves one second
		assert.Equal(t, 1, singleflight.InFlight(&g), "the call goes on for the caller that stayed")

		close(release)
		assert.Equal(t, 7, <-stayDone)
		assert.Equal(t, int32(1), calls.Load())
	})
}

func TestCallRunsToCompletionWhenEveryCallerLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		release := make(chan struct{})
		completed := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		for range 3 {
			go func() {
				_, err, _ := g.Do(ctx, "k", func(context.Context) (int, error) {
					<-release
					close(completed)
					return 1, nil
				})
				assert.ErrorIs(t, err, context.Canceled)
				done <- struct{}{}
			}()
		}
		synctest.Wait()
		cancel()
		for range 3 {
			<-done
		}
		close(release)
		<-completed
		synctest.Wait()
		assert.Zero(t, singleflight.InFlight(&g))
	})
}

func TestDoneContextStartsNothing(t *testing.T) {
	var g singleflight.Group[string, int]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fn := func(context.Context) (int, error) {
		t.Error("fn ran for a caller whose context was done")
		return 0, nil
	}
	_, err, _ := g.Do(ctx, "k", fn)
	assert.ErrorIs(t, err, context.Canceled)
	r := <-g.DoChan(ctx, "k", fn)
	assert.ErrorIs(t, r.Err, context.Canceled)
	assert.Zero(t, singleflight.InFlight(&g))
}

func TestDoChanDeliversResultAndLeavesWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		var calls atomic.Int32
		release := make(chan struct{})
		fn := blockingFn(&calls, release, "v", nil)

		first := g.DoChan(context.Background(), "k", fn)
		ctx, cancel := context.WithCancel(context.Background())
		leaving := g.DoChan(ctx, "k", fn)
		second := g.DoChan(context.Background(), "k", fn)
		synctest.Wait()

		cancel()
		r := <-leaving
		assert.ErrorIs(t, r.Err, context.Canceled)
		assert.True(t, r.Shared)

		close(release)
		for _, ch := range []<-chan singleflight.Result[string]{first, second} {
			r := <-ch
			assert.NoError(t, r.Err)
			assert.Equal(t, "v", r.Val)
			assert.True(t, r.Shared)
		}
		assert.Equal(t, int32(1), calls.Load())
		select {
		case r := <-leaving:
			t.Fatalf("a receiver that left got a second result: %+v", r)
		default:
		}
	})
}

func TestDoChanStartedTellsStarterFromJoiner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		release := make(chan struct{})
		var calls atomic.Int32
		fn := blockingFn(&calls, release, 3, nil)
		first, started := g.DoChanStarted(context.Background(), "k", fn)
		assert.True(t, started)
		second, started := g.DoChanStarted(context.Background(), "k", fn)
		assert.False(t, started)
		other, started := g.DoChanStarted(context.Background(), "other", fn)
		assert.True(t, started)
		close(release)
		for _, ch := range []<-chan singleflight.Result[int]{first, second, other} {
			assert.Equal(t, 3, (<-ch).Val)
		}
		assert.Equal(t, int32(2), calls.Load())

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done, started := g.DoChanStarted(ctx, "k", fn)
		assert.False(t, started, "a caller whose context is done starts nothing")
		assert.ErrorIs(t, (<-done).Err, context.Canceled)
	})
}

func TestUnreadDoChanLeavesNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_ = g.DoChan(ctx, "k", func(context.Context) (int, error) { return 1, nil })
		_ = g.DoChan(context.Background(), "j", func(context.Context) (int, error) { return 2, nil })
		synctest.Wait()
		assert.Zero(t, singleflight.InFlight(&g))
	})
	// synctest.Test fails if a goroutine of the bubble is still blocked; the
	// context watch of the first call must have been stopped as well.
	goleak.VerifyNone(t)
}

func explode(context.Context) (int, error) {
	panic("boom")
}

func TestPanicReachesEveryCallerAndFreesTheKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		release := make(chan struct{})
		fn := func(ctx context.Context) (int, error) {
			<-release
			return explode(ctx)
		}

		panics := make(chan *singleflight.PanicError, 3)
		for range 3 {
			go func() {
				defer func() {
					r := recover()
					pe, ok := r.(*singleflight.PanicError)
					require.True(t, ok, "Do re-panicked with %T, not *PanicError", r)
					// The key was freed before any caller heard of the panic.
					assert.Zero(t, singleflight.InFlight(&g))
					panics <- pe
				}()
				g.Do(context.Background(), "k", fn)
				t.Error("Do returned normally after fn panicked")
			}()
		}
		ch := g.DoChan(context.Background(), "k", fn)
		synctest.Wait()
		close(release)

		first := <-panics
		assert.Equal(t, "boom", first.Value)
		assert.Contains(t, string(first.Stack), "singleflight_test.explode")
		assert.False(t, strings.HasPrefix(string(first.Stack), "goroutine "), "the stale goroutine header is trimmed")
		assert.Same(t, first, <-panics)
		assert.Same(t, first, <-panics)

		r := <-ch
		var pe *singleflight.PanicError
		require.ErrorAs(t, r.Err, &pe)
		assert.Same(t, first, pe)

		v, err, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 5, nil })
		require.NoError(t, err)
		assert.Equal(t, 5, v)
	})
}

func TestPanicErrorUnwrapsAnErrorValue(t *testing.T) {
	var g singleflight.Group[string, int]
	r := <-g.DoChan(context.Background(), "k", func(context.Context) (int, error) { panic(io.ErrUnexpectedEOF) })
	assert.ErrorIs(t, r.Err, io.ErrUnexpectedEOF)
	assert.Contains(t, r.Err.Error(), "unexpected EOF")

	r = <-g.DoChan(context.Background(), "k", func(context.Context) (int, error) { panic(nil) })
	var pe *singleflight.PanicError
	require.ErrorAs(t, r.Err, &pe)
	var nilPanic *runtime.PanicNilError
	assert.ErrorAs(t, r.Err, &nilPanic, "panic(nil) is a panic too, not a Goexit")
}

func TestGoexitGivesEveryWaiterErrGoexit(t *testing.T) {
	for _, starter := range []string{"background", "cancellable", "chan"} {
		t.Run("starter="+starter, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g singleflight.Group[string, int]
				release := make(chan struct{})
				fn := func(context.Context) (int, error) {
					<-release
					runtime.Goexit()
					return 0, nil
				}
				errs := make(chan error, 3)
				starterExited := make(chan struct{})
				switch starter {
				case "chan":
					ch := g.DoChan(context.Background(), "k", fn)
					go func() { errs <- (<-ch).Err }()
					close(starterExited)
				default:
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					if starter == "background" {
						ctx = context.Background()
					}
					go func() {
						defer close(starterExited)
						_, err, _ := g.Do(ctx, "k", fn)
						errs <- err
					}()
				}
				synctest.Wait()

				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() {
					_, err, _ := g.Do(ctx, "k", fn)
					errs <- err
				}()
				go func() {
					_, err, _ := g.Do(context.Background(), "k", fn)
					errs <- err
				}()
				ch := g.DoChan(context.Background(), "k", fn)
				synctest.Wait()
				close(release)

				<-starterExited
				waiters := 3 // the two joiners, and the starter
				if starter == "background" {
					// fn ran on the starter's own goroutine, which
					// runtime.Goexit ends: it never hears of it.
					waiters = 2
				}
				for range waiters {
					assert.ErrorIs(t, <-errs, singleflight.ErrGoexit)
				}
				assert.ErrorIs(t, (<-ch).Err, singleflight.ErrGoexit)
				synctest.Wait()
				assert.Empty(t, errs, "a goroutine that runtime.Goexit ended returned from Do")
				assert.Zero(t, singleflight.InFlight(&g))
			})
		})
	}
}

func TestForgetStartsAfreshAndKeepsTheNewerCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		releaseOld, releaseNew := make(chan struct{}), make(chan struct{})
		var oldCalls, newCalls atomic.Int32

		oldCh := g.DoChan(context.Background(), "k", blockingFn(&oldCalls, releaseOld, "old", nil))
		oldJoiner := g.DoChan(context.Background(), "k", blockingFn(&oldCalls, releaseOld, "never", nil))
		synctest.Wait()
		g.Forget("k")
		g.Forget("missing") // forgetting nothing is fine

		newCh := g.DoChan(context.Background(), "k", blockingFn(&newCalls, releaseNew, "new", nil))
		synctest.Wait()
		assert.Equal(t, int32(1), oldCalls.Load())
		assert.Equal(t, int32(1), newCalls.Load(), "the call after Forget started afresh")

		close(releaseOld)
		assert.Equal(t, "old", (<-oldCh).Val)
		assert.Equal(t, "old", (<-oldJoiner).Val, "a waiter from before Forget keeps the old call's result")
		synctest.Wait()
		assert.Equal(t, 1, singleflight.InFlight(&g), "the old call must not remove the newer entry")

		joiner := g.DoChan(context.Background(), "k", blockingFn(&newCalls, releaseNew, "never", nil))
		close(releaseNew)
		assert.Equal(t, "new", (<-newCh).Val)
		r := <-joiner
		assert.Equal(t, "new", r.Val)
		assert.True(t, r.Shared)
		assert.Equal(t, int32(1), newCalls.Load())
		assert.Zero(t, singleflight.InFlight(&g))
	})
}

func TestNilFnIsAnErrorNotAPanic(t *testing.T) {
	var g singleflight.Group[string, int]
	_, err, _ := g.Do(context.Background(), "k", nil)
	assert.Error(t, err)
	assert.Error(t, (<-g.DoChan(context.Background(), "k", nil)).Err)
	_, err = singleflight.Wrap[string, int](&g, nil)(context.Background(), "k")
	assert.Error(t, err)
	assert.Zero(t, singleflight.InFlight(&g))
}

func TestWrapSharesCallsPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[int, string]
		var calls atomic.Int32
		release := make(chan struct{})
		square := singleflight.Wrap(&g, func(_ context.Context, n int) (string, error) {
			calls.Add(1)
			<-release
			return fmt.Sprint(n * n), nil
		})
		results := make(chan string, 4)
		for _, n := range []int{3, 3, 3, 4} {
			go func() {
				v, err := square(context.Background(), n)
				assert.NoError(t, err)
				results <- v
			}()
		}
		synctest.Wait()
		assert.Equal(t, int32(2), calls.Load(), "one call per distinct key")
		close(release)
		var got []string
		for range 4 {
			got = append(got, <-results)
		}
		assert.ElementsMatch(t, []string{"9", "9", "9", "16"}, got)
	})
}

// TestStress mixes keys, cancellations, timeouts, panics and Forget across
// many goroutines. Keys below forgetFrom are never forgotten, so at most one
// fn may run for each of them at a time. Run it with -race -count=20.
func TestStress(t *testing.T) {
	const (
		keys       = 8
		forgetFrom = 4
		workers    = 32
		opsEach    = 300
	)
	var g singleflight.Group[int, int]
	var active [keys]atomic.Int32
	var running atomic.Int32
	fn := func(key int, mode int) func(context.Context) (int, error) {
		return func(context.Context) (int, error) {
			running.Add(1)
			defer running.Add(-1)
			if n := active[key].Add(1); n > 1 && key < forgetFrom {
				t.Errorf("key %d: %d calls of fn at once", key, n)
			}
			defer active[key].Add(-1)
			for range rand.IntN(4) {
				runtime.Gosched()
			}
			switch mode {
			case 0:
				panic(fmt.Sprintf("panic %d", key))
			case 1:
				return 0, io.EOF
			}
			return key * 10, nil
		}
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range opsEach {
				key := rand.IntN(keys)
				mode := rand.IntN(10)
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				switch rand.IntN(4) {
				case 0:
					ctx, cancel = context.WithCancel(ctx)
					if rand.IntN(2) == 0 {
						cancel()
					} else {
						go cancel()
					}
				case 1:
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(50))*time.Microsecond)
				}
				if key >= forgetFrom && rand.IntN(5) == 0 {
					g.Forget(key)
				}
				check := func(v int, err error) {
					var pe *singleflight.PanicError
					switch {
					case err == nil:
						assert.Equal(t, key*10, v)
					case errors.Is(err, io.EOF), errors.As(err, &pe),
						errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
					default:
						t.Errorf("unexpected error %v", err)
					}
				}
				if rand.IntN(3) == 0 {
					r := <-g.DoChan(ctx, key, fn(key, mode))
					check(r.Val, r.Err)
				} else {
					func() {
						defer func() {
							if r := recover(); r != nil {
								_, ok := r.(*singleflight.PanicError)
								assert.True(t, ok, "re-panic with %T", r)
							}
						}()
						v, err, _ := g.Do(ctx, key, fn(key, mode))
						check(v, err)
					}()
				}
				cancel()
			}
		})
	}
	wg.Wait()
	// Calls whose callers all left may still be finishing.
	for running.Load() > 0 || singleflight.InFlight(&g) > 0 {
		runtime.Gosched()
	}
	goleak.VerifyNone(t)
}
