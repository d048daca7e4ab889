package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
	"github.com/flightcache/flightcache/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newStore[K comparable, V any](t *testing.T, c redis.UniversalClient, opts *redisstore.Options[K, V]) *redisstore.Store[K, V] {
	t.Helper()
	if opts == nil {
		opts = &redisstore.Options[K, V]{}
	}
	if opts.Prefix == "" {
		opts.Prefix = redistest.Prefix(t)
	}
	if opts.Timeout == 0 {
		// Generous, so that a busy, race-instrumented machine does not turn
		// slow calls into failures; the timeout tests set their own.
		opts.Timeout = 5 * time.Second
	}
	s, err := redisstore.New(c, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, c redis.UniversalClient) {
		storetest.Run(t, func(t *testing.T) flightcache.Store[string, string] {
			return newStore[string, string](t, c, nil)
		})
	})
}

// TestBatchesFindEveryKeyOnEveryTopology: on a Ring or a Cluster, the keys of
// one batch live on different servers; every read and write must reach the
// right one (a Ring's MGET went to its first key's shard: 13 of 20 found).
func TestBatchesFindEveryKeyOnEveryTopology(t *testing.T) {
	ctx := context.Background()
	redistest.ForEach(t, func(t *testing.T, c redis.UniversalClient) {
		s := newStore[string, string](t, c, nil)
		var keys []string
		for i := range 20 {
			k := fmt.Sprintf("one-%d", i)
			keys = append(keys, k)
			require.NoError(t, s.Set(ctx, k, flightcache.Entry[string]{Value: k}))
		}
		got, err := s.GetMany(ctx, keys)
		require.NoError(t, err)
		assert.Len(t, got, 20, "GetMany finds every key stored one by one")

		batch := map[string]flightcache.Entry[string]{}
		for i := range 30 {
			k := fmt.Sprintf("many-%d", i)
			batch[k] = flightcache.Entry[string]{Value: k}
		}
		require.NoError(t, s.SetMany(ctx, batch))
		for k := range batch {
			e, ok, err := s.Get(ctx, k)
			require.NoError(t, err)
			require.True(t, ok, "Get finds %s written by SetMany", k)
			assert.Equal(t, k, e.Value)
		}
		got, err = s.GetMany(ctx, append(keysOf(batch), "absent"))
		require.NoError(t, err)
		assert.Len(t, got, 30)
	})
}

type userID string

type point struct{ X, Y int }

func TestKeysOfEveryBuiltInKindRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	e := flightcache.Entry[string]{Value: "v"}

	ints := newStore[int64, string](t, c, nil)
	require.NoError(t, ints.Set(ctx, -42, e))
	got, ok, err := ints.Get(ctx, -42)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "v", got.Value)

	named := newStore[userID, string](t, c, &redisstore.Options[userID, string]{Prefix: "fctest:named:" + t.Name() + ":"})
	require.NoError(t, named.Set(ctx, "u-7", e))
	raw, err := c.Get(ctx, "fctest:named:"+t.Name()+":{ku-7}v").Bytes()
	require.NoError(t, err, "the key is the prefix, then the key's string form in a hash tag, then the kind")
	assert.NotEmpty(t, raw)
	c.Del(ctx, "fctest:named:"+t.Name()+":{ku-7}v")

	_, err = redisstore.New[point, string](c, nil)
	assert.ErrorContains(t, err, "needs Options.Key")
	custom := newStore[point, string](t, c, &redisstore.Options[point, string]{Key: func(p point) string { return "p" + string(rune('0'+p.X)) }})
	require.NoError(t, custom.Set(ctx, point{X: 3}, e))
	_, ok, err = custom.Get(ctx, point{X: 3})
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestBadOptions(t *testing.T) {
	c := redistest.Client(t)
	_, err := redisstore.New[string, string](nil, nil)
	assert.Error(t, err)
	var nilClient *redis.Client
	_, err = redisstore.New[string, string](nilClient, nil)
	assert.Error(t, err, "a typed nil client is refused too")
	_, err = redisstore.New[string, string](c, &redisstore.Options[string, string]{Timeout: -1})
	assert.ErrorContains(t, err, "Timeout")
	_, err = redisstore.New[string, string](c, &redisstore.Options[string, string]{LeaseTTL: -1})
	assert.ErrorContains(t, err, "LeaseTTL")
	_, err = redisstore.New[string, string](c, &redisstore.Options[string, string]{MaxLogTags: -1})
	assert.ErrorContains(t, err, "MaxLogTags")
}

