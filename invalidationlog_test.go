package flightcache_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// sharedLog is an InvalidationLog that the instances of a fake fleet
// share: each instance's Store is a logStore over one mapStore and it.
type sharedLog struct {
	mu       sync.Mutex
	recorded []flightcache.Invalidation
	watchers map[int]func(flightcache.Invalidation)
	next     int

	refuse error         // when set, LogInvalidation fails with it
	skew   time.Duration // LogInvalidation moves At to at least its clock plus skew
	panics bool          // LogInvalidation and WatchInvalidations panic
}

// logStore is one instance's Store: the shared entries and the shared log.
type logStore struct {
	*memStore[string]
	log *sharedLog
}

func (s logStore) LogInvalidation(_ context.Context, inv flightcache.Invalidation) (flightcache.Invalidation, error) {
	return s.log.record(inv)
}

func (s logStore) WatchInvalidations(apply func(flightcache.Invalidation)) func() {
	return s.log.watch(apply)
}

func (g *sharedLog) record(inv flightcache.Invalidation) (flightcache.Invalidation, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.panics {
		panic("log bug")
	}
	if g.refuse != nil {
		return flightcache.Invalidation{}, g.refuse
	}
	inv.At = max(inv.At, flightcache.DeadlineOf(time.Now()).Add(g.skew))
	g.recorded = append(g.recorded, inv)
	for _, apply := range g.watchers {
		apply(inv)
	}
	return inv, nil
}

func (g *sharedLog) watch(apply func(flightcache.Invalidation)) func() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.panics {
		panic("log bug")
	}
	for _, inv := range g.recorded { // replayed for an instance started later
		apply(inv)
	}
	id := g.next
	g.next++
	if g.watchers == nil {
		g.watchers = map[int]func(flightcache.Invalidation){}
	}
	g.watchers[id] = apply
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		delete(g.watchers, id)
	}
}

func (g *sharedLog) watching() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.watchers)
}

// InvalidateTag and Clear on one instance reach every other one over an
// InvalidationLog, an instance started later included.
func TestInvalidationsReachEveryInstanceOverTheLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shared, log := newMemStore[string](), &sharedLog{}
		opts := &flightcache.Options{FreshFor: time.Hour}
		a := newLoader(t, logStore{shared, log}, opts)
		b := newLoader(t, logStore{shared, log}, opts)
		src := taggingSource()
		for _, k := range []string{"u1", "x"} {
			_, err := a.GetOrLoad(context.Background(), k, src.load)
			require.NoError(t, err)
		}
		served := func(l *flightcache.Loader[string, string], key string) bool {
			_, ok, err := l.Peek(context.Background(), key)
			require.NoError(t, err)
			return ok
		}
		require.True(t, served(b, "u1"), "b reads a's entries")

		require.NoError(t, a.InvalidateTag(context.Background(), "user"))
		assert.False(t, served(b, "u1"), "b no longer serves what a's InvalidateTag covers")
		assert.True(t, served(b, "x"))
		c := newLoader(t, logStore{shared, log}, opts)
		assert.False(t, served(c, "u1"), "nor does an instance started afterwards")

		require.NoError(t, b.Clear(context.Background()))
		for _, l := range []*flightcache.Loader[string, string]{a, b, c} {
			assert.False(t, served(l, "x"), "b's Clear reaches every instance")
		}
		require.NoError(t, a.Close())
		assert.Equal(t, 2, log.watching(), "Close stops the Loader's watch")
	})
}

// A log that refuses an invalidation, or panics, leaves every instance as
// it was (rule 13): the call returns the error, counted as the Store's.
func TestRefusedInvalidationChangesNothing(t *testing.T) {
	for name, broken := range map[string]func(*sharedLog){
		"refuses": func(g *sharedLog) { g.refuse = errors.New("log down") },
		"panics":  func(g *sharedLog) { g.panics = true },
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := new(stats.Counter)
				log := &sharedLog{}
				l := newLoader(t, logStore{newMemStore[string](), log}, &flightcache.Options{FreshFor: time.Hour, Recorder: rec})
				src := taggingSource()
				_, err := l.GetOrLoad(context.Background(), "u1", src.load)
				require.NoError(t, err)
				broken(log)
				assert.Error(t, l.InvalidateTag(context.Background(), "user"))
				assert.Error(t, l.Clear(context.Background()))
				_, ok, err := l.Peek(context.Background(), "u1")
				require.NoError(t, err)
				assert.True(t, ok, "nothing was invalidated")
				st := rec.Snapshot()
				assert.Equal(t, uint64(2), st.StoreErrors)
				assert.Zero(t, st.TagInvalidations+st.Clears)
				log.panics = false // for the Loader's Close
			})
		})
	}
}

