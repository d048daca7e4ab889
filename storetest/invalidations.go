package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
)

// invalidationOrder runs workers that mix InvalidateTag, Clear, Expire,
// Peek and Set (with tags, SetWithPolicy) with GetOrLoad, GetOrLoadMany,
// Batcher reads and Refresh over the keys of the mix, each load giving its
// keys their tags, and checks that no read (Peek included) that starts
// after an InvalidateTag, a Clear or a Set returned gets a value older
// than the source held when it was called (rules 8, 13). A writer updates
// the source, then the cache, holding the locks of the keys it covers, as
// a service that updates rows and then invalidates their tag does. Expire
// raises no floor: within a stale window it serves the old value by
// design.
//
// With a Loader over each of stores (the instances of a fleet sharing one
// backend), each worker's operations go to a Loader drawn at random, and a
// read is checked against the writes made through its own Loader only:
// another instance's may take up to the fleet's visibility bound to
// arrive. The instances' fills still land in the shared tier, and must be
// covered there too. It returns how many operations ran.
func invalidationOrder(t *testing.T, stores []flightcache.Store[string, string], opts flightcache.Options, seed uint64) int64 {
	const workers = 8
	m := &invalMix{opts: opts, written: make([][mixKeys]atomic.Int64, len(stores))}
	for _, store := range stores {
		m.loaders = append(m.loaders, newLoader(t, store, &opts))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { m.work(t, rand.New(rand.NewPCG(seed, uint64(w)))) })
	}
	wg.Wait()
	if len(m.failures) > 0 {
		t.Errorf("seed %d: rules 8 and 13: once InvalidateTag, Clear or Set has returned, no read that starts afterwards gets a value it covers:\n%s",
			seed, strings.Join(m.failures, "\n"))
	}
	return m.ops.Load()
}

// invalMix is the state of invalidationOrder's mix.
type invalMix struct {
	loaders []*flightcache.Loader[string, string]
	opts    flightcache.Options
	ops     atomic.Int64

	db      [mixKeys]atomic.Int64   // the source's versions
	writing [mixKeys]sync.Mutex     // held by the writer of a key
	written [][mixKeys]atomic.Int64 // per Loader, versions whose write through it returned

	mu       sync.Mutex // guards failures
	failures []string
}

func (m *invalMix) fail(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.failures) < 10 {
		m.failures = append(m.failures, fmt.Sprintf(format, args...))
	}
}

// mixTags are the tags of the mix: key k has the tags group(k%3) and
// parity(k%2), so that every tag covers some keys and not others.
var mixTags = []string{"storetest:g0", "storetest:g1", "storetest:g2", "storetest:even", "storetest:odd"}

// tagsOf returns the tags of key k.
func tagsOf(k int) []string {
	return []string{mixTags[k%3], mixTags[3+k%2]}
}

// covered returns the keys that tag covers, in increasing order.
func covered(tag string) []int {
	var ks []int
	for k := range mixKeys {
		if slices.Contains(tagsOf(k), tag) {
			ks = append(ks, k)
		}
	}
	return ks
}

// policy is the policy of key k's entries: the Options' windows, and k's
// tags.
func (m *invalMix) policy(k int) flightcache.EntryPolicy {
	fresh := m.opts.FreshFor
	if fresh == 0 {
		fresh = flightcache.Forever
	}
	return flightcache.EntryPolicy{FreshFor: fresh, StaleFor: m.opts.StaleFor, Tags: tagsOf(k)}
}

