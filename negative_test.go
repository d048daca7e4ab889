package flightcache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// These tests are about keys the source does not have (ErrNotFound) and
// negative caching (Options.MissingFor, rule 4). Most port maypok86/otter's
// and viccon/sturdyc's loader tests of not-found answers to this API; each
// says which, and runs over every in-memory Store of this module.

// notFoundAfter answers with a value for its first n loads and with
// ErrNotFound, wrapped, after them.
func notFoundAfter(src *source, n int) {
	var mu sync.Mutex
	loads := 0
	src.answer = func(_ context.Context, key string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		loads++
		if loads <= n {
			return "value-" + key, nil
		}
		return "", fmt.Errorf("row %s: %w", key, flightcache.ErrNotFound)
	}
}

// TestTheFirstCallerOfAMissingKeyGetsTheLoadsOwnError ports otter's
// TestCache_GetWithNotFoundLoad: a key loaded, invalidated, then not found
// by the source. The caller of that load gets the load's own error (the
// same value, wrapping ErrNotFound, as GetOrLoad's doc says); a not-found
// answer is a load, not a load error; and nothing is served for the key
// afterwards without MissingFor. With MissingFor, later callers get
// ErrNotFound itself without loading.
func TestTheFirstCallerOfAMissingKeyGetsTheLoadsOwnError(t *testing.T) {
	for _, st := range memoryStores {
		for _, missingFor := range []time.Duration{0, time.Minute} {
			t.Run(fmt.Sprintf("%s/MissingFor=%v", st.name, missingFor), func(t *testing.T) {
				rec := new(stats.Counter)
				l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Hour, MissingFor: missingFor, Recorder: rec})
				ctx := context.Background()
				var someErr error
				load := func(_ context.Context, key string) (string, error) {
					if someErr != nil {
						return "", someErr
					}
					return "100", nil
				}
				for range 2 {
					v, err := l.GetOrLoad(ctx, "absent", load)
					require.NoError(t, err)
					assert.Equal(t, "100", v)
				}
				require.NoError(t, l.Invalidate(ctx, "absent"))

				someErr = fmt.Errorf("olololo: %w", flightcache.ErrNotFound)
				v, err := l.GetOrLoad(ctx, "absent", load)
				assert.True(t, err == someErr, "the caller of the load gets its own error, not %v", err)
				assert.Zero(t, v)

				s := rec.Snapshot()
				assert.Equal(t, uint64(1), s.Hits)
				assert.Equal(t, uint64(2), s.Misses)
				assert.Equal(t, uint64(2), s.Loads)
				assert.Zero(t, s.LoadErrors, "a key that is not found is a successful load")

				_, found, err := l.Peek(ctx, "absent")
				if missingFor == 0 {
					require.NoError(t, err)
					assert.False(t, found, "without MissingFor, nothing is served for the key")
					return
				}
				assert.ErrorIs(t, err, flightcache.ErrNotFound, "Peek of a cached miss")
				assert.True(t, found)
				someErr = errors.New("the source must not be called again")
				_, err = l.GetOrLoad(ctx, "absent", load)
				assert.True(t, err == flightcache.ErrNotFound, "a cached miss is ErrNotFound itself, not %v", err)
				assert.Equal(t, uint64(1), rec.Snapshot().MissingHits)
			})
		}
	}
}

// TestARefreshThatFindsTheKeyGoneCachesTheMissForMissingFor ports otter's
// TestCache_GetWithNotFoundRefresh and sturdyc's
// TestGetOrFetchConvertsDeletedRecordsToMissingRecords and
// TestGetOrFetchMissingRecord: a stale key whose background refresh finds
// it gone is served no more; with MissingFor, its reads get ErrNotFound
// without loading until MissingFor has passed, and then load it again,
// which brings it back once the source has it again.
func TestARefreshThatFindsTheKeyGoneCachesTheMissForMissingFor(t *testing.T) {
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := newSource()
				notFoundAfter(src, 1)
				l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, MissingFor: 10 * time.Second})
				ctx := context.Background()
				_, err := l.GetOrLoad(ctx, "k", src.load)
				require.NoError(t, err)

				time.Sleep(61 * time.Second)
				v, err := l.GetOrLoad(ctx, "k", src.load)
				require.NoError(t, err)
				assert.Equal(t, "value-k", v, "stale, served while the refresh runs")
				synctest.Wait()
				require.Equal(t, 2, src.count("k"))

				for range 3 {
					_, err = l.GetOrLoad(ctx, "k", src.load)
					assert.ErrorIs(t, err, flightcache.ErrNotFound, "the deleted record is a missing record now")
				}
				assert.Equal(t, 2, src.count("k"), "a cached miss loads nothing")

				src.answer = nil // the record is back at the source
				time.Sleep(11 * time.Second)
				v, err = l.GetOrLoad(ctx, "k", src.load)
				require.NoError(t, err)
				assert.Equal(t, "value-k", v, "once MissingFor has passed, the key is loaded again")
				assert.Equal(t, 3, src.count("k"))
			})
		})
	}
}

