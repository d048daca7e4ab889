package tiered_test

import (
	"context"
	"errors"
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
)

// A fleet member in these tests: a tiered Store and its shared tier.
type member struct {
	store  tiered.Store[string, string]
	shared *redisstore.Store[string, string]
	sub    *redisstore.Subscription
}

func newMember(t *testing.T, c redis.UniversalClient, prefix string, o redisstore.Options[string, string]) *member {
	t.Helper()
	m, err := startMember(c, prefix, o)
	require.NoError(t, err)
	t.Cleanup(m.close)
	return m
}

// startMember starts a member and waits until its subscription is live.
func startMember(c redis.UniversalClient, prefix string, o redisstore.Options[string, string]) (*member, error) {
	local, err := lrustore.New[string, string](1000)
	if err != nil {
		return nil, err
	}
	o.Prefix = prefix
	shared, err := redisstore.New[string, string](c, &o)
	if err != nil {
		return nil, err
	}
	m := &member{shared: shared, store: tiered.NewWithNotifier[string, string](local, shared, shared)}
	if m.sub, err = shared.Subscribe(m.store); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(5 * time.Second); !m.sub.Live(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			m.close()
			return nil, errors.New("the subscription is not live after 5 s")
		}
	}
	return m, nil
}

// close stops a member: its repairs, its subscription, its shared tier.
func (m *member) close() {
	m.store.Close()
	m.sub.Close()
	m.shared.Close()
}

// serves reports what m serves for key, or "" when it serves nothing.
func (m *member) serves(key string) string {
	e, ok, err := m.store.Get(context.Background(), key)
	if err != nil || !ok {
		return ""
	}
	return e.Value
}

// TestAHalfOpenSubscriptionStopsTheLocalTierWithinItsBound is issue 23,
// input 1: the subscription's connection lost its server side with no FIN
// or RST reaching the client (a NAT or proxy drop; here the proxy closes
// the Redis side and swallows the client's writes). The idle check counted
// a PING that was written as proof of life, and the instance served the old
// value for the whole test (about 15 minutes on a real half-open
// connection) for every key another instance changed
// (gomodule/redigo#295, celery/kombu#2590). Now a PING must be answered:
// past Heartbeat + Timeout the instance serves nothing from before the gap,
// then subscribes again, resets its local tier and serves the new value;
// for single reads and batches alike.
func TestAHalfOpenSubscriptionStopsTheLocalTierWithinItsBound(t *testing.T) {
	quietRedis()
	ctx := context.Background()
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	prefix := redistest.Prefix(t)
	const heartbeat, callTimeout = 300 * time.Millisecond, 200 * time.Millisecond
	o := redisstore.Options[string, string]{Heartbeat: heartbeat, Timeout: callTimeout, TripAfter: -1}
	viaProxy := redis.NewClient(&redis.Options{Addr: proxy.Addr})
	t.Cleanup(func() { viaProxy.Close() })
	a := newMember(t, viaProxy, prefix, o)
	direct := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { direct.Close() })
	b := newMember(t, direct, prefix, redisstore.Options[string, string]{Timeout: timeout})

	v := func(s string) flightcache.Entry[string] { return flightcache.Entry[string]{Value: s} }
	require.NoError(t, b.store.SetMany(ctx, map[string]flightcache.Entry[string]{"k": v("v1"), "j": v("v1")}))
	require.Equal(t, "v1", a.serves("k"))
	got, err := a.store.GetMany(ctx, []string{"j"})
	require.NoError(t, err)
	require.Equal(t, "v1", got["j"].Value, "A holds local copies")

	proxy.Blackhole()
	changed := time.Now()
	require.NoError(t, b.store.SetMany(ctx, map[string]flightcache.Entry[string]{"k": v("v2"), "j": v("v2")}))

	// A may serve v1 only until its PING goes unanswered.
	// Plus one look of the poll below (two reads, each up to callTimeout on
	// a dead pooled connection), plus a margin for a busy machine.
	bound := heartbeat + callTimeout + 2*callTimeout + 800*time.Millisecond
	require.Eventually(t, func() bool {
		got, _ := a.store.GetMany(ctx, []string{"j"})
		return a.serves("k") != "v1" && got["j"].Value != "v1"
	}, 5*time.Second, 10*time.Millisecond, "A serves the old value past the bound")
	assert.Less(t, time.Since(changed), bound, "A served v1 too long")
	assert.Never(t, func() bool { return a.serves("k") == "v1" || a.serves("j") == "v1" },
		heartbeat, 10*time.Millisecond, "nothing from before the gap is served again")

	// A subscribes again on a new connection, resets, and serves v2.
	require.Eventually(t, func() bool {
		got, _ := a.store.GetMany(ctx, []string{"j"})
		return a.sub.Live() && a.serves("k") == "v2" && got["j"].Value == "v2"
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, uint64(1), a.sub.Gaps(), "the gap is counted")
}

// TestASuspendedLocalTierServesAndCopiesNothing: between SuspendLocal and
// ResumeLocal, reads go to the shared tier and copy nothing into the local
// one; ResumeLocal drops what the local tier took meanwhile.
func TestASuspendedLocalTierServesAndCopiesNothing(t *testing.T) {
	ctx := context.Background()
	local, shared := newLRU[string](t), newLRU[string](t)
	s := tiered.New[string, string](local, shared)
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "old"}))
	require.NoError(t, s.SuspendLocal(ctx))
	assert.Zero(t, local.Len(), "suspending drops every local copy")
	require.NoError(t, local.Set(ctx, "k", flightcache.Entry[string]{Value: "planted"}))
	require.NoError(t, shared.Set(ctx, "k", flightcache.Entry[string]{Value: "new"}))
	require.NoError(t, shared.Set(ctx, "j", flightcache.Entry[string]{Value: "new"}))

	e, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "new", e.Value, "the local tier is not read")
	got, err := s.GetMany(ctx, []string{"k", "j"})
	require.NoError(t, err)
	assert.Equal(t, "new", got["k"].Value)
	_, ok, _ = local.Get(ctx, "j")
	assert.False(t, ok, "nothing is copied into the local tier")

	require.NoError(t, s.ResumeLocal(ctx))
	assert.Zero(t, local.Len(), "resuming drops what the local tier took meanwhile")
	_, err = s.GetMany(ctx, []string{"j"})
	require.NoError(t, err)
	_, ok, _ = local.Get(ctx, "j")
	assert.True(t, ok, "copies are made again")
}
