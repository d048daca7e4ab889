package singleflight_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache/singleflight"
)

// TestStress mixes keys, cancellations, timeouts, panics and Forget across
// many goroutines. Keys below forgetFrom are never forgotten, so at most one
// fn may run for each of them at a time. Run it with -race -count=20.
func TestStress(t *testing.T) {
	const (
		keys       = 8
		forgetFrom = 4
		workers    = 32
		opsEach    = 300
	)
	var g singleflight.Group[int, int]
	var active [keys]atomic.Int32
	var running atomic.Int32
	fn := func(key int, mode int) func(context.Context) (int, error) {
		return func(context.Context) (int, error) {
			running.Add(1)
			defer running.Add(-1)
			if n := active[key].Add(1); n > 1 && key < forgetFrom {
				t.Errorf("key %d: %d calls of fn at once", key, n)
			}
			defer active[key].Add(-1)
			for range rand.IntN(4) {
				runtime.Gosched()
			}
			switch mode {
			case 0:
				panic(fmt.Sprintf("panic %d", key))
			case 1:
				return 0, io.EOF
			}
			return key * 10, nil
		}
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range opsEach {
				key := rand.IntN(keys)
				mode := rand.IntN(10)
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				switch rand.IntN(4) {
				case 0:
					ctx, cancel = context.WithCancel(ctx)
					if rand.IntN(2) == 0 {
						cancel()
					} else {
						go cancel()
					}
				case 1:
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(50))*time.Microsecond)
				}
				if key >= forgetFrom && rand.IntN(5) == 0 {
					g.Forget(key)
				}
				check := func(v int, err error) {
					var pe *singleflight.PanicError
					switch {
					case err == nil:
						assert.Equal(t, key*10, v)
					case errors.Is(err, io.EOF), errors.As(err, &pe),
						errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
					default:
						t.Errorf("unexpected error %v", err)
					}
				}
				if rand.IntN(3) == 0 {
					r := <-g.DoChan(ctx, key, fn(key, mode))
					check(r.Val, r.Err)
				} else {
					func() {
						defer func() {
							if r := recover(); r != nil {
								_, ok := r.(*singleflight.PanicError)
								assert.True(t, ok, "re-panic with %T", r)
							}
						}()
						v, err, _ := g.Do(ctx, key, fn(key, mode))
						check(v, err)
					}()
				}
				cancel()
			}
		})
	}
	wg.Wait()
	// Calls whose callers all left may still be finishing.
	for running.Load() > 0 || singleflight.InFlight(&g) > 0 {
		runtime.Gosched()
	}
	goleak.VerifyNone(t)
}

// TestStressReusedCalls mixes, on a few keys, cancellable and Background
// Do, DoChan, Claim, Forget, callers that cancel at random, and fn that
// returns, panics or calls runtime.Goexit, so that the calls a cancellable Do
// reuses are recycled as fast as possible. Every value a caller gets, as a
// result or as a panic, must be of the caller's key and made by an fn
// before the caller checks it: a recycled call read too late would give
// another key's value, or one that no fn made yet.
func TestStressReusedCalls(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	const keys, workers, rounds = 4, 8, 400
	c := &reuseChaos{t: t, produced: map[int]bool{}}

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
				fn := c.fn(key, intn(10), intn)
				switch intn(6) {
				case 0, 1:
					inner.Go(func() { c.doCancellable(key, fn, intn) })
				case 2:
					inner.Go(func() { c.doBackground(key, fn) })
				case 3:
					inner.Go(func() { c.doChan(key, fn, intn) })
				case 4:
					inner.Go(func() { c.claim(key, intn) })
				case 5:
					c.g.Forget(key)
				}
			}
		})
	}
	wg.Wait()
	// Calls that every caller left go on; they end on their own.
	deadline := time.Now().Add(10 * time.Second)
	for singleflight.InFlight(&c.g) != 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	assert.Zero(t, singleflight.InFlight(&c.g))
}

// errChaos is the error an fn of TestStressReusedCalls fails with.
var errChaos = errors.New("boom")

// reuseChaos is what the callers of TestStressReusedCalls share: the Group,
// and every value an fn made, each of which tells its key.
type reuseChaos struct {
	t        *testing.T
	g        singleflight.Group[int, int]
	seq      atomic.Int64
	mu       sync.Mutex
	produced map[int]bool
}

