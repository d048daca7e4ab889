package flightcache_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// These tests are about what a BatchLoadFunc answers and is asked: keys it
// was not asked for, keys it leaves out, keys asked for twice, and calls that
// fail beside keys the Store holds. They port maypok86/otter's bulk-loader
// tests and viccon/sturdyc's batch tests, and replay DataLoader bug reports.

// TestAnswersNobodyAskedForAreNeitherReturnedNorStored ports otter's
// TestCache_BulkLoadExtraKeyOnlyFillsGaps and replays hazelcast/hazelcast#11080
// and remix-run/examples#21 (a batch function that answers with rows for
// other keys, which a loader matching by position handed to the wrong
// callers). The BatchLoadFunc returns, beside the keys it was asked for,
// one key nobody asked for and one that a Set wrote meanwhile. The call's
// map holds the keys asked for only; the extra keys are not stored, and the
// Set's value stands.
func TestAnswersNobodyAskedForAreNeitherReturnedNorStored(t *testing.T) {
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Hour})
			ctx := context.Background()
			require.NoError(t, l.Set(ctx, "written", "by Set"))
			var asked [][]string
			load := func(_ context.Context, keys []string) (map[string]string, error) {
				asked = append(asked, slices.Clone(keys))
				out := map[string]string{"extra": "not asked", "written": "from the batch"}
				for _, k := range keys {
					out[k] = "value-" + k
				}
				return out, nil
			}
			got, err := l.GetOrLoadMany(ctx, []string{"a", "b"}, load)
			require.NoError(t, err)
			assert.Equal(t, values("a", "b"), got, "only the keys asked for are returned")
			assert.Equal(t, [][]string{{"a", "b"}}, asked)

			_, found, err := l.Peek(ctx, "extra")
			require.NoError(t, err)
			assert.False(t, found, "a key nobody asked for is not stored")
			r, found, err := l.Peek(ctx, "written")
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, "by Set", r.Value, "an answer nobody asked for does not overwrite a Set")
		})
	}
}

// TestDuplicateKeysCountOnceTowardsMaxBatch replays GraphQLSwift/DataLoader#18
// (and graphql/dataloader#280): keys asked for more than once reached the
// batch function more than once, and counted towards its maximum batch size
// as many times. Here five copies of two keys under MaxBatch 2 make one call
// with each key once.
func TestDuplicateKeysCountOnceTowardsMaxBatch(t *testing.T) {
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			src := newBatchSource()
			l := newLoader(t, st.new(t), &flightcache.Options{MaxBatch: 2})
			got, err := l.GetOrLoadMany(context.Background(), []string{"a", "a", "b", "a", "b"}, src.load)
			require.NoError(t, err)
			assert.Equal(t, values("a", "b"), got)
			assert.Equal(t, [][]string{{"a", "b"}}, src.callKeys(), "one call, each key once")
		})
	}
}

// TestABatcherGivesItsLoadEachKeyOfAWindowOnce replays graphql/dataloader#280
// and #34 for the Batcher: several callers of one key in one window, beside
// callers of another, make one call of the BatchLoadFunc in which each key
// appears once, and every caller gets its key's value.
func TestABatcherGivesItsLoadEachKeyOfAWindowOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newBatchSource()
		l := newLoader(t, newMemStore[string](), nil)
		b, err := l.Batcher(src.load, flightcache.Window{Wait: time.Millisecond})
		require.NoError(t, err)
		keys := []string{"1", "1", "2", "1", "2", "3"}
		got := make([]string, len(keys))
		var wg sync.WaitGroup
		for i, k := range keys {
			wg.Go(func() {
				v, err := b.GetOrLoad(context.Background(), k)
				assert.NoError(t, err)
				got[i] = v
			})
		}
		wg.Wait()
		for i, k := range keys {
			assert.Equal(t, "value-"+k, got[i])
		}
		assert.Equal(t, [][]string{{"1", "2", "3"}}, src.callKeys())
	})
}

