package flightcache_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// detachedCtx is the "detach" context that code written before
// context.WithoutCancel still uses (golang.org/x/tools' xcontext.Detach,
// among others): it never ends, and hands every Value lookup to the context
// it detaches, whose cancellation it hides.
type detachedCtx struct{ parent context.Context }

func (detachedCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (detachedCtx) Done() <-chan struct{}       { return nil }
func (detachedCtx) Err() error                  { return nil }
func (d detachedCtx) Value(key any) any         { return d.parent.Value(key) }

// A caller's context that never ends (Done() is nil) runs its fill inline,
// and the fill's context keeps it instead of wrapping it in
// context.WithoutCancel. Its values reach the load; the cancellation of a
// context it detaches must not, context.Cause included: Cause of a live
// context is nil, and of an ended one is non-nil and says why it ended.
func TestFillContextCauseHidesADetachedCallersCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Minute})
		errUserLeft := errors.New("the user left")
		inner, cancel := context.WithCancelCause(context.WithValue(context.Background(), reuseCtxKey{}, "v"))
		cancel(errUserLeft)
		caller := detachedCtx{inner}

		var kept, child context.Context
		_, err := l.GetOrLoad(caller, "live", func(ctx context.Context, key string) (string, error) {
			kept = ctx
			assert.Equal(t, "v", ctx.Value(reuseCtxKey{}), "the caller's values reach the load")
			assert.NoError(t, ctx.Err())
			assert.NoError(t, context.Cause(ctx), "Cause of a live context is nil")
			c, stop := context.WithTimeout(ctx, time.Hour)
			t.Cleanup(stop)
			child = c
			assert.NoError(t, context.Cause(child))
			return "x", nil
		})
		require.NoError(t, err)
		<-kept.Done()
		assert.ErrorIs(t, kept.Err(), context.Canceled)
		assert.ErrorIs(t, context.Cause(kept), context.Canceled, "Cause of the ended fill context")
		<-child.Done()
		assert.ErrorIs(t, context.Cause(child), context.Canceled, "Cause of a context derived from it")

		// At the deadline.
		_, err = l.GetOrLoad(caller, "late", func(ctx context.Context, key string) (string, error) {
			<-ctx.Done()
			assert.ErrorIs(t, context.Cause(ctx), context.DeadlineExceeded)
			return "", ctx.Err()
		})
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
	})
}
