package flightcache_test

import (
	"context"
	"log/slog"
	mrand "math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// Tests of a review that attacked the Loader's promises (DESIGN.md rules
// 1-12, issues 11 and 12). Each TestAttack... test fails on the code it was
// written against; see the comment of each for the rule it checks.

// oncePanicRecorder panics the first time it is given event on, and counts
// everything else.
type oncePanicRecorder struct {
	stats.Counter
	on    stats.Event
	fired atomic.Bool
}

func (r *oncePanicRecorder) Record(e stats.Event, n int) {
	if e == r.on && r.fired.CompareAndSwap(false, true) {
		panic("recorder bug")
	}
	r.Counter.Record(e, n)
}

// TestAttackBatchRecorderPanicOnCoalescedWedgesKeys: GetOrLoadMany claims
// the calls of its keys in the singleflight group, then records
// stats.Coalesced, and only then submits the fill of the keys it started. A
// Recorder that panics on Coalesced (once) leaves the started calls claimed
// for ever: every later caller of those keys joins a call that never ends
// (issue 12: "Take no lock, slot, count or barrier before such a call unless
// it is given back on every exit path").
func TestAttackBatchRecorderPanicOnCoalescedWedgesKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &oncePanicRecorder{on: stats.Coalesced}
		store, src := newMemStore[string](), newSource()
		src.gate = make(chan struct{})
		l, err := flightcache.New[string, string](store, &flightcache.Options{Recorder: rec, LoadTimeout: time.Second})
		require.NoError(t, err)
		defer l.Close()

		go l.GetOrLoad(context.Background(), "a", src.load) // "a" is in flight
		synctest.Wait()
		batch := func(_ context.Context, keys []string) (map[string]string, error) {
			m := make(map[string]string)
			for _, k := range keys {
				m[k] = "value-" + k
			}
			return m, nil
		}
		// "a" is joined (Coalesced: the Recorder panics), "b" is started.
		assert.Panics(t, func() { _, _ = l.GetOrLoadMany(context.Background(), []string{"a", "b"}, batch) })
		close(src.gate)
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		v, err := l.GetOrLoad(ctx, "b", src.load)
		assert.NoError(t, err, "key b must not stay claimed by a fill that was never submitted")
		assert.Equal(t, "value-b", v)
	})
}

// releaseBlockingStore is a Leaser whose lease release blocks until
// unblock is closed, as a release over a dead connection might.
type releaseBlockingStore struct {
	*memStore[string]
	unblock chan struct{}
}

func (s *releaseBlockingStore) Lease(context.Context, string) (func(), error) {
	return func() { <-s.unblock }, nil
}

// TestAttackCloseHangsPastLoadTimeoutOnABlockedRelease: Close's doc says it
// waits for running fills "each within Options.LoadTimeout". A fill whose
// keys all have their results but whose lease release does not return is
// never ended: the deadline (job.expire) ends a fill for Close only when it
// still finished some key (n > 0). Close then hangs for ever; a refresh in
// that state also keeps its slot and its key "running" for ever.
func TestAttackCloseHangsPastLoadTimeoutOnABlockedRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &releaseBlockingStore{memStore: newMemStore[string](), unblock: make(chan struct{})}
		src := newSource()
		l, err := flightcache.New[string, string](store, &flightcache.Options{LoadTimeout: time.Second})
		require.NoError(t, err)
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		require.Equal(t, "value-k", v)

		closed := make(chan struct{})
		go func() {
			l.Close()
			close(closed)
		}()
		time.Sleep(time.Minute) // 60 × LoadTimeout
		synctest.Wait()
		select {
		case <-closed:
		default:
			t.Error("Close still waiting a minute after it began, with LoadTimeout = 1s")
		}
		close(store.unblock)
		<-closed
	})
}

// panicReleaseStore is a BatchLeaser whose release releases the leases and
// then panics.
type panicReleaseStore struct{ *leaseStore }

func (s panicReleaseStore) LeaseMany(ctx context.Context, keys []string) ([]string, func(), error) {
	taken, release, err := batchLeaseStore{s.leaseStore}.LeaseMany(ctx, keys)
	return taken, func() {
		release()
		panic("release bug")
	}, err
}

