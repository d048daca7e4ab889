package flightcache

import (
	"context"
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// writeOrder keeps, for each key that a fill or a Set or Invalidate is
// working on, the generation that makes Set and Invalidate win over fills in
// flight (rule 8): a fill remembers the generation it began at and writes
// only while it is unchanged; Set and Invalidate advance it before and after
// their own write. A key has state only while someone has registered it, so
// the maps hold the keys in flight and no others. Safe for concurrent use.
//
// The keys are spread over writeShards maps, each under a lock of its own,
// by a hash of the key: a registration then costs a lock that other keys
// seldom share and a lookup in a Go map, which, unlike a concurrent map
// whose entries are nodes, allocates nothing once it has grown: the map of a
// shard keeps its room when its keys are deleted, until, after having held
// more than shrinkPeak keys (a burst of misses), it holds no more than
// 1/shrinkRatio of its peak, when a new map gives the room back (the keys
// still in flight, which steady traffic keeps in every shard, move to it).
//
// The state of a key that nobody has registered any more is kept for the
// next key registered (spare): a miss would otherwise allocate one. It is
// safe to reuse, since nothing reads it outside a registration, and its
// generation goes on counting from where it was, so that no generation a
// fill remembers can come round again.
type writeOrder[K comparable] struct {
	seed   maphash.Seed
	shards [writeShards]writeShard[K]
	spare  sync.Pool // of *keyWrites, registered by nobody
}

// writeShards is how many maps the write order spreads its keys over: a
// power of two, a few times the cores of a large machine.
const writeShards = 64

// writeShard is one map of the write order, with the lock that guards it,
// alone on its cache line.
type writeShard[K comparable] struct {
	mu   sync.Mutex
	keys map[K]*keyWrites
	peak int // the most keys held since keys was made
	_    [64 - 24]byte
}

// shrinkPeak is how many keys a shard's map may have held and still be kept
// however few it holds now.
const shrinkPeak = 1024

// shrinkRatio: a shard's map that held more than shrinkPeak keys is
// replaced once it holds no more than 1/shrinkRatio of the most it held.
const shrinkRatio = 8

// keyWrites is the write order of one key.
type keyWrites struct {
	// refs counts the registrations of the key; it changes only under the
	// lock of the key's shard.
	refs int
	// gen is advanced by every Set and Invalidate of the key.
	gen atomic.Uint64

	// The write token, held while a write to the Store is under way, is a
	// lock that a wait on can end with a context. Most keys never see two
	// writers at once, so the channel a waiter needs is made only by the
	// first waiter (golang.org/x/sync/semaphore, or a channel as the token,
	// would allocate for every key). A goroutine blocked on it is durably
	// blocked for testing/synctest.
	mu   sync.Mutex    // guards busy and wake
	busy bool          // the token is held
	wake chan struct{} // closed when the token is given back; nil until a waiter needs it
}

func newWriteOrder[K comparable]() *writeOrder[K] {
	w := &writeOrder[K]{seed: maphash.MakeSeed()}
	for i := range w.shards {
		w.shards[i].keys = make(map[K]*keyWrites)
	}
	return w
}

// shard returns the shard of key, which must be hashable (see keyChecker).
func (w *writeOrder[K]) shard(key K) *writeShard[K] {
	return &w.shards[maphash.Comparable(w.seed, key)&(writeShards-1)]
}

// begin registers key and returns its state and its generation now. Every
// begin is matched by an end.
func (w *writeOrder[K]) begin(key K) (*keyWrites, uint64) {
	sh := w.shard(key)
	sh.mu.Lock()
	kw := sh.keys[key]
	if kw == nil {
		kw = w.newKeyWrites()
		sh.keys[key] = kw
		sh.peak = max(sh.peak, len(sh.keys))
	}
	kw.refs++
	sh.mu.Unlock()
	return kw, kw.gen.Load()
}

// end drops a registration of key made by begin.
func (w *writeOrder[K]) end(key K) {
	sh := w.shard(key)
	sh.mu.Lock()
	kw := sh.keys[key]
	if kw == nil {
		sh.mu.Unlock()
		return
	}
	kw.refs--
	if kw.refs > 0 {
		sh.mu.Unlock()
		return
	}
	delete(sh.keys, key)
	if sh.peak > shrinkPeak && len(sh.keys) <= sh.peak/shrinkRatio {
		// A Go map keeps its room when keys go: the keys left move to a
		// map their size. Copying them costs less than the deletes since
		// the peak, so a registration still costs O(1), amortized.
		keys := make(map[K]*keyWrites, len(sh.keys))
		maps.Copy(keys, sh.keys)
		sh.keys, sh.peak = keys, len(keys)
	}
	sh.mu.Unlock()
	// Nobody holds the token (its holders are registered), and no waiter
	// is left: the channel a waiter made, closed or not, is nobody's.
	kw.wake = nil
	w.spare.Put(kw)
}

// newKeyWrites returns the state of a key nobody has registered: a spare
// one, or a new one.
func (w *writeOrder[K]) newKeyWrites() *keyWrites {
	if kw, ok := w.spare.Get().(*keyWrites); ok {
		return kw
	}
	return new(keyWrites)
}

// lock takes the write token, waiting as long as ctx allows. A ctx that
// has ended never takes it, free or not.
func (kw *keyWrites) lock(ctx context.Context) error {
	_, err := kw.acquire(ctx, 0, false)
	return err
}

// lockAt takes the write token for a fill that began at generation gen,
// waiting as long as ctx allows, and reports whether it did. A fill that a
// Set, Invalidate or Expire has superseded, before it asked or while it
// waited, never writes: it gives up its place at once, holding nothing
// (false, nil), rather than wait for a token it has no use for.
func (kw *keyWrites) lockAt(ctx context.Context, gen uint64) (held bool, err error) {
	return kw.acquire(ctx, gen, true)
}

// acquire is lock, and with fill, lockAt of generation gen. A waiter is
// woken when the token is given back and when the generation advances
// (see advance), and tries again.
func (kw *keyWrites) acquire(ctx context.Context, gen uint64, fill bool) (bool, error) {
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		kw.mu.Lock()
		// Read under mu: an advance that this misses wakes the waiter
		// (advance takes mu after it has moved the generation on).
		if fill && !kw.current(gen) {
			kw.mu.Unlock()
			return false, nil
		}
		if !kw.busy {
			kw.busy = true
			kw.mu.Unlock()
			return true, nil // a free token: ctx's Done channel is not even made
		}
		if kw.wake == nil {
			kw.wake = make(chan struct{})
		}
		wake := kw.wake
		kw.mu.Unlock()
		select {
		case <-wake: // given back, or superseded: try again, with the other waiters
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// tryLock takes the token if it is free, whatever any context says, and
// reports whether it did.
func (kw *keyWrites) tryLock() bool {
	kw.mu.Lock()
	defer kw.mu.Unlock()
	if kw.busy {
		return false
	}
	kw.busy = true
	return true
}

// unlock gives the token back and wakes every waiter.
func (kw *keyWrites) unlock() {
	kw.mu.Lock()
	kw.busy = false
	kw.mu.Unlock()
	kw.wakeAll()
}

// wakeAll wakes every waiter for the token, to look at it again.
func (kw *keyWrites) wakeAll() {
	kw.mu.Lock()
	wake := kw.wake
	kw.wake = nil
	kw.mu.Unlock()
	if wake != nil {
		close(wake)
	}
}

// current reports whether no Set or Invalidate came since gen. Call it
// holding the token, so that none can come before the write it guards.
func (kw *keyWrites) current(gen uint64) bool { return kw.gen.Load() == gen }

// advance makes every fill that began before it leave the Store alone, and
// those of them waiting for the token leave at once (see lockAt): a waiter
// is woken, sees the new generation and gives up its place, so that the
// fills a storm of Sets supersedes never queue for the token.
func (kw *keyWrites) advance() {
	kw.gen.Add(1)
	kw.wakeAll()
}

// lockAll takes, for a fill whose keys have the write orders kws and began
// at the generations gens, the tokens of those keys that no Set,
// Invalidate or Expire has superseded (see lockAt), in one global order (by
// address), so that two batches that share keys never wait on each other.
// It returns the function that gives them back; a superseded key's token is
// not held, and its write must be left out (its generation tells). It gives
// up, holding nothing, when ctx ends.
func lockAll(ctx context.Context, kws []*keyWrites, gens []uint64) (unlock func(), err error) {
	type place struct {
		kw  *keyWrites
		gen uint64
	}
	order := make([]place, len(kws))
	for i, kw := range kws {
		order[i] = place{kw, gens[i]}
	}
	slices.SortFunc(order, func(a, b place) int {
		pa, pb := uintptr(unsafe.Pointer(a.kw)), uintptr(unsafe.Pointer(b.kw))
		switch {
		case pa < pb:
			return -1
		case pa > pb:
			return 1
		}
		return 0
	})
	order = slices.CompactFunc(order, func(a, b place) bool { return a.kw == b.kw })
	held := order[:0] // filtered in place
	unlock = func() {
		for _, p := range held {
			p.kw.unlock()
		}
	}
	for _, p := range order {
		ok, err := p.kw.lockAt(ctx, p.gen)
		if err != nil {
			unlock()
			return nil, err
		}
		if ok {
			held = append(held, p)
		}
	}
	return unlock, nil
}

// overwrite runs op, a Set or a Delete of key in the Store, so that it wins
// over every fill of key (rule 8): once op has succeeded, fills that began
// before it returned never write, and no caller that comes after it joins
// them. It waits, as long as ctx allows, for a fill's write that is under
// way, so that op lands after it; a free token is taken even when ctx has
// ended, since taking it needs no wait (rule 13). forget makes later
// callers of key start a new fill.
//
// A write is all or nothing (rule 13): when ctx ends before the token is
// free, or op fails, overwrite returns the error having changed nothing, and
// the fills in flight still write. The generation is advanced only after op
// succeeded, holding the token, so that both the fills that began before op
// and those that began while it ran (and may have read the entry op
// replaces) leave the Store alone: a fill writes only holding the token,
// after checking the generation.
func (w *writeOrder[K]) overwrite(ctx context.Context, key K, forget func(K), op func() error) error {
	kw, _ := w.begin(key)
	defer w.end(key)
	if !kw.tryLock() {
		if err := kw.lock(ctx); err != nil {
			return err
		}
	}
	defer kw.unlock()
	if err := op(); err != nil {
		return err
	}
	kw.advance()
	forget(key)
	return nil
}
