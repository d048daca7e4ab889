package flightcache_test

import (
	"context"
	"runtime"
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

// versionedSource answers "v1", "v2", ... for successive loads.
func versionedSource(src *source) {
	var n atomic.Int64
	src.answer = func(context.Context, string) (string, error) {
		return "v" + string(rune('0'+n.Add(1))), nil
	}
}

func TestStaleReadsReturnAtOnceAndStartOneRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
		versionedSource(src)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute, Recorder: rec})
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		require.Equal(t, "v1", v)

		time.Sleep(61 * time.Second)
		src.gate = make(chan struct{})
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				v, err := l.GetOrLoad(context.Background(), "k", src.load)
				assert.NoError(t, err)
				assert.Equal(t, "v1", v)
			})
		}
		wg.Wait() // while the refresh is still held at the gate
		synctest.Wait()
		assert.Equal(t, 2, src.count("k"), "100 stale reads start one refresh")

		close(src.gate)
		synctest.Wait()
		v, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v2", v, "the refreshed value is served after the refresh")
		e, _ := store.entry("k")
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), e.FreshUntil)

		s := rec.Snapshot()
		assert.Equal(t, uint64(100), s.StaleHits)
		assert.Equal(t, uint64(1), s.Refreshes)
		assert.Equal(t, uint64(2), s.Hits+s.Misses)
	})
}

func TestRefreshKeepsTheCallersValuesButNotItsCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type traceID struct{}
		src := newSource()
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute, LoadTimeout: 7 * time.Second})
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(61 * time.Second)

		seen := make(chan context.Context, 1)
		errDuringLoad := make(chan error, 1)
		src.answer = func(ctx context.Context, key string) (string, error) {
			time.Sleep(time.Second) // long after the caller left
			errDuringLoad <- ctx.Err()
			seen <- ctx
			return "v2", nil
		}
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), traceID{}, "t-9"))
		start := time.Now()
		_, err = l.GetOrLoad(ctx, "k", src.load)
		require.NoError(t, err)
		cancel() // the caller is gone before the refresh runs
		assert.NoError(t, <-errDuringLoad, "the caller's cancellation must not reach the refresh")
		lctx := <-seen
		assert.Equal(t, "t-9", lctx.Value(traceID{}))
		deadline, ok := lctx.Deadline()
		require.True(t, ok)
		assert.Equal(t, start.Add(7*time.Second), deadline, "refreshes run under LoadTimeout")
	})
}

func TestAfterStaleForTheEntryIsAMiss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
		versionedSource(src)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute, Recorder: rec})
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)

		time.Sleep(2*time.Minute + time.Second)
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v2", v, "past its stale window an entry is never served")
		assert.Zero(t, rec.Snapshot().StaleHits)
		assert.Equal(t, uint64(2), rec.Snapshot().Misses)
	})
}

func TestForegroundLoadJoinsARefreshInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		versionedSource(src)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute, LoadTimeout: time.Hour})
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)

		time.Sleep(61 * time.Second)
		src.gate = make(chan struct{})
		v, err := l.GetOrLoad(context.Background(), "k", src.load) // starts the refresh
		require.NoError(t, err)
		assert.Equal(t, "v1", v)
		synctest.Wait()

		time.Sleep(time.Minute) // the stale window ends while the refresh runs
		got := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.NoError(t, err)
			got <- v
		}()
		synctest.Wait()
		close(src.gate)
		assert.Equal(t, "v2", <-got)
		assert.Equal(t, 2, src.count("k"), "the miss joined the refresh")
	})
}

func TestRefreshJoinsAForegroundLoadInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		src.gate = make(chan struct{})
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute})

		got := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.NoError(t, err)
			got <- v
		}()
		synctest.Wait()
		// Another writer (another instance, say) leaves a stale entry while
		// the load runs; a read now serves it and asks for a refresh.
		store.Set(context.Background(), "k", flightcache.Entry[string]{
			Value: "old", FreshUntil: flightcache.DeadlineOf(time.Now().Add(-time.Second)), ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Minute)),
		})
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "old", v)
		synctest.Wait()

		close(src.gate)
		assert.Equal(t, "value-k", <-got)
		synctest.Wait()
		assert.Equal(t, 1, src.count("k"), "the refresh joined the load in flight")
	})
}

