package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
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

// config is what the service is made of; the flags of main set it.
type config struct {
	addr       string        // where to listen
	dsn        string        // a PostgreSQL connection string; "": SQLite
	dbPath     string        // the SQLite database file; "": a new one in memory
	latency    time.Duration // added to every database statement
	products   int           // the products seeded, numbered from 1
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

// newService opens and seeds the database and builds the service in front
// of it. Close releases both.
func newService(ctx context.Context, cfg config, log *slog.Logger) (_ *service, err error) {
	store, err := lrustore.New[int, Product](cfg.cacheSize)
	if err != nil {
		return nil, err
	}
	s := &service{registry: prometheus.NewRegistry(), log: log}
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
	defer func() {
		if err != nil {
			s.products.Close()
		}
	}()
	if err := s.registry.Register(flightprom.NewForCounter("products", &s.counter)); err != nil {
		return nil, err
	}
	s.db, err = openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.loadProduct = s.db.LoadProduct
	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return s, nil
}

// Close stops the Loader, waiting for the loads that are running, then
// closes the database.
func (s *service) Close() error {
	return errors.Join(s.products.Close(), s.db.Close())
}

// handler routes GET and PUT /product and GET /metrics.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /product", s.getProduct)
	mux.HandleFunc("PUT /product", s.putProduct)
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

// putProduct serves PUT /product?id=N, whose JSON body holds the product's
// new name and price: it writes them to the database, then invalidates the
// cached product, so that the next GET loads the new one.
func (s *service) putProduct(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.URL.Query().Get("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{"id must be an integer"})
		return
	}
	var p Product
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Name == "" || p.PriceCents < 0 || (p.ID != 0 && p.ID != id) {
		writeJSON(w, http.StatusBadRequest, errorBody{`the body must be {"name": "...", "price_cents": N} with N >= 0`})
		return
	}
	p.ID = id
	err = s.db.UpdateProduct(r.Context(), p)
	switch {
	case errors.Is(err, flightcache.ErrNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{fmt.Sprintf("no product %d", id)})
		return
	case err != nil:
		s.log.Error("updating a product failed", "id", id, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"the product database is unavailable"})
		return
	}
	// After the write, not before: a load that started before the write
	// and ends after it is not stored over the invalidation (a Loader's
	// Invalidate wins over loads in flight), and every load that starts
	// after it reads the new row.
	if err := s.products.Invalidate(r.Context(), id); err != nil {
		s.log.Error("invalidating a product failed", "id", id, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"the product was updated, but the cache may serve the old one until it expires"})
		return
	}
	writeJSON(w, http.StatusOK, p)
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
