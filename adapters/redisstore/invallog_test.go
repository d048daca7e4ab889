package redisstore_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// applied records what a watcher of invalidations is given.
type applied struct {
	mu   sync.Mutex
	invs []flightcache.Invalidation
}

func (a *applied) apply(inv flightcache.Invalidation) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.invs = append(a.invs, inv)
}

// latest returns the latest instant given for tag ("" for Clear), and
// whether any was. A Tagged invalidation is neither.
func (a *applied) latest(tag string) (flightcache.Deadline, bool) {
	return a.latestOf(flightcache.Invalidation{Tag: tag})
}

// latestOf returns the latest instant given of kind's Tag and Tagged, and
// whether any was.
func (a *applied) latestOf(kind flightcache.Invalidation) (flightcache.Deadline, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var at flightcache.Deadline
	found := false
	for _, inv := range a.invs {
		if inv.Tag == kind.Tag && inv.Tagged == kind.Tagged && (!found || inv.At.After(at)) {
			at, found = inv.At, true
		}
	}
	return at, found
}

// has reports whether the watcher was given inv, or a later one of its
// kind.
func (a *applied) has(inv flightcache.Invalidation) bool {
	at, ok := a.latestOf(inv)
	return ok && !at.Before(inv.At)
}

func (a *applied) waitFor(t *testing.T, what string, inv flightcache.Invalidation) {
	t.Helper()
	require.Eventually(t, func() bool { return a.has(inv) }, 5*time.Second, time.Millisecond, what)
}

// watch makes a watcher of s, stopped when the test ends.
func watch[K comparable, V any](t *testing.T, s *redisstore.Store[K, V]) *applied {
	t.Helper()
	a := new(applied)
	stop := s.WatchInvalidations(a.apply)
	t.Cleanup(stop)
	return a
}

func at(t time.Time) flightcache.Deadline { return flightcache.DeadlineOf(t) }

// TestLogInvalidationRecordsAppliesAndTells: LogInvalidation returns the
// invalidation moved to ClockSkew past the Store's clock, has applied it to this Store's own
// watchers before it returns, records it in the log, and tells the other
// instances' watchers; a Clear alike.
func TestLogInvalidationRecordsAppliesAndTells(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	a := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, ClockSkew: 30 * time.Millisecond})
	b := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
	own, other := watch(t, a), watch(t, b)

	now := at(time.Now())
	for _, inv := range []flightcache.Invalidation{{Tag: "users", At: now}, {At: now + 1}} {
		before := at(time.Now())
		got, err := a.LogInvalidation(ctx, inv)
		require.NoError(t, err)
		after := at(time.Now())
		assert.Equal(t, inv.Tag, got.Tag)
		assert.False(t, got.At.Before(before.Add(30*time.Millisecond)), "moved to at least ClockSkew past the Store's clock")
		assert.False(t, got.At.After(after.Add(30*time.Millisecond)), "and no further")
		assert.True(t, own.has(got), "applied to the Store's own watchers before LogInvalidation returns")
		other.waitFor(t, "told to another instance's watchers", got)
	}
	fields, err := c.HGetAll(ctx, a.InvalidationLogKey()).Result()
	require.NoError(t, err)
	assert.Len(t, fields, 1, "the Clear pruned the tag it covers: %v", fields)
}

// TestTheLogKeepsTheLatestInstant: an invalidation recorded after a later
// one of the same tag never lowers it, and a new watcher is given the
// latest of each tag; a Clear removes the tags it covers from the log, and
// not those recorded after it.
func TestTheLogKeepsTheLatestInstant(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, ClockSkew: -1})
	now := at(time.Now())
	for _, inv := range []flightcache.Invalidation{
		{Tag: "a", At: now + 10}, {Tag: "a", At: now}, {Tag: "b", At: now + 5}, {Tag: "c", At: now + 30},
		{At: now + 20}, {At: now + 15}, {Tag: "a b", At: now + 40},
	} {
		_, err := s.LogInvalidation(ctx, inv)
		require.NoError(t, err)
	}
	late := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
	w := watch(t, late)
	got := map[string]flightcache.Deadline{}
	for _, tag := range []string{"", "a", "b", "c", "a b"} {
		if at, ok := w.latest(tag); ok {
			got[tag] = at
		}
	}
	assert.Equal(t, map[string]flightcache.Deadline{"": now + 20, "c": now + 30, "a b": now + 40}, got,
		"replayed before WatchInvalidations returned: the latest Clear, and the tags recorded after it")
	assert.False(t, late.Replaying())
}

