package flightcache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// These tests check what an ended context does to each entry point: a read
// serves what needs no wait and starts nothing, a write is all or nothing
// (DESIGN, "What bad input gets", rules 3 and 13).

// endedContext returns a context that has already ended.
func endedContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// refusingStore is a memStore whose Set and Delete can be refused.
type refusingStore struct {
	*memStore[string]
	refuse atomic.Bool
}

func (s *refusingStore) Set(ctx context.Context, key string, e flightcache.Entry[string]) error {
	if s.refuse.Load() {
		return errBackend
	}
	return s.memStore.Set(ctx, key, e)
}

func (s *refusingStore) Delete(ctx context.Context, key string) error {
	if s.refuse.Load() {
		return errBackend
	}
	return s.memStore.Delete(ctx, key)
}

// writeOp is Set or Invalidate, for tests that check both.
type writeOp struct {
	name string
	do   func(ctx context.Context, l *flightcache.Loader[string, string]) error
	// want is what the Store holds for "k" after the write took effect.
	want func(t *testing.T, e flightcache.Entry[string], ok bool)
}

var writeOps = []writeOp{
	{"Set", func(ctx context.Context, l *flightcache.Loader[string, string]) error {
		return l.Set(ctx, "k", "written")
	}, func(t *testing.T, e flightcache.Entry[string], ok bool) {
		require.True(t, ok)
		assert.Equal(t, "written", e.Value)
	}},
	{"Invalidate", func(ctx context.Context, l *flightcache.Loader[string, string]) error {
		return l.Invalidate(ctx, "k")
	}, func(t *testing.T, _ flightcache.Entry[string], ok bool) {
		assert.False(t, ok, "the invalidated key is gone")
	}},
}

// An otter test ported to this API (TestOtterCache_GetWithSuccessRefresh)
// found this: a write with an ended context that needs no wait takes effect,
// and wins over the load in flight (rules 8 and 13).
func TestWriteWithEndedContextThatNeedsNoWaitWinsOverLoadInFlight(t *testing.T) {
	for _, op := range writeOps {
		t.Run(op.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store, src := newMemStore[string](), newSource()
				src.gate = make(chan struct{})
				l := newLoader(t, store, nil)

				got := make(chan string, 1)
				go func() {
					v, err := l.GetOrLoad(context.Background(), "k", src.load)
					assert.NoError(t, err)
					got <- v
				}()
				synctest.Wait() // the load is in flight

				require.NoError(t, op.do(endedContext(), l), "a write that needs no wait is done whatever its ctx")
				close(src.gate)
				assert.Equal(t, "value-k", <-got, "the load's callers get its result")
				require.NoError(t, l.Wait(context.Background()))

				e, ok := store.entry("k")
				op.want(t, e, ok)
			})
		})
	}
}

// A write whose ctx ends before it could take the key's write token, or whose
// Store refuses it, changes nothing: the load in flight still stores its
// result (rule 13).
func TestRefusedWriteLeavesTheLoadInFlightToWrite(t *testing.T) {
	for _, op := range writeOps {
		t.Run(op.name+"/store refuses", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &refusingStore{memStore: newMemStore[string]()}
				src := newSource()
				src.gate = make(chan struct{})
				l := newLoader(t, store, nil)

				done := make(chan struct{})
				go func() {
					defer close(done)
					_, err := l.GetOrLoad(context.Background(), "k", src.load)
					assert.NoError(t, err)
				}()
				synctest.Wait()
				store.refuse.Store(true)
				err := op.do(context.Background(), l)
				require.ErrorIs(t, err, errBackend)
				store.refuse.Store(false)
				close(src.gate)
				<-done
				require.NoError(t, l.Wait(context.Background()))

				e, ok := store.entry("k")
				require.True(t, ok, "the load in flight wrote: the refused write changed nothing")
				assert.Equal(t, "value-k", e.Value)
			})
		})
		t.Run(op.name+"/ctx ends waiting for a write under way", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store, src := newMemStore[string](), newSource()
				writing, release := make(chan struct{}), make(chan struct{})
				store.beforeSet = func(key string, e flightcache.Entry[string]) {
					if e.Value == "value-k" {
						close(writing)
						<-release
					}
				}
				l := newLoader(t, store, nil)
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, err := l.GetOrLoad(context.Background(), "k", src.load)
					assert.NoError(t, err)
				}()
				<-writing // the fill holds the key's write token

				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				err := op.do(ctx, l)
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.ErrorIs(t, op.do(endedContext(), l), context.Canceled)
				close(release)
				<-done
				require.NoError(t, l.Wait(context.Background()))

				e, ok := store.entry("k")
				require.True(t, ok)
				assert.Equal(t, "value-k", e.Value, "the write that gave up changed nothing")
				v, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
				assert.Equal(t, "value-k", v)
				assert.Equal(t, 1, src.count("k"), "the refused write dropped nothing: no second load")
			})
		})
	}
}

