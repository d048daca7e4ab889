package flightcache_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

func TestBadInputGetsErrorsNotPanics(t *testing.T) {
	store := newMemStore[string]()
	_, err := flightcache.New[string, string](nil, nil)
	assert.ErrorContains(t, err, "Store")

	for _, tc := range []struct {
		field string
		opts  flightcache.Options
	}{
		{"FreshFor", flightcache.Options{FreshFor: -1}},
		{"StaleFor", flightcache.Options{FreshFor: time.Second, StaleFor: -1}},
		{"StaleIfError", flightcache.Options{FreshFor: time.Second, StaleIfError: -time.Second}},
		{"MissingFor", flightcache.Options{MissingFor: -1}},
		{"LoadTimeout", flightcache.Options{LoadTimeout: -1}},
		{"Jitter", flightcache.Options{Jitter: -0.1}},
		{"Jitter", flightcache.Options{Jitter: 1.5}},
		{"EarlyRefresh", flightcache.Options{FreshFor: time.Second, EarlyRefresh: -1}},
		{"MaxRefreshes", flightcache.Options{MaxRefreshes: -1}},
		{"StaleFor", flightcache.Options{StaleFor: time.Second}},
		{"StaleIfError", flightcache.Options{StaleIfError: time.Second}},
	} {
		_, err := flightcache.New[string, string](store, &tc.opts)
		assert.ErrorContains(t, err, "Options."+tc.field, "%+v", tc.opts)
	}

	l := newLoader(t, store, nil)
	_, err = l.GetOrLoad(context.Background(), "k", nil)
	assert.Error(t, err)
}

func TestANilContextIsAnError(t *testing.T) {
	l := newLoader(t, newMemStore[string](), nil)
	var ctx context.Context // nil: the mistake under test
	load := newSource().load
	_, err := l.GetOrLoad(ctx, "k", load)
	assert.Error(t, err)
	_, err = l.GetOrLoadMany(ctx, []string{"k"}, newBatchSource().load)
	assert.Error(t, err)
	assert.Error(t, l.Set(ctx, "k", "v"))
	assert.Error(t, l.Invalidate(ctx, "k"))
	assert.Error(t, l.Shutdown(ctx))
}

func TestTypedNilPlugInsAreRefusedByNew(t *testing.T) {
	var store *memStore[string]
	_, err := flightcache.New[string, string](store, nil)
	assert.ErrorContains(t, err, "Store")
	var counter *stats.Counter
	_, err = flightcache.New[string, string](newMemStore[string](), &flightcache.Options{Recorder: counter})
	assert.ErrorContains(t, err, "Options.Recorder")
	_, err = flightcache.New[string, string](newMemStore[string](), &flightcache.Options{Logger: &slog.Logger{}})
	assert.ErrorContains(t, err, "Options.Logger")
}

func TestGetOrLoadManyWithADoneContextStartsNothing(t *testing.T) {
	src := newBatchSource()
	l := newLoader(t, newMemStore[string](), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.GetOrLoadMany(ctx, []string{"a"}, src.load)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, src.callKeys())
}
