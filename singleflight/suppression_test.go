package singleflight_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/singleflight"
)

// The tests below port golang.org/x/sync/singleflight's singleflight_test.go
// (TestDo, TestDoErr, TestDoDupSuppress, TestDoChan, ExampleGroup) to this
// package's typed, context-aware Group. Where x/sync's Do takes no context,
// each test runs its callers with both kinds of context this Group tells
// apart: one that can never end (fn then runs on the caller's goroutine, as
// in x/sync) and one that can (fn runs on a goroutine of the Group's).

// contexts are the two kinds of caller context, by name.
var contexts = []struct {
	name string
	ctx  func(t *testing.T) context.Context
}{
	{"background", func(*testing.T) context.Context { return context.Background() }},
	{"cancellable", func(t *testing.T) context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		return ctx
	}},
}

// TestDoReturnsTheValueOfFnAsItIs ports x/sync's TestDo: the value of fn
// reaches the caller, typed, with no error, and a call nobody joined is not
// shared.
func TestDoReturnsTheValueOfFnAsItIs(t *testing.T) {
	for _, c := range contexts {
		t.Run(c.name, func(t *testing.T) {
			var g singleflight.Group[string, string]
			v, err, shared := g.Do(c.ctx(t), "key", func(context.Context) (string, error) { return "bar", nil })
			require.NoError(t, err)
			assert.Equal(t, "bar", v)
			assert.False(t, shared)

			r := <-g.DoChan(c.ctx(t), "key", func(context.Context) (string, error) { return "bar", nil })
			require.NoError(t, r.Err)
			assert.Equal(t, "bar", r.Val, "x/sync's TestDoChan")
			assert.False(t, r.Shared)
			assert.Zero(t, singleflight.InFlight(&g))
		})
	}
}

// TestDoReturnsTheErrorOfFnItself ports x/sync's TestDoErr: the error fn
// returns reaches the caller as the same value (err == someErr, not a
// wrapper), beside the value fn returned with it.
func TestDoReturnsTheErrorOfFnItself(t *testing.T) {
	someErr := errors.New("some error")
	for _, c := range contexts {
		t.Run(c.name, func(t *testing.T) {
			var g singleflight.Group[string, *int]
			v, err, _ := g.Do(c.ctx(t), "key", func(context.Context) (*int, error) { return nil, someErr })
			assert.True(t, err == someErr, "Do error = %v; want someErr itself", err)
			assert.Nil(t, v)

			// The value fn returned beside its error is the caller's too.
			partial := new(int)
			v, err, _ = g.Do(c.ctx(t), "key", func(context.Context) (*int, error) { return partial, someErr })
			assert.True(t, err == someErr)
			assert.Same(t, partial, v)

			r := <-g.DoChan(c.ctx(t), "key", func(context.Context) (*int, error) { return nil, someErr })
			assert.True(t, r.Err == someErr, "DoChan error = %v; want someErr itself", r.Err)
		})
	}
}

// TestDoSuppressesDuplicatesThatArriveWhileFnRuns ports x/sync's
// TestDoDupSuppress. x/sync's test lets its callers race into Do and accepts
// anywhere from 1 to n-1 calls of fn, since a caller may arrive after fn
// returned. Here fn waits until every caller has joined (Joiners says so),
// so exactly one call is the only right answer; the callers arrive in no
// set order, on both kinds of context and through DoChan too.
func TestDoSuppressesDuplicatesThatArriveWhileFnRuns(t *testing.T) {
	for _, c := range contexts {
		t.Run("starter="+c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g singleflight.Group[string, string]
				var calls atomic.Int32
				release := make(chan struct{})
				fn := func(context.Context) (string, error) {
					calls.Add(1)
					<-release
					return "bar", nil
				}
				type out struct {
					v      string
					err    error
					shared bool
				}
				const n = 10
				outs := make(chan out, n)
				go func() {
					v, err, shared := g.Do(c.ctx(t), "key", fn)
					outs <- out{v, err, shared}
				}()
				synctest.Wait() // fn runs, for the starter
				var wg sync.WaitGroup
				for i := range n - 1 {
					wg.Go(func() {
						switch i % 3 {
						case 0:
							r := <-g.DoChan(context.Background(), "key", fn)
							outs <- out{r.Val, r.Err, r.Shared}
						default:
							v, err, shared := g.Do(contexts[i%2].ctx(t), "key", fn)
							outs <- out{v, err, shared}
						}
					})
				}
				synctest.Wait()
				require.Equal(t, n-1, singleflight.Joiners(&g, "key"), "every caller joined the call in flight")
				close(release)
				wg.Wait()
				for range n {
					o := <-outs
					require.NoError(t, o.err)
					assert.Equal(t, "bar", o.v)
					assert.True(t, o.shared, "every caller of a call with joiners shares it")
				}
				assert.Equal(t, int32(1), calls.Load(), "number of calls of fn")
				assert.Zero(t, singleflight.InFlight(&g))
			})
		})
	}
}

