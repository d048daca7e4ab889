package flightcache_test

import (
	"context"
	"fmt"
	"strconv"
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

// pauseAtGet makes the nth Get of store (counted from now) stop after it
// read the map, until the returned resume is called; paused receives once
// it stopped.
func pauseAtGet(store *memStore[string], n int64) (paused <-chan struct{}, resume func()) {
	p := make(chan struct{})
	r := make(chan struct{})
	var gets atomic.Int64
	store.afterGet = func(string, bool) {
		if gets.Add(1) == n {
			close(p)
			<-r
		}
	}
	var once sync.Once
	return p, func() { once.Do(func() { close(r) }) }
}

// An InvalidateTag made while a fill is between its read of the Store and
// its call of the source: the entry it read is gone (InvalidateTag's doc:
// "neither Previous nor a failed load's fallback sees the old entry"), so
// the load must not revalidate it with ErrNotModified, nor may it stand in
// for the load's failure.
func TestInvalidateTagBetweenTheFillsReadAndItsLoad(t *testing.T) {
	for _, nth := range []int64{1, 2} {
		t.Run(fmt.Sprintf("paused at Get %d", nth), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := newMemStore[string]()
				l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})
				policy := flightcache.EntryPolicy{FreshFor: time.Minute, StaleIfError: time.Hour, KeepFor: time.Hour, Tags: []string{"t"}}
				_, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
					return "old", flightcache.SetPolicy(ctx, key, policy)
				})
				require.NoError(t, err)
				time.Sleep(2 * time.Minute) // past FreshFor: a fallback, and Previous's

				sawPrevious := make(chan bool, 1)
				revalidate := func(ctx context.Context, key string) (string, error) {
					_, ok := flightcache.Previous[string](ctx, key)
					sawPrevious <- ok
					if ok {
						return "", flightcache.ErrNotModified
					}
					return "new", flightcache.SetPolicy(ctx, key, policy)
				}
				paused, resume := pauseAtGet(store, nth)
				defer resume()
				got := make(chan string, 1)
				go func() {
					v, err := l.GetOrLoad(context.Background(), "k", revalidate)
					assert.NoError(t, err)
					got <- v
				}()
				<-paused
				require.NoError(t, l.InvalidateTag(context.Background(), "t"))
				resume()
				assert.False(t, <-sawPrevious, "Previous sees the entry InvalidateTag made gone")
				<-got // a caller that came before InvalidateTag returned may get either
				v, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
					return "newest", nil
				})
				require.NoError(t, err)
				assert.NotEqual(t, "old", v, "the value InvalidateTag made gone is served again, fresh, after it returned")
			})
		})
	}
}

// The same window, with a load that fails: the invalidated entry must not
// stand in for it (stale-if-error).
func TestInvalidateTagBetweenTheFillsReadAndAFailedLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute})
		_, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
			return "old", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Minute, StaleIfError: time.Hour, Tags: []string{"t"}})
		})
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)

		paused, resume := pauseAtGet(store, 2) // the fill's own read
		defer resume()
		type res struct {
			r   flightcache.Result[string]
			err error
		}
		got := make(chan res, 1)
		go func() {
			r, err := l.GetOrLoadResult(context.Background(), "k", func(context.Context, string) (string, error) {
				return "", errBackend
			})
			got <- res{r, err}
		}()
		<-paused
		require.NoError(t, l.InvalidateTag(context.Background(), "t"))
		resume()
		r := <-got
		assert.NotEqual(t, "old", r.r.Value, "a value InvalidateTag made gone stood in for a load called after it returned (served %v)", r.r.Served)
		assert.ErrorIs(t, r.err, errBackend)
	})
}