// TestAFailedBatchStillReturnsWhatTheStoreHeld ports sturdyc's
// TestBatchGetOrFetchOnlyCachedRecordsErr and the last part of
// TestGetOrFetchBatch: four keys are cached; a batch of them and a fifth,
// whose load fails, returns the four with a *BatchError that names only the
// fifth, whose load was asked for the fifth only. The failure is not
// cached.
func TestAFailedBatchStillReturnsWhatTheStoreHeld(t *testing.T) {
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			src := newBatchSource()
			l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Minute})
			ctx := context.Background()
			ids := []string{"1", "2", "3", "4"}
			_, err := l.GetOrLoadMany(ctx, ids, src.load)
			require.NoError(t, err)

			src.fail = func([]string) error { return errBackend }
			ids = append(ids, "5")
			got, err := l.GetOrLoadMany(ctx, ids, src.load)
			assert.Equal(t, values("1", "2", "3", "4"), got, "every record the Store had")
			require.ErrorIs(t, err, errBackend)
			var be *flightcache.BatchError[string]
			require.ErrorAs(t, err, &be)
			assert.Equal(t, []string{"5"}, slices.Collect(maps.Keys(be.Failed)))
			assert.Equal(t, [][]string{{"1", "2", "3", "4"}, {"5"}}, src.callKeys(), "only the missing record was asked for")

			src.fail = nil
			got, err = l.GetOrLoadMany(ctx, ids, src.load)
			require.NoError(t, err)
			assert.Equal(t, values(ids...), got)
			assert.Len(t, src.callKeys(), 3, "the failure was not cached")
		})
	}
}

// TestABatchLoadsOnlyItsUniqueMissesOnce ports otter's
// TestCache_BulkGetWithSuccessLoad: a batch of nine distinct keys with
// repeats, three of them fresh in the Store, calls its load once with the
// six others, each once, and returns all nine; a second batch of the same
// keys loads nothing.
func TestABatchLoadsOnlyItsUniqueMissesOnce(t *testing.T) {
	bulkKeys := []string{"10", "11", "11", "12", "13", "15", "16", "17", "18", "13", "19"}
	fresh := []string{"10", "13", "17"}
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			src := newBatchSource()
			l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Minute})
			ctx := context.Background()
			for _, k := range fresh {
				require.NoError(t, l.Set(ctx, k, "value-"+k))
			}
			unique := slices.Compact(slices.Sorted(slices.Values(bulkKeys)))
			for range 2 {
				got, err := l.GetOrLoadMany(ctx, bulkKeys, src.load)
				require.NoError(t, err)
				assert.Equal(t, values(unique...), got)
			}
			assert.Equal(t, [][]string{{"11", "12", "15", "16", "18", "19"}}, src.callKeys())
		})
	}
}

// TestConcurrentOverlappingBatchesLoadEachKeyOnce ports sturdyc's
// TestBatchRequestsForMissingKeysGetDeduplicated and otter's
// TestCache_BulkGetCoalescesConcurrentLoads: batches whose keys overlap,
// made while the first is loading, load each key once between them, and
// each returns all of its keys.
func TestConcurrentOverlappingBatchesLoadEachKeyOnce(t *testing.T) {
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := newBatchSource()
				src.gate = make(chan struct{})
				l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Minute})
				batches := [][]string{{"1", "2", "3"}, {"2", "3", "4"}, {"3", "4", "5", "1"}, {"5"}}
				var wg sync.WaitGroup
				for _, keys := range batches {
					wg.Go(func() {
						got, err := l.GetOrLoadMany(context.Background(), keys, src.load)
						assert.NoError(t, err)
						assert.Equal(t, values(keys...), got)
					})
					synctest.Wait()
				}
				close(src.gate)
				wg.Wait()
				for k := 1; k <= 5; k++ {
					assert.Equal(t, 1, src.count(fmt.Sprint(k)), "loads of key %d", k)
				}
			})
		})
	}
}