// TestABatchRefreshThatLeavesKeysOutStopsServingThem ports sturdyc's
// TestGetOrFetchBatchDeletesRecordsThatHaveBeenRemovedAtTheSource and
// TestGetFetchBatchConvertsDeletedRecordsToMissingRecords (and cache2k's
// bulk-loader request, cache2k/cache2k#116: keys a bulk load leaves out are
// gone): five keys are loaded; once stale, a batch read serves them and
// refreshes them in one call that returns only three. The two left out are
// served no more: without MissingFor the next read loads them, with it the
// next read gets nothing for them without loading.
func TestABatchRefreshThatLeavesKeysOutStopsServingThem(t *testing.T) {
	for _, st := range memoryStores {
		for _, missingFor := range []time.Duration{0, time.Minute} {
			t.Run(fmt.Sprintf("%s/MissingFor=%v", st.name, missingFor), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					src := newBatchSource()
					l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Second, StaleFor: time.Hour, MissingFor: missingFor})
					ctx := context.Background()
					ids := []string{"1", "2", "3", "4", "5"}
					got, err := l.GetOrLoadMany(ctx, ids, src.load)
					require.NoError(t, err)
					assert.Equal(t, values(ids...), got)

					time.Sleep(2 * time.Second)
					src.exists = func(k string) bool { return k <= "3" }
					got, err = l.GetOrLoadMany(ctx, ids, src.load)
					require.NoError(t, err)
					assert.Equal(t, values(ids...), got, "stale values are served while they are refreshed")
					synctest.Wait()
					require.Len(t, src.callKeys(), 2, "one refresh call for the five keys")
					assert.Equal(t, ids, src.callKeys()[1])

					got, err = l.GetOrLoadMany(ctx, ids, src.load)
					require.NoError(t, err)
					assert.Equal(t, values("1", "2", "3"), got, "the keys the source left out are not served")
					if missingFor == 0 {
						require.Len(t, src.callKeys(), 3)
						assert.Equal(t, []string{"4", "5"}, src.callKeys()[2], "and are loaded again")
					} else {
						assert.Len(t, src.callKeys(), 2, "and are cached as missing")
					}
				})
			})
		}
	}
}

// TestConcurrentMissesOfAKeyThatDoesNotExistLoadItOnce replays
// eko/gocache#195 ("not found thundering herd"): a burst of callers of a key
// the source does not have, with and without negative caching, causes one
// load, and every caller gets ErrNotFound.
func TestConcurrentMissesOfAKeyThatDoesNotExistLoadItOnce(t *testing.T) {
	for _, st := range memoryStores {
		for _, missingFor := range []time.Duration{0, time.Minute} {
			t.Run(fmt.Sprintf("%s/MissingFor=%v", st.name, missingFor), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					src := newSource()
					src.gate = make(chan struct{})
					src.answer = func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
					l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Minute, MissingFor: missingFor})
					var wg sync.WaitGroup
					for i := range 200 {
						wg.Go(func() {
							ctx := context.Background()
							if i%2 == 1 {
								var cancel context.CancelFunc
								ctx, cancel = context.WithTimeout(ctx, time.Hour)
								defer cancel()
							}
							_, err := l.GetOrLoad(ctx, "ghost", src.load)
							assert.ErrorIs(t, err, flightcache.ErrNotFound)
						})
					}
					synctest.Wait()
					close(src.gate)
					wg.Wait()
					assert.Equal(t, 1, src.count("ghost"))
				})
			})
		}
	}
}

// TestABatchLoaderThatFindsNothingCachesEveryKeyAsMissing ports sturdyc's
// TestBatchGetOrFetchNilMapMissingRecords: a BatchLoadFunc that returns a
// nil map and no error found none of its keys. The call returns an empty
// map and no error; with MissingFor, the next call for the same keys loads
// nothing, and without it, it loads them all again.
func TestABatchLoaderThatFindsNothingCachesEveryKeyAsMissing(t *testing.T) {
	for _, st := range memoryStores {
		for _, missingFor := range []time.Duration{0, time.Minute} {
			t.Run(fmt.Sprintf("%s/MissingFor=%v", st.name, missingFor), func(t *testing.T) {
				var calls [][]string
				load := func(_ context.Context, keys []string) (map[string]string, error) {
					calls = append(calls, slices.Clone(keys))
					return nil, nil
				}
				l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Minute, MissingFor: missingFor})
				ids := []string{"1", "2", "3", "4"}
				for range 2 {
					got, err := l.GetOrLoadMany(context.Background(), ids, load)
					require.NoError(t, err)
					assert.Empty(t, got)
				}
				want := 1
				if missingFor == 0 {
					want = 2
				}
				require.Len(t, calls, want)
				for _, c := range calls {
					assert.Equal(t, ids, c)
				}
				for _, id := range ids {
					_, err := l.GetOrLoad(context.Background(), id, func(context.Context, string) (string, error) {
						return "", flightcache.ErrNotFound
					})
					assert.ErrorIs(t, err, flightcache.ErrNotFound, "a single read of a key the batch found missing")
				}
			})
		}
	}
}
