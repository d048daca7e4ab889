package flightcache_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// tagsOfKey is the tags a test's loads give each key: "user" to u1 and
// u2, "team" to t1, none to the others.
func tagsOfKey(key string) []string {
	switch key {
	case "u1", "u2":
		return []string{"user"}
	case "t1":
		return []string{"team", "user"}
	}
	return nil
}

// taggingSource is source whose loads tag their keys (tagsOfKey) and
// answer "<version>-<key>", version counting the loads of the source.
func taggingSource() *source {
	src := newSource()
	src.answer = func(ctx context.Context, key string) (string, error) {
		err := flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: tagsOfKey(key)})
		return strconv.FormatInt(src.total.Load(), 10) + "-" + key, err
	}
	return src
}

// InvalidateTag makes every entry with the tag a miss, at every entry
// point, and leaves the others alone (HybridCache's RemoveByTagAsync).
func TestInvalidateTagMakesTheTaggedEntriesAMiss(t *testing.T) {
	reads := map[string]func(l *flightcache.Loader[string, string], src *source, key string) (string, error){
		"GetOrLoad": func(l *flightcache.Loader[string, string], src *source, key string) (string, error) {
			return l.GetOrLoad(context.Background(), key, src.load)
		},
		"GetOrLoadMany": func(l *flightcache.Loader[string, string], src *source, key string) (string, error) {
			m, err := l.GetOrLoadMany(context.Background(), []string{key}, src.loadMany)
			return m[key], err
		},
		"Batcher": func(l *flightcache.Loader[string, string], src *source, key string) (string, error) {
			b, err := l.Batcher(src.loadMany, flightcache.Window{Wait: time.Millisecond})
			require.NoError(t, err)
			return b.GetOrLoad(context.Background(), key)
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := new(stats.Counter)
				l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour, Recorder: rec})
				src := taggingSource()
				keys := []string{"u1", "u2", "t1", "x"}
				first := map[string]string{}
				for _, k := range keys {
					v, err := read(l, src, k)
					require.NoError(t, err)
					first[k] = v
				}
				require.NoError(t, l.InvalidateTag(context.Background(), "team"))
				for _, k := range keys {
					v, err := read(l, src, k)
					require.NoError(t, err)
					if k == "t1" {
						assert.NotEqual(t, first[k], v, "%s is tagged team: loaded again", k)
					} else {
						assert.Equal(t, first[k], v, "%s is not tagged team: still served", k)
					}
				}
				require.NoError(t, l.InvalidateTag(context.Background(), "user"))
				for _, k := range keys {
					v, err := read(l, src, k)
					require.NoError(t, err)
					assert.Equal(t, k != "x", v != first[k] && src.count(k) > 1, "%s", k)
				}
				assert.Equal(t, uint64(2), rec.Snapshot().TagInvalidations)
			})
		})
	}
}

// A load in flight when InvalidateTag is called may have read the source
// before it changed: its callers get its result, but a caller that comes
// after InvalidateTag returned starts a load of its own, and what the old
// load stores is a miss (rule 8).
func TestInvalidateTagWinsOverALoadInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour})
		src := newSource()
		src.gate = make(chan struct{})
		var calls atomic.Int64
		load := func(ctx context.Context, key string) (string, error) {
			n := calls.Add(1) // before the gate: the version the load read
			if _, err := src.load(ctx, key); err != nil {
				return "", err
			}
			return strconv.FormatInt(n, 10) + "-" + key, flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: []string{"user"}})
		}
		old := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "u1", load)
			assert.NoError(t, err)
			old <- v
		}()
		synctest.Wait()
		require.NoError(t, l.InvalidateTag(context.Background(), "user"))

		fresh := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "u1", load)
			assert.NoError(t, err)
			fresh <- v
		}()
		synctest.Wait()
		assert.Equal(t, 2, src.count("u1"), "the caller after InvalidateTag did not join the load in flight")
		src.gate <- struct{}{} // the old load returns first, and stores
		assert.Equal(t, "1-u1", <-old, "the old load's caller gets its result")
		src.gate <- struct{}{}
		assert.Equal(t, "2-u1", <-fresh)
		src.gate = nil
		v, err := l.GetOrLoad(context.Background(), "u1", load)
		require.NoError(t, err)
		assert.Equal(t, "2-u1", v, "the old load's entry is never served")
	})
}

