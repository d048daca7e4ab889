package redisstore

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache"
)

// Watching the fleet's invalidations (flightcache.InvalidationLog;
// issue 26).
//
// The first WatchInvalidations starts a session: a subscription to the
// invalidation channel of its own, with the liveness of Subscribe's (a
// PING answered; see subscribe.go), and a goroutine that replays the log
// (HGETALL of the hash; see invallog.go) to the watchers that need it.
// The last watcher's stop, or Close, ends it.
//
// A watcher is synced once a replay that began after it was registered,
// on a subscription Redis had confirmed, has been applied to it with no
// gap since: every invalidation recorded before the replay read the log
// is then applied, and every one recorded after it is published after the
// subscription was confirmed, so its message reaches the watcher. At a
// gap, every watcher is unsynced until the replay that follows the next
// confirmation. While any registered watcher is unsynced the Store serves
// no entry: Get and GetMany report misses without asking Redis, and
// GetVersioned and GetManyVersioned report the versions alone (so fills
// still write, fenced), since an invalidation the watcher has not heard
// of may cover any entry. Such misses are counted (ReplayMisses) and
// logged at most once a second.

// watching is a Store's watchers of invalidations and their session.
type watching struct {
	mu       sync.Mutex
	watchers map[*watcher]struct{}
	sess     *watchSession // nil without watchers, and after Close

	// unsynced is set while a registered watcher is not synced: reads
	// are misses.
	unsynced atomic.Bool
	misses   atomic.Uint64
	missLog  limiter
}

// watcher is one WatchInvalidations.
type watcher struct {
	synced bool          // guarded by watching.mu
	first  chan struct{} // closed at its first sync
	told   bool          // first is closed

	callMu  sync.Mutex // held while apply runs, so that stop can wait for it
	apply   func(flightcache.Invalidation)
	stopped bool
}

// call applies inv unless the watcher was stopped.
func (w *watcher) call(inv flightcache.Invalidation) {
	w.callMu.Lock()
	defer w.callMu.Unlock()
	if !w.stopped {
		w.apply(inv)
	}
}

// stop makes call do nothing from now on, once a call in progress ended.
func (w *watcher) stop() {
	w.callMu.Lock()
	w.stopped = true
	w.callMu.Unlock()
}

// watchSession is the subscription and the replaying goroutine of a
// Store's watchers.
type watchSession struct {
	sub  *Subscription
	kick chan struct{} // a replay may be needed
	done chan struct{} // the replaying goroutine ended

	// Guarded by watching.mu.
	live  bool   // Redis confirmed the subscription, and no gap since
	epoch uint64 // advanced at every confirmation and gap
}

// WatchInvalidations calls apply with every invalidation of a tag and
// every Clear recorded under the Store's prefix, by any instance, until
// stop is called: those recorded before (replayed from the log, see
// LogInvalidation) and each one that follows (from its message, or at once
// for this Store's own), again after any gap in the invalidation channel.
// The tags the log folded (see Options.MaxLogTags) are replayed as one
// flightcache.Invalidation with Tagged set, at the fold's instant. It
// implements flightcache.InvalidationLog; several Loaders may watch one
// Store.
//
// It returns once apply has been given the invalidations recorded so far,
// or after Options.Timeout when Redis does not answer, leaving a goroutine
// to replay them once it does. Until they have been replayed, and from
// every gap in the channel (a PING unanswered within Timeout, a lost
// connection; see Options.Heartbeat) until they have been again, the Store
// serves no entry (see Replaying): an invalidation apply has not been
// given may cover any of them.
//
// apply must be safe for concurrent use and return at once; it may be
// given an invalidation more than once, or out of order. stop is safe to
// call more than once; once it returns, apply is called no more. A nil
// apply, or a Store closed already, watches nothing. WatchInvalidations is
// safe for concurrent use.
func (s *Store[K, V]) WatchInvalidations(apply func(flightcache.Invalidation)) (stop func()) {
	if apply == nil {
		return func() {}
	}
	w := &watcher{apply: apply, first: make(chan struct{})}
	s.w.mu.Lock()
	if s.isClosed() {
		s.w.mu.Unlock()
		return func() {}
	}
	if s.w.watchers == nil {
		s.w.watchers = map[*watcher]struct{}{}
	}
	s.w.watchers[w] = struct{}{}
	s.w.unsynced.Store(true)
	sess := s.w.sess
	if sess == nil {
		sess = s.startSession()
		s.w.sess = sess
	}
	s.w.mu.Unlock()
	sess.wake()

	t := time.NewTimer(s.timeout)
	select {
	case <-w.first:
	case <-t.C:
		s.logf("redisstore: the invalidations recorded could not be replayed within Options.Timeout; the Store serves no entry until they are",
			slog.String("key", s.logKey()))
	}
	t.Stop()
	var once sync.Once
	return func() { once.Do(func() { s.unwatch(w) }) }
}

