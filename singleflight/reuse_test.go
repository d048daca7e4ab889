package singleflight_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/singleflight"
)

// The tests below are about the calls that a cancellable Do starts, which
// the Group reuses once every party that can read one has let go of it.

// churn runs n cancellable calls, on key and on keys of their own, that each
// return -1, so that any call given back too early is reused and overwritten.
func churn(t *testing.T, g *singleflight.Group[string, int], key string, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range n {
		k := key
		if i%2 == 1 {
			k = fmt.Sprint("churn-", i)
		}
		v, err, _ := g.Do(ctx, k, func(context.Context) (int, error) { return -1, nil })
		require.NoError(t, err)
		require.Equal(t, -1, v)
	}
}

func TestFnKeepsItsContextAfterTheCallIsReused(t *testing.T) {
	var g singleflight.Group[string, int]
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "first"))
	defer cancel()
	var kept context.Context
	_, err, _ := g.Do(ctx, "k", func(ctx context.Context) (int, error) {
		kept = ctx
		return 1, nil
	})
	require.NoError(t, err)
	churn(t, &g, "k", 100)
	cancel()

	assert.Equal(t, "first", kept.Value(ctxKey{}), "fn's context must stay its caller's after fn returns")
	assert.NoError(t, kept.Err())
	assert.Nil(t, kept.Done())
}

func TestLateReadersOfACallSeeItsResultWhileOthersRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		var calls atomic.Int32
		release := make(chan struct{})
		fn := blockingFn(&calls, release, 7, nil)

		starterCtx, cancelStarter := context.WithCancel(context.Background())
		starterErr := make(chan error, 1)
		go func() {
			_, err, _ := g.Do(starterCtx, "k", fn)
			starterErr <- err
		}()
		synctest.Wait()

		joinerCtx, cancelJoiner := context.WithCancel(context.Background())
		defer cancelJoiner()
		got := make(chan int, 2)
		for _, ctx := range []context.Context{context.Background(), joinerCtx} {
			go func() {
				v, err, shared := g.Do(ctx, "k", fn)
				assert.NoError(t, err)
				assert.True(t, shared)
				got <- v
			}()
		}
		synctest.Wait()

		// The starter leaves, giving its part of the call back; the call
		// must stay whole for the joiners while other calls come and go.
		cancelStarter()
		require.ErrorIs(t, <-starterErr, context.Canceled)
		var wg sync.WaitGroup
		wg.Go(func() { churn(t, &g, "other", 50) })
		wg.Wait()

		close(release)
		assert.Equal(t, 7, <-got)
		assert.Equal(t, 7, <-got)
		assert.Equal(t, int32(1), calls.Load())
		churn(t, &g, "k", 50)
		assert.Zero(t, singleflight.InFlight(&g))
	})
}

func TestTicketAndDoChanJoinersOfACancellableCallKeepItsResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		var calls atomic.Int32
		release := make(chan struct{})
		fn := blockingFn(&calls, release, 7, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()

		starter := make(chan int, 1)
		go func() {
			v, err, _ := g.Do(ctx, "k", fn)
			assert.NoError(t, err)
			starter <- v
		}()
		synctest.Wait()

		ticket, started, err := g.Claim("k")
		require.NoError(t, err)
		require.False(t, started, "Claim joins the call a cancellable Do started")
		ch, started := g.DoChanStarted(ctx, "k", fn)
		require.False(t, started)

		close(release)
		assert.Equal(t, 7, <-starter)
		assert.Equal(t, 7, (<-ch).Val)
		churn(t, &g, "k", 100)

		// A Ticket may be read at any time after: its call must not have
		// been reused for the calls since.
		v, err, shared := ticket.Wait(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 7, v)
		assert.True(t, shared)
		assert.True(t, ticket.Ended())
		select {
		case <-ticket.Done():
		default:
			t.Fatal("the Ticket's call is no longer done")
		}
		assert.False(t, ticket.Finish(0, nil), "a joiner's Finish does nothing")
		assert.Equal(t, int32(1), calls.Load())
	})
}

func TestCancellableCallsServeBothSidesOfASynctestBubble(t *testing.T) {
	// Calls reused across the edge of a bubble must carry nothing that
	// belongs to one (a channel, a WaitGroup once added to): the runtime
	// ends the process, not the test, if they did.
	var g singleflight.Group[string, int]
	churn(t, &g, "k", 20)
	for range 2 {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			release := make(chan struct{})
			fn := blockingFn(&calls, release, 7, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan int, 3)
			for _, c := range []context.Context{ctx, context.Background(), ctx} {
				go func() {
					v, err, _ := g.Do(c, "k", fn)
					assert.NoError(t, err)
					got <- v
				}()
				synctest.Wait() // the first starts the call, the others join
			}
			close(release)
			for range 3 {
				assert.Equal(t, 7, <-got)
			}
			churn(t, &g, "k", 20)
		})
		churn(t, &g, "k", 20)
	}
}

func TestCancellableDoAllocatesAtMostTwice(t *testing.T) {
	var g singleflight.Group[string, int]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fn := func(context.Context) (int, error) { return 1, nil }
	g.Do(ctx, "k", fn)
	// The channel the caller waits on and fn's context are new for each
	// call; the call itself and its goroutine's closure are reused.
	allocs := testing.AllocsPerRun(1000, func() { g.Do(ctx, "k", fn) })
	assert.LessOrEqual(t, allocs, 2.0)
}