// An entry a tag invalidation covers is gone: Previous does not see it,
// and it does not stand in for a load that fails (stale-if-error).
func TestInvalidatedEntryIsNeitherPreviousNorAFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleIfError: time.Hour, StaleFor: time.Hour})
		load := func(ctx context.Context, key string) (string, error) {
			return "v", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{
				FreshFor: time.Minute, StaleFor: time.Hour, StaleIfError: time.Hour, KeepFor: time.Hour, Tags: []string{"t"},
			})
		}
		_, err := l.GetOrLoad(context.Background(), "k", load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute) // stale: would be served while a refresh runs
		require.NoError(t, l.InvalidateTag(context.Background(), "t"))

		_, ok, err := l.Peek(context.Background(), "k")
		require.NoError(t, err)
		assert.False(t, ok, "Peek: a read would load")
		failing := func(ctx context.Context, key string) (string, error) {
			_, had := flightcache.Previous[string](ctx, key)
			assert.False(t, had, "Previous sees no invalidated entry")
			return "", errBackend
		}
		_, err = l.GetOrLoad(context.Background(), "k", failing)
		assert.ErrorIs(t, err, errBackend, "no old value stands in for the failed load")
	})
}

// A revalidated entry (ErrNotModified) keeps the tags of the entry it
// replaces unless its load sets a policy (rule 14); a cached "not found"
// is tagged as a value is.
func TestTagsOfRevalidatedAndNegativeEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, MissingFor: time.Hour})
		tagged := func(ctx context.Context, key string) (string, error) {
			err := flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Minute, StaleFor: time.Hour, MissingFor: time.Hour, Tags: []string{"t"}})
			if key == "gone" {
				return "", errors.Join(err, flightcache.ErrNotFound)
			}
			return "v", err
		}
		_, err := l.GetOrLoad(context.Background(), "k", tagged)
		require.NoError(t, err)
		_, err = l.GetOrLoad(context.Background(), "gone", tagged)
		require.ErrorIs(t, err, flightcache.ErrNotFound)

		time.Sleep(2 * time.Minute)
		require.NoError(t, l.Refresh(context.Background(), "k", func(context.Context, string) (string, error) {
			return "", flightcache.ErrNotModified
		}))
		require.NoError(t, l.Wait(context.Background()))
		e, ok := store.entry("k")
		require.True(t, ok)
		assert.True(t, e.Tags.Has("t"), "the revalidated entry keeps its tags: %v", e.Tags)
		e, ok = store.entry("gone")
		require.True(t, ok)
		assert.True(t, e.Missing && e.Tags.Has("t"), "a cached not found is tagged")

		require.NoError(t, l.InvalidateTag(context.Background(), "t"))
		for _, k := range []string{"k", "gone"} {
			_, ok, err := l.Peek(context.Background(), k)
			require.NoError(t, err)
			assert.False(t, ok, "%s is gone", k)
		}
	})
}

// A tag is 1 to MaxTagLen bytes and an entry has at most MaxTags: a load
// that sets others gets an error from SetPolicy and changes nothing; so
// does InvalidateTag, SetWithPolicy and NewTags.
func TestTagsThatCannotBeUsedAreRefused(t *testing.T) {
	many := make([]string, flightcache.MaxTags+1)
	for i := range many {
		many[i] = strconv.Itoa(i)
	}
	bad := map[string][]string{
		"empty":    {"ok", ""},
		"too long": {string(make([]byte, flightcache.MaxTagLen+1))},
		"too many": many,
	}
	l := newLoader(t, newMemStore[string](), nil)
	for name, tags := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := flightcache.NewTags(tags...)
			assert.ErrorIs(t, err, flightcache.ErrInvalidTag)
			err = l.SetWithPolicy(context.Background(), "k", "v", flightcache.EntryPolicy{FreshFor: time.Hour, Tags: tags})
			assert.ErrorIs(t, err, flightcache.ErrInvalidTag)
			_, err = l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
				return "v", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{Tags: tags})
			})
			assert.ErrorIs(t, err, flightcache.ErrInvalidTag)
		})
	}
	assert.ErrorIs(t, l.InvalidateTag(context.Background(), ""), flightcache.ErrInvalidTag)
	assert.ErrorIs(t, l.InvalidateTag(context.Background(), string(make([]byte, flightcache.MaxTagLen+1))), flightcache.ErrInvalidTag)
	//lint:ignore SA1012 a nil context is the mistake under test
	assert.Error(t, l.InvalidateTag(nil, "t"))
	require.NoError(t, l.Close())
	assert.ErrorIs(t, l.InvalidateTag(context.Background(), "t"), flightcache.ErrClosed)
	assert.ErrorIs(t, l.Clear(context.Background()), flightcache.ErrClosed)
}

