package flightcache

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// This file is the load hooks: what a load learns of, and says about, the
// keys it loads through its context, for SetPolicy and Previous. A fill's
// context reaches its job, under the context's hooks lock, while the fill
// runs; the job keeps the hooks' state. Each call of the source gets a
// scope: the fill's context itself when the call loads every key of the
// fill, and a call of its own when the fill is split into several calls, so
// that a call reaches only its own keys. A scope is sealed once its call has
// returned: what a load says after that changes nothing, and is told so.
// Once the fill is over, its context reaches nothing.

// errLoadReturned is the error of SetPolicy once the load has returned.
var errLoadReturned = errors.New("flightcache: the load of this key has returned")

// scope is what a call of the source gets as its context.
type scope interface {
	context.Context
	seal()
}

// scopeOf returns the scope of a call of the source for the keys at idx.
func (j *job[K, V]) scopeOf(idx []int) scope {
	if len(idx) == len(j.keys) {
		return j.ctx
	}
	return &callScope[K, V]{fillCtx: j.ctx, idx: idx}
}

// Value returns the context itself for fillKey, so that SetPolicy and
// Previous find it, and otherwise the value of the caller that started the
// fill.
func (c *fillCtx[K, V]) Value(key any) any {
	if key == (fillKey{}) {
		return c
	}
	return c.values.Value(key)
}

// seal marks that the fill's one call of the source has returned: SetPolicy
// refuses from then on.
func (c *fillCtx[K, V]) seal() { c.sealUnder(&c.sealed) }

// sealUnder sets the sealed mark *m under the hooks lock, which guards the
// marks of the fill and of each of its calls.
func (c *fillCtx[K, V]) sealUnder(m *bool) {
	c.hooks.Lock()
	*m = true
	c.hooks.Unlock()
}

// detach parts the context from its job once the fill is over.
func (c *fillCtx[K, V]) detach() {
	c.hooks.Lock()
	c.job = nil
	c.hooks.Unlock()
}

func (c *fillCtx[K, V]) setPolicy(key K, p EntryPolicy) error {
	return c.setPolicyIn(nil, &c.sealed, key, p)
}

func (c *fillCtx[K, V]) previous(key K) (Entry[V], bool) { return c.previousIn(nil, key) }

// setPolicyIn is SetPolicy of key through the scope of a call of the keys
// at idx (nil: every key of the fill) whose sealed mark is *sealed.
func (c *fillCtx[K, V]) setPolicyIn(idx []int, sealed *bool, key K, p EntryPolicy) error {
	c.hooks.Lock()
	defer c.hooks.Unlock()
	if c.job == nil {
		return fmt.Errorf("%w (key %v)", errLoadReturned, key)
	}
	i, err := c.indexIn(idx, key)
	if err != nil {
		return err
	}
	if *sealed {
		return fmt.Errorf("%w (key %v)", errLoadReturned, key)
	}
	c.job.setPolicyAt(i, p)
	return nil
}

// previousIn is Previous of key through the scope of a call of the keys at
// idx (nil: every key of the fill).
func (c *fillCtx[K, V]) previousIn(idx []int, key K) (Entry[V], bool) {
	c.hooks.Lock()
	defer c.hooks.Unlock()
	if c.job == nil {
		return Entry[V]{}, false
	}
	i, err := c.indexIn(idx, key)
	if err != nil {
		return Entry[V]{}, false
	}
	return c.job.previousAt(i)
}

// indexIn returns the index of key among the fill's keys, if it is one of
// those at idx (nil: any). Call with hooks held, while the fill runs.
func (c *fillCtx[K, V]) indexIn(idx []int, key K) (int, error) {
	i, err := c.job.indexOf(key)
	if err != nil {
		return 0, err
	}
	if idx == nil {
		return i, nil
	}
	if _, ok := slices.BinarySearch(idx, i); !ok {
		return 0, fmt.Errorf("flightcache: key %v is loaded by another call of the batch: %w", key, errNotInLoad)
	}
	return i, nil
}

// callScope is the scope of one call of the source in a fill split into
// several: the fill's context, with hooks that reach only the keys at idx
// (in increasing order). Its sealed mark is guarded by the context's hooks
// lock.
type callScope[K comparable, V any] struct {
	*fillCtx[K, V]
	idx    []int
	sealed bool
}

// Value returns the call itself for fillKey, and otherwise what the fill's
// context's Value returns.
func (c *callScope[K, V]) Value(key any) any {
	if key == (fillKey{}) {
		return c
	}
	return c.fillCtx.Value(key)
}

// seal marks that this call of the source has returned.
func (c *callScope[K, V]) seal() { c.sealUnder(&c.sealed) }

func (c *callScope[K, V]) setPolicy(key K, p EntryPolicy) error {
	return c.setPolicyIn(c.idx, &c.sealed, key, p)
}

func (c *callScope[K, V]) previous(key K) (Entry[V], bool) { return c.previousIn(c.idx, key) }

// indexOf returns the index of key among the fill's keys. Call with hooks
// held.
func (j *job[K, V]) indexOf(key K) (int, error) {
	if j.f.keysMayFail {
		if err := checkKey(key); err != nil {
			return 0, err
		}
	}
	if len(j.keys) <= 8 {
		for i, k := range j.keys {
			if k == key {
				return i, nil
			}
		}
		return 0, fmt.Errorf("flightcache: key %v: %w", key, errNotInLoad)
	}
	if j.index == nil {
		j.index = make(map[K]int, len(j.keys))
		for i, k := range j.keys {
			j.index[k] = i
		}
	}
	i, ok := j.index[key]
	if !ok {
		return 0, fmt.Errorf("flightcache: key %v: %w", key, errNotInLoad)
	}
	return i, nil
}

// setPolicyAt sets the policy of key i. Call with hooks held.
func (j *job[K, V]) setPolicyAt(i int, p EntryPolicy) {
	if j.policies == nil {
		j.policies = make([]EntryPolicy, len(j.keys))
		j.set = make([]bool, len(j.keys))
	}
	j.policies[i], j.set[i] = p, true
}

// previousAt returns what the Store held for key i when the fill last
// looked. Call with hooks held.
func (j *job[K, V]) previousAt(i int) (Entry[V], bool) {
	if j.prev == nil {
		return Entry[V]{}, false
	}
	return j.prev[i].e, j.prev[i].ok
}

// remember keeps what the Store held for key i, for Previous.
func (j *job[K, V]) remember(i int, l *lookup[V]) {
	if !l.ok {
		return
	}
	j.ctx.hooks.Lock()
	defer j.ctx.hooks.Unlock()
	if j.prev == nil {
		if len(j.keys) == 1 {
			j.prev = j.one.prev[:]
		} else {
			j.prev = make([]lookup[V], len(j.keys))
		}
	}
	j.prev[i] = *l
}

// policyOf returns the policy of key i's entry: the one its load set, or
// the Options'.
func (j *job[K, V]) policyOf(i int) *EntryPolicy {
	j.ctx.hooks.Lock()
	defer j.ctx.hooks.Unlock()
	if j.set != nil && j.set[i] {
		p := j.policies[i]
		return &p
	}
	return &j.f.policy.def
}

// previousOf returns what the Store held for key i when the fill last
// looked.
func (j *job[K, V]) previousOf(i int) (Entry[V], bool) {
	j.ctx.hooks.Lock()
	defer j.ctx.hooks.Unlock()
	return j.previousAt(i)
}
