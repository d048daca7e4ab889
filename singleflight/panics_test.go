package singleflight_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache/singleflight"
)

// The tests below are about fn that panics or calls runtime.Goexit: every
// waiter hears of it, as a *PanicError or ErrGoexit, and the key is free
// before any of them does.

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

func TestInlinePanicRepanicsInTheStarterWithTheKeyFree(t *testing.T) {
	var g singleflight.Group[string, int]
	var pe *singleflight.PanicError
	func() {
		defer func() {
			var ok bool
			pe, ok = recover().(*singleflight.PanicError)
			require.True(t, ok)
			assert.Zero(t, singleflight.InFlight(&g))
		}()
		g.Do(context.Background(), "k", explode)
	}()
	require.NotNil(t, pe)
	assert.Equal(t, "boom", pe.Value)
	assert.Contains(t, string(pe.Stack), "singleflight_test.explode")
}

func TestPanicErrorTextHasNoStack(t *testing.T) {
	var g singleflight.Group[string, int]
	r := <-g.DoChan(context.Background(), "k", explode)
	require.Error(t, r.Err)
	assert.Equal(t, "singleflight: fn panicked: boom", r.Err.Error())

	// The stack is still there for whoever asks for it.
	var pe *singleflight.PanicError
	require.ErrorAs(t, r.Err, &pe)
	assert.Contains(t, string(pe.Stack), "singleflight_test.explode")

	wrapped := errors.Join(errors.New("load failed"), r.Err)
	require.ErrorAs(t, wrapped, &pe)
	assert.NotContains(t, wrapped.Error(), "goroutine")
	assert.NotContains(t, wrapped.Error(), ".go:")
}

// errValue is an error type that a panic may carry, as in x/sync's tests.
type errValue struct{}

func (*errValue) Error() string { return "error value" }

// TestAPanicOfAPanicErrorUnwrapsToItsValue ports x/sync's
// TestPanicErrorUnwrap, whose fn panics with a panic error itself: here,
// fn calls Do of another Group whose fn panicked, and Do re-panics with
// that *PanicError. The outer *PanicError holds the inner one as its Value,
// errors.As finds the outer first, and errors.Is sees through both to the
// error value of the first panic.
func TestAPanicOfAPanicErrorUnwrapsToItsValue(t *testing.T) {
	for _, value := range []any{"string value", new(errValue)} {
		t.Run(fmt.Sprintf("%T", value), func(t *testing.T) {
			var inner, outer singleflight.Group[string, int]
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				outer.Do(context.Background(), "k", func(ctx context.Context) (int, error) {
					v, err, _ := inner.Do(ctx, "k", func(context.Context) (int, error) { panic(value) })
					return v, err
				})
			}()
			require.NotNil(t, recovered, "Do returned normally after fn panicked")
			err, ok := recovered.(error)
			require.True(t, ok, "recovered non-error type %T", recovered)

			var pe *singleflight.PanicError
			require.ErrorAs(t, err, &pe)
			innerPE, ok := pe.Value.(*singleflight.PanicError)
			require.True(t, ok, "the outer panic's Value is the inner *PanicError, not %T", pe.Value)
			assert.Equal(t, value, innerPE.Value)
			if _, isErr := value.(error); isErr {
				assert.ErrorIs(t, err, value.(error), "errors.Is sees through both panics")
			} else {
				assert.NotErrorIs(t, err, new(errValue))
			}
			assert.Zero(t, singleflight.InFlight(&inner))
			assert.Zero(t, singleflight.InFlight(&outer))
		})
	}
}

// TestEveryCallerOfAPanickingDoPanicsAndNoneHangs ports x/sync's TestPanicDo
// (golang/go#41133: a panic in fn left the key's other callers waiting for
// ever). Five callers race into Do, on both kinds of context, while fn
// panics; each re-panics with the *PanicError, none hangs (synctest reports
// a deadlock), and the key is free afterwards.
func TestEveryCallerOfAPanickingDoPanicsAndNoneHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		fn := func(context.Context) (int, error) {
			panic("invalid memory address or nil pointer dereference")
		}
		const n = 5
		panics := make(chan any, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				defer func() { panics <- recover() }()
				ctx := context.Background()
				if i%2 == 1 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
				}
				g.Do(ctx, "key", fn)
			})
		}
		wg.Wait()
		close(panics)
		count := 0
		for p := range panics {
			pe, ok := p.(*singleflight.PanicError)
			if assert.True(t, ok, "Do re-panicked with %T, not *PanicError", p) {
				assert.Equal(t, "invalid memory address or nil pointer dereference", pe.Value)
				count++
			}
		}
		assert.Equal(t, n, count, "every caller panicked")
		assert.Zero(t, singleflight.InFlight(&g))
	})
}

