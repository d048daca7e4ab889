package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
)

// This file is RunLoader's read-your-writes checks: a Loader's own writes
// are seen by the next read through it, and win over fills in flight, on
// every Store (in particular those that apply writes asynchronously). Each
// replays public reports against other caches, or ports another cache's
// loader tests, named in its comment.

// readWrites runs the read-your-writes checks, each on a Store of its own.
func readWrites(t *testing.T, newStore func(t *testing.T) flightcache.Store[string, string]) {
	t.Run("SetReadBack", func(t *testing.T) { setReadBack(t, newStore(t)) })
	t.Run("InvalidateSeen", func(t *testing.T) { invalidateSeen(t, newStore(t)) })
	t.Run("SetBeforeLoadReturned", func(t *testing.T) { setBeforeLoadReturned(t, newStore(t)) })
	for _, stale := range []bool{false, true} {
		t.Run(fmt.Sprintf("InvalidateDuringFill/stale=%v", stale), func(t *testing.T) {
			invalidateDuringFill(t, newStore(t), stale)
		})
	}
	t.Run("RefreshFindsKeyGone", func(t *testing.T) { refreshFindsKeyGone(t, newStore(t)) })
}

// setReadBack replays eko/gocache#207 and dgraph-io/ristretto#161 (a Get
// right after a Set missed, in a cache that applies writes later): after
// Loader.Set returns, a GetOrLoad of the key, on any goroutine, gets the
// value set and calls no load, for thousands of keys written and read at
// once.
func setReadBack(t *testing.T, store flightcache.Store[string, string]) {
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour})
	ctx := context.Background()
	var loads atomic.Int64
	load := func(context.Context, string) (string, error) { loads.Add(1); return "loaded", nil }
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprintf("storetest:set:%d/%d", w, i)
				if err := l.Set(ctx, key, "set-"+key); err != nil {
					t.Errorf("Set(%q): %v", key, err)
					return
				}
				if v, err := l.GetOrLoad(ctx, key, load); err != nil || v != "set-"+key {
					t.Errorf("GetOrLoad(%q) right after Set = %q, %v; want %q (a Get that follows a Set sees that Set)", key, v, err, "set-"+key)
				}
			}
		})
	}
	wg.Wait()
	if n := loads.Load(); n != 0 {
		t.Errorf("%d keys were loaded right after their Set (a Get that follows a Set sees that Set)", n)
	}
}

// invalidateSeen replays eko/gocache#176 (an invalidation not yet visible to
// the next Get): after Loader.Invalidate returns, the next GetOrLoad of the
// key loads it.
func invalidateSeen(t *testing.T, store flightcache.Store[string, string]) {
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour})
	ctx := context.Background()
	value := func(v string) flightcache.LoadFunc[string, string] {
		return func(context.Context, string) (string, error) { return v, nil }
	}
	for i := range 2000 {
		key := "storetest:inval:" + strconv.Itoa(i)
		if v, err := l.GetOrLoad(ctx, key, value("old")); err != nil || v != "old" {
			t.Fatalf("GetOrLoad(%q) = %q, %v; want %q", key, v, err, "old")
		}
		if err := l.Invalidate(ctx, key); err != nil {
			t.Fatalf("Invalidate(%q): %v", key, err)
		}
		if v, err := l.GetOrLoad(ctx, key, value("new")); err != nil || v != "new" {
			t.Fatalf("GetOrLoad(%q) after Invalidate = %q, %v; want %q (rule 8: Invalidate wins; a Get that follows a Delete misses)", key, v, err, "new")
		}
	}
}

// setBeforeLoadReturned ports maypok86/otter's
// TestCache_GetDoesNotOverwriteConcurrentSet: for each of thousands of keys,
// a Set and a GetOrLoad race on real goroutines, and the load returns only
// after the Set has; whatever the interleaving, the key then holds the
// Set's value (rule 8).
func setBeforeLoadReturned(t *testing.T, store flightcache.Store[string, string]) {
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour})
	ctx := context.Background()
	for i := range 2000 {
		key := "storetest:race:" + strconv.Itoa(i)
		setDone := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := l.Set(ctx, key, "set"); err != nil {
				t.Errorf("Set(%q): %v", key, err)
			}
			close(setDone)
		})
		wg.Go(func() {
			_, _ = l.GetOrLoad(ctx, key, func(context.Context, string) (string, error) {
				<-setDone
				return "loaded", nil
			})
		})
		wg.Wait()
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if r, found, err := l.Peek(ctx, key); err != nil || !found || r.Value != "set" {
			t.Fatalf("Peek(%q) = %q, %v, %v; want %q (rule 8: a load overwrote a Set that returned before the load did)", key, r.Value, found, err, "set")
		}
	}
}

