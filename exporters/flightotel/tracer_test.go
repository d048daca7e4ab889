package flightotel_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/exporters/flightotel"
)

// newTraced returns a TracerProvider whose ended spans the returned
// recorder keeps, and a Loader that traces through it.
func newTraced(t *testing.T, opts flightcache.Options, samplers ...sdktrace.Sampler) (*sdktrace.TracerProvider, *tracetest.SpanRecorder, *flightcache.Loader[string, string]) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	popts := []sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(rec)}
	for _, s := range samplers {
		popts = append(popts, sdktrace.WithSampler(s))
	}
	tp := sdktrace.NewTracerProvider(popts...)
	t.Cleanup(func() { assert.NoError(t, tp.Shutdown(context.Background())) })
	store, err := lrustore.New[string, string](1000)
	require.NoError(t, err)
	opts.Tracer = flightotel.NewTracer(tp, "users")
	l, err := flightcache.New[string, string](store, &opts)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return tp, rec, l
}

// loadSpans returns the load spans that have ended.
func loadSpans(rec *tracetest.SpanRecorder) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == flightotel.SpanName {
			out = append(out, s)
		}
	}
	return out
}

// attrs returns the attributes of s by key.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestFiftyCallersOfAColdKeyMakeOneLoadSpanParentedByTheFirstAndLinkedToTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, rec, l := newTraced(t, flightcache.Options{FreshFor: time.Hour})
		app := tp.Tracer("app")
		gate := make(chan struct{})
		var dbSpan trace.SpanContext
		load := func(ctx context.Context, key string) (string, error) {
			// The database's span nests under the load span, and the
			// load's hooks still find their fill.
			ctx, span := app.Start(ctx, "db query")
			defer span.End()
			dbSpan = span.SpanContext()
			<-gate
			return "value-" + key, flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour})
		}

		const callers = 50
		spans := make([]trace.SpanContext, callers)
		var wg sync.WaitGroup
		for i := range callers {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ctx, span := app.Start(ctx, fmt.Sprint("caller ", i))
			spans[i] = span.SpanContext()
			wg.Go(func() {
				defer span.End()
				v, err := l.GetOrLoad(ctx, "k", load)
				assert.NoError(t, err)
				assert.Equal(t, "value-k", v)
			})
			if i == 0 {
				synctest.Wait() // caller 0's load is under way
			}
		}
		synctest.Wait() // the other 49 wait on it
		close(gate)
		wg.Wait()

		got := loadSpans(rec)
		require.Len(t, got, 1, "50 callers of a cold key: one call of the source, one span")
		s := got[0]
		assert.Equal(t, spans[0], s.Parent(), "a child of the span of the caller whose load it is")
		require.Len(t, s.Links(), flightcache.MaxLinks, "49 callers waited; the links are capped")
		others := make(map[trace.SpanID]bool)
		for _, sc := range spans[1:] {
			others[sc.SpanID()] = true
		}
		linked := make(map[trace.SpanID]bool)
		for _, link := range s.Links() {
			assert.True(t, others[link.SpanContext.SpanID()], "a link goes to the span of a caller that waited")
			linked[link.SpanContext.SpanID()] = true
		}
		assert.Len(t, linked, flightcache.MaxLinks, "each caller linked once")
		a := attrs(s)
		assert.Equal(t, "users", a[flightotel.NameKey].AsString())
		assert.Equal(t, int64(1), a[flightotel.KeysKey].AsInt64())
		assert.Equal(t, flightotel.FillLoad, a[flightotel.FillKey].AsString())
		assert.Equal(t, "loaded", a[flightotel.ServedKey].AsString())
		assert.False(t, a[flightotel.FailedKey].AsBool())
		assert.Equal(t, int64(callers-1), a[flightotel.WaitersKey].AsInt64())
		assert.Equal(t, codes.Unset, s.Status().Code)
		assert.Equal(t, s.SpanContext().SpanID(), findSpan(t, rec, dbSpan).Parent().SpanID(), "the database's span is the load span's child")

		// 1,000 hits, from callers with spans of their own: no load span.
		for i := range 1000 {
			ctx, span := app.Start(context.Background(), fmt.Sprint("hit ", i))
			_, err := l.GetOrLoad(ctx, "k", load)
			span.End()
			require.NoError(t, err)
		}
		assert.Len(t, loadSpans(rec), 1, "a hit has no span")
	})
}

// findSpan returns the ended span whose context is sc.
func findSpan(t *testing.T, rec *tracetest.SpanRecorder, sc trace.SpanContext) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range rec.Ended() {
		if s.SpanContext().Equal(sc) {
			return s
		}
	}
	require.Fail(t, "no such span")
	return nil
}

