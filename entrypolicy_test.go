package flightcache_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// TestALoadSetsThePolicyOfItsEntry: the entry's windows come from the
// load's EntryPolicy, not the Options'.
func TestALoadSetsThePolicyOfItsEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
		versionedSource(src)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, Recorder: rec})
		load := func(ctx context.Context, key string) (string, error) {
			require.NoError(t, flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{
				FreshFor: 10 * time.Second, StaleFor: 20 * time.Second, StaleIfError: time.Minute,
			}))
			return src.load(ctx, key)
		}
		start := time.Now()
		v, err := l.GetOrLoad(context.Background(), "k", load)
		require.NoError(t, err)
		assert.Equal(t, "v1", v)
		e, ok := store.entry("k")
		require.True(t, ok)
		assert.Equal(t, flightcache.DeadlineOf(start.Add(10*time.Second)), e.FreshUntil)
		assert.Equal(t, flightcache.DeadlineOf(start.Add(30*time.Second)), e.StaleUntil)
		assert.Equal(t, flightcache.DeadlineOf(start.Add(70*time.Second)), e.ExpiresAt)

		time.Sleep(15 * time.Second)
		r, err := l.GetOrLoadResult(context.Background(), "k", load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStale, r.Served, "stale after 10s, not after the Options' hour")
		assert.Equal(t, "v1", r.Value)
		synctest.Wait()
		v, err = l.GetOrLoad(context.Background(), "k", load)
		require.NoError(t, err)
		assert.Equal(t, "v2", v, "refreshed in the background")
		assert.Equal(t, int64(2), src.total.Load())
	})
}

func TestALoadThatSetsNoPolicyGetsTheOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute})
		start := time.Now()
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		e, _ := store.entry("k")
		assert.Equal(t, flightcache.DeadlineOf(start.Add(time.Minute)), e.FreshUntil)
		assert.Equal(t, flightcache.DeadlineOf(start.Add(2*time.Minute)), e.StaleUntil)
		assert.Equal(t, flightcache.DeadlineOf(start.Add(2*time.Minute)), e.ExpiresAt)
	})
}

// TestPerEntryFreshnessOfZeroAndForever: FreshFor 0 is stale at once
// (max-age=0), Forever never stale; MissingFor applies to "not found".
func TestPerEntryFreshnessOfZeroAndForever(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})
		policies := map[string]flightcache.EntryPolicy{
			"zero":    {StaleFor: time.Hour},
			"forever": {FreshFor: flightcache.Forever},
			"gone":    {MissingFor: time.Hour},
		}
		load := func(ctx context.Context, key string) (string, error) {
			require.NoError(t, flightcache.SetPolicy(ctx, key, policies[key]))
			if key == "gone" {
				return src.load(ctx, key) // counted
			}
			return src.load(ctx, key)
		}
		src.answer = func(_ context.Context, key string) (string, error) {
			if key == "gone" {
				return "", flightcache.ErrNotFound
			}
			return "v", nil
		}
		for _, k := range []string{"zero", "forever", "gone"} {
			_, _ = l.GetOrLoad(context.Background(), k, load)
		}
		time.Sleep(time.Minute + time.Second) // past the Options' FreshFor

		r, err := l.GetOrLoadResult(context.Background(), "zero", load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStale, r.Served, "FreshFor 0: stale as soon as stored")
		r, err = l.GetOrLoadResult(context.Background(), "forever", load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedFresh, r.Served)
		assert.True(t, r.FreshUntil.IsZero(), "Forever: no FreshUntil")
		_, err = l.GetOrLoad(context.Background(), "gone", load)
		assert.ErrorIs(t, err, flightcache.ErrNotFound)
		synctest.Wait()
		assert.Equal(t, 1, src.count("gone"), "the 'not found' answer is cached for its MissingFor")
		assert.Equal(t, 1, src.count("forever"))
	})
}

