package flightcache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/flightcache/flightcache/stats"
)

// This file is a fill's calls of the source: in chunks of at most
// MaxBatch keys, each result built into an entry under its policy, then
// written and delivered.

// batchWorkers bounds the calls of a BatchLoadFunc that one fill runs at
// once when MaxBatch splits its keys, so that a fill of any number of keys
// costs a bounded number of goroutines.
const batchWorkers = 4

// load loads the keys at idx, in calls of at most MaxBatch keys for a batch
// source (at most batchWorkers at once), and stores and delivers the
// results.
func (j *job[K, V]) load(idx []int) {
	size := len(idx)
	if j.src.one != nil {
		size = 1
	} else if j.f.maxBatch > 0 {
		size = j.f.maxBatch
	}
	if size >= len(idx) {
		j.loadChunk(idx)
		return
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, batchWorkers)
	for chunk := range slices.Chunk(idx, size) {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			normal := false
			defer func() {
				if !normal {
					// A panic or Goexit on this goroutine; the
					// pipeline's own guard does not see it.
					j.recovered(recover(), chunk)
				}
			}()
			j.loadChunk(chunk)
			normal = true
		})
	}
	wg.Wait()
}

// outcome is what the source said of one key.
type outcome[V any] struct {
	v   V
	err error // nil: v was loaded; wrapping ErrNotFound: the key does not exist
}

// loadChunk makes one call of the source for the keys at idx, then writes
// and delivers the results.
func (j *job[K, V]) loadChunk(idx []int) {
	if j.ctx.Err() != nil {
		// The deadline passed while the fill read the Store or waited
		// for a lease: the source is never called with an ended context
		// (rule 3), and expire has answered the keys.
		return
	}
	sc := j.scopeOf(idx)
	// Stamped when the source is called: the value may be read at any
	// moment of the call, so its age is counted from the call's start, as
	// RFC 9111 (section 4.2.3) counts a response's age from its request;
	// windows counted from its return would serve a value past them by as
	// long as the call took, or the pipeline was held since. An
	// InvalidateTag or Clear made from now on covers the entry (see
	// invalTable.stamp): its LoadedAt, from which its windows run, is
	// stamped past the latest one, which an InvalidationLog may have moved
	// ahead of the clock (by the fleet's clock skew at most). Windows
	// that ran from the clock instead would lose that much at every
	// revalidation (rule 14), which measures them from LoadedAt.
	began, start := j.f.clock.exactNowMono()
	loadedAt := j.f.policy.inv.stamp(began)
	var outs []outcome[V]
	var err error
	if j.f.rep.tracer != nil {
		outs, err = j.callTraced(sc, idx)
	} else {
		outs, err = j.callCounted(sc, idx)
	}
	_, end := j.f.clock.exactNowMono()
	elapsed := end - start
	sc.seal() // what the load says from now on changes nothing
	if j.expired.Load() {
		return // the callers have the timeout; the result is dropped
	}
	switch {
	case err == nil:
	case isPanic(err):
		j.f.rep.contain("Recorder", func() { j.f.rep.record(stats.Panic) })
	case j.ctx.Err() == context.DeadlineExceeded:
		// A load that honours its context ends at the fill's deadline:
		// its callers learn it timed out, as those of a load that does not.
		err = fmt.Errorf("%w after %v (%s): %w", ErrLoadTimeout, j.f.timeout, j.describe(), err)
	}
	j.f.rep.contain("Recorder", func() { j.f.rep.recordLoad(elapsed, len(idx), err) })
	if err != nil {
		for _, i := range idx {
			j.finish(i, Entry[V]{}, err)
		}
		return
	}

	entries, write := j.one.entry[:], j.one.write[:]
	if len(j.keys) > 1 {
		entries, write = make([]Entry[V], len(idx)), make([]bool, len(idx))
	}
	var stored []Entry[V] // what is written, when it differs from entries (NoStore)
	for n, i := range idx {
		p := j.policyOf(i)
		entries[n], outs[n].err, write[n] = j.build(i, p, outs[n], loadedAt, elapsed)
		j.sharing(i, p, &outs[n].err)
		if p.NoStore || p.Private {
			if stored == nil {
				stored = slices.Clone(entries)
			}
			// The result is not kept, and what the Store held is
			// dropped: it would otherwise be served stale in its place.
			_, had := j.previousOf(i)
			stored[n], write[n] = goneEntry[V](), had
		} else if stored != nil {
			stored[n] = entries[n]
		}
	}
	if stored == nil {
		stored = entries
	}
	j.write(idx, stored, write)
	for n, i := range idx {
		j.finish(i, entries[n], outs[n].err)
	}
}