// TestLogInvalidationRefusesWhatItCannotRecord: a tag that cannot be used
// is refused without a call to Redis, and a closed Store records nothing.
func TestLogInvalidationRefusesWhatItCannotRecord(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	s := newStore[string, string](t, c, nil)
	_, err := s.LogInvalidation(ctx, flightcache.Invalidation{Tag: string(make([]byte, flightcache.MaxTagLen+1)), At: 1})
	require.ErrorIs(t, err, flightcache.ErrInvalidTag)
	require.NoError(t, s.Close())
	_, err = s.LogInvalidation(ctx, flightcache.Invalidation{Tag: "t", At: 1})
	require.ErrorIs(t, err, flightcache.ErrClosed)
	n, err := c.Exists(ctx, s.InvalidationLogKey()).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "nothing recorded")
	stop := s.WatchInvalidations(func(flightcache.Invalidation) { t.Error("a closed Store watches nothing") })
	stop()
}

// TestAStoreWhoseReplayFailsServesNoEntry: while the log cannot be read
// (here, the key holds a string: WRONGTYPE), a watcher cannot be synced,
// and the Store serves no entry: Get and GetMany miss without an error,
// GetVersioned returns the version alone; the misses are counted. Once the
// log can be read, the replay is tried again in the background, and the
// Store serves again.
func TestAStoreWhoseReplayFailsServesNoEntry(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Timeout: 200 * time.Millisecond})
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}))
	require.NoError(t, c.Set(ctx, s.InvalidationLogKey(), "not a hash", 0).Err())

	start := time.Now()
	stop := s.WatchInvalidations(func(flightcache.Invalidation) {})
	defer stop()
	assert.Less(t, time.Since(start), 2*time.Second, "WatchInvalidations returns within about Timeout, replaying in the background")
	require.True(t, s.Replaying())
	wantBlind(t, s)

	require.NoError(t, c.Del(ctx, s.InvalidationLogKey()).Err())
	require.Eventually(t, func() bool { return !s.Replaying() }, 5*time.Second, 5*time.Millisecond, "replayed once the log can be read")
	e, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "v", e.Value)
}

// wantBlind checks that s serves no entry of "k", which it holds.
func wantBlind(t *testing.T, s *redisstore.Store[string, string]) {
	t.Helper()
	ctx := context.Background()
	before := s.ReplayMisses()
	_, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok, "Get serves nothing while a watcher is not synced")
	many, err := s.GetMany(ctx, []string{"k"})
	require.NoError(t, err)
	assert.Empty(t, many)
	_, ok, v, err := s.GetVersioned(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok)
	assert.NotZero(t, v, "the version still fences a fill")
	entries, versions, err := s.GetManyVersioned(ctx, []string{"k"})
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.NotZero(t, versions["k"])
	assert.Equal(t, before+4, s.ReplayMisses(), "each read counted")
}

