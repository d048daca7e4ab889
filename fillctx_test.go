package flightcache_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// TestTheFillContextHasTheFillsDeadlineAndEndsWithTheLoad: the context a
// load gets has the fill's deadline, carries the caller's values, ends with
// context.Canceled once the load has returned (Err and Cause alike), runs
// context.AfterFunc callbacks then, and ends contexts derived from it.
func TestTheFillContextHasTheFillsDeadlineAndEndsWithTheLoad(t *testing.T) {
	for _, name := range []string{"inline", "handed off"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: 7 * time.Second})
				ctx := context.WithValue(context.Background(), callerKey{}, "caller")
				if name != "inline" {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Second) // shorter than LoadTimeout
					defer cancel()
				}
				start := time.Now()
				var loadCtx, derived context.Context
				afterRan := make(chan struct{})
				_, err := l.GetOrLoad(ctx, "k", func(c context.Context, key string) (string, error) {
					loadCtx = c
					dl, ok := c.Deadline()
					assert.True(t, ok)
					assert.Equal(t, start.Add(7*time.Second), dl, "the fill's deadline, not the caller's")
					assert.Equal(t, "caller", c.Value(callerKey{}))
					assert.NoError(t, c.Err())
					assert.NoError(t, context.Cause(c))
					context.AfterFunc(c, func() { close(afterRan) })
					var cancel context.CancelFunc
					derived, cancel = context.WithTimeout(c, time.Hour)
					_ = cancel // ended by the fill's end; cancelled below
					t.Cleanup(cancel)
					return "v", nil
				})
				require.NoError(t, err)
				<-afterRan
				<-loadCtx.Done()
				assert.ErrorIs(t, loadCtx.Err(), context.Canceled)
				assert.ErrorIs(t, context.Cause(loadCtx), context.Canceled)
				<-derived.Done()
				assert.ErrorIs(t, derived.Err(), context.Canceled)
				// AfterFunc on a context that has ended runs at once.
				ran := make(chan struct{})
				stop := context.AfterFunc(loadCtx, func() { close(ran) })
				<-ran
				assert.False(t, stop())
			})
		})
	}
}

// TestTheFillContextEndsWithDeadlineExceededAtLoadTimeout: a load that
// honours its context sees DeadlineExceeded at LoadTimeout, and
// context.Cause agrees.
func TestTheFillContextEndsWithDeadlineExceededAtLoadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Second})
		var cause error
		_, err := l.GetOrLoad(context.Background(), "k", func(c context.Context, key string) (string, error) {
			<-c.Done()
			cause = context.Cause(c)
			return "", c.Err()
		})
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, cause, context.DeadlineExceeded)
	})
}