// Replaying reports whether a watcher of invalidations (WatchInvalidations)
// waits for the log to be replayed to it, after its registration or a gap
// in the invalidation channel: meanwhile the Store serves no entry. A
// tiered store over this one serves none from its local tier either. It is
// safe for concurrent use.
func (s *Store[K, V]) Replaying() bool { return s.w.unsynced.Load() }

// ReplayMisses reports how many reads found no entry because a watcher of
// invalidations waited for the log to be replayed (see Replaying). It is
// safe for concurrent use.
func (s *Store[K, V]) ReplayMisses() uint64 { return s.w.misses.Load() }

// blind reports whether reads must serve no entry now, and counts and logs
// one that does not.
func (s *Store[K, V]) blind() bool {
	if !s.w.unsynced.Load() {
		return false
	}
	s.w.misses.Add(1)
	s.w.missLog.log(s.logger, slog.LevelWarn, "redisstore: serving no entry until the invalidations recorded are replayed to this instance",
		slog.String("key", s.logKey()), slog.Uint64("misses", s.w.misses.Load()))
	return true
}

// startSession starts the watchers' subscription and replaying goroutine.
// The caller holds s.w.mu.
func (s *Store[K, V]) startSession() *watchSession {
	ctx, cancel := context.WithCancel(context.Background())
	sess := &watchSession{
		sub:  &Subscription{cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})},
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	go func() {
		defer close(sess.sub.done)
		s.listen(ctx, sess.sub, watchListener[K, V]{s, sess})
	}()
	go func() {
		defer close(sess.done)
		s.replayer(ctx, sess)
	}()
	return sess
}

// wake asks the replaying goroutine to look for watchers to replay to.
func (sess *watchSession) wake() {
	select {
	case sess.kick <- struct{}{}:
	default:
	}
}

// close ends the session and waits for its goroutines.
func (sess *watchSession) close() {
	sess.sub.Close() // cancels the replayer's context too
	<-sess.done
}

// unwatch removes w, and ends the session with the last watcher.
func (s *Store[K, V]) unwatch(w *watcher) {
	w.stop()
	s.w.mu.Lock()
	delete(s.w.watchers, w)
	s.w.recount()
	var sess *watchSession
	if len(s.w.watchers) == 0 {
		sess, s.w.sess = s.w.sess, nil
	}
	s.w.mu.Unlock()
	if sess != nil {
		sess.close()
	}
}

// stopWatching ends the session, for Close.
func (s *Store[K, V]) stopWatching() {
	s.w.mu.Lock()
	sess := s.w.sess
	s.w.sess = nil
	s.w.mu.Unlock()
	if sess != nil {
		sess.close()
	}
}

// recount sets unsynced from the watchers. The caller holds w.mu.
func (w *watching) recount() {
	for x := range w.watchers {
		if !x.synced {
			w.unsynced.Store(true)
			return
		}
	}
	w.unsynced.Store(false)
}

// dispatch applies inv to every watcher.
func (w *watching) dispatch(inv flightcache.Invalidation) {
	w.mu.Lock()
	ws := make([]*watcher, 0, len(w.watchers))
	for x := range w.watchers {
		ws = append(ws, x)
	}
	w.mu.Unlock()
	for _, x := range ws {
		x.call(inv)
	}
}

// replayAll unsyncs every watcher and has the log replayed to them.
func (w *watching) replayAll() {
	w.mu.Lock()
	w.unsyncLocked()
	sess := w.sess
	w.mu.Unlock()
	if sess != nil {
		sess.wake()
	}
}

