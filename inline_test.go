package flightcache_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// TestGoexitInALoadRunOnItsCallersGoroutine: a caller whose ctx can never
// end runs the load itself, as x/sync/singleflight does; a Goexit in it ends
// that caller's goroutine, and the callers that joined get ErrGoexit.
func TestGoexitInALoadRunOnItsCallersGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		exiting := make(chan struct{})
		returned := false
		go func() {
			defer close(exiting)
			_, _ = l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
				time.Sleep(time.Second)
				runtime.Goexit()
				return "", nil
			})
			returned = true
		}()
		synctest.Wait()
		_, err := l.GetOrLoad(context.Background(), "k", newSource().load)
		assert.ErrorIs(t, err, singleflight.ErrGoexit, "the joiner")
		<-exiting
		assert.False(t, returned, "the caller's goroutine ended")
		v, err := l.GetOrLoad(context.Background(), "k", newSource().load)
		require.NoError(t, err, "the key loads again")
		assert.Equal(t, "value-k", v)
	})
}

// TestLoadTimeoutOfALoadRunOnItsCallersGoroutine: a caller whose ctx can
// never end runs the load itself; when the load ignores its context, the
// callers that joined get the timeout at the deadline, and that caller when
// the load returns, its late result dropped.
func TestLoadTimeoutOfALoadRunOnItsCallersGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{LoadTimeout: 2 * time.Second})
		start := time.Now()
		done := make(chan error, 1)
		go func() {
			_, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
				time.Sleep(5 * time.Second) // ignores its context
				return "late", nil
			})
			done <- err
		}()
		synctest.Wait()
		_, err := l.GetOrLoad(context.Background(), "k", newSource().load)
		assert.ErrorIs(t, err, flightcache.ErrLoadTimeout, "the joiner")
		assert.Equal(t, 2*time.Second, time.Since(start))
		err = <-done
		assert.ErrorIs(t, err, flightcache.ErrLoadTimeout, "the caller that ran the load")
		assert.Equal(t, 5*time.Second, time.Since(start))
		_, ok := store.entry("k")
		assert.False(t, ok, "the late result is dropped")
	})
}

// TestAnInlineFillFreesItsJoinersAtTheDeadline: a caller with
// context.Background() runs the fill on its own goroutine; when the load
// ignores its context, a joiner with a context that can end is freed at
// LoadTimeout, the inline caller only when the load returns, both with
// ErrLoadTimeout, and the late result is not stored.
func TestAnInlineFillFreesItsJoinersAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{LoadTimeout: time.Second})
		started := make(chan struct{})
		start := time.Now()
		var inlineTook time.Duration
		var inlineErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, inlineErr = l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
				close(started)
				time.Sleep(5 * time.Second) // ignores ctx
				return "late", nil
			})
			inlineTook = time.Since(start)
		}()
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		_, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "", errors.New("joined, never called") })
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		assert.Equal(t, time.Second, time.Since(start), "the joiner is freed at the deadline")
		<-done
		require.ErrorIs(t, inlineErr, flightcache.ErrLoadTimeout)
		assert.Equal(t, 5*time.Second, inlineTook)
		synctest.Wait()
		_, ok := store.entry("k")
		assert.False(t, ok, "the late result is dropped")
	})
}

// A load that calls GetOrLoad of its own key on the same Loader with a
// Background context joins its own fill: it does not deadlock forever, but
// both it and the caller wait for LoadTimeout and get ErrLoadTimeout.
func TestAnInlineLoadOfItsOwnKeyEndsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{LoadTimeout: time.Second})
		require.NoError(t, err)
		defer l.Close()
		var inner error
		start := time.Now()
		_, err = l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
			_, inner = l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "x", nil })
			return "v", nil
		})
		assert.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		assert.ErrorIs(t, inner, flightcache.ErrLoadTimeout)
		assert.Equal(t, time.Second, time.Since(start))
	})
}

// A Store whose Set ignores its context holds a Background caller of an
// inline fill past LoadTimeout, as a load that ignores its context does (the
// README's gotcha names both): the fill runs on the caller's goroutine.
func TestAnInlineCallerIsHeldByAStoreThatIgnoresItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemStore[string]()
		gate := make(chan struct{})
		s.beforeSet = func(string, flightcache.Entry[string]) { <-gate }
		l, err := flightcache.New[string, string](s, &flightcache.Options{LoadTimeout: time.Second})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() {
			_, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "v", nil })
			done <- err
		}()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("the inline caller was freed before the Store's Set returned")
		default:
		}
		close(gate)
		assert.ErrorIs(t, <-done, flightcache.ErrLoadTimeout)
		require.NoError(t, l.Close())
	})
}

