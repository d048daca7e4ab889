// Package flightcache is a read-through cache loader that ends thundering
// herds.
//
// A [Loader] sits in front of a slow source (a database, another service)
// and a [Store] that keeps entries (an in-memory cache such as
// [github.com/flightcache/flightcache/adapters/lrustore], or a shared tier).
// [Loader.GetOrLoad] returns a key's value from the Store while it is fresh;
// when it is not, one load runs for that key however many callers miss it at
// once, and its result is stored for the next ones:
//
//	store, err := lrustore.New[string, User](100_000)
//	users, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute})
//	defer users.Close()
//
//	loadUser := db.LoadUser // bind the method value once: hits then allocate nothing
//	u, err := users.GetOrLoad(ctx, id, loadUser)
//
// Each caller waits only as long as its own context allows, while the load
// goes on for the others and is stored even when all have left. Loads can
// cache "not found" answers ([Options].MissingFor), spread expiry times
// ([Options].Jitter), and are bounded by [Options].LoadTimeout. Stale values
// can be served while they are refreshed in the background
// ([Options].StaleFor), hot keys refreshed before they go stale
// ([Options].EarlyRefresh), and old values stand in for failed loads
// ([Options].StaleIfError). [Loader.GetOrLoadMany] does the same for many
// keys with one call of a [BatchLoadFunc]. A panic in a load becomes an
// error wrapping a [github.com/flightcache/flightcache/singleflight.PanicError].
// [Loader.Set] and [Loader.Invalidate] win over every load in flight, and
// so do [Loader.Expire] (the entry is stale now), [Loader.InvalidateTag]
// (every entry whose load gave it the tag, [EntryPolicy].Tags) and
// [Loader.Clear] (every entry), the last two by an instant that entries
// are judged against when read, not by a scan; [Loader.Peek] says what a
// read would serve without loading.
//
// Over a Store shared by a fleet that is a [Leaser] (Redis, in package
// redisstore), every load of every instance first takes the key's
// fleet-wide lease, so that the fleet loads a cold key once.
//
// # Defaults and gotchas
//
//   - [Options].FreshFor 0 means a loaded value stays fresh forever.
//   - [Loader.Close] does not close the Store: close a store that has a
//     Close method yourself, after the Loader.
//   - Close waits for loads and background refreshes in flight, each bounded
//     by [Options].LoadTimeout; [Loader.Shutdown] bounds the wait with a
//     context.
//   - With [Options].StaleIfError, a failed load returns the old value and a
//     nil error; count it with [Loader.Stats] (StaleHits, LoadErrors).
//   - [ErrNotFound] is cached only when [Options].MissingFor is set.
//   - A method value written in the call (users.GetOrLoad(ctx, id,
//     db.LoadUser)) allocates on every call, hits included; bind it once.
//   - Keys that Go cannot hash (an interface holding a slice) or that do
//     not equal themselves (NaN) are an error wrapping [ErrInvalidKey].
//
// The Loader decides what is fresh from the [Entry]'s own timestamps; a
// Store only keeps entries, so any cache can be one (see Store and package
// [github.com/flightcache/flightcache/storetest]). Package
// [github.com/flightcache/flightcache/singleflight] is the duplicate-call
// suppressor that the Loader is built on; package
// [github.com/flightcache/flightcache/stats] counts what it does.
//
// # Inside
//
// The package has one file per role, each owning its state and its
// synchronisation, stacking one way: the facade (loader.go, batch.go) reads
// the Store and asks the policy (policy.go: pure functions of the Options,
// an Entry and the time) what an entry is good for; misses go to the fill
// pipeline (fill.go: one pipeline for one key or many, for every kind of
// load and refresh), background refreshes to the refresher (refresh.go:
// which keys are refreshing or backing off, read without a lock); the write
// order (writes.go) makes Set and Invalidate win over fills in flight; the
// invalidation table (invaltable.go) records InvalidateTag and Clear, the
// fleet's over an [InvalidationLog], and stamps every load past them; the
// reporter (report.go) owns statistics and rate-limited logs; clock.go is
// the process's coarse clock.
package flightcache
