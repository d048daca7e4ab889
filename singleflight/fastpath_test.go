package singleflight_test

import (
	"context"
	"errors"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/singleflight"
)

// stackOf returns the stack fn runs on, in which the frames of the caller
// show when fn runs on the caller's goroutine.
func stackOf(context.Context) (string, error) {
	return string(debug.Stack()), nil
}

// callerMarkerBackground calls Do with ctx; its name marks its frame.
func callerMarkerBackground(g *singleflight.Group[string, string], ctx context.Context) string {
	v, err, _ := g.Do(ctx, "k", stackOf)
	if err != nil {
		return err.Error()
	}
	return v
}

func TestFnRunsOnCallersGoroutineOnlyWhenItsContextCannotEnd(t *testing.T) {
	var g singleflight.Group[string, string]
	stack := callerMarkerBackground(&g, context.Background())
	assert.Contains(t, stack, "callerMarkerBackground", "with a context that cannot end, fn runs on the caller's goroutine")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stack = callerMarkerBackground(&g, ctx)
	assert.NotContains(t, stack, "callerMarkerBackground", "with a context that can end, fn runs on a goroutine of its own")

	// context.WithoutCancel of a cancellable context can never end either.
	stack = callerMarkerBackground(&g, context.WithoutCancel(ctx))
	assert.Contains(t, stack, "callerMarkerBackground")

	// DoChan always returns at once, so it never runs fn on the caller's goroutine.
	r := <-g.DoChan(context.Background(), "k", stackOf)
	assert.NotContains(t, r.Val, "TestFnRunsOnCallersGoroutine")
	assert.Zero(t, singleflight.InFlight(&g))
}

func TestJoinersOfAnInlineCallCanStillLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		var calls atomic.Int32
		release := make(chan struct{})
		fn := blockingFn(&calls, release, 9, nil)

		starter := make(chan int)
		go func() {
			v, err, shared := g.Do(context.Background(), "k", fn) // runs fn inline
			assert.NoError(t, err)
			assert.True(t, shared)
			starter <- v
		}()
		synctest.Wait()

		ctx, cancel := context.WithCancel(context.Background())
		leaver := make(chan error)
		go func() {
			_, err, shared := g.Do(ctx, "k", fn)
			assert.True(t, shared)
			leaver <- err
		}()
		stayer := make(chan int)
		go func() {
			v, err, _ := g.Do(context.Background(), "k", fn)
			assert.NoError(t, err)
			stayer <- v
		}()
		chLeaver := g.DoChan(ctx, "k", fn)
		synctest.Wait()
		assert.Equal(t, 3, singleflight.Joiners(&g, "k"))

		cancel()
		assert.ErrorIs(t, <-leaver, context.Canceled)
		assert.ErrorIs(t, (<-chLeaver).Err, context.Canceled)

		close(release)
		assert.Equal(t, 9, <-starter)
		assert.Equal(t, 9, <-stayer)
		assert.Equal(t, int32(1), calls.Load())
		assert.Zero(t, singleflight.InFlight(&g))
	})
}

func TestForgetDuringAnInlineCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		var oldCalls, newCalls atomic.Int32
		releaseOld, releaseNew := make(chan struct{}), make(chan struct{})
		old := make(chan string)
		go func() {
			v, _, _ := g.Do(context.Background(), "k", blockingFn(&oldCalls, releaseOld, "old", nil))
			old <- v
		}()
		synctest.Wait()
		g.Forget("k")
		newer := make(chan string)
		go func() {
			v, _, _ := g.Do(context.Background(), "k", blockingFn(&newCalls, releaseNew, "new", nil))
			newer <- v
		}()
		synctest.Wait()
		assert.Equal(t, int32(1), newCalls.Load(), "the call after Forget started afresh")

		close(releaseOld)
		assert.Equal(t, "old", <-old)
		assert.Equal(t, 1, singleflight.InFlight(&g), "the old call must not remove the newer one")
		close(releaseNew)
		assert.Equal(t, "new", <-newer)
		assert.Zero(t, singleflight.InFlight(&g))
	})
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

func TestDetachedContextReportsNoCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		ctx := context.WithValue(context.Background(), ctxKey{}, "request-9")
		ctx, cancel := context.WithCancelCause(ctx)
		var fnCtx context.Context
		release := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, err, _ := g.Do(ctx, "k", func(ctx context.Context) (string, error) {
				fnCtx = ctx
				<-release
				return "", nil
			})
			assert.ErrorIs(t, err, context.Canceled)
		}()
		synctest.Wait()
		cancel(errors.New("client went away"))
		<-done

		assert.Equal(t, "request-9", fnCtx.Value(ctxKey{}))
		assert.NoError(t, fnCtx.Err())
		assert.Nil(t, fnCtx.Done())
		assert.NoError(t, context.Cause(fnCtx), "the caller's cause must not reach fn")
		child, cancelChild := context.WithCancel(fnCtx)
		assert.NoError(t, child.Err(), "a child of fn's context does not inherit the caller's cancellation")
		cancelChild()
		assert.ErrorIs(t, child.Err(), context.Canceled)
		assert.Contains(t, fnCtx.(interface{ String() string }).String(), "WithoutCancel")
		close(release)
		synctest.Wait()
	})
}

func TestDetachedContextHidesItsParentsCanceller(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	assert.True(t, singleflight.DetachedHidesCancelKey(ctx))
}
