package flightcache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

type r16key struct{}

// A context derived from a fill's, inside a load, follows the fill: it keeps
// the caller's values, takes the fill's deadline, ends with
// DeadlineExceeded at LoadTimeout, and context.Cause agrees.
func TestReview16DerivedContextsFollowTheFillDeadline(t *testing.T) {
	for name, cancellable := range map[string]bool{"inline": false, "handed-off": true} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{LoadTimeout: time.Second})
				require.NoError(t, err)
				defer l.Close()
				start := time.Now()
				type seen struct {
					val                         any
					deadline, childDeadline     time.Time
					errBefore, errAt, childErr  error
					cause, valueChildErr, after error
					afterRan                    bool
				}
				var s seen
				returned := make(chan struct{})
				load := func(ctx context.Context, _ string) (string, error) {
					defer close(returned)
					s.val = ctx.Value(r16key{})
					s.deadline, _ = ctx.Deadline()
					child, cancel := context.WithTimeout(ctx, time.Hour) // longer: takes the fill's
					defer cancel()
					s.childDeadline, _ = child.Deadline()
					vchild := context.WithValue(ctx, r16key{}, "inner")
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
				ctx := context.WithValue(context.Background(), r16key{}, "outer")
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

// A load that keeps its context finds it ended (Canceled) once the fill is
// over; contexts derived from it afterwards are born ended, AfterFunc runs
// at once, and its stop reports false.
func TestReview16KeptContextAfterTheFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := flightcache.New[string, string](newMemStore[string](), nil)
		require.NoError(t, err)
		defer l.Close()
		var kept context.Context
		var derivedBefore context.Context
		var cancelBefore context.CancelFunc
		stoppedRan := atomic.Bool{}
		var stopResult bool
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err = l.GetOrLoad(ctx, "k", func(ctx context.Context, _ string) (string, error) {
			kept = ctx
			derivedBefore, cancelBefore = context.WithCancel(ctx)
			stop := context.AfterFunc(ctx, func() { stoppedRan.Store(true) })
			stopResult = stop()
			return "v", nil
		})
		require.NoError(t, err)
		defer cancelBefore()
		require.NoError(t, l.Wait(context.Background()))
		synctest.Wait()

		assert.True(t, stopResult, "stop before the end stops f")
		assert.False(t, stoppedRan.Load(), "a stopped AfterFunc never runs")
		select {
		case <-kept.Done():
		default:
			t.Fatal("the fill's context is not done after the fill")
		}
		assert.ErrorIs(t, kept.Err(), context.Canceled)
		assert.ErrorIs(t, derivedBefore.Err(), context.Canceled)
		assert.ErrorIs(t, context.Cause(derivedBefore), context.Canceled)

		after, cancelAfter := context.WithTimeout(kept, time.Hour)
		defer cancelAfter()
		assert.ErrorIs(t, after.Err(), context.Canceled)
		ran := make(chan struct{})
		stop := context.AfterFunc(kept, func() { close(ran) })
		<-ran
		assert.False(t, stop(), "stop after f started reports false")
		assert.ErrorIs(t, context.WithoutCancel(kept).Err(), nil)
	})
}

// A database/sql-like Store watches ctx.Done() on a goroutine of its own for
// every call (the fill's context is what Get/Set get): every watcher ends
// when the fill does, none is left behind (goleak in TestMain).
func TestReview16StoreWatchersEndWithTheFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &watchStore{memStore: newMemStore[string]()}
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
		assert.Zero(t, s.watching.Load())
	})
}

type watchStore struct {
	*memStore[string]
	watching atomic.Int64
}

func (s *watchStore) watch(ctx context.Context) {
	if ctx.Done() == nil {
		return
	}
	s.watching.Add(1)
	go func() {
		defer s.watching.Add(-1)
		<-ctx.Done()
	}()
}

func (s *watchStore) Get(ctx context.Context, key string) (flightcache.Entry[string], bool, error) {
	s.watch(ctx)
	return s.memStore.Get(ctx, key)
}

