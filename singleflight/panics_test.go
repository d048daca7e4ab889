package singleflight_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
