package flightcache_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// hitAllocs returns the allocations of a GetOrLoad of key over a store that
// holds e for every key.
func hitAllocs[K comparable](t *testing.T, key K, e flightcache.Entry[string], opts *flightcache.Options) float64 {
	l, err := flightcache.New[K, string](&fixedStore[K]{entry: e}, opts)
	require.NoError(t, err)
	defer l.Close()
	load := func(context.Context, K) (string, error) { return "v", nil }
	return testing.AllocsPerRun(1000, func() {
		if _, err := l.GetOrLoad(context.Background(), key, load); err != nil {
			t.Fatal(err)
		}
	})
}

func TestHitAllocatesNothing(t *testing.T) {
	store, src := newMemStore[string](), newSource()
	for _, rec := range []stats.Recorder{nil, new(stats.Counter)} {
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, Recorder: rec})
		// A method value written in the call would allocate its closure on
		// every call; bound once, it does not.
		load := src.load
		_, err := l.GetOrLoad(context.Background(), "k", load)
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := l.GetOrLoad(context.Background(), "k", load); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, "recorder %T", rec)
	}
}

// TestAHitOfAnEntryWithItsOwnPolicyAllocatesNothing, through GetOrLoad
// and GetOrLoadResult alike.
func TestAHitOfAnEntryWithItsOwnPolicyAllocatesNothing(t *testing.T) {
	store := newMemStore[string]()
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, Recorder: new(stats.Counter)})
	load := func(ctx context.Context, key string) (string, error) {
		_ = flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: 2 * time.Hour, StaleFor: time.Minute})
		return "v", nil
	}
	_, err := l.GetOrLoad(context.Background(), "k", load)
	require.NoError(t, err)
	e, _ := store.entry("k")
	require.True(t, e.FreshUntil.Time().After(time.Now().Add(time.Hour)), "the load's policy")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = l.GetOrLoad(context.Background(), "k", load) }))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = l.GetOrLoadResult(context.Background(), "k", load) }))
}

// TestFreshHitsOfEveryKeyTypeAllocateNothing: rule 1, for key types that the
// Loader must check at each call (interfaces, floats, structs holding them).
func TestFreshHitsOfEveryKeyTypeAllocateNothing(t *testing.T) {
	fresh := flightcache.Entry[string]{Value: "v", FreshUntil: flightcache.DeadlineOf(time.Now().Add(time.Hour))}
	opts := &flightcache.Options{FreshFor: time.Hour, Recorder: new(stats.Counter)}
	type mixed struct {
		ID   int
		Tag  any
		Rank float64
	}
	assert.Zero(t, hitAllocs[any](t, "k", fresh, opts), "any holding a string")
	assert.Zero(t, hitAllocs[any](t, 42, fresh, opts), "any holding an int")
	assert.Zero(t, hitAllocs[float64](t, 1.5, fresh, opts), "float64")
	assert.Zero(t, hitAllocs[mixed](t, mixed{1, "x", 2}, fresh, opts), "struct with an interface and a float")
	assert.Zero(t, hitAllocs[[2]any](t, [2]any{1, "x"}, fresh, opts), "array of interfaces")
}

func TestAStaleReadWhoseRefreshIsRunningAllocatesNothing(t *testing.T) {
	store := newMemStore[string]()
	rec := new(stats.Counter)
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, StaleFor: time.Hour, Recorder: rec})
	stuck := make(chan struct{})
	defer close(stuck)
	load := func(context.Context, string) (string, error) {
		<-stuck
		return "new", nil
	}
	require.NoError(t, store.Set(context.Background(), "k", flightcache.Entry[string]{
		Value: "old", FreshUntil: flightcache.DeadlineOf(time.Now().Add(-time.Second)), ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour)),
	}))
	v, err := l.GetOrLoad(context.Background(), "k", load) // starts the refresh, which stays stuck
	require.NoError(t, err)
	require.Equal(t, "old", v)
	allocs := testing.AllocsPerRun(1000, func() {
		if v, err := l.GetOrLoad(context.Background(), "k", load); err != nil || v != "old" {
			t.Fatal(v, err)
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, uint64(1), rec.Snapshot().Refreshes, "one refresh, however many stale reads")
}

// TestStaleHitsWhileTheRefreshRunsOrBacksOffAllocateNothing: issue 11 item
// 3, "a read that finds its key's refresh running, or backing off, or every
// slot taken, ... allocates nothing".
func TestStaleHitsWhileTheRefreshRunsOrBacksOffAllocateNothing(t *testing.T) {
	stale := flightcache.Entry[string]{Value: "v", FreshUntil: flightcache.DeadlineOf(time.Now().Add(-time.Minute)), ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour))}
	for _, rec := range []stats.Recorder{nil, new(stats.Counter)} {
		opts := &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, MaxRefreshes: 1, Recorder: rec, Logger: slog.New(slog.DiscardHandler)}

		// Running: the refresh of "k" hangs until the test ends.
		l, err := flightcache.New[string, string](&fixedStore[string]{entry: stale}, opts)
		require.NoError(t, err)
		gate := make(chan struct{})
		hang := func(context.Context, string) (string, error) { <-gate; return "v2", nil }
		_, err = l.GetOrLoad(context.Background(), "k", hang)
		require.NoError(t, err)
		running := testing.AllocsPerRun(1000, func() { _, _ = l.GetOrLoad(context.Background(), "k", hang) })
		// Every slot taken: "k" holds the only one; "other" finds none.
		full := testing.AllocsPerRun(1000, func() { _, _ = l.GetOrLoad(context.Background(), "other", hang) })
		close(gate)
		l.Close()

		// Backing off: the refresh of "k" failed.
		counter := new(stats.Counter)
		bopts := *opts
		bopts.Recorder = counter
		l, err = flightcache.New[string, string](&fixedStore[string]{entry: stale}, &bopts)
		require.NoError(t, err)
		var fails atomic.Int64
		fail := func(context.Context, string) (string, error) { fails.Add(1); return "", errBackend }
		_, err = l.GetOrLoad(context.Background(), "k", fail)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return counter.Snapshot().RefreshErrors == 1 }, 5*time.Second, time.Millisecond)
		backoff := testing.AllocsPerRun(1000, func() { _, _ = l.GetOrLoad(context.Background(), "k", fail) })
		l.Close()
		assert.Equal(t, int64(1), fails.Load(), "the key backed off")
		assert.Zero(t, backoff, "backing off")
		assert.Zero(t, running, "refresh running, recorder %T", rec)
		assert.Zero(t, full, "every slot taken, recorder %T", rec)
	}
}
