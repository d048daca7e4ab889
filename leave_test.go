package flightcache_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
)

// TestCallersThatLeaveAHungLoadLeaveNothingBehind replays
// hashicorp/consul#14908 and alexfalkowski/go-service#2990 (callers coalesced
// on a slow load stayed blocked, goroutines and all, until it finished,
// however long ago their contexts ended) and minio/minio#19687: a thousand
// callers of a key whose load hangs, through GetOrLoad, GetOrLoadMany and a
// Batcher, each with a deadline, all return context.DeadlineExceeded at it;
// while the load still hangs, none of them has left a goroutine behind, and
// once it returns, its value is stored and nothing is left running.
func TestCallersThatLeaveAHungLoadLeaveNothingBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource()
		src.gate = make(chan struct{})
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, LoadTimeout: time.Hour})
		b, err := l.Batcher(src.loadMany, flightcache.Window{Wait: time.Millisecond})
		require.NoError(t, err)
		synctest.Wait()
		before := runtime.NumGoroutine()

		const callers = 1000
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+i%10)*time.Second)
				defer cancel()
				start := time.Now()
				var err error
				switch i % 3 {
				case 0:
					_, err = l.GetOrLoad(ctx, "k", src.load)
				case 1:
					_, err = l.GetOrLoadMany(ctx, []string{"k"}, src.loadMany)
				default:
					_, err = b.GetOrLoad(ctx, "k")
				}
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Equal(t, time.Duration(1+i%10)*time.Second, time.Since(start), "caller %d left at its deadline", i)
			})
		}
		wg.Wait()
		synctest.Wait()
		assert.Equal(t, 1, src.count("k"), "one load for every caller")
		// The hung load's goroutine and its fill are all that remain.
		assert.LessOrEqual(t, runtime.NumGoroutine()-before, 2, "goroutines left behind by %d callers that left", callers)

		close(src.gate)
		require.NoError(t, l.Wait(context.Background()))
		e, ok := store.entry("k")
		require.True(t, ok, "the load's result is stored after every caller left")
		assert.Equal(t, "value-k", e.Value)
	})
	goleak.VerifyNone(t)
}
