package flightcache

import (
	"fmt"
)

// This file is the load hooks: what a load learns of, and says about, the
// keys it loads through its context, for SetPolicy and Previous. A job is
// the context its loads get; it owns the hooks' state under its hooks lock.

// Value returns the job itself for fillKey, so that SetPolicy and Previous
// find it, and otherwise the value of the caller that started the fill.
func (j *job[K, V]) Value(key any) any {
	if key == (fillKey{}) {
		return j
	}
	return j.values.Value(key)
}

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

func (j *job[K, V]) setPolicy(key K, p EntryPolicy) error {
	j.hooks.Lock()
	defer j.hooks.Unlock()
	i, err := j.indexOf(key)
	if err != nil {
		return err
	}
	if j.policies == nil {
		j.policies = make([]EntryPolicy, len(j.keys))
		j.set = make([]bool, len(j.keys))
	}
	j.policies[i], j.set[i] = p, true
	return nil
}

func (j *job[K, V]) previous(key K) (Entry[V], bool) {
	j.hooks.Lock()
	defer j.hooks.Unlock()
	i, err := j.indexOf(key)
	if err != nil || j.prev == nil {
		return Entry[V]{}, false
	}
	return j.prev[i].e, j.prev[i].ok
}

// remember keeps what the Store held for key i, for Previous.
func (j *job[K, V]) remember(i int, l *lookup[V]) {
	if !l.ok {
		return
	}
	j.hooks.Lock()
	defer j.hooks.Unlock()
	if j.prev == nil {
		j.prev = make([]lookup[V], len(j.keys))
	}
	j.prev[i] = *l
}

// policyOf returns the policy of key i's entry: the one its load set, or
// the Options'.
func (j *job[K, V]) policyOf(i int) *EntryPolicy {
	j.hooks.Lock()
	defer j.hooks.Unlock()
	if j.set != nil && j.set[i] {
		p := j.policies[i]
		return &p
	}
	return &j.f.policy.def
}

// previousOf returns what the Store held for key i when the fill last
// looked.
func (j *job[K, V]) previousOf(i int) (Entry[V], bool) {
	j.hooks.Lock()
	defer j.hooks.Unlock()
	if j.prev == nil {
		return Entry[V]{}, false
	}
	return j.prev[i].e, j.prev[i].ok
}
