package singleflight

import (
	"context"
	"runtime"
)

// InFlight reports how many keys have a call in flight.
func InFlight[K comparable, V any](g *Group[K, V]) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(g.calls)
	if g.one != nil {
		n++
	}
	return n
}

// Joiners reports how many callers joined the call in flight for key.
func Joiners[K comparable, V any](g *Group[K, V], key K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.lookup(key); ok {
		return c.joiners
	}
	return -1
}

// DetachedHidesCancelKey reports whether the context fn runs with, when its
// caller can leave, answers nil for the key by which the context package
// finds a canceller, whatever its parent answers.
func DetachedHidesCancelKey(parent context.Context) bool {
	if cancelKey == nil {
		return false
	}
	d := &detachedCtx{parent: parent}
	return parent.Value(cancelKey) != nil && d.Value(cancelKey) == nil
}

// KeyKind names what a Group of key type K checks each key for.
func KeyKind[K comparable]() string {
	var g Group[K, int]
	return [...]string{"", "plain", "float", "iface"}[g.keyKind()]
}

func GOMAXPROCS() int { return runtime.GOMAXPROCS(0) }

// TicketHasChannel reports whether t's call has a channel to block on
// made for it (its own, not the closed one shared by ended calls).
func TicketHasChannel[K comparable, V any](t Ticket[K, V]) bool {
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
	return t.c.finished != nil
}
