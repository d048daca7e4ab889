package redisstore_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestAnOutageCostsAFewTimeoutsNotOnePerCall: with Redis paused, the first
// TripAfter calls each wait out the Timeout; after them, calls fail at once
// without reaching Redis, until a probe finds it answering again.
func TestAnOutageCostsAFewTimeoutsNotOnePerCall(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	var logs syncBuffer
	s := newStore[string, string](t, plainClient(t, srv.Addr), &redisstore.Options[string, string]{
		Timeout: callTimeout, TripAfter: 3, OpenFor: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}))
	pause(t, srv.Addr, 1500*time.Millisecond)

	for range 3 {
		_, _, err := s.Get(ctx, "k")
		require.ErrorIs(t, err, redisstore.ErrTimeout)
	}
	for range 100 {
		_, _, err := s.Get(ctx, "k")
		require.ErrorIs(t, err, redisstore.ErrUnavailable, "the breaker is open: no call reaches Redis")
	}
	assert.Equal(t, uint64(100), s.Unavailable(), "held-off calls are counted")
	assert.Contains(t, logs.String(), "holding calls off")

	// Once the pause ends, a probe closes the breaker again.
	require.Eventually(t, func() bool {
		_, ok, err := s.Get(ctx, "k")
		return err == nil && ok
	}, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, logs.String(), "probing Redis")
	assert.Contains(t, logs.String(), "calls flow")
	require.NoError(t, s.Close())
}

func TestTheBreakerOpensOnAStoppedRedisAndClosesOnceItIsRestarted(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	var logs syncBuffer
	s := newStore[string, string](t, plainClient(t, srv.Addr), &redisstore.Options[string, string]{
		Timeout: time.Second, TripAfter: 2, OpenFor: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}))
	srv.Stop()
	for range 2 {
		_, _, err := s.Get(ctx, "k")
		require.Error(t, err)
		require.NotErrorIs(t, err, redisstore.ErrUnavailable)
	}
	_, _, err := s.Get(ctx, "k")
	require.ErrorIs(t, err, redisstore.ErrUnavailable)
	assert.ErrorIs(t, s.Set(ctx, "k", flightcache.Entry[string]{}), redisstore.ErrUnavailable)
	_, err = s.Lease(ctx, "k")
	assert.ErrorIs(t, err, redisstore.ErrUnavailable)

	require.NoError(t, srv.Restart())
	require.Eventually(t, func() bool {
		return s.Set(ctx, "k", flightcache.Entry[string]{Value: "back"}) == nil
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 1, strings.Count(logs.String(), "holding calls off"), "one log line per opening, not per call")
}

func TestCallersThatLeaveDoNotTripTheBreaker(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore[string, string](t, plainClient(t, srv.Addr), &redisstore.Options[string, string]{TripAfter: 1, Timeout: time.Second})
	pause(t, srv.Addr, 1500*time.Millisecond)
	for range 3 {
		// The caller gives up long before the Store's Timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, _, err := s.Get(ctx, "k")
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, redisstore.ErrUnavailable)
	}
	assert.Zero(t, s.Unavailable(), "a caller's own deadline says nothing of Redis")
	require.NoError(t, s.Close())
}

func TestTheBreakerCanBeTurnedOff(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore[string, string](t, srv.Client(t), &redisstore.Options[string, string]{TripAfter: -1, Timeout: time.Second})
	srv.Stop()
	for range 10 {
		_, _, err := s.Get(context.Background(), "k")
		require.Error(t, err)
		require.NotErrorIs(t, err, redisstore.ErrUnavailable)
	}
	_, err := redisstore.New[string, string](srv.Client(t), &redisstore.Options[string, string]{OpenFor: -1})
	assert.ErrorContains(t, err, "OpenFor")
}
