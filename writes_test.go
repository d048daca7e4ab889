package flightcache_test

import (
	"context"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
)

func TestInvalidateDuringLoadWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		src.gate = make(chan struct{})
		l := newLoader(t, store, nil)

		got := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.NoError(t, err)
			got <- v
		}()
		synctest.Wait()
		require.NoError(t, l.Invalidate(context.Background(), "k"))
		close(src.gate)
		assert.Equal(t, "value-k", <-got, "the load's waiters still get its result")
		synctest.Wait()

		_, ok := store.entry("k")
		assert.False(t, ok, "the load that Invalidate overtook must not be stored")
		src.gate = nil
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, 2, src.count("k"))
	})
}

func TestSetDuringLoadWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		src.gate = make(chan struct{})
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})

		got := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.NoError(t, err)
			got <- v
		}()
		synctest.Wait()
		require.NoError(t, l.Set(context.Background(), "k", "written"))

		// A caller arriving now sees the written value, not the load in flight.
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "written", v)

		close(src.gate)
		assert.Equal(t, "value-k", <-got)
		synctest.Wait()
		e, ok := store.entry("k")
		require.True(t, ok)
		assert.Equal(t, "written", e.Value)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), e.FreshUntil)
		assert.Equal(t, 1, src.count("k"))
	})
}

// TestInvalidateWaitsForAWriteUnderWay covers the narrowest interleaving: the
// load has finished and its Store.Set is running when Invalidate arrives.
func TestInvalidateWaitsForAWriteUnderWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		inSet, finishSet := make(chan struct{}), make(chan struct{})
		store.beforeSet = func(string, flightcache.Entry[string]) {
			close(inSet)
			<-finishSet
		}
		l := newLoader(t, store, nil)
		go l.GetOrLoad(context.Background(), "k", src.load)
		<-inSet

		invalidated := make(chan error)
		go func() { invalidated <- l.Invalidate(context.Background(), "k") }()
		synctest.Wait()
		select {
		case <-invalidated:
			t.Fatal("Invalidate returned while a write it must follow was under way")
		default:
		}
		close(finishSet)
		require.NoError(t, <-invalidated)
		_, ok := store.entry("k")
		assert.False(t, ok, "the fill's write landed after Invalidate's delete")
	})
}

func TestInvalidateGivesUpWhenItsContextEndsBehindAStuckWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		stuck := make(chan struct{})
		store.beforeSet = func(_ string, e flightcache.Entry[string]) {
			if e.Value == "value-k" {
				<-stuck
			}
		}
		l := newLoader(t, store, nil)
		go l.GetOrLoad(context.Background(), "k", src.load)
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, l.Invalidate(ctx, "k"), context.DeadlineExceeded)
		close(stuck)
	})
}

// TestAFillThatBeganDuringInvalidateIsNotJoinedAfterIt: the store holds v1,
// the source says v2. A fill begins while Invalidate runs and reads v1 from
// the store; a caller that starts after Invalidate returned must not join
// that fill and get v1.
func TestAFillThatBeganDuringInvalidateIsNotJoinedAfterIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &scriptStore{memStore: newMemStore[string](), holdGet: make(chan struct{}), holdDelete: make(chan struct{})}
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour})
		require.NoError(t, l.Set(context.Background(), "k", "v1"))
		src := newSource()
		src.answer = func(context.Context, string) (string, error) { return "v2", nil }

		invalidated := make(chan struct{})
		go func() {
			assert.NoError(t, l.Invalidate(context.Background(), "k"))
			close(invalidated)
		}()
		synctest.Wait() // Invalidate is in Delete, which has not deleted yet

		first := make(chan string)
		go func() {
			// Its own look misses (scripted); its fill reads v1 and is
			// held there.
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.NoError(t, err)
			first <- v
		}()
		synctest.Wait()
		close(store.holdDelete)
		<-invalidated

		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v2", v, "a caller that starts after Invalidate returned gets the source's value")
		close(store.holdGet)
		<-first
	})
}

