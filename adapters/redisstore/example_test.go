package redisstore_test

import (
	"context"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/tiered"
)

// This example needs a Redis, so it is compiled but not run by go test; see
// examples/fleet for a program that runs.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer client.Close()

	shared, err := redisstore.New[string, string](client, &redisstore.Options[string, string]{
		Prefix:   "prices:",
		Timeout:  100 * time.Millisecond, // fail open quickly when Redis is slow
		LeaseTTL: 3 * time.Second,        // longer than a load takes
	})
	if err != nil {
		panic(err)
	}
	local, _ := lrustore.New[string, string](100_000)
	store := tiered.NewWithNotifier[string, string](local, shared, shared)
	sub, err := shared.Subscribe(store)
	if err != nil {
		panic(err)
	}
	defer sub.Close()

	prices, _ := flightcache.New[string, string](store, &flightcache.Options{FreshFor: time.Minute})
	defer prices.Close()
	prices.GetOrLoad(context.Background(), "sku-1", func(context.Context, string) (string, error) {
		return "9.99", nil
	})
}
