package flightcache_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// TestGetOrLoadResultSaysHowEachValueWasServed walks one key through every
// way a value is served.
func TestGetOrLoadResultSaysHowEachValueWasServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := new(failing)
		l := newLoader(t, newMemStore[string](), &flightcache.Options{
			FreshFor: time.Minute, StaleFor: time.Minute, StaleIfError: time.Hour, SoftTimeout: 50 * time.Millisecond,
		})
		ctx := context.Background()
		start := time.Now()
		r, err := l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)
		assert.Equal(t, "v-k", r.Value)
		assert.Equal(t, flightcache.DeadlineOf(start.Add(time.Minute)), r.FreshUntil)
		assert.Equal(t, flightcache.DeadlineOf(start.Add(2*time.Minute)), r.StaleUntil)
		assert.Equal(t, flightcache.DeadlineOf(start.Add(61*time.Minute)), r.ExpiresAt)
		assert.NoError(t, r.Err)

		r, err = l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedFresh, r.Served)
		assert.Equal(t, flightcache.DeadlineOf(start.Add(time.Minute)), r.FreshUntil)

		time.Sleep(90 * time.Second)
		src.down.Store(true)
		r, err = l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStale, r.Served)
		assert.Equal(t, "v-k", r.Value)
		synctest.Wait()

		time.Sleep(time.Minute) // past StaleFor: the old value only stands in
		r, err = l.GetOrLoadResult(ctx, "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.ErrorIs(t, r.Err, errBackend)
		assert.Equal(t, "v-k", r.Value)

		hang := func(ctx context.Context, key string) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}
		r, err = l.GetOrLoadResult(ctx, "k", hang)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.ErrorIs(t, r.Err, flightcache.ErrSoftTimeout)

		r, err = l.GetOrLoadResult(ctx, "never", src.load)
		require.ErrorIs(t, err, errBackend)
		assert.Zero(t, r, "nothing served")
		l.Close()
	})
}

func TestGetOrLoadResultOfANotFoundAnswer(t *testing.T) {
	l := newLoader(t, newMemStore[string](), &flightcache.Options{MissingFor: time.Minute})
	gone := func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
	r, err := l.GetOrLoadResult(context.Background(), "k", gone)
	require.ErrorIs(t, err, flightcache.ErrNotFound)
	assert.Equal(t, flightcache.ServedLoaded, r.Served)
	assert.True(t, r.Missing)
	r, err = l.GetOrLoadResult(context.Background(), "k", gone)
	require.ErrorIs(t, err, flightcache.ErrNotFound)
	assert.Equal(t, flightcache.ServedFresh, r.Served)
}

func TestServedNames(t *testing.T) {
	for s, name := range map[flightcache.Served]string{
		flightcache.ServedFresh: "fresh", flightcache.ServedStale: "stale", flightcache.ServedLoaded: "loaded",
		flightcache.ServedStandIn: "stand-in", 0: "Served(0)",
	} {
		assert.Equal(t, name, s.String())
	}
}

// TestResultOfJoinersBatchersAndNoStoreLoads: a caller that joins a load in
// flight, and a Batcher's caller, get ServedLoaded with the entry's times; a
// NoStore result carries the times it would have had.
func TestResultOfJoinersBatchersAndNoStoreLoads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute})
		ctx := context.Background()
		start := time.Now()
		gate := make(chan struct{})
		slow := func(ctx context.Context, key string) (string, error) {
			<-gate
			return "v-" + key, nil
		}
		results := make([]flightcache.Result[string], 3)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				r, err := l.GetOrLoadResult(ctx, "j", slow)
				assert.NoError(t, err)
				results[i] = r
			})
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		for _, r := range results {
			assert.Equal(t, flightcache.ServedLoaded, r.Served)
			assert.Equal(t, "v-j", r.Value)
			assert.Equal(t, flightcache.DeadlineOf(start.Add(time.Minute)), r.FreshUntil)
			assert.Equal(t, flightcache.DeadlineOf(start.Add(2*time.Minute)), r.StaleUntil)
			assert.NoError(t, r.Err)
		}

		ws := new(windowSource)
		b, err := l.Batcher(ws.load, flightcache.Window{Wait: time.Millisecond})
		require.NoError(t, err)
		r, err := b.GetOrLoadResult(ctx, "x")
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)
		assert.Equal(t, "v-x", r.Value)
		assert.Equal(t, flightcache.DeadlineOf(start.Add(time.Minute+time.Millisecond)), r.FreshUntil)
		r, err = b.GetOrLoadResult(ctx, "x")
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedFresh, r.Served)
		r, err = b.GetOrLoadResult(ctx, "absent")
		require.ErrorIs(t, err, flightcache.ErrNotFound)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)

		now := time.Now()
		r, err = l.GetOrLoadResult(ctx, "n", func(ctx context.Context, key string) (string, error) {
			return "once", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: 10 * time.Second, NoStore: true})
		})
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)
		assert.Equal(t, flightcache.DeadlineOf(now.Add(10*time.Second)), r.FreshUntil, "the times it would have had")
	})
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
func TestResultsOverARefStoreAreCopies(t *testing.T) {
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