// scriptStore is a memStore whose first Get after a Delete began reports a
// miss, whose second is held after it read, and whose Delete waits for
// holdDelete before it deletes.
type scriptStore struct {
	*memStore[string]
	mu         sync.Mutex
	deleting   bool
	gets       int
	holdGet    chan struct{}
	holdDelete chan struct{}
}

func (s *scriptStore) Get(ctx context.Context, key string) (flightcache.Entry[string], bool, error) {
	s.mu.Lock()
	n := 0
	if s.deleting {
		s.gets++
		n = s.gets
	}
	s.mu.Unlock()
	switch n {
	case 1:
		return flightcache.Entry[string]{}, false, nil
	case 2:
		e, ok, err := s.memStore.Get(ctx, key)
		<-s.holdGet
		return e, ok, err
	}
	return s.memStore.Get(ctx, key)
}

func (s *scriptStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	s.deleting = true
	s.mu.Unlock()
	<-s.holdDelete
	return s.memStore.Delete(ctx, key)
}

// TestALoadPastItsDeadlineNeverOverwritesANewerFill: the result of a load
// that has not finished by LoadTimeout is dropped (the docs of LoadTimeout
// and Close). A fill whose load returned in time but that is then held past
// its deadline before it writes (here by its Recorder) does not write
// either: its callers got ErrLoadTimeout, a newer fill has stored "new"
// meanwhile, and "new" stays. A race there would lose only some of the time,
// so the test tries 20 times.
func TestALoadPastItsDeadlineNeverOverwritesANewerFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := 0
		for range 20 {
			store := newMemStore[string]()
			// Its first RecordLoad takes 2s (a Recorder behind a contended
			// lock, or a preempted goroutine, does the same).
			var fired atomic.Bool
			rec := &recorder{onRecordLoad: func(time.Duration, error) {
				if fired.CompareAndSwap(false, true) {
					time.Sleep(2 * time.Second)
				}
			}}
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

// TestSetAndInvalidateWinOverARevalidationInFlight: a revalidation that answers
// ErrNotModified (wrapped) while a Set or Invalidate of the key happens
// never writes over them (rule 8), over a plain Store and over a Fencer.
func TestSetAndInvalidateWinOverARevalidationInFlight(t *testing.T) {
	for _, fenced := range []bool{false, true} {
		for _, op := range []string{"Set", "Invalidate", "none"} {
			t.Run(fmt.Sprintf("fenced=%v/%s", fenced, op), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var store flightcache.Store[string, string]
					var mem *memStore[string]
					if fenced {
						fs := newFenceStore()
						store, mem = fs, fs.memStore
					} else {
						mem = newMemStore[string]()
						store = mem
					}
					l := newLoader(t, store, &flightcache.Options{FreshFor: time.Second, StaleIfError: time.Hour})
					ctx := context.Background()
					require.NoError(t, l.Set(ctx, "k", "v1"))
					time.Sleep(2 * time.Second) // past FreshFor, inside StaleIfError

					inLoad, release := make(chan struct{}), make(chan struct{})
					done := make(chan struct{})
					var r flightcache.Result[string]
					var err error
					go func() {
						defer close(done)
						r, err = l.GetOrLoadResult(ctx, "k", func(ctx context.Context, key string) (string, error) {
							close(inLoad)
							<-release
							return "", fmt.Errorf("upstream said 304: %w", flightcache.ErrNotModified)
						})
					}()
					<-inLoad
					switch op {
					case "Set":
						require.NoError(t, l.Set(ctx, "k", "v2"))
					case "Invalidate":
						require.NoError(t, l.Invalidate(ctx, "k"))
					}
					close(release)
					<-done
					require.NoError(t, err)
					assert.Equal(t, "v1", r.Value, "the load's callers get the value it kept")
					assert.Equal(t, flightcache.ServedLoaded, r.Served)
					assert.True(t, r.FreshUntil.Time().After(time.Now()), "fresh again")
					synctest.Wait()
					e, ok := mem.entry("k")
					switch op {
					case "Set":
						require.True(t, ok)
						assert.Equal(t, "v2", e.Value, "Set wins")
					case "Invalidate":
						assert.False(t, ok, "Invalidate wins")
					default:
						require.True(t, ok)
						assert.Equal(t, "v1", e.Value)
						assert.True(t, e.FreshUntil.Time().After(time.Now()), "the kept entry is fresh again in the Store")
					}
				})
			})
		}
	}
}

