package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestAQuietSubscriptionThatAnswersItsPingsHasNoGaps: a channel on which
// nothing is published proves itself alive by its PONGs, Heartbeat after
// Heartbeat, and is never taken for a gap (issue 23, input 1: a PING must
// be answered, and an answered one must count).
func TestAQuietSubscriptionThatAnswersItsPingsHasNoGaps(t *testing.T) {
	s := newStore[string, string](t, redistest.Client(t), &redisstore.Options[string, string]{
		Heartbeat: 20 * time.Millisecond, Timeout: time.Second})
	local := newLocalTier()
	sub, err := s.Subscribe(local)
	require.NoError(t, err)
	defer sub.Close()
	require.True(t, sub.Live())
	assert.Never(t, func() bool { return !sub.Live() || sub.Gaps() > 0 }, 500*time.Millisecond, 10*time.Millisecond)
	_, resets := local.state()
	assert.Zero(t, resets)
}

// TestAHalfOpenSubscriptionIsAGapAndComesBack is issue 23, input 1 at the
// level of the Store (gomodule/redigo#295): through a proxy that turns the
// subscription's connection half-open, the unanswered PING is a gap within
// Heartbeat + Timeout, counted, the local tier reset, and a new connection
// subscribes, after which the local tier is reset again.
func TestAHalfOpenSubscriptionIsAGapAndComesBack(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.StartProxy(t, srv.Addr)
	prefix := redistest.Prefix(t)
	s := newStore[string, string](t, plainClient(t, proxy.Addr), &redisstore.Options[string, string]{Prefix: prefix,
		Heartbeat: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, TripAfter: -1})
	local := newLocalTier()
	sub, err := s.Subscribe(local)
	require.NoError(t, err)
	defer sub.Close()
	require.True(t, sub.Live())

	proxy.Blackhole()
	start := time.Now()
	local.waitFor(t, "the gap resets the local tier", func(_ []string, resets int) bool { return resets >= 1 })
	assert.Less(t, time.Since(start), 100*time.Millisecond+100*time.Millisecond+800*time.Millisecond, "Heartbeat + Timeout, and a margin")
	local.waitFor(t, "back on a new connection, reset again", func(_ []string, resets int) bool { return resets == 2 })
	require.Eventually(t, sub.Live, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, uint64(1), sub.Gaps())

	// Notifications reach it again.
	other := newStore[string, string](t, plainClient(t, srv.Addr), &redisstore.Options[string, string]{Prefix: prefix})
	require.NoError(t, other.Notify(context.Background(), "k"))
	local.waitFor(t, "k reaches it", func(ev []string, _ int) bool { return len(ev) == 1 && ev[0] == "k" })
}
