package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quietLog discards what the service logs.
var quietLog = slog.New(slog.DiscardHandler)

// testConfig is the default configuration, a new database in memory with no
// latency added, on a loopback port of the system's choosing.
func testConfig() config {
	cfg := defaultConfig()
	cfg.addr = "127.0.0.1:0"
	return cfg
}

// newTestService builds a service from cfg, closed at the end of the test.
func newTestService(t *testing.T, cfg config) *service {
	t.Helper()
	svc, err := newService(t.Context(), cfg, quietLog)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, svc.Close()) })
	return svc
}

// serveHTTP sends the request method url, with body if it is not empty,
// to h and returns the response.
func serveHTTP(h http.Handler, method, url, body string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, url, r))
	return w
}

// metrics scrapes h's /metrics.
func metrics(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	w := serveHTTP(h, http.MethodGet, "/metrics", "")
	return parseMetrics(t, w.Code, w.Body.String())
}

// get sends GET url and returns the status and body of the response.
func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// scrape gets url, a Prometheus endpoint, and returns its metric families.
func scrape(t *testing.T, client *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	status, body := get(t, client, url)
	return parseMetrics(t, status, body)
}

// parseMetrics parses a Prometheus text exposition, the body of a response
// with the given status, into its metric families.
func parseMetrics(t *testing.T, status int, body string) map[string]*dto.MetricFamily {
	t.Helper()
	require.Equal(t, http.StatusOK, status, body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	return families
}

// counter returns the value of the counter called name for the products
// Loader.
func counter(t *testing.T, families map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := families[name]
	require.True(t, ok, "no metric %s", name)
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "name" && l.GetValue() == "products" {
				return m.GetCounter().GetValue()
			}
		}
	}
	require.Failf(t, "no series", `%s{name="products"}`, name)
	return 0
}

// TestEndToEnd serves the service on a loopback port, sends it requests and
// checks the answers and that the cache's metrics moved.
func TestEndToEnd(t *testing.T) {
	ln, err := net.Listen("tcp", testConfig().addr)
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, testConfig(), quietLog) }()
	defer func() {
		stop()
		assert.NoError(t, <-served)
	}()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	before := scrape(t, client, base+"/metrics")
	assert.Zero(t, counter(t, before, "flightcache_hits_total"))
	assert.Zero(t, counter(t, before, "flightcache_loads_total"))

	for range 3 {
		status, body := get(t, client, base+"/product?id=42")
		require.Equal(t, http.StatusOK, status, body)
		var p Product
		require.NoError(t, json.Unmarshal([]byte(body), &p))
		assert.Equal(t, Product{ID: 42, Name: "product 42", PriceCents: 142}, p)
	}
	status, body := get(t, client, base+"/product?id=1000000")
	assert.Equal(t, http.StatusNotFound, status)
	assert.JSONEq(t, `{"error": "no product 1000000"}`, body)
	status, _ = get(t, client, base+"/product?id=1000000")
	assert.Equal(t, http.StatusNotFound, status, "the cached answer")
	status, body = get(t, client, base+"/product?id=forty-two")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.JSONEq(t, `{"error": "id must be an integer"}`, body)

	after := scrape(t, client, base+"/metrics")
	assert.Equal(t, 2.0, counter(t, after, "flightcache_hits_total"), "the second and third request for 42")
	assert.Equal(t, 2.0, counter(t, after, "flightcache_loads_total"), "42, and the product that does not exist")
	assert.Equal(t, 2.0, counter(t, after, "flightcache_misses_total"))
	assert.Equal(t, 1.0, counter(t, after, "flightcache_missing_hits_total"))
	assert.Zero(t, counter(t, after, "flightcache_load_errors_total"), `"not found" is an answer, not a failure`)
	h := after["flightcache_load_duration_seconds"].GetMetric()[0].GetHistogram()
	assert.Equal(t, uint64(2), h.GetSampleCount())
	assert.Contains(t, after, "go_goroutines", "the Go runtime's metrics are there too")
}

func TestOnlyGetAndPutAreServed(t *testing.T) {
	h := newTestService(t, testConfig()).handler()
	assert.Equal(t, http.StatusMethodNotAllowed, serveHTTP(h, http.MethodPost, "/product?id=1", "").Code)
	assert.Equal(t, http.StatusMethodNotAllowed, serveHTTP(h, http.MethodDelete, "/product?id=1", "").Code)
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, ":8080", cfg.addr)
	assert.Equal(t, defaultConfig(), cfg)

	cfg, err = parseFlags([]string{"-addr", "127.0.0.1:9090", "-db", "products.db", "-latency", "5ms", "-fresh", "2m"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9090", cfg.addr)
	assert.Equal(t, "products.db", cfg.dbPath)
	assert.Equal(t, 5*time.Millisecond, cfg.latency)
	assert.Equal(t, 2*time.Minute, cfg.freshFor)

	cfg, err = parseFlags([]string{"-dsn", "postgres://me@127.0.0.1:5432/shop"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "postgres://me@127.0.0.1:5432/shop", cfg.dsn)

	_, err = parseFlags([]string{"-addr"}, io.Discard)
	assert.Error(t, err)
	_, err = parseFlags([]string{"extra"}, io.Discard)
	assert.Error(t, err)
}

func TestBadConfigIsAnError(t *testing.T) {
	cfg := testConfig()
	cfg.cacheSize = 0
	_, err := newService(t.Context(), cfg, quietLog)
	assert.Error(t, err)

	cfg = testConfig()
	cfg.freshFor = -time.Second
	_, err = newService(t.Context(), cfg, quietLog)
	assert.ErrorContains(t, err, "FreshFor")

	cfg = testConfig()
	cfg.dbPath = t.TempDir() // a directory, not a database file
	_, err = newService(t.Context(), cfg, quietLog)
	assert.ErrorContains(t, err, "seeding the product database")
}

func TestRunFailsOnAnAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cfg := testConfig()
	cfg.addr = ln.Addr().String()
	assert.Error(t, run(context.Background(), cfg, quietLog))
}
