package singleflight_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache/singleflight"
)

// TestReview16ReuseUnderChaos mixes, on a few keys, cancellable and
// Background Do, DoChan, Claim, Forget, callers that cancel at random, and fn
// that returns, panics or calls runtime.Goexit, so that reused calls are
// recycled as fast as possible. Every result must come from an fn of the
// caller's key that started before the caller returned (a recycled call read
// too late would give another key's value, or none yet produced).
func TestReview16ReuseUnderChaos(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	const keys, workers, rounds = 4, 8, 400
	var g singleflight.Group[int, int]
	var mu sync.Mutex
	produced := map[int]bool{}
	var seq atomic.Int64

	produce := func(key int) int {
		v := key*1_000_000 + int(seq.Add(1))
		mu.Lock()
		produced[v] = true
		mu.Unlock()
		return v
	}
	check := func(key, v int, _ int64) {
		if v/1_000_000 != key {
			t.Errorf("key %d got value %d of key %d", key, v, v/1_000_000)
			return
		}
		mu.Lock()
		ok := produced[v]
		mu.Unlock()
		if !ok {
			t.Errorf("key %d got value %d that no fn produced", key, v)
		}
	}
	errBoom := errors.New("boom")

	var wg sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(w)))
		var rmu sync.Mutex
		intn := func(n int) int { rmu.Lock(); defer rmu.Unlock(); return rng.IntN(n) }
		wg.Go(func() {
			var inner sync.WaitGroup
			defer inner.Wait()
			for range rounds {
				key := intn(keys)
				mode := intn(10) // what fn does
				fn := func(ctx context.Context) (int, error) {
					if intn(3) == 0 {
						runtime.Gosched()
					}
					switch mode {
					case 0:
						panic(produce(key))
					case 1:
						if ctx.Done() == nil {
							// Goexit on a Background caller's goroutine ends it;
							// that is documented, but keep it to the others.
							return produce(key), nil
						}
						produce(key)
						runtime.Goexit()
					case 2:
						return produce(key), errBoom
					}
					return produce(key), nil
				}
				arrived := int64(0)
				switch intn(6) {
				case 0, 1: // cancellable Do, maybe cancelled while it waits
					inner.Go(func() {
						ctx, cancel := context.WithCancel(context.Background())
						defer cancel()
						if intn(2) == 0 {
							go cancel()
						}
						func() {
							defer func() {
								if p := recover(); p != nil {
									var pe *singleflight.PanicError
									if assert.ErrorAs(t, p.(error), &pe) {
										check(key, pe.Value.(int), arrived)
									}
								}
							}()
							v, err, _ := g.Do(ctx, key, fn)
							switch {
							case errors.Is(err, context.Canceled), errors.Is(err, singleflight.ErrGoexit):
							case err == nil, errors.Is(err, errBoom):
								check(key, v, arrived)
							default:
								t.Errorf("unexpected error %v", err)
							}
						}()
					})
				case 2: // Background Do
					inner.Go(func() {
						defer func() {
							if p := recover(); p != nil {
								var pe *singleflight.PanicError
								if assert.ErrorAs(t, p.(error), &pe) {
									check(key, pe.Value.(int), arrived)
								}
							}
						}()
						v, err, _ := g.Do(context.Background(), key, fn)
						if err == nil || errors.Is(err, errBoom) {
							check(key, v, arrived)
						}
					})
				case 3: // DoChan, sometimes cancelled
					inner.Go(func() {
						ctx, cancel := context.WithCancel(context.Background())
						defer cancel()
						if intn(2) == 0 {
							go cancel()
						}
						r := <-g.DoChan(ctx, key, fn)
						var pe *singleflight.PanicError
						switch {
						case errors.As(r.Err, &pe):
							check(key, pe.Value.(int), arrived)
						case errors.Is(r.Err, context.Canceled), errors.Is(r.Err, singleflight.ErrGoexit):
						default:
							check(key, r.Val, arrived)
						}
					})
				case 4: // Claim: finish it if started, else wait
					inner.Go(func() {
						tk, started, err := g.Claim(key)
						if !assert.NoError(t, err) {
							return
						}
						if started {
							tk.Finish(produce(key), nil)
						}
						ctx, cancel := context.WithCancel(context.Background())
						defer cancel()
						if intn(2) == 0 {
							go cancel()
						}
						v, err, _ := tk.Wait(ctx)
						var pe *singleflight.PanicError
						switch {
						case errors.As(err, &pe):
							check(key, pe.Value.(int), arrived)
						case errors.Is(err, context.Canceled), errors.Is(err, singleflight.ErrGoexit):
						default:
							check(key, v, arrived)
						}
					})
				case 5:
					g.Forget(key)
				}
			}
		})
	}
	wg.Wait()
	// Calls that every caller left go on; they end on their own.
	deadline := time.Now().Add(10 * time.Second)
	for singleflight.InFlight(&g) != 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	assert.Zero(t, singleflight.InFlight(&g))
}
