package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
)

// RunLoader checks the promises a Loader keeps over the Store, which hold
// only if the Store keeps its own contract (a Get that follows a Set sees
// that Set, even when the Store applies writes asynchronously):
//
//   - "Burst": thousands of callers of a cold key, arriving before its load
//     ends, while it ends and just after, cause exactly one load (rule 2).
//   - Read your writes: after Set returns, a GetOrLoad gets the value set
//     and loads nothing ("SetReadBack"); after Invalidate returns, the next
//     GetOrLoad loads ("InvalidateSeen"); a load that returns after a Set
//     of its key returned never overwrites it ("SetBeforeLoadReturned"),
//     nor does a fill, or a stale entry's refresh, that an Invalidate
//     overtook ("InvalidateDuringFill"); a refresh whose source says "not
//     found" removes the entry from the Store ("RefreshFindsKeyGone").
//   - "WriteOrder": under a random mix of Set, Invalidate, GetOrLoad and
//     GetOrLoadMany, with callers that leave and loads that fail, panic or
//     dawdle, and with background refreshes, no call that starts after a
//     Set or Invalidate of a key returned gets an older value of it (rule
//     8). It prints its seed; FLIGHTCACHE_STRESS_SEED=<seed> replays it.
//   - "Invalidations": the same with tagged entries, InvalidateTag,
//     Clear, Expire, Peek, SetWithPolicy, Refresh and Batcher reads in the
//     mix: no read that starts after an InvalidateTag or Clear returned
//     gets a value it covers (rules 8, 13). It prints its seed and how
//     many operations ran.
//
// newStore is called once per check; RunLoader closes no Store, so register
// any Close with t.Cleanup.
func RunLoader(t *testing.T, newStore func(t *testing.T) flightcache.Store[string, string]) {
	t.Helper()
	t.Run("Burst", func(t *testing.T) { burst(t, newStore(t)) })
	readWrites(t, newStore)
	seed := stressSeed(t)
	for _, mode := range loaderModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Logf("seed %d (replay with FLIGHTCACHE_STRESS_SEED=%d)", seed, seed)
			writeOrder(t, newStore(t), mode.opts, seed)
		})
		inval := strings.Replace(mode.name, "WriteOrder", "Invalidations", 1)
		t.Run(inval, func(t *testing.T) {
			ops := invalidationOrder(t, []flightcache.Store[string, string]{newStore(t)}, mode.opts, seed)
			t.Logf("seed %d (replay with FLIGHTCACHE_STRESS_SEED=%d): %d operations", seed, seed, ops)
		})
	}
}

// RunFleet runs RunLoader's "Invalidations" mix over the instances of a
// fleet: a Loader over each of the Stores newFleet returns, which share one
// backend (a tiered Store over Redis per instance, say), with every
// operation going to an instance drawn at random. A read is checked against
// the writes and invalidations made through its own instance: those of
// another reach it within the fleet's visibility bound, which this does not
// time. Every instance's fills land in the shared backend, and an
// invalidation must cover them there as well. It prints its seed and how
// many operations ran; FLIGHTCACHE_STRESS_SEED=<seed> replays it.
func RunFleet(t *testing.T, newFleet func(t *testing.T) []flightcache.Store[string, string]) {
	t.Helper()
	seed := stressSeed(t)
	for _, mode := range loaderModes {
		t.Run(strings.Replace(mode.name, "WriteOrder", "Invalidations", 1), func(t *testing.T) {
			stores := newFleet(t)
			if len(stores) < 2 {
				t.Fatalf("newFleet returned %d Stores; a fleet has at least 2", len(stores))
			}
			ops := invalidationOrder(t, stores, mode.opts, seed)
			t.Logf("seed %d (replay with FLIGHTCACHE_STRESS_SEED=%d): %d operations over %d instances", seed, seed, ops, len(stores))
		})
	}
}

// loaderModes are the Options RunLoader's and RunFleet's mixes run with.
var loaderModes = []struct {
	name string
	opts flightcache.Options
}{
	{"WriteOrder/fresh", flightcache.Options{FreshFor: time.Hour, LoadTimeout: time.Minute}},
	{"WriteOrder/refresh", flightcache.Options{FreshFor: time.Millisecond, StaleFor: time.Hour, LoadTimeout: time.Minute}},
}

