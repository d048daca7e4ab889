package flightcache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/stats"
)

type User struct {
	ID   int
	Name string
}

// usersDB stands in for a slow database.
type usersDB struct{ queries int }

func (db *usersDB) LoadUser(_ context.Context, id int) (User, error) {
	db.queries++
	if id > 100 {
		return User{}, fmt.Errorf("user %d: %w", id, flightcache.ErrNotFound)
	}
	return User{ID: id, Name: fmt.Sprintf("user-%d", id)}, nil
}

func ExampleNew() {
	store, err := lrustore.New[int, User](100_000) // or ristrettostore.New[int, User](100_000)
	if err != nil {
		panic(err)
	}
	users, err := flightcache.New(store, &flightcache.Options{
		FreshFor:   time.Minute,      // serve a loaded user for a minute
		MissingFor: 10 * time.Second, // remember "no such user" for ten seconds
		Jitter:     0.1,              // spread expiry by ±10%
	})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	fmt.Println(users != nil)
	// Output:
	// true
}

func ExampleLoader_GetOrLoad() {
	store, _ := lrustore.New[int, User](1000)
	var counter stats.Counter
	users, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute, Recorder: &counter})
	defer users.Close()

	db := &usersDB{}
	loadUser := db.LoadUser // bound once, so that hits allocate nothing
	for range 3 {
		u, err := users.GetOrLoad(context.Background(), 7, loadUser)
		fmt.Println(u.Name, err)
	}
	s := counter.Snapshot()
	fmt.Println("queries:", db.queries, "hits:", s.Hits, "misses:", s.Misses)
	// Output:
	// user-7 <nil>
	// user-7 <nil>
	// user-7 <nil>
	// queries: 1 hits: 2 misses: 1
}

func ExampleLoader_GetOrLoad_negativeCaching() {
	store, _ := lrustore.New[int, User](1000)
	users, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute, MissingFor: 10 * time.Second})
	defer users.Close()

	db := &usersDB{}
	loadUser := db.LoadUser
	for range 3 {
		_, err := users.GetOrLoad(context.Background(), 404, loadUser)
		fmt.Println(errors.Is(err, flightcache.ErrNotFound))
	}
	fmt.Println("queries:", db.queries) // the "not found" answer was cached
	// Output:
	// true
	// true
	// true
	// queries: 1
}

func ExampleLoader_Invalidate() {
	store, _ := lrustore.New[int, User](1000)
	users, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour})
	defer users.Close()

	db := &usersDB{}
	loadUser := db.LoadUser
	users.GetOrLoad(context.Background(), 7, loadUser)

	// The user was renamed at the source: drop the cached copy.
	if err := users.Invalidate(context.Background(), 7); err != nil {
		panic(err)
	}
	users.GetOrLoad(context.Background(), 7, loadUser)
	fmt.Println("queries:", db.queries)
	// Output:
	// queries: 2
}

func ExampleLoader_Set() {
	store, _ := lrustore.New[int, User](1000)
	users, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour})
	defer users.Close()

	// Write through: the service saved the user, so the cache can have it
	// without a load.
	users.Set(context.Background(), 8, User{ID: 8, Name: "ada"})
	db := &usersDB{}
	u, _ := users.GetOrLoad(context.Background(), 8, db.LoadUser)
	fmt.Println(u.Name, "queries:", db.queries)
	// Output:
	// ada queries: 0
}

func ExampleLoader_GetOrLoadMany() {
	store, _ := lrustore.New[int, User](1000)
	users, _ := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute})
	defer users.Close()

	var queries [][]int
	loadUsers := func(_ context.Context, ids []int) (map[int]User, error) {
		// One "WHERE id IN (...)" query for every id nobody is loading yet.
		queries = append(queries, slices.Sorted(slices.Values(ids)))
		found := make(map[int]User)
		for _, id := range ids {
			if id <= 100 { // ids above 100 do not exist
				found[id] = User{ID: id, Name: fmt.Sprintf("user-%d", id)}
			}
		}
		return found, nil
	}

	page, _ := users.GetOrLoadMany(context.Background(), []int{1, 2, 3}, loadUsers)
	fmt.Println(len(page), page[2].Name)
	page, err := users.GetOrLoadMany(context.Background(), []int{2, 3, 4, 404}, loadUsers)
	fmt.Println(len(page), page[4].Name, err) // 404 does not exist: absent, no error
	fmt.Println("queries:", queries)
	// Output:
	// 3 user-2
	// 3 user-4 <nil>
	// queries: [[1 2 3] [4 404]]
}