func (s *watchStore) Set(ctx context.Context, key string, e flightcache.Entry[string]) error {
	s.watch(ctx)
	return s.memStore.Set(ctx, key, e)
}

// r16LeaseStore is a Leaser whose release blocks until gate is closed.
type r16LeaseStore struct {
	*memStore[string]
	gate     chan struct{}
	released atomic.Bool
}

func (s *r16LeaseStore) Lease(context.Context, string) (func(), error) {
	return func() {
		<-s.gate
		s.released.Store(true)
	}, nil
}

// Close waits for the loads that are running "to finish and store their
// results", and README says to close the Store after the Loader. A lease's
// release is part of the fill (a fill whose caller can leave calls it before
// it ends), but the release of an inline fill (Background caller) runs on a
// goroutine nobody counts: Close returns while it still runs, so it may use a
// Store that the user has closed, and a goroutine is left behind.
func TestReview16CloseWaitsForTheLeaseReleaseOfAnInlineFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &r16LeaseStore{memStore: newMemStore[string](), gate: make(chan struct{})}
		l, err := flightcache.New[string, string](s, &flightcache.Options{LoadTimeout: time.Second})
		require.NoError(t, err)
		v, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "v", nil })
		require.NoError(t, err)
		assert.Equal(t, "v", v)
		closed := make(chan struct{})
		go func() {
			_ = l.Close()
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			assert.True(t, s.released.Load(), "Close returned while the lease's release still ran")
		default:
		}
		close(s.gate)
		<-closed
	})
}

// The same with a caller that can leave: Close waits for the release (up to
// the deadline). This pins the behaviour the inline case should match.
func TestReview16CloseWaitsForTheLeaseReleaseOfAHandedOffFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &r16LeaseStore{memStore: newMemStore[string](), gate: make(chan struct{})}
		l, err := flightcache.New[string, string](s, &flightcache.Options{LoadTimeout: time.Second})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		loaded := make(chan struct{})
		go func() {
			defer close(loaded)
			_, _ = l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "v", nil })
		}()
		synctest.Wait()
		closed := make(chan struct{})
		go func() {
			_ = l.Close()
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while the lease's release still ran")
		default:
		}
		close(s.gate)
		<-closed
		<-loaded
		assert.True(t, s.released.Load())
	})
}

// A Store panicking under an inline fill (Background caller) reaches the
// caller as an error wrapping *singleflight.PanicError, never a crash; the
// key is free afterwards.
func TestReview16InlineFillStorePanicsAreErrors(t *testing.T) {
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
			var pe interface{ Error() string }
			require.Error(t, err)
			require.ErrorAs(t, err, &pe)
			assert.Contains(t, err.Error(), where)
		})
	}
}

// A load that calls GetOrLoad of its own key on the same Loader with a
// Background context joins its own fill: it does not deadlock forever, but
// both it and the caller wait for LoadTimeout and get ErrLoadTimeout.
func TestReview16InlineRecursionOnTheSameKeyEndsAtTheDeadline(t *testing.T) {
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
// inline fill past LoadTimeout: the README gotcha speaks only of a load that
// ignores its context. (Surprising but follows from running inline; pinned so
// the docs can say so.)
func TestReview16InlineCallerIsHeldByAStoreThatIgnoresItsContext(t *testing.T) {
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

// Wait returns while fills start and end around it, and many Waits and a
// Close racing them all return.
func TestReview16ManyWaitsRacingFillsAndClose(t *testing.T) {
	l, err := flightcache.New[int, int](newMemStoreInt(), nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx := context.Background()
				_, err := l.GetOrLoad(ctx, g*1_000_000+i, func(context.Context, int) (int, error) { return i, nil })
				if errors.Is(err, flightcache.ErrClosed) {
					return
				}
			}
		})
	}
	var waits sync.WaitGroup
	for range 16 {
		waits.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for range 50 {
				if l.Wait(ctx) != nil {
					t.Error("Wait did not return under churn")
					return
				}
			}
		})
	}
	waits.Wait()
	require.NoError(t, l.Close())
	close(stop)
	wg.Wait()
	require.NoError(t, l.Wait(context.Background()))
}

