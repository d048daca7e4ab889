package flightcache

import (
	"fmt"

	"github.com/flightcache/flightcache/stats"
)

// This file is a fill's write to the Store, in per-key order (rules 8, 9).

// write stores the entries of the keys at idx whose write is set, leaving
// out each key that a Set or Invalidate reached since the fill began (rule
// 8), in one call when the Store is a BatchStore. A Store error is counted
// and logged, not returned: the callers still get the loaded values.
func (j *job[K, V]) write(idx []int, entries []Entry[V], write []bool) {
	var kws []*keyWrites
	for n, i := range idx {
		if write[n] {
			kws = append(kws, j.kws[i])
		}
	}
	if len(kws) == 0 {
		return
	}
	if len(kws) == 1 {
		if kws[0].lock(j.ctx) != nil {
			return // the deadline passed; the key has its timeout
		}
		defer kws[0].unlock()
	} else {
		unlock, err := lockAll(j.ctx, kws)
		if err != nil {
			return // the deadline passed; the keys have their timeout
		}
		defer unlock()
	}
	if j.expired.Load() {
		return // the result is dropped: a newer fill may have begun
	}

	if !j.f.view.writesMany() || len(kws) == 1 {
		for n, i := range idx {
			if write[n] && j.kws[i].current(j.gens[i]) {
				j.storeWrite(idx[n:n+1], func() error { return j.f.view.set(j.ctx, j.keys[i], entries[n], j.version(i)) })
			}
		}
		return
	}
	many := make(map[K]Entry[V], len(kws))
	var versions map[K]Version
	if j.f.view.fenced() {
		versions = make(map[K]Version, len(kws))
	}
	for n, i := range idx {
		if write[n] && j.kws[i].current(j.gens[i]) {
			many[j.keys[i]] = entries[n]
			if versions != nil {
				versions[j.keys[i]] = j.versions[i]
			}
		}
	}
	if len(many) > 0 {
		j.storeWrite(idx, func() error { return j.f.view.setMany(j.ctx, many, versions) })
	}
}

// version is key i's Version when the fill last looked, over a Fencer: its
// write is conditional on it (rule 9).
func (j *job[K, V]) version(i int) Version {
	if j.versions == nil {
		return 0
	}
	return j.versions[i]
}

// storeWrite runs a write to the Store of the keys at idx. A write that
// fails, or panics, is a lost write, counted and logged: the callers still
// get the loaded values.
func (j *job[K, V]) storeWrite(idx []int, set func() error) {
	if err := j.guardWrite(idx, set); err != nil {
		j.f.rep.storeFailed(j.ctx, false, "set", j.keysNamed(idx), err)
	}
}

// guardWrite runs set, and turns a panic in it into an error.
func (j *job[K, V]) guardWrite(idx []int, set func() error) (err error) {
	defer j.recoverWrite(idx, &err)
	return set()
}

// recoverWrite is guardWrite's deferred call: it recovers a panic of the
// write of the keys at idx into *err, and keeps it for onEnd.
func (j *job[K, V]) recoverWrite(idx []int, err *error) {
	p := recover()
	if p == nil {
		return
	}
	e := fmt.Errorf("flightcache: store write of %v: %w", j.keysNamed(idx), newPanicError(p))
	*err = e
	j.writePanic.Store(&e)
	j.f.rep.contain("Recorder", func() { j.f.rep.record(stats.Panic) })
}
