package tiered

import (
	"sync"
	"sync/atomic"

	"github.com/flightcache/flightcache/internal/keys"
)

// gens holds a generation for each key with a shared read in flight, and an
// epoch for the whole local tier. Its lock also orders the local tier's
// writes against the copies that reads make.
type gens[K comparable] struct {
	mu    sync.Mutex
	epoch uint64
	// suspended: the local tier is neither read nor copied into (see
	// SuspendLocal). Written under mu, with the epoch advanced.
	suspended atomic.Bool
	m         map[K]*slot
	kind      keys.Kind // what K can hold; see tracked
}

type slot struct {
	readers int
	gen     uint64
}

// token is what a read began with. An untracked read never copies.
type token struct {
	epoch, gen uint64
	untracked  bool
}

// tracked reports whether key can go in the map: a key Go cannot hash would
// panic there, under the lock, and one that does not equal itself (a NaN)
// could never be found again. Such keys are never tracked; the tiers answer
// them as they do (lrustore with an error), and nothing is copied.
func (g *gens[K]) tracked(key K) bool {
	return g.kind == keys.Plain || (keys.Hashable("tiered", key) == nil && key == key)
}

// hashable returns an error wrapping singleflight.ErrUnhashableKey when one
// of ks is a key Go cannot hash, which would panic in the maps a batch
// builds.
func (g *gens[K]) hashable(ks []K) error {
	if g.kind != keys.Iface {
		return nil
	}
	for _, k := range ks {
		if err := keys.Hashable("tiered", k); err != nil {
			return err
		}
	}
	return nil
}

// begin registers a shared read of key.
func (g *gens[K]) begin(key K) token {
	if !g.tracked(key) || g.suspended.Load() {
		return token{untracked: true}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	sl := g.m[key]
	if sl == nil {
		sl = &slot{}
		g.m[key] = sl
	}
	sl.readers++
	return token{epoch: g.epoch, gen: sl.gen}
}

// end ends a shared read of key begun with tok, calling copyLocal first,
// under the lock, when nothing changed key since the read began.
func (g *gens[K]) end(key K, tok token, copyLocal func()) {
	if tok.untracked {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	sl := g.m[key]
	if copyLocal != nil && tok.epoch == g.epoch && tok.gen == sl.gen {
		copyLocal()
	}
	if sl.readers--; sl.readers == 0 {
		delete(g.m, key)
	}
}

// write runs writeLocal, the local tier's side of a change to key, and
// advances key's generation, in one step.
func (g *gens[K]) write(key K, writeLocal func() error) error {
	tracked := g.tracked(key)
	g.mu.Lock()
	defer g.mu.Unlock()
	if tracked {
		if sl := g.m[key]; sl != nil {
			sl.gen++
		}
	}
	return writeLocal()
}

// reset runs resetLocal and advances the epoch, in one step.
func (g *gens[K]) reset(resetLocal func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.epoch++
	return resetLocal()
}
