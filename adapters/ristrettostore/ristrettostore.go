package ristrettostore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/flightcache/flightcache"
)

// Key is the set of key types a Store accepts: the types whose underlying
// type is one of those listed, which are the comparable types that ristretto
// can hash. It is ristretto.Key without []byte, which is not comparable.
//
// ristretto keeps a string key as two 64-bit hashes of it, not as the string,
// and an integer key as it is; see Store.
type Key interface {
	~uint64 | ~string | ~byte | ~int | ~uint | ~int32 | ~uint32 | ~int64
}

// ErrClosed is returned by the methods of a Store after Close.
var ErrClosed = errors.New("ristrettostore: store closed")

// Options are the settings of a Store beyond its budget. The zero Options
// give every entry a cost of 1, so that the budget is a number of entries.
type Options[V any] struct {
	// Cost returns the cost of storing value, in the units of the Store's
	// budget, maxCost; a cost below 1 counts as 1. A negative entry (one
	// with Missing set) costs 1 and is not passed to Cost. Cost is called by
	// Set, on the goroutine that called it, so it must be safe for
	// concurrent use. nil gives every entry a cost of 1.
	Cost func(value V) int64

	// NumCounters is how many keys ristretto keeps access counts for, which
	// should be about ten times the number of entries the Store holds when
	// full. Zero means 10 × maxCost, the right number when each entry costs
	// 1; with a Cost function, NumCounters must be given.
	NumCounters int64

	// BufferItems is the size of ristretto's read buffers. Zero means 64,
	// which suits almost every use.
	BufferItems int64

	// Metrics makes ristretto count hits, misses, admissions, rejections
	// and evictions, at some cost to every call; read the counts with
	// Store.Metrics.
	Metrics bool
}

// Store is a flightcache.Store over a ristretto cache, an in-memory cache
// bounded by a budget of cost that admits entries by their estimated
// frequency of use (TinyLFU) and evicts by a sampled LFU. Create one with New
// or NewWithOptions and release it with Close.
//
// A Store is safe for concurrent use by multiple goroutines, Close included.
// Its methods ignore their context: none of them waits on anything but the
// cache itself.
//
// ristretto applies writes on a goroutine of its own. Set waits for that
// goroutine to apply its write before it returns, so a Get that starts after
// Set returns sees the entry, unless ristretto refused to keep it: when its
// admission policy judged the entry less worth keeping than the ones it
// would evict, when the entry costs more than the whole budget, or when
// ristretto's write buffer was full under heavy concurrent writing. A refused
// entry is a miss, and the Loader loads the key again the next time it is
// asked for. Either way, a Get never returns an entry that a Set which has
// returned replaced. The wait costs each Set a round trip to ristretto's
// goroutine, a few microseconds; Get and Delete do not wait, and a Get that
// follows a Delete misses.
//
// ristretto keeps a string key as two 64-bit hashes of it, not the string, and
// matches a read to an entry by both. Two keys whose first hashes collide
// cannot be stored together: the second one Set is refused and reads as a
// miss. Only if both hashes of two keys collide, a chance of the order of
// n²/2¹²⁹ among n keys, can a Get return another key's entry. Integer keys are
// kept exactly.
//
// A Store removes an entry at its ExpiresAt, the time to live it gives
// ristretto, and a Set of an entry whose ExpiresAt has passed removes the key
// instead of storing the entry. It never judges freshness; the Loader does.
type Store[K Key, V any] struct {
	// cache holds a pointer to each entry, never changed once stored, so
	// that ristretto copies a pointer under its shard's lock and Get
	// copies the entry out after it.
	cache *ristretto.Cache[K, *flightcache.Entry[V]]
	cost  func(V) int64

	// Every call into cache passes through gate, because ristretto's Close
	// must not run while other calls do: Close closes the gate, waits for
	// the calls inside to leave, and only then closes cache.
	gate    gate
	closeMu sync.Mutex // makes a second Close wait for the first
}

var _ flightcache.Store[string, int] = (*Store[string, int])(nil)

// New returns an empty Store that holds at most maxCost entries, each costing
// 1, with ristretto keeping access counts for 10 × maxCost keys. It returns an
// error naming maxCost if maxCost is less than 1 or too large to multiply by
// ten. The Store runs goroutines until Close.
func New[K Key, V any](maxCost int64) (*Store[K, V], error) {
	return NewWithOptions[K, V](maxCost, Options[V]{})
}

