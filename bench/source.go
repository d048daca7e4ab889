package main

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// val is what every contender caches: which load of its key produced it, and
// when that load returned, so that readers can tell an old value from a newer
// one and measure its age.
type val struct {
	seq uint64 // 1 for a key's first load, 2 for its second, ...
	at  int64  // when the load returned, Unix nanoseconds
}

// keyName is the cache key of key number i. Every contender uses string keys,
// which sturdyc requires.
func keyName(i int) string { return "k" + strconv.Itoa(i) }

// keyNames returns the names of keys 0 to n-1.
func keyNames(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = keyName(i)
	}
	return ks
}

// keyIndex is the number of a key made by keyName.
func keyIndex(key string) int {
	i, err := strconv.Atoi(key[1:])
	if err != nil {
		panic("bench: key not made by keyName: " + key)
	}
	return i
}

// keyStat is what the source knows about one key.
type keyStat struct {
	loads   atomic.Int64
	running atomic.Int32
	seq     atomic.Uint64
}

// source is the slow backend the contenders load from. It counts loads, in
// all and per key, and the loads of a key that started while another load of
// the same key was running.
type source struct {
	delay       time.Duration
	loads       atomic.Int64
	overlapping atomic.Int64
	keys        []keyStat
}

func newSource(delay time.Duration, keys int) *source {
	return &source{delay: delay, keys: make([]keyStat, keys)}
}

// load is the load function every contender is given.
func (s *source) load(_ context.Context, key string) (val, error) {
	s.loads.Add(1)
	k := &s.keys[keyIndex(key)]
	k.loads.Add(1)
	if k.running.Add(1) > 1 {
		s.overlapping.Add(1)
	}
	seq := k.seq.Add(1)
	wait(s.delay)
	k.running.Add(-1)
	return val{seq: seq, at: time.Now().UnixNano()}, nil
}

// preciseBelow is the shortest wait that wait leaves to time.Sleep. Go's
// timers cannot sleep briefly: on an otherwise idle process time.Sleep(50µs)
// takes about a millisecond, and less the busier the scheduler is, which
// would reward a contender for starting goroutines.
const preciseBelow = 2 * time.Millisecond

// wait takes d as a remote source would: off the CPU for long waits, and for
// short ones by yielding the processor until d has passed.
func wait(d time.Duration) {
	if d <= 0 {
		return
	}
	if d >= preciseBelow {
		time.Sleep(d)
		return
	}
	for start := time.Now(); time.Since(start) < d; {
		runtime.Gosched()
	}
}
