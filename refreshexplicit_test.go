package flightcache_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// gatedLoads is a source whose every call blocks until released, and that
// returns name and the call's number ("a1", "a2", ...).
type gatedLoads struct {
	calls   atomic.Int64
	running atomic.Int64
	most    atomic.Int64
	release chan struct{}
}

func newGatedLoads() *gatedLoads { return &gatedLoads{release: make(chan struct{})} }

// load returns a LoadFunc that answers name and the call's number, once
// released; it ignores its ctx, as a load that cannot be cancelled does.
func (g *gatedLoads) load(name string) flightcache.LoadFunc[string, string] {
	return func(context.Context, string) (string, error) {
		n := g.calls.Add(1)
		r := g.running.Add(1)
		for m := g.most.Load(); r > m && !g.most.CompareAndSwap(m, r); m = g.most.Load() {
		}
		<-g.release
		g.running.Add(-1)
		return name + strconv.FormatInt(n, 10), nil
	}
}

func readValue(t *testing.T, l *flightcache.Loader[string, string], key string) string {
	t.Helper()
	v, err := l.GetOrLoad(context.Background(), key, func(context.Context, string) (string, error) {
		return "", assert.AnError
	})
	require.NoError(t, err)
	return v
}

// TestARefreshAfterASetWaitsForTheSupersededOne: a Set supersedes the
// Refresh of its key in flight, whose load ignores its context and runs
// on. The Refreshes that come meanwhile start nothing beside it: once it
// returns (its result dropped, rule 9), they are one load, with the
// latest ctx and load, whose result is stored. Issue 24 (the Set storm:
// thousands of Refresh fills in flight for 32 keys).
func TestARefreshAfterASetWaitsForTheSupersededOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec := new(stats.Counter)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour, LoadTimeout: time.Hour, Recorder: rec})
		g := newGatedLoads()
		require.NoError(t, l.Refresh(ctx, "k", g.load("a")))
		synctest.Wait()
		require.NoError(t, l.Set(ctx, "k", "set"))
		type key struct{}
		for _, name := range []string{"b", "c", "d"} {
			require.NoError(t, l.Refresh(context.WithValue(ctx, key{}, name), "k", g.load(name)))
		}
		synctest.Wait()
		assert.Equal(t, int64(1), g.calls.Load(), "nothing started beside the superseded refresh")
		assert.Equal(t, "set", readValue(t, l, "k"))

		g.release <- struct{}{} // the superseded one returns
		synctest.Wait()
		assert.Equal(t, "set", readValue(t, l, "k"), "the superseded result is dropped")
		assert.Equal(t, int64(2), g.calls.Load(), "the kept Refreshes are one load")
		close(g.release)
		synctest.Wait()
		assert.Equal(t, "d2", readValue(t, l, "k"), "with the latest load")
		assert.Equal(t, int64(1), g.most.Load(), "one load of the key at a time")
		assert.Equal(t, uint64(2), rec.Snapshot().Refreshes, "two refreshes ran")
	})
}

// TestARefreshKeptForASupersededOneCarriesTheLatestCallersValues: the load
// that runs for kept Refreshes sees the values of the latest one's ctx,
// not its cancellation (as every Refresh).
func TestARefreshKeptForASupersededOneCarriesTheLatestCallersValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Hour})
		release := make(chan struct{})
		seen := make(chan any, 2)
		load := func(ctx context.Context, _ string) (string, error) {
			seen <- ctx.Value(key{})
			<-release
			return "v", ctx.Err()
		}
		require.NoError(t, l.Refresh(context.WithValue(context.Background(), key{}, "first"), "k", load))
		synctest.Wait()
		require.NoError(t, l.Invalidate(context.Background(), "k"))
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "latest"))
		require.NoError(t, l.Refresh(ctx, "k", load))
		cancel()
		close(release)
		synctest.Wait()
		assert.Equal(t, "first", <-seen)
		assert.Equal(t, "latest", <-seen)
		assert.Equal(t, "v", readValue(t, l, "k"), "the kept refresh's ctx was not cancelled")
	})
}

// TestARefreshOfAFillStillCurrentJoinsIt: with no write since it began, a
// Refresh joins the key's refresh in flight, and keeps nothing for its end.
func TestARefreshOfAFillStillCurrentJoinsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Hour})
		g := newGatedLoads()
		for range 3 {
			require.NoError(t, l.Refresh(ctx, "k", g.load("a")))
		}
		close(g.release)
		synctest.Wait()
		assert.Equal(t, int64(1), g.calls.Load())
		assert.Equal(t, "a1", readValue(t, l, "k"))
	})
}

// TestEveryWriteAndInvalidationSupersedesARefresh: Set, SetWithPolicy,
// Invalidate, Expire, InvalidateTag and Clear each supersede the Refresh
// in flight: a Refresh after one of them is kept, and runs once the
// superseded one returns, whose result is not stored.
func TestEveryWriteAndInvalidationSupersedesARefresh(t *testing.T) {
	ops := map[string]func(l *flightcache.Loader[string, string]) error{
		"Set": func(l *flightcache.Loader[string, string]) error { return l.Set(context.Background(), "k", "set") },
		"SetWithPolicy": func(l *flightcache.Loader[string, string]) error {
			return l.SetWithPolicy(context.Background(), "k", "set", flightcache.EntryPolicy{FreshFor: time.Hour})
		},
		"Invalidate":    func(l *flightcache.Loader[string, string]) error { return l.Invalidate(context.Background(), "k") },
		"Expire":        func(l *flightcache.Loader[string, string]) error { return l.Expire(context.Background(), "k") },
		"InvalidateTag": func(l *flightcache.Loader[string, string]) error { return l.InvalidateTag(context.Background(), "t") },
		"Clear":         func(l *flightcache.Loader[string, string]) error { return l.Clear(context.Background()) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour, LoadTimeout: time.Hour})
				require.NoError(t, l.Set(ctx, "k", "old"))
				g := newGatedLoads()
				tagged := func(ctx context.Context, key string) (string, error) {
					if err := flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: []string{"t"}}); err != nil {
						return "", err
					}
					return g.load("a")(ctx, key)
				}
				require.NoError(t, l.Refresh(ctx, "k", tagged))
				synctest.Wait()
				require.NoError(t, op(l))
				require.NoError(t, l.Refresh(ctx, "k", tagged))
				synctest.Wait()
				assert.Equal(t, int64(1), g.calls.Load(), "kept, not started")
				g.release <- struct{}{}
				synctest.Wait()
				assert.Equal(t, int64(2), g.calls.Load(), "started once the superseded one returned")
				close(g.release)
				synctest.Wait()
				assert.Equal(t, "a2", readValue(t, l, "k"))
			})
		})
	}
}