func TestABatchHasOneSpanPerCallOfTheSource(t *testing.T) {
	tp, rec, l := newTraced(t, flightcache.Options{MaxBatch: 2})
	calls := 0
	var mu sync.Mutex
	batch := func(ctx context.Context, keys []string) (map[string]string, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		m := make(map[string]string)
		for _, k := range keys {
			m[k] = "value-" + k
			// Each call of a split batch reaches its own keys through
			// the context that holds its span.
			assert.NoError(t, flightcache.SetPolicy(ctx, k, flightcache.EntryPolicy{FreshFor: time.Hour}))
		}
		assert.True(t, trace.SpanFromContext(ctx).IsRecording(), "the source's context holds the load span")
		return m, nil
	}
	ctx, span := tp.Tracer("app").Start(context.Background(), "request")
	got, err := l.GetOrLoadMany(ctx, []string{"a", "b", "c", "d", "e"}, batch)
	span.End()
	require.NoError(t, err)
	require.Len(t, got, 5)

	spans := loadSpans(rec)
	require.Len(t, spans, calls)
	require.Len(t, spans, 3, "5 keys in calls of at most 2")
	keys := int64(0)
	for _, s := range spans {
		assert.Equal(t, span.SpanContext(), s.Parent())
		assert.Equal(t, flightotel.FillBatch, attrs(s)[flightotel.FillKey].AsString())
		keys += attrs(s)[flightotel.KeysKey].AsInt64()
	}
	assert.Equal(t, int64(5), keys)
}

func TestAFailedLoadSpanHasStatusErrorAndItsErrorType(t *testing.T) {
	_, rec, l := newTraced(t, flightcache.Options{})
	_, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
		return "", errors.New("database down")
	})
	require.Error(t, err)
	_, err = l.GetOrLoad(context.Background(), "gone", func(context.Context, string) (string, error) {
		return "", flightcache.ErrNotFound
	})
	require.ErrorIs(t, err, flightcache.ErrNotFound)

	spans := loadSpans(rec)
	require.Len(t, spans, 2)
	failed, gone := spans[0], spans[1]
	assert.Equal(t, codes.Error, failed.Status().Code)
	assert.Equal(t, "database down", failed.Status().Description)
	assert.True(t, attrs(failed)[flightotel.FailedKey].AsBool())
	assert.Equal(t, flightotel.ErrorTypeOther, attrs(failed)[semconv.ErrorTypeKey].AsString())
	require.Len(t, failed.Events(), 1, "the error is recorded")
	assert.Equal(t, codes.Unset, gone.Status().Code, "a key the source did not find is an answer, not a failure")
	assert.False(t, attrs(gone)[flightotel.FailedKey].AsBool())
}

func TestARefreshSpanIsARefreshServedStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, rec, l := newTraced(t, flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour})
		load := func(_ context.Context, key string) (string, error) { return "value-" + key, nil }
		_, err := l.GetOrLoad(context.Background(), "k", load)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute) // stale (fake time)
		ctx, span := tp.Tracer("app").Start(context.Background(), "reader")
		r, err := l.GetOrLoadResult(ctx, "k", load)
		span.End()
		require.NoError(t, err)
		require.Equal(t, flightcache.ServedStale, r.Served)
		require.NoError(t, l.Wait(context.Background()))

		spans := loadSpans(rec)
		require.Len(t, spans, 2)
		s := spans[1]
		assert.Equal(t, span.SpanContext(), s.Parent(), "a child of the reader that found the key stale")
		assert.Equal(t, flightotel.FillRefresh, attrs(s)[flightotel.FillKey].AsString())
		assert.Equal(t, "stale", attrs(s)[flightotel.ServedKey].AsString())
	})
}

func TestASpanTheSamplerDropsCostsNoLinksAndLeavesLoadsAlone(t *testing.T) {
	_, rec, l := newTraced(t, flightcache.Options{}, sdktrace.NeverSample())
	v, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
		return "v", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour})
	})
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	assert.Empty(t, rec.Ended())
}

// tracerSetBefore is whether a test set the global tracer provider already
// in this process.
var tracerSetBefore atomic.Bool

func TestNewTracerWithANilProviderUsesTheGlobalOne(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { assert.NoError(t, tp.Shutdown(context.Background())) }()
	// Before the provider is set, the first time in a process: the global
	// delegates to the first provider set only, so later runs (-count)
	// set it first.
	if tracerSetBefore.Swap(true) {
		otel.SetTracerProvider(tp)
	}
	tracer := flightotel.NewTracer(nil, "users")
	otel.SetTracerProvider(tp) // the only test that sets it

	store, err := lrustore.New[string, string](10)
	require.NoError(t, err)
	l, err := flightcache.New[string, string](store, &flightcache.Options{Tracer: tracer})
	require.NoError(t, err)
	defer l.Close()
	_, err = l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "v", nil })
	require.NoError(t, err)
	assert.Len(t, loadSpans(rec), 1)
}
