package tiered_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
	"github.com/flightcache/flightcache/adapters/tiered"
	"github.com/flightcache/flightcache/storetest"
)

// InvalidateTag and Clear over a fleet (issue 26): every instance a Loader
// over a local LRU in front of its own redisstore on one redis-server,
// subscribed to the fleet's notifications.

// tagVisibility bounds how long after an InvalidateTag or a Clear returns
// on one instance the others may still serve what it covers. The README
// states the fleet's visibility as measured (BenchmarkWriteVisibility:
// p50 150 µs, p99 1.3-3.6 ms, max 5-40 ms on two busy cores); an
// invalidation of a tag travels the same way (one PUBLISH, one message
// per instance), so the bound is that max, with room for the race
// detector.
const tagVisibility = 50 * time.Millisecond

// tagMember is one instance of a fleet with tags.
type tagMember struct {
	loader *flightcache.Loader[string, string]
	store  tiered.Store[string, string]
	shared *redisstore.Store[string, string]
}

// tagFleet is the fleet's prefix and its source, which counts loads.
type tagFleet struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	loads  map[string]int
}

func newTagFleet(t *testing.T) *tagFleet {
	return &tagFleet{t: t, prefix: redistest.Prefix(t), loads: map[string]int{}}
}

// tagOf is the tag of key's entries: "tag-" and its first letter; keys
// beginning with "u" are untagged.
func tagOf(key string) []string {
	if key[0] == 'u' {
		return nil
	}
	return []string{"tag-" + key[:1]}
}

// load loads key as "key@n", n counting its loads across the fleet, with
// the tags of tagOf.
func (f *tagFleet) load(ctx context.Context, key string) (string, error) {
	f.mu.Lock()
	f.loads[key]++
	n := f.loads[key]
	f.mu.Unlock()
	if err := flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: tagOf(key)}); err != nil {
		return "", err
	}
	return key + "@" + strconv.Itoa(n), nil
}

