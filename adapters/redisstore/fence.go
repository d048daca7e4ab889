package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flightcache/flightcache"
)

// Fenced writes (DESIGN rule 9; issue 13 item 1).
//
// Beside each key's entry the Store keeps its version: a random non-zero
// 64-bit number, in decimal, under the key's version key (kind 'n'), in the
// entry's hash slot. Every write of a key (Set, Delete, SetMany and a
// successful SetIfVersion) gives it a new version, in the same Lua script
// that writes the entry, so the two change in one step. Delete leaves the
// version behind as a tombstone for Options.FenceTTL; a version lives as
// long as its entry, and at least FenceTTL.
//
// SetIfVersion runs the same script with the version the fill read: the
// script writes only when the key's version is still that one. Random
// versions do not repeat (but with odds of 2^-64), so a key deleted and
// written again never looks unchanged.
//
// Limits: a fill that takes longer than FenceTTL after a Delete, or whose
// key's version Redis evicted (maxmemory with an allkeys policy), may still
// write; with Redis down nothing is fenced (writes fail open, as reads do);
// and fencing is about order within Redis, so clock skew between instances
// matters only through the entries' own timestamps.

// DefaultFenceTTL is the Options.FenceTTL that 0 stands for.
const DefaultFenceTTL = time.Minute

// kindVersion names a key's version key (see keys.go).
const kindVersion = 'n'

// write sets or deletes one key's entry and gives the key a new version,
// when the key's version is ARGV[1] or ARGV[1] is "*".
//
//	KEYS[1] entry key, KEYS[2] version key
//	ARGV[1] expected version ("" for none, "*" for any)
//	ARGV[2] encoded entry, ARGV[3] its TTL in ms (0: none; -1: delete)
//	ARGV[4] the new version, ARGV[5] FenceTTL in ms
//	ARGV[6] the deadline, in Unix microseconds (see lateCheck)
//
// Its result (see timed) is 1 when it wrote, 0 when the version had
// changed, -1 when it ran past its deadline and wrote nothing.
var write = timed(`
if ARGV[1] ~= "*" then
	local cur = redis.call("GET", KEYS[2])
	if cur == false then cur = "" end
	if cur ~= ARGV[1] then return 0 end
end
local ttl, fence = tonumber(ARGV[3]), tonumber(ARGV[5])
if ttl < 0 then
	redis.call("DEL", KEYS[1])
	redis.call("SET", KEYS[2], ARGV[4], "PX", fence)
elseif ttl == 0 then
	redis.call("SET", KEYS[1], ARGV[2])
	redis.call("SET", KEYS[2], ARGV[4])
else
	redis.call("SET", KEYS[1], ARGV[2], "PX", ttl)
	redis.call("SET", KEYS[2], ARGV[4], "PX", math.max(ttl, fence))
end
return 1`)

// anyVersion makes a write unconditional.
const anyVersion = "*"

// versionKey returns the Redis key of key's version.
func (s *Store[K, V]) versionKey(key K) string {
	return redisKeyOf(s.escPrefix, s.key(key), kindVersion)
}

// VersionKey returns the Redis key that holds key's version (see
// flightcache.Fencer). It shares key's Redis Cluster hash slot.
func (s *Store[K, V]) VersionKey(key K) string { return s.versionKey(key) }

// newVersion returns a version no key has had, but with odds of 2^-64.
func newVersion() string {
	for {
		if v := rand.Uint64(); v != 0 {
			return strconv.FormatUint(v, 10)
		}
	}
}

func formatVersion(v flightcache.Version) string {
	if v == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(v), 10)
}

func parseVersion(raw any) flightcache.Version {
	s, ok := raw.(string)
	if !ok {
		return 0
	}
	v, _ := strconv.ParseUint(s, 10, 64)
	return flightcache.Version(v)
}

// writeArgs returns the keys and arguments of the write script for e,
// expected being the version it requires (or anyVersion).
func (s *Store[K, V]) writeArgs(key K, e flightcache.Entry[V], expected string) ([]string, []any, error) {
	keys := []string{s.redisKey(key), s.versionKey(key)}
	d, ok := ttl(e)
	if !ok {
		return keys, []any{expected, "", -1, newVersion(), s.fenceTTL.Milliseconds(), 0}, nil
	}
	b, err := encodeEntry(s.codec, s.fp, e)
	if err != nil {
		return nil, nil, err
	}
	if s.maxBytes >= 0 && len(b) > s.maxBytes {
		return nil, nil, fmt.Errorf("redisstore: set %q: %w (%d bytes, at most %d)", keys[0], ErrTooLarge, len(b), s.maxBytes)
	}
	return keys, []any{expected, b, d.Milliseconds(), newVersion(), s.fenceTTL.Milliseconds(), 0}, nil
}

// deleteArgs returns the keys and arguments of the write script that
// deletes key.
func (s *Store[K, V]) deleteArgs(key K) ([]string, []any) {
	return []string{s.redisKey(key), s.versionKey(key)},
		[]any{anyVersion, "", -1, newVersion(), s.fenceTTL.Milliseconds(), 0}
}

// runWrite runs the write script for one key and reports whether it wrote.
// The last of args is set to the call's deadline (see lateCheck).
func (s *Store[K, V]) runWrite(ctx context.Context, keys []string, args []any) (bool, error) {
	if s.waitReplicas > 0 {
		out, err := s.pipelineWrites(ctx, 1, func(int) ([]string, []any) { return keys, args })
		return len(out) == 1 && out[0], err
	}
	n, err := run(s, ctx, func(ctx context.Context) (int64, error) {
		args[len(args)-1] = s.deadline(ctx)
		sent := time.Now()
		v, err := write.Run(ctx, s.client, keys, args...).Slice()
		return s.timedReply(sent, v, err)
	})
	if err == nil && n < 0 {
		err = s.late()
	}
	return n == 1, err
}

