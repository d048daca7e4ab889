// Package ristrettostore provides a flightcache.Store that keeps entries in
// memory in a ristretto cache, github.com/dgraph-io/ristretto/v2: a
// concurrent cache bounded by a budget of cost, which admits a new entry only
// when it is likely to be used more often than the entries it would evict.
//
// ristretto applies writes asynchronously, on a goroutine of its own, and may
// refuse them. This package makes its Set read-your-writes: Set returns only
// once ristretto has applied the write, so a Get that starts after Set returns
// sees the entry unless ristretto refused it, and never sees the entry that
// Set replaced. A refused entry reads as a miss, after which the Loader loads
// the key again. See Store for what that costs and when ristretto refuses.
//
// By default each entry costs 1, so the budget is a number of entries;
// Options.Cost weighs entries by their values instead.
//
// The entry's ExpiresAt is the time to live the Store gives ristretto, so an
// expired entry is dropped, but the Store never judges freshness: the Loader
// does, from the entry's timestamps.
//
// A Store is safe for concurrent use by multiple goroutines. It runs
// goroutines, ristretto's, until Close; after Close its methods return
// ErrClosed.
package ristrettostore
