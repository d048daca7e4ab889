// Package redisstore is a flightcache.Store over Redis, the shared tier of a
// fleet of service instances: single node, Sentinel or Cluster, through
// go-redis v9's redis.UniversalClient.
//
// Entries are kept under a prefix plus the key, encoded by a Codec (JSON
// unless another is given) inside a small versioned envelope that carries
// the Entry's timestamps; the Redis TTL comes from ExpiresAt. Bytes that do
// not decode are a miss, counted and logged, never a wrong value.
//
// Beyond Store, a Store is a flightcache.BatchStore (MGET and pipelined SET),
// a flightcache.Leaser, so that a fleet loads a cold key once (SET NX PX,
// token-checked release), and the bus of cross-instance invalidation: Notify
// publishes a changed key, and Subscribe evicts the keys other instances
// changed from a local tier (see package tiered).
package redisstore
