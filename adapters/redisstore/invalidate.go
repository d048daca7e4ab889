package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// channel is where a Store's instances publish the keys they changed.
// Keys never contain "{}" (see keys.go), so it names no key.
func (s *Store[K, V]) channel() string { return s.escPrefix + "{}invalidate" }

// notifyRetry is how long after a notification failed it is first sent
// again in the background.
var notifyRetry = 50 * time.Millisecond

// maxPending is how many keys whose notification failed a Store keeps to
// send again; past it, it sends one message that resets every other
// instance's local tier instead.
var maxPending = 10_000

// Messages on the channel are "<instance id> k <key>" (drop key),
// "<instance id> r" (drop everything), "<instance id> l <key>" (key's
// lease was released: its waiters may look again; see lease.go), and the
// invalidations of tags and Clears: "<instance id> t <at> <tag>",
// "<instance id> c <at>", "<instance id> f <at>" (a Tagged invalidation)
// and "<instance id> s" (replay the log; see invallog.go).

// Notify tells every other instance subscribed with the same prefix that key
// changed, so that they drop it from their local tier. The instance that
// notifies ignores its own message. It implements tiered.Notifier.
//
// A notification that fails is not lost: the Store keeps the key and sends
// it again in the background (after 50 ms, then backing off to once a
// second), with its next notification that gets through, or when its
// subscription (see Subscribe) finds Redis back, and logs that it did (at
// most once a second); if
// more than 10,000 keys are waiting, it sends one message that resets
// every other instance's local tier instead. Until then, other instances
// may serve their copies of those keys (up to their FreshUntil). Notify
// still returns the error.
func (s *Store[K, V]) Notify(ctx context.Context, key K) error {
	k := s.key(key)
	if err := s.publish(ctx, s.id+" k "+k); err != nil {
		s.queue(k)
		return fmt.Errorf("redisstore: notify %q (queued to send again): %w", k, err)
	}
	s.flushPending(ctx)
	return nil
}

// publish sends one message. A Ring's PUBLISH goes to a random shard
// (go-redis counts it as keyless) while its SUBSCRIBE goes to the channel's
// shard, so on a Ring it goes to every shard.
func (s *Store[K, V]) publish(ctx context.Context, msg string) error {
	_, err := run(s, ctx, func(ctx context.Context) (struct{}, error) {
		if ring, ok := s.client.(*redis.Ring); ok {
			return struct{}{}, ring.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
				return c.Publish(ctx, s.channel(), msg).Err()
			})
		}
		return struct{}{}, s.client.Publish(ctx, s.channel(), msg).Err()
	})
	return err
}

// queue keeps key to notify again.
func (s *Store[K, V]) queue(key string) {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	if s.pendingReset {
		return
	}
	if s.pending == nil {
		s.pending = map[string]struct{}{}
	}
	s.pending[key] = struct{}{}
	if len(s.pending) > maxPending {
		s.pending, s.pendingReset = nil, true
	}
	s.logf("redisstore: a notification failed; it will be sent again once Redis answers",
		slog.String("key", key), slog.Int("waiting", len(s.pending)), slog.Bool("reset", s.pendingReset))
	s.kickLocked()
}

// kickLocked starts the goroutine that sends the pending notifications
// again, unless it runs. The caller holds pendingMu.
func (s *Store[K, V]) kickLocked() {
	if s.retrying || !s.track() {
		return
	}
	s.retrying = true
	go func() {
		defer s.calls.Done()
		s.retryPending()
	}()
}

// retryPending sends the pending notifications again, 50 ms after they
// failed, then twice as long each time up to a second, until none is left
// or the Store closes: a notification that failed does not wait for this
// instance's next one, nor for its subscription to be quiet (issue 23,
// input 5).
func (s *Store[K, V]) retryPending() {
	wait := s.notifyRetry
	for {
		t := time.NewTimer(wait)
		select {
		case <-s.closing:
			t.Stop()
			s.pendingMu.Lock()
			s.retrying = false
			s.pendingMu.Unlock()
			return
		case <-t.C:
		}
		s.flushPending(context.Background())
		s.pendingMu.Lock()
		if len(s.pending) == 0 && !s.pendingReset && len(s.pendingInv) == 0 && !s.pendingReplay {
			s.retrying = false
			s.pendingMu.Unlock()
			return
		}
		s.pendingMu.Unlock()
		wait = min(2*wait, time.Second)
	}
}

// PendingNotifications reports how many keys wait to be notified again,
// and whether a reset of every other instance's local tier waits instead.
func (s *Store[K, V]) PendingNotifications() (keys int, reset bool) {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	return len(s.pending), s.pendingReset
}

// PendingInvalidations reports how many invalidations of tags and Clears
// (see LogInvalidation) wait to be told to the other instances again, and
// whether a request that every instance replay the log waits instead. It
// is safe for concurrent use.
func (s *Store[K, V]) PendingInvalidations() (n int, replay bool) {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	return len(s.pendingInv), s.pendingReplay
}

// flushPending sends the invalidations (see invallog.go) and the
// notifications that failed before.
func (s *Store[K, V]) flushPending(ctx context.Context) {
	if !s.flushInvalidations(ctx) {
		return // Redis is down again: the keys wait too
	}
	s.pendingMu.Lock()
	keys, reset := s.pending, s.pendingReset
	s.pending, s.pendingReset = nil, false
	s.pendingMu.Unlock()
	if len(keys) == 0 && !reset {
		return
	}
	if reset {
		if err := s.publish(ctx, s.id+" r"); err != nil {
			s.pendingMu.Lock()
			s.pending, s.pendingReset = nil, true
			s.kickLocked()
			s.pendingMu.Unlock()
			return
		}
		s.logger.Warn("redisstore: too many notifications had failed; told every other instance to reset its local tier",
			slog.String("channel", s.channel()))
		return
	}
	sent, failed := 0, false
	for k := range keys {
		// After one failure, keep the rest without trying: Redis is down
		// again, and each try would cost a Timeout.
		if !failed {
			if err := s.publish(ctx, s.id+" k "+k); err == nil {
				sent++
				continue
			}
			failed = true
		}
		s.queue(k)
	}
	if sent > 0 {
		s.sentLog.log(s.logger, slog.LevelInfo, "redisstore: sent notifications that had failed", slog.Int("sent", sent))
	}
}
