package lrustore

import (
	"context"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/internal/keys"
)

// Store is a flightcache.Store over a fixed-size least-recently-used cache.
// Create one with New or NewWithEvict; the zero Store holds no cache, and its
// methods return an error.
//
// A Store is safe for concurrent use by multiple goroutines. Its methods wait
// on nothing but the cache's lock and, for a Store made by NewWithEvict, the
// eviction callback; they ignore their context.
type Store[K comparable, V any] struct {
	// cache holds a pointer to each entry, never changed once stored, so
	// that a Get holds the cache's lock only to copy a pointer; the entry is
	// copied out after the lock is released.
	cache *lru.Cache[K, *flightcache.Entry[V]]
	// keys is what K can hold: a NaN, which a Set does not store since no
	// Get could find it, or an interface, whose dynamic value golang-lru
	// might fail to hash while it holds its lock.
	keys keys.Kind
}

var _ flightcache.Store[string, int] = (*Store[string, int])(nil)

// errNoCache is what the methods of a Store not made by New return.
var errNoCache = errors.New("lrustore: Store not created with New or NewWithEvict")

// New returns an empty Store that holds at most size entries. It returns an
// error if size is less than 1.
func New[K comparable, V any](size int) (*Store[K, V], error) {
	return NewWithEvict[K, V](size, nil)
}

// NewWithEvict is like New, and also calls onEvict, when it is not nil, with
// every entry that leaves the Store other than by being overwritten: an entry
// evicted to make room, removed by Delete or Purge, or removed by a Set of an
// entry whose ExpiresAt has passed.
//
// onEvict runs on the goroutine of the call that removed the entry, after the
// Store's lock is released, so it may call the Store's methods; that call
// returns only when onEvict does. Calls of onEvict from different goroutines
// may run at once and in any order.
func NewWithEvict[K comparable, V any](size int, onEvict func(key K, e flightcache.Entry[V])) (*Store[K, V], error) {
	if size < 1 {
		return nil, fmt.Errorf("lrustore: size is %d; it must be at least 1", size)
	}
	var evict func(K, *flightcache.Entry[V])
	if onEvict != nil {
		evict = func(key K, e *flightcache.Entry[V]) { onEvict(key, *e) }
	}
	cache, err := lru.NewWithEvict(size, evict)
	if err != nil {
		return nil, fmt.Errorf("lrustore: %w", err)
	}
	return &Store[K, V]{cache: cache, keys: keys.Of[K]()}, nil
}

// Get returns the entry stored for key and marks it as the one used most
// recently. The bool is false when there is none. Get returns the entry as it
// was stored, expired or not. It fails only on a Store not made by New and on
// a key Go cannot hash (an error wrapping singleflight.ErrUnhashableKey).
func (s *Store[K, V]) Get(ctx context.Context, key K) (flightcache.Entry[V], bool, error) {
	e, ok, err := s.GetRef(ctx, key)
	if !ok {
		return flightcache.Entry[V]{}, false, err
	}
	return *e, true, nil
}

// GetRef is Get without the copy of the Entry, which the Store never
// modifies once stored (see flightcache.RefStore).
func (s *Store[K, V]) GetRef(_ context.Context, key K) (*flightcache.Entry[V], bool, error) {
	if s == nil || s.cache == nil {
		return nil, false, errNoCache
	}
	if s.keys == keys.Iface {
		if err := keys.Hashable("lrustore", key); err != nil {
			return nil, false, err
		}
	}
	e, ok := s.cache.Get(key)
	if !ok {
		return nil, false, nil
	}
	return e, true, nil
}

// Set stores e for key, replacing any entry there and making it the one used
// most recently; in a full Store, a new key evicts the entry used least
// recently. When e's ExpiresAt is not zero (never) and is not after the
// current time, Set removes key instead of storing e. The write is seen by
// every Get that starts after Set returns. A key that does not equal itself
// (a NaN, or a key holding one) is not stored, since no Get could find it.
// Set fails only on a Store not made by New and on a key Go cannot hash (an
// error wrapping singleflight.ErrUnhashableKey). Set keeps a copy of e, which
// it allocates.
func (s *Store[K, V]) Set(_ context.Context, key K, e flightcache.Entry[V]) error {
	if s == nil || s.cache == nil {
		return errNoCache
	}
	if s.keys != keys.Plain {
		if s.keys == keys.Iface {
			if err := keys.Hashable("lrustore", key); err != nil {
				return err
			}
		}
		if key != key {
			// A key that does not equal itself is never found again:
			// storing it would only evict an entry that can be.
			return nil
		}
	}
	if !e.ExpiresAt.IsZero() && !time.Now().Before(e.ExpiresAt.Time()) {
		s.cache.Remove(key)
		return nil
	}
	s.cache.Add(key, &e)
	return nil
}

// Delete removes the entry for key, if there is one. It fails only on a Store
// not made by New and on a key Go cannot hash.
func (s *Store[K, V]) Delete(_ context.Context, key K) error {
	if s == nil || s.cache == nil {
		return errNoCache
	}
	if s.keys == keys.Iface {
		if err := keys.Hashable("lrustore", key); err != nil {
			return err
		}
	}
	s.cache.Remove(key)
	return nil
}

// Len returns the number of entries in the Store, expired ones included.
func (s *Store[K, V]) Len() int {
	if s == nil || s.cache == nil {
		return 0
	}
	return s.cache.Len()
}

// Purge removes every entry from the Store, calling the eviction callback, if
// there is one, for each.
func (s *Store[K, V]) Purge() {
	if s == nil || s.cache == nil {
		return
	}
	s.cache.Purge()
}
