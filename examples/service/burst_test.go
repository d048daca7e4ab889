package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestABurstOverColdProductsQueriesEachOnce sends 1,000 concurrent requests
// over 20 products the cache has never seen to the service in front of its
// SQLite database, which takes 50 ms a statement: the database gets 20
// queries, one per product, and every request gets its product. It runs in
// a synctest bubble, so that every request arrives while the queries are
// under way (the 50 ms are the bubble's fake time).
func TestABurstOverColdProductsQueriesEachOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.latency = 50 * time.Millisecond
		svc := newTestService(t, cfg)
		h := svc.handler()

		const requests, products = 1000, 20
		responses := make([]*httptest.ResponseRecorder, requests)
		start := time.Now()
		var wg sync.WaitGroup
		for i := range requests {
			wg.Go(func() {
				responses[i] = serveHTTP(h, http.MethodGet, fmt.Sprintf("/product?id=%d", 1+i%products), "")
			})
		}
		wg.Wait()
		elapsed := time.Since(start)

		for i, r := range responses {
			id := 1 + i%products
			require.Equal(t, http.StatusOK, r.Code, r.Body.String())
			assert.JSONEq(t, fmt.Sprintf(`{"id": %d, "name": "product %d", "price_cents": %d}`, id, id, 100+id), r.Body.String())
		}
		assert.Equal(t, int64(products), svc.db.queries.Load(), "one query per product")
		assert.Zero(t, svc.db.writes.Load())
		assert.Equal(t, cfg.latency, elapsed, "every request waited for one query, none for a second")

		families := metrics(t, h)
		assert.Equal(t, float64(requests), counter(t, families, "flightcache_misses_total"), "every request missed: it came before any product was stored")
		assert.Equal(t, float64(requests-products), counter(t, families, "flightcache_coalesced_total"))
		assert.Equal(t, float64(products), counter(t, families, "flightcache_loads_total"))
		t.Logf("%d requests over %d cold products: %d database queries, %v for all of them (fake time), %v coalesced",
			requests, products, svc.db.queries.Load(), elapsed, counter(t, families, "flightcache_coalesced_total"))

		// The burst again: every product is now cached.
		for i := range requests {
			r := serveHTTP(h, http.MethodGet, fmt.Sprintf("/product?id=%d", 1+i%products), "")
			require.Equal(t, http.StatusOK, r.Code)
		}
		assert.Equal(t, int64(products), svc.db.queries.Load(), "hits query nothing")
		families = metrics(t, h)
		assert.Equal(t, float64(requests), counter(t, families, "flightcache_hits_total"))

		// flightprom's ratios, over both bursts: half the reads were
		// served from the cache, and the source was called once for
		// every 100 reads, although 1,000 of the 2,000 reads missed.
		fromCache := counter(t, families, "flightcache_hits_total") +
			counter(t, families, "flightcache_stale_hits_total") +
			counter(t, families, "flightcache_missing_hits_total")
		reads := fromCache + counter(t, families, "flightcache_misses_total")
		assert.Equal(t, float64(2*requests), reads)
		assert.Equal(t, 0.5, fromCache/reads, "hit ratio")
		assert.Equal(t, 0.01, counter(t, families, "flightcache_loads_total")/reads, "calls of the source per read")
	})
}