// A refused write does not end the failure throttle's backoff: it changed
// nothing (rule 13).
func TestRefusedWriteKeepsTheFailureBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &refusingStore{memStore: newMemStore[string]()}
		l := newLoader(t, store, &flightcache.Options{
			FailureBackoff: flightcache.Backoff{Initial: time.Minute},
		})
		fail := func(context.Context, string) (string, error) { return "", errBackend }
		_, err := l.GetOrLoad(context.Background(), "k", fail)
		require.ErrorIs(t, err, errBackend)

		store.refuse.Store(true)
		require.Error(t, l.Invalidate(context.Background(), "k"))
		_, err = l.GetOrLoad(context.Background(), "k", fail)
		require.ErrorIs(t, err, flightcache.ErrThrottled, "the refused Invalidate did not end the backoff")

		store.refuse.Store(false)
		require.NoError(t, l.Invalidate(context.Background(), "k"))
		v, err := l.GetOrLoad(context.Background(), "k", newSource().load)
		require.NoError(t, err, "an Invalidate that took effect ends the backoff")
		assert.Equal(t, "value-k", v)
	})
}

// readEntry is one way to read one key, for tests that check every entry
// point alike.
type readEntry struct {
	name string
	get  func(ctx context.Context, l *flightcache.Loader[string, string], src *source) (string, error)
}

var readEntries = []readEntry{
	{"GetOrLoad", func(ctx context.Context, l *flightcache.Loader[string, string], src *source) (string, error) {
		return l.GetOrLoad(ctx, "k", src.load)
	}},
	{"GetOrLoadResult", func(ctx context.Context, l *flightcache.Loader[string, string], src *source) (string, error) {
		r, err := l.GetOrLoadResult(ctx, "k", src.load)
		return r.Value, err
	}},
	{"GetOrLoadMany", func(ctx context.Context, l *flightcache.Loader[string, string], src *source) (string, error) {
		m, err := l.GetOrLoadMany(ctx, []string{"k"}, src.loadMany)
		return m["k"], err
	}},
	{"Batcher", func(ctx context.Context, l *flightcache.Loader[string, string], src *source) (string, error) {
		b, err := l.Batcher(src.loadMany, flightcache.Window{Wait: time.Millisecond, MaxKeys: 10})
		if err != nil {
			return "", err
		}
		return b.GetOrLoad(ctx, "k")
	}},
}

// loadMany is load for many keys.
func (s *source) loadMany(ctx context.Context, keys []string) (map[string]string, error) {
	return eachKey(ctx, keys, s.load)
}

// eachKey is a BatchLoadFunc's answer made of one load of each key: an
// error of any is the error of the call.
func eachKey(ctx context.Context, keys []string, load flightcache.LoadFunc[string, string]) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		v, err := load(ctx, k)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// A caller whose ctx has ended is still served a hit, at every entry point
// (sturdyc's and GetOrLoad's behaviour; DESIGN, "What bad input gets").
func TestEndedContextIsServedAHit(t *testing.T) {
	for _, r := range readEntries {
		t.Run(r.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := newSource()
				l := newLoader(t, newMemStore[string](), nil)
				_, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)

				v, err := r.get(endedContext(), l, src)
				require.NoError(t, err)
				assert.Equal(t, "value-k", v)
				assert.Equal(t, 1, src.count("k"))
			})
		})
	}
}

// A caller whose ctx ends while the Store is read starts no load, at every
// entry point. Ported from sturdyc's
// TestBatchDoesNotProceedToCallTheFetchFunctionIfTheContextIsCancelled.
func TestContextEndedDuringStoreReadStartsNoLoad(t *testing.T) {
	for _, r := range readEntries {
		t.Run(r.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store, src := newMemStore[string](), newSource()
				ctx, cancel := context.WithCancel(context.Background())
				store.afterGet = func(string, bool) { cancel() }
				l := newLoader(t, store, nil)

				_, err := r.get(ctx, l, src)
				require.ErrorIs(t, err, context.Canceled)
				require.NoError(t, l.Wait(context.Background()))
				assert.Zero(t, src.total.Load(), "a caller that has left starts nothing")
			})
		})
	}
}