// TestNoStoreKeepsTheResultOutOfTheStore: the callers get the value; the
// Store keeps nothing new, and drops the old entry, which would otherwise be
// served stale in its place.
func TestNoStoreKeepsTheResultOutOfTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		versionedSource(src)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleIfError: time.Hour})
		noStore := func(ctx context.Context, key string) (string, error) {
			require.NoError(t, flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{NoStore: true}))
			return src.load(ctx, key)
		}
		v, err := l.GetOrLoad(context.Background(), "cold", noStore)
		require.NoError(t, err)
		assert.Equal(t, "v1", v)
		_, ok := store.entry("cold")
		assert.False(t, ok, "nothing stored")
		assert.Zero(t, store.sets.Load(), "not even a deletion: the Store held nothing")

		_, err = l.GetOrLoad(context.Background(), "warm", src.load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		v, err = l.GetOrLoad(context.Background(), "warm", noStore)
		require.NoError(t, err)
		assert.Equal(t, "v3", v)
		e, ok := store.entry("warm")
		assert.True(t, !ok || !e.ExpiresAt.Time().After(time.Now()), "the old entry is dropped: %+v", e)
		v, err = l.GetOrLoad(context.Background(), "warm", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v4", v, "the next caller loads")
	})
}

// TestABatchLoadSetsAPolicyPerKey, MaxBatch splitting the batch across
// calls run at once.
func TestABatchLoadSetsAPolicyPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, MaxBatch: 3})
		keys := make([]string, 20)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%02d", i)
		}
		start := time.Now()
		got, err := l.GetOrLoadMany(context.Background(), keys, func(ctx context.Context, keys []string) (map[string]string, error) {
			out := make(map[string]string, len(keys))
			for _, k := range keys {
				var n int
				_, _ = fmt.Sscanf(k, "k%d", &n)
				require.NoError(t, flightcache.SetPolicy(ctx, k, flightcache.EntryPolicy{FreshFor: time.Duration(n+1) * time.Second}))
				out[k] = "v" + k
			}
			return out, nil
		})
		require.NoError(t, err)
		assert.Len(t, got, 20)
		for i, k := range keys {
			e, ok := store.entry(k)
			require.True(t, ok, k)
			assert.Equal(t, flightcache.DeadlineOf(start.Add(time.Duration(i+1)*time.Second)), e.FreshUntil, k)
		}
	})
}

func TestSetPolicyRefusesWhatItCannotApply(t *testing.T) {
	ctx := context.Background()
	assert.ErrorContains(t, flightcache.SetPolicy(ctx, "k", flightcache.EntryPolicy{FreshFor: time.Second}), "not called with the context of a load")
	//lint:ignore SA1012 a nil context is the mistake under test
	assert.Error(t, flightcache.SetPolicy(nil, "k", flightcache.EntryPolicy{}))
	_, ok := flightcache.Previous[string](ctx, "k")
	assert.False(t, ok)

	l := newLoader(t, newMemStore[string](), nil)
	var errs []error
	_, err := l.GetOrLoad(ctx, "k", func(ctx context.Context, key string) (string, error) {
		errs = append(errs,
			flightcache.SetPolicy(ctx, "other", flightcache.EntryPolicy{}),
			flightcache.SetPolicy(ctx, 42, flightcache.EntryPolicy{}),
			flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{StaleFor: -time.Second}),
			flightcache.SetPolicy(context.WithoutCancel(ctx), key, flightcache.EntryPolicy{FreshFor: flightcache.Forever}),
		)
		return "v", nil
	})
	require.NoError(t, err)
	assert.ErrorContains(t, errs[0], "key other")
	assert.ErrorContains(t, errs[1], "not of the Loader's key type")
	assert.ErrorContains(t, errs[2], "EntryPolicy.StaleFor is negative")
	assert.NoError(t, errs[3], "a context derived from the load's still reaches it")
}

