// Package redisstore is a flightcache.Store over Redis, the shared tier of a
// fleet of service instances, through any go-redis v9 redis.UniversalClient:
// a single node, Sentinel failover (a failover *redis.Client), a *redis.Ring
// or a *redis.ClusterClient.
//
// # Calls
//
// Every call returns within Options.Timeout (and the caller's context),
// whatever timeouts the client was built with: go-redis ignores context
// deadlines unless the client has ContextTimeoutEnabled, so over such a
// client each call runs on a goroutine of its own that the caller stops
// waiting for (see [ErrTimeout]); over a client built with
// ContextTimeoutEnabled, the Store calls it directly, which is faster. New
// refuses a client whose calls could then run on for ever (no ReadTimeout
// or WriteTimeout, and no ContextTimeoutEnabled). After Options.TripAfter
// calls in a row fail, a circuit breaker fails calls at once for
// Options.OpenFor (see [ErrUnavailable]), so an outage costs a few
// timeouts, not one per call. Batches (GetMany, SetMany) use MGET on a
// single node and a pipeline that the client routes key by key on a Ring or
// a Cluster.
//
// A call the Store gave up on never takes effect later: every write and
// every lease request is a Lua script that first compares Redis's clock
// with the instant the Store stopped waiting for it, and does nothing past
// it (see [ErrLate]); a lease request given up on is also released by its
// token. The Store sends that instant in Redis's time, learning how far
// the clocks are apart from the scripts' replies. It needs Redis 5 or
// later.
//
// # Keys
//
// The Redis key of an entry is the escaped Prefix, then "{k", the escaped
// key, "}" and one byte of kind ('v' entry, 'l' lease, 'n' version):
// escaping writes '\', '{' and '}' as "\\", "\[" and "\]". No prefix or
// user key can reach into another's keys (a user key "x\x00lease" once
// landed on x's lease), and a key's entry, lease and version share their
// Redis Cluster hash slot, since only the part in braces is hashed.
// [Store.RedisKey], [Store.LeaseKey] and [Store.VersionKey] return them.
//
// # Fenced writes
//
// A Store is a flightcache.BatchFencer: every write gives the key a new
// random version in the same Lua script, a Delete leaves the version behind
// for Options.FenceTTL, and SetIfVersion writes only when the version is the
// one a fill read, so Set and Invalidate on any instance win over fills in
// flight on every instance. Limits: a fill that outlasts FenceTTL after a
// Delete, or whose version Redis evicted, may still write; with Redis down
// nothing is fenced.
//
// # Values
//
// Entries are encoded by a Codec (JSON unless another is given) inside a
// small versioned envelope that carries the rest of the Entry exactly:
// Missing, FreshUntil, StaleUntil, ServeUntil, ExpiresAt, LoadedAt (each a
// Deadline, Unix nanoseconds as they are, zero kept zero), LoadDuration,
// the tags by name (an untagged entry pays one flag bit), and a
// fingerprint of the value type. The Redis TTL comes from ExpiresAt. An
// entry longer than Options.MaxEntryBytes (1 MiB by default) is neither
// written (ErrTooLarge) nor decoded when read (a counted, logged miss), so
// that bytes anyone wrote under the prefix cannot make an instance decode
// them into gigabytes. Bytes that do not decode are a miss, counted and
// logged, never a wrong value;
// so is an entry written in another version of the envelope (version 3
// added StaleUntil, version 5 the tags), so that during a rolling upgrade
// each version loads the keys the other wrote rather than misread them.
//
// # Topologies
//
// The guarantees above (fenced writes, leases, calls given up on never
// landing) are those of one Redis that keeps what it acknowledged. A
// Cluster keeps them: a key's entry, version and lease share a hash slot,
// and a slot moves only with its keys. Two topologies do not:
//
//   - Sentinel failover: replication is asynchronous, so a failover may lose
//     writes the old master had acknowledged, and a key's version rolls back
//     with its value. Reads after it may serve a value older than a Set that
//     had returned, and a fill that read the rolled-back version may write
//     over it: rule 9's fence is undone for the writes lost.
//     Options.WaitReplicas makes each write wait until replicas have it
//     (Redis's WAIT), which keeps it through a failover that promotes one
//     of them; it narrows the window without closing it (see
//     [ErrNotReplicated]). Invalidate the keys that matter after a
//     failover.
//   - *redis.Ring: its shards share nothing. While a shard does not answer,
//     the Ring sends its keys to the others; when it answers again, the
//     keys go back to it, with the values and versions it had before. A Set
//     or Invalidate made meanwhile is lost, the old value is served as
//     fresh, and no fence or lease can tell. Use a Cluster where that
//     matters; a Ring suits a cache whose entries may come back stale for
//     up to their FreshFor after a shard flaps.
//
// # Fleets
//
// Beyond Store, a Store is a flightcache.BatchStore, a flightcache.Leaser,
// so that a fleet loads a cold key once (SET NX PX, token-checked release),
// and the bus of cross-instance invalidation: Notify publishes a changed
// key, and Subscribe evicts the keys other instances changed from a local
// tier (see package tiered).
//
// The subscription proves itself alive by a PING answered within Timeout
// after Options.Heartbeat of silence; at a gap the local tier stops serving
// (a [Suspender]) and is reset once the subscription is back, so a local
// copy is served at most Heartbeat + Timeout (1.25 s by default) after the
// channel last proved alive.
//
// A write is visible elsewhere a little after it returns: Redis has it,
// and the notification is published, but the other instances drop their
// copies only when the message reaches them. Measured with four instances
// on one redis-server under read load (BenchmarkWriteVisibility in package
// tiered, 3,000 writes, two cores): from a Set returning on one instance
// to the last other instance no longer serving the old value, p50 150 µs,
// p99 1.3-3.6 ms, max 5-40 ms (the scheduler's time slices on a busy
// machine); a Delete alike. Until then a read elsewhere may return the
// replaced value.
//
// # Tags and Clear over the fleet
//
// A Store is a flightcache.InvalidationLog, so that a Loader's
// InvalidateTag and Clear reach every instance, those started later
// included. LogInvalidation records each in one Redis hash per prefix
// ([Store.InvalidationLogKey]: a field per tag, "t" and the tag, "c" for
// Clear and "f" for the fold of the tags below, each holding the latest
// instant recorded, raised by a Lua script that never lowers it; a Clear
// deletes the fields it covers), applies it to this Store's watchers, and
// publishes it on the invalidation channel ("<id> t <at> <tag>", "<id> c
// <at>", "<id> f <at>"; a message that fails is sent again in the
// background). No entry is touched: each Loader judges every entry it reads by its LoadedAt and
// Tags, which the envelope and a tiered local tier keep.
//
// The hash is bounded: it keeps at most Options.MaxLogTags tags one by
// one (8,192 by default). Recording one more folds the older half of them
// into "f", an instant at or before which every tagged entry is gone,
// whatever its tags, and deletes their fields, in the same script. The
// instances running had applied each tag as it came, and are told
// nothing; one that replays the log (started later, or after a gap) is
// given the fold as a flightcache.Invalidation with Tagged set, so it
// loads again the tagged entries loaded before the fold instant, those of
// tags never invalidated included, once. Untagged entries are not
// affected. A fold holds Redis for a time proportional to MaxLogTags
// (11-21 ms for 8,192 fields, 100-200 ms for 65,536, on two busy cores;
// see Options.MaxLogTags), once every MaxLogTags/2 distinct tags: about
// 4 µs of Redis's time per tag recorded.
//
// WatchInvalidations replays the hash (HGETALL) to a new watcher, and to
// every watcher after each gap of its subscription (the liveness above, on
// a subscription of its own); until the replay has succeeded the Store
// serves no entry, and a tiered Store over it none from its local tier
// (see [Store.Replaying]): an invalidation the Loader has not heard of may
// cover any entry. With Redis down, InvalidateTag and Clear fail having
// changed nothing, and a Store that must replay serves nothing until
// Redis is back, while its Loader loads from the source.
//
// The instant of an invalidation is read from the clock of the instance
// that made it, and entries are stamped by the clocks of the instances
// that loaded them: the Store moves each instant to at least its own clock
// plus Options.ClockSkew (50 ms by default), so that an entry loaded
// before the invalidation on an instance whose clock runs ahead by up to
// that much is still covered, at the price of loading again the entries
// of the tag loaded within ClockSkew after it by instances that had not
// heard of it yet. An instant already that far ahead is not moved, so a
// burst of invalidations never runs ahead of the clocks. Clocks further
// apart than ClockSkew may let such an entry survive.
//
// An invalidation is seen elsewhere as a Set is: measured with four
// instances on one redis-server (TestTagVisibilityAcrossTheFleet in package
// tiered, 50 rounds each), from InvalidateTag or Clear returning to the
// last other instance no longer serving what it covers, p50 120-370 µs,
// max 0.7-8.4 ms.
//
// The hash is read whole at every replay, within Options.Timeout: at most
// MaxLogTags tag fields, plus "c" and "f".
//
// Redis's server-assisted invalidation (CLIENT TRACKING ... BCAST PREFIX)
// was considered and not adopted: it travels by the same Pub/Sub as this
// bus (in RESP2, on the __redis__:invalidate channel of a connection the
// tracking redirects to), so it is not faster; it reports every write to a
// key, fills included, where the bus sends only Set and Invalidate; it
// cannot carry lease releases or resets; it needs one tracking connection
// per node of a Cluster and per shard of a Ring, each with its own gaps to
// detect; and an instance would hear its own writes, which the bus tells
// apart by the sender.
package redisstore
