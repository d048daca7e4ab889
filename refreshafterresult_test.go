package flightcache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// blockingRecorder counts as a stats.Counter does, and blocks in the
// first Record of event until released.
type blockingRecorder struct {
	stats.Counter
	event   stats.Event
	once    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (r *blockingRecorder) Record(e stats.Event, n int) {
	r.Counter.Record(e, n)
	if e == r.event && r.once.CompareAndSwap(false, true) {
		close(r.entered)
		<-r.release
	}
}

// TestARefreshAfterTheRefreshsResultStartsALoad: a Refresh that comes once
// the key's explicit refresh has given its result (here: failed, and is
// being counted) joins nothing: no load of the key is in flight, so it
// starts one (at once, or as soon as the ended refresh is cleared away).
// It must not be dropped as if it had joined the refresh that already
// answered.
func TestARefreshAfterTheRefreshsResultStartsALoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec := &blockingRecorder{event: stats.RefreshError, entered: make(chan struct{}), release: make(chan struct{})}
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour, LoadTimeout: time.Hour, Recorder: rec})
		require.NoError(t, l.Set(ctx, "k", "old"))
		require.NoError(t, l.Refresh(ctx, "k", func(context.Context, string) (string, error) {
			return "", errors.New("source down")
		}))
		<-rec.entered // the refresh failed: its result is out, no load is in flight

		var second atomic.Int64
		require.NoError(t, l.Refresh(ctx, "k", func(context.Context, string) (string, error) {
			second.Add(1)
			return "new", nil
		}))
		close(rec.release)
		require.NoError(t, l.Wait(ctx))
		assert.Equal(t, int64(1), second.Load(), "the second Refresh's load ran")
		assert.Equal(t, "new", readValue(t, l, "k"))
	})
}

// TestARefreshAfterATimedOutRefreshStartsALoad: a Refresh that comes once
// the key's explicit refresh has timed out (its callers have
// ErrLoadTimeout, its load ignores its context and runs on) is not
// dropped: it starts a load as soon as the timed-out one has ended for
// Close, as a kept Refresh does.
func TestARefreshAfterATimedOutRefreshStartsALoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec := &blockingRecorder{event: stats.KeysLoaded, entered: make(chan struct{}), release: make(chan struct{})}
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour, LoadTimeout: time.Second, Recorder: rec})
		require.NoError(t, l.Set(ctx, "k", "old"))
		stuck := make(chan struct{})
		require.NoError(t, l.Refresh(ctx, "k", func(context.Context, string) (string, error) {
			<-stuck // ignores its context
			return "late", nil
		}))
		<-rec.entered // the deadline passed: the timeout is counted, the fill's result is out

		var second atomic.Int64
		require.NoError(t, l.Refresh(ctx, "k", func(context.Context, string) (string, error) {
			second.Add(1)
			return "new", nil
		}))
		close(rec.release)
		synctest.Wait()
		assert.Equal(t, int64(1), second.Load(), "the second Refresh's load ran")
		assert.Equal(t, "new", readValue(t, l, "k"))
		close(stuck)
		require.NoError(t, l.Wait(ctx))
		assert.Equal(t, "new", readValue(t, l, "k"), "the late result is dropped")
	})
}
