package flightcache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
)

// quote is what a pricing service answers: a price, how long it holds, and
// a version to revalidate it with.
type quote struct {
	Price    int
	ValidFor time.Duration
	Version  int
}

func ExampleSetPolicy() {
	store, _ := lrustore.New[string, quote](1000)
	quotes, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute})
	defer quotes.Close()

	load := func(ctx context.Context, sku string) (quote, error) {
		q := quote{Price: 42, ValidFor: 5 * time.Second} // the source says how long
		err := flightcache.SetPolicy(ctx, sku, flightcache.EntryPolicy{
			FreshFor:     q.ValidFor,
			StaleFor:     time.Minute, // then serve it while it is refreshed
			StaleIfError: time.Hour,   // or in place of a failed load
		})
		return q, err
	}
	r, _ := quotes.GetOrLoadResult(context.Background(), "sku-1", load)
	fmt.Println(r.Value.Price, r.Served, r.StaleUntil.Sub(r.FreshUntil), r.ExpiresAt.Sub(r.FreshUntil))
	// Output:
	// 42 loaded 1m0s 1h0m0s
}

func ExampleLoader_GetOrLoadResult() {
	store, _ := lrustore.New[string, quote](1000)
	quotes, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute, StaleIfError: time.Hour})
	defer quotes.Close()

	ctx := context.Background()
	up := func(context.Context, string) (quote, error) { return quote{Price: 42}, nil }
	down := func(context.Context, string) (quote, error) { return quote{}, errors.New("pricing is down") }

	r, _ := quotes.GetOrLoadResult(ctx, "sku-1", up)
	fmt.Println(r.Value.Price, r.Served)
	r, _ = quotes.GetOrLoadResult(ctx, "sku-1", up)
	fmt.Println(r.Value.Price, r.Served)

	// An hour-old quote, past its minute of freshness, stands in for a
	// failed load; the caller sees that it did, and why.
	store.Set(ctx, "sku-1", flightcache.Entry[quote]{
		Value: quote{Price: 40}, FreshUntil: flightcache.DeadlineOf(time.Now().Add(-time.Second)), ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour)),
	})
	r, err := quotes.GetOrLoadResult(ctx, "sku-1", down)
	fmt.Println(r.Value.Price, r.Served, r.Err, err)
	// Output:
	// 42 loaded
	// 42 fresh
	// 40 stand-in pricing is down <nil>
}

func ExamplePrevious() {
	store, _ := lrustore.New[string, quote](1000)
	quotes, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute})
	defer quotes.Close()

	sourceVersion := 7
	load := func(ctx context.Context, sku string) (quote, error) {
		if old, ok := flightcache.Previous[quote](ctx, sku); ok && old.Value.Version == sourceVersion {
			fmt.Println("not modified since version", old.Value.Version)
			return quote{}, flightcache.ErrNotModified // keep the old value, fresh again
		}
		fmt.Println("full load")
		return quote{Price: 42, Version: sourceVersion}, nil
	}
	ctx := context.Background()
	quotes.GetOrLoad(ctx, "sku-1", load)
	quotes.Refresh(ctx, "sku-1", load) // in the background
	quotes.Close()                     // waits for the refresh
	// Output:
	// full load
	// not modified since version 7
}

func ExampleBackoff() {
	store, _ := lrustore.New[string, quote](1000)
	quotes, _ := flightcache.New(store, &flightcache.Options{
		FreshFor: time.Minute,
		// After a failed load of a key, no new load of it for 1s, then
		// 2s, 4s... up to a minute, each spread by ±20%.
		FailureBackoff: flightcache.Backoff{Initial: time.Second, Max: time.Minute, Jitter: 0.2},
	})
	defer quotes.Close()

	calls := 0
	down := func(context.Context, string) (quote, error) {
		calls++
		return quote{}, errors.New("pricing is down")
	}
	for range 3 {
		_, err := quotes.GetOrLoad(context.Background(), "sku-1", down)
		fmt.Println(errors.Is(err, flightcache.ErrThrottled), err != nil)
	}
	fmt.Println("calls:", calls)
	// Output:
	// false true
	// true true
	// true true
	// calls: 1
}

func ExampleLoader_Batcher() {
	store, _ := lrustore.New[int, User](1000)
	users, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute})
	defer users.Close()

	var mu sync.Mutex
	var queries [][]int
	loadUsers := func(_ context.Context, ids []int) (map[int]User, error) {
		mu.Lock()
		queries = append(queries, slices.Sorted(slices.Values(ids))) // one WHERE id IN (...)
		mu.Unlock()
		found := make(map[int]User)
		for _, id := range ids {
			found[id] = User{ID: id, Name: fmt.Sprintf("user-%d", id)}
		}
		return found, nil
	}
	// Single-key reads that miss within a window are loaded together, as a
	// DataLoader batches the loads of one tick: the window closes after
	// Wait, or at once when it holds MaxKeys keys.
	batcher, _ := users.Batcher(loadUsers, flightcache.Window{Wait: time.Second, MaxKeys: 3})

	var wg sync.WaitGroup
	for id := range 3 {
		wg.Go(func() {
			batcher.GetOrLoad(context.Background(), id+1) // from three request handlers, say
		})
	}
	wg.Wait()
	fmt.Println("queries:", queries)
	// Output:
	// queries: [[1 2 3]]
}
