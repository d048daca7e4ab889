package flightcache

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The write token of a key (keyWrites.lock): one holder at a time; a waiter
// takes it when it is given back, or leaves when its context ends; a context
// that has ended never takes it, even free.

func TestWriteTokenIsHeldByOneAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var kw keyWrites
		ctx := context.Background()
		require.NoError(t, kw.lock(ctx))
		got := make(chan struct{})
		go func() {
			assert.NoError(t, kw.lock(ctx))
			close(got)
		}()
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("a second writer took the token while it was held")
		default:
		}
		kw.unlock()
		<-got
		kw.unlock()
		assert.False(t, kw.busy)
		assert.Nil(t, kw.wake)
	})
}

func TestWriteTokenWaiterLeavesWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var kw keyWrites
		require.NoError(t, kw.lock(context.Background()))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := kw.lock(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start), "the waiter leaves at its deadline")
		kw.unlock()
		// The token is free again for the next writer.
		require.NoError(t, kw.lock(context.Background()))
		kw.unlock()
	})
}

func TestWriteTokenIsNotTakenWithAnEndedContext(t *testing.T) {
	var kw keyWrites
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, kw.lock(ctx), context.Canceled)
	assert.False(t, kw.busy, "a free token stays free")
}

// Many writers take the token in turn, some leaving early; at no moment do
// two hold it. Run with -race.
func TestWriteTokenUnderContention(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	var kw keyWrites
	var holders, maxHolders, took int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		rng := rand.New(rand.NewPCG(seed, uint64(g)))
		leave := rng.IntN(4) == 0
		wg.Go(func() {
			for range 200 {
				ctx, cancel := context.WithCancel(context.Background())
				if leave && rng.IntN(2) == 0 {
					cancel()
				}
				if kw.lock(ctx) != nil {
					cancel()
					continue
				}
				mu.Lock()
				holders++
				maxHolders = max(maxHolders, holders)
				took++
				mu.Unlock()
				runtime.Gosched() // let another writer try while the token is held
				mu.Lock()
				holders--
				mu.Unlock()
				kw.unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, maxHolders)
	assert.Positive(t, took)
	assert.False(t, kw.busy)
}