// upperCodec stores values upper-cased, to show that the Codec is used.
type upperCodec struct{}

func (upperCodec) Marshal(v string) ([]byte, error)    { return []byte(strings.ToUpper(v)), nil }
func (upperCodec) Unmarshal(b []byte, v *string) error { *v = string(b); return nil }

func TestCodecIsPluggable(t *testing.T) {
	ctx := context.Background()
	s := newStore[string, string](t, redistest.Client(t), &redisstore.Options[string, string]{Codec: upperCodec{}})
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "quiet"}))
	e, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "QUIET", e.Value)
}

func TestUndecodableBytesAreACountedLoggedMiss(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	var logs bytes.Buffer
	type user struct{ Name string }
	s := newStore[string, user](t, c, &redisstore.Options[string, user]{
		Prefix: prefix, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, s.Set(ctx, "good", flightcache.Entry[user]{Value: user{"ada"}}))
	good, err := c.Get(ctx, s.RedisKey("good")).Bytes()
	require.NoError(t, err)

	otherVersion := append([]byte{}, good...)
	otherVersion[1] = 9
	otherType, _ := json.Marshal([]int{1, 2})
	otherType = append(append([]byte{}, good[:redisstore.EnvelopeHeader]...), otherType...) // the header, then JSON of another type
	for key, raw := range map[string][]byte{
		"garbage": []byte("not an entry at all"), "short": {0xFC}, "version": otherVersion, "type": otherType,
	} {
		require.NoError(t, c.Set(ctx, s.RedisKey(key), raw, time.Minute).Err())
		e, ok, err := s.Get(ctx, key)
		require.NoError(t, err)
		assert.False(t, ok, "%s: undecodable bytes must be a miss", key)
		assert.Zero(t, e)
	}
	assert.Equal(t, uint64(4), s.DecodeErrors())
	assert.Contains(t, logs.String(), "undecodable entry")
	assert.Contains(t, logs.String(), "key="+prefix, "the log names the key")
	assert.Equal(t, 1, strings.Count(logs.String(), "undecodable"), "at most one line a second")

	got, err := s.GetMany(ctx, []string{"good", "garbage"})
	require.NoError(t, err)
	assert.Equal(t, map[string]flightcache.Entry[user]{"good": {Value: user{"ada"}}}, got)
}

func TestRedisTTLComesFromExpiresAt(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})

	require.NoError(t, s.Set(ctx, "timed", flightcache.Entry[string]{Value: "v", ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour))}))
	d, err := c.PTTL(ctx, s.RedisKey("timed")).Result()
	require.NoError(t, err)
	assert.Greater(t, d, 59*time.Minute)
	assert.LessOrEqual(t, d, time.Hour)

	require.NoError(t, s.Set(ctx, "forever", flightcache.Entry[string]{Value: "v"}))
	d, err = c.PTTL(ctx, s.RedisKey("forever")).Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), d, "no ExpiresAt, no TTL")

	require.NoError(t, s.SetMany(ctx, map[string]flightcache.Entry[string]{
		"a": {Value: "a", ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Minute))},
		"b": {Value: "b", ExpiresAt: flightcache.DeadlineOf(time.Now().Add(-time.Second))},
	}))
	d, err = c.PTTL(ctx, s.RedisKey("a")).Result()
	require.NoError(t, err)
	assert.Greater(t, d, 50*time.Second)
	got, err := s.GetMany(ctx, []string{"a", "b", "timed", "none"})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"a", "timed"}, keysOf(got))
}

