// Command swapstores runs the same service code on each in-memory store
// (lrustore, ristrettostore, otterstore): choosing a backend is one line.
// Closing a Loader leaves its Store open, so the program closes each store
// that has a Close method itself, once its Loader is closed.
//
//	go run ./examples/swapstores
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/otterstore"
	"github.com/flightcache/flightcache/adapters/ristrettostore"
	"github.com/flightcache/flightcache/stats"
)

type User struct {
	ID   int
	Name string
}

// userService is the code a service writes once, whatever the store.
type userService struct {
	users   *flightcache.Loader[int, User]
	queries atomic.Int64
	load    flightcache.LoadFunc[int, User]
}

func newUserService(store flightcache.Store[int, User], counter *stats.Counter) (*userService, error) {
	users, err := flightcache.New(store, &flightcache.Options{
		FreshFor:   time.Minute,
		MissingFor: 10 * time.Second,
		Jitter:     0.1,
		Recorder:   counter,
	})
	if err != nil {
		return nil, err
	}
	s := &userService{users: users}
	s.load = s.loadUser
	return s, nil
}

func (s *userService) loadUser(_ context.Context, id int) (User, error) {
	s.queries.Add(1)
	time.Sleep(5 * time.Millisecond) // the database
	if id >= 90 {
		return User{}, flightcache.ErrNotFound
	}
	return User{ID: id, Name: fmt.Sprintf("user-%d", id)}, nil
}

func (s *userService) User(ctx context.Context, id int) (User, error) {
	return s.users.GetOrLoad(ctx, id, s.load)
}

// traffic sends 100 concurrent requests for each of 100 users, twice.
func traffic(s *userService) error {
	for range 2 {
		var wg sync.WaitGroup
		var failed atomic.Value
		for i := range 10_000 {
			wg.Go(func() {
				if _, err := s.User(context.Background(), i%100); err != nil && !errors.Is(err, flightcache.ErrNotFound) {
					failed.Store(err)
				}
			})
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	for _, backend := range []struct {
		name     string
		newStore func() (flightcache.Store[int, User], error)
	}{
		// The one line that changes:
		{"lrustore", func() (flightcache.Store[int, User], error) { return lrustore.New[int, User](10_000) }},
		{"ristrettostore", func() (flightcache.Store[int, User], error) { return ristrettostore.New[int, User](10_000) }},
		{"otterstore", func() (flightcache.Store[int, User], error) { return otterstore.New[int, User](10_000) }},
	} {
		store, err := backend.newStore()
		if err != nil {
			panic(err)
		}
		var counter stats.Counter
		s, err := newUserService(store, &counter)
		if err != nil {
			panic(err)
		}
		if err := traffic(s); err != nil {
			fmt.Fprintln(os.Stderr, backend.name, "failed:", err)
			os.Exit(1)
		}
		s.users.Close()
		// Loader.Close does not close the Store: the store may be shared,
		// and ristretto and otter run goroutines until it is closed.
		if c, ok := store.(interface{ Close() error }); ok {
			if err := c.Close(); err != nil {
				fmt.Fprintln(os.Stderr, backend.name, "close:", err)
				os.Exit(1)
			}
		}
		st := counter.Snapshot()
		fmt.Printf("%-15s 20000 requests, %d database queries (100 users, 10 of them missing), %d hits, %d cached not-found, %d coalesced\n",
			backend.name, s.queries.Load(), st.Hits, st.MissingHits, st.Coalesced)
	}
}
