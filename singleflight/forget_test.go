package singleflight_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/singleflight"
)

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