func keysOf[K comparable, V any](m map[K]V) []K {
	var ks []K
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestEveryCallHonoursTheContext(t *testing.T) {
	s := newStore[string, string](t, redistest.Client(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := s.Get(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, s.Set(ctx, "k", flightcache.Entry[string]{}), context.Canceled)
	assert.ErrorIs(t, s.Delete(ctx, "k"), context.Canceled)
	_, err = s.GetMany(ctx, []string{"k"})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.Lease(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestADeadRedisFailsEachCallWithinTheTimeout(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Timeout: 300 * time.Millisecond})
	require.NoError(t, s.Set(context.Background(), "k", flightcache.Entry[string]{Value: "v"}))
	srv.Stop()

	start := time.Now()
	_, _, err := s.Get(context.Background(), "k")
	assert.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "a call to a dead Redis does not hang")

	require.NoError(t, srv.Restart())
	require.Eventually(t, func() bool {
		return s.Set(context.Background(), "k", flightcache.Entry[string]{Value: "back"}) == nil
	}, 10*time.Second, 20*time.Millisecond, "the store works again once Redis is back")
}

func TestLeaseLetsOneInstanceLoad(t *testing.T) {
	redistest.ForEach(t, testLeaseLetsOneInstanceLoad)
}

func testLeaseLetsOneInstanceLoad(t *testing.T, c redis.UniversalClient) {
	ctx := context.Background()
	prefix := redistest.Prefix(t)
	a := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
	b := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})

	release, err := a.Lease(ctx, "k")
	require.NoError(t, err)
	require.NotNil(t, release, "the first instance gets the lease")

	waited := make(chan func())
	go func() {
		r, err := b.Lease(ctx, "k")
		assert.NoError(t, err)
		waited <- r
	}()
	select {
	case <-waited:
		t.Fatal("a second instance got the lease while the first held it")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	assert.Nil(t, <-waited, "the waiter returns without the lease, to look at the store again")

	again, err := b.Lease(ctx, "k")
	require.NoError(t, err)
	require.NotNil(t, again)
	again()
}

func TestADeadLeaseHolderDelaysOthersByAtMostTheLeaseTTL(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	const ttl = 300 * time.Millisecond
	dead := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, LeaseTTL: ttl})
	alive := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, LeaseTTL: ttl})

	_, err := dead.Lease(ctx, "k") // taken, never released: its holder "died"
	require.NoError(t, err)
	require.NoError(t, dead.Close()) // and stopped keeping the lease alive
	start := time.Now()
	ctx5, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, err := alive.Lease(ctx5, "k")
	require.NoError(t, err, "the wait ends when the lease expires, not never")
	assert.Nil(t, r)
	assert.GreaterOrEqual(t, time.Since(start), ttl-20*time.Millisecond)

	r, err = alive.Lease(ctx5, "k")
	require.NoError(t, err)
	require.NotNil(t, r, "then another instance takes over")
	r()
}

func TestAnExpiredLeaseCannotReleaseTheNextHolders(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, LeaseTTL: 100 * time.Millisecond})
	old, err := s.Lease(ctx, "k")
	require.NoError(t, err)
	require.NotNil(t, old)
	// The lease expires while its holder cannot reach Redis, say.
	require.NoError(t, c.Del(ctx, s.LeaseKey("k")).Err())

	next, err := s.Lease(ctx, "k")
	require.NoError(t, err)
	require.NotNil(t, next)
	old() // late release of the expired lease
	n, err := c.Exists(ctx, s.LeaseKey("k")).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "the next holder's lease survives")
	next()
}

func TestALiveHoldersLeaseOutlastsLeaseTTL(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	const ttl = 600 * time.Millisecond
	a := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, LeaseTTL: ttl})
	b := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, LeaseTTL: ttl})
	release, err := a.Lease(ctx, "k")
	require.NoError(t, err)
	require.NotNil(t, release)

	waited := make(chan func(), 1)
	go func() {
		r, err := b.Lease(ctx, "k")
		assert.NoError(t, err)
		waited <- r
	}()
	select {
	case <-waited:
		t.Fatal("the lease of a live, slow holder expired and let another instance in")
	case <-time.After(3 * ttl):
	}
	d, err := c.PTTL(ctx, a.LeaseKey("k")).Result()
	require.NoError(t, err)
	assert.Positive(t, d, "the lease is still there after three times its TTL")
	release()
	assert.Nil(t, <-waited)
	require.NoError(t, a.Close())
}

