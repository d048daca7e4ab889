package flightcache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
)

// catalog stands in for a slow database of product names.
type catalog struct{ queries atomic.Int64 }

func (c *catalog) ProductName(_ context.Context, id int) (string, error) {
	c.queries.Add(1)
	time.Sleep(20 * time.Millisecond) // a slow query
	return fmt.Sprintf("product %d", id), nil
}

// A hundred requests miss the same key at once: one query reaches the
// database, and every request gets its answer. The requests after them are
// served from the store.
func Example() {
	store, err := lrustore.New[int, string](10_000)
	if err != nil {
		panic(err)
	}
	products, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute})
	if err != nil {
		panic(err)
	}
	// Close stops background refreshes; it does not close the store
	// (an lrustore has nothing to close).
	defer products.Close()

	db := &catalog{}
	productName := db.ProductName // bind the method value once: hits then allocate nothing

	var wg sync.WaitGroup
	var served atomic.Int64
	for range 100 {
		wg.Go(func() {
			name, err := products.GetOrLoad(context.Background(), 42, productName)
			if err == nil && name == "product 42" {
				served.Add(1)
			}
		})
	}
	wg.Wait()
	name, err := products.GetOrLoad(context.Background(), 42, productName) // a hit
	fmt.Println(name, err)
	fmt.Printf("%d requests served, %d database query\n", served.Load()+1, db.queries.Load())
	// Output:
	// product 42 <nil>
	// 101 requests served, 1 database query
}