// A Batcher in flight: a caller that comes after InvalidateTag (or Clear)
// returns never joins the loads that began before it.
func TestBatcherCallerAfterInvalidateTagDoesNotJoinTheBatchInFlight(t *testing.T) {
	for _, op := range []string{"InvalidateTag", "Clear"} {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour})
				var calls atomic.Int64
				gate := make(chan struct{})
				load := func(ctx context.Context, keys []string) (map[string]string, error) {
					n := calls.Add(1)
					<-gate
					out := map[string]string{}
					for _, k := range keys {
						out[k] = strconv.FormatInt(n, 10) + "-" + k
						if err := flightcache.SetPolicy(ctx, k, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: []string{"t"}}); err != nil {
							return nil, err
						}
					}
					return out, nil
				}
				b, err := l.Batcher(load, flightcache.Window{Wait: time.Millisecond})
				require.NoError(t, err)
				first := make(chan string, 1)
				go func() {
					v, err := b.GetOrLoad(context.Background(), "k")
					assert.NoError(t, err)
					first <- v
				}()
				synctest.Wait()
				time.Sleep(10 * time.Millisecond)
				synctest.Wait()
				require.EqualValues(t, 1, calls.Load(), "the first batch is in flight")
				if op == "Clear" {
					require.NoError(t, l.Clear(context.Background()))
				} else {
					require.NoError(t, l.InvalidateTag(context.Background(), "t"))
				}
				second := make(chan string, 1)
				go func() {
					v, err := b.GetOrLoad(context.Background(), "k")
					assert.NoError(t, err)
					second <- v
				}()
				synctest.Wait()
				time.Sleep(10 * time.Millisecond)
				synctest.Wait()
				assert.EqualValues(t, 2, calls.Load(), "the caller after %s started a batch of its own", op)
				close(gate)
				assert.Equal(t, "1-k", <-first)
				assert.NotEqual(t, "1-k", <-second, "the caller after %s got the result of a load that began before it", op)
			})
		})
	}
}

// InvalidateTag's doc: "the next read of its key loads it again". A key
// whose last load failed is in FailureBackoff; Invalidate ends a backoff
// (rule 6), and so should the invalidations that make its entry a miss.
func TestInvalidateTagOfAKeyInBackoffLoadsItAgain(t *testing.T) {
	for _, op := range []string{"InvalidateTag", "Clear"} {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLoader(t, newMemStore[string](), &flightcache.Options{
					FreshFor: time.Minute, StaleIfError: time.Hour,
					FailureBackoff: flightcache.Backoff{Initial: time.Hour, Max: time.Hour},
				})
				tagged := func(v string) flightcache.LoadFunc[string, string] {
					return func(ctx context.Context, key string) (string, error) {
						return v, flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Minute, StaleIfError: time.Hour, Tags: []string{"t"}})
					}
				}
				_, err := l.GetOrLoad(context.Background(), "k", tagged("v1"))
				require.NoError(t, err)
				time.Sleep(2 * time.Minute)
				r, err := l.GetOrLoadResult(context.Background(), "k", func(context.Context, string) (string, error) { return "", errBackend })
				require.NoError(t, err)
				require.Equal(t, flightcache.ServedStandIn, r.Served, "the old value stands in; the key backs off")

				if op == "Clear" {
					require.NoError(t, l.Clear(context.Background()))
				} else {
					require.NoError(t, l.InvalidateTag(context.Background(), "t"))
				}
				var loaded atomic.Bool
				v, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
					loaded.Store(true)
					return tagged("v2")(ctx, key)
				})
				assert.True(t, loaded.Load(), "the next read after %s loads the key again", op)
				assert.NoError(t, err)
				assert.Equal(t, "v2", v)
			})
		})
	}
}

// An InvalidationLog whose LogInvalidation blocks, ignoring its ctx: the
// README says "a handler that blocks holds no caller past its context"
// and InvalidateTag's doc says "ctx bounds only the log's call".
type blockingLog struct {
	*memStore[string]
	release chan struct{}
}

func (s blockingLog) LogInvalidation(ctx context.Context, inv flightcache.Invalidation) (flightcache.Invalidation, error) {
	<-s.release
	return inv, nil
}

func (s blockingLog) WatchInvalidations(apply func(flightcache.Invalidation)) func() {
	return func() {}
}

