package flightcache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
)

func ExampleLoader_InvalidateTag() {
	store, _ := lrustore.New[string, string](1000)
	pages, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour})
	defer pages.Close()
	ctx := context.Background()

	// Each page is tagged with the products it shows.
	shows := map[string][]string{"home": {"product:1", "product:2"}, "sale": {"product:2"}, "about": nil}
	renders := 0
	render := func(ctx context.Context, page string) (string, error) {
		renders++
		err := flightcache.SetPolicy(ctx, page, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: shows[page]})
		return fmt.Sprintf("%s #%d", page, renders), err
	}
	for _, p := range []string{"home", "sale", "about"} {
		_, _ = pages.GetOrLoad(ctx, p, render)
	}

	_ = pages.InvalidateTag(ctx, "product:1") // product 1 changed
	for _, p := range []string{"home", "sale", "about"} {
		v, _ := pages.GetOrLoad(ctx, p, render)
		fmt.Println(v)
	}
	// Output:
	// home #4
	// sale #2
	// about #3
}

func ExampleLoader_Clear() {
	store, _ := lrustore.New[string, string](1000)
	prices, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour})
	defer prices.Close()
	ctx := context.Background()

	currency := "EUR"
	load := func(_ context.Context, sku string) (string, error) { return sku + " in " + currency, nil }
	v, _ := prices.GetOrLoad(ctx, "sku-1", load)
	fmt.Println(v)

	currency = "USD"      // every price changed
	_ = prices.Clear(ctx) // a generation: no entry is touched, every one is a miss
	v, _ = prices.GetOrLoad(ctx, "sku-1", load)
	fmt.Println(v)
	// Output:
	// sku-1 in EUR
	// sku-1 in USD
}

func ExampleLoader_SetWithPolicy() {
	store, _ := lrustore.New[string, string](1000)
	users, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour})
	defer users.Close()
	ctx := context.Background()

	_ = users.SetWithPolicy(ctx, "user:7", "Ada", flightcache.EntryPolicy{FreshFor: time.Minute, Tags: []string{"team:3"}})
	_ = users.InvalidateTag(ctx, "team:3")
	_, ok, _ := users.Peek(ctx, "user:7")
	fmt.Println(ok)
	// Output:
	// false
}