// TestGoexitInDoEndsTheRunnerAndFreesTheOthers ports x/sync's TestGoexitDo:
// five callers of a context that can never end race into Do while fn calls
// runtime.Goexit. In x/sync every caller's goroutine exits; here only the
// goroutine that ran fn does (as runtime.Goexit makes it), and the callers
// that joined get ErrGoexit (singleflight/doc.go). Nobody hangs.
func TestGoexitInDoEndsTheRunnerAndFreesTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		release := make(chan struct{})
		fn := func(context.Context) (int, error) {
			<-release
			runtime.Goexit()
			return 0, nil
		}
		const n = 5
		var returned, exited atomic.Int32
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				normal := false
				defer func() {
					if !normal {
						exited.Add(1)
					}
				}()
				_, err, _ := g.Do(context.Background(), "key", fn)
				assert.ErrorIs(t, err, singleflight.ErrGoexit)
				returned.Add(1)
				normal = true
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		assert.Equal(t, int32(1), exited.Load(), "the goroutine that ran fn ended")
		assert.Equal(t, int32(n-1), returned.Load(), "the joiners returned ErrGoexit")
		assert.Zero(t, singleflight.InFlight(&g))
	})
}

// TestAPanicInDoChanIsDeliveredNotRaised ports x/sync's TestPanicDoChan,
// which checks that a panic in DoChan's fn crashes the process (nobody could
// recover it). Here it is delivered as the Result's *PanicError
// (singleflight/doc.go, DESIGN "singleflight"); the process, this test's,
// keeps running.
func TestAPanicInDoChanIsDeliveredNotRaised(t *testing.T) {
	for _, c := range contexts {
		t.Run(c.name, func(t *testing.T) {
			var g singleflight.Group[string, int]
			r := <-g.DoChan(c.ctx(t), "", func(context.Context) (int, error) {
				panic("Panicking in DoChan")
			})
			var pe *singleflight.PanicError
			require.ErrorAs(t, r.Err, &pe)
			assert.Equal(t, "Panicking in DoChan", pe.Value)
			assert.Contains(t, string(pe.Stack), "TestAPanicInDoChanIsDeliveredNotRaised")
			assert.Zero(t, singleflight.InFlight(&g))
		})
	}
}

// TestAPanicInDoSharedByDoChanReachesBoth ports x/sync's
// TestPanicDoSharedByDoChan (a crash there): Do's fn panics while a DoChan
// of the key has joined it. The Do caller re-panics, the DoChan receiver
// gets the same *PanicError, and DoChan's own fn never runs.
func TestAPanicInDoSharedByDoChanReachesBoth(t *testing.T) {
	for _, c := range contexts {
		t.Run("starter="+c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g singleflight.Group[string, int]
				unblock := make(chan struct{})
				doPanic := make(chan any, 1)
				go func() {
					defer func() { doPanic <- recover() }()
					g.Do(c.ctx(t), "", func(context.Context) (int, error) {
						<-unblock
						panic("Panicking in Do")
					})
				}()
				synctest.Wait()
				ch := g.DoChan(context.Background(), "", func(context.Context) (int, error) {
					t.Error("DoChan unexpectedly executed its callback")
					return 0, nil
				})
				close(unblock)
				r := <-ch
				var pe *singleflight.PanicError
				require.ErrorAs(t, r.Err, &pe)
				assert.Equal(t, "Panicking in Do", pe.Value)
				assert.True(t, r.Shared)
				assert.Same(t, pe, <-doPanic, "both callers hear of the same panic")
			})
		})
	}
}

// TestGoexitInDoChanDeliversErrGoexitToEveryReceiver replays golang/go#52557:
// x/sync's DoChan never sent on its channels when fn called
// runtime.Goexit, so every receiver waited for ever. Here each receiver, of
// either kind of context, gets ErrGoexit, and nothing is left behind.
func TestGoexitInDoChanDeliversErrGoexitToEveryReceiver(t *testing.T) {
	for _, c := range contexts {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g singleflight.Group[string, int]
				release := make(chan struct{})
				fn := func(context.Context) (int, error) {
					<-release
					runtime.Goexit()
					return 1, nil
				}
				chans := []<-chan singleflight.Result[int]{
					g.DoChan(c.ctx(t), "key", fn),
					g.DoChan(context.Background(), "key", fn),
					g.DoChan(contexts[1].ctx(t), "key", fn),
				}
				close(release)
				for _, ch := range chans {
					assert.ErrorIs(t, (<-ch).Err, singleflight.ErrGoexit)
				}
				synctest.Wait()
				assert.Zero(t, singleflight.InFlight(&g))
			})
		})
	}
	goleak.VerifyNone(t)
}
