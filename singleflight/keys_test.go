package singleflight_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/singleflight"
)

type ifaceField struct {
	ID   int
	Part any
}

type nanAndIface struct {
	F    float64
	Part any
}

func TestKeyKindIsDecidedByTheKeyType(t *testing.T) {
	assert.Equal(t, "plain", singleflight.KeyKind[string]())
	assert.Equal(t, "plain", singleflight.KeyKind[int]())
	assert.Equal(t, "plain", singleflight.KeyKind[*int]())
	assert.Equal(t, "plain", singleflight.KeyKind[struct {
		A string
		B [2]int
	}]())
	assert.Equal(t, "plain", singleflight.KeyKind[[0]any]())
	assert.Equal(t, "float", singleflight.KeyKind[float64]())
	assert.Equal(t, "float", singleflight.KeyKind[complex64]())
	assert.Equal(t, "float", singleflight.KeyKind[struct{ X, Y float32 }]())
	assert.Equal(t, "iface", singleflight.KeyKind[any]())
	assert.Equal(t, "iface", singleflight.KeyKind[error]())
	assert.Equal(t, "iface", singleflight.KeyKind[ifaceField]())
	assert.Equal(t, "iface", singleflight.KeyKind[[3]any]())
	assert.Equal(t, "iface", singleflight.KeyKind[nanAndIface]())
}

// unhashableKeys are keys of interface-holding types whose dynamic values Go
// cannot hash, with the type the error must name.
func unhashableKeys() []struct {
	key      any
	typeName string
} {
	return []struct {
		key      any
		typeName string
	}{
		{[]int{1}, "[]int"},
		{map[string]int{}, "map[string]int"},
		{func() {}, "func()"},
		{ifaceField{ID: 1, Part: []byte("x")}, "[]uint8"},
		{[2]any{1, []string{"a"}}, "[]string"},
		{struct{ M map[int]int }{}, "map[int]int"},
	}
}

func TestUnhashableKeyIsAnErrorFromEveryEntryPoint(t *testing.T) {
	var g singleflight.Group[any, int]
	var ran atomic.Int32
	fn := func(context.Context) (int, error) { ran.Add(1); return 1, nil }
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()

	for _, k := range unhashableKeys() {
		for _, ctx := range []context.Context{context.Background(), cancellable} {
			_, err, shared := g.Do(ctx, k.key, fn)
			require.ErrorIs(t, err, singleflight.ErrUnhashableKey, "Do(%T)", k.key)
			assert.Contains(t, err.Error(), k.typeName)
			assert.False(t, shared)

			r := <-g.DoChan(ctx, k.key, fn)
			assert.ErrorIs(t, r.Err, singleflight.ErrUnhashableKey, "DoChan(%T)", k.key)

			ch, started := g.DoChanStarted(ctx, k.key, fn)
			assert.False(t, started)
			assert.ErrorIs(t, (<-ch).Err, singleflight.ErrUnhashableKey, "DoChanStarted(%T)", k.key)

			_, err = singleflight.Wrap(&g, func(context.Context, any) (int, error) { return 1, nil })(ctx, k.key)
			assert.ErrorIs(t, err, singleflight.ErrUnhashableKey, "Wrap(%T)", k.key)
		}
		assert.NotPanics(t, func() { g.Forget(k.key) }, "Forget(%T)", k.key)
	}
	assert.Zero(t, ran.Load(), "fn must not run for a key that cannot be hashed")

	// The Group still works for every other key, at once: nothing was left
	// holding its lock.
	done := make(chan struct{})
	go func() {
		defer close(done)
		v, err, _ := g.Do(context.Background(), "fine", fn)
		assert.NoError(t, err)
		assert.Equal(t, 1, v)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the Group is wedged after an unhashable key")
	}
	assert.Zero(t, singleflight.InFlight(&g))
}

