package lrustore_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
)

// payload stands for what a service caches: a pointer to a decoded row.
type payload struct {
	ID   int
	Name string
}

// hotKeys returns n keys and a payload for each.
func hotKeys(n int) ([]string, map[string]*payload) {
	keys := make([]string, n)
	values := make(map[string]*payload, n)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
		values[keys[i]] = &payload{ID: i, Name: keys[i]}
	}
	return keys, values
}

// getShapes are the read loads every adapter's BenchmarkGet runs: 1 or 1,000
// hot keys, read by GOMAXPROCS goroutines (RunParallel's default) or by 16.
var getShapes = []struct{ keys, readers int }{{1, 0}, {1, 16}, {1000, 0}, {1000, 16}}

func shapeName(keys, readers int) string {
	r := "procs"
	if readers > 0 {
		r = strconv.Itoa(readers)
	}
	return fmt.Sprintf("keys=%d/readers=%s", keys, r)
}

// benchGets calls get on keys, in turn from a different start in each
// goroutine, from readers goroutines (0: one per GOMAXPROCS). get reports
// whether it hit.
func benchGets(b *testing.B, readers int, keys []string, get func(string) bool) {
	if readers > 0 {
		b.SetParallelism(max(1, readers/runtime.GOMAXPROCS(0)))
	}
	var seed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919) % int64(len(keys)))
		for pb.Next() {
			if !get(keys[i]) {
				b.Errorf("miss on %q", keys[i])
				return
			}
			if i++; i == len(keys) {
				i = 0
			}
		}
	})
}
