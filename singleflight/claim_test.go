package singleflight_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/singleflight"
)

func TestClaimStartsOrJoinsAndFinishReleasesEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		first, started, err := g.Claim("k")
		require.NoError(t, err)
		require.True(t, started)
		second, started, err := g.Claim("k")
		require.NoError(t, err)
		assert.False(t, started, "a second claim joins the call in flight")

		got := make(chan int, 3)
		for _, tk := range []singleflight.Ticket[string, int]{first, second} {
			go func() {
				v, err, shared := tk.Wait(context.Background())
				assert.NoError(t, err)
				assert.True(t, shared)
				got <- v
			}()
		}
		go func() { // Do joins a call started by Claim
			v, err, shared := g.Do(context.Background(), "k", func(context.Context) (int, error) {
				t.Error("Do ran fn while a claimed call was in flight")
				return 0, nil
			})
			assert.NoError(t, err)
			assert.True(t, shared)
			got <- v
		}()
		synctest.Wait()
		assert.False(t, first.Ended())
		assert.True(t, first.Finish(42, nil))
		assert.False(t, first.Finish(7, errors.New("late")), "only the first Finish counts")
		assert.True(t, first.Ended())
		for range 3 {
			assert.Equal(t, 42, <-got)
		}
		_, started, _ = g.Claim("k")
		assert.True(t, started, "the key is free once the call ended")
	})
}

func TestClaimWaitLeavesWhenItsContextEnds(t *testing.T) {
	var g singleflight.Group[string, int]
	tk, _, err := g.Claim("k")
	require.NoError(t, err)
	defer tk.Finish(0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err, _ = tk.Wait(ctx)
	assert.ErrorIs(t, err, context.Canceled)
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

func TestClaimOfABadKeyIsAnErrorAndANaNIsNeverShared(t *testing.T) {
	var g singleflight.Group[any, int]
	_, _, err := g.Claim([]int{1})
	assert.ErrorIs(t, err, singleflight.ErrUnhashableKey)
	_, _, err = g.Claim(struct{ X any }{map[int]int{}})
	assert.ErrorIs(t, err, singleflight.ErrUnhashableKey)

	a, started, err := g.Claim(math.NaN())
	require.NoError(t, err)
	assert.True(t, started)
	b, started, _ := g.Claim(math.NaN())
	assert.True(t, started, "a key that does not equal itself can never be joined")
	assert.Equal(t, 0, singleflight.InFlight(&g), "and leaves nothing in the group")
	a.Finish(1, nil)
	b.Finish(2, nil)
	v, _, _ := b.Wait(context.Background())
	assert.Equal(t, 2, v)

	_, started, err = g.Claim("fine")
	require.NoError(t, err)
	assert.True(t, started, "the group still works")
}

// An unshared call is joined by nobody, and leaves the call in flight for
// its key as it is.
func TestClaimUnsharedIsJoinedByNobody(t *testing.T) {
	var g singleflight.Group[string, int]
	shared, started, err := g.Claim("k")
	require.NoError(t, err)
	require.True(t, started)

	alone, err := g.ClaimUnshared("k")
	require.NoError(t, err)
	joiner, started, err := g.Claim("k")
	require.NoError(t, err)
	assert.False(t, started, "the shared call is still the key's")

	require.True(t, alone.Finish(1, nil))
	v, err, wasShared := alone.Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	assert.False(t, wasShared)
	assert.False(t, joiner.Ended(), "finishing the unshared call ends nothing else")

	require.True(t, shared.Finish(2, nil))
	v, _, _ = joiner.Wait(context.Background())
	assert.Equal(t, 2, v)

	var bad singleflight.Group[any, int]
	_, err = bad.ClaimUnshared([]int{1})
	assert.ErrorIs(t, err, singleflight.ErrUnhashableKey)
}