// TestNoCallAfterAWriteReturnedGetsAnOlderValue: once Set or Invalidate of a
// key has returned, no call that starts afterwards gets an older value (rule
// 8, issue 12 item 1). One writer per key updates a versioned source and
// then Sets or Invalidates the key (write-through); readers use every entry
// point while loads are slow, fail or panic, and values go stale and are
// refreshed.
func TestNoCallAfterAWriteReturnedGetsAnOlderValue(t *testing.T) {
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

// row is a source row whose version a writer advances: a load reads the
// version when it is called, tags its entry "row", and, while gate is set,
// waits for it before it returns.
type row struct {
	mu      sync.Mutex
	version int
	calls   int
	gate    chan struct{}
}

func (r *row) load(ctx context.Context, key string) (string, error) {
	r.mu.Lock()
	v, gate := r.version, r.gate
	r.calls++
	r.mu.Unlock()
	if err := flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Minute, StaleFor: time.Hour, Tags: []string{"row"}}); err != nil {
		return "", err
	}
	if gate != nil {
		<-gate
	}
	return fmt.Sprintf("v%d", v), nil
}

func (r *row) loadMany(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		v, err := r.load(ctx, k)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// TestAWriteDuringAFillOfTheOldRowWins replays google/guava#1881 (a load of
// the old row in flight while the row is updated and the key invalidated
// left the old value cached), ben-manes/caffeine#251 (invalidateAll during
// a reload ignored), microlinkhq/keyvhq#275 (a stale-while-revalidate
// refresh that lands after a forced write overwrote it) and
// google/guava#2971 (the key never loaded again after such a race), and
// ports otter's TestCache_ConcurrentLoadingAndInvalidate and
// TestCache_WriteAfterRefreshRequestCancelsIt: for every kind of fill
// (a miss, a batch miss, a Batcher's miss, a stale refresh, a batch stale
// refresh, Loader.Refresh) and every write (Set, Invalidate, Expire,
// InvalidateTag, Clear), a fill that read the row before it changed, and
// returns after the write, is not stored (rule 8): what a read would serve
// then is the write's value, or a miss (for Expire, at most a stale entry),
// and the next reads load the new row.
func TestAWriteDuringAFillOfTheOldRowWins(t *testing.T) {
	writes := []struct {
		name string
		do   func(ctx context.Context, l *flightcache.Loader[string, string]) error
	}{
		{"Set", func(ctx context.Context, l *flightcache.Loader[string, string]) error { return l.Set(ctx, "k", "set") }},
		{"Invalidate", func(ctx context.Context, l *flightcache.Loader[string, string]) error { return l.Invalidate(ctx, "k") }},
		{"Expire", func(ctx context.Context, l *flightcache.Loader[string, string]) error { return l.Expire(ctx, "k") }},
		{"InvalidateTag", func(ctx context.Context, l *flightcache.Loader[string, string]) error {
			return l.InvalidateTag(ctx, "row")
		}},
		{"Clear", func(ctx context.Context, l *flightcache.Loader[string, string]) error { return l.Clear(ctx) }},
	}
	fills := []struct {
		name  string
		stale bool // the fill is a refresh of a stored entry, stale or (Refresh) fresh
		start func(l *flightcache.Loader[string, string], b *flightcache.Batcher[string, string], r *row)
	}{
		{"miss", false, func(l *flightcache.Loader[string, string], _ *flightcache.Batcher[string, string], r *row) {
			go func() { _, _ = l.GetOrLoad(context.Background(), "k", r.load) }()
		}},
		{"batch miss", false, func(l *flightcache.Loader[string, string], _ *flightcache.Batcher[string, string], r *row) {
			go func() { _, _ = l.GetOrLoadMany(context.Background(), []string{"k"}, r.loadMany) }()
		}},
		{"Batcher miss", false, func(_ *flightcache.Loader[string, string], b *flightcache.Batcher[string, string], _ *row) {
			go func() { _, _ = b.GetOrLoad(context.Background(), "k") }()
			synctest.Wait()
			time.Sleep(2 * time.Millisecond) // the window closes
		}},
		{"stale refresh", true, func(l *flightcache.Loader[string, string], _ *flightcache.Batcher[string, string], r *row) {
			time.Sleep(2 * time.Minute)
			_, _ = l.GetOrLoad(context.Background(), "k", r.load)
		}},
		{"batch stale refresh", true, func(l *flightcache.Loader[string, string], _ *flightcache.Batcher[string, string], r *row) {
			time.Sleep(2 * time.Minute)
			_, _ = l.GetOrLoadMany(context.Background(), []string{"k"}, r.loadMany)
		}},
		{"Loader.Refresh", true, func(l *flightcache.Loader[string, string], _ *flightcache.Batcher[string, string], r *row) {
			_ = l.Refresh(context.Background(), "k", r.load)
		}},
	}
	for _, st := range memoryStores {
		for _, w := range writes {
			for _, f := range fills {
				t.Run(st.name+"/"+w.name+"/"+f.name, func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						r := &row{version: 1}
						l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour})
						b, err := l.Batcher(r.loadMany, flightcache.Window{Wait: time.Millisecond})
						require.NoError(t, err)
						ctx := context.Background()
						if f.stale {
							v, err := l.GetOrLoad(ctx, "k", r.load)
							require.NoError(t, err)
							require.Equal(t, "v1", v)
						}
						r.mu.Lock()
						r.gate = make(chan struct{})
						calls := r.calls
						r.mu.Unlock()
						f.start(l, b, r)
						synctest.Wait()
						r.mu.Lock()
						require.Equal(t, calls+1, r.calls, "the fill has read the old row")
						r.version = 2 // the row changes, then the cache is told
						r.mu.Unlock()
						require.NoError(t, w.do(ctx, l))
						close(r.gate)
						require.NoError(t, l.Wait(ctx))
						synctest.Wait()

						res, found, err := l.Peek(ctx, "k")
						require.NoError(t, err)
						switch {
						case w.name == "Set":
							require.True(t, found)
							assert.Equal(t, flightcache.ServedFresh, res.Served)
							assert.Equal(t, "set", res.Value, "the fill that Set overtook was stored")
						case w.name == "Expire" && found:
							assert.Equal(t, flightcache.ServedStale, res.Served, "the fill that Expire overtook was stored fresh: %q", res.Value)
						default:
							assert.False(t, found, "the fill that %s overtook was stored: %q", w.name, res.Value)
						}

						r.mu.Lock()
						r.gate = nil
						r.mu.Unlock()
						want := "v2"
						if w.name == "Set" {
							want = "set"
						}
						for range 2 { // an Expire'd entry is served stale once while it refreshes
							_, err = l.GetOrLoad(ctx, "k", r.load)
							require.NoError(t, err)
							require.NoError(t, l.Wait(ctx))
						}
						v, err := l.GetOrLoad(ctx, "k", r.load)
						require.NoError(t, err)
						assert.Equal(t, want, v, "the key loads again after the race")
					})
				})
			}
		}
	}
}