// A load that calls GetOrLoad of another key on the same Loader, with a
// Background context, runs that fill inline too, nested: both values come
// back and are stored.
func TestAnInlineLoadOfAnotherKeyRunsItsFillNested(t *testing.T) {
	s := newMemStore[string]()
	l, err := flightcache.New[string, string](s, nil)
	require.NoError(t, err)
	defer l.Close()
	var load flightcache.LoadFunc[string, string]
	load = func(ctx context.Context, key string) (string, error) {
		if len(key) < 4 {
			inner, err := l.GetOrLoad(context.Background(), key+"x", load)
			return key + "<" + inner, err
		}
		return key, nil
	}
	v, err := l.GetOrLoad(context.Background(), "a", load)
	require.NoError(t, err)
	assert.Equal(t, "a<ax<axx<axxx", v)
	for _, k := range []string{"a", "ax", "axx", "axxx"} {
		_, ok := s.entry(k)
		assert.True(t, ok, k)
	}
}

// A Store panicking under an inline fill (Background caller) reaches the
// caller as an error wrapping *singleflight.PanicError, never a crash; the
// key is free afterwards.
func TestPanicsUnderAnInlineFillAreErrors(t *testing.T) {
	for _, where := range []string{"get", "set", "load"} {
		t.Run(where, func(t *testing.T) {
			s := newMemStore[string]()
			gets := 0
			s.afterGet = func(string, bool) {
				gets++
				if where == "get" && gets == 2 { // the fill's look, not the caller's
					panic("get")
				}
			}
			s.beforeSet = func(string, flightcache.Entry[string]) {
				if where == "set" {
					panic("set")
				}
			}
			l, err := flightcache.New[string, string](s, nil)
			require.NoError(t, err)
			defer l.Close()
			v, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
				if where == "load" {
					panic("load")
				}
				return "v", nil
			})
			if where == "set" {
				// A lost write: the caller still gets the value.
				require.NoError(t, err)
				assert.Equal(t, "v", v)
				return
			}
			var pe *singleflight.PanicError
			require.ErrorAs(t, err, &pe)
			assert.Contains(t, err.Error(), where)
		})
	}
}

// GetOrLoadMany with a Background context runs its batch inline: a panic in
// the BatchLoadFunc, or in the Store's look, reaches the caller as a
// *BatchError wrapping *singleflight.PanicError, never a crash.
func TestPanicsUnderAnInlineBatchAreErrors(t *testing.T) {
	for _, where := range []string{"load", "get"} {
		t.Run(where, func(t *testing.T) {
			s := newMemStore[string]()
			var gets atomic.Int64
			s.afterGet = func(string, bool) {
				if where == "get" && gets.Add(1) > 2 { // the fill's look
					panic("get")
				}
			}
			l, err := flightcache.New[string, string](s, nil)
			require.NoError(t, err)
			defer l.Close()
			vals, err := l.GetOrLoadMany(context.Background(), []string{"a", "b"}, func(_ context.Context, keys []string) (map[string]string, error) {
				if where == "load" {
					panic("load")
				}
				return map[string]string{"a": "A", "b": "B"}, nil
			})
			var be *flightcache.BatchError[string]
			require.ErrorAs(t, err, &be)
			assert.Len(t, be.Failed, 2)
			assert.Empty(t, vals)
			assert.Contains(t, err.Error(), where)
		})
	}
}

// A Recorder that panics inside an inline fill (Background caller), where
// the fill counts keys loaded, store errors and lost writes, is contained as
// it is on a fill's own goroutine: the caller gets its value, not a crash.
func TestAnInlineFillContainsRecorderPanics(t *testing.T) {
	for name, ev := range map[string]stats.Event{"KeysLoaded": stats.KeysLoaded, "StoreError": stats.StoreError, "Panic": stats.Panic} {
		t.Run(name, func(t *testing.T) {
			s := newMemStore[string]()
			s.beforeSet = func(string, flightcache.Entry[string]) { panic("set") } // a lost write: StoreError, Panic
			l, err := flightcache.New[string, string](s, &flightcache.Options{Recorder: panicsOn(ev), Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			defer l.Close()
			var v string
			require.NotPanics(t, func() {
				v, err = l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "v", nil })
			})
			require.NoError(t, err)
			assert.Equal(t, "v", v)
		})
	}
}
