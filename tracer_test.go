package flightcache_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

// fakeTracer keeps the spans it starts. panicIn, when set, names the method
// that panics ("StartLoad", "Link" or "End"); foreign makes StartLoad return
// a context not made from the one it was given.
type fakeTracer struct {
	panicIn string
	foreign bool

	mu    sync.Mutex
	spans []*fakeSpan
}

// fakeSpan is a span of a fakeTracer: what it was started and ended with.
type fakeSpan struct {
	t       *fakeTracer
	info    flightcache.LoadInfo
	parent  context.Context
	links   []context.Context
	waiters int
	err     error
	ended   bool
}

// spanKey is the key under which a fakeTracer's context holds its span.
type spanKey struct{}

func (f *fakeTracer) StartLoad(ctx context.Context, info flightcache.LoadInfo) (context.Context, flightcache.LoadSpan) {
	if f.panicIn == "StartLoad" {
		panic("tracer bug")
	}
	s := &fakeSpan{t: f, info: info, parent: ctx}
	f.mu.Lock()
	f.spans = append(f.spans, s)
	f.mu.Unlock()
	if f.foreign {
		return context.WithValue(context.Background(), spanKey{}, s), s
	}
	return context.WithValue(ctx, spanKey{}, s), s
}

func (s *fakeSpan) Link(ctx context.Context) {
	if s.t.panicIn == "Link" {
		panic("tracer bug")
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	s.links = append(s.links, ctx)
}

func (s *fakeSpan) End(err error, waiters int) {
	if s.t.panicIn == "End" {
		panic("tracer bug")
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	s.err, s.waiters, s.ended = err, waiters, true
}

// started returns the spans started so far.
func (f *fakeTracer) started() []*fakeSpan {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*fakeSpan(nil), f.spans...)
}

// callers returns the callerKey values of ctxs.
func callers(ctxs []context.Context) []string {
	var out []string
	for _, c := range ctxs {
		v, _ := c.Value(callerKey{}).(string)
		out = append(out, v)
	}
	return out
}

func callerCtx(name string) context.Context {
	return context.WithValue(context.Background(), callerKey{}, name)
}

func TestOneSpanPerLoadIsAChildOfItsStarterAndLinksTheCallersThatJoined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTracer{}
		src := newSource()
		src.gate = make(chan struct{})
		var inLoad context.Context
		src.answer = func(ctx context.Context, key string) (string, error) {
			inLoad = ctx
			return "value-" + key, flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour})
		}
		l := newLoader(t, newMemStore[string](), &flightcache.Options{Tracer: tr})

		const joiners = flightcache.MaxLinks + 8
		var wg sync.WaitGroup
		for i := range joiners + 1 {
			if i == 1 {
				synctest.Wait() // caller 0 starts the load
			}
			ctx, cancel := context.WithCancel(callerCtx(fmt.Sprint("c", i)))
			defer cancel()
			wg.Go(func() {
				v, err := l.GetOrLoad(ctx, "k", src.load)
				assert.NoError(t, err)
				assert.Equal(t, "value-k", v)
			})
		}
		synctest.Wait() // every caller waits on the load
		close(src.gate)
		wg.Wait()
		for range 1000 {
			_, err := l.GetOrLoad(context.Background(), "k", src.load)
			require.NoError(t, err)
		}

		spans := tr.started()
		require.Len(t, spans, 1, "one span per call of the source, none per hit")
		s := spans[0]
		assert.True(t, s.ended)
		assert.NoError(t, s.err)
		assert.Equal(t, flightcache.LoadInfo{Keys: 1, Served: flightcache.ServedLoaded}, s.info)
		assert.Equal(t, "c0", s.parent.Value(callerKey{}), "the parent is the caller whose load it is")
		assert.Equal(t, joiners, s.waiters)
		assert.Len(t, s.links, flightcache.MaxLinks)
		assert.NotContains(t, callers(s.links), "c0")
		assert.Len(t, uniq(callers(s.links)), flightcache.MaxLinks, "each joiner once")
		assert.Same(t, s, inLoad.Value(spanKey{}), "the source gets the Tracer's context")
		_, deadline := inLoad.Deadline()
		assert.True(t, deadline, "with the fill's deadline")
	})
}

