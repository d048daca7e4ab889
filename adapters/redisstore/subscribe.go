package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The subscription's liveness (DESIGN, Stores; issue 23, input 1).
//
// A local tier may serve a copy only while the instance can prove it would
// have heard that another instance changed the key. A subscription's
// connection can lose its server side with no FIN or RST reaching the
// client (a NAT or a proxy that drops the flow): reads then wait, writes
// still succeed, and the instance served its old copies for as long as the
// kernel kept the connection, about 15 minutes (gomodule/redigo#295,
// celery/kombu#2590). A PING that was written proves nothing: go-redis's
// own health check, and this package's before, counted it as life.
//
// So the subscription proves its channel alive by an answer: after
// Options.Heartbeat without a message it sends a PING, and a PONG (or any
// message) must come back within Options.Timeout. When none does, or the
// connection fails, that is a gap: it is counted (Subscription.Gaps) and
// logged, the local tier is told (a Suspender stops serving and drops every
// copy; another Evicter is reset), the connection is closed and a new one
// subscribes. Once Redis confirms the new subscription the local tier is
// reset again (copies taken during the gap may have missed their
// notifications) and serves again. A local copy is so served at most
// Heartbeat + Timeout after the channel last proved alive.

// DefaultHeartbeat is the Options.Heartbeat that 0 stands for.
const DefaultHeartbeat = time.Second

// errNoPong is the gap of a PING that went unanswered.
var errNoPong = errors.New("redisstore: the invalidation channel did not answer a PING within Options.Timeout")

// Evicter is the local tier that Subscribe keeps in step with the fleet:
// *tiered.Store is one.
type Evicter[K comparable] interface {
	// EvictLocal drops key from the local tier.
	EvictLocal(ctx context.Context, key K) error
	// ResetLocal drops every key from the local tier.
	ResetLocal(ctx context.Context) error
}

// Suspender is an Evicter that can stop serving its local tier while the
// subscription cannot prove that it would hear of changes: *tiered.Store is
// one. Subscribe calls SuspendLocal before its first subscription is
// confirmed and at every gap, and ResumeLocal once subscribed again. Both
// must be safe for concurrent use with the tier's reads and writes.
type Suspender interface {
	// SuspendLocal drops every key from the local tier and makes it serve
	// none and copy none into it until ResumeLocal.
	SuspendLocal(ctx context.Context) error
	// ResumeLocal drops every key from the local tier again, then lets it
	// serve and copy again.
	ResumeLocal(ctx context.Context) error
}

// Subscription is a running subscription to the keys other instances
// change. Close it to stop it. Its methods are safe for concurrent use.
type Subscription struct {
	cancel    context.CancelFunc
	done      chan struct{}
	ready     chan struct{} // closed once Redis confirmed the first SUBSCRIBE
	readyOnce sync.Once
	once      sync.Once

	gaps atomic.Uint64
	live atomic.Bool

	mu     sync.Mutex
	ps     *redis.PubSub // the current connection; nil until the first
	closed bool
}

// Gaps reports how many times the subscription lost its proof of life (a
// PING unanswered within Options.Timeout, or a failed connection) after it
// had been confirmed.
func (sub *Subscription) Gaps() uint64 { return sub.gaps.Load() }