func (s *leaseStore) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// TestAttackAReleaseThatPanicsLeaksTheBatchsOtherLeases: a release that
// panics is contained; the batch's values still reach the caller, and the
// leases it released stay released. Issue 12: what is taken before a call
// into a plug-in is given back on every exit path.
func TestAttackAReleaseThatPanicsLeaksTheBatchsOtherLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := panicReleaseStore{newLeaseStore()}
		l, err := flightcache.New[string, string](store, &flightcache.Options{LoadTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		defer l.Close()
		got, err := l.GetOrLoadMany(context.Background(), []string{"a", "b", "c"}, newBatchSource().load)
		require.NoError(t, err)
		assert.Len(t, got, 3)
		synctest.Wait()
		assert.Zero(t, store.heldCount(), "every lease the batch took is released")
	})
}

// logCapture is an slog.Handler that keeps the messages it is given.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCapture) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *logCapture) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCapture) WithGroup(string) slog.Handler      { return h }
func (h *logCapture) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

// panicLeaseStore is a Leaser whose release panics.
type panicLeaseStore struct{ *memStore[string] }

func (panicLeaseStore) Lease(context.Context, string) (func(), error) {
	return func() { panic("release bug") }, nil
}

// TestAttackAPanicAfterTheResultsIsSwallowedUnlogged: issue 12 asks that "a
// panic on a background goroutine is recovered, counted and logged". A fill
// whose lease release panics after its key has its value is recovered by
// job.run and counted (stats.Panic), but the error goes to failRest, which
// gives it to no one (every key has its result already): nothing is logged,
// and the operator never learns that the Leaser is broken.
func TestAttackAPanicAfterTheResultsIsSwallowedUnlogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &logCapture{}
		rec := new(stats.Counter)
		store := panicLeaseStore{newMemStore[string]()}
		l, err := flightcache.New[string, string](store, &flightcache.Options{Logger: slog.New(h), Recorder: rec})
		require.NoError(t, err)
		defer l.Close()
		v, err := l.GetOrLoad(context.Background(), "k", newSource().load)
		require.NoError(t, err)
		assert.Equal(t, "value-k", v)
		synctest.Wait()
		assert.Equal(t, uint64(1), rec.Snapshot().Panics, "counted")
		assert.NotEmpty(t, h.messages(), "and logged")
	})
}

// slowFirstLoadRecorder's first RecordLoad takes d (a Recorder behind a
// contended lock, or a preempted goroutine, does the same).
type slowFirstLoadRecorder struct {
	stats.Counter
	d     time.Duration
	fired atomic.Bool
}

func (r *slowFirstLoadRecorder) RecordLoad(elapsed time.Duration, err error) {
	if r.fired.CompareAndSwap(false, true) {
		time.Sleep(r.d)
	}
	r.Counter.RecordLoad(elapsed, err)
}

// TestAttackALoadPastItsDeadlineOverwritesANewerFill: LoadTimeout's doc
// says a load that has not returned by the deadline has its result dropped,
// and Close's that "its result is dropped". loadChunk checks j.expired once,
// before it records and writes; a fill that passes that check and is then
// held past its deadline (here by the Recorder) still writes: lockAll's
// select picks at random between a free token and the done context. Its
// callers got ErrLoadTimeout, a newer fill has stored "new" meanwhile, and
// the old fill's "old" lands over it, half of the time (so the test tries 20
// times).
func TestAttackALoadPastItsDeadlineOverwritesANewerFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := 0
		for range 20 {
			store := newMemStore[string]()
			rec := &slowFirstLoadRecorder{d: 2 * time.Second}
			l, err := flightcache.New[string, string](store, &flightcache.Options{Recorder: rec, LoadTimeout: time.Second})
			require.NoError(t, err)
			old := func(context.Context, string) (string, error) { return "old", nil }
			_, err = l.GetOrLoad(context.Background(), "k", old)
			require.ErrorIs(t, err, flightcache.ErrLoadTimeout)

			newer := func(context.Context, string) (string, error) { return "new", nil }
			v, err := l.GetOrLoad(context.Background(), "k", newer)
			require.NoError(t, err)
			require.Equal(t, "new", v)

			time.Sleep(2 * time.Second) // the first fill's Recorder returns
			synctest.Wait()
			if e, _ := store.entry("k"); e.Value != "new" {
				lost++
			}
			l.Close()
		}
		assert.Zero(t, lost, "times out of 20 that a timed-out load's result overwrote a newer fill")
	})
}

