// Package flightcache is a read-through cache loader that ends thundering
// herds.
//
// A Loader sits in front of a slow source (a database, another service) and a
// Store that keeps entries (an in-memory cache such as the ones in
// flightcache/adapters, or a shared tier). GetOrLoad returns a key's value
// from the Store while it is fresh; when it is not, one load runs for that key
// however many callers miss it at once, and its result is stored for the
// next ones:
//
//	store, err := lrustore.New[string, User](100_000)
//	users, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute})
//	u, err := users.GetOrLoad(ctx, id, db.LoadUser)
//
// Each caller waits only as long as its own context allows, while the load
// goes on for the others and is stored even when all have left. Loads can
// cache "not found" answers (Options.MissingFor), spread expiry times
// (Options.Jitter), and are bounded by Options.LoadTimeout. A panic in a load
// becomes an error. Set and Invalidate win over a load in flight.
//
// The Loader decides what is fresh from the Entry's own timestamps; a Store
// only keeps entries, so any cache can be one (see Store and package
// storetest). Package singleflight is the duplicate-call suppressor that the
// Loader is built on; package stats counts what it does.
package flightcache
