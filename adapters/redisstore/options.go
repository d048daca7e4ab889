package redisstore

import (
	"errors"
	"log/slog"
	"time"
)

// Defaults of Options.
const (
	DefaultPrefix   = "flightcache:"
	DefaultTimeout  = 250 * time.Millisecond
	DefaultLeaseTTL = 5 * time.Second
	// DefaultTripAfter and DefaultOpenFor tune the circuit breaker.
	DefaultTripAfter = 5
	DefaultOpenFor   = time.Second
	// DefaultMaxEntryBytes is the Options.MaxEntryBytes that 0 stands
	// for: 1 MiB, memcached's default item size.
	DefaultMaxEntryBytes = 1 << 20
	// DefaultClockSkew is the Options.ClockSkew that 0 stands for: NTP
	// keeps hosts in one data centre within a few milliseconds of each
	// other, and 50 ms leaves room for a host that is still converging.
	DefaultClockSkew = 50 * time.Millisecond
	// DefaultMaxLogTags is the Options.MaxLogTags that 0 stands for: a
	// fold of 8,192 tag fields held a redis-server 7.0 for 11-21 ms (see
	// Options.MaxLogTags), once every 4,096 distinct tags invalidated,
	// where one of 65,536 (the Loader's own bound) held it for 100-200 ms.
	DefaultMaxLogTags = 8192
)

// ErrTooLarge is wrapped by the error of a write whose encoded entry is
// longer than Options.MaxEntryBytes; nothing is written.
var ErrTooLarge = errors.New("redisstore: encoded entry is longer than Options.MaxEntryBytes")

// Options tune a Store. The zero Options are valid for string and integer
// keys.
type Options[K comparable, V any] struct {
	// Prefix goes before every key the Store writes, so that several caches
	// share one Redis: keys under one prefix never meet those under
	// another. Its '\', '{' and '}' are escaped (see [Store.RedisKey]). ""
	// means DefaultPrefix.
	Prefix string

	// Key turns a key into the string after Prefix. nil means the decimal or
	// string form, which New supports for keys whose kind is a string or an
	// integer; other key types need Key.
	Key func(K) string

	// ParseKey turns the string Key made back into a key. Subscribe needs it
	// for key types with a Key function of their own.
	ParseKey func(string) (K, error)

	// Codec encodes values. nil means JSON.
	Codec Codec[V]

	// Timeout bounds every call to Redis, within the caller's context. 0
	// means DefaultTimeout.
	Timeout time.Duration

	// LeaseTTL is how long a lease to load a key lasts: how long the fleet
	// waits for an instance that took a lease and died. It should exceed
	// the time a load takes. 0 means DefaultLeaseTTL.
	LeaseTTL time.Duration

	// TripAfter is how many calls to Redis in a row must fail (no answer
	// within Timeout, or a network error) before the Store stops calling
	// Redis for OpenFor and fails calls at once with ErrUnavailable (a
	// circuit breaker; see ErrUnavailable). 0 means DefaultTripAfter; a
	// negative TripAfter turns the breaker off.
	TripAfter int

	// OpenFor is how long the breaker holds calls off before it lets one
	// through to probe Redis. 0 means DefaultOpenFor.
	OpenFor time.Duration

	// FenceTTL is how long a deleted key's version stays behind to fence
	// the fills that began before the Delete (see flightcache.Fencer); it
	// should exceed the longest fill, the Loader's LoadTimeout plus a lease
	// wait. 0 means DefaultFenceTTL.
	FenceTTL time.Duration

	// Heartbeat is how long the invalidation subscription (see Subscribe)
	// may hear nothing before it sends a PING, which must be answered
	// within Timeout: a local tier serves its copies at most Heartbeat +
	// Timeout after the channel last proved alive. 0 means
	// DefaultHeartbeat.
	Heartbeat time.Duration

	// MaxEntryBytes bounds an entry's stored size in bytes, envelope
	// included. A read finds a longer one a miss, counted (DecodeErrors)
	// and logged like undecodable bytes, before decoding it: anyone who can
	// write under the prefix could otherwise make every instance decode a
	// few megabytes of JSON such as [{},{},...] into gigabytes of values.
	// A write of a longer one fails with ErrTooLarge. 0 means
	// DefaultMaxEntryBytes; a negative MaxEntryBytes means no bound.
	MaxEntryBytes int

	// WaitReplicas, when positive, makes every write wait until that many
	// replicas acknowledged it (Redis's WAIT, within Timeout), so that a
	// Sentinel failover that promotes one of them keeps it; a write not
	// acknowledged in time fails with ErrNotReplicated (the master has
	// it). It needs a *redis.Client; see ErrNotReplicated for its limits.
	// 0 means no waiting.
	WaitReplicas int

	// ClockSkew is how far apart the clocks of the fleet's instances may
	// be. An InvalidateTag or Clear (see [Store.LogInvalidation]) covers
	// the entries loaded at or before its instant, each entry stamped by
	// the clock of the instance that loaded it and the invalidation by the
	// clock of the one that made it: so the Store records and tells the
	// invalidation's instant moved to at least ClockSkew past its own
	// clock, and an entry loaded before the invalidation on an instance
	// whose clock runs ahead by up to ClockSkew is still covered. The
	// price: entries of that tag loaded on an instance within ClockSkew
	// after the invalidation, before it heard of it, are covered too, and
	// load again once more; an instance that has heard of it stamps its
	// loads and Sets past it, so they stand. The instant is never moved
	// further than that: invalidations in quick succession do not push
	// it ever later. 0 means DefaultClockSkew; a negative ClockSkew means
	// none (clocks that agree exactly, as one host's do).
	ClockSkew time.Duration

	// MaxLogTags bounds how many tags the log of invalidations (see
	// [Store.LogInvalidation]) keeps one by one, each in a field of its
	// Redis hash. When recording a tag leaves more, the recording script
	// folds the older half, by instant, into one instant (the hash's "f"
	// field, raised, never lowered) at or before which every tagged entry
	// is gone, whatever its tags, and deletes their fields: the hash stays
	// within MaxLogTags tag fields plus "c" and "f", and an instance that
	// starts replays no more. The Loaders running were told of each tag
	// as it came, and are not told of the fold; a Loader that replays the
	// log (one started later, or after a gap in what it hears) is given
	// the fold as a flightcache.Invalidation with Tagged set, so that an
	// entry of a folded tag loaded before it is still gone. The price: on
	// such an instance, the tagged entries loaded before the fold instant,
	// whatever their tags, load once more; untagged entries do not.
	//
	// A fold reads the whole hash and deletes half of it in one script,
	// holding Redis (every client of it) meanwhile, for a time
	// proportional to MaxLogTags. Measured on a redis-server 7.0 on two
	// busy cores (the script's time in SLOWLOG, seven folds each, tags
	// recorded out of order): 65,536 tag fields, 97-201 ms (median 148);
	// 16,384, 27-52 ms (37); 8,192, 11-21 ms (17); 4,096, 6-10 ms (7). A
	// fold comes once every MaxLogTags/2 distinct tags recorded, so it
	// costs each tag about 4 µs of Redis's time, whatever MaxLogTags; a
	// smaller one makes the pauses shorter and more frequent, and moves
	// the fold instant closer to now. 0 means DefaultMaxLogTags; a
	// negative MaxLogTags is an error from New.
	MaxLogTags int

	// Logger receives reports of undecodable entries and of a dropped
	// subscription. nil means slog.Default().
	Logger *slog.Logger
}
