package flightcache_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
)

// page is a response kept with its validator.
type page struct {
	ETag string
	Body string
}

func ExampleEntryPolicy_keepFor() {
	store, _ := lrustore.New[string, page](1000)
	pages, _ := flightcache.New(store, nil)
	defer pages.Close()
	ctx := context.Background()

	// A page loaded a minute ago, fresh for a minute and with no stale
	// window, that its load asked to keep an hour for revalidation.
	ago := time.Now().Add(-time.Minute)
	_ = store.Set(ctx, "/", flightcache.Entry[page]{
		Value:      page{ETag: `"v1"`, Body: "hello"},
		LoadedAt:   flightcache.DeadlineOf(ago),
		FreshUntil: flightcache.DeadlineOf(ago.Add(time.Minute)),
		StaleUntil: flightcache.DeadlineOf(ago.Add(time.Minute)),
		ServeUntil: flightcache.DeadlineOf(ago.Add(time.Minute)),
		ExpiresAt:  flightcache.DeadlineOf(ago.Add(time.Minute + time.Hour)),
	})

	load := func(ctx context.Context, path string) (page, error) {
		if old, ok := flightcache.Previous[page](ctx, path); ok {
			fmt.Println("conditional GET with If-None-Match:", old.Value.ETag)
			return page{}, flightcache.ErrNotModified // the server answered 304
		}
		return page{ETag: `"v1"`, Body: "hello"}, flightcache.SetPolicy(ctx, path, flightcache.EntryPolicy{
			FreshFor: time.Minute,
			KeepFor:  time.Hour, // past its minute, kept for Previous only
		})
	}
	r, _ := pages.GetOrLoadResult(ctx, "/", load)
	fmt.Println(r.Value.Body, r.Served, "fresh for", r.FreshUntil.Sub(r.LoadedAt))
	// Output:
	// conditional GET with If-None-Match: "v1"
	// hello loaded fresh for 1m0s
}

func ExampleEntryPolicy_private() {
	store, _ := lrustore.New[string, string](1000)
	dashboards, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute})
	defer dashboards.Close()

	var loads atomic.Int32
	load := func(ctx context.Context, path string) (string, error) {
		loads.Add(1)
		user := ctx.Value(userKey{}).(string)
		// An answer for one user (HTTP's Cache-Control: private): it
		// reaches only the caller whose load it was, and is not stored.
		return "dashboard of " + user, flightcache.SetPolicy(ctx, path, flightcache.EntryPolicy{Private: true})
	}
	for _, user := range []string{"ann", "bob"} {
		v, _ := dashboards.GetOrLoad(asUser(user), "/dashboard", load)
		fmt.Println(v)
	}
	fmt.Println("loads:", loads.Load())
	// Output:
	// dashboard of ann
	// dashboard of bob
	// loads: 2
}

func ExampleLoader_Expire() {
	store, _ := lrustore.New[string, string](1000)
	prices, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour, StaleFor: time.Minute})
	defer prices.Close()
	ctx := context.Background()

	version := "v1"
	load := func(context.Context, string) (string, error) { return version, nil }
	_, _ = prices.GetOrLoad(ctx, "sku-1", load)

	version = "v2"                  // the source changed
	_ = prices.Expire(ctx, "sku-1") // stale now, not gone
	r, _ := prices.GetOrLoadResult(ctx, "sku-1", load)
	fmt.Println(r.Value, r.Served) // served at once, while one refresh runs
	_ = prices.Wait(ctx)
	r, _ = prices.GetOrLoadResult(ctx, "sku-1", load)
	fmt.Println(r.Value, r.Served)
	// Output:
	// v1 stale
	// v2 fresh
}

func ExampleLoader_Peek() {
	store, _ := lrustore.New[string, string](1000)
	prices, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour})
	defer prices.Close()
	ctx := context.Background()

	_, ok, _ := prices.Peek(ctx, "sku-1")
	fmt.Println(ok) // a read would load
	_, _ = prices.GetOrLoad(ctx, "sku-1", func(context.Context, string) (string, error) { return "42", nil })
	r, ok, _ := prices.Peek(ctx, "sku-1")
	fmt.Println(ok, r.Value, r.Served)
	// Output:
	// false
	// true 42 fresh
}
