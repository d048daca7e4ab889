package otterstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/internal/keys"
)

// Store is a flightcache.Store over an otter cache bounded by a number of
// entries. Create one with New and stop its goroutine with Close; the zero
// Store holds no cache, and its methods return an error.
//
// A Store is safe for concurrent use by multiple goroutines. Its methods ignore
// their context: none of them waits on anything but the cache itself.
type Store[K comparable, V any] struct {
	// cache holds a pointer to each entry, never changed once stored:
	// otter reads a pointer-sized value with one atomic load, where a value
	// of the Entry's size is copied through each of its calls; Get copies
	// the entry out once, at the end.
	cache *otter.Cache[K, *flightcache.Entry[V]]
	// keys is what K can hold: a NaN, which a Set does not store since no
	// Get could find it, or an interface, whose dynamic value otter would
	// fail to hash with a panic.
	keys keys.Kind
}

var _ flightcache.Store[string, int] = (*Store[string, int])(nil)

// errNoCache is what the methods of a Store not made by New return.
var errNoCache = errors.New("otterstore: Store not created with New")

// never is the lifetime otter reads as "does not expire".
const never = time.Duration(math.MaxInt64)

// New returns an empty Store that holds at most maximumSize entries. It returns
// an error naming maximumSize if maximumSize is less than 1. The Store runs a
// goroutine, otter's periodic clean-up of expired entries, until Close.
func New[K comparable, V any](maximumSize int) (*Store[K, V], error) {
	if maximumSize < 1 {
		return nil, fmt.Errorf("otterstore: maximumSize is %d; it must be at least 1", maximumSize)
	}
	cache, err := otter.New(&otter.Options[K, *flightcache.Entry[V]]{
		MaximumSize:      maximumSize,
		ExpiryCalculator: otter.ExpiryWritingFunc(lifetime[K, V]),
	})
	if err != nil {
		return nil, fmt.Errorf("otterstore: %w", err)
	}
	return &Store[K, V]{cache: cache, keys: keys.Of[K]()}, nil
}

// lifetime is how long otter keeps an entry that is being written: until its
// ExpiresAt. otter calls it on every write, with SnapshotAtNano set to the time
// of the write on otter's own clock, so it reads no clock itself.
func lifetime[K comparable, V any](oe otter.Entry[K, *flightcache.Entry[V]]) time.Duration {
	at := int64(oe.Value.ExpiresAt)
	switch {
	case at == 0 || at == math.MaxInt64:
		// Never, or as late as a Deadline goes: saturated (rule 12).
		return never
	case at <= oe.SnapshotAtNano:
		// otter ignores a lifetime of 0 or less on an update and keeps
		// the old deadline, so an entry whose ExpiresAt passed since Set
		// looked at it gets the shortest lifetime there is instead.
		return 1
	}
	// at is after the snapshot, which is not negative: the difference is
	// positive and does not overflow; otter saturates the deadline it adds
	// it to.
	return time.Duration(at - oe.SnapshotAtNano)
}

// Get returns the entry stored for key. The bool is false when there is none,
// including when the entry's ExpiresAt has passed. It is otter's GetIfPresent
// and nothing more: it allocates nothing and fails only on a Store not made
// by New and on a key Go cannot hash (an error wrapping
// singleflight.ErrUnhashableKey).
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
		if err := keys.Hashable("otterstore", key); err != nil {
			return nil, false, err
		}
	}
	e, ok := s.cache.GetIfPresent(key)
	if !ok {
		return nil, false, nil
	}
	return e, true, nil
}

// Set stores e for key, replacing any entry there, to be dropped at e's
// ExpiresAt; in a full Store, otter evicts an entry to make room. When e's
// ExpiresAt is not zero (never) and is not after the current time, Set
// removes key instead of storing e. The write is seen by every Get that
// starts after Set returns. A key that does not equal itself (a NaN, or a key
// holding one) is not stored, since no Get could find it. An ExpiresAt too far
// ahead for a time.Duration means the entry does not expire. Set fails only
// on a Store not made by New and on a key Go cannot hash. Set keeps a copy of
// e, which it allocates.
func (s *Store[K, V]) Set(_ context.Context, key K, e flightcache.Entry[V]) error {
	if s == nil || s.cache == nil {
		return errNoCache
	}
	if s.keys != keys.Plain {
		if s.keys == keys.Iface {
			if err := keys.Hashable("otterstore", key); err != nil {
				return err
			}
		}
		if key != key {
			return nil
		}
	}
	if !e.ExpiresAt.IsZero() && !time.Now().Before(e.ExpiresAt.Time()) {
		s.cache.Invalidate(key)
		return nil
	}
	s.cache.Set(key, &e)
	return nil
}

// Delete removes the entry for key, if there is one; a Get that starts after
// Delete returns misses. It fails only on a Store not made by New and on a key
// Go cannot hash.
func (s *Store[K, V]) Delete(_ context.Context, key K) error {
	if s == nil || s.cache == nil {
		return errNoCache
	}
	if s.keys == keys.Iface {
		if err := keys.Hashable("otterstore", key); err != nil {
			return err
		}
	}
	s.cache.Invalidate(key)
	return nil
}

// Len returns about how many entries the Store holds; it may count entries
// that have expired but that otter has not removed yet.
func (s *Store[K, V]) Len() int {
	if s == nil || s.cache == nil {
		return 0
	}
	return s.cache.EstimatedSize()
}

// Purge removes every entry from the Store.
func (s *Store[K, V]) Purge() {
	if s == nil || s.cache == nil {
		return
	}
	s.cache.InvalidateAll()
}

// Close stops otter's periodic clean-up goroutine and returns once it has
// ended. The Store keeps working after Close: expired entries are still never
// returned, and are removed by later writes instead of by the clean-up. Close
// may be called more than once and always returns nil; it has an error result
// so that a Store is an io.Closer.
func (s *Store[K, V]) Close() error {
	if s == nil || s.cache == nil {
		return nil
	}
	s.cache.StopAllGoroutines()
	return nil
}