// intStore is a map Store for int keys.
type intStore struct {
	mu sync.Mutex
	m  map[int]flightcache.Entry[int]
}

func newMemStoreInt() *intStore { return &intStore{m: map[int]flightcache.Entry[int]{}} }

func (s *intStore) Get(_ context.Context, k int) (flightcache.Entry[int], bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	return e, ok, nil
}

func (s *intStore) Set(_ context.Context, k int, e flightcache.Entry[int]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = e
	return nil
}

func (s *intStore) Delete(_ context.Context, k int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

// refStore is a RefStore that stores a new *Entry on every Set.
type refStore struct {
	mu sync.Mutex
	m  map[string]*flightcache.Entry[[]byte]
}

func (s *refStore) GetRef(_ context.Context, k string) (*flightcache.Entry[[]byte], bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	return e, ok, nil
}

func (s *refStore) Get(ctx context.Context, k string) (flightcache.Entry[[]byte], bool, error) {
	p, ok, err := s.GetRef(ctx, k)
	if !ok {
		return flightcache.Entry[[]byte]{}, false, err
	}
	return *p, true, err
}

func (s *refStore) Set(_ context.Context, k string, e flightcache.Entry[[]byte]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = &e
	return nil
}

func (s *refStore) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

// Over a RefStore, a Result is a copy: a later Set, a stale fallback and an
// expiry leave a Result already returned as it was.
func TestReview16RefStoreResultsAreCopies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &refStore{m: map[string]*flightcache.Entry[[]byte]{}}
		l, err := flightcache.New[string, []byte](s, &flightcache.Options{FreshFor: time.Second, StaleIfError: time.Hour})
		require.NoError(t, err)
		defer l.Close()
		ctx := context.Background()
		require.NoError(t, l.Set(ctx, "k", []byte("one")))
		r1, err := l.GetOrLoadResult(ctx, "k", func(context.Context, string) ([]byte, error) { return nil, errBackend })
		require.NoError(t, err)
		loadedAt := r1.FreshUntil
		require.NoError(t, l.Set(ctx, "k", []byte("two")))
		assert.Equal(t, "one", string(r1.Value))
		assert.Equal(t, loadedAt, r1.FreshUntil)

		time.Sleep(2 * time.Second)
		r2, err := l.GetOrLoadResult(ctx, "k", func(context.Context, string) ([]byte, error) { return nil, errBackend })
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStandIn, r2.Served)
		assert.Equal(t, "two", string(r2.Value))
		require.NoError(t, l.Set(ctx, "k", []byte("three")))
		assert.Equal(t, "two", string(r2.Value))
		assert.ErrorIs(t, r2.Err, errBackend)
	})
}

// A load that logs its context (log.Printf("%v", ctx), common in
// database/sql drivers and middleware) must not race with the fill: the
// fill's context is the job itself, which has no String method, so fmt walks
// every field of the job (its afters map, its atomics, its tickets) without
// the locks that guard them, while a derived context registers itself.
func TestReview16FillContextPrintsWithoutRacing(t *testing.T) {
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

// A Background caller that holds an old value for SoftTimeout is not run
// inline: it gets the old value at SoftTimeout while the load goes on, and
// the load's result is stored when it lands.
func TestReview16SoftTimeoutWithBackgroundContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemStore[string]()
		l, err := flightcache.New[string, string](s, &flightcache.Options{
			FreshFor: time.Second, StaleIfError: time.Hour, SoftTimeout: 100 * time.Millisecond, LoadTimeout: 10 * time.Second,
		})
		require.NoError(t, err)
		defer l.Close()
		ctx := context.Background()
		require.NoError(t, l.Set(ctx, "k", "old"))
		time.Sleep(2 * time.Second)
		start := time.Now()
		r, err := l.GetOrLoadResult(ctx, "k", func(context.Context, string) (string, error) {
			time.Sleep(time.Second)
			return "new", nil
		})
		require.NoError(t, err)
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
		assert.Equal(t, "old", r.Value)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.ErrorIs(t, r.Err, flightcache.ErrSoftTimeout)
		require.NoError(t, l.Wait(ctx))
		e, ok := s.entry("k")
		require.True(t, ok)
		assert.Equal(t, "new", e.Value)
	})
}

