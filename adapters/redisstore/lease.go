package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flightcache/flightcache"
)

// Leases (issue 13 item 3).
//
// A lease is SET NX PX of the key's lease key with a token, for
// Options.LeaseTTL. While its holder lives, a goroutine of the holder's
// extends it every LeaseTTL/3 (only while it still holds the token), so a
// slow but live load keeps it and no second load starts; a holder that dies
// stops extending, and its lease ends at most LeaseTTL later. The Loader
// releases every lease it takes, after LoadTimeout at the latest.
//
// Release deletes the lease only if it still holds the token, and in the
// same script publishes "<id> l <key>" on the invalidation channel, so that
// the waiters of every subscribed instance (see Subscribe) look again at
// once. Polling is the fallback, for instances without a subscription and
// for holders that die: waiters look first after leasePollMin, then twice
// as long each time, up to leasePollMax. (On a Ring the message goes to the
// lease key's shard, which may not be the channel's: waiters there poll.)
var (
	leasePollMin = 5 * time.Millisecond
	leasePollMax = 100 * time.Millisecond
)

// release deletes a lease only if it still holds the token it was taken
// with, so that an instance whose lease expired cannot end the next
// holder's, and then tells the waiters.
//
//	KEYS[1] lease key; ARGV[1] token, ARGV[2] channel, ARGV[3] message
var release = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	redis.call("DEL", KEYS[1])
	redis.call("PUBLISH", ARGV[2], ARGV[3])
	return 1
end
return 0`)

// acquire takes a lease, as SET NX PX does, unless the call is late (see
// late.go).
//
//	KEYS[1] lease key; ARGV[1] token, ARGV[2] LeaseTTL in ms, ARGV[3] deadline
//
// Its result (see timed) is 1 when it took the lease, 0 when another holds
// it, -1 when it ran past its deadline.
var acquire = timed(`
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then return 1 end
return 0`)

// extend extends a lease by ARGV[2] ms only if it still holds the token.
var extend = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// Lease takes the fleet-wide right to load key with SET NX PX, for
// Options.LeaseTTL, and keeps it alive until released. When another
// instance holds it, Lease waits until that lease is released or expires,
// and returns a nil release. See flightcache.Leaser.
func (s *Store[K, V]) Lease(ctx context.Context, key K) (func(), error) {
	lk := s.LeaseKey(key)
	token := s.newToken()
	n, err := run(s, ctx, func(ctx context.Context) (int64, error) {
		sent := time.Now()
		v, err := acquire.Run(ctx, s.client, []string{lk}, token, s.leaseTTL.Milliseconds(), s.deadline(ctx)).Slice()
		return s.timedReply(sent, v, err)
	})
	if err == nil && n < 0 {
		err = s.late()
	}
	if err != nil {
		s.abandon([]K{key}, []string{lk}, token, err)
		return nil, fmt.Errorf("redisstore: lease %q: %w", lk, err)
	}
	if n == 1 {
		return s.hold(context.WithoutCancel(ctx), key, lk, token), nil
	}

	wake := s.waitFor(s.key(key))
	defer s.stopWaiting(s.key(key), wake)
	wait := leasePollMin
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-wake:
			t.Stop()
			wait = leasePollMin
		case <-t.C:
			wait = min(2*wait, leasePollMax)
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
	}
}

// newToken returns a lease token no other request has: the Store's id and
// 96 random bits.
func (s *Store[K, V]) newToken() string {
	var b [12]byte
	rand.Read(b[:])
	return s.id + ":" + hex.EncodeToString(b[:])
}

// abandon releases, by token, the leases lks of a request that failed with
// err, in the background and bounded by Timeout: Redis may have granted
// them just before the request's deadline while the reply was still on its
// way, and nobody would keep them alive or release them (issue 23, input
// 3; redis/rueidis#630). A request the Store did not send (the breaker was
// open, the Store closed) needs nothing.
func (s *Store[K, V]) abandon(keys []K, lks []string, token string, err error) {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, flightcache.ErrClosed) || !s.track() {
		return
	}
	go func() {
		defer s.calls.Done()
		s.releaseAll(context.Background(), keys, lks, token)
	}()
}

// releaseAll releases the leases lks (of keys) taken with token, in one
// round trip per node, and wakes their waiters.
func (s *Store[K, V]) releaseAll(ctx context.Context, keys []K, lks []string, token string) {
	run(s, ctx, func(ctx context.Context) ([]redis.Cmder, error) {
		return s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, lk := range lks {
				release.Eval(ctx, p, []string{lk}, token, s.channel(), s.id+" l "+s.key(keys[i]))
			}
			return nil
		})
	})
}

// hold keeps a lease alive until the returned release is called, and
// releases it then.
func (s *Store[K, V]) hold(ctx context.Context, key K, lk, token string) func() {
	return s.keepAlive(func() (lost bool) {
		n, err := run(s, ctx, func(ctx context.Context) (int64, error) {
			return extend.Run(ctx, s.client, []string{lk}, token, s.leaseTTL.Milliseconds()).Int64()
		})
		return err == nil && n == 0 // it expired while Redis was unreachable
	}, func() {
		// The release must happen even when the load's context has
		// ended; ctx is detached, and run bounds it by Timeout.
		run(s, ctx, func(ctx context.Context) (any, error) {
			return release.Run(ctx, s.client, []string{lk}, token, s.channel(), s.id+" l "+s.key(key)).Result()
		})
	})
}

// keepAlive extends a lease every third of LeaseTTL with extend, which
// reports whether the lease is lost (nothing left to keep), until the
// returned function is called or the Store closes; that function then
// frees the lease with free, once. After Close, it does nothing: a lease
// taken then expires on its own.
func (s *Store[K, V]) keepAlive(extend func() (lost bool), free func()) func() {
	stop := make(chan struct{})
	stopped := make(chan struct{})
	if !s.track() {
		return func() {}
	}
	go func() {
		defer s.calls.Done()
		defer close(stopped)
		t := time.NewTicker(max(s.leaseTTL/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-s.closing:
				return
			case <-t.C:
			}
			if extend() {
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-stopped
			free()
		})
	}
}

// waitFor registers a waiter for the lease of the key whose string form is
// key; the channel receives when a release of it is announced.
func (s *Store[K, V]) waitFor(key string) chan struct{} {
	ch := make(chan struct{}, 1)
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if s.waiters == nil {
		s.waiters = map[string]map[chan struct{}]struct{}{}
	}
	if s.waiters[key] == nil {
		s.waiters[key] = map[chan struct{}]struct{}{}
	}
	s.waiters[key][ch] = struct{}{}
	return ch
}

func (s *Store[K, V]) stopWaiting(key string, ch chan struct{}) {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	delete(s.waiters[key], ch)
	if len(s.waiters[key]) == 0 {
		delete(s.waiters, key)
	}
}

// released wakes the waiters for the lease of key (its string form).
func (s *Store[K, V]) released(key string) {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	for ch := range s.waiters[key] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