func TestInvalidateTagOverALogThatBlocksReturnsAtTheCallersDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := blockingLog{newMemStore[string](), make(chan struct{})}
		defer close(s.release)
		l := newLoader(t, s, nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- l.InvalidateTag(ctx, "t") }()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		default:
			t.Error("InvalidateTag is held past its ctx by a log that blocks")
		}
	})
}

// A Store whose Get panics on the caller's goroutine (the first look of
// GetOrLoad and GetOrLoadMany, Peek, Expire) panics that caller, as x/sync's
// Do re-panics fn's panic (README, "Nothing a plug-in does wedges the
// Loader"): containing it there would cost every hit a deferred recover.
// The Loader is not wedged: once the Store reads again, every call works,
// the key's write token included.
type panickyGetStore struct {
	*memStore[string]
	panics *atomic.Bool
}

func (s panickyGetStore) Get(ctx context.Context, key string) (flightcache.Entry[string], bool, error) {
	if s.panics.Load() {
		panic("store bug")
	}
	return s.memStore.Get(ctx, key)
}

func TestAStoreWhoseGetPanicsOnTheCallersGoroutineWedgesNothing(t *testing.T) {
	load := func(context.Context, string) (string, error) { return "v", nil }
	calls := map[string]func(l *flightcache.Loader[string, string]) error{
		"GetOrLoad": func(l *flightcache.Loader[string, string]) error {
			_, err := l.GetOrLoad(context.Background(), "k", load)
			return err
		},
		"GetOrLoadMany": func(l *flightcache.Loader[string, string]) error {
			_, err := l.GetOrLoadMany(context.Background(), []string{"k", "j"}, func(_ context.Context, keys []string) (map[string]string, error) {
				return map[string]string{"k": "v", "j": "v"}, nil
			})
			return err
		},
		"Peek": func(l *flightcache.Loader[string, string]) error {
			_, _, err := l.Peek(context.Background(), "k")
			return err
		},
		"Expire": func(l *flightcache.Loader[string, string]) error {
			return l.Expire(context.Background(), "k")
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			var panics atomic.Bool
			l := newLoader(t, panickyGetStore{newMemStore[string](), &panics}, &flightcache.Options{FreshFor: time.Hour, StaleFor: time.Hour})
			panics.Store(true)
			assert.PanicsWithValue(t, "store bug", func() { _ = call(l) }, "the Store's panic reaches the caller of %s", name)
			panics.Store(false)
			assert.NoError(t, call(l), "%s works once the Store reads again", name)
			for other := range calls {
				assert.NoError(t, calls[other](l), "%s after the panic", other)
			}
			assert.NoError(t, l.Set(context.Background(), "k", "w"), "the key's write token was given back")
		})
	}
}

// Tags with odd bytes are tags like any other.
func TestOddTagsAreTags(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		odd := []string{"a b", " ", "\x00", "ü", "\xff\xfe", "t a", "c", "tc", string(make([]byte, flightcache.MaxTagLen))}
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour})
		var n atomic.Int64
		for i, tag := range odd {
			key := strconv.Itoa(i)
			load := func(ctx context.Context, key string) (string, error) {
				return strconv.FormatInt(n.Add(1), 10), flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{Tags: []string{tag}, FreshFor: time.Hour})
			}
			v1, err := l.GetOrLoad(context.Background(), key, load)
			require.NoError(t, err)
			other := tag + "x"
			if len(other) > flightcache.MaxTagLen {
				other = tag[:len(tag)-1] + "x"
			}
			require.NoError(t, l.InvalidateTag(context.Background(), other))
			v2, err := l.GetOrLoad(context.Background(), key, load)
			require.NoError(t, err)
			assert.Equal(t, v1, v2, "tag %q is not %q", tag, other)
			require.NoError(t, l.InvalidateTag(context.Background(), tag))
			v3, err := l.GetOrLoad(context.Background(), key, load)
			require.NoError(t, err)
			assert.NotEqual(t, v1, v3, "tag %q invalidated", tag)
		}
	})
}