// TestALoadRevalidatesTheEntryItReplaces: a refresh sees the stale entry,
// answers "not modified", and the entry is fresh again with its old value,
// which the load did not produce.
func TestALoadRevalidatesTheEntryItReplaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, rec := newMemStore[string](), new(stats.Counter)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, Recorder: rec})
		var seen []string
		load := func(ctx context.Context, key string) (string, error) {
			if prev, ok := flightcache.Previous[string](ctx, key); ok {
				seen = append(seen, prev.Value)
				return "", fmt.Errorf("304: %w", flightcache.ErrNotModified)
			}
			seen = append(seen, "(none)")
			return "etag-1", nil
		}
		_, err := l.GetOrLoad(context.Background(), "k", load)
		require.NoError(t, err)

		time.Sleep(90 * time.Second)
		r, err := l.GetOrLoadResult(context.Background(), "k", load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStale, r.Served)
		synctest.Wait()
		revalidatedAt := time.Now()
		e, _ := store.entry("k")
		assert.Equal(t, "etag-1", e.Value)
		assert.Equal(t, flightcache.DeadlineOf(revalidatedAt.Add(time.Minute)), e.FreshUntil, "fresh again for FreshFor")
		r, err = l.GetOrLoadResult(context.Background(), "k", load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedFresh, r.Served)
		assert.Equal(t, []string{"(none)", "etag-1"}, seen)
		assert.Zero(t, rec.Snapshot().RefreshErrors)

		// Loader.Refresh revalidates too: a forced fill sees the entry.
		require.NoError(t, l.Refresh(context.Background(), "k", load))
		synctest.Wait()
		assert.Equal(t, []string{"(none)", "etag-1", "etag-1"}, seen)
	})
}

func TestNotModifiedWithNothingToKeepIsAnError(t *testing.T) {
	l := newLoader(t, newMemStore[string](), nil)
	_, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
		return "", flightcache.ErrNotModified
	})
	require.ErrorIs(t, err, flightcache.ErrNotModified)
	assert.ErrorContains(t, err, "held no entry to keep")
}

// TestNotModifiedKeepsANotFoundAnswer: a cached 404 revalidated with a 304
// stays a "not found" answer, for a new MissingFor.
func TestNotModifiedKeepsANotFoundAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{MissingFor: time.Minute})
		_, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
			return "", flightcache.ErrNotFound
		})
		require.ErrorIs(t, err, flightcache.ErrNotFound)
		time.Sleep(30 * time.Second)
		loads := 0
		revalidate := func(ctx context.Context, key string) (string, error) {
			loads++
			prev, ok := flightcache.Previous[string](ctx, key)
			assert.True(t, ok && prev.Missing, "the cached answer: %+v", prev)
			return "", flightcache.ErrNotModified
		}
		require.NoError(t, l.Refresh(context.Background(), "k", revalidate))
		synctest.Wait()
		time.Sleep(45 * time.Second) // past the first answer's minute, inside the second's
		_, err = l.GetOrLoad(context.Background(), "k", revalidate)
		require.ErrorIs(t, err, flightcache.ErrNotFound)
		assert.Equal(t, 1, loads, "revalidated once, then cached again")
	})
}

// TestABatchRefreshSeesEachPreviousEntry: a BatchLoadFunc revalidates by
// returning the previous value.
func TestABatchRefreshSeesEachPreviousEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour})
		var prevs []string
		load := func(ctx context.Context, keys []string) (map[string]string, error) {
			out := make(map[string]string)
			for _, k := range keys {
				if p, ok := flightcache.Previous[string](ctx, k); ok {
					prevs = append(prevs, k+"="+p.Value)
					out[k] = p.Value
					continue
				}
				out[k] = "first-" + k
			}
			return out, nil
		}
		_, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b", "c"}, load)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "first-a", "b": "first-b", "c": "first-c"}, got)
		synctest.Wait()
		assert.ElementsMatch(t, []string{"a=first-a", "b=first-b"}, prevs)
		e, _ := store.entry("a")
		assert.True(t, e.FreshUntil.Time().After(time.Now()), "fresh again")
	})
}