// produce makes a new value of key and records it.
func (c *reuseChaos) produce(key int) int {
	v := key*1_000_000 + int(c.seq.Add(1))
	c.mu.Lock()
	c.produced[v] = true
	c.mu.Unlock()
	return v
}

// check fails the test unless v is of key and an fn made it.
func (c *reuseChaos) check(key, v int) {
	if v/1_000_000 != key {
		c.t.Errorf("key %d got value %d of key %d", key, v, v/1_000_000)
		return
	}
	c.mu.Lock()
	ok := c.produced[v]
	c.mu.Unlock()
	if !ok {
		c.t.Errorf("key %d got value %d that no fn produced", key, v)
	}
}

// checkPanic checks p, what Do re-panicked with, if anything: a
// *PanicError whose value is of key.
func (c *reuseChaos) checkPanic(key int, p any) {
	if p == nil {
		return
	}
	var pe *singleflight.PanicError
	if assert.ErrorAs(c.t, p.(error), &pe) {
		c.check(key, pe.Value.(int))
	}
}

// checkResult checks what DoChan or Wait delivered: a panic's value or the
// value must be of key, unless the caller left or fn called Goexit.
func (c *reuseChaos) checkResult(key, v int, err error) {
	var pe *singleflight.PanicError
	switch {
	case errors.As(err, &pe):
		c.check(key, pe.Value.(int))
	case errors.Is(err, context.Canceled), errors.Is(err, singleflight.ErrGoexit):
	default:
		c.check(key, v)
	}
}

// fn is an fn for key that, by mode, panics, calls runtime.Goexit, fails
// or returns, each time with a new value of key.
func (c *reuseChaos) fn(key, mode int, intn func(int) int) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		if intn(3) == 0 {
			runtime.Gosched()
		}
		switch mode {
		case 0:
			panic(c.produce(key))
		case 1:
			if ctx.Done() == nil {
				// Goexit on a Background caller's goroutine ends it;
				// that is documented, but keep it to the others.
				return c.produce(key), nil
			}
			c.produce(key)
			runtime.Goexit()
		case 2:
			return c.produce(key), errChaos
		}
		return c.produce(key), nil
	}
}

// leavingCtx is a context that, half the time, is cancelled at once on
// another goroutine, so that its caller may leave while it waits.
func leavingCtx(intn func(int) int) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	if intn(2) == 0 {
		go cancel()
	}
	return ctx, cancel
}

// doCancellable is a cancellable Do, maybe cancelled while it waits.
func (c *reuseChaos) doCancellable(key int, fn func(context.Context) (int, error), intn func(int) int) {
	ctx, cancel := leavingCtx(intn)
	defer cancel()
	defer func() { c.checkPanic(key, recover()) }()
	v, err, _ := c.g.Do(ctx, key, fn)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, singleflight.ErrGoexit):
	case err == nil, errors.Is(err, errChaos):
		c.check(key, v)
	default:
		c.t.Errorf("unexpected error %v", err)
	}
}

// doBackground is a Do whose context never ends.
func (c *reuseChaos) doBackground(key int, fn func(context.Context) (int, error)) {
	defer func() { c.checkPanic(key, recover()) }()
	v, err, _ := c.g.Do(context.Background(), key, fn)
	if err == nil || errors.Is(err, errChaos) {
		c.check(key, v)
	}
}

// doChan is a DoChan, maybe cancelled while it waits.
func (c *reuseChaos) doChan(key int, fn func(context.Context) (int, error), intn func(int) int) {
	ctx, cancel := leavingCtx(intn)
	defer cancel()
	r := <-c.g.DoChan(ctx, key, fn)
	c.checkResult(key, r.Val, r.Err)
}

// claim claims key, finishes the call if it started it, and waits for the
// result, maybe cancelled while it waits.
func (c *reuseChaos) claim(key int, intn func(int) int) {
	tk, started, err := c.g.Claim(key)
	if !assert.NoError(c.t, err) {
		return
	}
	if started {
		tk.Finish(c.produce(key), nil)
	}
	ctx, cancel := leavingCtx(intn)
	defer cancel()
	v, err, _ := tk.Wait(ctx)
	c.checkResult(key, v, err)
}
