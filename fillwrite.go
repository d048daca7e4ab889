package flightcache

import (
	"fmt"

	"github.com/flightcache/flightcache/stats"
)

// This file is a fill's write to the Store, in per-key order (rules 8, 9).

// write stores the entries of the keys at idx whose write is set, leaving
// out each key that a Set or Invalidate reached since the fill began (rule
// 8), in one call when the Store is a BatchStore. A key superseded already
// is left out before the fill asks for its write token, and one superseded
// while the fill waits for it is left out then (see keyWrites.lockAt): a
// fill a Set has superseded gives up its place at once. A Store error is
// counted and logged, not returned: the callers still get the loaded values.
func (j *job[K, V]) write(idx []int, entries []Entry[V], write []bool) {
	last, n := 0, 0
	for m, i := range idx {
		if write[m] && j.kws[i].current(j.gens[i]) {
			last, n = i, n+1
		}
	}
	switch {
	case n == 0:
		return
	case n == 1:
		// One key, the common case, takes no slices.
		held, err := j.kws[last].lockAt(j.ctx, j.gens[last])
		if err != nil || !held {
			return // the deadline passed (the key has its timeout), or a Set came
		}
		defer j.kws[last].unlock()
	default:
		kws, gens := make([]*keyWrites, 0, n), make([]uint64, 0, n)
		for m, i := range idx {
			if write[m] && j.kws[i].current(j.gens[i]) {
				kws, gens = append(kws, j.kws[i]), append(gens, j.gens[i])
			}
		}
		unlock, err := lockAll(j.ctx, kws, gens)
		if err != nil {
			return // the deadline passed; the keys have their timeout
		}
		defer unlock()
	}
	if j.expired.Load() {
		return // the result is dropped: a newer fill may have begun
	}
	j.writeHeld(idx, entries, write, n)
}

// writeHeld is write's Store call, for the n keys at idx whose tokens write
// holds: those whose write is set and that are still current.
func (j *job[K, V]) writeHeld(idx []int, entries []Entry[V], write []bool, n int) {
	if !j.f.view.writesMany() || n == 1 {
		for n, i := range idx {
			if write[n] && j.kws[i].current(j.gens[i]) {
				j.storeWrite(idx[n:n+1], func() error { return j.f.view.set(j.ctx, j.keys[i], entries[n], j.version(i)) })
			}
		}
		return
	}
	many := make(map[K]Entry[V], n)
	var versions map[K]Version
	if j.f.view.fenced() {
		versions = make(map[K]Version, n)
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
