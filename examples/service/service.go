package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/exporters/flightprom"
	"github.com/flightcache/flightcache/stats"
)

// Product is what GET /product returns.
type Product struct {
	ID         int    `json:"id"`          // ID is the product's number, from 1.
	Name       string `json:"name"`        // Name is what the product is called.
	PriceCents int    `json:"price_cents"` // PriceCents is its price in cents.
}

// database is a simulated slow database holding the products 1 to size:
// every query takes queryTime.
type database struct {
	queryTime time.Duration
	size      int
	queries   atomic.Int64
}

// LoadProduct is the query the cache sits in front of. It returns an error
// wrapping flightcache.ErrNotFound for a product that does not exist.
func (db *database) LoadProduct(ctx context.Context, id int) (Product, error) {
	db.queries.Add(1)
	t := time.NewTimer(db.queryTime)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return Product{}, ctx.Err()
	}
	if id < 1 || id > db.size {
		return Product{}, fmt.Errorf("product %d: %w", id, flightcache.ErrNotFound)
	}
	return Product{ID: id, Name: fmt.Sprintf("product %d", id), PriceCents: 100 + id%900}, nil
}

// config is what the service is made of; the flags of main set it.
type config struct {
	addr       string        // where to listen
	queryTime  time.Duration // how long one database query takes
	products   int           // how many products the database holds
	cacheSize  int           // how many entries the cache holds
	freshFor   time.Duration // how long a loaded product is served
	missingFor time.Duration // how long "no such product" is remembered
	trace      bool          // export spans to stdout (-trace)
	tracing    *tracing      // where spans go when trace is set; nil: nowhere
}

// defaultConfig is the configuration with every flag left at its default.
func defaultConfig() config {
	return config{
		addr:       ":8080",
		queryTime:  50 * time.Millisecond,
		products:   1000,
		cacheSize:  10_000,
		freshFor:   time.Minute,
		missingFor: 10 * time.Second,
	}
}

// service serves products from a flightcache Loader in front of the
// database, and the Loader's statistics on /metrics.
type service struct {
	db          *database
	counter     stats.Counter
	products    *flightcache.Loader[int, Product]
	loadProduct flightcache.LoadFunc[int, Product] // bound once, so that hits allocate nothing
	registry    *prometheus.Registry
	log         *slog.Logger
}

// newService builds the service. Close releases it.
func newService(cfg config, log *slog.Logger) (*service, error) {
	s := &service{
		db:       &database{queryTime: cfg.queryTime, size: cfg.products},
		registry: prometheus.NewRegistry(),
		log:      log,
	}
	s.loadProduct = s.db.LoadProduct
	store, err := lrustore.New[int, Product](cfg.cacheSize)
	if err != nil {
		return nil, err
	}
	s.products, err = flightcache.New(store, &flightcache.Options{
		FreshFor:   cfg.freshFor,
		MissingFor: cfg.missingFor,
		Jitter:     0.1,
		Recorder:   &s.counter,
		Tracer:     cfg.tracing.loadTracer("products"),
		Logger:     log,
	})
	if err != nil {
		return nil, err
	}
	if err := s.registry.Register(flightprom.NewForCounter("products", &s.counter)); err != nil {
		s.products.Close()
		return nil, err
	}
	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return s, nil
}

// Close stops the Loader, waiting for the loads that are running.
func (s *service) Close() error {
	return s.products.Close()
}

// handler routes GET /product and GET /metrics.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /product", s.getProduct)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError),
	}))
	return mux
}

// getProduct serves GET /product?id=N.
func (s *service) getProduct(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.URL.Query().Get("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{"id must be an integer"})
		return
	}
	p, err := s.products.GetOrLoad(r.Context(), id, s.loadProduct)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, p)
	case errors.Is(err, flightcache.ErrNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{fmt.Sprintf("no product %d", id)})
	case r.Context().Err() != nil:
		// The client left; nobody reads the answer.
	default:
		s.log.Error("loading a product failed", "id", id, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"the product database is unavailable"})
	}
}

// errorBody is the JSON body of an error response.
type errorBody struct {
	Error string `json:"error"`
}

// writeJSON writes v as the JSON body of a response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // a failed write means the client left
}
