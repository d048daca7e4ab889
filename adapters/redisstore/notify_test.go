package redisstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/internal/redistest"
)

// waitFor waits until cond holds of l, as the subscription changes it.
func (l *localTier) waitFor(t *testing.T, what string, cond func(evicted []string, resets int) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if cond(l.state()) {
			return
		}
		select {
		case <-l.changed:
		case <-deadline:
			ev, resets := l.state()
			t.Fatalf("%s: never happened (evicted %q, %d resets)", what, ev, resets)
		}
	}
}

func TestAFailedNotificationIsSentAgainOnceRedisIsBack(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	a := newStore[string, string](t, srv.Client(t), &redisstore.Options[string, string]{Prefix: prefix, Timeout: time.Second})
	b := newStore[string, string](t, srv.Client(t), &redisstore.Options[string, string]{Prefix: prefix, Timeout: time.Second})
	bLocal := newLocalTier()
	sub, err := b.Subscribe(bLocal)
	require.NoError(t, err)
	defer sub.Close()

	srv.Stop()
	assert.Error(t, a.Notify(ctx, "k1"), "Notify still reports the failure")
	n, reset := a.PendingNotifications()
	assert.Equal(t, 1, n)
	assert.False(t, reset)

	require.NoError(t, srv.Restart())
	// Reset at the gap, and again once subscribed again.
	bLocal.waitFor(t, "b resubscribed", func(_ []string, resets int) bool { return resets == 2 })
	require.NoError(t, a.Notify(ctx, "k2"))
	bLocal.waitFor(t, "k1 and k2 reach b", func(ev []string, _ int) bool {
		return slices.Contains(ev, "k1") && slices.Contains(ev, "k2")
	})
	n, _ = a.PendingNotifications()
	assert.Zero(t, n)
}

func TestTooManyFailedNotificationsResetTheOtherInstances(t *testing.T) {
	defer redisstore.SetMaxPending(2)()
	ctx := context.Background()
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	a := newStore[string, string](t, srv.Client(t), &redisstore.Options[string, string]{Prefix: prefix, Timeout: time.Second})
	b := newStore[string, string](t, srv.Client(t), &redisstore.Options[string, string]{Prefix: prefix, Timeout: time.Second})
	bLocal := newLocalTier()
	sub, err := b.Subscribe(bLocal)
	require.NoError(t, err)
	defer sub.Close()

	srv.Stop()
	for _, k := range []string{"k1", "k2", "k3"} {
		assert.Error(t, a.Notify(ctx, k))
	}
	n, reset := a.PendingNotifications()
	assert.Zero(t, n)
	assert.True(t, reset, "past the limit, one reset replaces the keys")

	require.NoError(t, srv.Restart())
	bLocal.waitFor(t, "b resubscribed", func(_ []string, resets int) bool { return resets == 2 })
	require.NoError(t, a.Notify(ctx, "k4"))
	bLocal.waitFor(t, "the reset reaches b", func(ev []string, resets int) bool { return resets == 3 && slices.Contains(ev, "k4") })
}