// unsyncLocked marks every watcher unsynced. The caller holds w.mu.
func (w *watching) unsyncLocked() {
	for x := range w.watchers {
		x.synced = false
	}
	if len(w.watchers) > 0 {
		w.unsynced.Store(true)
	}
}

// replayer replays the log to the watchers that need it whenever woken,
// trying again, backing off, while it fails, until ctx ends.
func (s *Store[K, V]) replayer(ctx context.Context, sess *watchSession) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sess.kick:
		}
		backoff := 50 * time.Millisecond
		for !s.replay(ctx, sess) {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			case <-sess.kick:
				t.Stop()
			}
			backoff = min(2*backoff, time.Second)
		}
	}
}

// replay replays the log to the watchers not synced, and marks them synced
// unless a gap came meanwhile. It reports false when the log could not be
// read, to be tried again.
func (s *Store[K, V]) replay(ctx context.Context, sess *watchSession) bool {
	s.w.mu.Lock()
	if s.w.sess != sess || !sess.live {
		s.w.mu.Unlock()
		return true // the next confirmation wakes the replayer
	}
	var pending []*watcher
	for w := range s.w.watchers {
		if !w.synced {
			pending = append(pending, w)
		}
	}
	epoch := sess.epoch
	s.w.mu.Unlock()
	if len(pending) == 0 {
		return true
	}
	invs, err := s.readLog(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.logf("redisstore: could not replay the invalidations recorded; the Store serves no entry until it can",
				slog.String("key", s.logKey()), slog.Any("err", err))
		}
		return false
	}
	for _, w := range pending {
		for _, inv := range invs {
			w.call(inv)
		}
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.sess != sess || !sess.live || sess.epoch != epoch {
		return true // a gap: the confirmation that ends it wakes the replayer
	}
	for _, w := range pending {
		if _, ok := s.w.watchers[w]; ok {
			w.synced = true
		}
	}
	// Recounted before a WatchInvalidations waiting for its first sync is
	// let go: its caller's next read must find the Store serving.
	s.w.recount()
	for _, w := range pending {
		if w.synced && !w.told {
			w.told = true
			close(w.first)
		}
	}
	return true
}

// watchListener is the listener of the watchers' subscription.
type watchListener[K comparable, V any] struct {
	s    *Store[K, V]
	sess *watchSession
}

// dropped unsyncs every watcher: until the log is replayed again after the
// subscription is back, the Store serves no entry.
func (l watchListener[K, V]) dropped(_ context.Context, gaps uint64, err error) {
	w := &l.s.w
	w.mu.Lock()
	if w.sess == l.sess {
		l.sess.live = false
		l.sess.epoch++
		w.unsyncLocked()
	}
	w.mu.Unlock()
	l.s.logger.Warn("redisstore: invalidation subscription of the watchers dropped; the Store serves no entry until it is back and the invalidations recorded are replayed",
		slog.String("channel", l.s.channel()), slog.Uint64("gaps", gaps), slog.Any("err", err))
}

// confirmed wakes the replayer once Redis confirmed a subscription.
func (l watchListener[K, V]) confirmed(_ context.Context, again bool) {
	w := &l.s.w
	w.mu.Lock()
	if w.sess == l.sess {
		l.sess.live = true
		l.sess.epoch++
	}
	w.mu.Unlock()
	l.sess.wake()
	if again {
		l.s.logger.Warn("redisstore: invalidation subscription of the watchers restored; replaying the invalidations recorded",
			slog.String("channel", l.s.channel()))
	}
}

// message applies another instance's invalidation to every watcher, or
// replays the log to them all when asked to.
func (l watchListener[K, V]) message(_ context.Context, payload string) {
	from, rest, ok := strings.Cut(payload, " ")
	if !ok || !isInvalidationMessage(rest) {
		return // keys and leases are Subscribe's
	}
	inv, replay, ok := parseMessage(rest)
	switch {
	case !ok:
		l.s.logf("redisstore: bad invalidation message", slog.String("payload", payload))
	case replay:
		l.s.w.replayAll()
	case from != l.s.id: // this Store's own are applied as they are recorded
		l.s.w.dispatch(inv)
	}
}
