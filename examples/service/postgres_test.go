package main

import (
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// postgresConfig returns the test configuration on a schema of the test's
// own, dropped at its end, in the PostgreSQL of POSTGRES_DSN (a URL:
// postgres://user@host:port/dbname). It skips the test when POSTGRES_DSN
// is unset; ./test.sh sets it, to a PostgreSQL it starts, when it finds
// one installed.
func postgresConfig(t *testing.T) config {
	t.Helper()
	dsn := os.Getenv("POSTGRES_DSN")
	if dsn == "" {
		t.Skip("POSTGRES_DSN is unset: set it to a PostgreSQL URL to run the service on PostgreSQL")
	}
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer admin.Close()
	schema := "flightcache_service_test_" + rand.Text()[:10]
	_, err = admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", dsn)
		if assert.NoError(t, err) {
			defer admin.Close()
			_, err = admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			assert.NoError(t, err)
		}
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err, "POSTGRES_DSN must be a URL")
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	cfg := testConfig()
	cfg.dsn = u.String()
	return cfg
}

// TestTheServiceRunsOnPostgres runs the service on PostgreSQL through pgx
// (-dsn): a burst of 1,000 concurrent requests over 20 cold products makes
// 20 queries, and an updated product is served new once invalidated.
func TestTheServiceRunsOnPostgres(t *testing.T) {
	t.Run("burst", func(t *testing.T) {
		cfg := postgresConfig(t)
		cfg.latency = 20 * time.Millisecond // so that the requests meet in flight
		svc := newTestService(t, cfg)
		h := svc.handler()
		const requests, products = 1000, 20
		var wg sync.WaitGroup
		codes := make([]int, requests)
		for i := range requests {
			wg.Go(func() {
				codes[i] = serveHTTP(h, http.MethodGet, fmt.Sprintf("/product?id=%d", 1+i%products), "").Code
			})
		}
		wg.Wait()
		for _, c := range codes {
			require.Equal(t, http.StatusOK, c)
		}
		assert.Equal(t, int64(products), svc.db.queries.Load(), "one query per product")
		families := metrics(t, h)
		t.Logf("%d requests over %d cold products on PostgreSQL: %d queries, %v coalesced", requests, products,
			svc.db.queries.Load(), counter(t, families, "flightcache_coalesced_total"))
	})
	t.Run("update then invalidate", func(t *testing.T) {
		checkUpdateThenInvalidate(t, newTestService(t, postgresConfig(t)))
	})
}
