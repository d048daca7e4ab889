package ristrettostore_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

func TestFarExpiresAtIsKeptNotExpired(t *testing.T) {
	// The time to live given to ristretto saturates: an ExpiresAt beyond
	// what time.Duration or UnixNano can hold means "very long", never a
	// time to live that wraps into the past.
	ctx := context.Background()
	s := newStore[string, int](t, 100)
	for name, at := range map[string]time.Time{
		"year 2300":      time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
		"max unix":       time.Unix(math.MaxInt64/2, 999_999_999),
		"max unix nanos": time.Unix(0, math.MaxInt64),
		"year 2200":      time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
		"in 290 years":   time.Now().Add(time.Duration(math.MaxInt64)),
	} {
		require.NoError(t, s.Set(ctx, name, flightcache.Entry[int]{Value: 1, ExpiresAt: flightcache.DeadlineOf(at)}))
		e, ok, err := s.Get(ctx, name)
		require.NoError(t, err)
		assert.True(t, ok, name)
		assert.Equal(t, flightcache.DeadlineOf(at), e.ExpiresAt, name)
	}
}

func TestFarPastExpiresAtRemovesTheKey(t *testing.T) {
	ctx := context.Background()
	s := newStore[string, int](t, 100)
	for name, at := range map[string]time.Time{
		"min unix":  time.Unix(math.MinInt64/2, 0),
		"year 1":    time.Time{}.Add(time.Nanosecond),
		"year 1600": time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		require.NoError(t, s.Set(ctx, name, entry(1)))
		require.NoError(t, s.Set(ctx, name, flightcache.Entry[int]{Value: 2, ExpiresAt: flightcache.DeadlineOf(at)}))
		_, ok, err := s.Get(ctx, name)
		require.NoError(t, err)
		assert.False(t, ok, name)
	}
}

func TestGetReturnsACopy(t *testing.T) {
	ctx := context.Background()
	s := newStore[string, int](t, 100)
	require.NoError(t, s.Set(ctx, "k", entry(1)))
	got, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	got.Missing = true
	again, _, _ := s.Get(ctx, "k")
	assert.False(t, again.Missing, "changing a returned entry changes nothing stored")
}