// More distinct tags invalidated than the table keeps one by one: entries
// loaded after every invalidation are hits, and one whose tag was
// invalidated is a miss, whatever was folded.
func TestManyDistinctTagInvalidations(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	rec := new(stats.Counter)
	l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour, Recorder: rec})
	var n atomic.Int64
	load := func(tags ...string) flightcache.LoadFunc[string, string] {
		return func(ctx context.Context, key string) (string, error) {
			return strconv.FormatInt(n.Add(1), 10), flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{Tags: tags, FreshFor: time.Hour})
		}
	}
	ctx := context.Background()
	v, err := l.GetOrLoad(ctx, "victim", load("victim-tag"))
	require.NoError(t, err)
	require.NoError(t, l.InvalidateTag(ctx, "victim-tag"))
	const total = 1<<16*3 + 7
	for i := range total {
		require.NoError(t, l.InvalidateTag(ctx, "tag-"+strconv.Itoa(i)))
	}
	v2, err := l.GetOrLoad(ctx, "victim", load("victim-tag"))
	require.NoError(t, err)
	assert.NotEqual(t, v, v2)
	after, err := l.GetOrLoad(ctx, "after", load("tag-1", "tag-2"))
	require.NoError(t, err)
	again, err := l.GetOrLoad(ctx, "after", load("tag-1", "tag-2"))
	require.NoError(t, err)
	assert.Equal(t, after, again, "loaded after every invalidation: a hit")
	assert.EqualValues(t, total+1, rec.Snapshot().TagInvalidations)
}

// Concurrent InvalidateTag and Clear with loads of tagged keys (run with
// -race): after the last Clear returns, every key loads a value read after
// it began.
func TestConcurrentInvalidationsAndLoads(t *testing.T) {
	l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour})
	var version atomic.Int64 // bumped before each invalidation
	load := func(ctx context.Context, key string) (string, error) {
		v := version.Load()
		return strconv.FormatInt(v, 10), flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: []string{"t" + key}})
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := strconv.Itoa((g + i) % 4)
				seen := version.Load()
				v, err := l.GetOrLoad(ctx, key, load)
				assert.NoError(t, err)
				if _, ok, _ := l.Peek(ctx, key); !ok {
					continue
				}
				got, _ := strconv.ParseInt(v, 10, 64)
				_ = got >= seen // other tags' invalidations bump version without covering the key
			}
		}()
	}
	for i := range 2000 {
		version.Add(1)
		if i%10 == 0 {
			require.NoError(t, l.Clear(ctx))
		} else {
			require.NoError(t, l.InvalidateTag(ctx, "t"+strconv.Itoa(i%4)))
		}
	}
	close(stop)
	wg.Wait()
	version.Add(1)
	want := version.Load()
	require.NoError(t, l.Clear(ctx))
	for k := range 4 {
		v, err := l.GetOrLoad(ctx, strconv.Itoa(k), load)
		require.NoError(t, err)
		got, _ := strconv.ParseInt(v, 10, 64)
		assert.GreaterOrEqual(t, got, want, "key %d after Clear returned", k)
	}
}