// fixedStore holds one entry for every key, given by entry.
type fixedStore[K comparable] struct {
	mu    sync.Mutex
	entry flightcache.Entry[string]
}

func (s *fixedStore[K]) Get(context.Context, K) (flightcache.Entry[string], bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entry, true, nil
}
func (s *fixedStore[K]) Set(context.Context, K, flightcache.Entry[string]) error { return nil }
func (s *fixedStore[K]) Delete(context.Context, K) error                         { return nil }

// hitAllocs returns the allocations of a GetOrLoad of key over a store that
// holds e for every key.
func hitAllocs[K comparable](t *testing.T, key K, e flightcache.Entry[string], opts *flightcache.Options) float64 {
	l, err := flightcache.New[K, string](&fixedStore[K]{entry: e}, opts)
	require.NoError(t, err)
	defer l.Close()
	load := func(context.Context, K) (string, error) { return "v", nil }
	return testing.AllocsPerRun(1000, func() {
		if _, err := l.GetOrLoad(context.Background(), key, load); err != nil {
			t.Fatal(err)
		}
	})
}

// TestProbeFreshHitsOfEveryKeyTypeAllocateNothing: rule 1, for key types
// that the Loader must check at each call (interfaces, floats, structs
// holding them).
func TestProbeFreshHitsOfEveryKeyTypeAllocateNothing(t *testing.T) {
	fresh := flightcache.Entry[string]{Value: "v", FreshUntil: time.Now().Add(time.Hour)}
	opts := &flightcache.Options{FreshFor: time.Hour, Recorder: new(stats.Counter)}
	type mixed struct {
		ID   int
		Tag  any
		Rank float64
	}
	assert.Zero(t, hitAllocs[any](t, "k", fresh, opts), "any holding a string")
	assert.Zero(t, hitAllocs[any](t, 42, fresh, opts), "any holding an int")
	assert.Zero(t, hitAllocs[float64](t, 1.5, fresh, opts), "float64")
	assert.Zero(t, hitAllocs[mixed](t, mixed{1, "x", 2}, fresh, opts), "struct with an interface and a float")
	assert.Zero(t, hitAllocs[[2]any](t, [2]any{1, "x"}, fresh, opts), "array of interfaces")
}

// TestProbeStaleHitsWhileTheRefreshRunsAllocateNothing: issue 11 item 3,
// "a read that finds its key's refresh running, or backing off, or every
// slot taken, ... allocates nothing".
func TestProbeStaleHitsWhileTheRefreshRunsAllocateNothing(t *testing.T) {
	stale := flightcache.Entry[string]{Value: "v", FreshUntil: time.Now().Add(-time.Minute), ExpiresAt: time.Now().Add(time.Hour)}
	for _, rec := range []stats.Recorder{nil, new(stats.Counter)} {
		opts := &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, MaxRefreshes: 1, Recorder: rec, Logger: slog.New(slog.DiscardHandler)}

		// Running: the refresh of "k" hangs until the test ends.
		l, err := flightcache.New[string, string](&fixedStore[string]{entry: stale}, opts)
		require.NoError(t, err)
		gate := make(chan struct{})
		hang := func(context.Context, string) (string, error) { <-gate; return "v2", nil }
		_, err = l.GetOrLoad(context.Background(), "k", hang)
		require.NoError(t, err)
		running := testing.AllocsPerRun(1000, func() { _, _ = l.GetOrLoad(context.Background(), "k", hang) })
		// Every slot taken: "k" holds the only one; "other" finds none.
		full := testing.AllocsPerRun(1000, func() { _, _ = l.GetOrLoad(context.Background(), "other", hang) })
		close(gate)
		l.Close()

		// Backing off: the refresh of "k" failed.
		counter := new(stats.Counter)
		bopts := *opts
		bopts.Recorder = counter
		l, err = flightcache.New[string, string](&fixedStore[string]{entry: stale}, &bopts)
		require.NoError(t, err)
		var fails atomic.Int64
		fail := func(context.Context, string) (string, error) { fails.Add(1); return "", errBackend }
		_, err = l.GetOrLoad(context.Background(), "k", fail)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return counter.Snapshot().RefreshErrors == 1 }, 5*time.Second, time.Millisecond)
		backoff := testing.AllocsPerRun(1000, func() { _, _ = l.GetOrLoad(context.Background(), "k", fail) })
		l.Close()
		assert.Equal(t, int64(1), fails.Load(), "the key backed off")
		assert.Zero(t, backoff, "backing off")
		assert.Zero(t, running, "refresh running, recorder %T", rec)
		assert.Zero(t, full, "every slot taken, recorder %T", rec)
	}
}

