package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver for database/sql, for -dsn
	_ "modernc.org/sqlite"             // the "sqlite" driver for database/sql, in pure Go

	"github.com/flightcache/flightcache"
)

// database is the product database, SQLite or PostgreSQL through
// database/sql, with every statement counted, so that the service (and its
// tests) can tell how often the cache let a request through to it. Its
// statements are written in the SQL both understand ($1 parameters, ON
// CONFLICT).
type database struct {
	sql     *sql.DB
	latency time.Duration // added to every statement, as a database across a network would

	queries atomic.Int64 // SELECTs sent
	writes  atomic.Int64 // every other statement sent
}

// openDatabase opens the database of cfg and seeds it with the products 1
// to cfg.products that it does not have yet: product N is called
// "product N" and costs 100 + N%900 cents. The database is the PostgreSQL
// of cfg.dsn when it is set; else the SQLite database in the file
// cfg.dbPath, or a new one in memory when that is empty.
func openDatabase(ctx context.Context, cfg config) (*database, error) {
	driver, dsn := "sqlite", ":memory:"
	switch {
	case cfg.dsn != "":
		driver, dsn = "pgx", cfg.dsn
	case cfg.dbPath != "":
		// WAL lets readers go on while a write commits; busy_timeout
		// makes a writer wait for another instead of failing at once.
		q := url.Values{"_pragma": {"journal_mode(WAL)", "busy_timeout(5000)"}}
		dsn = "file:" + cfg.dbPath + "?" + q.Encode()
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	if driver == "sqlite" && cfg.dbPath == "" {
		// Each connection to ":memory:" is a database of its own: keep
		// one, the seeded one, for ever.
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	}
	d := &database{sql: db, latency: cfg.latency}
	if err := d.seed(ctx, cfg.products); err != nil {
		db.Close()
		return nil, fmt.Errorf("seeding the product database: %w", err)
	}
	return d, nil
}

// seed creates the products table when it is missing and inserts the
// products 1 to n that are not there yet, in one transaction. Its
// statements are not counted.
func (d *database) seed(ctx context.Context, n int) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS products (
		id          INTEGER PRIMARY KEY,
		name        TEXT    NOT NULL,
		price_cents INTEGER NOT NULL
	)`); err != nil {
		return err
	}
	insert, err := tx.PrepareContext(ctx, `INSERT INTO products (id, name, price_cents) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return err
	}
	defer insert.Close()
	for id := 1; id <= n; id++ {
		if _, err := insert.ExecContext(ctx, id, fmt.Sprintf("product %d", id), 100+id%900); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Close closes the database.
func (d *database) Close() error {
	return d.sql.Close()
}

// wait waits for the database's latency, or for ctx to end.
func (d *database) wait(ctx context.Context) error {
	if d.latency <= 0 {
		return nil
	}
	t := time.NewTimer(d.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// queryRow sends a SELECT that returns at most one row, counted, after the
// database's latency.
func (d *database) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	if err := d.wait(ctx); err != nil {
		return nil, err
	}
	d.queries.Add(1)
	return d.sql.QueryRowContext(ctx, query, args...), nil
}

// exec sends a statement that returns no rows, counted, after the
// database's latency.
func (d *database) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := d.wait(ctx); err != nil {
		return nil, err
	}
	d.writes.Add(1)
	return d.sql.ExecContext(ctx, query, args...)
}

// LoadProduct is the query the cache sits in front of. It returns an error
// wrapping flightcache.ErrNotFound for a product that does not exist.
func (d *database) LoadProduct(ctx context.Context, id int) (Product, error) {
	row, err := d.queryRow(ctx, `SELECT name, price_cents FROM products WHERE id = $1`, id)
	if err != nil {
		return Product{}, err
	}
	p := Product{ID: id}
	err = row.Scan(&p.Name, &p.PriceCents)
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, fmt.Errorf("product %d: %w", id, flightcache.ErrNotFound)
	}
	if err != nil {
		return Product{}, fmt.Errorf("product %d: %w", id, err)
	}
	return p, nil
}

// UpdateProduct changes the name and price of product p.ID. It returns an
// error wrapping flightcache.ErrNotFound for a product that does not exist.
func (d *database) UpdateProduct(ctx context.Context, p Product) error {
	res, err := d.exec(ctx, `UPDATE products SET name = $1, price_cents = $2 WHERE id = $3`, p.Name, p.PriceCents, p.ID)
	if err != nil {
		return fmt.Errorf("product %d: %w", p.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("product %d: %w", p.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("product %d: %w", p.ID, flightcache.ErrNotFound)
	}
	return nil
}