// TestAGapIsReplayed: through a proxy that turns the watchers'
// subscription half-open, an invalidation recorded by another instance
// during the gap, whose message this one cannot hear, is applied once the
// subscription is back, by the replay; and until the replay has
// succeeded, the Store serves no entry (the log is made unreadable during
// the gap to hold it there).
func TestAGapIsReplayed(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	direct := plainClient(t, srv.Addr)
	prefix := redistest.Prefix(t)
	s := newStore[string, string](t, plainClient(t, proxy.Addr), &redisstore.Options[string, string]{Prefix: prefix,
		Heartbeat: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, TripAfter: -1})
	other := newStore[string, string](t, direct, &redisstore.Options[string, string]{Prefix: prefix})
	w := watch(t, s)
	require.False(t, s.Replaying())
	require.NoError(t, other.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}))

	proxy.Blackhole()
	// Within Heartbeat + Timeout, before the gap is found: an invalidation
	// whose message s cannot hear, and a log that cannot be read, to hold
	// the replay off.
	missed, err := other.LogInvalidation(ctx, flightcache.Invalidation{Tag: "missed", At: at(time.Now())})
	require.NoError(t, err)
	log, err := direct.Dump(ctx, other.InvalidationLogKey()).Result()
	require.NoError(t, err)
	require.NoError(t, direct.Set(ctx, other.InvalidationLogKey(), "not a hash", 0).Err())

	require.Eventually(t, s.Replaying, 3*time.Second, time.Millisecond, "the gap unsyncs the watcher")
	assert.Never(t, func() bool { return !s.Replaying() }, 500*time.Millisecond, 10*time.Millisecond,
		"no replay, no sync: back on a new connection, the Store still serves nothing")
	_, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok, "Get serves nothing while the watcher is not synced")
	many, err := s.GetMany(ctx, []string{"k"})
	require.NoError(t, err)
	assert.Empty(t, many)
	assert.False(t, w.has(missed))

	require.NoError(t, direct.RestoreReplace(ctx, other.InvalidationLogKey(), 0, log).Err())
	w.waitFor(t, "the invalidation made during the gap is replayed", missed)
	require.Eventually(t, func() bool { return !s.Replaying() }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		_, ok, err := s.Get(ctx, "k") // the pool's first connection may still be half-open
		return err == nil && ok
	}, 5*time.Second, 5*time.Millisecond, "synced again, the Store serves")

	// And messages reach it again.
	next, err := other.LogInvalidation(ctx, flightcache.Invalidation{At: at(time.Now())})
	require.NoError(t, err)
	w.waitFor(t, "a Clear after the gap", next)
}

// TestWatchersStopAndLeaveNothingBehind: several watchers share one Store;
// a stopped one is given nothing more while the others still are; with
// the last one stopped the Store serves again whatever the log, and its
// goroutines end (goleak checks the rest in TestMain).
func TestWatchersStopAndLeaveNothingBehind(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
	other := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
	var first, second applied
	stop1 := s.WatchInvalidations(first.apply)
	stop2 := s.WatchInvalidations(second.apply)
	inv, err := other.LogInvalidation(ctx, flightcache.Invalidation{Tag: "x", At: at(time.Now())})
	require.NoError(t, err)
	first.waitFor(t, "the first watcher", inv)
	second.waitFor(t, "the second watcher", inv)

	stop1()
	stop1() // twice is fine
	n := len(first.invs)
	inv, err = other.LogInvalidation(ctx, flightcache.Invalidation{Tag: "y", At: at(time.Now())})
	require.NoError(t, err)
	second.waitFor(t, "the watcher still registered", inv)
	assert.Len(t, first.invs, n, "a stopped watcher is given nothing")

	stop2()
	require.NoError(t, c.Set(ctx, s.InvalidationLogKey(), "not a hash", 0).Err())
	defer c.Del(ctx, s.InvalidationLogKey())
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}))
	_, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ok, "without watchers the Store does not look at the log")
}

