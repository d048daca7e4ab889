package singleflight_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/singleflight"
)

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

func TestForgetMakesTheNextClaimStartAfresh(t *testing.T) {
	var g singleflight.Group[string, int]
	old, _, _ := g.Claim("k")
	g.Forget("k")
	fresh, started, _ := g.Claim("k")
	assert.True(t, started)
	old.Finish(1, nil)
	joined, started, _ := g.Claim("k")
	assert.False(t, started, "the old call, when it ended, left the newer one in place")
	fresh.Finish(2, nil)
	v, _, _ := joined.Wait(context.Background())
	assert.Equal(t, 2, v)
}

// TestForgetOfOneOfManyKeysInFlight has several keys in flight at once, so
// that the Group keeps the first apart from the others, and forgets keys of
// both kinds: each key is joined, forgotten and freed on its own, and an old
// call that ends leaves the newer call of its key in place.
func TestForgetOfOneOfManyKeysInFlight(t *testing.T) {
	var g singleflight.Group[string, int]
	claim := func(key string, wantStarted bool) singleflight.Ticket[string, int] {
		t.Helper()
		tk, started, err := g.Claim(key)
		require.NoError(t, err)
		require.Equal(t, wantStarted, started, "key %s", key)
		return tk
	}
	oldA, oldB, c := claim("a", true), claim("b", true), claim("c", true)
	assert.Equal(t, 3, singleflight.InFlight(&g))
	joinA, joinB, joinC := claim("a", false), claim("b", false), claim("c", false)

	g.Forget("a")
	g.Forget("b")
	assert.Equal(t, 1, singleflight.InFlight(&g))
	newA, newB := claim("a", true), claim("b", true)

	require.True(t, oldA.Finish(1, nil))
	require.True(t, oldB.Finish(2, nil))
	assert.Equal(t, 3, singleflight.InFlight(&g), "old calls leave the newer ones in place")
	joinNewA, joinNewB := claim("a", false), claim("b", false)

	require.True(t, newA.Finish(10, nil))
	require.True(t, newB.Finish(20, nil))
	require.True(t, c.Finish(3, nil))
	for _, w := range []struct {
		tk   singleflight.Ticket[string, int]
		want int
	}{{joinA, 1}, {joinB, 2}, {joinC, 3}, {joinNewA, 10}, {joinNewB, 20}} {
		v, err, shared := w.tk.Wait(context.Background())
		require.NoError(t, err)
		assert.Equal(t, w.want, v)
		assert.True(t, shared)
	}
	assert.Zero(t, singleflight.InFlight(&g))
	claim("a", true).Finish(0, nil)
	assert.Zero(t, singleflight.InFlight(&g))
}

func TestForgetAllStartsEveryKeyAfresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		release := make(chan struct{})
		var oldCalls, newCalls atomic.Int32
		keys := []string{"a", "b", "c"} // one in the Group's first slot, two in its map
		var old []<-chan singleflight.Result[string]
		for _, k := range keys {
			old = append(old, g.DoChan(context.Background(), k, blockingFn(&oldCalls, release, "old "+k, nil)))
		}
		synctest.Wait()
		g.ForgetAll()
		assert.Zero(t, singleflight.InFlight(&g), "nothing is listed after ForgetAll")
		var fresh []<-chan singleflight.Result[string]
		for _, k := range keys {
			fresh = append(fresh, g.DoChan(context.Background(), k, blockingFn(&newCalls, release, "new "+k, nil)))
		}
		synctest.Wait()
		assert.Equal(t, int32(3), newCalls.Load(), "every key's next call started afresh")
		close(release)
		for i, k := range keys {
			assert.Equal(t, "old "+k, (<-old[i]).Val, "a waiter from before ForgetAll keeps the old call's result")
			assert.Equal(t, "new "+k, (<-fresh[i]).Val)
		}
		synctest.Wait()
		assert.Zero(t, singleflight.InFlight(&g))
		g.ForgetAll() // with nothing in flight: nothing to do
	})
}

// TestAfterForgetTheOldCallEndingLeavesTheNewOneJoinable ports x/sync's
// TestForget, the regression test of golang/go#31420: after Forget, the end
// of the forgotten call deleted the key's newer call from the map, so a
// third caller started a third fn instead of joining the second. The first
// call runs on its caller's goroutine (as x/sync's Do always does) or on
// the Group's; the third caller must get the second call's 2.
func TestAfterForgetTheOldCallEndingLeavesTheNewOneJoinable(t *testing.T) {
	for _, c := range contexts {
		t.Run("first="+c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g singleflight.Group[string, int]
				firstStarted, unblockFirst, firstFinished := make(chan struct{}), make(chan struct{}), make(chan struct{})
				go func() {
					v, err, _ := g.Do(c.ctx(t), "key", func(context.Context) (int, error) {
						close(firstStarted)
						<-unblockFirst
						return 1, nil
					})
					assert.NoError(t, err)
					assert.Equal(t, 1, v, "the forgotten call's caller keeps its result")
					close(firstFinished)
				}()
				<-firstStarted
				g.Forget("key")

				unblockSecond := make(chan struct{})
				secondResult := g.DoChan(context.Background(), "key", func(context.Context) (int, error) {
					<-unblockSecond
					return 2, nil
				})

				close(unblockFirst)
				<-firstFinished

				thirdResult := g.DoChan(context.Background(), "key", func(context.Context) (int, error) {
					return 3, nil
				})

				close(unblockSecond)
				assert.Equal(t, 2, (<-secondResult).Val)
				r := <-thirdResult
				assert.Equal(t, 2, r.Val, "the third caller gets the result of the second call")
				assert.True(t, r.Shared)
				assert.Zero(t, singleflight.InFlight(&g))
			})
		})
	}
}
