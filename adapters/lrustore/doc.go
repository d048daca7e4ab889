// Package lrustore provides a flightcache.Store that keeps entries in memory
// in a fixed-size least-recently-used cache, github.com/hashicorp/golang-lru/v2.
//
// The Store is bounded by its number of entries: when it is full, a Set of a
// new key evicts the entry used least recently. A Get costs what the
// underlying cache's Get costs, one lock and a map lookup: the cache holds a
// pointer to each entry, so the lock is held only to copy that pointer, and
// the entry is copied out after it. A Get reads no clock and allocates
// nothing.
//
// Keys of a type that can hold an interface (any, error, or a struct or
// array with such a field) are hashed once before the cache's lock is
// taken, so that a key Go cannot hash (an interface holding a slice, map or
// func) is an error wrapping singleflight.ErrUnhashableKey, never a panic
// under the lock that would leave the Store locked for ever. Other key types
// pay nothing for it.
//
// The Store does not judge entries by their timestamps when it reads them;
// the Loader does. An entry whose ExpiresAt has passed therefore stays in the
// Store, taking up room, until it is evicted, deleted or overwritten; the
// Loader does not serve it. The one exception is a Set of an entry whose
// ExpiresAt has already passed, which removes the key instead of storing the
// entry, so that a later Get never returns the entry that the Set replaced.
//
// A Store is safe for concurrent use by multiple goroutines. It starts no
// goroutines and holds nothing that needs closing.
package lrustore