// Live reports whether the subscription is confirmed and has not found a
// gap since.
func (sub *Subscription) Live() bool { return sub.live.Load() }

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
// It keeps proving the subscription alive (see Options.Heartbeat). When it
// cannot (Redis restarted, the network cut, a connection left half-open),
// the instance cannot know which notifications it missed: local stops
// serving (a Suspender) or is reset, and once subscribed again it is reset,
// so that nothing older than the shared tier is served; each gap is counted
// and logged. A local tier that is a Suspender is also suspended until the
// first subscription is confirmed; another is not reset then.
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
	if sp, ok := local.(Suspender); ok {
		sp.SuspendLocal(ctx)
	}
	go func() {
		defer close(sub.done)
		s.listen(ctx, sub, evicter[K, V]{s, local})
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

// listener is what a subscription serves: a local tier (Subscribe, through
// evicter) or the watchers of invalidations (WatchInvalidations, through
// watchListener).
type listener interface {
	// dropped is told of a gap in a subscription Redis had confirmed
	// (the gaps'th); err is what ended it.
	dropped(ctx context.Context, gaps uint64, err error)
	// confirmed is told that Redis confirmed a subscription; again is true
	// after a gap.
	confirmed(ctx context.Context, again bool)
	// message acts on one message of the channel.
	message(ctx context.Context, payload string)
}

// listen subscribes, receives until a gap, and subscribes again, until ctx
// ends.
func (s *Store[K, V]) listen(ctx context.Context, sub *Subscription, l listener) {
	backoff := 50 * time.Millisecond
	for {
		// SUBSCRIBE goes out here, not on the caller, so that a hung Redis
		// cannot hold it.
		ps := s.client.Subscribe(ctx, s.channel())
		if !sub.start(ps) {
			return
		}
		subscribed, err := s.receive(ctx, ps, sub, l)
		ps.Close()
		if ctx.Err() != nil {
			return
		}
		if subscribed {
			backoff = 50 * time.Millisecond
			sub.live.Store(false)
			l.dropped(ctx, sub.gaps.Add(1), err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// receive reads ps until it fails or leaves a PING unanswered for
// Options.Timeout, and reports whether Redis confirmed the subscription.
func (s *Store[K, V]) receive(ctx context.Context, ps *redis.PubSub, sub *Subscription, l listener) (subscribed bool, err error) {
	var pinged time.Time // when the PING still unanswered was sent
	for {
		wait := s.heartbeat
		if !pinged.IsZero() {
			if wait = time.Until(pinged.Add(s.timeout)); wait <= 0 {
				return subscribed, errNoPong
			}
		}
		msg, err := ps.ReceiveTimeout(ctx, wait)
		if ctx.Err() != nil {
			return subscribed, ctx.Err()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if !pinged.IsZero() {
				return subscribed, errNoPong
			}
			if err := ps.Ping(ctx); err != nil {
				return subscribed, err
			}
			pinged = time.Now()
			continue
		}
		if err != nil {
			return subscribed, err
		}
		pinged = time.Time{} // anything Redis sends proves the channel alive
		switch m := msg.(type) {
		case *redis.Pong:
			s.flushPending(ctx)
		case *redis.Subscription:
			if m.Kind == "subscribe" && !subscribed {
				subscribed = true
				l.confirmed(ctx, sub.gaps.Load() > 0)
				sub.live.Store(true)
				sub.readyOnce.Do(func() { close(sub.ready) })
				s.flushPending(ctx)
			}
		case *redis.Message:
			l.message(ctx, m.Payload)
		}
	}
}

// evicter is the listener of Subscribe: it keeps a local tier in step
// with the fleet.
type evicter[K comparable, V any] struct {
	s     *Store[K, V]
	local Evicter[K]
}

// dropped stops the local tier from serving (a Suspender) or resets it.
func (e evicter[K, V]) dropped(ctx context.Context, gaps uint64, err error) {
	if sp, ok := e.local.(Suspender); ok {
		err = errors.Join(err, sp.SuspendLocal(ctx))
	} else {
		err = errors.Join(err, e.local.ResetLocal(ctx))
	}
	e.s.logger.Warn("redisstore: invalidation subscription dropped; the local tier serves nothing until it is back, and is cleared then",
		slog.String("channel", e.s.channel()), slog.Uint64("gaps", gaps), slog.Any("err", err))
}

// confirmed resumes the local tier once Redis confirmed a subscription:
// after a gap, it resets it first.
func (e evicter[K, V]) confirmed(ctx context.Context, again bool) {
	var err error
	if sp, ok := e.local.(Suspender); ok {
		err = sp.ResumeLocal(ctx)
	} else if again {
		err = e.local.ResetLocal(ctx)
	}
	if again {
		e.s.logger.Warn("redisstore: invalidation subscription restored; cleared the local tier, since notifications may have been missed",
			slog.String("channel", e.s.channel()), slog.Any("err", err))
	}
}

// message acts on one message of the channel for the local tier.
func (e evicter[K, V]) message(ctx context.Context, payload string) {
	s := e.s
	from, rest, ok := strings.Cut(payload, " ")
	if !ok {
		return
	}
	if key, ok := strings.CutPrefix(rest, "l "); ok {
		s.released(key) // this instance's waiters too
		return
	}
	if from == s.id || isInvalidationMessage(rest) {
		return // tags and Clear are the watchers' (see watch.go)
	}
	if rest == "r" {
		err := e.local.ResetLocal(ctx)
		s.logger.Warn("redisstore: another instance lost notifications; cleared the local tier",
			slog.String("from", from), slog.Any("err", err))
		return
	}
	key, ok := strings.CutPrefix(rest, "k ")
	if !ok {
		s.logf("redisstore: bad invalidation message", slog.String("payload", payload))
		return
	}
	k, err := s.parseKey(key)
	if err != nil {
		s.logf("redisstore: bad invalidation message", slog.String("payload", payload), slog.Any("err", err))
		return
	}
	e.local.EvictLocal(ctx, k)
}
