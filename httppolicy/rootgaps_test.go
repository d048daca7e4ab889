package httppolicy_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// The tests in this file pin gaps in the root package met while using it
// from an HTTP load, for the lead. They fail today, so they are skipped
// unless FLIGHTCACHE_ROOT_GAPS=1.
func skipRootGap(t *testing.T) {
	t.Helper()
	if os.Getenv("FLIGHTCACHE_ROOT_GAPS") == "" {
		t.Skip("a gap in the root package (see the comment); FLIGHTCACHE_ROOT_GAPS=1 runs it")
	}
}

// TestALoadedNotFoundSaysHowItWasServed: GetOrLoadResult of a miss whose
// load answers ErrNotFound returns a Result with Served 0 (not one of the
// Served constants) and no Entry, while a cached "not found" is
// ServedFresh with its Missing entry. ServedLoaded says "the result of a
// load that the call started or joined", which this is.
func TestALoadedNotFoundSaysHowItWasServed(t *testing.T) {
	skipRootGap(t)
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
// max-age=0, which must not be served without revalidation). But the
// entry's FreshUntil is the load's end by time.Now(), and reads judge it by
// the coarse clock, which lags time.Now() by up to a tick (1 ms, more when
// the ticking goroutine is starved): a read within that lag gets the entry
// as ServedFresh, with no refresh. (Inside a synctest bubble the Loader
// reads the exact clock, so this test runs outside one, and can only show
// the gap when a read lands inside the lag; it loops to make that likely.)
// examples/httpcache pauses between reads of its max-age=0 path for this.
func TestAnEntryFreshForZeroIsNeverServedFresh(t *testing.T) {
	skipRootGap(t)
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