// stressSeed returns FLIGHTCACHE_STRESS_SEED, or a random seed.
func stressSeed(t *testing.T) uint64 {
	t.Helper()
	s := os.Getenv("FLIGHTCACHE_STRESS_SEED")
	if s == "" {
		return rand.Uint64()
	}
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("FLIGHTCACHE_STRESS_SEED: %v", err)
	}
	return seed
}

func newLoader(t *testing.T, store flightcache.Store[string, string], opts *flightcache.Options) *flightcache.Loader[string, string] {
	t.Helper()
	if store == nil {
		t.Fatal("newStore returned a nil Store")
	}
	l, err := flightcache.New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// burst sends callers at a cold key in three waves: before the load ends,
// while it ends, and just after it ended.
func burst(t *testing.T, store flightcache.Store[string, string]) {
	const (
		reps = 20
		wave = 500
	)
	l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour})
	for rep := range reps {
		key := "storetest:burst:" + strconv.Itoa(rep)
		var loads atomic.Int64
		gate := make(chan struct{})
		load := func(_ context.Context, key string) (string, error) {
			<-gate
			loads.Add(1)
			return "value-" + key, nil
		}
		var wg sync.WaitGroup
		call := func() {
			defer wg.Done()
			v, err := l.GetOrLoad(context.Background(), key, load)
			if err != nil || v != "value-"+key {
				t.Errorf("GetOrLoad(%q) = %q, %v", key, v, err)
			}
		}
		wg.Add(3 * wave)
		for range wave {
			go call()
		}
		firstDone := make(chan struct{})
		go func() {
			defer close(firstDone)
			_, _ = l.GetOrLoad(context.Background(), key, load)
		}()
		close(gate)
		for range wave {
			go call()
		}
		<-firstDone
		for range wave {
			go call()
		}
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Fatalf("repetition %d: %d loads of one cold key; rule 2: a miss runs load once per key across every concurrent caller, including callers that arrive just after the load finished", rep, n)
		}
	}
}

// writeOrder runs the random mix. The source keeps a version per key; a
// writer advances it before it calls Set or Invalidate, holding the key's
// lock, as a service that updates a row and then the cache under the row's
// lock does, so the writes of a key complete in the order of their versions.
// A load returns the version it reads.
func writeOrder(t *testing.T, store flightcache.Store[string, string], opts flightcache.Options, seed uint64) {
	const workers = 8
	m := &writeMix{l: newLoader(t, store, &opts)}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { m.work(rand.New(rand.NewPCG(seed, uint64(w)))) })
	}
	wg.Wait()
	if len(m.failures) > 0 {
		t.Errorf("seed %d: rule 8: once Set or Invalidate has returned, no call that starts afterwards gets an older value:\n%s",
			seed, strings.Join(m.failures, "\n"))
	}
}

// mixKeys and mixOps are the keys of writeOrder's mix and the operations
// of each of its workers.
const (
	mixKeys = 6
	mixOps  = 1500
)

// writeMix is the state of writeOrder's mix.
type writeMix struct {
	l *flightcache.Loader[string, string]

	db, written [mixKeys]atomic.Int64 // the source's versions; versions whose write returned
	writing     [mixKeys]sync.Mutex

	mu       sync.Mutex // guards failures
	failures []string
}

func mixName(k int) string { return "storetest:k" + strconv.Itoa(k) }

func mixIndex(key string) int {
	k, _ := strconv.Atoi(strings.TrimPrefix(key, "storetest:k"))
	return k
}

func mixVersion(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimPrefix(v, "v"), 10, 64)
	return n
}

// raise sets a to v unless it holds more already.
func raise(a *atomic.Int64, v int64) {
	for old := a.Load(); v > old && !a.CompareAndSwap(old, v); old = a.Load() {
	}
}

