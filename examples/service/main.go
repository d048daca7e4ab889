// Command service is a small HTTP service that serves products from a
// SQLite database through a flightcache Loader, and exports the cache's
// statistics to Prometheus.
//
//	go run . -addr :8080
//	curl 'localhost:8080/product?id=42'
//	curl -X PUT -d '{"name": "product 42", "price_cents": 999}' 'localhost:8080/product?id=42'
//	curl localhost:8080/metrics
//	go run . -trace    # spans to stdout
//
// The database is SQLite, through database/sql and modernc.org/sqlite (pure
// Go: nothing to install, no cgo), in memory or in the file -db; or, with
// -dsn, a PostgreSQL database of your own, through pgx. It is seeded at
// start with -products products in a table "products" (created if missing;
// the products it already has are kept). Every statement sent to it is
// counted; -latency adds a delay to each, as a database across a network
// would have.
//
// GET /product?id=N returns product N as JSON (404 when there is no such
// product, 400 when N is not an integer); the first request for a product
// queries the database, the next ones within -fresh are served from the
// cache, and concurrent misses of one product share one query.
// PUT /product?id=N with a body {"name": "...", "price_cents": N} updates the
// product in the database, then invalidates its cache entry, so that the
// next GET serves the new one.
// GET /metrics serves the flightcache_* metrics of the Loader, labelled
// name="products", along with the Go runtime's.
//
// With -trace, it writes OpenTelemetry spans to stdout as JSON: one per
// request, and one per database query (flightcache.load), a child of the
// span of the request that started the query, linked to those of the
// requests that waited on it.
//
// It is a module of its own, so that the flightcache module never depends on
// the Prometheus client, OpenTelemetry or a database driver.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("service failed", "err", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line into a config. It writes usage and
// errors to output.
func parseFlags(args []string, output io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&cfg.addr, "addr", cfg.addr, "address to listen on")
	fs.StringVar(&cfg.dbPath, "db", cfg.dbPath, `the SQLite database file, created if missing ("": a new database in memory)`)
	fs.StringVar(&cfg.dsn, "dsn", cfg.dsn, "a PostgreSQL database to use instead of SQLite, as a connection string (postgres://user:password@host:port/dbname)")
	fs.DurationVar(&cfg.latency, "latency", cfg.latency, "delay added to every database statement, as over a network")
	fs.IntVar(&cfg.products, "products", cfg.products, "products seeded in the database, numbered from 1")
	fs.IntVar(&cfg.cacheSize, "cache", cfg.cacheSize, "entries the cache holds")
	fs.DurationVar(&cfg.freshFor, "fresh", cfg.freshFor, "how long a loaded product is served from the cache")
	fs.DurationVar(&cfg.missingFor, "missing", cfg.missingFor, `how long "no such product" is remembered`)
	fs.BoolVar(&cfg.trace, "trace", cfg.trace, "write OpenTelemetry spans to stdout")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %q", fs.Args())
		fmt.Fprintln(output, err)
		return cfg, err
	}
	return cfg, nil
}

// run listens on cfg.addr and serves until ctx ends.
func run(ctx context.Context, cfg config, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.trace {
		if cfg.tracing, err = newTracing(os.Stdout); err != nil {
			ln.Close()
			return err
		}
		defer cfg.tracing.shutdown(context.Background())
	}
	return serve(ctx, ln, cfg, log)
}

// serve serves the service on ln until ctx ends, then shuts the server down,
// letting the requests under way finish, and closes the service.
func serve(ctx context.Context, ln net.Listener, cfg config, log *slog.Logger) error {
	svc, err := newService(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer svc.Close()

	srv := &http.Server{
		Handler:           cfg.tracing.wrap(svc.handler()),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelError),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	<-served // http.ErrServerClosed, once Serve has returned
	return err
}