// sharing applies what a Private policy p says of key i's result, whose
// error for its callers is *err: the result goes to the caller that started
// the call only (errPrivate), and callers of the key load alone until a load
// returns a result that can be shared (hit-for-pass).
func (j *job[K, V]) sharing(i int, p *EntryPolicy, err *error) {
	switch {
	case p.Private && (*err == nil || isNotFound(*err)):
		j.f.pass.mark(j.keys[i])
		*err = errPrivate
	case *err == nil || isNotFound(*err):
		j.f.pass.unmark(j.keys[i])
	}
}

// build returns the entry for key i under ep, whose load, stamped at at,
// answered o after took, the error its callers get, and whether the entry is to be
// stored. A "not modified" answer keeps the previous entry's value (or its
// "not found") and tags under the new policy.
func (j *job[K, V]) build(i int, ep *EntryPolicy, o outcome[V], at Deadline, took time.Duration) (e Entry[V], err error, store bool) {
	p := j.f.policy
	r := rand.Float64()
	var kept *Entry[V] // the entry revalidated, whose tags the new one keeps
	if o.err != nil && errors.Is(o.err, ErrNotModified) {
		prev, ok := j.previousOf(i)
		switch {
		case !ok:
			return Entry[V]{}, fmt.Errorf("flightcache: load of key %v answered %w, but the Store held no entry to keep", j.keys[i], o.err), false
		case prev.Missing:
			o = outcome[V]{err: ErrNotFound}
		default:
			o = outcome[V]{v: prev.Value}
		}
		// The entry keeps the windows its source gave it, re-based at
		// this load's stamp (loadedAt), and its tags, unless this load
		// set a policy (rule 14), and no jitter shortens the windows
		// again.
		if ep == &p.def {
			kept = &prev
			if w, ok := windowsOf(&prev); ok {
				ep, r = &w, 1
			}
		}
	}
	switch {
	case o.err == nil:
		e = valueEntry(p, ep, o.v, at, took, r)
	case isNotFound(o.err):
		e, err = missingEntry[V](p, ep, at, took, r), o.err
	default:
		return Entry[V]{}, o.err, false
	}
	if kept != nil {
		e.Tags = kept.Tags
	}
	return e, err, true
}

// callCounted is call, with the keys at idx counted in j.calling while the
// source has them, however the call ends (a runtime.Goexit included).
func (j *job[K, V]) callCounted(ctx context.Context, idx []int) (outs []outcome[V], err error) {
	n := int32(len(idx))
	j.calling.Add(n)
	returned := false
	defer func() {
		j.calling.Add(-n)
		if !returned {
			j.sourceExited.Store(true) // call recovers panics: this is a Goexit
		}
	}()
	outs, err = j.call(ctx, idx)
	returned = true
	return outs, err
}

// call calls the source for the keys at idx. An error fails every key; a
// panic in the source is an error wrapping *singleflight.PanicError. A batch
// source is given a copy of the keys, so that whatever it does with the
// slice (filter it in place, keep it), the fill reads its own keys back; a
// key missing from its answer does not exist.
func (j *job[K, V]) call(ctx context.Context, idx []int) (outs []outcome[V], err error) {
	defer func() {
		if p := recover(); p != nil {
			outs, err = nil, fmt.Errorf("flightcache: load of %s: %w", j.describe(), newPanicError(p))
		}
	}()
	if len(j.keys) == 1 {
		outs = j.one.out[:]
	} else {
		outs = make([]outcome[V], len(idx))
	}
	if j.src.one != nil {
		// A single-key source has chunks of one key.
		i := idx[0]
		v, err := j.src.one(ctx, j.keys[i])
		if err != nil && !isNotFound(err) && !errors.Is(err, ErrNotModified) {
			return nil, err
		}
		outs[0] = outcome[V]{v, err}
		return outs, nil
	}
	vals, err := j.src.many(ctx, j.keysAt(idx))
	if err != nil && errors.Is(err, ErrNotModified) {
		// The whole call answered "not modified": each key keeps its
		// previous entry.
		for n := range outs {
			outs[n].err = err
		}
		return outs, nil
	}
	if err != nil {
		return nil, err
	}
	for n, i := range idx {
		v, ok := vals[j.keys[i]]
		if !ok {
			outs[n].err = ErrNotFound
			continue
		}
		outs[n].v = v
	}
	return outs, nil
}
