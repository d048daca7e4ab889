package flightcache

import (
	"context"
	"slices"
)

// This file is a fill's look at the Store: before it loads, a fill reads
// its keys again, and answers those that another fill or instance stored.

// lookAgain reads the keys at idx from the Store, gives each key that has
// an entry the fill need not replace that entry, and returns the others. A
// fill that ended just before this one began may have stored the entry after
// the callers of this one missed it, and another instance of a fleet may
// have stored it while this one waited for its lease.
func (j *job[K, V]) lookAgain(idx []int) []int {
	var found []lookup[V]
	if len(j.keys) == 1 {
		found = j.one.found[:]
		j.f.readInto(j.ctx, j.keys, true, found)
	} else {
		found = j.f.read(j.ctx, j.keysAt(idx), true)
	}
	now := j.f.clock.exactNow()
	todo := idx[:0] // filtered in place: idx is the caller's to give up
	for n, i := range idx {
		e, ok := found[n].e, found[n].ok
		if j.versions != nil {
			// The load that follows reads the source after this look:
			// its result may replace what the Store held then, and
			// nothing written since (rule 9).
			j.versions[i] = found[n].v
		}
		if ok && (e.ExpiresAt != 0 && now >= int64(e.ExpiresAt) || gone(j.f.policy, &e)) {
			// Past its ExpiresAt, an entry is never served, nor kept for
			// Previous: a Store may return one it has not dropped yet.
			// Nor is one that an InvalidateTag or Clear covers.
			ok = false
			found[n].ok = false
		}
		j.remember(i, &found[n])
		if ok && !j.force && j.usable(i, &e, now) {
			var err error
			if e.Missing {
				err = ErrNotFound
			}
			j.finish(i, e, err)
			continue
		}
		todo = append(todo, i)
	}
	return todo
}

// usable reports whether e, found in the Store at now, answers key i.
func (j *job[K, V]) usable(i int, e *Entry[V], now int64) bool {
	switch judge(j.f.policy, e, now, noRefresh) {
	case verdictFresh, verdictRefreshEarly, verdictMissing:
		return j.replacing == nil || !e.FreshUntil.Equal(j.replacing[i])
	}
	return false
}

// noRefresh stands in for the random draw of early refresh where only
// freshness matters.
func noRefresh() float64 { return 0 }

// read reads keys from the Store, in one call when it is a BatchStore and
// there is more than one key, and returns what it holds for each, in the
// order of keys. A failed read reads as misses, counted and logged. A fill's
// read (byFill) also reads each key's Version over a Fencer, in the same
// round trip; a caller's read waits for its log line as long as ctx allows
// (see reporter.warn).
func (f *filler[K, V]) read(ctx context.Context, keys []K, byFill bool) []lookup[V] {
	out := make([]lookup[V], len(keys))
	f.readInto(ctx, keys, byFill, out)
	return out
}

// readInto is read into out, which has the length of keys.
func (f *filler[K, V]) readInto(ctx context.Context, keys []K, byFill bool, out []lookup[V]) {
	wait := !byFill
	versioned := byFill && f.view.fenced()
	if f.view.readsMany(len(keys), versioned) {
		if err := f.view.getMany(ctx, keys, versioned, out); err != nil {
			f.rep.storeFailed(ctx, wait, "get", slices.Clone(keys), err)
		}
		return
	}
	for n, k := range keys {
		found, err := f.view.get(ctx, k, versioned)
		if err != nil {
			f.rep.storeFailed(ctx, wait, "get", k, err)
			continue
		}
		out[n] = found
	}
}