func uniq(s []string) map[string]bool {
	m := make(map[string]bool)
	for _, v := range s {
		m[v] = true
	}
	return m
}

func TestEachCallOfABatchSourceHasItsSpan(t *testing.T) {
	tr := &fakeTracer{}
	l := newLoader(t, newMemStore[string](), &flightcache.Options{Tracer: tr, MaxBatch: 2})
	batch := func(ctx context.Context, keys []string) (map[string]string, error) {
		m := make(map[string]string)
		for _, k := range keys {
			m[k] = "value-" + k
		}
		return m, nil
	}
	got, err := l.GetOrLoadMany(callerCtx("c0"), []string{"a", "b", "c", "d", "e"}, batch)
	require.NoError(t, err)
	require.Len(t, got, 5)
	_, err = l.GetOrLoadMany(context.Background(), []string{"a", "b", "c", "d", "e"}, batch)
	require.NoError(t, err)

	spans := tr.started()
	require.Len(t, spans, 3, "5 keys in calls of at most 2")
	keys := 0
	for _, s := range spans {
		assert.True(t, s.ended)
		assert.True(t, s.info.Batch)
		assert.Equal(t, flightcache.ServedLoaded, s.info.Served)
		assert.Equal(t, "c0", s.parent.Value(callerKey{}))
		keys += s.info.Keys
	}
	assert.Equal(t, 5, keys)
}

func TestABatcherWindowIsOneSpanLinkedToItsOtherCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTracer{}
		l := newLoader(t, newMemStore[string](), &flightcache.Options{Tracer: tr})
		calls := 0
		b, err := l.Batcher(func(ctx context.Context, keys []string) (map[string]string, error) {
			calls++
			m := make(map[string]string)
			for _, k := range keys {
				m[k] = "value-" + k
			}
			return m, nil
		}, flightcache.Window{Wait: time.Millisecond})
		require.NoError(t, err)

		var wg sync.WaitGroup
		for i, key := range []string{"a", "b", "b", "c"} {
			ctx := callerCtx(fmt.Sprint("c", i))
			wg.Go(func() {
				_, err := b.GetOrLoad(ctx, key)
				assert.NoError(t, err)
			})
			synctest.Wait() // in order: c0 opens the window
		}
		wg.Wait()

		require.Equal(t, 1, calls)
		spans := tr.started()
		require.Len(t, spans, 1)
		s := spans[0]
		assert.Equal(t, flightcache.LoadInfo{Keys: 3, Served: flightcache.ServedLoaded, Batch: true}, s.info)
		assert.Equal(t, "c0", s.parent.Value(callerKey{}))
		assert.ElementsMatch(t, []string{"c1", "c2", "c3"}, callers(s.links), "c1 and c3 started keys of the window, c2 joined b")
		assert.Equal(t, 3, s.waiters)
	})
}

func TestARefreshHasASpanServedStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTracer{}
		src := newSource()
		l := newLoader(t, newMemStore[string](), &flightcache.Options{Tracer: tr, FreshFor: time.Minute, StaleFor: time.Hour})
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute) // the entry goes stale (fake time)
		r, err := l.GetOrLoadResult(callerCtx("reader"), "k", src.load)
		require.NoError(t, err)
		require.Equal(t, flightcache.ServedStale, r.Served)
		require.NoError(t, l.Wait(context.Background()))
		require.NoError(t, l.Refresh(callerCtx("explicit"), "k", src.load))
		require.NoError(t, l.Wait(context.Background()))

		spans := tr.started()
		require.Len(t, spans, 3)
		assert.Equal(t, flightcache.ServedLoaded, spans[0].info.Served)
		for i, who := range []string{"reader", "explicit"} {
			s := spans[i+1]
			assert.Equal(t, flightcache.LoadInfo{Keys: 1, Served: flightcache.ServedStale}, s.info)
			assert.Equal(t, who, s.parent.Value(callerKey{}))
			assert.True(t, s.ended)
		}
	})
}

