package otterstore_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/singleflight"
)

type partKey struct {
	F    float64
	Part any
}

func TestUnhashableKeyIsAnErrorAndTheStoreGoesOn(t *testing.T) {
	ctx := context.Background()
	s := newStore[any, int](t, 10)
	for _, key := range []any{[]int{1}, map[string]int{}, func() {}, partKey{Part: []byte("x")}, [1]any{[]string{}}} {
		_, ok, err := s.Get(ctx, key)
		assert.ErrorIs(t, err, singleflight.ErrUnhashableKey, "Get(%T)", key)
		assert.False(t, ok)
		assert.ErrorIs(t, s.Set(ctx, key, flightcache.Entry[int]{Value: 1}), singleflight.ErrUnhashableKey, "Set(%T)", key)
		assert.ErrorIs(t, s.Delete(ctx, key), singleflight.ErrUnhashableKey, "Delete(%T)", key)
	}
	_, _, err := s.Get(ctx, []int{1})
	assert.Contains(t, err.Error(), "[]int")

	// The Store is not wedged: every other key works at once.
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, s.Set(ctx, "k", flightcache.Entry[int]{Value: 7}))
		e, ok, err := s.Get(ctx, "k")
		assert.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, 7, e.Value)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the Store is wedged after an unhashable key")
	}
}

func TestUnhashableKeyBehindANaNIsCaughtToo(t *testing.T) {
	// Comparing this key with itself stops at the NaN; hashing it does not.
	ctx := context.Background()
	s := newStore[partKey, int](t, 10)
	key := partKey{F: math.NaN(), Part: []int{1}}
	assert.ErrorIs(t, s.Set(ctx, key, flightcache.Entry[int]{Value: 1}), singleflight.ErrUnhashableKey)
	_, _, err := s.Get(ctx, key)
	assert.ErrorIs(t, err, singleflight.ErrUnhashableKey)
	assert.ErrorIs(t, s.Delete(ctx, key), singleflight.ErrUnhashableKey)
	require.NoError(t, s.Set(ctx, partKey{F: 1, Part: "ok"}, flightcache.Entry[int]{Value: 2}))
	assert.Equal(t, 1, s.Len())
}

func TestKeyThatDoesNotEqualItselfIsNotStored(t *testing.T) {
	ctx := context.Background()
	s := newStore[float64, int](t, 10)
	require.NoError(t, s.Set(ctx, 1, flightcache.Entry[int]{Value: 1}))
	require.NoError(t, s.Set(ctx, 2, flightcache.Entry[int]{Value: 2}))
	for range 5 {
		require.NoError(t, s.Set(ctx, math.NaN(), flightcache.Entry[int]{Value: 3}))
		_, ok, err := s.Get(ctx, math.NaN())
		require.NoError(t, err)
		assert.False(t, ok)
	}
	assert.Equal(t, 2, s.Len(), "a NaN key takes no room")
	_, ok, _ := s.Get(ctx, 1)
	assert.True(t, ok)

	si := newStore[any, int](t, 10)
	require.NoError(t, si.Set(ctx, math.NaN(), flightcache.Entry[int]{Value: 3}))
	assert.Zero(t, si.Len())
}

func TestFarExpiresAtIsKeptNotExpired(t *testing.T) {
	// The lifetime given to otter saturates: an ExpiresAt beyond what
	// time.Duration or UnixNano can hold means "does not expire", never a
	// lifetime that wraps into the past.
	ctx := context.Background()
	s := newStore[string, int](t, 10)
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

func TestGetReturnsACopy(t *testing.T) {
	ctx := context.Background()
	s := newStore[string, []int](t, 10)
	in := flightcache.Entry[[]int]{Value: []int{1}, FreshUntil: flightcache.DeadlineOf(time.Now())}
	require.NoError(t, s.Set(ctx, "k", in))
	in.FreshUntil = 0 // the caller's copy changes; the stored one does not
	got, _, _ := s.Get(ctx, "k")
	assert.False(t, got.FreshUntil.IsZero())
	got.Missing = true
	again, _, _ := s.Get(ctx, "k")
	assert.False(t, again.Missing, "changing a returned entry changes nothing stored")
}