// A log may move an invalidation later, to allow for the skew of the
// fleet's clocks: every instance applies the instant it recorded, so an
// entry loaded by an instance whose clock runs ahead, within the
// allowance, is covered too; this instance stamps its own loads past it.
func TestInvalidationAtTheInstantTheLogRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, log := newMemStore[string](), &sharedLog{skew: time.Second}
		l := newLoader(t, logStore{store, log}, &flightcache.Options{FreshFor: time.Hour})
		require.NoError(t, l.InvalidateTag(context.Background(), "user"))
		require.Len(t, log.recorded, 1)
		tags, err := flightcache.NewTags("user")
		require.NoError(t, err)
		ahead := flightcache.DeadlineOf(time.Now().Add(500 * time.Millisecond))
		require.NoError(t, store.Set(context.Background(), "u2", flightcache.Entry[string]{Value: "old", LoadedAt: ahead, Tags: tags}))
		_, ok, _ := l.Peek(context.Background(), "u2")
		assert.False(t, ok, "loaded before the invalidation by a clock 500ms ahead: covered")

		_, err = l.GetOrLoad(context.Background(), "u1", taggingSource().load)
		require.NoError(t, err)
		_, ok, _ = l.Peek(context.Background(), "u1")
		assert.True(t, ok, "this instance stamps its loads past what it applied")

		_, err = flightcache.New[string, string](logStore{newMemStore[string](), &sharedLog{panics: true}}, nil)
		assert.Error(t, err, "a WatchInvalidations that panics is New's error")
	})
}

// Invalidations in quick succession, each moved later by the log's clock
// skew, with loads in between, do not push the instants ever further
// ahead of the clock: an entry's LoadedAt, from which its windows run,
// stays within the skew of it.
func TestQuickInvalidationsDoNotRunAheadOfTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, log := newMemStore[string](), &sharedLog{skew: 50 * time.Millisecond}
		l := newLoader(t, logStore{store, log}, &flightcache.Options{FreshFor: time.Minute})
		src := taggingSource()
		for range 1000 {
			require.NoError(t, l.InvalidateTag(context.Background(), "user"))
			_, err := l.GetOrLoad(context.Background(), "u1", src.load)
			require.NoError(t, err)
			require.NoError(t, l.Set(context.Background(), "s", "v"))
		}
		now := flightcache.DeadlineOf(time.Now())
		for _, k := range []string{"u1", "s"} {
			e, ok := store.entry(k)
			require.True(t, ok)
			assert.LessOrEqual(t, e.LoadedAt.Sub(now), 50*time.Millisecond+time.Microsecond, "%s: LoadedAt within the skew of the clock", k)
		}
		e, _ := store.entry("s")
		assert.Equal(t, e.LoadedAt.Add(time.Minute), e.FreshUntil, "the windows run from LoadedAt")
		_, ok, _ := l.Peek(context.Background(), "s")
		assert.True(t, ok, "the last Set stands")
	})
}

// A log that folds the tags it no longer keeps one by one gives its
// watchers a Tagged invalidation instead: every tagged entry loaded at or
// before its instant, whatever its tags (here "team", never invalidated),
// is a miss, on a running instance and on one that replays the log later;
// an untagged entry is not (it is no Clear), nor is an entry loaded after.
func TestATaggedInvalidationCoversEveryTaggedEntryLoadedBeforeIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shared, log := newMemStore[string](), &sharedLog{}
		opts := &flightcache.Options{FreshFor: time.Hour}
		a := newLoader(t, logStore{shared, log}, opts)
		src := taggingSource()
		for _, k := range []string{"u1", "t1", "x"} {
			_, err := a.GetOrLoad(context.Background(), k, src.load)
			require.NoError(t, err)
		}
		time.Sleep(time.Second)
		fold, err := log.record(flightcache.Invalidation{Tagged: true, At: flightcache.DeadlineOf(time.Now())})
		require.NoError(t, err)
		time.Sleep(time.Second)
		_, err = a.GetOrLoad(context.Background(), "u2", src.load)
		require.NoError(t, err)
		e, ok := shared.entry("u2")
		require.True(t, ok)
		require.True(t, e.LoadedAt.After(fold.At))

		late := newLoader(t, logStore{shared, log}, opts)
		for name, l := range map[string]*flightcache.Loader[string, string]{"running": a, "started after": late} {
			for key, want := range map[string]bool{"u1": false, "t1": false, "x": true, "u2": true} {
				_, ok, err := l.Peek(context.Background(), key)
				require.NoError(t, err)
				assert.Equal(t, want, ok, "%s instance, %s (tags %v) served", name, key, tagsOfKey(key))
			}
		}
	})
}
