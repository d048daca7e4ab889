package flightcache_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/stats"
)

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

// TestARecorderPanicOnABatchsCoalescedLeavesNoKeyClaimed: a Recorder that
// panics when GetOrLoadMany counts the keys it joined (stats.Coalesced)
// panics on the caller's path, but the keys the batch started still have
// their fill: a later caller of one of them gets its value rather than
// joining a call that never ends. What is taken before a call into a plug-in
// is given back on every exit path.
func TestARecorderPanicOnABatchsCoalescedLeavesNoKeyClaimed(t *testing.T) {
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

// panickyRecorder panics on one event.
type panickyRecorder struct {
	stats.Counter
	on stats.Event
}

func (r *panickyRecorder) Record(e stats.Event, n int) {
	if e == r.on {
		panic("recorder bug")
	}
	r.Counter.Record(e, n)
}

func TestARecorderThatPanicsOnRefreshDoesNotWedgeClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &panickyRecorder{on: stats.Refresh}
		store, src := newMemStore[string](), newSource()
		l, err := flightcache.New[string, string](store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour, MaxRefreshes: 1, Recorder: rec})
		require.NoError(t, err)
		_, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		for range 3 {
			assert.Panics(t, func() { _, _ = l.GetOrLoad(context.Background(), "k", src.load) },
				"a Recorder that panics on a caller's path panics there")
			synctest.Wait()
			time.Sleep(2 * time.Minute)
		}
		assert.Equal(t, 4, src.count("k"), "the refresh slot and the key were given back each time")
		assert.NoError(t, l.Close(), "and Close does not hang")
	})
}

// panicHandler is an slog.Handler that panics.
type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("handler bug") }

func TestPanicsOnABackgroundRefreshAreRecoveredAndCounted(t *testing.T) {
	for name, opts := range map[string]*flightcache.Options{
		"Recorder": {Recorder: &panickyRecorder{on: stats.RefreshError}},
		"Logger":   {Logger: slog.New(panicHandler{}), Recorder: new(stats.Counter)},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts.FreshFor, opts.StaleFor = time.Minute, time.Hour
				l := newLoader(t, newMemStore[string](), opts)
				src := newSource()
				_, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
				time.Sleep(2 * time.Minute)
				src.answer = func(context.Context, string) (string, error) { return "", errBackend }
				v, err := l.GetOrLoad(context.Background(), "k", src.load) // the refresh fails
				require.NoError(t, err)
				assert.Equal(t, "value-k", v)
				synctest.Wait() // a crash would have ended the process here
				assert.NotZero(t, l.Stats().Panics, "the panic was counted")
			})
		})
	}
}

// panickyStore panics in Set once armed.
type panickyStore struct {
	*memStore[string]
	armed bool
}

func (p *panickyStore) Set(ctx context.Context, key string, e flightcache.Entry[string]) error {
	if p.armed {
		panic("store bug")
	}
	return p.memStore.Set(ctx, key, e)
}

func TestAPanickingStoreInABackgroundRefreshIsAnErrorNotACrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, rec := &panickyStore{memStore: newMemStore[string]()}, new(stats.Counter)
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Minute, Recorder: rec})
		src := newSource()
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(61 * time.Second)
		store.armed = true
		_, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, uint64(1), rec.Snapshot().RefreshErrors)

		// A batch whose store panics while writing keeps the values it
		// loaded and does not crash.
		got, err := l.GetOrLoadMany(context.Background(), []string{"x"}, newBatchSource().load)
		require.NoError(t, err)
		assert.Equal(t, values("x"), got)

		// A panic on the batch's goroutine before anything is loaded (here
		// in its second look at the store) fails the batch with an error.
		gets := 0
		store.memStore.afterGet = func(string, bool) {
			if gets++; gets == 2 {
				panic("store bug")
			}
		}
		_, err = l.GetOrLoadMany(context.Background(), []string{"y"}, newBatchSource().load)
		var pe *singleflight.PanicError
		assert.ErrorAs(t, err, &pe)
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

// TestAPanicAfterEveryKeyHasItsResultIsCountedAndLogged: a panic on a fill's
// goroutine after every key has its value (here in the lease's release) has
// no caller left to reach: it is recovered, counted (stats.Panic) and
// logged, so that the operator learns that the Leaser is broken.
func TestAPanicAfterEveryKeyHasItsResultIsCountedAndLogged(t *testing.T) {
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
