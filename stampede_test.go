package flightcache_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// These tests are about herds: many callers of one key at the moment it
// expires, goes stale or is first asked for, and a hot key whose refreshes
// fail. They port maypok86/otter's and viccon/sturdyc's stampede tests and
// replay public reports of herds in other caches.

// TestAKeyMissedByManyAtOnceIsLoadedOnce ports otter's
// TestCache_GetCoalescesConcurrentLoads: round after round, 64 goroutines ask
// for a key nobody has asked for before, on real goroutines, with a load
// that returns at once, so that callers arrive before the load, while it
// ends and after it; each round loads its key once (rule 2).
func TestAKeyMissedByManyAtOnceIsLoadedOnce(t *testing.T) {
	const concurrency, rounds = 64, 50
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Hour})
			for round := range rounds {
				key := fmt.Sprint(round)
				var loads atomic.Int64
				load := func(_ context.Context, k string) (string, error) {
					loads.Add(1)
					return "v" + k, nil
				}
				var wg sync.WaitGroup
				for i := range concurrency {
					wg.Go(func() {
						ctx := context.Background()
						if i%2 == 1 {
							var cancel context.CancelFunc
							ctx, cancel = context.WithTimeout(ctx, time.Minute)
							defer cancel()
						}
						v, err := l.GetOrLoad(ctx, key, load)
						assert.NoError(t, err)
						assert.Equal(t, "v"+key, v)
					})
				}
				wg.Wait()
				require.Equal(t, int64(1), loads.Load(), "round %d: concurrent first-time loads of one key coalesce to one", round)
			}
		})
	}
}

// TestAnExpiredKeyReadByManyIsLoadedOnce replays apache/grails-cache#38
// ("after a cache entry expires, all cache queries cause loads until one
// load finishes") and ports sturdyc's TestGetOrFetchStampedeProtection: a
// key expires, and a thousand readers, single and batch, arrive while its
// reload runs; the source is called once more, and every reader gets the new
// value.
func TestAnExpiredKeyReadByManyIsLoadedOnce(t *testing.T) {
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := newSource()
				versionedSource(src)
				batch := func(ctx context.Context, keys []string) (map[string]string, error) {
					v, err := src.load(ctx, keys[0])
					return map[string]string{keys[0]: v}, err
				}
				l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Minute})
				v, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
				require.Equal(t, "v1", v)

				time.Sleep(time.Minute)
				src.gate = make(chan struct{})
				var wg sync.WaitGroup
				for i := range 1000 {
					wg.Go(func() {
						if i%4 == 0 {
							got, err := l.GetOrLoadMany(context.Background(), []string{"k"}, batch)
							assert.NoError(t, err)
							assert.Equal(t, "v2", got["k"])
							return
						}
						v, err := l.GetOrLoad(context.Background(), "k", src.load)
						assert.NoError(t, err)
						assert.Equal(t, "v2", v)
					})
				}
				synctest.Wait()
				close(src.gate)
				wg.Wait()
				assert.Equal(t, 2, src.count("k"))
			})
		})
	}
}

// TestStaleReadsWhileARefreshRunsStartNoOther replays
// epicweb-dev/cachified#132 (each stale read queued a refresh of its own
// while one was pending) and ben-manes/caffeine#562, and ports sturdyc's
// TestGetOrFetchBatchStampedeProtection: while the refresh of a stale key
// runs, for a minute, a thousand reads, single and batch, arrive at every
// second of it; all are served the old value at once, and the key is
// refreshed once.
func TestStaleReadsWhileARefreshRunsStartNoOther(t *testing.T) {
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src, rec := newSource(), new(stats.Counter)
				versionedSource(src)
				batch := func(ctx context.Context, keys []string) (map[string]string, error) {
					out := map[string]string{}
					for _, k := range keys {
						v, err := src.load(ctx, k)
						if err != nil {
							return nil, err
						}
						out[k] = v
					}
					return out, nil
				}
				l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Second, StaleFor: time.Hour, LoadTimeout: 2 * time.Minute, Recorder: rec})
				_, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)

				time.Sleep(2 * time.Second)
				src.gate = make(chan struct{})
				for range 60 {
					var wg sync.WaitGroup
					for i := range 1000 / 60 {
						wg.Go(func() {
							if i%2 == 0 {
								got, err := l.GetOrLoadMany(context.Background(), []string{"k"}, batch)
								assert.NoError(t, err)
								assert.Equal(t, "v1", got["k"])
								return
							}
							v, err := l.GetOrLoad(context.Background(), "k", src.load)
							assert.NoError(t, err)
							assert.Equal(t, "v1", v, "served stale, at once")
						})
					}
					wg.Wait()
					time.Sleep(time.Second)
				}
				close(src.gate)
				require.NoError(t, l.Wait(context.Background()))
				assert.Equal(t, 2, src.count("k"), "one refresh, however many stale reads")
				assert.Equal(t, uint64(1), rec.Snapshot().Refreshes)

				v, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
				assert.Equal(t, "v2", v)
			})
		})
	}
}

// TestFailedRefreshesOfAHotKeyBackOff ports sturdyc's
// TestGetOrFetchRefreshRetries and TestGetOrFetchBatchRetries: a hot key
// whose refreshes fail is read every 10ms for a second and a half; with the
// default backoff of background refreshes (1s, doubling), that is the first
// refresh and one retry, not one per read, and every read is served the old
// value.
func TestFailedRefreshesOfAHotKeyBackOff(t *testing.T) {
	for _, st := range memoryStores {
		for _, kind := range []string{"single", "batch"} {
			t.Run(st.name+"/"+kind, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					src := newBatchSource()
					l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, Logger: slog.New(slog.DiscardHandler)})
					ids := []string{"1", "2", "3"}
					read := func() {
						if kind == "batch" {
							got, err := l.GetOrLoadMany(context.Background(), ids, src.load)
							assert.NoError(t, err)
							assert.Equal(t, values(ids...), got)
							return
						}
						v, err := l.GetOrLoad(context.Background(), "1", func(ctx context.Context, k string) (string, error) {
							m, err := src.load(ctx, []string{k})
							return m[k], err
						})
						assert.NoError(t, err)
						assert.Equal(t, "value-1", v)
					}
					read()
					time.Sleep(time.Minute + time.Second)
					src.fail = func([]string) error { return errBackend }
					for range 150 {
						read()
						synctest.Wait()
						time.Sleep(10 * time.Millisecond)
					}
					assert.Len(t, src.callKeys(), 3, "the load, the first refresh and one retry after 1s: %v", src.callKeys())
				})
			})
		}
	}
}
