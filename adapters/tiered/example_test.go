package tiered_test

import (
	"context"
	"fmt"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/tiered"
)

func ExampleNew() {
	// In production the shared tier is a redisstore.Store; any Store works.
	local, _ := lrustore.New[string, string](1000)
	shared, _ := lrustore.New[string, string](100_000)
	shared.Set(context.Background(), "greeting", flightcache.Entry[string]{Value: "hello"})

	store := tiered.New[string, string](local, shared)
	l, _ := flightcache.New[string, string](store, &flightcache.Options{FreshFor: time.Minute})
	defer l.Close()

	v, _ := l.GetOrLoad(context.Background(), "greeting", func(context.Context, string) (string, error) {
		return "loaded", nil // not called: the shared tier has it
	})
	_, inLocal, _ := local.Get(context.Background(), "greeting")
	fmt.Println(v, inLocal)
	// Output:
	// hello true
}