// member starts an instance with a client of its own, closed when the test
// ends.
func (f *tagFleet) member(c redis.UniversalClient, o redisstore.Options[string, string]) *tagMember {
	t := f.t
	t.Helper()
	local, err := lrustore.New[string, string](1000)
	require.NoError(t, err)
	o.Prefix = f.prefix
	if o.Timeout == 0 {
		o.Timeout = timeout
	}
	m := &tagMember{}
	m.shared, err = redisstore.New[string, string](c, &o)
	require.NoError(t, err)
	m.store = tiered.NewWithNotifier[string, string](local, m.shared, m.shared)
	sub, err := m.shared.Subscribe(m.store)
	require.NoError(t, err)
	require.Eventually(t, sub.Live, 5*time.Second, time.Millisecond)
	m.loader, err = flightcache.New[string, string](m.store, &flightcache.Options{FreshFor: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() {
		m.loader.Close()
		m.store.Close()
		sub.Close()
		m.shared.Close()
	})
	return m
}

// read is GetOrLoad.
func (f *tagFleet) read(m *tagMember, key string) string {
	f.t.Helper()
	v, err := m.loader.GetOrLoad(context.Background(), key, f.load)
	require.NoError(f.t, err)
	return v
}

// serves returns what m would serve for key without loading, or "". It
// may be called from any goroutine.
func serves(t *testing.T, m *tagMember, key string) string {
	t.Helper()
	r, ok, err := m.loader.Peek(context.Background(), key)
	if !assert.NoError(t, err) || !ok {
		return ""
	}
	return r.Value
}

// untilGone polls m until it serves none of keys, and returns how long
// after since that was; it fails the test past bound, and gives up after
// ten seconds. It may be called from any goroutine.
func untilGone(t *testing.T, m *tagMember, keys []string, since time.Time, bound time.Duration) time.Duration {
	t.Helper()
	deadline := since.Add(10 * time.Second)
	for {
		gone := true
		for _, k := range keys {
			if serves(t, m, k) != "" {
				gone = false
				break
			}
		}
		if gone {
			took := time.Since(since)
			assert.LessOrEqual(t, took, bound, "an instance served covered entries for %v after the invalidation returned", took)
			return took
		}
		if time.Now().After(deadline) {
			t.Errorf("an instance still serves one of %v %v after the invalidation returned", keys, time.Since(since))
			return time.Since(since)
		}
		time.Sleep(pollEvery) // leave the cores to the subscribers
	}
}

// TestInvalidateTagAndClearReachEveryInstance: with tagged and untagged
// entries loaded and served from every instance's local tier, an
// InvalidateTag on one makes every other instance stop serving the entries
// of that tag within the fleet's visibility bound, and a new instance
// started afterwards never serves them, while the entries of other tags
// and untagged ones are still served, with no load; then a Clear makes
// every instance, a new one included, stop serving everything. A read of
// a covered key loads it anew, once for the fleet.
func TestInvalidateTagAndClearReachEveryInstance(t *testing.T) {
	f := newTagFleet(t)
	fleet := []*tagMember{f.member(redistest.Client(t), redisstore.Options[string, string]{}),
		f.member(redistest.Client(t), redisstore.Options[string, string]{}),
		f.member(redistest.Client(t), redisstore.Options[string, string]{})}
	keys := []string{"a1", "a2", "b1", "u1"}
	for _, m := range fleet {
		for _, k := range keys {
			assert.Equal(t, k+"@1", f.read(m, k), "loaded once for the fleet")
			assert.Equal(t, k+"@1", serves(t, m, k))
		}
	}

	require.NoError(t, fleet[0].loader.InvalidateTag(context.Background(), "tag-a"))
	returned := time.Now()
	for i, m := range fleet {
		took := untilGone(t, m, []string{"a1", "a2"}, returned, tagVisibility)
		t.Logf("InvalidateTag: instance %d stopped serving the tag %v after it returned", i, took)
	}
	late := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	for _, m := range append(fleet, late) {
		assert.Empty(t, serves(t, m, "a1"), "no instance, a new one included, serves an entry of the tag")
		assert.Equal(t, "b1@1", serves(t, m, "b1"), "an entry of another tag is still served")
		assert.Equal(t, "u1@1", serves(t, m, "u1"), "an untagged entry is still served")
	}
	assert.Equal(t, "a1@2", f.read(fleet[1], "a1"), "a read loads it anew")
	for _, m := range append(fleet, late) {
		assert.Equal(t, "a1@2", f.read(m, "a1"), "once for the fleet")
	}

	require.NoError(t, fleet[2].loader.Clear(context.Background()))
	returned = time.Now()
	for i, m := range append(fleet, late) {
		took := untilGone(t, m, keys, returned, tagVisibility)
		t.Logf("Clear: instance %d stopped serving every entry %v after it returned", i, took)
	}
	later := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	for _, k := range keys {
		assert.Empty(t, serves(t, later, k), "an instance started after the Clear serves nothing from before it")
	}
	assert.Equal(t, "u1@2", f.read(later, "u1"))
	assert.Equal(t, "u1@2", f.read(fleet[0], "u1"))
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, map[string]int{"a1": 2, "a2": 1, "b1": 1, "u1": 2}, f.loads)
}

// TestAFillInFlightBeforeAnInvalidateTagIsNotServedAfterIt: a load on
// instance B began before an InvalidateTag of its tag on instance A and
// ends after it returned. Its caller gets its result (rule 8), and its
// entry lands in Redis and in B's local tier, but once the invalidation is
// visible no instance serves it: not A, not B, not one started afterwards
// (the entry's LoadedAt is before the invalidation's instant); the next
// read loads anew.
func TestAFillInFlightBeforeAnInvalidateTagIsNotServedAfterIt(t *testing.T) {
	ctx := context.Background()
	f := newTagFleet(t)
	a := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	b := f.member(redistest.Client(t), redisstore.Options[string, string]{})

	started, release := make(chan struct{}), make(chan struct{})
	slow := func(ctx context.Context, key string) (string, error) {
		close(started)
		<-release
		return f.load(ctx, key)
	}
	got := make(chan string, 1)
	go func() {
		v, err := b.loader.GetOrLoad(ctx, "x1", slow)
		assert.NoError(t, err)
		got <- v
	}()
	<-started
	require.NoError(t, a.loader.InvalidateTag(ctx, "tag-x"))
	returned := time.Now()
	close(release)
	assert.Equal(t, "x1@1", <-got, "the fill's caller gets its result")

	e, ok, err := b.shared.Get(ctx, "x1")
	require.NoError(t, err)
	require.True(t, ok, "the fill wrote its entry to Redis (nothing changed the key)")
	assert.True(t, e.Tags.Has("tag-x"))
	for _, m := range []*tagMember{a, b} {
		untilGone(t, m, []string{"x1"}, returned, tagVisibility)
	}
	c := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	assert.Empty(t, serves(t, c, "x1"), "nor does an instance started afterwards")
	assert.Equal(t, "x1@2", f.read(b, "x1"), "the next read loads anew")
	for _, m := range []*tagMember{a, c} {
		assert.Equal(t, "x1@2", f.read(m, "x1"))
	}
}