// TestLoadersOverRedisInvalidateTagsAndClearAcrossInstances: a Loader per
// instance, each over its own Store on one Redis, with no local tier: an
// InvalidateTag on one makes the other load the tagged keys again, and
// only those; a Clear makes it load everything again; a Loader started
// after both loads everything anew.
func TestLoadersOverRedisInvalidateTagsAndClearAcrossInstances(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	loader := func() *flightcache.Loader[string, string] {
		s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
		l, err := flightcache.New[string, string](s, &flightcache.Options{FreshFor: time.Hour})
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		return l
	}
	a, b := loader(), loader()
	var mu sync.Mutex
	loads := map[string]int{}
	load := func(ctx context.Context, key string) (string, error) {
		mu.Lock()
		loads[key]++
		n := loads[key]
		mu.Unlock()
		flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: []string{"tag-" + key[:1]}})
		return key + "@" + string(rune('0'+n)), nil
	}
	read := func(l *flightcache.Loader[string, string], key string) string {
		v, err := l.GetOrLoad(ctx, key, load)
		require.NoError(t, err)
		return v
	}
	for _, k := range []string{"x1", "y1"} {
		assert.Equal(t, k+"@1", read(a, k))
		assert.Equal(t, k+"@1", read(b, k), "b reads a's entry from Redis")
	}
	require.NoError(t, a.InvalidateTag(ctx, "tag-x"))
	require.Eventually(t, func() bool { return read(b, "x1") == "x1@2" }, 5*time.Second, time.Millisecond,
		"b stops serving the tagged entry")
	assert.Equal(t, "y1@1", read(b, "y1"), "an entry of another tag is still served")
	assert.Equal(t, "x1@2", read(a, "x1"), "a reads b's new load")

	require.NoError(t, b.Clear(ctx))
	assert.Equal(t, "y1@2", read(b, "y1"))
	require.Eventually(t, func() bool { return read(a, "x1") == "x1@3" }, 5*time.Second, time.Millisecond)
	late := loader()
	mu.Lock()
	before := slices.Clone([]int{loads["x1"], loads["y1"]})
	mu.Unlock()
	read(late, "x1")
	read(late, "y1")
	mu.Lock()
	assert.Equal(t, before, []int{loads["x1"], loads["y1"]}, "entries loaded after the Clear are served to a new instance")
	mu.Unlock()
}

// TestAnInvalidationGivenUpOnIsNeverRecordedNorTold is rule 13 for the
// log: during a write stall longer than Options.Timeout, LogInvalidation
// times out and returns its error; its script, queued in Redis, runs once
// Redis resumes, past its deadline, and records nothing. The Store checks
// the log in the background and, finding nothing, tells no one: an
// instance started afterwards and a watcher of another instance never see
// it, and nothing waits to be sent.
func TestAnInvalidationGivenUpOnIsNeverRecordedNorTold(t *testing.T) {
	for name, client := range clientKinds {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.Start(t)
			prefix := redistest.Prefix(t)
			a := newStore[string, string](t, client(t, srv.Addr), &redisstore.Options[string, string]{
				Prefix: prefix, Timeout: abandonTimeout, TripAfter: -1})
			admin := plainClient(t, srv.Addr)
			b := newStore[string, string](t, admin, &redisstore.Options[string, string]{Prefix: prefix})
			other := watch(t, b)
			require.NoError(t, a.Set(ctx, "warm", flightcache.Entry[string]{Value: "v"}), "A's connection is made")

			require.NoError(t, admin.Do(ctx, "CLIENT", "PAUSE", 700, "WRITE").Err())
			_, err := a.LogInvalidation(ctx, flightcache.Invalidation{Tag: "t", At: at(time.Now())})
			require.ErrorIs(t, err, redisstore.ErrTimeout)
			pending, _ := a.PendingInvalidations()
			assert.Equal(t, 1, pending, "kept to check: its reply was lost, not its script")
			require.NoError(t, admin.Set(ctx, prefix+"probe", 1, 0).Err(), "a write waits out the pause; the queued script runs then")
			require.Eventually(t, func() bool { n, _ := a.PendingInvalidations(); return n == 0 }, 5*time.Second, 5*time.Millisecond,
				"the background check ends")
			n, err := admin.HExists(ctx, a.InvalidationLogKey(), "tt").Result()
			require.NoError(t, err)
			assert.False(t, n, "nothing recorded")
			late := newStore[string, string](t, admin, &redisstore.Options[string, string]{Prefix: prefix})
			w := watch(t, late)
			_, found := w.latest("t")
			assert.False(t, found, "a new instance is given nothing")
			_, found = other.latest("t")
			assert.False(t, found, "nor is a running one")
		})
	}
}

