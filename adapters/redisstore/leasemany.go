package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// LeaseMany takes the leases of those keys that no other instance holds, in
// one pipelined round trip per Redis node, without waiting for the others:
// instances that lease different parts of one batch never wait on each
// other (DESIGN rule 10). It returns the keys it took and one release for
// them all (one round trip per node too), which must be called once their
// fills are stored. The leases are kept alive as Lease's are. Keys it did
// not take are held by another instance: look at the Store for them later,
// or wait with Lease.
//
// With it, a Store is a flightcache.BatchLeaser: a Loader's batch fills
// lease their keys in one round trip.
func (s *Store[K, V]) LeaseMany(ctx context.Context, keys []K) (taken []K, release func(), err error) {
	token := s.newToken()
	seen := make(map[string]bool, len(keys))
	var uniq []K
	var lks []string
	for _, k := range keys {
		lk := s.LeaseKey(k)
		if !seen[lk] {
			seen[lk] = true
			uniq = append(uniq, k)
			lks = append(lks, lk)
		}
	}
	if len(uniq) == 0 {
		return nil, func() {}, nil
	}
	got, err := run(s, ctx, func(ctx context.Context) ([]bool, error) {
		cmds := make([]*redis.Cmd, len(lks))
		dl, sent := s.deadline(ctx), time.Now()
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, lk := range lks {
				cmds[i] = acquire.Eval(ctx, p, []string{lk}, token, s.leaseTTL.Milliseconds(), dl)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		out := make([]bool, len(cmds))
		late := false
		for i, c := range cmds {
			v, err := c.Slice()
			n, _ := s.timedReply(sent, v, err)
			out[i] = n == 1
			late = late || n < 0
		}
		if late {
			return nil, errRefused
		}
		return out, nil
	})
	if err != nil {
		err = s.lateErr(err)
		s.abandon(uniq, lks, token, err)
		return nil, nil, fmt.Errorf("redisstore: lease %d keys: %w", len(uniq), err)
	}
	var held []string
	for i, ok := range got {
		if ok {
			taken = append(taken, uniq[i])
			held = append(held, lks[i])
		}
	}
	if len(held) == 0 {
		return nil, func() {}, nil
	}
	return taken, s.holdMany(context.WithoutCancel(ctx), taken, held, token), nil
}

// holdMany keeps the leases lks alive until the returned release is called,
// and releases them all then.
func (s *Store[K, V]) holdMany(ctx context.Context, keys []K, lks []string, token string) func() {
	return s.keepAlive(func() (lost bool) {
		run(s, ctx, func(ctx context.Context) ([]redis.Cmder, error) {
			return s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, lk := range lks {
					extend.Eval(ctx, p, []string{lk}, token, s.leaseTTL.Milliseconds())
				}
				return nil
			})
		})
		return false // some may be lost, others not: keep extending them all
	}, func() { s.releaseAll(ctx, keys, lks, token) })
}