func TestFailedRefreshKeepsTheOldValueAndBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
		logs := &logSink{}
		l := newLoader(t, store, &flightcache.Options{
			FreshFor: time.Minute, StaleFor: time.Hour, Recorder: rec,
			Logger: logs.logger(),
		})
		_, err := l.GetOrLoad(context.Background(), "user:7", src.load)
		require.NoError(t, err)
		time.Sleep(61 * time.Second)

		src.answer = func(context.Context, string) (string, error) { return "", errBackend }
		read := func() {
			v, err := l.GetOrLoad(context.Background(), "user:7", src.load)
			require.NoError(t, err)
			require.Equal(t, "value-user:7", v, "the old value is kept")
			synctest.Wait()
		}
		read()
		assert.Equal(t, 2, src.count("user:7"))
		assert.Equal(t, uint64(1), rec.Snapshot().RefreshErrors)
		assert.Contains(t, logs.String(), "key=user:7")
		assert.Contains(t, logs.String(), errBackend.Error())

		// Backoff: 1s, then 2s, then 4s.
		for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
			loads := src.count("user:7")
			for range 10 {
				read() // reads inside the backoff start nothing
				time.Sleep(wait / 20)
			}
			assert.Equal(t, loads, src.count("user:7"), "a read inside a %v backoff refreshed", wait)
			time.Sleep(wait / 2)
			read()
			assert.Equal(t, loads+1, src.count("user:7"), "after a %v backoff a read refreshes again", wait)
		}
		assert.Equal(t, uint64(4), rec.Snapshot().RefreshErrors)

		src.answer = nil // the source is back
		time.Sleep(8 * time.Second)
		read()
		e, _ := store.entry("user:7")
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), e.FreshUntil, "a successful refresh stores the new value")
	})
}

func TestInvalidateDuringRefreshWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		versionedSource(src)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute})
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(61 * time.Second)

		src.gate = make(chan struct{})
		_, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		synctest.Wait()
		require.NoError(t, l.Invalidate(context.Background(), "k"))
		close(src.gate)
		synctest.Wait()

		_, ok := store.entry("k")
		assert.False(t, ok, "the refresh that Invalidate overtook was stored")
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v3", v)
	})
}

func TestMaxRefreshesIsNeverExceeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const keys, maxRefreshes = 10_000, 8
		store, rec := newMemStore[string](), new(stats.Counter)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, MaxRefreshes: maxRefreshes, Recorder: rec})
		load := func(_ context.Context, key string) (string, error) { return key, nil }
		for i := range keys {
			_, err := l.GetOrLoad(context.Background(), keyName(i), load)
			require.NoError(t, err)
		}
		time.Sleep(61 * time.Second)

		var active, peak atomic.Int32
		gate := make(chan struct{})
		slow := func(_ context.Context, key string) (string, error) {
			n := active.Add(1)
			defer active.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-gate
			return key, nil
		}
		before := runtime.NumGoroutine()
		var wg sync.WaitGroup
		for g := range 10 {
			wg.Go(func() {
				for i := g; i < keys; i += 10 {
					v, err := l.GetOrLoad(context.Background(), keyName(i), slow)
					assert.NoError(t, err)
					assert.Equal(t, keyName(i), v)
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		assert.Equal(t, int32(maxRefreshes), peak.Load())
		// Each refresh holds a few goroutines (its own, the group's, the
		// load's); a goroutine per stale read would be thousands.
		assert.LessOrEqual(t, runtime.NumGoroutine()-before, 3*maxRefreshes+2)
		assert.Equal(t, uint64(keys), rec.Snapshot().StaleHits)
		assert.Equal(t, uint64(maxRefreshes), rec.Snapshot().Refreshes)
		close(gate)
	})
}

func keyName(i int) string { return "key-" + string(rune('a'+i%26)) + "-" + itoa(i) }

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

func TestCloseWaitsForRefreshesAndStartsNoMore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		versionedSource(src)
		l, err := flightcache.New[string, string](store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute})
		require.NoError(t, err)
		for _, k := range []string{"a", "b"} {
			_, err := l.GetOrLoad(context.Background(), k, src.load)
			require.NoError(t, err)
		}
		time.Sleep(61 * time.Second)
		src.gate = make(chan struct{})
		_, err = l.GetOrLoad(context.Background(), "a", src.load)
		require.NoError(t, err)
		synctest.Wait()

		closed := make(chan struct{})
		go func() {
			l.Close()
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while a refresh was running")
		default:
		}
		_, err = l.GetOrLoad(context.Background(), "b", src.load)
		assert.ErrorIs(t, err, flightcache.ErrClosed)

		close(src.gate)
		<-closed
		e, _ := store.entry("a")
		assert.Equal(t, "v3", e.Value, "the running refresh finished and was stored")
		assert.Equal(t, 3, src.count("a")+src.count("b"), "no refresh started after Close")
	})
}

