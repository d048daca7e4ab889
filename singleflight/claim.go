package singleflight

import (
	"context"
)

// Ticket is one caller's part in a call that the caller runs itself: the
// caller that started the call ends it with Finish, and every caller of the
// call, the starter included, can Wait for its result. A Ticket is a small
// value; copies of it refer to the same call.
type Ticket[K comparable, V any] struct {
	g   *Group[K, V]
	key K
	c   *call[K, V]
}

// Claim makes the caller the one that runs the call for key, or, when a call
// for key is in flight already (started by Do, DoChan or Claim), makes it a
// joiner of that call. It reports which in started.
//
// Unlike Do, Claim runs nothing: a caller that started the call does the work
// wherever it likes (several keys in one batch, say) and must then end the
// call with Finish, on every path; until then every joiner waits. Claim
// starts no goroutine. A Claim that starts a call allocates only the call,
// and one that joins a call allocates nothing: the channel that waiters
// block on is made by the first of them that has to block (see
// [Ticket.Wait]), so a call whose result is out before anybody waits for it
// never has one.
//
// A key that Go cannot hash is an error wrapping ErrUnhashableKey, never a
// panic. A key that does not equal itself (a NaN) can never be joined: its
// call is started but kept out of the Group, and leaves nothing behind.
func (g *Group[K, V]) Claim(key K) (t Ticket[K, V], started bool, err error) {
	selfEqual, err := g.checkKey(key)
	if err != nil {
		return t, false, err
	}
	t = Ticket[K, V]{g: g, key: key}
	if !selfEqual {
		t.c = &call[K, V]{claimed: true}
		return t, true, nil
	}
	g.mu.Lock()
	c, joined := g.lookup(key)
	if joined {
		c.joiners++
		if c.task != nil {
			c.refs.Add(1) // never given back: the Ticket may read c at any time
		}
	} else {
		c = g.newCall(key, true, true)
	}
	g.mu.Unlock()
	t.c = c
	return t, !joined, nil
}

// ClaimUnshared starts a call for key that no other caller can join, and
// that leaves any call of key in flight as it is: it is kept out of the
// Group, as the call of a key that does not equal itself is. The caller
// ends it with Finish, as a call Claim started. It is for a caller whose
// result must reach nobody else (an answer for one user). A key that Go
// cannot hash is an error wrapping ErrUnhashableKey.
func (g *Group[K, V]) ClaimUnshared(key K) (Ticket[K, V], error) {
	if _, err := g.checkKey(key); err != nil {
		return Ticket[K, V]{}, err
	}
	return Ticket[K, V]{g: g, key: key, c: &call[K, V]{claimed: true}}, nil
}

// Finish ends the call with v and err, frees the key, and releases every
// waiter. Only the first Finish of a call counts; later ones do nothing and
// report false. Finish must be called by the caller that started the call
// (Claim reported started), on every path, panics included. Finish of a
// Ticket that joined a call Do or DoChan started does nothing and reports
// false: that call ends when its fn does. Finish allocates nothing.
func (t Ticket[K, V]) Finish(v V, err error) bool {
	if t.c == nil || !t.c.claimed || !t.c.state.CompareAndSwap(callRunning, callEnded) {
		return false
	}
	t.c.val, t.c.err = v, err
	t.g.finish(t.key, t.c) // leaves the Group alone for an unshared call
	return true
}

// Wait waits for the call's result for as long as ctx allows, and returns
// ctx.Err() when ctx ends first. shared reports whether the call had more
// than one caller. A call that Do started and that panicked gives Wait its
// *PanicError as the error.
//
// Wait of a call whose result is out already (as for the caller that ran
// the work on its own goroutine and called Finish) takes no lock and
// allocates nothing. Otherwise it blocks on a channel, which the first
// caller to block on the call allocates; a goroutine blocked in Wait is
// durably blocked in the sense of testing/synctest.
func (t Ticket[K, V]) Wait(ctx context.Context) (v V, err error, shared bool) {
	c := t.c
	if c.state.Load() != callReleased {
		select {
		case <-t.g.finishedChan(c):
		case <-ctx.Done():
			return v, ctx.Err(), false
		}
	}
	// joiners stopped changing when the call was released.
	return c.val, c.err, c.joiners > 0
}

// Ended reports whether the call has ended (its result may still be on
// its way to the waiters). It takes no lock and allocates nothing.
func (t Ticket[K, V]) Ended() bool { return t.c.state.Load() != callRunning }

// Joinable reports whether a Claim of the ticket's key made now would join
// the ticket's call: the call is still running, and no Forget or ForgetAll
// has taken it out of the Group since it started. An unshared call
// (ClaimUnshared, or a key that does not equal itself) is never joinable.
// It takes the Group's lock, and allocates nothing.
func (t Ticket[K, V]) Joinable() bool {
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
	return t.c.listed && t.c.state.Load() == callRunning
}

// Done returns a channel that is closed when the call's result is out, so
// that [Ticket.Wait] would not block: the call's own channel, allocated by
// the first caller that needs it, or, once the result is out, a channel
// closed already.
func (t Ticket[K, V]) Done() <-chan struct{} {
	if t.c.state.Load() == callReleased {
		return closedChan
	}
	return t.g.finishedChan(t.c)
}
