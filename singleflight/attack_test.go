package singleflight_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache/singleflight"
)

// TestAttackUnhashableKeysDoNotWedgeTheGroup: issue 12 asks that "keys Go
// cannot hash are errors, not panics, from every entry point of the Loader
// and of singleflight". Only Claim checks its key. Do, DoChan,
// DoChanStarted and Forget index the map holding g.mu: the panic leaves the
// mutex locked, and every later call of the Group, on any key, blocks for
// ever.
func TestAttackUnhashableKeysDoNotWedgeTheGroup(t *testing.T) {
	fn := func(context.Context) (int, error) { return 1, nil }
	for name, bad := range map[string]func(g *singleflight.Group[any, int]){
		"Do":            func(g *singleflight.Group[any, int]) { g.Do(context.Background(), []int{1}, fn) },
		"DoChan":        func(g *singleflight.Group[any, int]) { g.DoChan(context.Background(), []int{1}, fn) },
		"DoChanStarted": func(g *singleflight.Group[any, int]) { g.DoChanStarted(context.Background(), []int{1}, fn) },
		"Forget":        func(g *singleflight.Group[any, int]) { g.Forget(map[string]int{}) },
	} {
		t.Run(name, func(t *testing.T) {
			var g singleflight.Group[any, int]
			assert.NotPanics(t, func() { bad(&g) }, "an unhashable key is an error, not a panic")
			done := make(chan struct{})
			go func() {
				defer close(done)
				v, err, _ := g.Do(context.Background(), "ok", fn)
				assert.NoError(t, err)
				assert.Equal(t, 1, v)
			}()
			select {
			case <-done:
			case <-time.After(2 * time.Second): // a deadlock, not a timing assertion
				t.Fatal("the Group is wedged: a later call on another key blocks")
			}
		})
	}
}