// A load is never called with a context that has already ended (rule 3):
// when the fill's own Store read outlasts LoadTimeout, the source is not
// called, and nothing counts as a load (rule 15).
func TestSourceIsNotCalledAfterTheFillsDeadline(t *testing.T) {
	for _, r := range readEntries {
		t.Run(r.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store, src := newMemStore[string](), newSource()
				var reads atomic.Int32
				store.afterGet = func(string, bool) {
					if reads.Add(1) == 2 { // the fill's look at the Store
						time.Sleep(time.Minute)
					}
				}
				var rec stats.Counter
				l := newLoader(t, store, &flightcache.Options{LoadTimeout: time.Second, Recorder: &rec})

				_, err := r.get(context.Background(), l, src)
				require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
				require.NoError(t, l.Wait(context.Background()))
				time.Sleep(2 * time.Minute) // the Store read returns, late
				synctest.Wait()
				assert.Zero(t, src.total.Load(), "the source was not called with an ended context")
				s := rec.Snapshot()
				assert.Zero(t, s.Loads, "a fill whose Store read hung made no call of the source")
				assert.Zero(t, s.LoadErrors)
				assert.Zero(t, s.LoadTime)
			})
		})
	}
}

// A fill that only waited on another instance's lease never called the
// source: it counts no load, no load error and no load time (rule 15).
func TestFillWaitingOnALeaseCountsNoLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := heldLease()
		src := newSource()
		var rec stats.Counter
		l := newLoader(t, store, &flightcache.Options{LoadTimeout: 30 * time.Second, Recorder: &rec})

		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		require.NoError(t, l.Wait(context.Background()))
		assert.Zero(t, src.total.Load())
		s := rec.Snapshot()
		assert.Zero(t, s.Loads)
		assert.Zero(t, s.LoadErrors)
		assert.Zero(t, s.LoadTime)
		assert.Equal(t, uint64(1), s.Misses)
	})
}

// heldLease is a Leaser whose leases another instance always holds: Lease
// waits for the holder as long as ctx allows.
func heldLease() *leasingStore {
	return &leasingStore{memStore: newMemStore[string](), lease: func(ctx context.Context, _ string) (func(), error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
}

// A load that times out counts as one failed load, its time LoadTimeout.
func TestLoadThatTimesOutCountsAsAFailedLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource()
		src.gate = make(chan struct{})
		var rec stats.Counter
		l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Second, Recorder: &rec})

		ctx, cancel := context.WithCancel(context.Background()) // not run inline
		defer cancel()
		_, err := l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		synctest.Wait() // the timeout is counted once the callers have it
		s := rec.Snapshot()
		assert.Equal(t, uint64(1), s.Loads)
		assert.Equal(t, uint64(1), s.LoadErrors)
		assert.Equal(t, time.Second, s.LoadTime)
		close(src.gate)
		require.NoError(t, l.Wait(context.Background()))
	})
}

// At a fill's deadline the callers are answered before the timeout is
// recorded: a Recorder that blocks there holds none of them, and later
// callers of the key start a load of their own (issue 24).
func TestRecorderBlockingAtTheDeadlineHoldsNoCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		rec := &recorder{onRecordLoad: func(time.Duration, error) { <-release }} // blocks until released
		l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Second, Recorder: rec})
		hang := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
			<-hang
			return "late", nil
		})
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout, "answered while the Recorder blocks")

		started := make(chan struct{})
		got := make(chan error, 1)
		go func() {
			_, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
				close(started)
				return "v", nil
			})
			got <- err
		}()
		<-started // the key was freed: a later caller loads, the Recorder still blocked
		close(release)
		require.NoError(t, <-got)
		close(hang)
		require.NoError(t, l.Wait(context.Background()))
		// The timeout is recorded after the fill has ended for Wait (its
		// callers answered first): let the released Recorder finish.
		synctest.Wait()
		assert.Equal(t, uint64(2), rec.Snapshot().Loads)
	})
}
