package flightcache_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// filteringBatchStore is a BatchStore whose GetMany filters its keys
// argument in place, the common Go idiom (valid := keys[:0]), leaving out
// the keys it cannot encode, which it simply has no entry for.
type filteringBatchStore struct{ *batchStore }

func (s filteringBatchStore) GetMany(ctx context.Context, keys []string) (map[string]flightcache.Entry[string], error) {
	valid := keys[:0]
	for _, k := range keys {
		if !strings.HasPrefix(k, "bad") {
			valid = append(valid, k)
		}
	}
	return s.batchStore.GetMany(ctx, valid)
}

// TestABatchStoreThatFiltersItsKeysInPlaceDropsNone: the Loader never reads
// back memory it handed to a plug-in. A BatchStore whose GetMany filters its
// keys argument in place (valid := keys[:0], the common Go idiom) leaves out
// the keys it has no entry for; none of them vanishes from the call: "bad1"
// is loaded and served like the others, not left out with a nil error as if
// the source had said it does not exist.
func TestABatchStoreThatFiltersItsKeysInPlaceDropsNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := filteringBatchStore{&batchStore{memStore: newMemStore[string]()}}
		l, err := flightcache.New[string, string](store, nil)
		require.NoError(t, err)
		defer l.Close()
		src := newBatchSource()
		got, err := l.GetOrLoadMany(context.Background(), []string{"bad1", "good1", "good2"}, src.load)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"bad1": "value-bad1", "good1": "value-good1", "good2": "value-good2"}, got)
	})
}

func TestABatchLoadThatFiltersItsKeysInPlaceCannotFakeValues(t *testing.T) {
	l := newLoader(t, newMemStore[string](), nil)
	got, err := l.GetOrLoadMany(context.Background(), []string{"bad1", "good1", "good2"},
		func(_ context.Context, keys []string) (map[string]string, error) {
			valid := keys[:0]
			for _, k := range keys {
				if strings.HasPrefix(k, "good") {
					valid = append(valid, k)
				}
			}
			out := make(map[string]string)
			for _, k := range valid {
				out[k] = "value-" + k
			}
			return out, nil
		})
	require.NoError(t, err)
	assert.Equal(t, values("good1", "good2"), got, "bad1 was not answered: it does not exist")
}

func TestAGetOrLoadManyCallerMayReuseItsKeysAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		src := newBatchSource()
		src.gate = make(chan struct{})
		keys := []string{"a", "b"}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			_, err := l.GetOrLoadMany(ctx, keys, src.load)
			assert.ErrorIs(t, err, context.Canceled)
		}()
		synctest.Wait()
		cancel()
		synctest.Wait()
		keys[0], keys[1] = "x", "y" // the caller's slice is its own again
		close(src.gate)
		synctest.Wait()
		got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, src.load)
		require.NoError(t, err)
		assert.Equal(t, values("a", "b"), got)
		assert.Equal(t, 1, src.count("a"), "the batch stored a and b, not x and y")
	})
}
