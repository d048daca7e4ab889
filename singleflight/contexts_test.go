package singleflight_test

import (
	"context"
	"errors"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache/singleflight"
)

// The tests below are about contexts: each caller waits only as long as its
// own context allows, fn runs on the caller's goroutine only when that
// context can never end, and otherwise with a context of its own that keeps
// the caller's values but not its deadline, cancellation or cause.

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

// TestACancelledCallerDoesNotCancelTheCallOthersJoin replays
// tailscale/tailscale#18919: the first caller's context was cancelled while
// its fn ran, and a caller that joined afterwards, with a context that can
// never end, got the first caller's context.Canceled. Here fn runs with a
// context of its own: the first caller gets its ctx.Err(), the joiner fn's
// result, and its own fn never runs.
func TestACancelledCallerDoesNotCancelTheCallOthersJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		done := make(chan struct{})
		ctxA, cancelA := context.WithCancel(context.Background())
		chA := g.DoChan(ctxA, "key", func(ctx context.Context) (string, error) {
			<-done
			return "ok", ctx.Err()
		})
		cancelA()
		synctest.Wait()

		chB := g.DoChan(context.Background(), "key", func(context.Context) (string, error) {
			t.Error("B's fn must not be called; B shares the call in flight")
			return "", nil
		})
		var bDo string
		var bErr error
		doneB := make(chan struct{})
		go func() {
			defer close(doneB)
			bDo, bErr, _ = g.Do(context.Background(), "key", func(context.Context) (string, error) {
				t.Error("fn of a Do that joins must not run")
				return "", nil
			})
		}()
		synctest.Wait()
		close(done)

		resA := <-chA
		assert.ErrorIs(t, resA.Err, context.Canceled, "A cancelled: A gets its own ctx.Err()")
		resB := <-chB
		assert.NoError(t, resB.Err, "B's result must not carry A's cancellation")
		assert.Equal(t, "ok", resB.Val)
		<-doneB
		assert.NoError(t, bErr)
		assert.Equal(t, "ok", bDo)
	})
}

// TestACallerLeavingDoesNotLetASecondCallStart replays janos/singleflight#4:
// a caller whose context ended removed the key from the group while its fn
// still ran, so the next caller started a second fn beside it. Here every
// caller of the call in flight, the one that started it included, leaves;
// a caller that comes next still joins that call, and fn runs once.
func TestACallerLeavingDoesNotLetASecondCallStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		var calls atomic.Int32
		release := make(chan struct{})
		fn := blockingFn(&calls, release, 7, nil)

		for range 3 {
			ctx, cancel := context.WithCancel(context.Background())
			ch := g.DoChan(ctx, "key", fn)
			left := make(chan error, 1)
			go func() { _, err, _ := g.Do(ctx, "key", fn); left <- err }()
			synctest.Wait()
			cancel()
			assert.ErrorIs(t, (<-ch).Err, context.Canceled)
			assert.ErrorIs(t, <-left, context.Canceled)
		}
		assert.Equal(t, 1, singleflight.InFlight(&g), "the call goes on, still joinable, when its callers leave")
		next := g.DoChan(context.Background(), "key", fn)
		close(release)
		r := <-next
		assert.NoError(t, r.Err)
		assert.Equal(t, 7, r.Val)
		assert.True(t, r.Shared)
		assert.Equal(t, int32(1), calls.Load(), "no second fn ran beside the first")
	})
}