// GetOrLoadMany with a Background context runs its batch inline: a panic in
// the BatchLoadFunc, or in the Store's look, reaches the caller as a
// *BatchError wrapping *singleflight.PanicError, never a crash.
func TestReview16InlineBatchPanicsAreErrors(t *testing.T) {
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

// Waits and a Close racing fills that start and end: every Wait returns, and
// Close returns only once the fills it admitted have ended.
func TestReview16WaitRacingClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := flightcache.New[int, int](newMemStoreInt(), &flightcache.Options{LoadTimeout: time.Minute})
		require.NoError(t, err)
		var running atomic.Int64
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * time.Millisecond)
				_, _ = l.GetOrLoad(context.Background(), i, func(context.Context, int) (int, error) {
					running.Add(1)
					defer running.Add(-1)
					time.Sleep(time.Duration(20-i) * time.Millisecond)
					return i, nil
				})
			})
		}
		for range 5 {
			wg.Go(func() { assert.NoError(t, l.Wait(context.Background())) })
		}
		time.Sleep(5 * time.Millisecond)
		require.NoError(t, l.Close())
		assert.Zero(t, running.Load(), "Close returned while a load it admitted ran")
		wg.Wait()
	})
}

// A Recorder that panics inside an inline fill (Background caller), where
// the fill counts keys loaded, store errors and lost writes, is contained as
// it is on a fill's own goroutine: the caller gets its value, not a crash.
func TestReview16InlineFillContainsRecorderPanics(t *testing.T) {
	for name, ev := range map[string]stats.Event{"KeysLoaded": stats.KeysLoaded, "StoreError": stats.StoreError, "Panic": stats.Panic} {
		t.Run(name, func(t *testing.T) {
			s := newMemStore[string]()
			s.beforeSet = func(string, flightcache.Entry[string]) { panic("set") } // a lost write: StoreError, Panic
			l, err := flightcache.New[string, string](s, &flightcache.Options{Recorder: &panickyRecorder{on: ev}, Logger: slog.New(slog.DiscardHandler)})
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

// A load that calls GetOrLoad of another key on the same Loader, with a
// Background context, runs that fill inline too, nested: both values come
// back and are stored.
func TestReview16InlineNestedFillOfAnotherKey(t *testing.T) {
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

// Close, called while an inline fill runs, waits for it; the caller gets
// its value and the value is stored; later calls get ErrClosed.
func TestReview16CloseWhileAnInlineFillRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemStore[string]()
		l, err := flightcache.New[string, string](s, &flightcache.Options{LoadTimeout: time.Minute})
		require.NoError(t, err)
		type res struct {
			v   string
			err error
		}
		got := make(chan res, 1)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
				time.Sleep(time.Second)
				return "v", nil
			})
			got <- res{v, err}
		}()
		synctest.Wait()
		start := time.Now()
		require.NoError(t, l.Close())
		assert.Equal(t, time.Second, time.Since(start))
		r := <-got
		require.NoError(t, r.err)
		assert.Equal(t, "v", r.v)
		_, ok := s.entry("k")
		assert.True(t, ok)
		_, err = l.GetOrLoad(context.Background(), "k2", func(context.Context, string) (string, error) { return "", nil })
		assert.ErrorIs(t, err, flightcache.ErrClosed)
	})
}