// TestUnhashableKeyAtEachEntryPointLeavesTheGroupWorking gives each entry
// point, on a Group of its own, a key Go cannot hash: none panics, and none
// leaves the Group's lock held, so a later call on another key goes through
// (issue 12).
func TestUnhashableKeyAtEachEntryPointLeavesTheGroupWorking(t *testing.T) {
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

func TestUnhashableKeyInAStructKeyType(t *testing.T) {
	var g singleflight.Group[ifaceField, int]
	_, err, _ := g.Do(context.Background(), ifaceField{Part: map[int]bool{}}, func(context.Context) (int, error) { return 1, nil })
	require.ErrorIs(t, err, singleflight.ErrUnhashableKey)
	assert.Contains(t, err.Error(), "ifaceField")
	assert.Contains(t, err.Error(), "map[int]bool")
	v, err, _ := g.Do(context.Background(), ifaceField{ID: 2, Part: "ok"}, func(context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	assert.Equal(t, 2, v)
}

func TestKeysThatDoNotEqualThemselvesRunUnsharedAndLeaveNothing(t *testing.T) {
	nan := math.NaN()
	t.Run("float64", func(t *testing.T) {
		testSelfUnequalKey(t, nan)
	})
	t.Run("any", func(t *testing.T) {
		testSelfUnequalKey[any](t, nan)
	})
	t.Run("struct", func(t *testing.T) {
		testSelfUnequalKey(t, struct{ X, Y float32 }{1, float32(nan)})
	})
	t.Run("struct with NaN before an unhashable value", func(t *testing.T) {
		// Comparison stops at the NaN and never reaches the slice; the key
		// is never kept among the calls in flight, so nothing hashes it.
		testSelfUnequalKey(t, nanAndIface{F: nan, Part: []int{1}})
	})
}

func testSelfUnequalKey[K comparable](t *testing.T, key K) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[K, int]
		var calls atomic.Int32
		release := make(chan struct{})
		fn := blockingFn(&calls, release, 4, nil)

		cancellable, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		for _, ctx := range []context.Context{context.Background(), cancellable, context.Background()} {
			wg.Go(func() {
				v, err, shared := g.Do(ctx, key, fn)
				assert.NoError(t, err)
				assert.Equal(t, 4, v)
				assert.False(t, shared, "a key that does not equal itself cannot be joined")
			})
		}
		ch, started := g.DoChanStarted(context.Background(), key, fn)
		assert.True(t, started)
		synctest.Wait()
		assert.Equal(t, int32(4), calls.Load(), "each caller runs fn for itself")
		assert.Zero(t, singleflight.InFlight(&g), "nothing is kept among the calls in flight")
		g.Forget(key) // does nothing, and does not panic

		close(release)
		wg.Wait()
		r := <-ch
		assert.NoError(t, r.Err)
		assert.False(t, r.Shared)
		assert.Zero(t, singleflight.InFlight(&g))

		// A panic for such a key still reaches its caller.
		assert.Panics(t, func() { g.Do(context.Background(), key, explode) })
		var pe *singleflight.PanicError
		assert.True(t, errors.As((<-g.DoChan(cancellable, key, explode)).Err, &pe))
		assert.Zero(t, singleflight.InFlight(&g))
	})
}

// TestBadKeysAmongGoodOnesUnderLoad mixes keys Go cannot hash and keys that do
// not equal themselves with ordinary keys, from many goroutines, with
// contexts that can and cannot end: the bad keys get their errors, the
// others their values, and nothing is left in flight.
func TestBadKeysAmongGoodOnesUnderLoad(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	keys := []any{1, "a", math.NaN(), []int{1}, map[int]int{}, nanAndIface{F: math.NaN(), Part: 1}, ifaceField{ID: 3, Part: "x"}}
	var g singleflight.Group[any, int]
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for range 300 {
				key := keys[rng.IntN(len(keys))]
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if rng.IntN(2) == 0 {
					ctx, cancel = context.WithCancel(ctx)
				}
				_, unhashable := key.([]int)
				if _, ok := key.(map[int]int); ok {
					unhashable = true
				}
				fn := func(context.Context) (int, error) {
					runtime.Gosched()
					return 5, nil
				}
				var v int
				var err error
				switch rng.IntN(3) {
				case 0:
					v, err, _ = g.Do(ctx, key, fn)
				case 1:
					r := <-g.DoChan(ctx, key, fn)
					v, err = r.Val, r.Err
				default:
					g.Forget(key)
				}
				cancel()
				if v == 0 && err == nil {
					continue // Forget
				}
				if unhashable {
					assert.ErrorIs(t, err, singleflight.ErrUnhashableKey, "seed %d key %v", seed, key)
				} else if assert.NoError(t, err, "seed %d key %v", seed, key) {
					assert.Equal(t, 5, v)
				}
			}
		})
	}
	wg.Wait()
	assert.Zero(t, singleflight.InFlight(&g))
}