// work runs one worker's operations, drawn from rng.
func (m *invalMix) work(t *testing.T, rng *rand.Rand) {
	var rmu sync.Mutex // loads run on the Loaders' goroutines
	draw := func(n int) int {
		rmu.Lock()
		defer rmu.Unlock()
		return rng.IntN(n)
	}
	version := func(k int) string { return "v" + strconv.FormatInt(m.db[k].Load(), 10) }
	load := func(ctx context.Context, key string) (string, error) {
		k := mixIndex(key)
		v := version(k)
		if err := flightcache.SetPolicy(ctx, key, m.policy(k)); err != nil {
			return "", err
		}
		return v, behave(draw(20))
	}
	loadMany := func(ctx context.Context, ks []string) (map[string]string, error) {
		out := make(map[string]string, len(ks))
		for _, key := range ks {
			k := mixIndex(key)
			out[key] = version(k)
			if err := flightcache.SetPolicy(ctx, key, m.policy(k)); err != nil {
				return nil, err
			}
		}
		return out, behave(draw(20))
	}
	batchers := make([]*flightcache.Batcher[string, string], len(m.loaders))
	for i, l := range m.loaders {
		var err error
		if batchers[i], err = l.Batcher(loadMany, flightcache.Window{Wait: 20 * time.Microsecond, MaxKeys: 4}); err != nil {
			t.Errorf("Batcher: %v", err)
			return
		}
	}
	for range mixOps {
		m.ops.Add(1)
		i, op, k := draw(len(m.loaders)), draw(20), draw(mixKeys)
		l := m.loaders[i]
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if draw(8) == 0 {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(draw(50))*time.Microsecond)
		}
		switch {
		case op == 0:
			tag := mixTags[draw(len(mixTags))]
			m.writeAll(i, covered(tag), func() error { return l.InvalidateTag(context.Background(), tag) })
		case op == 1 && draw(4) == 0:
			m.writeAll(i, allKeys(), func() error { return l.Clear(context.Background()) })
		case op == 2:
			m.writeAll(i, []int{k}, func() error {
				return l.SetWithPolicy(context.Background(), mixName(k), version(k), m.policy(k))
			})
		case op == 3:
			_ = l.Expire(context.Background(), mixName(k))
		case op == 4:
			_ = l.Refresh(ctx, mixName(k), load)
		case op == 5:
			m.check(i, "Peek", k, func() (string, error) { return peek(l, k) })
		case op < 9:
			m.check(i, "Batcher.GetOrLoad", k, func() (string, error) { return batchers[i].GetOrLoad(ctx, mixName(k)) })
		case op < 15:
			m.check(i, "GetOrLoad", k, func() (string, error) { return l.GetOrLoad(ctx, mixName(k), load) })
		default:
			m.readMany(i, ctx, []int{k, draw(mixKeys), draw(mixKeys)}, loadMany)
		}
		cancel()
	}
}

// allKeys returns every key of the mix.
func allKeys() []int {
	all := make([]int, mixKeys)
	for k := range all {
		all[k] = k
	}
	return all
}

// peek is a Peek of key k, as a read: an error when it serves nothing.
func peek(l *flightcache.Loader[string, string], k int) (string, error) {
	r, ok, err := l.Peek(context.Background(), mixName(k))
	if !ok || err != nil {
		return "", context.Canceled // nothing served: nothing to check
	}
	return r.Value, nil
}

// check runs read, a read of key k through Loader i, and fails when it
// got a value older than the last write or invalidation of k through i
// that returned before it began.
func (m *invalMix) check(i int, what string, k int, read func() (string, error)) {
	floor := m.written[i][k].Load()
	v, err := read()
	if err == nil && mixVersion(v) < floor {
		m.fail("instance %d: %s(%s) = %s after a write or invalidation of v%d returned", i, what, mixName(k), v, floor)
	}
}

// readMany reads the keys ks through Loader i in one GetOrLoadMany and
// checks each value as check does.
func (m *invalMix) readMany(i int, ctx context.Context, ks []int, loadMany flightcache.BatchLoadFunc[string, string]) {
	names := make([]string, len(ks))
	floors := make([]int64, len(ks))
	for n, k := range ks {
		names[n], floors[n] = mixName(k), m.written[i][k].Load()
	}
	got, _ := m.loaders[i].GetOrLoadMany(ctx, names, loadMany)
	for n, key := range names {
		if v, ok := got[key]; ok && mixVersion(v) < floors[n] {
			m.fail("instance %d: GetOrLoadMany: %s = %s after a write or invalidation of v%d returned", i, key, v, floors[n])
		}
	}
}

// writeAll advances the version of each of the keys ks, in increasing
// order, holding their locks, then runs op through Loader i; when op
// returned nil, their written versions for i are raised.
func (m *invalMix) writeAll(i int, ks []int, op func() error) {
	for _, k := range ks {
		m.writing[k].Lock()
	}
	defer func() {
		for _, k := range ks {
			m.writing[k].Unlock()
		}
	}()
	vs := make([]int64, len(ks))
	for n, k := range ks {
		vs[n] = m.db[k].Add(1)
	}
	if op() != nil {
		return
	}
	for n, k := range ks {
		raise(&m.written[i][k], vs[n])
	}
}
