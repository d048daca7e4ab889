package singleflight_test

import (
	"context"
	"testing"

	xsync "golang.org/x/sync/singleflight"

	"github.com/flightcache/flightcache/singleflight"
)

// The benchmarks run this package's Group and golang.org/x/sync/singleflight
// side by side on the same work, so that one benchstat run compares them:
//
//	go test -run x -bench Do -benchmem -count 10 ./singleflight | tee new.txt
//	benchstat -col /impl new.txt
//
// Rows: ctx=background (Do runs fn on the caller's goroutine) and
// ctx=cancellable (Do hands fn to a new goroutine so that the caller can
// leave), each for impl=flightcache and impl=xsync (which has no context, so
// its rows are the same work), uncontended (BenchmarkDo) and with 16 or 64
// goroutines on one key, sharing one context or each with its own.
// Both also have impl=handoff, the bare goroutine, channel and select
// that a caller able to leave needs at least: the floor under
// ctx=cancellable (issue 16; in the one-key rows each goroutine hands off a
// call of its own, which nobody joins). BenchmarkDo also has impl=worker,
// the same hand-off to a goroutine kept waiting for the next call, which
// saves starting one but not waking it.

func value(context.Context) (int, error) { return 1, nil }

func xvalue() (any, error) { return 1, nil }

// BenchmarkDo is one caller at a time on one key: every Do starts a call.
func BenchmarkDo(b *testing.B) {
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ctx := range []struct {
		name string
		ctx  context.Context
	}{{"ctx=background", context.Background()}, {"ctx=cancellable", cancellable}} {
		b.Run(ctx.name+"/impl=flightcache", func(b *testing.B) {
			var g singleflight.Group[string, int]
			b.ReportAllocs()
			for b.Loop() {
				if _, err, _ := g.Do(ctx.ctx, "k", value); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The least any hand-off costs that lets the caller leave: a new
		// goroutine, started from a func value made once (no closure per
		// call), a channel, and a select on it and ctx.Done. With a
		// context that can end, Do cannot cost less than this.
		b.Run(ctx.name+"/impl=handoff", func(b *testing.B) {
			benchmarkHandoff(b, ctx.ctx, func(run func()) { go run() })
		})
		// The same hand-off, to one goroutine that waits for the next call
		// instead of a new goroutine per call.
		b.Run(ctx.name+"/impl=worker", func(b *testing.B) {
			work := make(chan func())
			defer close(work)
			go func() {
				for run := range work {
					run()
				}
			}()
			benchmarkHandoff(b, ctx.ctx, func(run func()) { work <- run })
		})
		// x/sync has no context: the same figure serves both rows.
		b.Run(ctx.name+"/impl=xsync", func(b *testing.B) {
			var g xsync.Group
			b.ReportAllocs()
			for b.Loop() {
				if _, err, _ := g.Do("k", xvalue); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchmarkHandoff measures a caller that hands value to another goroutine
// with hand and waits for its result, or for ctx to end.
func benchmarkHandoff(b *testing.B, ctx context.Context, hand func(run func())) {
	b.ReportAllocs()
	h := newHandoff(ctx, hand)
	for b.Loop() {
		if v := h.do(); v != 1 {
			b.Fatal(v)
		}
	}
}

// handoff is one caller's bare hand-off of value to another goroutine: the
// func value it hands over is made once, so that each hand-off allocates
// only its channel. It is for one goroutine at a time.
type handoff struct {
	ctx  context.Context
	hand func(run func())
	run  func()
	v    int
	done chan struct{}
}

func newHandoff(ctx context.Context, hand func(run func())) *handoff {
	h := &handoff{ctx: ctx, hand: hand}
	h.run = func() {
		h.v, _ = value(h.ctx)
		close(h.done)
	}
	return h
}

// do hands value over and returns its result, or 0 when ctx ended first.
func (h *handoff) do() int {
	h.v, h.done = 0, make(chan struct{})
	h.hand(h.run)
	select {
	case <-h.done:
	case <-h.ctx.Done():
	}
	return h.v
}

// BenchmarkDoOneKey64 is 64 goroutines calling Do on one key, so that calls
// are joined while they run.
func BenchmarkDoOneKey64(b *testing.B) { benchmarkDoOneKey(b, 64) }

// BenchmarkDoOneKey16 is 16 goroutines calling Do on one key.
func BenchmarkDoOneKey16(b *testing.B) { benchmarkDoOneKey(b, 16) }

func benchmarkDoOneKey(b *testing.B, goroutines int) {
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	parallelism := max(1, goroutines/max(1, singleflight.GOMAXPROCS()))
	// ctx=cancellable shares one context among the goroutines, so that
	// every waiter watches the same Done channel; ctx=cancellable-each gives
	// each goroutine its own, as requests have.
	for _, ctx := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"ctx=background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
		{"ctx=cancellable", func() (context.Context, context.CancelFunc) { return cancellable, func() {} }},
		{"ctx=cancellable-each", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
	} {
		b.Run(ctx.name+"/impl=flightcache", func(b *testing.B) {
			var g singleflight.Group[string, int]
			b.ReportAllocs()
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				ctx, cancel := ctx.ctx()
				defer cancel()
				for pb.Next() {
					if _, err, _ := g.Do(ctx, "k", value); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		// Each goroutine hands its own call over, joined by nobody: the
		// floor under impl=flightcache, as in BenchmarkDo.
		b.Run(ctx.name+"/impl=handoff", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				ctx, cancel := ctx.ctx()
				defer cancel()
				h := newHandoff(ctx, func(run func()) { go run() })
				for pb.Next() {
					if v := h.do(); v != 1 {
						b.Fatal(v)
					}
				}
			})
		})
		b.Run(ctx.name+"/impl=xsync", func(b *testing.B) {
			var g xsync.Group
			b.ReportAllocs()
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err, _ := g.Do("k", xvalue); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkDoKeyCheck is BenchmarkDo with Background for key types that need
// a check per call (interfaces) or none (strings), to show what the check
// costs.
func BenchmarkDoKeyCheck(b *testing.B) {
	b.Run("key=string", func(b *testing.B) {
		var g singleflight.Group[string, int]
		b.ReportAllocs()
		for b.Loop() {
			g.Do(context.Background(), "k", value)
		}
	})
	b.Run("key=any", func(b *testing.B) {
		var g singleflight.Group[any, int]
		var key any = "k"
		b.ReportAllocs()
		for b.Loop() {
			g.Do(context.Background(), key, value)
		}
	})
}

// BenchmarkClaim is the miss path of package flightcache on a key nobody
// joins: one goroutine claims a key of its own, ends the call with Finish,
// and reads the result with Wait, as a caller that ran the fill inline does.
// Keys are distinct, so no call is ever joined (issue 16).
func BenchmarkClaim(b *testing.B) {
	for _, ctx := range []struct {
		name string
		ctx  context.Context
	}{{"ctx=background", context.Background()}, {"ctx=cancellable", cancellableForBench(b)}} {
		b.Run(ctx.name, func(b *testing.B) {
			var g singleflight.Group[int, int]
			b.ReportAllocs()
			key := 0
			for b.Loop() {
				key++
				t, started, err := g.Claim(key)
				if err != nil || !started {
					b.Fatal(started, err)
				}
				t.Finish(key, nil)
				if v, err, _ := t.Wait(ctx.ctx); err != nil || v != key {
					b.Fatal(v, err)
				}
			}
		})
	}
}

// cancellableForBench is a context that can end, cancelled when b ends.
func cancellableForBench(b *testing.B) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	return ctx
}
