package flightcache

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
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

// A fill waiting for the token leaves as soon as a Set, Invalidate or Expire
// supersedes it (keyWrites.lockAt), while the token is still held: it would
// never write. One that is not superseded still takes the token when it is
// given back.
func TestWriteTokenSupersededWaiterLeavesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var kw keyWrites
		ctx := context.Background()
		require.NoError(t, kw.lock(ctx))
		gen := kw.gen.Load()
		left := make(chan bool)
		go func() {
			held, err := kw.lockAt(ctx, gen)
			assert.NoError(t, err)
			left <- held
		}()
		synctest.Wait()
		kw.advance() // as expire does, without the token
		assert.False(t, <-left, "a superseded waiter took the token")
		assert.True(t, kw.busy, "the holder still holds the token")

		now := kw.gen.Load()
		took := make(chan bool)
		go func() {
			held, err := kw.lockAt(ctx, now)
			assert.NoError(t, err)
			took <- held
		}()
		synctest.Wait()
		kw.unlock()
		assert.True(t, <-took, "a current waiter takes the token once it is given back")
		kw.unlock()

		held, err := kw.lockAt(ctx, gen)
		assert.NoError(t, err)
		assert.False(t, held, "a fill superseded before it asks never takes the token")
		assert.False(t, kw.busy)
	})
}

// lockAll takes the tokens of a fill's current keys only: a superseded key's
// token, held by another writer, holds the batch back not at all.
func TestLockAllLeavesSupersededKeysOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var a, b keyWrites
		ctx := context.Background()
		gens := []uint64{a.gen.Load(), b.gen.Load()}
		require.NoError(t, a.lock(ctx)) // a newer writer of a
		a.advance()                     // which superseded the fill's a
		unlock, err := lockAll(ctx, []*keyWrites{&a, &b}, gens)
		require.NoError(t, err)
		assert.True(t, b.busy, "the current key's token is held")
		unlock()
		assert.False(t, b.busy)
		assert.True(t, a.busy, "the superseded key's token is its holder's still")
		a.unlock()
	})
}

func TestWriteOrderHoldsOnlyTheKeysRegisteredAndGivesBackABurstsRoom(t *testing.T) {
	w := newWriteOrder[int]()
	const burst = 64 * (shrinkPeak + 1) // more than shrinkPeak keys in every shard, whatever the hash
	kws := make(map[*keyWrites]bool)
	for k := range burst {
		kw, _ := w.begin(k)
		kws[kw] = true
	}
	kw, _ := w.begin(0) // a second registration of a key shares its state
	assert.True(t, kws[kw])
	assert.Equal(t, burst, len(kws), "one state per key")
	assert.Equal(t, burst, w.size())
	assert.Equal(t, 2, w.registered(0))

	w.end(0)
	assert.Equal(t, 1, w.registered(0), "a key stays while anyone has it registered")
	var peaks [writeShards]int
	for i := range w.shards {
		peaks[i] = w.shards[i].peak
	}
	assert.Greater(t, slices.Max(peaks[:]), shrinkPeak, "the burst filled some shard past shrinkPeak")
	for k := range burst {
		w.end(k)
	}
	assert.Zero(t, w.size(), "nothing is left once every registration has ended")
	assert.Zero(t, w.registered(0))
	for i := range w.shards {
		if peaks[i] > shrinkPeak {
			assert.LessOrEqual(t, w.shards[i].peak, shrinkPeak, "shard %d: an emptied shard that held a burst has a new map", i)
		} else {
			assert.Equal(t, peaks[i], w.shards[i].peak, "shard %d: a shard that held few keys keeps its map", i)
		}
	}
	w.end(7) // an end with no begin changes nothing
	assert.Zero(t, w.size())
}

// TestWriteOrderGivesBackABurstsRoomWhileKeysStayInFlight: after a burst
// of misses (a large GetOrLoadMany, a cold start), the write order must
// give back the room its maps grew to even though the traffic that goes on
// keeps a few keys in flight in every shard at any time, so that no shard
// is ever empty: the memory it keeps follows the keys in flight, not the
// largest burst since the process started.
func TestWriteOrderGivesBackABurstsRoomWhileKeysStayInFlight(t *testing.T) {
	heap := func() uint64 {
		// Twice: a sync.Pool (the spare keyWrites) keeps its objects for
		// one collection more.
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	w := newWriteOrder[int]()
	before := heap()
	const burst = writeShards * 4 * shrinkPeak
	for k := range burst {
		w.begin(k)
	}
	during := heap()
	require.Greater(t, during-before, uint64(4<<20), "the burst took room")
	kept := make(map[*writeShard[int]]int) // a key in flight in every shard
	for k := range burst {
		if _, ok := kept[w.shard(k)]; !ok {
			kept[w.shard(k)] = k
			continue
		}
		w.end(k)
	}
	require.Len(t, kept, writeShards)
	require.Equal(t, writeShards, w.size())
	after := heap()
	// A shard may keep room for shrinkPeak keys (a few hundred kB in all
	// here); the burst took tens of MB.
	assert.Less(t, int64(after)-int64(before), int64(during-before)/8,
		"the write order keeps %d bytes for %d keys in flight, after a burst of %d that took %d", after-before, w.size(), burst, during-before)
	for _, k := range kept {
		assert.Equal(t, 1, w.registered(k), "a key in flight stays registered")
		w.end(k)
	}
	assert.Zero(t, w.size())
	runtime.KeepAlive(w)
}

// registered returns the registrations of key now: 0 when nobody has
// registered it.
func (w *writeOrder[K]) registered(key K) int {
	sh := w.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if kw := sh.keys[key]; kw != nil {
		return kw.refs
	}
	return 0
}

// size returns how many keys are registered now.
func (w *writeOrder[K]) size() int {
	n := 0
	for i := range w.shards {
		sh := &w.shards[i]
		sh.mu.Lock()
		n += len(sh.keys)
		sh.mu.Unlock()
	}
	return n
}
