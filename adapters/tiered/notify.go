package tiered

import (
	"context"
	"sync"
)

// This file is the notification a write sends the other instances of a
// fleet, and the notifications that go on after their caller has left.

// notify tells the other instances that key changed. It runs once the
// write has landed (or failed: the other instances may hold a copy either
// way), so it does not depend on the caller's context, whose end would
// otherwise leave the notification queued while the others serve the
// replaced value (issue 23, input 5): the Notifier bounds it (redisstore by
// its Timeout). The caller waits for it only as long as its context allows
// (rule 13: a ctx bounds waiting for a remote store; a Redis that does not
// answer held a Set for its ctx and the Store's Timeout after it): past
// that, notify returns nil, since the write has taken effect, and the
// notification goes on in the background, which Close waits for.
func (s *store[K, V]) notify(ctx context.Context, key K) error {
	if s.notifier == nil {
		return nil
	}
	send := func() error { return s.notifier.Notify(context.WithoutCancel(ctx), key) }
	if ctx.Done() == nil {
		return send() // a ctx that cannot end never stops waiting: no goroutine
	}
	done := make(chan error, 1)
	if !s.notifying.goSend(func() { done <- send() }) {
		return send() // closed: no goroutine outlives Close
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return nil
	}
}

// notifying tracks the notifications that went on in the background after
// their caller's context ended (see notify), so that Close waits for them.
type notifying struct {
	mu     sync.Mutex
	closed bool
	n      int // goroutines sending, guarded by mu
	wg     sync.WaitGroup
}

// goSend runs send on a goroutine of its own, unless Close was called, and
// reports whether it did.
func (n *notifying) goSend(send func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.wg.Add(1)
	n.n++
	go func() {
		defer n.wg.Done()
		defer func() {
			n.mu.Lock()
			n.n--
			n.mu.Unlock()
		}()
		send()
	}()
	return true
}

// sending returns how many notifications are under way on goroutines of
// their own.
func (n *notifying) sending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.n
}

// close makes goSend refuse from now on, and waits for the notifications
// under way.
func (n *notifying) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.wg.Wait()
}