// TestTheLocalTierServesNothingWhileTheSharedTierReplays: when the shared
// tier must replay the log to this instance (here another instance asked
// every instance to, as one does when too many of its messages failed)
// and cannot (the log is unreadable), the local tier serves nothing,
// since an invalidation not replayed may cover any entry; once the replay
// succeeds, it serves again.
func TestTheLocalTierServesNothingWhileTheSharedTierReplays(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	f := newTagFleet(t)
	m := f.member(c, redisstore.Options[string, string]{Timeout: 200 * time.Millisecond})
	assert.Equal(t, "u1@1", f.read(m, "u1"))

	logKey := m.shared.InvalidationLogKey()
	require.NoError(t, c.Set(ctx, logKey, "not a hash", 0).Err())
	require.NoError(t, c.Publish(ctx, f.prefix+"{}invalidate", "someone s").Err())
	require.Eventually(t, m.shared.Replaying, 5*time.Second, time.Millisecond)
	_, ok, err := m.store.Get(ctx, "u1")
	require.NoError(t, err)
	assert.False(t, ok, "the local tier serves nothing while the shared tier replays")
	assert.Empty(t, serves(t, m, "u1"))

	require.NoError(t, c.Del(ctx, logKey).Err())
	require.Eventually(t, func() bool { return !m.shared.Replaying() }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "u1@1", serves(t, m, "u1"), "served again once replayed")
}

// TestTagVisibilityAcrossTheFleet measures, over rounds of InvalidateTag
// and Clear on one instance, how long after the call returned the other
// instances stopped serving what it covered, and logs p50, p99 and max;
// each is within tagVisibility.
func TestTagVisibilityAcrossTheFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("rounds of invalidations")
	}
	f := newTagFleet(t)
	fleet := make([]*tagMember, 4)
	for i := range fleet {
		fleet[i] = f.member(redistest.Client(t), redisstore.Options[string, string]{})
	}
	const rounds = 100
	var tagDelays, clearDelays []time.Duration
	var wg sync.WaitGroup
	for r := range rounds {
		key := "k" + strconv.Itoa(r)
		for _, m := range fleet {
			f.read(m, key)
		}
		clear := r%2 == 1
		var delays [3]atomic.Int64
		start := make(chan time.Time, len(fleet)-1)
		for i, m := range fleet[1:] {
			wg.Go(func() {
				since := <-start
				delays[i].Store(int64(untilGone(t, m, []string{key}, since, tagVisibility)))
			})
		}
		var err error
		if clear {
			err = fleet[0].loader.Clear(context.Background())
		} else {
			err = fleet[0].loader.InvalidateTag(context.Background(), "tag-k")
		}
		returned := time.Now()
		require.NoError(t, err)
		for range len(fleet) - 1 {
			start <- returned
		}
		wg.Wait()
		worst := time.Duration(0)
		for i := range delays {
			worst = max(worst, time.Duration(delays[i].Load()))
		}
		if clear {
			clearDelays = append(clearDelays, worst)
		} else {
			tagDelays = append(tagDelays, worst)
		}
	}
	for _, c := range []struct {
		op string
		d  []time.Duration
	}{{"InvalidateTag", tagDelays}, {"Clear", clearDelays}} {
		slices.Sort(c.d)
		t.Logf("%s, %d rounds, 3 other instances: to the last one no longer serving: p50 %v, p99 %v, max %v",
			c.op, len(c.d), c.d[len(c.d)/2], c.d[len(c.d)*99/100], c.d[len(c.d)-1])
	}
}

