package flightcache

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/puzpuzpuz/xsync/v4"
)

// maxTagRecords is how many invalidated tags a Loader remembers one by one.
// Past it, the half invalidated longest ago are folded into one instant at
// or before which every tagged entry is gone: a tagged entry loaded before
// the latest of them loads again once more than it had to, and the memory a
// Loader keeps stays bounded however many distinct tags are invalidated.
const maxTagRecords = 1 << 16

// invalTable is a Loader's record of [Loader.InvalidateTag] and
// [Loader.Clear], its own and, over an [InvalidationLog], the fleet's: for
// every entry (Clear) and for the entries of each tag, the instant at or
// before which an entry loaded is gone. Entries are judged against it when
// they are read, wherever they are stored, so an invalidation touches no
// entry and scans nothing. Every load is stamped past the latest
// invalidation (stamp), so that an entry loaded after an invalidation
// returned is never covered by it, whatever the clock's resolution.
//
// The hit path reads cleared, one atomic load, and, for a tagged entry
// only, the tags. All methods are safe for concurrent use; mu serializes
// the writers of tags, so that pruning never loses a record.
type invalTable struct {
	cleared atomic.Int64 // the latest Clear; math.MinInt64 for none
	tagged  atomic.Int64 // tagged entries loaded at or before it are gone (pruned records, a log's folds); math.MinInt64 for none
	floor   atomic.Int64 // the latest instant of any invalidation; math.MinInt64 for none
	issued  atomic.Int64 // the latest stamp given; math.MinInt64 for none
	records atomic.Int64 // how many tags have a record

	mu   sync.Mutex // guards writes of tags
	tags *xsync.Map[string, int64]
}

func newInvalTable() *invalTable {
	t := &invalTable{tags: xsync.NewMap[string, int64]()}
	t.cleared.Store(math.MinInt64)
	t.tagged.Store(math.MinInt64)
	t.floor.Store(math.MinInt64)
	t.issued.Store(math.MinInt64)
	return t
}

// covers reports whether an entry loaded at loadedAt with tags is gone: a
// Clear, or an invalidation of one of its tags, came at or after
// loadedAt. A nil table covers nothing.
func (t *invalTable) covers(loadedAt Deadline, tags *Tags) bool {
	return t != nil && (int64(loadedAt) <= t.cleared.Load() || tags != nil && t.coversTags(int64(loadedAt), tags))
}

// coversTags is covers for a tagged entry that no Clear covers. It looks
// at the tags' records before tagged: prune raises tagged before it drops
// a record, so a reader finds one or the other.
func (t *invalTable) coversTags(loadedAt int64, tags *Tags) bool {
	if t.records.Load() > 0 {
		for _, n := range tags.names {
			if at, ok := t.tags.Load(n); ok && loadedAt <= at {
				return true
			}
		}
	}
	return loadedAt <= t.tagged.Load()
}

// stamp returns the instant to stamp a load (or a Set) that starts at now
// with: now, or just past the latest invalidation when the clock has not
// passed it yet, so that no invalidation that returned before the load
// began covers its entry.
func (t *invalTable) stamp(now int64) Deadline {
	s := max(now, t.floor.Load()+1)
	raise(&t.issued, s)
	return notNever(Deadline(s))
}

// instant returns the instant of an invalidation made at now: now, or the
// latest stamp given when the clock reads less, so that the invalidation
// covers every load stamped before it began, whatever the clock did in
// between: exactNow's readings are not ordered across the goroutines that
// read it (each extrapolates a base of its own age), nor across a step of
// the system's wall clock. It is not moved past the latest invalidation:
// two invalidations may share an instant, and one that an InvalidationLog
// moved later (for the fleet's clock skew) moves the next no further.
func (t *invalTable) instant(now int64) Deadline {
	return notNever(Deadline(max(now, t.issued.Load())))
}

// apply records inv: entries loaded at or before inv.At, all of them for a
// Clear (inv.Tag == ""), every tagged one for a log's fold (inv.Tagged,
// whatever inv.Tag says: it covers the tag too) and those tagged inv.Tag
// otherwise, are gone. An older instant than the one recorded changes
// nothing, so invalidations may arrive in any order, and more than once.
func (t *invalTable) apply(inv Invalidation) {
	at := int64(inv.At)
	switch {
	case inv.Tagged:
		raise(&t.tagged, at)
	case inv.Tag == "":
		raise(&t.cleared, at)
	default:
		t.mu.Lock()
		added := false
		t.tags.Compute(inv.Tag, func(old int64, loaded bool) (int64, xsync.ComputeOp) {
			added = !loaded
			return max(old, at), xsync.UpdateOp
		})
		if added && t.records.Add(1) > maxTagRecords {
			t.prune()
		}
		t.mu.Unlock()
	}
	raise(&t.floor, at)
}

// prune folds the older half of the tag records into tagged. Call with mu
// held. tagged is raised before any record goes, so that no reader finds
// neither.
func (t *invalTable) prune() {
	ats := make([]int64, 0, t.tags.Size())
	t.tags.Range(func(_ string, at int64) bool {
		ats = append(ats, at)
		return true
	})
	slices.Sort(ats)
	cut := ats[len(ats)/2]
	raise(&t.tagged, cut)
	t.tags.Range(func(tag string, at int64) bool {
		if at <= cut {
			t.tags.Delete(tag)
			t.records.Add(-1)
		}
		return true
	})
}

// raise sets a to v unless it holds more already.
func raise(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if old >= v || a.CompareAndSwap(old, v) {
			return
		}
	}
}