func TestNoSpanForAFillThatFindsItsKeyInTheStore(t *testing.T) {
	tr := &fakeTracer{}
	store, src := newMemStore[string](), newSource()
	var once sync.Once
	store.afterGet = func(key string, found bool) {
		if !found {
			// Another instance stores the key between the caller's read
			// and the fill's.
			once.Do(func() {
				store.mu.Lock()
				store.m[key] = flightcache.Entry[string]{Value: "stored"}
				store.mu.Unlock()
			})
		}
	}
	l := newLoader(t, store, &flightcache.Options{Tracer: tr})
	v, err := l.GetOrLoad(context.Background(), "k", src.load)
	require.NoError(t, err)
	assert.Equal(t, "stored", v)
	assert.Zero(t, src.total.Load())
	assert.Empty(t, tr.started())
}

func TestNoSpanForAFillThatOnlyWaitedOnALease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &fakeTracer{}
		src := newSource()
		l := newLoader(t, heldLease(), &flightcache.Options{Tracer: tr, LoadTimeout: time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := l.GetOrLoad(ctx, "k", src.load)
		require.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		require.NoError(t, l.Wait(context.Background()))
		assert.Zero(t, src.total.Load())
		assert.Empty(t, tr.started())
	})
}

func TestATracerThatPanicsNeverWedgesAKey(t *testing.T) {
	// Two loads: the first with two joiners to link, the second with none.
	for in, panics := range map[string]uint64{"StartLoad": 2, "Link": 1, "End": 2} {
		t.Run(in, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := &fakeTracer{panicIn: in}
				rec := new(stats.Counter)
				src := newSource()
				src.gate = make(chan struct{})
				l := newLoader(t, newMemStore[string](), &flightcache.Options{Tracer: tr, Recorder: rec, Logger: slog.New(slog.DiscardHandler)})

				var wg sync.WaitGroup
				for i := range 3 {
					ctx, cancel := context.WithCancel(callerCtx(fmt.Sprint("c", i)))
					defer cancel()
					wg.Go(func() {
						v, err := l.GetOrLoad(ctx, "k", src.load)
						assert.NoError(t, err)
						assert.Equal(t, "value-k", v)
					})
					synctest.Wait()
				}
				close(src.gate)
				wg.Wait()
				require.NoError(t, l.Invalidate(context.Background(), "k"))
				v, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err, "the key loads again")
				assert.Equal(t, "value-k", v)
				assert.Equal(t, 2, src.count("k"))
				assert.Equal(t, panics, rec.Snapshot().Panics, "each panic is counted")
				for _, s := range tr.started() {
					assert.Equal(t, in == "Link", s.ended, "a Link that panics ends the linking, not the span")
				}
				require.NoError(t, l.Close())
			})
		})
	}
}

func TestATracersForeignContextNeitherHidesTheFillNorItsDeadline(t *testing.T) {
	tr := &fakeTracer{foreign: true}
	var policyErr error
	var deadline bool
	l := newLoader(t, newMemStore[string](), &flightcache.Options{Tracer: tr})
	_, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
		policyErr = flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour})
		_, deadline = ctx.Deadline()
		return "v", nil
	})
	require.NoError(t, err)
	assert.NoError(t, policyErr)
	assert.True(t, deadline)
	require.Len(t, tr.started(), 1)
	assert.True(t, tr.started()[0].ended)
}

func TestASpanEndsWhenTheSourceCallsGoexit(t *testing.T) {
	tr := &fakeTracer{}
	l := newLoader(t, newMemStore[string](), &flightcache.Options{Tracer: tr})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
		runtime.Goexit()
		return "", nil
	})
	require.ErrorIs(t, err, singleflight.ErrGoexit)
	require.NoError(t, l.Wait(context.Background()))
	spans := tr.started()
	require.Len(t, spans, 1)
	assert.True(t, spans[0].ended)
	assert.ErrorIs(t, spans[0].err, singleflight.ErrGoexit)
}

func TestATracerThatIsANilPointerIsRefused(t *testing.T) {
	var tr *fakeTracer
	_, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{Tracer: tr})
	require.ErrorContains(t, err, "Options.Tracer")
}
