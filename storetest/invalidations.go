package storetest

import (
	"context"
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
// after an InvalidateTag or a Clear returned gets a value older than the
// source held when it was called (rules 8, 13). A writer updates the
// source, then the cache, holding the locks of the keys it covers, as a
// service that updates rows and then invalidates their tag does. Expire
// raises no floor: within a stale window it serves the old value by
// design. It returns how many operations ran.
func invalidationOrder(t *testing.T, store flightcache.Store[string, string], opts flightcache.Options, seed uint64) int64 {
	const workers = 8
	m := &invalMix{writeMix: writeMix{l: newLoader(t, store, &opts)}, opts: opts}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { m.work(t, rand.New(rand.NewPCG(seed, uint64(w)))) })
	}
	wg.Wait()
	if len(m.failures) > 0 {
		t.Errorf("seed %d: rules 8 and 13: once InvalidateTag or Clear has returned, no read that starts afterwards gets a value it covers:\n%s",
			seed, strings.Join(m.failures, "\n"))
	}
	return m.ops.Load()
}

// invalMix is the state of invalidationOrder's mix: writeMix's, with the
// tags of each key.
type invalMix struct {
	writeMix
	opts flightcache.Options
	ops  atomic.Int64
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
	var rmu sync.Mutex // loads run on the Loader's goroutines
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
	batcher, err := m.l.Batcher(loadMany, flightcache.Window{Wait: 20 * time.Microsecond, MaxKeys: 4})
	if err != nil {
		t.Errorf("Batcher: %v", err)
		return
	}
	for range mixOps {
		m.ops.Add(1)
		op, k := draw(20), draw(mixKeys)
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if draw(8) == 0 {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(draw(50))*time.Microsecond)
		}
		switch {
		case op == 0:
			m.invalidate(mixTags[draw(len(mixTags))])
		case op == 1 && draw(4) == 0:
			m.clear()
		case op == 2:
			m.write(k, func() error {
				return m.l.SetWithPolicy(context.Background(), mixName(k), version(k), m.policy(k))
			})
		case op == 3:
			_ = m.l.Expire(context.Background(), mixName(k))
		case op == 4:
			_ = m.l.Refresh(ctx, mixName(k), load)
		case op == 5:
			m.peek(k)
		case op < 9:
			m.check("Batcher.GetOrLoad", k, func() (string, error) { return batcher.GetOrLoad(ctx, mixName(k)) })
		case op < 15:
			m.check("GetOrLoad", k, func() (string, error) { return m.l.GetOrLoad(ctx, mixName(k), load) })
		default:
			m.readMany(ctx, []int{k, draw(mixKeys), draw(mixKeys)}, loadMany)
		}
		cancel()
	}
}

// check runs read, a read of key k, and fails when it got a value older
// than the last write or invalidation of k that returned before it began.
func (m *invalMix) check(what string, k int, read func() (string, error)) {
	floor := m.written[k].Load()
	v, err := read()
	if err == nil && mixVersion(v) < floor {
		m.fail("%s(%s) = %s after a write or invalidation of v%d returned", what, mixName(k), v, floor)
	}
}

// peek checks a Peek of key k as check checks a read.
func (m *invalMix) peek(k int) {
	m.check("Peek", k, func() (string, error) {
		r, ok, err := m.l.Peek(context.Background(), mixName(k))
		if !ok || err != nil {
			return "", context.Canceled // nothing served: nothing to check
		}
		return r.Value, nil
	})
}

// invalidate advances the version of every key tag covers, then
// invalidates tag, holding those keys' locks; when it returned nil, their
// written versions are raised.
func (m *invalMix) invalidate(tag string) {
	m.writeAll(covered(tag), func() error { return m.l.InvalidateTag(context.Background(), tag) })
}

// clear is invalidate for every key, with Clear.
func (m *invalMix) clear() {
	all := make([]int, mixKeys)
	for k := range all {
		all[k] = k
	}
	m.writeAll(all, func() error { return m.l.Clear(context.Background()) })
}

// writeAll is writeMix.write for the keys ks, in increasing order, with
// one op for them all.
func (m *invalMix) writeAll(ks []int, op func() error) {
	for _, k := range ks {
		m.writing[k].Lock()
	}
	defer func() {
		for _, k := range ks {
			m.writing[k].Unlock()
		}
	}()
	vs := make([]int64, len(ks))
	for i, k := range ks {
		vs[i] = m.db[k].Add(1)
	}
	if op() != nil {
		return
	}
	for i, k := range ks {
		raise(&m.written[k], vs[i])
	}
}
