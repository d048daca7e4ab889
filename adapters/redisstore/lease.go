package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// How often an instance waiting for another's lease looks whether it has
// ended: first after leasePollMin, then twice as long each time, up to
// leasePollMax.
//
// Polling rather than pub/sub: a waiter is one goroutine per key per
// instance (the Loader's singleflight has already collapsed the instance's
// callers onto it), so polling costs a few GETs per load and needs no
// subscription per key; it also needs no notification that could be lost
// when a holder dies, since the lease's own expiry ends the wait.
const (
	leasePollMin = 5 * time.Millisecond
	leasePollMax = 100 * time.Millisecond
)

// release deletes a lease only if it still holds the token it was taken
// with, so that an instance whose lease expired cannot end the next
// holder's.
var release = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// Lease takes the fleet-wide right to load key with SET NX PX, for
// Options.LeaseTTL. When another instance holds it, Lease waits, polling,
// until that lease is released or expires, and returns a nil release. See
// flightcache.Leaser.
func (s *Store[K, V]) Lease(ctx context.Context, key K) (func(), error) {
	lk := s.LeaseKey(key)
	var b [12]byte
	rand.Read(b[:])
	token := s.id + ":" + hex.EncodeToString(b[:])

	ok, err := run(s, ctx, func(ctx context.Context) (bool, error) {
		return s.client.SetNX(ctx, lk, token, s.leaseTTL).Result()
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: lease %q: %w", lk, err)
	}
	if ok {
		return func() {
			// The release must happen even when the load's context has
			// ended; it has a timeout of its own.
			run(s, context.WithoutCancel(ctx), func(ctx context.Context) (any, error) {
				return release.Run(ctx, s.client, []string{lk}, token).Result()
			})
		}, nil
	}

	wait := leasePollMin
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		n, err := run(s, ctx, func(ctx context.Context) (int64, error) {
			return s.client.Exists(ctx, lk).Result()
		})
		if err != nil {
			return nil, fmt.Errorf("redisstore: wait for lease %q: %w", lk, err)
		}
		if n == 0 {
			return nil, nil
		}
		wait = min(2*wait, leasePollMax)
	}
}
