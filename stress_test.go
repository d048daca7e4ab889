package flightcache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/otterstore"
	"github.com/flightcache/flightcache/adapters/ristrettostore"
)

// TestStressNoCallGetsAValueOlderThanACompletedWrite checks rule 8 under a
// random mix of Set, Invalidate, GetOrLoad and GetOrLoadMany, with callers
// that leave, loads that fail, panic or are slow, and stale-while-revalidate
// refreshes, on every in-memory store: once Set or Invalidate of a key has
// returned, no call that starts afterwards gets an older value of it.
//
// The source keeps a version per key; a writer advances it before it calls
// Set or Invalidate (as a service writes its database, then the cache), and
// a load returns the version it reads. Replay a failure with
// FLIGHTCACHE_STRESS_SEED=<the seed it printed>.
func TestStressNoCallGetsAValueOlderThanACompletedWrite(t *testing.T) {
	seed := rand.Uint64()
	if s := os.Getenv("FLIGHTCACHE_STRESS_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (replay with FLIGHTCACHE_STRESS_SEED=%d)", seed, seed)

	stores := []struct {
		name string
		open func(t *testing.T) flightcache.Store[string, string]
	}{
		{"map", func(*testing.T) flightcache.Store[string, string] { return newMemStore[string]() }},
		{"lrustore", func(t *testing.T) flightcache.Store[string, string] {
			s, err := lrustore.New[string, string](1000)
			require.NoError(t, err)
			return s
		}},
		{"otterstore", func(t *testing.T) flightcache.Store[string, string] {
			s, err := otterstore.New[string, string](1000)
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"ristrettostore", func(t *testing.T) flightcache.Store[string, string] {
			s, err := ristrettostore.New[string, string](1000)
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
	modes := map[string]flightcache.Options{
		"fresh":   {FreshFor: time.Hour, LoadTimeout: time.Minute},
		"refresh": {FreshFor: time.Millisecond, StaleFor: time.Hour, LoadTimeout: time.Minute},
	}
	for _, st := range stores {
		for mode, opts := range modes {
			t.Run(st.name+"/"+mode, func(t *testing.T) {
				stress(t, st.open(t), opts, seed)
			})
		}
	}
}

func stress(t *testing.T, store flightcache.Store[string, string], opts flightcache.Options, seed uint64) {
	const (
		keys    = 6
		workers = 8
		ops     = 1500
	)
	l, err := flightcache.New(store, &opts)
	require.NoError(t, err)
	defer l.Close()

	var db, written [keys]atomic.Int64 // the source's versions; versions whose write returned
	// A writer holds its key's lock from the source's write to the cache's,
	// as a service that updates a row and then the cache under the row's
	// lock: so the writes of a key complete in the order of their versions.
	var writing [keys]sync.Mutex
	name := func(k int) string { return "k" + strconv.Itoa(k) }
	index := func(key string) int { k, _ := strconv.Atoi(key[1:]); return k }
	version := func(v string) int64 { n, _ := strconv.ParseInt(strings.TrimPrefix(v, "v"), 10, 64); return n }
	raise := func(a *atomic.Int64, v int64) {
		for {
			old := a.Load()
			if v <= old || a.CompareAndSwap(old, v) {
				return
			}
		}
	}
	// behave makes a load fail, panic or dawdle now and then, as r, drawn
	// from [0, 20), says.
	behave := func(r int) error {
		switch {
		case r == 0:
			return errBackend
		case r == 1:
			panic("load bug")
		case r < 5:
			for range r * 4 {
				time.Sleep(0) // let other goroutines in
			}
		}
		return nil
	}
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var rmu sync.Mutex // loads run on the Loader's goroutines
			load := func(_ context.Context, key string) (string, error) {
				v := db[index(key)].Load()
				rmu.Lock()
				r := rng.IntN(20)
				rmu.Unlock()
				return "v" + strconv.FormatInt(v, 10), behave(r)
			}
			loadMany := func(_ context.Context, ks []string) (map[string]string, error) {
				out := make(map[string]string, len(ks))
				for _, k := range ks {
					out[k] = "v" + strconv.FormatInt(db[index(k)].Load(), 10)
				}
				rmu.Lock()
				r := rng.IntN(20)
				rmu.Unlock()
				return out, behave(r)
			}
			for range ops {
				rmu.Lock()
				op, k := rng.IntN(10), rng.IntN(keys)
				leave := rng.IntN(8) == 0
				patience := time.Duration(rng.IntN(50)) * time.Microsecond
				k2, k3 := rng.IntN(keys), rng.IntN(keys)
				rmu.Unlock()
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if leave {
					ctx, cancel = context.WithTimeout(ctx, patience)
				}
				switch {
				case op == 0: // Set
					writing[k].Lock()
					v := db[k].Add(1)
					if l.Set(context.Background(), name(k), "v"+strconv.FormatInt(v, 10)) == nil {
						raise(&written[k], v)
					}
					writing[k].Unlock()
				case op == 1: // Invalidate
					writing[k].Lock()
					v := db[k].Add(1)
					if l.Invalidate(context.Background(), name(k)) == nil {
						raise(&written[k], v)
					}
					writing[k].Unlock()
				case op < 7: // GetOrLoad
					floor := written[k].Load()
					v, err := l.GetOrLoad(ctx, name(k), load)
					if err == nil && version(v) < floor {
						fail("GetOrLoad(%s) = %s after a write of v%d returned", name(k), v, floor)
					}
				default: // GetOrLoadMany
					ks := []string{name(k), name(k2), name(k3)}
					floors := []int64{written[k].Load(), written[k2].Load(), written[k3].Load()}
					got, _ := l.GetOrLoadMany(ctx, ks, loadMany)
					for i, key := range ks {
						if v, ok := got[key]; ok && version(v) < floors[i] {
							fail("GetOrLoadMany: %s = %s after a write of v%d returned", key, v, floors[i])
						}
					}
				}
				cancel()
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("seed %d:\n%s", seed, strings.Join(failures, "\n"))
	}
}