// behave makes a load fail, panic or dawdle now and then, as r in [0, 20)
// says.
func behave(r int) error {
	switch {
	case r == 0:
		return errSource
	case r == 1:
		panic("storetest: a load that panics")
	case r < 5:
		for range r * 4 {
			time.Sleep(0)
		}
	}
	return nil
}

func (m *writeMix) fail(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.failures) < 10 {
		m.failures = append(m.failures, fmt.Sprintf(format, args...))
	}
}

// work runs one worker's operations, drawn from rng.
func (m *writeMix) work(rng *rand.Rand) {
	var rmu sync.Mutex // loads run on the Loader's goroutines
	draw := func(n int) int {
		rmu.Lock()
		defer rmu.Unlock()
		return rng.IntN(n)
	}
	load := func(_ context.Context, key string) (string, error) {
		v := m.db[mixIndex(key)].Load()
		return "v" + strconv.FormatInt(v, 10), behave(draw(20))
	}
	loadMany := func(_ context.Context, ks []string) (map[string]string, error) {
		out := make(map[string]string, len(ks))
		for _, k := range ks {
			out[k] = "v" + strconv.FormatInt(m.db[mixIndex(k)].Load(), 10)
		}
		return out, behave(draw(20))
	}
	for range mixOps {
		op, k, k2, k3 := draw(10), draw(mixKeys), draw(mixKeys), draw(mixKeys)
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if draw(8) == 0 {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(draw(50))*time.Microsecond)
		}
		switch {
		case op == 0:
			m.write(k, func() error {
				return m.l.Set(context.Background(), mixName(k), "v"+strconv.FormatInt(m.db[k].Load(), 10))
			})
		case op == 1:
			m.write(k, func() error { return m.l.Invalidate(context.Background(), mixName(k)) })
		case op < 7:
			floor := m.written[k].Load()
			v, err := m.l.GetOrLoad(ctx, mixName(k), load)
			if err == nil && mixVersion(v) < floor {
				m.fail("GetOrLoad(%s) = %s after a write of v%d returned", mixName(k), v, floor)
			}
		default:
			m.readMany(ctx, []int{k, k2, k3}, loadMany)
		}
		cancel()
	}
}

// write advances key k's version and then writes with op, holding k's
// lock; a write that returned nil raises k's written version.
func (m *writeMix) write(k int, op func() error) {
	m.writing[k].Lock()
	defer m.writing[k].Unlock()
	v := m.db[k].Add(1)
	if op() == nil {
		raise(&m.written[k], v)
	}
}

// readMany reads the keys ks in one GetOrLoadMany and checks each value
// against the writes that had returned before it.
func (m *writeMix) readMany(ctx context.Context, ks []int, loadMany flightcache.BatchLoadFunc[string, string]) {
	names := make([]string, len(ks))
	floors := make([]int64, len(ks))
	for i, k := range ks {
		names[i], floors[i] = mixName(k), m.written[k].Load()
	}
	got, _ := m.l.GetOrLoadMany(ctx, names, loadMany)
	for i, key := range names {
		if v, ok := got[key]; ok && mixVersion(v) < floors[i] {
			m.fail("GetOrLoadMany: %s = %s after a write of v%d returned", key, v, floors[i])
		}
	}
}

var errSource = fmt.Errorf("storetest: the source failed")
var farPast = flightcache.DeadlineOf(time.Unix(0, 0))