// NewWithOptions returns an empty Store whose entries cost at most maxCost in
// all, each costing what opts.Cost says. It returns an error naming the
// setting at fault if maxCost is less than 1 or an option is out of range.
// The Store runs goroutines until Close.
func NewWithOptions[K Key, V any](maxCost int64, opts Options[V]) (*Store[K, V], error) {
	if maxCost < 1 {
		return nil, fmt.Errorf("ristrettostore: maxCost is %d; it must be at least 1", maxCost)
	}
	counters := opts.NumCounters
	switch {
	case counters < 0:
		return nil, fmt.Errorf("ristrettostore: Options.NumCounters is %d; it must be 0 or more", counters)
	case counters == 0 && opts.Cost != nil:
		return nil, errors.New("ristrettostore: Options.NumCounters is 0 with a Cost function; give about ten times the number of entries the Store will hold")
	case counters == 0 && maxCost > math.MaxInt64/10:
		return nil, fmt.Errorf("ristrettostore: maxCost is %d; it must be at most %d when Options.NumCounters is 0", maxCost, int64(math.MaxInt64/10))
	case counters == 0:
		counters = 10 * maxCost
	}
	buffer := opts.BufferItems
	switch {
	case buffer < 0:
		return nil, fmt.Errorf("ristrettostore: Options.BufferItems is %d; it must be 0 or more", buffer)
	case buffer == 0:
		buffer = 64
	}
	cache, err := ristretto.NewCache(&ristretto.Config[K, *flightcache.Entry[V]]{
		NumCounters:        counters,
		MaxCost:            maxCost,
		BufferItems:        buffer,
		Metrics:            opts.Metrics,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, fmt.Errorf("ristrettostore: %w", err)
	}
	return &Store[K, V]{cache: cache, cost: opts.Cost}, nil
}

// Get returns the entry stored for key. The bool is false when there is none,
// including when the entry's ExpiresAt has passed. After Close, Get returns
// ErrClosed.
//
// Get adds to ristretto's own Get only a count of the calls running, which
// Close waits on, and a copy of the entry after ristretto has returned a
// pointer to it. The count is striped by goroutine, so concurrent Gets do not
// contend on it. It allocates nothing.
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
	c := s.gate.enter()
	if c == nil {
		return nil, false, ErrClosed
	}
	e, ok := s.cache.Get(key)
	s.gate.leave(c)
	if !ok {
		return nil, false, nil
	}
	return e, true, nil
}

// Set stores e for key, replacing any entry there, with e's ExpiresAt as its
// time to live, and returns once a Get would see it. ristretto may refuse to
// keep a new key, as Store describes; Set still returns nil, and a Get reports
// a miss. When e's ExpiresAt is not zero (never) and is not after the
// current time, Set removes key instead of storing e; the latest ExpiresAt a
// Deadline holds (2262) is a time to live that fits a time.Duration, never one
// that wraps into the past. Set keeps a copy of e, which it allocates. After
// Close, Set returns ErrClosed.
func (s *Store[K, V]) Set(_ context.Context, key K, e flightcache.Entry[V]) error {
	var ttl time.Duration // zero: no expiry
	if !e.ExpiresAt.IsZero() {
		// time.Until saturates at the largest and smallest Duration,
		// and ristretto's time.Now().Add(ttl) stays within the range of
		// a time.Time.
		ttl = time.Until(e.ExpiresAt.Time())
		if ttl <= 0 {
			return s.del(key)
		}
	}
	cost := int64(1)
	if s.cost != nil && !e.Missing {
		cost = max(s.cost(e.Value), 1)
	}
	c := s.gate.enter()
	if c == nil {
		return ErrClosed
	}
	defer s.gate.leave(c)
	s.cache.SetWithTTL(key, &e, cost, ttl)
	s.cache.Wait()
	return nil
}

// Delete removes the entry for key, if there is one; a Get that starts after
// Delete returns misses. After Close, Delete returns ErrClosed.
func (s *Store[K, V]) Delete(_ context.Context, key K) error {
	return s.del(key)
}

func (s *Store[K, V]) del(key K) error {
	c := s.gate.enter()
	if c == nil {
		return ErrClosed
	}
	defer s.gate.leave(c)
	s.cache.Del(key)
	return nil
}

// Metrics returns ristretto's counts of hits, misses, admissions, rejections
// and evictions, or nil unless the Store was made with Options.Metrics. The
// counts are safe to read while the Store is in use.
func (s *Store[K, V]) Metrics() *ristretto.Metrics {
	return s.cache.Metrics
}

// Close removes every entry, stops ristretto's goroutines and returns once
// they have ended. Calls that start after Close has begun return ErrClosed;
// calls already running finish first, and Close waits for them. Close may be
// called from any goroutine, at the same time as other calls, and more than
// once: a later Close waits for the first to finish and does nothing more.
// Close always returns nil; it has an error result so that a Store is an
// io.Closer.
func (s *Store[K, V]) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.gate.close() {
		s.cache.Close()
	}
	return nil
}