// GetVersioned returns the entry stored for key, as Get does, and key's
// version, in one round trip (MGET of two keys in one hash slot). See
// flightcache.Fencer. While a watcher of invalidations waits for the log
// to be replayed (see Replaying), it returns the version alone, so that a
// fill still writes, fenced.
func (s *Store[K, V]) GetVersioned(ctx context.Context, key K) (flightcache.Entry[V], bool, flightcache.Version, error) {
	k, vk := s.redisKey(key), s.versionKey(key)
	raw, err := run(s, ctx, func(ctx context.Context) ([]any, error) {
		return s.client.MGet(ctx, k, vk).Result()
	})
	if err != nil {
		return flightcache.Entry[V]{}, false, 0, fmt.Errorf("redisstore: get %q with its version: %w", k, err)
	}
	v := parseVersion(raw[1])
	str, ok := raw[0].(string)
	if !ok || s.blind() {
		return flightcache.Entry[V]{}, false, v, nil
	}
	e, ok := s.decode(k, []byte(str))
	return e, ok, v, nil
}

// SetIfVersion stores e for key only if key's version is still v, checked
// and written in one Lua script. See flightcache.Fencer.
func (s *Store[K, V]) SetIfVersion(ctx context.Context, key K, e flightcache.Entry[V], v flightcache.Version) (bool, error) {
	keys, args, err := s.writeArgs(key, e, formatVersion(v))
	if err != nil {
		return false, err
	}
	ok, err := s.runWrite(ctx, keys, args)
	if err != nil {
		return false, fmt.Errorf("redisstore: set %q if unchanged: %w", keys[0], err)
	}
	return ok, nil
}

// GetManyVersioned returns the entries and versions of keys in one round
// trip per Redis node. See flightcache.BatchFencer. While a watcher of
// invalidations waits for the log to be replayed (see Replaying), it
// returns the versions alone.
func (s *Store[K, V]) GetManyVersioned(ctx context.Context, keys []K) (map[K]flightcache.Entry[V], map[K]flightcache.Version, error) {
	if err := s.hashable(keys); err != nil {
		return nil, nil, err
	}
	entries := make(map[K]flightcache.Entry[V], len(keys))
	versions := make(map[K]flightcache.Version, len(keys))
	if len(keys) == 0 {
		return entries, versions, nil
	}
	rkeys := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		rkeys = append(rkeys, s.redisKey(k), s.versionKey(k))
	}
	raw, err := run(s, ctx, func(ctx context.Context) ([]any, error) {
		if _, single := s.client.(*redis.Client); single {
			return s.client.MGet(ctx, rkeys...).Result()
		}
		// Each pair shares a slot; pairs may not.
		cmds := make([]*redis.SliceCmd, len(keys))
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range keys {
				cmds[i] = p.MGet(ctx, rkeys[2*i], rkeys[2*i+1])
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		raw := make([]any, 0, len(rkeys))
		for _, c := range cmds {
			raw = append(raw, c.Val()...)
		}
		return raw, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("redisstore: get %d keys with their versions: %w", len(keys), err)
	}
	blind := s.blind()
	for i, k := range keys {
		if v := parseVersion(raw[2*i+1]); v != 0 {
			versions[k] = v
		}
		if str, ok := raw[2*i].(string); ok && !blind {
			if e, ok := s.decode(rkeys[2*i], []byte(str)); ok {
				entries[k] = e
			}
		}
	}
	return entries, versions, nil
}

// SetManyIfVersion stores each entry as SetIfVersion does, in one pipelined
// round trip per Redis node, and returns the keys it wrote. See
// flightcache.BatchFencer.
func (s *Store[K, V]) SetManyIfVersion(ctx context.Context, entries map[K]flightcache.Entry[V], versions map[K]flightcache.Version) (map[K]bool, error) {
	written := make(map[K]bool, len(entries))
	type op struct {
		key  K
		keys []string
		args []any
	}
	ops := make([]op, 0, len(entries))
	for k, e := range entries {
		keys, args, err := s.writeArgs(k, e, formatVersion(versions[k]))
		if err != nil {
			return written, err
		}
		ops = append(ops, op{k, keys, args})
	}
	results, err := s.pipelineWrites(ctx, len(ops), func(i int) ([]string, []any) { return ops[i].keys, ops[i].args })
	if err != nil {
		return written, fmt.Errorf("redisstore: set %d keys if unchanged: %w", len(entries), err)
	}
	for i, ok := range results {
		if ok {
			written[ops[i].key] = true
		}
	}
	return written, nil
}

// pipelineWrites runs n write scripts in one pipeline (EVAL: a pipeline
// cannot fall back from EVALSHA on NOSCRIPT) and reports which wrote.
func (s *Store[K, V]) pipelineWrites(ctx context.Context, n int, op func(i int) ([]string, []any)) ([]bool, error) {
	if n == 0 {
		return nil, nil
	}
	out, err := run(s, ctx, func(ctx context.Context) ([]bool, error) {
		cmds := make([]*redis.Cmd, n)
		var wait *redis.Cmd
		dl, sent := s.deadline(ctx), time.Now()
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range n {
				keys, args := op(i)
				args[len(args)-1] = dl
				cmds[i] = write.Eval(ctx, p, keys, args...)
			}
			wait = s.waitReplicated(ctx, p)
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		out := make([]bool, n)
		late := false
		for i, c := range cmds {
			v, err := c.Slice()
			n, _ := s.timedReply(sent, v, err)
			out[i] = n == 1
			late = late || n < 0
		}
		if late {
			return out, errRefused
		}
		return out, s.replicated(wait)
	})
	return out, s.lateErr(err)
}
