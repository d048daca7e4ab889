package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// idleCheck is how long a quiet subscription waits before it pings Redis.
const idleCheck = 2 * time.Second

// channel is where a Store's instances publish the keys they changed.
// Keys never contain "{}" (see keys.go), so it names no key.
func (s *Store[K, V]) channel() string { return s.escPrefix + "{}invalidate" }

// maxPending is how many keys whose notification failed a Store keeps to
// send again; past it, it sends one message that resets every other
// instance's local tier instead.
var maxPending = 10_000

// Messages on the channel are "<instance id> k <key>" (drop key),
// "<instance id> r" (drop everything) or "<instance id> l <key>" (key's
// lease was released: its waiters may look again; see lease.go).

// Notify tells every other instance subscribed with the same prefix that key
// changed, so that they drop it from their local tier. The instance that
// notifies ignores its own message. It implements tiered.Notifier.
//
// A notification that fails is not lost: the Store keeps the key and sends
// it again with its next notification that gets through, or when its
// subscription (see Subscribe) finds Redis back, and logs that it did; if
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
}

// PendingNotifications reports how many keys wait to be notified again,
// and whether a reset of every other instance's local tier waits instead.
func (s *Store[K, V]) PendingNotifications() (keys int, reset bool) {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	return len(s.pending), s.pendingReset
}

// flushPending sends the notifications that failed before.
func (s *Store[K, V]) flushPending(ctx context.Context) {
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
		s.logger.Info("redisstore: sent notifications that had failed", slog.Int("sent", sent))
	}
}

// Evicter is the local tier that Subscribe keeps in step with the fleet:
// *tiered.Store is one.
type Evicter[K comparable] interface {
	// EvictLocal drops key from the local tier.
	EvictLocal(ctx context.Context, key K) error
	// ResetLocal drops every key from the local tier.
	ResetLocal(ctx context.Context) error
}

// Subscription is a running subscription to the keys other instances
// change. Close it to stop it.
type Subscription struct {
	cancel context.CancelFunc
	done   chan struct{}
	ready  chan struct{} // closed once Redis confirmed the first SUBSCRIBE
	once   sync.Once

	mu     sync.Mutex
	ps     *redis.PubSub // nil until the goroutine has subscribed
	closed bool
}

// Close stops the subscription and waits for its goroutine to end. It
// returns promptly: it closes the subscription's connection, which ends a
// read in progress, rather than wait for the read's timeout; only a
// subscription still connecting to a Redis that does not answer is waited
// for, up to the client's own dial and read timeouts. It is safe to call
// more than once.
func (sub *Subscription) Close() error {
	sub.once.Do(func() {
		sub.cancel()
		sub.mu.Lock()
		sub.closed = true
		if sub.ps != nil {
			sub.ps.Close()
		}
		sub.mu.Unlock()
	})
	<-sub.done
	return nil
}

// start records ps as the subscription's connection, or closes it and
// reports false when Close came first.
func (sub *Subscription) start(ps *redis.PubSub) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		ps.Close()
		return false
	}
	sub.ps = ps
	return true
}

// Subscribe starts a goroutine that evicts from local every key that another
// instance notifies, until the Subscription is closed.
//
// When the subscription drops (Redis restarted, the network cut), the
// instance cannot know which notifications it missed: once it is subscribed
// again, it resets local, so that nothing older than the shared tier is
// served, and logs that it did. The first subscription does not reset.
//
// Subscribe returns once Redis has confirmed the subscription, so that
// every notification sent after it returns reaches local, or after
// Options.Timeout when Redis does not answer, leaving the goroutine to
// subscribe when it can.
//
// Subscribe returns an error when the key type needs Options.ParseKey and
// there is none.
func (s *Store[K, V]) Subscribe(local Evicter[K]) (*Subscription, error) {
	if s.parseKey == nil {
		return nil, errors.New("redisstore: Subscribe needs Options.ParseKey for this key type")
	}
	if local == nil {
		return nil, errors.New("redisstore: Subscribe needs a local tier")
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub := &Subscription{cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
	go func() {
		defer close(sub.done)
		// SUBSCRIBE goes out here, not on the caller, so that a hung Redis
		// cannot hold it. A failed SUBSCRIBE is remembered by go-redis and
		// sent again when the connection comes back; listen sees the
		// failure as a drop.
		ps := s.client.Subscribe(ctx, s.channel())
		if !sub.start(ps) {
			return
		}
		defer ps.Close()
		s.listen(ctx, ps, local, sub.ready)
	}()
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	select {
	case <-sub.ready:
	case <-t.C:
		s.logf("redisstore: Redis has not confirmed the invalidation subscription yet; it goes on trying",
			slog.String("channel", s.channel()))
	}
	return sub, nil
}

func (s *Store[K, V]) listen(ctx context.Context, ps *redis.PubSub, local Evicter[K], ready chan struct{}) {
	subscribed, dropped := false, false
	backoff := 50 * time.Millisecond
	for {
		msg, err := ps.ReceiveTimeout(ctx, idleCheck)
		if ctx.Err() != nil {
			return
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// Nothing for a while: make sure the connection is alive, since
			// a cut without a reset would otherwise go unnoticed.
			if err = ps.Ping(ctx); err == nil {
				s.flushPending(ctx)
				continue
			}
		}
		if err != nil {
			// go-redis reconnects and subscribes again on the next
			// Receive; wait a little so that a dead Redis is not spun on.
			if subscribed && !dropped {
				s.logger.Warn("redisstore: invalidation subscription dropped; the local tier will be cleared once it is back",
					slog.String("channel", s.channel()), slog.Any("err", err))
			}
			dropped = true
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if subscribed && dropped {
				err := local.ResetLocal(ctx)
				s.logger.Warn("redisstore: invalidation subscription restored; cleared the local tier, since notifications may have been missed",
					slog.String("channel", s.channel()), slog.Any("err", err))
			}
			if !subscribed {
				close(ready)
			}
			subscribed, dropped = true, false
			s.flushPending(ctx)
		case *redis.Message:
			from, rest, ok := strings.Cut(m.Payload, " ")
			if !ok {
				continue
			}
			if key, ok := strings.CutPrefix(rest, "l "); ok {
				s.released(key) // this instance's waiters too
				continue
			}
			if from == s.id {
				continue
			}
			if rest == "r" {
				err := local.ResetLocal(ctx)
				s.logger.Warn("redisstore: another instance lost notifications; cleared the local tier",
					slog.String("from", from), slog.Any("err", err))
				continue
			}
			key, ok := strings.CutPrefix(rest, "k ")
			if !ok {
				s.logf("redisstore: bad invalidation message", slog.String("payload", m.Payload))
				continue
			}
			k, err := s.parseKey(key)
			if err != nil {
				s.logf("redisstore: bad invalidation message", slog.String("payload", m.Payload), slog.Any("err", err))
				continue
			}
			local.EvictLocal(ctx, k)
		}
	}
}