// TestAKeptRefreshJoinsAFillThatBeganAfterTheWrite: when the superseded
// refresh returns and a reader's load of the key, begun after the write,
// is in flight, the kept Refresh joins it instead of loading again: a
// GetOrLoad's, a GetOrLoadMany's batch, or a Batcher's.
func TestAKeptRefreshJoinsAFillThatBeganAfterTheWrite(t *testing.T) {
	reads := map[string]func(l *flightcache.Loader[string, string], load flightcache.LoadFunc[string, string]) (string, error){
		"GetOrLoad": func(l *flightcache.Loader[string, string], load flightcache.LoadFunc[string, string]) (string, error) {
			return l.GetOrLoad(context.Background(), "k", load)
		},
		"GetOrLoadMany": func(l *flightcache.Loader[string, string], load flightcache.LoadFunc[string, string]) (string, error) {
			m, err := l.GetOrLoadMany(context.Background(), []string{"k", "other"}, batchOf(load))
			return m["k"], err
		},
		"Batcher": func(l *flightcache.Loader[string, string], load flightcache.LoadFunc[string, string]) (string, error) {
			b, err := l.Batcher(batchOf(load), flightcache.Window{Wait: time.Millisecond})
			if err != nil {
				return "", err
			}
			return b.GetOrLoad(context.Background(), "k")
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Hour})
				superseded, reader := newGatedLoads(), newGatedLoads()
				require.NoError(t, l.Refresh(ctx, "k", superseded.load("a")))
				synctest.Wait()
				require.NoError(t, l.Invalidate(ctx, "k"))
				require.NoError(t, l.Refresh(ctx, "k", superseded.load("b")))
				got := make(chan string, 1)
				go func() {
					v, err := read(l, reader.load("r"))
					assert.NoError(t, err)
					got <- v
				}()
				time.Sleep(time.Millisecond) // the Batcher's window
				synctest.Wait()
				require.Equal(t, int64(1), reader.calls.Load(), "the reader's load began after the write")
				close(superseded.release)
				synctest.Wait()
				assert.Equal(t, int64(1), superseded.calls.Load(), "the kept Refresh joined the reader's load")
				close(reader.release)
				assert.Equal(t, "r1", <-got)
				synctest.Wait()
				assert.Equal(t, "r1", readValue(t, l, "k"))
				assert.Equal(t, int64(1), reader.calls.Load())
			})
		})
	}
}

// batchOf makes a batch load of load, called once for the first key, whose
// value every key gets.
func batchOf(load flightcache.LoadFunc[string, string]) flightcache.BatchLoadFunc[string, string] {
	return func(ctx context.Context, keys []string) (map[string]string, error) {
		v, err := load(ctx, keys[0])
		if err != nil {
			return nil, err
		}
		m := make(map[string]string, len(keys))
		for _, k := range keys {
			m[k] = v
		}
		return m, nil
	}
}

// TestWaitAndCloseCoverARefreshKeptForASupersededOne: Wait returns only
// once the kept Refresh has run too; a kept Refresh that would start after
// Close starts nothing, and leaves no goroutine behind.
func TestWaitAndCloseCoverARefreshKeptForASupersededOne(t *testing.T) {
	t.Run("Wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			l := newLoader(t, newMemStore[string](), &flightcache.Options{LoadTimeout: time.Hour})
			g := newGatedLoads()
			require.NoError(t, l.Refresh(ctx, "k", g.load("a")))
			synctest.Wait()
			require.NoError(t, l.Set(ctx, "k", "set"))
			require.NoError(t, l.Refresh(ctx, "k", g.load("b")))
			waited := make(chan error, 1)
			go func() { waited <- l.Wait(ctx) }()
			g.release <- struct{}{}
			synctest.Wait()
			require.Empty(t, waited, "the kept refresh runs")
			require.Equal(t, int64(2), g.calls.Load())
			close(g.release)
			require.NoError(t, <-waited)
			assert.Equal(t, "b2", readValue(t, l, "k"))
		})
	})
	t.Run("Close", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{LoadTimeout: time.Minute})
			require.NoError(t, err)
			g := newGatedLoads()
			require.NoError(t, l.Refresh(ctx, "k", g.load("a")))
			synctest.Wait()
			require.NoError(t, l.Set(ctx, "k", "set"))
			require.NoError(t, l.Refresh(ctx, "k", g.load("b")))
			closed := make(chan error, 1)
			go func() { closed <- l.Close() }()
			synctest.Wait()
			close(g.release)
			require.NoError(t, <-closed)
			synctest.Wait()
			assert.Equal(t, int64(1), g.calls.Load(), "nothing started after Close")
		})
	})
}