// BenchmarkLoader compares, with 16 goroutines reading one key, a Get from
// the Store with a fresh hit through a Loader over it ("via=store",
// "via=loader"), a fresh hit of an entry whose load set its own
// EntryPolicy ("via=policy"), the same through GetOrLoadResult
// ("via=result"), a stale hit whose refresh is running ("via=stale"), and
// a hit on a tagged entry after tag invalidations and a Clear
// ("via=tagged"), and on an untagged one written after that Clear
// ("via=cleared").
// The Loader adds a clock read and a few comparisons to a Get: the rows
// should be within a few percent, with no allocation.
func BenchmarkLoader(b *testing.B, open func(b *testing.B) flightcache.Store[string, string]) {
	const readers = 16
	ctx := context.Background()
	parallel := func(b *testing.B, read func() error) {
		readInParallel(b, readers, func() func() error { return read })
	}
	store := open(b)
	fresh, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Hour, StaleFor: time.Hour, LoadTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	stuck := make(chan struct{})
	defer func() {
		close(stuck)
		fresh.Close()
	}()
	load := func(context.Context, string) (string, error) {
		<-stuck
		return "v", nil
	}
	if err := fresh.Set(ctx, "hot", "v"); err != nil {
		b.Fatal(err)
	}
	err = store.Set(ctx, "stale", flightcache.Entry[string]{
		Value: "old", FreshUntil: flightcache.DeadlineOf(time.Now().Add(-time.Second)), ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("via=store", func(b *testing.B) {
		parallel(b, func() error {
			// What a caller of Get does with an Entry: look at its
			// time, take its value.
			e, ok, err := store.Get(ctx, "hot")
			if !ok || e.ExpiresAt.Before(farPast) || len(e.Value) == 0 {
				return fmt.Errorf("store.Get: a miss (%v)", err)
			}
			return nil
		})
	})
	b.Run("via=loader", func(b *testing.B) {
		parallel(b, func() error {
			v, err := fresh.GetOrLoad(ctx, "hot", load)
			if err == nil && len(v) == 0 {
				return fmt.Errorf("GetOrLoad: an empty value")
			}
			return err
		})
	})
	own := func(ctx context.Context, key string) (string, error) {
		err := flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: 2 * time.Hour, StaleFor: time.Hour, StaleIfError: time.Hour})
		return "v", err
	}
	if _, err := fresh.GetOrLoad(ctx, "own", own); err != nil {
		b.Fatal(err)
	}
	b.Run("via=policy", func(b *testing.B) {
		parallel(b, func() error {
			v, err := fresh.GetOrLoad(ctx, "own", own)
			if err == nil && len(v) == 0 {
				return fmt.Errorf("GetOrLoad: an empty value")
			}
			return err
		})
	})
	b.Run("via=result", func(b *testing.B) {
		parallel(b, func() error {
			r, err := fresh.GetOrLoadResult(ctx, "own", own)
			if err == nil && r.Served != flightcache.ServedFresh {
				return fmt.Errorf("GetOrLoadResult: served %v", r.Served)
			}
			return err
		})
	})
	b.Run("via=stale", func(b *testing.B) {
		if _, err := fresh.GetOrLoad(ctx, "stale", load); err != nil { // starts the refresh, which never ends
			b.Fatal(err)
		}
		parallel(b, func() error {
			_, err := fresh.GetOrLoad(ctx, "stale", load)
			return err
		})
	})
	tagged := func(ctx context.Context, key string) (string, error) {
		err := flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: 2 * time.Hour, Tags: []string{"a", "b"}})
		return "v", err
	}
	b.Run("via=tagged", func(b *testing.B) {
		// A tagged entry, read after invalidations of other tags and a
		// Clear: a lookup per tag, and Clear's atomic load.
		for _, tag := range []string{"c", "d"} {
			if err := fresh.InvalidateTag(ctx, tag); err != nil {
				b.Fatal(err)
			}
		}
		if err := fresh.Clear(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := fresh.GetOrLoad(ctx, "tagged", tagged); err != nil {
			b.Fatal(err)
		}
		parallel(b, func() error {
			v, err := fresh.GetOrLoad(ctx, "tagged", tagged)
			if err == nil && len(v) == 0 {
				return fmt.Errorf("GetOrLoad: an empty value")
			}
			return err
		})
	})
	b.Run("via=cleared", func(b *testing.B) {
		// An untagged entry written after the Clear of via=tagged: the
		// same as via=loader, with Clear's atomic load more.
		if err := fresh.Set(ctx, "after-clear", "v"); err != nil {
			b.Fatal(err)
		}
		parallel(b, func() error {
			v, err := fresh.GetOrLoad(ctx, "after-clear", load)
			if err == nil && len(v) == 0 {
				return fmt.Errorf("GetOrLoad: an empty value")
			}
			return err
		})
	})
}