// Over a log that moves invalidations later for the fleet's clock skew,
// loads are stamped past the latest invalidation, ahead of the clock by
// the skew at most, and their windows run from that stamp. A revalidated
// entry must keep the windows its source gave it, re-based at its load
// (rule 14): not lose, nor gain, the skew at every revalidation that
// follows an invalidation of any tag.
func TestRevalidationAfterInvalidationsKeepsItsWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, log := newMemStore[string](), &sharedLog{skew: 50 * time.Millisecond}
		l := newLoader(t, logStore{store, log}, &flightcache.Options{FreshFor: time.Minute})
		_, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
			return "v", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Second, KeepFor: time.Hour})
		})
		require.NoError(t, err)
		revalidate := func(ctx context.Context, key string) (string, error) {
			if _, ok := flightcache.Previous[string](ctx, key); ok {
				return "", flightcache.ErrNotModified
			}
			return "reloaded", nil
		}
		for round := range 10 {
			time.Sleep(1100 * time.Millisecond) // stale, kept for Previous
			// Another instance invalidates an unrelated tag just before
			// the revalidation: the log moves it 50 ms past the clock.
			require.NoError(t, l.InvalidateTag(context.Background(), "unrelated"))
			r, err := l.GetOrLoadResult(context.Background(), "k", revalidate)
			require.NoError(t, err)
			require.Equal(t, "v", r.Value)
			assert.Equal(t, time.Second, r.FreshUntil.Sub(r.LoadedAt), "round %d: the revalidated entry is fresh for the second its source gave it", round)
			ahead := r.LoadedAt.Sub(flightcache.DeadlineOf(time.Now()))
			assert.True(t, ahead >= 0 && ahead <= 50*time.Millisecond+time.Microsecond,
				"round %d: stamped past the invalidation, at most the skew ahead of the clock (%v), and no further each round", round, ahead)
		}
	})
}

// Expire: a negative entry, a tagged one, an invalidated one; and the
// counters of Expire, Peek and InvalidateTag.
func TestExpireEdges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := new(stats.Counter)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, MissingFor: time.Minute, Recorder: rec})
		ctx := context.Background()
		_, err := l.GetOrLoad(ctx, "nf", func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound })
		require.ErrorIs(t, err, flightcache.ErrNotFound)
		require.NoError(t, l.Expire(ctx, "nf"))
		_, ok, _ := l.Peek(ctx, "nf")
		assert.False(t, ok, "an expired cached not-found: a read loads")
		_, err = l.GetOrLoad(ctx, "k", func(ctx context.Context, key string) (string, error) {
			return "v", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Minute, StaleFor: time.Hour, Tags: []string{"t"}})
		})
		require.NoError(t, err)
		require.NoError(t, l.Expire(ctx, "k"))
		r, ok, err := l.Peek(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, flightcache.ServedStale, r.Served)
		assert.Equal(t, 1, r.Tags.Len(), "Expire keeps the tags")
		require.NoError(t, l.InvalidateTag(ctx, "t"))
		_, ok, _ = l.Peek(ctx, "k")
		assert.False(t, ok)
		require.NoError(t, l.Expire(ctx, "k"), "Expire of an invalidated entry: nothing")
		s := rec.Snapshot()
		assert.EqualValues(t, 2, s.Expires)
		assert.EqualValues(t, 3, s.Peeks)
		assert.EqualValues(t, 1, s.PeekHits)
		assert.EqualValues(t, 1, s.TagInvalidations)
	})
}

// SetWithPolicy: all or nothing on bad policies; Jitter only shortens.
func TestSetWithPolicyEdges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, Jitter: 0.5})
		ctx := context.Background()
		require.NoError(t, l.Set(ctx, "k", "v0"))
		var many []string
		for i := range 65 {
			many = append(many, strconv.Itoa(i))
		}
		for name, p := range map[string]flightcache.EntryPolicy{
			"NoStore":  {NoStore: true, FreshFor: time.Hour},
			"Private":  {Private: true, FreshFor: time.Hour},
			"negative": {FreshFor: -1},
			"bad tag":  {Tags: []string{""}},
			"65 tags":  {Tags: many},
		} {
			assert.Error(t, l.SetWithPolicy(ctx, "k", "bad", p), name)
			e, _ := store.entry("k")
			assert.Equal(t, "v0", e.Value, "%s changed nothing", name)
		}
		for range 50 {
			require.NoError(t, l.SetWithPolicy(ctx, "j", "v", flightcache.EntryPolicy{FreshFor: time.Hour, Tags: []string{"a", "a"}}))
			e, _ := store.entry("j")
			assert.LessOrEqual(t, e.FreshUntil.Sub(flightcache.DeadlineOf(time.Now())), time.Hour, "Jitter only shortens")
			assert.Equal(t, 1, e.Tags.Len(), "repeats count once")
		}
		require.NoError(t, l.SetWithPolicy(ctx, "f", "v", flightcache.EntryPolicy{FreshFor: flightcache.Forever, Tags: []string{"x"}}))
		require.NoError(t, l.InvalidateTag(ctx, "x"))
		_, ok, _ := l.Peek(ctx, "f")
		assert.False(t, ok, "a Forever entry is covered by its tag")
		require.NoError(t, l.SetWithPolicy(ctx, "f", "v2", flightcache.EntryPolicy{FreshFor: flightcache.Forever, Tags: []string{"x"}}))
		r, ok, _ := l.Peek(ctx, "f")
		assert.True(t, ok, "a SetWithPolicy after the invalidation returned stands")
		assert.Equal(t, "v2", r.Value)
	})
}