// TestDoChanCallsOfOneKeyShareTheFirstFn ports x/sync's ExampleGroup: two
// DoChan calls of one key made before the first fn returns share its result;
// the second fn never runs, and both receivers see Shared.
func TestDoChanCallsOfOneKeyShareTheFirstFn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, string]
		block := make(chan struct{})
		res1c := g.DoChan(context.Background(), "key", func(context.Context) (string, error) {
			<-block
			return "func 1", nil
		})
		res2c := g.DoChan(context.Background(), "key", func(context.Context) (string, error) {
			<-block
			return "func 2", nil
		})
		close(block)
		res1, res2 := <-res1c, <-res2c
		assert.True(t, res1.Shared)
		assert.True(t, res2.Shared)
		assert.Equal(t, "func 1", res1.Val)
		assert.Equal(t, res1.Val, res2.Val)
	})
}

// TestSharedSaysWhetherACallHadMoreThanOneCaller checks the shared flag of
// every kind of caller, which x/sync's tests check only through DoChan's
// example: false for a call with one caller; true for its starter and every
// joiner once anyone joined, a joiner that left included (it joined, so
// the starter shared its call with it).
func TestSharedSaysWhetherACallHadMoreThanOneCaller(t *testing.T) {
	for _, c := range contexts {
		t.Run("starter="+c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g singleflight.Group[string, int]
				release := make(chan struct{})
				fn := func(context.Context) (int, error) { <-release; return 1, nil }

				starter := make(chan bool, 1)
				go func() {
					_, _, shared := g.Do(c.ctx(t), "k", fn)
					starter <- shared
				}()
				synctest.Wait()

				leaverCtx, leave := context.WithCancel(context.Background())
				leaver := make(chan bool, 1)
				go func() {
					_, err, shared := g.Do(leaverCtx, "k", fn)
					assert.ErrorIs(t, err, context.Canceled)
					leaver <- shared
				}()
				synctest.Wait()
				leave()
				assert.True(t, <-leaver, "a joiner that left had joined a call another caller started")

				close(release)
				assert.True(t, <-starter, "the starter shared its call with the joiner that left")

				// With nobody joining, nothing is shared, whichever way the call runs.
				_, _, shared := g.Do(c.ctx(t), "k", func(context.Context) (int, error) { return 2, nil })
				assert.False(t, shared)
				r := <-g.DoChan(c.ctx(t), "k", func(context.Context) (int, error) { return 3, nil })
				assert.False(t, r.Shared)
			})
		})
	}
}

// TestSuppressionUnderRandomArrivals is a randomized take on
// TestDoDupSuppress: for each round, a random number of callers of a random
// mix of kinds (Do with either kind of context, DoChan, Wrap) arrive in a
// random order at a few keys while their fns are held; each key's fn runs
// once, every caller gets its own key's value, and the Group is empty
// afterwards. It prints its seed.
func TestSuppressionUnderRandomArrivals(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := range 50 {
		keys := 1 + rng.IntN(4)
		callers := 1 + rng.IntN(40)
		kinds := make([]int, callers)
		keyOf := make([]int, callers)
		for i := range callers {
			kinds[i], keyOf[i] = rng.IntN(4), rng.IntN(keys)
		}
		synctest.Test(t, func(t *testing.T) {
			var g singleflight.Group[int, int]
			calls := make([]atomic.Int32, keys)
			release := make(chan struct{})
			fnOf := func(k int) func(context.Context) (int, error) {
				return func(context.Context) (int, error) {
					calls[k].Add(1)
					<-release
					return 100 + k, nil
				}
			}
			wrapped := singleflight.Wrap(&g, func(ctx context.Context, k int) (int, error) { return fnOf(k)(ctx) })
			got := make([]int, callers)
			var wg sync.WaitGroup
			for i := range callers {
				k := keyOf[i]
				wg.Go(func() {
					var v int
					var err error
					switch kinds[i] {
					case 0:
						v, err, _ = g.Do(context.Background(), k, fnOf(k))
					case 1:
						ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
						defer cancel()
						v, err, _ = g.Do(ctx, k, fnOf(k))
					case 2:
						r := <-g.DoChan(context.Background(), k, fnOf(k))
						v, err = r.Val, r.Err
					default:
						v, err = wrapped(context.Background(), k)
					}
					assert.NoError(t, err)
					got[i] = v
				})
			}
			synctest.Wait()
			close(release)
			wg.Wait()
			for i := range callers {
				assert.Equal(t, 100+keyOf[i], got[i], "seed %d round %d: caller %d of key %d", seed, round, i, keyOf[i])
			}
			seen := map[int]bool{}
			for _, k := range keyOf {
				seen[k] = true
			}
			for k := range keys {
				want := int32(0)
				if seen[k] {
					want = 1
				}
				assert.Equal(t, want, calls[k].Load(), "seed %d round %d: calls of key %d", seed, round, k)
			}
			assert.Zero(t, singleflight.InFlight(&g))
		})
	}
}