// NewTags sorts its names and drops repeats; the nil set is empty.
func TestNewTagsIsASortedSet(t *testing.T) {
	tags, err := flightcache.NewTags("b", "a", "b")
	require.NoError(t, err)
	assert.Equal(t, 2, tags.Len())
	var names []string
	for n := range tags.All() {
		names = append(names, n)
	}
	assert.Equal(t, []string{"a", "b"}, names)
	assert.True(t, tags.Has("a"))
	assert.False(t, tags.Has("c"))
	assert.Equal(t, "{a b}", tags.String())
	none, err := flightcache.NewTags()
	require.NoError(t, err)
	assert.Nil(t, none)
	assert.Zero(t, none.Len())
	assert.False(t, none.Has("a"))
	assert.Equal(t, "{}", none.String())
	for range none.All() {
		t.Fatal("the nil set has no tags")
	}
}

// SetWithPolicy stores a value under a policy of its own, tags included;
// Set's entry has none. A policy that would store nothing is refused.
func TestSetWithPolicyTagsTheEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour})
		require.NoError(t, l.SetWithPolicy(context.Background(), "a", "A", flightcache.EntryPolicy{FreshFor: time.Minute, Tags: []string{"t"}}))
		require.NoError(t, l.Set(context.Background(), "b", "B"))
		e, ok := store.entry("a")
		require.True(t, ok)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), e.FreshUntil, "the policy's FreshFor, not the Options'")
		assert.True(t, e.Tags.Has("t"))

		require.NoError(t, l.InvalidateTag(context.Background(), "t"))
		src := newSource()
		v, err := l.GetOrLoad(context.Background(), "a", src.load)
		require.NoError(t, err)
		assert.Equal(t, "value-a", v, "the tagged Set is gone")
		v, err = l.GetOrLoad(context.Background(), "b", src.load)
		require.NoError(t, err)
		assert.Equal(t, "B", v, "the untagged one is not")

		for _, p := range []flightcache.EntryPolicy{{NoStore: true}, {Private: true}, {FreshFor: -1}} {
			assert.Error(t, l.SetWithPolicy(context.Background(), "b", "C", p), "%+v", p)
		}
		v, err = l.GetOrLoad(context.Background(), "b", src.load)
		require.NoError(t, err)
		assert.Equal(t, "B", v, "a refused SetWithPolicy changed nothing")
	})
}

// InvalidateTag and Clear need no wait without an InvalidationLog: they
// are made whatever ctx says (rule 13).
func TestInvalidationsWithAnEndedContextAreMade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour})
		src := taggingSource()
		_, err := l.GetOrLoad(context.Background(), "u1", src.load)
		require.NoError(t, err)
		_, err = l.GetOrLoad(context.Background(), "x", src.load)
		require.NoError(t, err)
		ended, cancel := context.WithCancel(context.Background())
		cancel()
		require.NoError(t, l.InvalidateTag(ended, "user"))
		_, ok, _ := l.Peek(context.Background(), "u1")
		assert.False(t, ok)
		require.NoError(t, l.Clear(ended))
		_, ok, _ = l.Peek(context.Background(), "x")
		assert.False(t, ok)
	})
}

// A hit on a tagged entry allocates nothing, with tag invalidations on
// record or not.
func TestTaggedHitAllocatesNothing(t *testing.T) {
	l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour})
	src := taggingSource()
	load := src.load
	_, err := l.GetOrLoad(context.Background(), "t1", load)
	require.NoError(t, err)
	hit := func() {
		if _, err := l.GetOrLoad(context.Background(), "t1", load); err != nil {
			t.Fatal(err)
		}
	}
	assert.Zero(t, testing.AllocsPerRun(1000, hit))
	require.NoError(t, l.InvalidateTag(context.Background(), "other"))
	require.NoError(t, l.Clear(context.Background()))
	_, err = l.GetOrLoad(context.Background(), "t1", load)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(1000, hit))
	assert.Equal(t, int64(2), src.total.Load(), "one load before Clear, one after")
}