// Unhashable keys and a closed Loader at the new entry points.
func TestNewEntryPointsBadInput(t *testing.T) {
	l, err := flightcache.New[any, string](newMapStore[any, string](), nil)
	require.NoError(t, err)
	ctx := context.Background()
	bad := []int{1}
	assert.NotPanics(t, func() {
		_, _, err := l.Peek(ctx, bad)
		assert.Error(t, err)
		assert.Error(t, l.Expire(ctx, bad))
		assert.Error(t, l.SetWithPolicy(ctx, bad, "v", flightcache.EntryPolicy{FreshFor: time.Hour, Tags: []string{"t"}}))
		assert.Error(t, l.SetWithPolicy(ctx, map[string]int{}, "v", flightcache.EntryPolicy{NoStore: true}))
	})
	require.NoError(t, l.SetWithPolicy(ctx, "ok", "v", flightcache.EntryPolicy{FreshFor: time.Hour, Tags: []string{"t"}}))
	require.NoError(t, l.Close())
	assert.ErrorIs(t, l.InvalidateTag(ctx, "t"), flightcache.ErrClosed)
	assert.ErrorIs(t, l.Clear(ctx), flightcache.ErrClosed)
	_, _, err = l.Peek(ctx, "ok")
	assert.ErrorIs(t, err, flightcache.ErrClosed)
	assert.ErrorIs(t, l.Expire(ctx, "ok"), flightcache.ErrClosed)
	assert.ErrorIs(t, l.SetWithPolicy(ctx, "ok", "v", flightcache.EntryPolicy{}), flightcache.ErrClosed)
}

// GetOrLoadMany split by MaxBatch: every chunk's keys carry the tags
// their calls set.
func TestTagsAcrossMaxBatchChunks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Hour, MaxBatch: 2})
		var calls atomic.Int64
		load := func(ctx context.Context, keys []string) (map[string]string, error) {
			n := calls.Add(1)
			out := map[string]string{}
			for _, k := range keys {
				out[k] = strconv.FormatInt(n, 10)
				tag := "odd"
				if k[0]%2 == 0 {
					tag = "even"
				}
				if err := flightcache.SetPolicy(ctx, k, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: []string{tag, "all"}}); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		keys := []string{"1", "2", "3", "4", "5"}
		ctx := context.Background()
		_, err := l.GetOrLoadMany(ctx, keys, load)
		require.NoError(t, err)
		require.EqualValues(t, 3, calls.Load())
		for _, k := range keys {
			r, ok, err := l.Peek(ctx, k)
			require.NoError(t, err)
			require.True(t, ok, k)
			assert.Equal(t, 2, r.Tags.Len(), k)
		}
		require.NoError(t, l.InvalidateTag(ctx, "even"))
		for _, k := range keys {
			_, ok, _ := l.Peek(ctx, k)
			assert.Equal(t, k[0]%2 == 1, ok, k)
		}
		require.NoError(t, l.InvalidateTag(ctx, "all"))
		for _, k := range keys {
			_, ok, _ := l.Peek(ctx, k)
			assert.False(t, ok, k)
		}
	})
}