// TestHooksOfALoadThatOutlivesItsFillChangeNothing: a load that ignores its
// context and sets a policy after its deadline neither panics nor changes
// what was stored.
func TestHooksOfALoadThatOutlivesItsFillChangeNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{LoadTimeout: time.Second})
		late := make(chan error, 1)
		_, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
			time.Sleep(2 * time.Second)
			late <- flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{NoStore: true})
			return "late", nil
		})
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		assert.NoError(t, <-late, "the fill still knows its keys")
		synctest.Wait()
		_, ok := store.entry("k")
		assert.False(t, ok, "the late result is dropped")
	})
}

// SetPolicy is refused as soon as the call of the source that got the
// context has returned, even while the fill is still at work (here, writing
// to the Store): what the load says then changes nothing, and it is told so.
func TestSetPolicyIsRefusedOnceTheLoadReturnedWhileTheFillWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		late, result := make(chan struct{}), make(chan error)
		store.beforeSet = func(string, flightcache.Entry[string]) {
			close(late) // the load has returned; the fill is writing
			assert.ErrorContains(t, <-result, "has returned")
		}
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})
		v, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
			go func() {
				<-late
				result <- flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{NoStore: true})
			}()
			return "v", nil
		})
		require.NoError(t, err)
		assert.Equal(t, "v", v)
		_, ok := store.entry("k")
		assert.True(t, ok, "the late NoStore changed nothing")
	})
}

// With a batch that MaxBatch splits into calls of the source, SetPolicy
// through the context of a call that has returned is refused while the
// other calls of the same fill still run.
func TestSetPolicyIsRefusedOnceItsCallReturnedWhileOtherCallsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		aWritten, late, result := make(chan struct{}), make(chan struct{}), make(chan error)
		store.beforeSet = func(key string, _ flightcache.Entry[string]) {
			if key == "a" {
				close(aWritten) // a's call has returned
			}
		}
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, MaxBatch: 1})
		vals, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, func(ctx context.Context, keys []string) (map[string]string, error) {
			switch keys[0] {
			case "a":
				go func() {
					<-late
					result <- flightcache.SetPolicy(ctx, "a", flightcache.EntryPolicy{NoStore: true})
				}()
			case "b":
				<-aWritten
				close(late)
				assert.ErrorContains(t, <-result, "has returned", "a's call returned; b's still runs")
			}
			return map[string]string{keys[0]: strings.ToUpper(keys[0])}, nil
		})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "A", "b": "B"}, vals)
		_, ok := store.entry("a")
		assert.True(t, ok, "the late NoStore changed nothing")
	})
}

// TestNoStoreOfOneKeyOfABatch: one key of a batch says NoStore; its old
// entry is dropped and its callers get the value, the other keys are stored.
func TestNoStoreOfOneKeyOfABatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Second, StaleIfError: time.Hour})
		ctx := context.Background()
		require.NoError(t, l.Set(ctx, "a", "old-a"))
		time.Sleep(2 * time.Second) // a is past FreshFor, inside StaleIfError: loaded with the batch
		got, err := l.GetOrLoadMany(ctx, []string{"a", "b", "c"}, func(ctx context.Context, keys []string) (map[string]string, error) {
			require.NoError(t, flightcache.SetPolicy(ctx, "a", flightcache.EntryPolicy{NoStore: true}))
			out := map[string]string{}
			for _, k := range keys {
				out[k] = "new-" + k
			}
			return out, nil
		})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "new-a", "b": "new-b", "c": "new-c"}, got)
		synctest.Wait()
		if e, ok := store.entry("a"); ok {
			assert.True(t, e.ExpiresAt.Time().Before(time.Now()), "NoStore drops the old entry (an expired entry stands for none)")
		}
		r, err := l.GetOrLoadResult(ctx, "a", func(context.Context, string) (string, error) { return "next-a", nil })
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served, "the old value is not served in place of the NoStore one")
		assert.Equal(t, "next-a", r.Value)
		for _, k := range []string{"b", "c"} {
			e, ok := store.entry(k)
			require.True(t, ok, k)
			assert.Equal(t, "new-"+k, e.Value)
		}
	})
}
