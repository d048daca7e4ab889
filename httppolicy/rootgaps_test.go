package httppolicy_test

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// The tests in this file pin gaps in the root package met while using it
// from an HTTP load, since fixed there.

// TestALoadedNotFoundSaysHowItWasServed: GetOrLoadResult of a miss whose
// load answers ErrNotFound is ServedLoaded, with its Missing entry, as a
// cached "not found" is ServedFresh with it.
func TestALoadedNotFoundSaysHowItWasServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newHTTPLoader(t)
		load := func(ctx context.Context, key string) (page, error) {
			require.NoError(t, flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{MissingFor: time.Minute}))
			return page{}, flightcache.ErrNotFound
		}
		r, err := l.GetOrLoadResult(context.Background(), "k", load)
		require.ErrorIs(t, err, flightcache.ErrNotFound)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)
		assert.True(t, r.Missing)

		r, err = l.GetOrLoadResult(context.Background(), "k", load)
		require.ErrorIs(t, err, flightcache.ErrNotFound)
		assert.Equal(t, flightcache.ServedFresh, r.Served, "the cached answer")
	})
}

// TestAnEntryFreshForZeroIsNeverServedFresh: EntryPolicy says a FreshFor of
// 0 "makes the entry stale as soon as it is stored" (HTTP's no-cache and
// max-age=0, which must not be served without revalidation). It once was,
// for up to a tick: the entry's FreshUntil came from time.Now(), and reads
// judge it by the coarse clock, which lags time.Now(). (Inside a synctest
// bubble the Loader reads the exact clock, so this test runs outside one;
// it loops to make a read inside the lag likely.)
func TestAnEntryFreshForZeroIsNeverServedFresh(t *testing.T) {
	l := newHTTPLoader(t)
	load := func(ctx context.Context, key string) (page, error) {
		require.NoError(t, flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{StaleFor: time.Minute}))
		return page{Body: key}, nil
	}
	fresh := 0
	for i := range 200 {
		key := strconv.Itoa(i)
		_, err := l.GetOrLoad(context.Background(), key, load)
		require.NoError(t, err)
		r, err := l.GetOrLoadResult(context.Background(), key, load)
		require.NoError(t, err)
		if r.Served == flightcache.ServedFresh {
			fresh++
		}
	}
	assert.Zero(t, fresh, "reads of an entry stored with FreshFor 0 served as fresh")
}