// TestAttackAFailedLoaderRefreshIsNeitherARefreshErrorNorLogged:
// Loader.Refresh is counted in stats.Stats.Refreshes ("a background refresh
// started"), but when it fails it is not counted in RefreshErrors ("a
// background refresh that failed") and nothing is logged, although rule 6
// says a failed refresh "is logged and counted" and Options.Logger promises
// warnings about "failed background refreshes". RefreshErrors/Refreshes, the
// obvious alert, reads 0% with every Refresh failing.
func TestAttackAFailedLoaderRefreshIsNeitherARefreshErrorNorLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &logCapture{}
		rec := new(stats.Counter)
		l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{Recorder: rec, Logger: slog.New(h)})
		require.NoError(t, err)
		defer l.Close()
		fail := func(context.Context, string) (string, error) { return "", errBackend }
		require.NoError(t, l.Refresh(context.Background(), "k", fail))
		synctest.Wait()
		s := rec.Snapshot()
		assert.Equal(t, uint64(1), s.Refreshes)
		assert.Equal(t, uint64(1), s.LoadErrors)
		assert.Equal(t, uint64(1), s.RefreshErrors, "a failed background refresh is a RefreshError")
		assert.NotEmpty(t, h.messages(), "and is logged")
	})
}

// TestAttackALoadThatCallsGoexitIsNotCounted: a load that calls
// runtime.Goexit (t.FailNow in a test double, or a library that does) was a
// call of the source that failed, and its callers get an error; but
// RecordLoad is never called for it, so Loads and LoadErrors stay 0 while
// Misses is 1.
func TestAttackALoadThatCallsGoexitIsNotCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := new(stats.Counter)
		l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{Recorder: rec})
		require.NoError(t, err)
		defer l.Close()
		ctx, cancel := context.WithCancel(context.Background()) // the load runs on a goroutine of the Loader's
		defer cancel()
		_, err = l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
			runtime.Goexit()
			return "", nil
		})
		require.Error(t, err)
		s := rec.Snapshot()
		assert.Equal(t, uint64(1), s.Misses)
		assert.Equal(t, uint64(1), s.Loads, "the source was called once")
		assert.Equal(t, uint64(1), s.LoadErrors, "and failed")
	})
}