// invalidateDuringFill replays google/guava#1881: a fill (a miss, or with
// stale the refresh of a stale entry) reads the old row; the row changes and
// the key is invalidated; then the load returns. Its result is not stored,
// and the next read loads the new row (rule 8).
func invalidateDuringFill(t *testing.T, store flightcache.Store[string, string], stale bool) {
	fresh := time.Hour
	if stale {
		fresh = time.Nanosecond // stale as soon as it is stored
	}
	l := newLoader(t, store, &flightcache.Options{FreshFor: fresh, StaleFor: time.Hour})
	ctx := context.Background()
	var row atomic.Int64
	row.Store(1)
	read := func(context.Context, string) (string, error) { return "v" + strconv.FormatInt(row.Load(), 10), nil }
	key := "storetest:fill"
	if stale {
		if _, err := l.GetOrLoad(ctx, key, read); err != nil {
			t.Fatal(err)
		}
	}
	hasRead, gate := make(chan struct{}), make(chan struct{})
	go func() {
		_, _ = l.GetOrLoad(ctx, key, func(ctx context.Context, k string) (string, error) {
			v, err := read(ctx, k)
			close(hasRead)
			<-gate
			return v, err
		})
	}()
	<-hasRead
	row.Store(2)
	if err := l.Invalidate(ctx, key); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if r, found, err := l.Peek(ctx, key); err != nil || found {
		t.Fatalf("Peek(%q) = %q, %v, %v: the fill that Invalidate overtook was stored (rule 8)", key, r.Value, found, err)
	}
	if v, err := l.GetOrLoad(ctx, key, read); err != nil || v != "v2" {
		t.Fatalf("GetOrLoad(%q) = %q, %v; want the new row, %q", key, v, err, "v2")
	}
}

// refreshFindsKeyGone ports viccon/sturdyc's
// TestGetOrFetchDeletesRecordsThatHaveBeenRemovedAtTheSource: the refresh of
// a stale key whose source answers "not found" removes the entry from the
// Store itself (without MissingFor: over a Store that keeps its contract,
// Get finds nothing), so that no reader is served it.
func refreshFindsKeyGone(t *testing.T, store flightcache.Store[string, string]) {
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Nanosecond, StaleFor: time.Hour})
	ctx := context.Background()
	key := "storetest:gone"
	if _, err := l.GetOrLoad(ctx, key, func(context.Context, string) (string, error) { return "v", nil }); err != nil {
		t.Fatal(err)
	}
	gone := func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
	if v, err := l.GetOrLoad(ctx, key, gone); err != nil || v != "v" {
		t.Fatalf("GetOrLoad(%q) of a stale entry = %q, %v; want it served stale, %q, while it refreshes", key, v, err, "v")
	}
	if err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// What the Loader wrote for it is gone: nothing, or an entry whose
	// ExpiresAt has passed, which a Store that keeps its contract never
	// reads back (Run's "ExpiredSetNotStored") and no Loader serves.
	if e, found, err := store.Get(ctx, key); err != nil || found && (e.ExpiresAt.IsZero() || e.ExpiresAt.After(flightcache.DeadlineOf(time.Now()))) {
		t.Fatalf("Store.Get(%q) = %+v, found %v, %v: the entry of a key gone at the source stays in the Store", key, e, found, err)
	}
	if r, found, err := l.Peek(ctx, key); err != nil || found {
		t.Fatalf("Peek(%q) = %q, %v, %v: a key gone at the source is still served", key, r.Value, found, err)
	}
	if _, err := l.GetOrLoad(ctx, key, gone); !errors.Is(err, flightcache.ErrNotFound) {
		t.Fatalf("GetOrLoad(%q) after the refresh found it gone: %v; want ErrNotFound", key, err)
	}
}
