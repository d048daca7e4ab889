package flightcache

import "context"

// Version is the state of one key in a Store that fences writes (a
// [Fencer]). It changes whenever the key is written or deleted, to a value
// the key has not had before, so a fill can tell whether anyone changed the
// key since it began. The zero Version means the key has none: it was never
// written, or its entry and its version have both expired. Versions are
// opaque: compare them for equality only.
type Version uint64

// Fencer is a Store shared by a fleet (such as Redis) that fences writes,
// so that Set and Invalidate on any instance win over every fill in flight
// for that key on every instance (DESIGN rule 9; the "stale set" of
// Facebook's memcache leases, Nishtala et al., NSDI 2013).
//
// A Loader whose Store is a Fencer reads the key with GetVersioned when a
// fill begins, and writes the fill's result with SetIfVersion and the
// Version it read: the write happens only if no Set, Delete or other
// successful SetIfVersion touched the key in between, checked and written
// in one step inside the Store. Its Set and Delete (Loader.Set and
// Loader.Invalidate) advance the key's Version. A Loader over a Store that
// is not a Fencer pays nothing for this.
//
// A Fencer keeps a deleted key's Version for a while (a tombstone), so that
// an Invalidate also fences the fills that began before it; a fill that
// outlives the tombstone, or whose key's Version the Store evicted, may
// write. Every fill uses it, single and batch, loads and refreshes alike;
// over a [BatchFencer] a batch reads and writes its Versions in one round
// trip.
type Fencer[K comparable, V any] interface {
	Store[K, V]

	// GetVersioned returns what Get returns, and key's current Version,
	// which may be non-zero when no Entry is found (a deleted key's
	// tombstone).
	GetVersioned(ctx context.Context, key K) (e Entry[V], found bool, v Version, err error)

	// SetIfVersion stores e for key, as Set does, only if key's Version is
	// still v, and then advances it; it reports whether it wrote. A false
	// with a nil error means someone changed key since v was read: the
	// fill's result must not be stored.
	SetIfVersion(ctx context.Context, key K, e Entry[V], v Version) (written bool, err error)
}

// BatchFencer is a Fencer that reads and writes many keys in one round trip
// (per node of a sharded Store), for batch fills.
type BatchFencer[K comparable, V any] interface {
	Fencer[K, V]

	// GetManyVersioned returns what GetMany returns, and the Version of
	// every key asked for that has one (found or a tombstone).
	GetManyVersioned(ctx context.Context, keys []K) (entries map[K]Entry[V], versions map[K]Version, err error)

	// SetManyIfVersion stores each entry as SetIfVersion does, each key
	// checked against versions[key] (a key missing from versions is
	// checked against the zero Version), and returns the keys it wrote.
	SetManyIfVersion(ctx context.Context, entries map[K]Entry[V], versions map[K]Version) (written map[K]bool, err error)
}