// TestClockSkewDoesNotPushAnInstantAlreadyAhead: an invalidation whose
// instant is ahead of the Store's clock by more than ClockSkew (made by an
// instance whose clock runs ahead, or stamped past an earlier one) is
// recorded as it is, so that invalidations in quick succession do not
// push the fleet's instants ever later.
func TestClockSkewDoesNotPushAnInstantAlreadyAhead(t *testing.T) {
	c := redistest.Client(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: redistest.Prefix(t), ClockSkew: 30 * time.Millisecond})
	ahead := at(time.Now().Add(time.Second))
	got, err := s.LogInvalidation(context.Background(), flightcache.Invalidation{Tag: "t", At: ahead})
	require.NoError(t, err)
	assert.Equal(t, ahead, got.At)
}

// TestAStoreServesOnceWatchInvalidationsReturns: once WatchInvalidations
// has returned, with the log replayed, the Store serves its entries at
// once: the next Get finds them, Replaying is false. (The Store used to
// let the watch return before it recounted its watchers, so that a read
// right after it could still find the Store replaying.) Repeated, since
// the window was a few instructions wide.
func TestAStoreServesOnceWatchInvalidationsReturns(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	writer := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
	require.NoError(t, writer.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}))
	_, err := writer.LogInvalidation(ctx, flightcache.Invalidation{Tag: "t", At: at(time.Now().Add(-time.Hour))})
	require.NoError(t, err)
	for i := range 50 {
		s, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{Prefix: prefix})
		require.NoError(t, err)
		stop := s.WatchInvalidations(func(flightcache.Invalidation) {})
		require.False(t, s.Replaying(), "round %d", i)
		e, ok, err := s.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok, "round %d: the entry is served", i)
		require.Equal(t, "v", e.Value)
		stop()
		require.NoError(t, s.Close())
	}
}

// hangPublish is a go-redis hook under which every PUBLISH hangs until its
// call's context ends: a Redis that took an invalidation's record, then
// stopped answering.
type hangPublish struct{}

func (hangPublish) DialHook(next redis.DialHook) redis.DialHook { return next }

func (hangPublish) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.EqualFold(cmd.Name(), "publish") {
			<-ctx.Done()
			return ctx.Err()
		}
		return next(ctx, cmd)
	}
}

func (hangPublish) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestALogInvalidationWhosePublishHangsReturnsByItsCallersDeadline:
// once the log has recorded an invalidation, telling the other instances
// of it goes on whatever the caller's context says, but the caller waits
// for it no longer than its context allows (rule 13; redis/go-redis#2145,
// as tiered's notification after a write): it returns the invalidation as
// recorded by its deadline, not by the Store's Timeout after it, and Close
// waits for the message.
func TestALogInvalidationWhosePublishHangsReturnsByItsCallersDeadline(t *testing.T) {
	c := plainClient(t, redistest.Addr(t))
	c.AddHook(hangPublish{})
	const storeTimeout = 500 * time.Millisecond
	s, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{Prefix: redistest.Prefix(t), Timeout: storeTimeout, TripAfter: -1})
	require.NoError(t, err)
	const deadline = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	inv := flightcache.Invalidation{Tag: "t", At: at(time.Now())}
	start := time.Now()
	got, err := s.LogInvalidation(ctx, inv)
	took := time.Since(start)
	require.NoError(t, err, "the log recorded it")
	assert.Equal(t, "t", got.Tag)
	assert.Less(t, took, deadline+storeTimeout/2, "LogInvalidation returns by its caller's deadline, not the Store's Timeout after it")
	assert.Contains(t, logFields(t, c, s), "tt", "the log holds it")
	require.NoError(t, s.Close()) // waits for the message's goroutine (goleak in TestMain)
}
