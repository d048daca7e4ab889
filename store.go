package flightcache

import "context"

// Store keeps entries for a Loader. It is the pluggable part of flightcache:
// an in-memory cache, a shared tier such as Redis, or both.
//
// A Store must be safe for concurrent use, and a Get that follows a Set of the
// same key (with no Set or Delete in between) must see that Entry or report a
// miss because the Store chose to drop it (eviction, admission, ExpiresAt
// passed): a Store never applies a write so late that a read after Set
// returns sees an older Entry. A Store never judges freshness; the Loader
// does, from the Entry's own timestamps. A Store may drop an Entry at any time
// after its ExpiresAt.
//
// Errors from a Store are not the caller's failure: the Loader treats a Get
// error as a miss and a Set or Delete error as a write that did not happen,
// and counts both.
type Store[K comparable, V any] interface {
	// Get returns the Entry stored for key. The bool is false when there is
	// none.
	Get(ctx context.Context, key K) (Entry[V], bool, error)

	// Set stores e for key, replacing any Entry already there.
	Set(ctx context.Context, key K, e Entry[V]) error

	// Delete removes the Entry for key. Deleting a key that is not there is
	// not an error.
	Delete(ctx context.Context, key K) error
}

// RefStore is a Store that can return the Entry it holds for a key without
// copying it: a Loader over a RefStore reads with GetRef, and a hit copies
// only the value. In-memory Stores that keep a pointer to each Entry (every
// in-memory adapter in this repository) offer it.
type RefStore[K comparable, V any] interface {
	Store[K, V]

	// GetRef returns what Get returns, with the Entry as a pointer to the
	// Store's own. The Store never modifies an Entry once GetRef may have
	// returned it (a Set stores a new one), and the caller never modifies
	// it either.
	GetRef(ctx context.Context, key K) (*Entry[V], bool, error)
}

// Leaser is a Store shared by a fleet of Loaders, one per service instance,
// that lets one of them load a missing key while the others wait for it, so
// that the fleet loads a cold key once rather than once per instance.
//
// A Loader whose Store is a Leaser leases every key before it loads it,
// after it found nothing fresh in the Store, batches included (rule 10); over
// a Leaser that is not a [BatchLeaser], a batch leases and loads its keys one
// at a time. A Loader over a Store that is not a Leaser pays nothing for
// this.
type Leaser[K comparable, V any] interface {
	// Lease takes the right to load key for the fleet. When it gets it, it
	// returns a release function, which the Loader calls once it has stored
	// the result (or failed). When another instance holds the right, Lease
	// waits until that instance releases it or its lease expires, and
	// returns a nil release and a nil error: the Loader then looks at the
	// Store again, and asks again if the entry is still not there. Lease
	// waits no longer than ctx allows. An error makes the Loader load
	// without a lease.
	Lease(ctx context.Context, key K) (release func(), err error)
}

// BatchLeaser is a Leaser that can take the leases of many keys in one round
// trip, without waiting. A Loader over a BatchLeaser takes, for the keys of a
// batch, the leases that no other instance holds, loads those keys in one
// call, releases them, and only then waits, one key at a time, for the keys
// other instances hold; so two instances holding different parts of one
// batch never wait on each other (rule 10).
type BatchLeaser[K comparable, V any] interface {
	Leaser[K, V]

	// LeaseMany takes, without waiting, the lease of each of keys that no
	// other instance holds, and returns the keys it took and one release
	// for them all, which the Loader calls once their fills are stored (or
	// failed). An error makes the Loader load every key without a lease,
	// after calling release if it is not nil.
	LeaseMany(ctx context.Context, keys []K) (taken []K, release func(), err error)
}
