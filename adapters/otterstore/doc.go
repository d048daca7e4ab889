// Package otterstore provides a flightcache.Store that keeps entries in memory
// in an otter cache, github.com/maypok86/otter/v2: a concurrent cache bounded
// by a number of entries, which evicts by the W-TinyLFU policy (it keeps the
// entries used most often as well as those used most recently).
//
// otter applies a write to its hash table before Set returns, so a Get that
// starts after Set returns sees the entry; only eviction, which otter may
// apply at any time once the Store is full, makes it miss.
//
// The entry's ExpiresAt is the entry's lifetime in otter, so otter drops an
// expired entry by itself and never returns it; the zero ExpiresAt means the
// entry does not expire. A Set of an entry whose ExpiresAt has passed removes
// the key instead of storing the entry. The Store never judges freshness: the
// Loader does, from the entry's timestamps.
//
// An ExpiresAt too far ahead for a time.Duration (past the year 2262, say)
// means the entry does not expire; no lifetime wraps into the past.
//
// A Get costs what otter's GetIfPresent costs: a lookup in a concurrent hash
// table, otter's own clock reading for expiry, and no allocation.
//
// Keys of a type that can hold an interface (any, error, or a struct or
// array with such a field) are hashed once before otter sees them, so that a
// key Go cannot hash (an interface holding a slice, map or func) is an error
// wrapping singleflight.ErrUnhashableKey, never a panic. Other key types pay
// nothing for it.
//
// A Store is safe for concurrent use by multiple goroutines. otter removes
// expired entries on a goroutine of its own, which runs until Close, and runs
// short maintenance tasks, which end by themselves, on goroutines after
// writes.
package otterstore