func TestAReleaseWakesSubscribedWaitersAtOnce(t *testing.T) {
	// Waiters that poll only every minute: only the message can wake them.
	defer redisstore.SetLeasePoll(time.Minute)()
	redistest.ForEach(t, func(t *testing.T, c redis.UniversalClient) {
		if _, ring := c.(*redis.Ring); ring {
			t.Skip("on a Ring the release message goes to the lease key's shard; waiters there poll")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		prefix := redistest.Prefix(t)
		a := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
		b := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
		sub, err := b.Subscribe(newLocalTier())
		require.NoError(t, err)
		defer sub.Close()

		release, err := a.Lease(ctx, "k")
		require.NoError(t, err)
		waited := make(chan error, 1)
		go func() {
			r, err := b.Lease(ctx, "k")
			if r != nil {
				r()
			}
			waited <- err
		}()
		require.Eventually(t, func() bool { return b.WaitingForLeases() == 1 }, 10*time.Second, time.Millisecond)
		release()
		require.NoError(t, <-waited, "the waiter returned before its 20 s context: the message woke it")
	})
}

// localTier records what Subscribe asks of a local tier.
type localTier struct {
	mu      sync.Mutex
	evicted []string
	resets  int
	changed chan struct{}
}

func newLocalTier() *localTier { return &localTier{changed: make(chan struct{}, 100)} }

func (l *localTier) EvictLocal(_ context.Context, key string) error {
	l.mu.Lock()
	l.evicted = append(l.evicted, key)
	l.mu.Unlock()
	l.changed <- struct{}{}
	return nil
}

func (l *localTier) ResetLocal(context.Context) error {
	l.mu.Lock()
	l.resets++
	l.mu.Unlock()
	l.changed <- struct{}{}
	return nil
}

func (l *localTier) state() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.evicted...), l.resets
}

func TestNotifyEvictsFromOtherInstancesOnly(t *testing.T) {
	redistest.ForEach(t, testNotifyEvictsFromOtherInstancesOnly)
}

func testNotifyEvictsFromOtherInstancesOnly(t *testing.T, c redis.UniversalClient) {
	ctx := context.Background()
	prefix := redistest.Prefix(t)
	a := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
	b := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
	aLocal, bLocal := newLocalTier(), newLocalTier()
	for _, x := range []struct {
		s *redisstore.Store[string, string]
		l *localTier
	}{{a, aLocal}, {b, bLocal}} {
		sub, err := x.s.Subscribe(x.l)
		require.NoError(t, err)
		t.Cleanup(func() { sub.Close() })
	}
	// A notification sent before the subscriptions are in place is lost, so
	// send until one arrives.
	require.Eventually(t, func() bool {
		require.NoError(t, a.Notify(ctx, "user:1"))
		select {
		case <-bLocal.changed:
			return true
		case <-time.After(20 * time.Millisecond):
			return false
		}
	}, 5*time.Second, time.Millisecond)
	ev, resets := bLocal.state()
	assert.Equal(t, "user:1", ev[0])
	assert.Zero(t, resets, "the first subscription does not reset")
	ev, _ = aLocal.state()
	assert.Empty(t, ev, "an instance ignores its own notifications")
}

func TestADroppedSubscriptionClearsTheLocalTierOnceBack(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	var logs syncBuffer
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	local := newLocalTier()
	sub, err := s.Subscribe(local)
	require.NoError(t, err)
	defer sub.Close()
	admin := srv.Client(t)
	require.Eventually(t, func() bool {
		chans, _ := admin.PubSubChannels(context.Background(), "*").Result()
		return len(chans) == 1
	}, 5*time.Second, 10*time.Millisecond)

	// A network cut or a restart, as the subscriber sees it.
	srv.Stop()
	require.NoError(t, srv.Restart())
	// Reset at the gap, and again once it is back.
	local.waitFor(t, "the local tier reset after the subscription came back", func(_ []string, resets int) bool { return resets == 2 })
	assert.Equal(t, uint64(1), sub.Gaps())
	assert.Contains(t, logs.String(), "subscription dropped")
	assert.Eventually(t, func() bool { return strings.Contains(logs.String(), "cleared the local tier") },
		5*time.Second, 5*time.Millisecond, "the reset is logged")
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
