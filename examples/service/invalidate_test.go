package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAnUpdatedProductIsServedNewOnceInvalidated changes a cached product
// in the database behind the service's back, which the cache cannot see
// until the entry expires, then through PUT /product, which updates the
// row and invalidates the entry: the next GET serves the new product at
// once, for one query.
func TestAnUpdatedProductIsServedNewOnceInvalidated(t *testing.T) {
	checkUpdateThenInvalidate(t, newTestService(t, testConfig()))
}

// checkUpdateThenInvalidate is TestAnUpdatedProductIsServedNewOnceInvalidated
// on svc, a service with no latency whose product 3 is as seeded and not
// cached yet.
func checkUpdateThenInvalidate(t *testing.T, svc *service) {
	t.Helper()
	h := svc.handler()
	get := func() string {
		t.Helper()
		r := serveHTTP(h, http.MethodGet, "/product?id=3", "")
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		return r.Body.String()
	}

	assert.JSONEq(t, `{"id": 3, "name": "product 3", "price_cents": 103}`, get())
	require.Equal(t, int64(1), svc.db.queries.Load())

	// Another writer changes the row: the cache still serves the old one,
	// for up to -fresh.
	_, err := svc.db.sql.ExecContext(t.Context(), `UPDATE products SET price_cents = 150 WHERE id = 3`)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id": 3, "name": "product 3", "price_cents": 103}`, get())
	assert.Equal(t, int64(1), svc.db.queries.Load(), "served from the cache")

	// The service's own update writes, then invalidates.
	r := serveHTTP(h, http.MethodPut, "/product?id=3", `{"name": "product 3, new", "price_cents": 999}`)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	assert.JSONEq(t, `{"id": 3, "name": "product 3, new", "price_cents": 999}`, r.Body.String())
	assert.Equal(t, int64(1), svc.db.writes.Load())

	assert.JSONEq(t, `{"id": 3, "name": "product 3, new", "price_cents": 999}`, get(), "the new product, at once")
	assert.Equal(t, int64(2), svc.db.queries.Load(), "one query for the new product")
	assert.JSONEq(t, `{"id": 3, "name": "product 3, new", "price_cents": 999}`, get())
	assert.Equal(t, int64(2), svc.db.queries.Load(), "then cached again")
}

func TestAnUpdateOfAProductThatDoesNotExistIsNotFound(t *testing.T) {
	h := newTestService(t, testConfig()).handler()
	r := serveHTTP(h, http.MethodPut, "/product?id=1000000", `{"name": "x", "price_cents": 1}`)
	assert.Equal(t, http.StatusNotFound, r.Code)
	assert.JSONEq(t, `{"error": "no product 1000000"}`, r.Body.String())
}

func TestAnUpdateWithABadBodyIsRefused(t *testing.T) {
	h := newTestService(t, testConfig()).handler()
	for _, body := range []string{``, `{`, `{"name": ""}`, `{"name": "x", "price_cents": -1}`, `{"name": "x", "colour": "red"}`, `{"id": 4, "name": "x"}`} {
		r := serveHTTP(h, http.MethodPut, "/product?id=3", body)
		assert.Equal(t, http.StatusBadRequest, r.Code, body)
	}
	assert.Equal(t, http.StatusBadRequest, serveHTTP(h, http.MethodPut, "/product?id=three", `{"name": "x"}`).Code)
}

// TestAFileDatabaseKeepsItsProductsAcrossRestarts runs the service twice on
// one database file: the second start seeds nothing over the product the
// first one updated.
func TestAFileDatabaseKeepsItsProductsAcrossRestarts(t *testing.T) {
	cfg := testConfig()
	cfg.dbPath = t.TempDir() + "/products.db"
	first, err := newService(t.Context(), cfg, quietLog)
	require.NoError(t, err)
	r := serveHTTP(first.handler(), http.MethodPut, "/product?id=5", `{"name": "five", "price_cents": 55}`)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	require.NoError(t, first.Close())

	second := newTestService(t, cfg)
	r = serveHTTP(second.handler(), http.MethodGet, "/product?id=5", "")
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	assert.JSONEq(t, `{"id": 5, "name": "five", "price_cents": 55}`, r.Body.String())
}