// TestProbeRule8Stress: once Set or Invalidate of a key has returned, no call
// that starts afterwards gets an older value (rule 8, issue 12 item 1). One
// writer per key updates a versioned source and then Sets or Invalidates
// the key (write-through); readers use every entry point while loads are
// slow, fail or panic, and values go stale and are refreshed.
func TestProbeRule8Stress(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	const keys, readers, ops = 4, 6, 1500
	for name, open := range map[string]func() flightcache.Store[string, string]{
		"memStore": func() flightcache.Store[string, string] { return newMemStore[string]() },
		"lrustore": func() flightcache.Store[string, string] {
			s, err := lrustore.New[string, string](1000)
			require.NoError(t, err)
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			l, err := flightcache.New(open(), &flightcache.Options{
				FreshFor: 200 * time.Microsecond, StaleFor: time.Millisecond, StaleIfError: time.Millisecond,
				EarlyRefresh: 1, MaxBatch: 2, Logger: slog.New(slog.DiscardHandler),
			})
			require.NoError(t, err)
			var ver, floor [keys]atomic.Int64
			key := func(i int) string { return strconv.Itoa(i) }
			idx := func(k string) int { i, _ := strconv.Atoi(k); return i }
			loadOne := func(_ context.Context, k string) (string, error) {
				v := ver[idx(k)].Load()
				switch v % 7 {
				case 3:
					return "", errBackend
				case 5:
					runtime.Gosched()
				}
				return strconv.FormatInt(v, 10), nil
			}
			loadMany := func(ctx context.Context, ks []string) (map[string]string, error) {
				m := make(map[string]string)
				for _, k := range ks {
					if v, err := loadOne(ctx, k); err == nil {
						m[k] = v
					}
				}
				return m, nil
			}
			check := func(i int, f int64, v string) {
				n, err := strconv.ParseInt(v, 10, 64)
				if assert.NoError(t, err) && n < f {
					t.Errorf("key %d: got version %d after a write of version %d had returned (seed %d)", i, n, f, seed)
				}
			}
			var wg sync.WaitGroup
			for i := range keys {
				wg.Go(func() {
					rng := mrand.New(mrand.NewPCG(seed, uint64(i)))
					for range ops {
						n := ver[i].Add(1)
						if rng.IntN(2) == 0 {
							assert.NoError(t, l.Set(context.Background(), key(i), strconv.FormatInt(n, 10)))
						} else {
							assert.NoError(t, l.Invalidate(context.Background(), key(i)))
						}
						floor[i].Store(n)
						runtime.Gosched()
					}
				})
			}
			for r := range readers {
				wg.Go(func() {
					rng := mrand.New(mrand.NewPCG(seed, uint64(100+r)))
					for range ops {
						i := rng.IntN(keys)
						f := floor[i].Load()
						switch rng.IntN(4) {
						case 0, 1:
							if v, err := l.GetOrLoad(context.Background(), key(i), loadOne); err == nil {
								check(i, f, v)
							}
						case 2:
							j := rng.IntN(keys)
							fj := floor[j].Load()
							m, _ := l.GetOrLoadMany(context.Background(), []string{key(i), key(j)}, loadMany)
							if v, ok := m[key(i)]; ok {
								check(i, f, v)
							}
							if v, ok := m[key(j)]; ok {
								check(j, fj, v)
							}
						case 3:
							_ = l.Refresh(context.Background(), key(i), loadOne)
						}
					}
				})
			}
			wg.Wait()
			require.NoError(t, l.Close())
		})
	}
}

// TestLoaderRefreshIsAnExplicitCallOutsideMaxRefreshes: Refresh is paced
// by its caller, not by MaxRefreshes (its doc says so); each is counted.
func TestLoaderRefreshIsAnExplicitCallOutsideMaxRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource()
		src.gate = make(chan struct{})
		rec := new(stats.Counter)
		l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{MaxRefreshes: 1, Recorder: rec})
		require.NoError(t, err)
		defer l.Close()
		for i := range 10 {
			require.NoError(t, l.Refresh(context.Background(), strconv.Itoa(i), src.load))
		}
		synctest.Wait()
		assert.Equal(t, int64(10), src.total.Load(), "ten explicit refreshes, all started")
		assert.Equal(t, uint64(10), rec.Snapshot().Refreshes)
		close(src.gate)
	})
}

// TestProbeMaxBatchChunksFailAlone: with MaxBatch splitting a batch, a
// chunk that errors, one that panics and one that calls runtime.Goexit fail
// only their own keys; the others are loaded and stored.
func TestProbeMaxBatchChunksFailAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l, err := flightcache.New[string, string](store, &flightcache.Options{MaxBatch: 2, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		defer l.Close()
		load := func(_ context.Context, keys []string) (map[string]string, error) {
			m := make(map[string]string)
			for _, k := range keys {
				switch k {
				case "err":
					return nil, errBackend
				case "panic":
					panic("batch bug")
				case "exit":
					runtime.Goexit()
				}
				m[k] = "v-" + k
			}
			return m, nil
		}
		keys := []string{"a", "b", "err", "c", "panic", "d", "exit", "e", "f", "g"}
		got, err := l.GetOrLoadMany(context.Background(), keys, load)
		var be *flightcache.BatchError[string]
		require.ErrorAs(t, err, &be)
		assert.Equal(t, map[string]string{"a": "v-a", "b": "v-b", "f": "v-f", "g": "v-g"}, got)
		assert.Len(t, be.Failed, 6)
		assert.ErrorIs(t, be.Failed["err"], errBackend)
		var pe *singleflight.PanicError
		assert.ErrorAs(t, be.Failed["panic"], &pe)
		assert.ErrorIs(t, be.Failed["exit"], singleflight.ErrGoexit)
		for _, k := range []string{"a", "b", "f", "g"} {
			_, ok := store.entry(k)
			assert.True(t, ok, k)
		}
	})
}