// TestInvalidationsOverTwoInstances runs storetest.RunFleet over two
// instances, each a tiered Store of a local LRU over its own redisstore on
// one redis-server, subscribed to the fleet's notifications: tag
// invalidations, Clears, Sets, reads, batches and refreshes go to either,
// and no read after an invalidation through its instance gets what it
// covers, the other instance's fills in Redis included.
func TestInvalidationsOverTwoInstances(t *testing.T) {
	storetest.RunFleet(t, func(t *testing.T) []flightcache.Store[string, string] {
		c := redistest.Start(t).Client(t)
		prefix := redistest.Prefix(t)
		var stores []flightcache.Store[string, string]
		for range 2 {
			shared, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{Prefix: prefix, Timeout: timeout})
			require.NoError(t, err)
			store := tiered.NewWithNotifier[string, string](newLRU[string](t), shared, shared)
			sub, err := shared.Subscribe(store)
			require.NoError(t, err)
			require.Eventually(t, sub.Live, 5*time.Second, time.Millisecond)
			t.Cleanup(func() {
				store.Close()
				sub.Close()
				shared.Close()
			})
			stores = append(stores, store)
		}
		return stores
	})
}

// TestAFoldOfTheLogReachesInstancesAsTagged: over a log that keeps 4 tags
// one by one, an InvalidateTag followed by 20 more folds its tag; an
// instance started afterwards replays the fold, through its tiered Store,
// as a Tagged invalidation: it serves neither the folded tag's entry nor
// another tagged entry loaded before the fold (the fold's price), and
// serves an untagged entry and an entry loaded after the fold. The
// instance that made them was told of each tag, not of the fold, and
// still serves the other tag's entry. A Tagged invalidation logged through
// a tiered Store is recorded as the fold in the shared tier and told to
// the running instances, which stop serving every tagged entry loaded
// before it, and no untagged one.
func TestAFoldOfTheLogReachesInstancesAsTagged(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	f := newTagFleet(t)
	bounded := redisstore.Options[string, string]{MaxLogTags: 4}
	a := f.member(redistest.Client(t), bounded)
	for _, k := range []string{"a1", "b1", "u1"} {
		assert.Equal(t, k+"@1", f.read(a, k))
	}
	require.NoError(t, a.loader.InvalidateTag(ctx, "tag-a"))
	for i := range 20 {
		require.NoError(t, a.loader.InvalidateTag(ctx, "tag-z"+strconv.Itoa(i)))
	}
	assert.Equal(t, "c1@1", f.read(a, "c1"))
	fields, err := c.HGetAll(ctx, a.shared.InvalidationLogKey()).Result()
	require.NoError(t, err)
	require.NotContains(t, fields, "ttag-a", "the tag was folded")
	require.Contains(t, fields, "f")
	require.LessOrEqual(t, len(fields), 5)

	late := f.member(redistest.Client(t), bounded)
	for key, want := range map[string]string{"a1": "", "b1": "", "u1": "u1@1", "c1": "c1@1"} {
		assert.Equal(t, want, serves(t, late, key), "%s: served by an instance started after the fold", key)
	}
	assert.Equal(t, "b1@1", serves(t, a, "b1"), "the running instance is not told of the fold")

	log, ok := late.store.(flightcache.InvalidationLog)
	require.True(t, ok, "a tiered Store over redisstore is an InvalidationLog")
	inv, err := log.LogInvalidation(ctx, flightcache.Invalidation{Tagged: true, At: flightcache.DeadlineOf(time.Now())})
	require.NoError(t, err)
	assert.True(t, inv.Tagged, "recorded as a Tagged invalidation")
	assert.Empty(t, inv.Tag)
	returned := time.Now()
	var (
		mu       sync.Mutex
		replayed []flightcache.Invalidation
	)
	stop := late.shared.WatchInvalidations(func(inv flightcache.Invalidation) {
		mu.Lock()
		defer mu.Unlock()
		replayed = append(replayed, inv)
	})
	mu.Lock()
	assert.Contains(t, replayed, inv, "recorded as the shared tier's fold, replayed as it was logged")
	mu.Unlock()
	stop()
	untilGone(t, a, []string{"b1", "c1"}, returned, tagVisibility)
	assert.Equal(t, "u1@1", serves(t, a, "u1"), "an untagged entry is still served: no Clear")
}