// TestEarlyRefreshKeepsAHotKeyFresh reads a key 1,000 times a second for five
// minutes: with XFetch it is refreshed before it goes stale, every time, and
// loaded about once per FreshFor.
func TestEarlyRefreshKeepsAHotKeyFresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, rec := newSource(), new(stats.Counter)
		src.answer = func(context.Context, string) (string, error) {
			time.Sleep(100 * time.Millisecond) // the load takes a while
			return "v", nil
		}
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, EarlyRefresh: 1, Recorder: rec})
		load := src.load
		for range 5 * 60 * 1000 {
			_, err := l.GetOrLoad(context.Background(), "hot", load)
			require.NoError(t, err)
			time.Sleep(time.Millisecond)
		}
		s := rec.Snapshot()
		assert.Equal(t, uint64(1), s.Misses, "only the very first read waited for a load")
		assert.Zero(t, s.StaleHits)
		loads := src.count("hot")
		assert.GreaterOrEqual(t, loads, 5, "refreshed about once per FreshFor")
		assert.LessOrEqual(t, loads, 7, "refreshed about once per FreshFor")
	})
}

func TestEarlyRefreshLeavesAColdKeyAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, rec := newSource(), new(stats.Counter)
		src.answer = func(context.Context, string) (string, error) {
			time.Sleep(100 * time.Millisecond)
			return "v", nil
		}
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, EarlyRefresh: 1, Recorder: rec})
		for range 60 {
			_, err := l.GetOrLoad(context.Background(), "cold", src.load)
			require.NoError(t, err)
			time.Sleep(50 * time.Second) // read about once a minute
		}
		assert.Zero(t, rec.Snapshot().Refreshes, "a cold key is never refreshed early")
	})
}

// TestWaitWaitsForTheRefreshesRunning: Loader.Wait returns once the
// background refresh a stale read started has ended (its mark and slot
// released: the next stale read starts the next one), or when its context
// ends.
func TestWaitWaitsForTheRefreshesRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource()
		versionedSource(src)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour})
		slow := func(ctx context.Context, key string) (string, error) {
			time.Sleep(time.Second)
			return src.load(ctx, key)
		}
		_, err := l.GetOrLoad(context.Background(), "k", slow)
		require.NoError(t, err)
		require.NoError(t, l.Wait(context.Background()), "nothing running")

		time.Sleep(2 * time.Minute)
		v, err := l.GetOrLoad(context.Background(), "k", slow)
		require.NoError(t, err)
		assert.Equal(t, "v1", v)
		short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, l.Wait(short), context.DeadlineExceeded)
		start := time.Now()
		require.NoError(t, l.Wait(context.Background()))
		assert.Equal(t, 900*time.Millisecond, time.Since(start), "until the refresh ended")
		v, err = l.GetOrLoad(context.Background(), "k", slow)
		require.NoError(t, err)
		assert.Equal(t, "v2", v)

		time.Sleep(2 * time.Minute)
		_, _ = l.GetOrLoad(context.Background(), "k", slow) // stale: the next refresh starts at once
		require.NoError(t, l.Wait(context.Background()))
		v, _ = l.GetOrLoad(context.Background(), "k", slow)
		assert.Equal(t, "v3", v)
		//lint:ignore SA1012 a nil context is the mistake under test
		assert.Error(t, l.Wait(nil))
	})
}