// TestProbeGetOrLoadManyDuplicatesAndCancel: duplicate keys are loaded
// once; a caller that leaves gets ctx.Err() at once and the batch is still
// stored.
func TestProbeGetOrLoadManyDuplicatesAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l, err := flightcache.New[string, string](store, nil)
		require.NoError(t, err)
		defer l.Close()
		gate := make(chan struct{})
		var calls atomic.Int64
		var seen []string
		load := func(_ context.Context, keys []string) (map[string]string, error) {
			calls.Add(1)
			seen = append(seen, keys...)
			<-gate
			return map[string]string{"a": "1", "b": "2"}, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := l.GetOrLoadMany(ctx, []string{"a", "b", "a", "b", "a"}, load)
			done <- err
		}()
		synctest.Wait()
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
		close(gate)
		synctest.Wait()
		assert.Equal(t, int64(1), calls.Load())
		assert.ElementsMatch(t, []string{"a", "b"}, seen)
		_, ok := store.entry("b")
		assert.True(t, ok)
	})
}

// filteringBatchStore is a BatchStore whose GetMany filters its keys
// argument in place, the common Go idiom (valid := keys[:0]), leaving out
// the keys it cannot encode, which it simply has no entry for.
type filteringBatchStore struct{ *batchStore }

func (s filteringBatchStore) GetMany(ctx context.Context, keys []string) (map[string]flightcache.Entry[string], error) {
	valid := keys[:0]
	for _, k := range keys {
		if !strings.HasPrefix(k, "bad") {
			valid = append(valid, k)
		}
	}
	return s.batchStore.GetMany(ctx, valid)
}

// TestAttackAStoreThatFiltersItsKeysInPlaceDropsKeys: issue 12 item 3,
// "never trust caller-owned memory ... copy what the loader keeps ... or
// never read it back". GetOrLoadMany hands its own uniq slice to
// BatchStore.GetMany and then reads it back as the list of keys to serve
// and load. A Store that filters the slice in place (the idiom issue 12
// quotes for BatchLoadFunc) makes "bad1" vanish from the call: it is never
// loaded, and is absent from the result with a nil error, as if the source
// had said it does not exist.
func TestAttackAStoreThatFiltersItsKeysInPlaceDropsKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := filteringBatchStore{&batchStore{memStore: newMemStore[string]()}}
		l, err := flightcache.New[string, string](store, nil)
		require.NoError(t, err)
		defer l.Close()
		src := newBatchSource()
		got, err := l.GetOrLoadMany(context.Background(), []string{"bad1", "good1", "good2"}, src.load)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"bad1": "value-bad1", "good1": "value-good1", "good2": "value-good2"}, got)
	})
}

// TestAttackAnEntryPastItsExpiresAtIsServed: Entry.ExpiresAt is "the time
// after which Value is never served", but judge returns verdictFresh for
// every entry whose FreshUntil is zero, and for every entry before its
// FreshUntil, without looking at ExpiresAt. An entry from another writer of
// a shared Store (another version, another tool) with ExpiresAt passed is
// served as fresh for ever, from a Store that does not drop expired entries
// at once.
func TestAttackAnEntryPastItsExpiresAtIsServed(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	for name, e := range map[string]flightcache.Entry[string]{
		"FreshUntil zero":         {Value: "old", ExpiresAt: past},
		"FreshUntil after expiry": {Value: "old", FreshUntil: time.Now().Add(time.Hour), ExpiresAt: past},
	} {
		t.Run(name, func(t *testing.T) {
			l, err := flightcache.New[string, string](&fixedStore[string]{entry: e}, &flightcache.Options{FreshFor: time.Minute})
			require.NoError(t, err)
			defer l.Close()
			v, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "new", nil })
			require.NoError(t, err)
			assert.Equal(t, "new", v, "an entry past its ExpiresAt is never served")
		})
	}
}

// TestProbeNoGoroutineOutlivesClose: goleak right after Close, outside a
// synctest bubble, where the process's coarse clock ticks.
func TestProbeNoGoroutineOutlivesClose(t *testing.T) {
	before := goleak.IgnoreCurrent()
	l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{FreshFor: time.Hour})
	require.NoError(t, err)
	load := newSource().load
	for range 3 {
		_, err = l.GetOrLoad(context.Background(), "k", load)
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	goleak.VerifyNone(t, before)
}
