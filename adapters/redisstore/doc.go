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
// Missing, FreshUntil, StaleUntil, ExpiresAt (each as Unix nanoseconds,
// saturated past the year 2262, a zero time kept zero), LoadDuration, and a
// fingerprint of the value type. The Redis TTL comes from ExpiresAt. An
// entry longer than Options.MaxEntryBytes (1 MiB by default) is neither
// written (ErrTooLarge) nor decoded when read (a counted, logged miss), so
// that bytes anyone wrote under the prefix cannot make an instance decode
// them into gigabytes. Bytes that do not decode are a miss, counted and
// logged, never a wrong value;
// so is an entry written in another version of the envelope (version 3
// added StaleUntil), so that during a rolling upgrade each version loads
// the keys the other wrote rather than misread them.
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
//     over it: rule 9's fence is undone for the writes lost. Redis's WAIT
//     narrows the window but does not close it (a replica that acknowledged
//     may still not be the one promoted), so it is not offered; keep the
//     window small with min-replicas-to-write on the master, and
//     Invalidate the keys that matter after a failover.
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
package redisstore