// TestAnEntryPastItsExpiresAtIsNeverServed: Entry.ExpiresAt is "the time
// after which Value is never served", whatever FreshUntil says, zero (fresh
// for ever) or later than ExpiresAt. Such an entry, written to a shared
// Store by another writer (another version, another tool) and still held by
// a Store that does not drop expired entries at once, is loaded again, not
// served.
func TestAnEntryPastItsExpiresAtIsNeverServed(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	for name, e := range map[string]flightcache.Entry[string]{
		"FreshUntil zero":         {Value: "old", ExpiresAt: flightcache.DeadlineOf(past)},
		"FreshUntil after expiry": {Value: "old", FreshUntil: flightcache.DeadlineOf(time.Now().Add(time.Hour)), ExpiresAt: flightcache.DeadlineOf(past)},
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

// TestAStandInIsNeverServedPastItsWindows: an old value read inside its
// stale-if-error window stands in for a failed load only while that window
// lasts. A load that fails after the window ended (it took longer than the
// window had left) must not serve the old value: rule 6, "no mode ever
// serves a value past the windows of its entry", and Entry.ServeUntil, "after
// it Value is never served" (RFC 5861's stale-if-error likewise counts from
// when the error is met). Nor does a SoftTimeout that fires after the window
// ended serve it: the caller has nothing to fall back on by then and waits
// for the load, as such a caller does. This held for GetOrLoad,
// GetOrLoadMany and the Batcher alike: each served the old value, with a nil
// error, seconds past its ServeUntil and ExpiresAt.
func TestAStandInIsNeverServedPastItsWindows(t *testing.T) {
	reads := map[string]func(ctx context.Context, l *flightcache.Loader[string, string], load flightcache.LoadFunc[string, string]) (string, error){
		"GetOrLoad": func(ctx context.Context, l *flightcache.Loader[string, string], load flightcache.LoadFunc[string, string]) (string, error) {
			return l.GetOrLoad(ctx, "k", load)
		},
		"GetOrLoadMany": func(ctx context.Context, l *flightcache.Loader[string, string], load flightcache.LoadFunc[string, string]) (string, error) {
			m, err := l.GetOrLoadMany(ctx, []string{"k"}, func(ctx context.Context, keys []string) (map[string]string, error) {
				return eachKey(ctx, keys, load)
			})
			return m["k"], err
		},
		"Batcher": func(ctx context.Context, l *flightcache.Loader[string, string], load flightcache.LoadFunc[string, string]) (string, error) {
			b, err := l.Batcher(func(ctx context.Context, keys []string) (map[string]string, error) {
				return eachKey(ctx, keys, load)
			}, flightcache.Window{Wait: time.Millisecond})
			if err != nil {
				return "", err
			}
			return b.GetOrLoad(ctx, "k")
		},
	}
	for name, read := range reads {
		t.Run(name+"/failed load", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := new(stats.Counter)
				l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleIfError: 10 * time.Second, Recorder: rec})
				ctx := context.Background()
				_, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "old", nil })
				require.NoError(t, err)

				time.Sleep(69 * time.Second) // one second of stale-if-error left
				slowFailure := func(context.Context, string) (string, error) {
					time.Sleep(5 * time.Second)
					return "", errBackend
				}
				v, err := read(ctx, l, slowFailure)
				assert.ErrorIs(t, err, errBackend, "the load failed 4s after the old value's windows ended: nothing stands in for it")
				assert.NotEqual(t, "old", v)
				assert.Zero(t, rec.Snapshot().StaleHits)

				// Inside the window, the old value still stands in.
				_, err = l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "old", nil })
				require.NoError(t, err)
				time.Sleep(69 * time.Second)
				v, err = read(ctx, l, func(context.Context, string) (string, error) {
					time.Sleep(500 * time.Millisecond)
					return "", errBackend
				})
				require.NoError(t, err)
				assert.Equal(t, "old", v, "a load that fails inside the window is stood in for")
			})
		})
		t.Run(name+"/SoftTimeout", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleIfError: 10 * time.Second, SoftTimeout: 2 * time.Second})
				ctx := context.Background()
				_, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "old", nil })
				require.NoError(t, err)

				time.Sleep(69 * time.Second) // one second left: the SoftTimeout fires after it
				v, err := read(ctx, l, func(context.Context, string) (string, error) {
					time.Sleep(5 * time.Second)
					return "new", nil
				})
				require.NoError(t, err, "a SoftTimeout past the window gives no ErrSoftTimeout: the caller waits for the load")
				assert.Equal(t, "new", v)
			})
		})
	}
}