// A context derived from a fill's, inside a load, follows the fill: it keeps
// the caller's values, takes the fill's deadline, ends with
// DeadlineExceeded at LoadTimeout, and context.Cause agrees.
func TestContextsDerivedInALoadFollowTheFillsDeadline(t *testing.T) {
	for name, cancellable := range map[string]bool{"inline": false, "handed-off": true} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{LoadTimeout: time.Second})
				require.NoError(t, err)
				defer l.Close()
				start := time.Now()
				type seen struct {
					val                        any
					deadline, childDeadline    time.Time
					errBefore, errAt, childErr error
					cause, valueChildErr       error
					afterRan                   bool
				}
				var s seen
				returned := make(chan struct{})
				load := func(ctx context.Context, _ string) (string, error) {
					defer close(returned)
					s.val = ctx.Value(callerKey{})
					s.deadline, _ = ctx.Deadline()
					child, cancel := context.WithTimeout(ctx, time.Hour) // longer: takes the fill's
					defer cancel()
					s.childDeadline, _ = child.Deadline()
					vchild := context.WithValue(ctx, callerKey{}, "inner")
					ran := make(chan struct{})
					context.AfterFunc(ctx, func() { close(ran) })
					time.Sleep(time.Second - time.Nanosecond)
					s.errBefore = ctx.Err()
					<-child.Done()
					s.errAt = ctx.Err()
					s.childErr = child.Err()
					s.cause = context.Cause(child)
					s.valueChildErr = vchild.Err()
					<-ran
					s.afterRan = true
					return "v", nil
				}
				ctx := context.WithValue(context.Background(), callerKey{}, "outer")
				if cancellable {
					c, cancel := context.WithCancel(ctx)
					defer cancel()
					ctx = c
				}
				_, err = l.GetOrLoad(ctx, "k", load)
				require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
				<-returned
				assert.Equal(t, "outer", s.val)
				assert.Equal(t, start.Add(time.Second), s.deadline)
				assert.Equal(t, s.deadline, s.childDeadline)
				assert.NoError(t, s.errBefore)
				assert.ErrorIs(t, s.errAt, context.DeadlineExceeded)
				assert.ErrorIs(t, s.childErr, context.DeadlineExceeded)
				assert.ErrorIs(t, s.cause, context.DeadlineExceeded)
				assert.ErrorIs(t, s.valueChildErr, context.DeadlineExceeded)
				assert.True(t, s.afterRan)
			})
		})
	}
}

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
		inner, cancel := context.WithCancelCause(context.WithValue(context.Background(), callerKey{}, "v"))
		cancel(errUserLeft)
		caller := detachedCtx{inner}

		var kept, child context.Context
		_, err := l.GetOrLoad(caller, "live", func(ctx context.Context, key string) (string, error) {
			kept = ctx
			assert.Equal(t, "v", ctx.Value(callerKey{}), "the caller's values reach the load")
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

// A load that logs its context (log.Printf("%v", ctx), common in
// database/sql drivers and middleware) must not race with the fill: the
// fill's context prints as a short name, as the context package's own
// contexts do, without reading what the fill changes while a derived context
// registers itself with it.
func TestTheFillContextPrintsWithoutRacing(t *testing.T) {
	l, err := flightcache.New[string, string](newMemStore[string](), nil)
	require.NoError(t, err)
	defer l.Close()
	var printed string
	_, err = l.GetOrLoad(context.Background(), "k", func(ctx context.Context, _ string) (string, error) {
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() {
			for range 100 {
				_, cancel := context.WithCancel(ctx)
				cancel()
			}
		})
		for range 100 {
			printed = fmt.Sprint(ctx)
		}
		return "v", nil
	})
	require.NoError(t, err)
	assert.Less(t, len(printed), 200, "a context prints as a short name, as the context package's do: %q", printed)
}

// A database/sql-like Store watches ctx.Done() on a goroutine of its own for
// every call (the fill's context is what Get/Set get): every watcher ends
// when the fill does, none is left behind (goleak in TestMain).
func TestStoreWatchersOfTheFillContextEndWithTheFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemStore[string]()
		var watching atomic.Int64
		s.watch = func(ctx context.Context) {
			if ctx.Done() == nil {
				return
			}
			watching.Add(1)
			go func() {
				defer watching.Add(-1)
				<-ctx.Done()
			}()
		}
		l, err := flightcache.New[string, string](s, nil)
		require.NoError(t, err)
		for i := range 20 {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if i%2 == 1 {
				ctx, cancel = context.WithCancel(ctx)
			}
			_, err := l.GetOrLoad(ctx, "k"+string(rune('a'+i)), func(context.Context, string) (string, error) { return "v", nil })
			cancel() // the caller's own Get watched ctx
			require.NoError(t, err)
		}
		require.NoError(t, l.Close())
		synctest.Wait()
		assert.Zero(t, watching.Load())
	})
}

// TestAnHTTPRequestInsideALoadIsCutAtTheFillsDeadline: net/http accepts the
// fill's context (http.NewRequestWithContext), for an inline fill and a
// handed-off one, directly and through a derived timeout, and the request is
// cut at the fill's deadline.
func TestAnHTTPRequestInsideALoadIsCutAtTheFillsDeadline(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("ETag", `"1"`)
		_, _ = fmt.Fprint(w, "body", r.URL.Path)
	}))
	defer srv.Close()
	defer close(hang)
	client := srv.Client()
	defer client.CloseIdleConnections()

	get := func(ctx context.Context, path string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		buf := make([]byte, 64)
		n, _ := resp.Body.Read(buf)
		return string(buf[:n]), nil
	}
	l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: 200 * time.Millisecond})
	timed, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, ctx := range []context.Context{context.Background(), timed} {
		v, err := l.GetOrLoad(ctx, fmt.Sprint("/a", ctx.Done() == nil), func(ctx context.Context, key string) (string, error) {
			return get(ctx, key)
		})
		require.NoError(t, err)
		assert.Contains(t, v, "body/a")
		v, err = l.GetOrLoad(ctx, fmt.Sprint("/b", ctx.Done() == nil), func(ctx context.Context, key string) (string, error) {
			c, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			return get(c, key)
		})
		require.NoError(t, err)
		assert.Contains(t, v, "body/b")
		_, err = l.GetOrLoad(ctx, "/hang", func(ctx context.Context, key string) (string, error) {
			return get(ctx, key)
		})
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
}
