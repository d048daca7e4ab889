package singleflight_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache/singleflight"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// blockingFn returns a fn that counts its runs, signals started, then waits for
// release and returns v, err.
func blockingFn[V any](calls *atomic.Int32, release <-chan struct{}, v V, err error) func(context.Context) (V, error) {
	return func(context.Context) (V, error) {
		calls.Add(1)
		<-release
		return v, err
	}
}

func TestDoReturnsResultAndIsNotSharedAlone(t *testing.T) {
	var g singleflight.Group[string, int]
	v, err, shared := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 42, nil })
	require.NoError(t, err)
	assert.Equal(t, 42, v)
	assert.False(t, shared)
	assert.Zero(t, singleflight.InFlight(&g))
}

func TestDoRunsFnOnceForConcurrentCallers(t *testing.T) {
	for _, name := range []string{"value", "error"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g singleflight.Group[string, *int]
				var calls atomic.Int32
				release := make(chan struct{})
				want := new(int)
				var wantErr error
				if name == "error" {
					want, wantErr = nil, errors.New("load failed")
				}
				fn := blockingFn(&calls, release, want, wantErr)

				const callers = 10
				type out struct {
					v      *int
					err    error
					shared bool
				}
				outs := make([]out, callers)
				var wg sync.WaitGroup
				for i := range callers {
					// Half of the callers can leave, half cannot: both wait paths
					// must see the same call.
					ctx := context.Background()
					if i%2 == 1 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithCancel(ctx)
						defer cancel()
					}
					wg.Go(func() {
						v, err, shared := g.Do(ctx, "k", fn)
						outs[i] = out{v, err, shared}
					})
					synctest.Wait() // the first caller starts, the rest join in order
				}
				assert.Equal(t, int32(1), calls.Load())
				assert.Equal(t, callers-1, singleflight.Joiners(&g, "k"))

				close(release)
				wg.Wait()
				for i, o := range outs {
					assert.Same(t, want, o.v, "caller %d", i)
					assert.True(t, o.err == wantErr, "caller %d got error %v, not the same instance", i, o.err)
					assert.True(t, o.shared, "caller %d", i)
				}
				assert.Zero(t, singleflight.InFlight(&g))
			})
		})
	}
}

func TestDoRunsDistinctKeysConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		aStarted, bStarted := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		// Each fn waits for the other to start: run one after the other, they
		// would deadlock, and synctest would report it.
		wg.Go(func() {
			v, err, _ := g.Do(context.Background(), "a", func(context.Context) (string, error) {
				close(aStarted)
				<-bStarted
				return "A", nil
			})
			assert.NoError(t, err)
			assert.Equal(t, "A", v)
		})
		wg.Go(func() {
			v, err, _ := g.Do(context.Background(), "b", func(context.Context) (string, error) {
				close(bStarted)
				<-aStarted
				return "B", nil
			})
			assert.NoError(t, err)
			assert.Equal(t, "B", v)
		})
		wg.Wait()
	})
}

func TestDoChanDeliversResultAndLeavesWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		var calls atomic.Int32
		release := make(chan struct{})
		fn := blockingFn(&calls, release, "v", nil)

		first := g.DoChan(context.Background(), "k", fn)
		ctx, cancel := context.WithCancel(context.Background())
		leaving := g.DoChan(ctx, "k", fn)
		second := g.DoChan(context.Background(), "k", fn)
		synctest.Wait()

		cancel()
		r := <-leaving
		assert.ErrorIs(t, r.Err, context.Canceled)
		assert.True(t, r.Shared)

		close(release)
		for _, ch := range []<-chan singleflight.Result[string]{first, second} {
			r := <-ch
			assert.NoError(t, r.Err)
			assert.Equal(t, "v", r.Val)
			assert.True(t, r.Shared)
		}
		assert.Equal(t, int32(1), calls.Load())
		select {
		case r := <-leaving:
			t.Fatalf("a receiver that left got a second result: %+v", r)
		default:
		}
	})
}

func TestDoChanStartedTellsStarterFromJoiner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		release := make(chan struct{})
		var calls atomic.Int32
		fn := blockingFn(&calls, release, 3, nil)
		first, started := g.DoChanStarted(context.Background(), "k", fn)
		assert.True(t, started)
		second, started := g.DoChanStarted(context.Background(), "k", fn)
		assert.False(t, started)
		other, started := g.DoChanStarted(context.Background(), "other", fn)
		assert.True(t, started)
		close(release)
		for _, ch := range []<-chan singleflight.Result[int]{first, second, other} {
			assert.Equal(t, 3, (<-ch).Val)
		}
		assert.Equal(t, int32(2), calls.Load())

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done, started := g.DoChanStarted(ctx, "k", fn)
		assert.False(t, started, "a caller whose context is done starts nothing")
		assert.ErrorIs(t, (<-done).Err, context.Canceled)
	})
}

func TestUnreadDoChanLeavesNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_ = g.DoChan(ctx, "k", func(context.Context) (int, error) { return 1, nil })
		_ = g.DoChan(context.Background(), "j", func(context.Context) (int, error) { return 2, nil })
		synctest.Wait()
		assert.Zero(t, singleflight.InFlight(&g))
	})
	// synctest.Test fails if a goroutine of the bubble is still blocked; the
	// context watch of the first call must have been stopped as well.
	goleak.VerifyNone(t)
}

func TestNilFnIsAnErrorNotAPanic(t *testing.T) {
	var g singleflight.Group[string, int]
	_, err, _ := g.Do(context.Background(), "k", nil)
	assert.Error(t, err)
	assert.Error(t, (<-g.DoChan(context.Background(), "k", nil)).Err)
	_, err = singleflight.Wrap[string, int](&g, nil)(context.Background(), "k")
	assert.Error(t, err)
	assert.Zero(t, singleflight.InFlight(&g))
}

func TestWrapSharesCallsPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[int, string]
		var calls atomic.Int32
		release := make(chan struct{})
		square := singleflight.Wrap(&g, func(_ context.Context, n int) (string, error) {
			calls.Add(1)
			<-release
			return fmt.Sprint(n * n), nil
		})
		results := make(chan string, 4)
		for _, n := range []int{3, 3, 3, 4} {
			go func() {
				v, err := square(context.Background(), n)
				assert.NoError(t, err)
				results <- v
			}()
		}
		synctest.Wait()
		assert.Equal(t, int32(2), calls.Load(), "one call per distinct key")
		close(release)
		var got []string
		for range 4 {
			got = append(got, <-results)
		}
		assert.ElementsMatch(t, []string{"9", "9", "9", "16"}, got)
	})
}
