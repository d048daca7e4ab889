package flightcache_test

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

func TestRefreshLoadsNowInTheBackgroundAndJoinsALoadInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src, rec := newMemStore[string](), newSource(), new(stats.Counter)
		versionedSource(src)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Hour, Recorder: rec})
		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		require.Equal(t, "v1", v)

		src.gate = make(chan struct{})
		require.NoError(t, l.Refresh(context.Background(), "k", src.load), "returns at once")
		synctest.Wait()
		v, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v1", v, "readers get the stored value while the refresh runs")
		require.NoError(t, l.Refresh(context.Background(), "k", src.load), "joins the refresh in flight")
		close(src.gate)
		synctest.Wait()
		assert.Equal(t, 2, src.count("k"), "one refresh, though asked twice, of a key that was fresh")
		v, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "v2", v)

		require.NoError(t, l.Close())
		assert.ErrorIs(t, l.Refresh(context.Background(), "k", src.load), flightcache.ErrClosed)
	})
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

// TestAFailedLoaderRefreshIsARefreshErrorAndIsLogged: Loader.Refresh is
// counted in stats.Stats.Refreshes ("a background refresh started"), and
// when it fails in RefreshErrors ("a background refresh that failed") and in
// the log, as rule 6 says of a failed refresh and Options.Logger promises of
// "failed background refreshes": RefreshErrors/Refreshes, the obvious alert,
// must not read 0% with every Refresh failing.
func TestAFailedLoaderRefreshIsARefreshErrorAndIsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &logSink{}
		rec := new(stats.Counter)
		l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{Recorder: rec, Logger: h.logger()})
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

func TestARefreshThatFindsTheKeyGoneStopsServingIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, src := newMemStore[string](), newSource()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: 10 * time.Minute})
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)

		src.answer = func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
		time.Sleep(61 * time.Second)
		v, err := l.GetOrLoad(context.Background(), "k", src.load) // stale, starts the refresh
		require.NoError(t, err)
		assert.Equal(t, "value-k", v)
		synctest.Wait()

		for range 3 {
			_, err = l.GetOrLoad(context.Background(), "k", src.load)
			assert.ErrorIs(t, err, flightcache.ErrNotFound, "the source said the key is gone")
		}
		assert.Equal(t, 5, src.count("k"), "the first load, the refresh, then a load per read (no MissingFor)")
	})
}

// TestRefreshLoadsAnAbsentKeyAndReloadsAPresentOneWhateverItsContext ports
// otter's TestCache_Refresh: Loader.Refresh of a key the Store does not hold
// loads it, and of one it holds reloads it, each with a context of its own
// that the caller's cancellation (before the refresh runs, and still for
// the next Refresh) does not reach; neither counts a hit or a miss.
func TestRefreshLoadsAnAbsentKeyAndReloadsAPresentOneWhateverItsContext(t *testing.T) {
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := new(stats.Counter)
				l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Hour, Recorder: rec})
				answer := func(v string) flightcache.LoadFunc[string, string] {
					return func(ctx context.Context, _ string) (string, error) {
						time.Sleep(time.Millisecond) // the caller's ctx ends meanwhile
						return v, ctx.Err()
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				require.NoError(t, l.Refresh(ctx, "absent", answer("100")))
				cancel()
				require.NoError(t, l.Wait(context.Background()))
				r, found, err := l.Peek(context.Background(), "absent")
				require.NoError(t, err)
				require.True(t, found, "the refresh of an absent key stored it")
				assert.Equal(t, "100", r.Value)

				require.NoError(t, l.Refresh(ctx, "absent", answer("101")), "a Refresh with an ended ctx still reloads")
				require.NoError(t, l.Wait(context.Background()))
				r, _, err = l.Peek(context.Background(), "absent")
				require.NoError(t, err)
				assert.Equal(t, "101", r.Value)

				s := rec.Snapshot()
				assert.Zero(t, s.Hits)
				assert.Zero(t, s.Misses)
				assert.Equal(t, uint64(2), s.Loads)
				assert.Zero(t, s.LoadErrors)
				assert.Zero(t, s.RefreshErrors)
			})
		})
	}
}

// TestAGetOfAKeyARefreshIsLoadingJoinsIt ports otter's
// TestCache_GetJoinsQueuedRefreshOfAbsentKey: while Loader.Refresh loads a
// key the Store does not hold, a GetOrLoad of it waits for that load
// instead of starting its own, and gets its value.
func TestAGetOfAKeyARefreshIsLoadingJoinsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSource()
		src.gate = make(chan struct{})
		l := newLoader(t, newMemStore[string](), nil)
		require.NoError(t, l.Refresh(context.Background(), "k", src.load))
		synctest.Wait()
		got := make(chan string)
		go func() {
			v, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
				t.Error("the Get started a load of its own")
				return "", nil
			})
			assert.NoError(t, err)
			got <- v
		}()
		synctest.Wait()
		close(src.gate)
		assert.Equal(t, "value-k", <-got)
		assert.Equal(t, 1, src.count("k"))
	})
}

// TestAReadAfterARefreshLandedDoesNotRefreshAgain ports otter's
// TestCache_ReadDoesNotRefreshAgain: once the refresh a stale read started
// has stored its value, the reads that follow are fresh hits and start no
// refresh, single or batch.
func TestAReadAfterARefreshLandedDoesNotRefreshAgain(t *testing.T) {
	for _, st := range memoryStores {
		t.Run(st.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src, rec := newSource(), new(stats.Counter)
				versionedSource(src)
				l := newLoader(t, st.new(t), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, Recorder: rec})
				ctx := context.Background()
				_, err := l.GetOrLoad(ctx, "k", src.load)
				require.NoError(t, err)
				time.Sleep(time.Minute)
				v, err := l.GetOrLoad(ctx, "k", src.load)
				require.NoError(t, err)
				assert.Equal(t, "v1", v)
				require.NoError(t, l.Wait(ctx))
				for range 10 {
					r, err := l.GetOrLoadResult(ctx, "k", src.load)
					require.NoError(t, err)
					assert.Equal(t, "v2", r.Value)
					assert.Equal(t, flightcache.ServedFresh, r.Served)
					m, err := l.GetOrLoadMany(ctx, []string{"k"}, src.loadMany)
					require.NoError(t, err)
					assert.Equal(t, "v2", m["k"])
					require.NoError(t, l.Wait(ctx))
				}
				assert.Equal(t, 2, src.count("k"))
				assert.Equal(t, uint64(1), rec.Snapshot().Refreshes)
			})
		})
	}
}
