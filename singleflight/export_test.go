package singleflight

import "runtime"

// InFlight reports how many keys have a call in flight.
func InFlight[K comparable, V any](g *Group[K, V]) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}

// Joiners reports how many callers joined the call in flight for key.
func Joiners[K comparable, V any](g *Group[K, V], key K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.joiners
	}
	return -1
}

func GOMAXPROCS() int { return runtime.GOMAXPROCS(0) }
