package tiered_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
	"github.com/flightcache/flightcache/adapters/tiered"
)

// TestALoadLongerThanLeaseTTLIsStillTheFleetsOnlyLoad is
// SandeepVashishtha/Eventra#19040: the lock taken before computing a
// cached value expired after its TTL while the computation still ran, and
// a second instance took it and computed the same value at once. Here A's
// load runs for several LeaseTTLs; B, missing the same key meanwhile,
// waits on A's lease (kept alive by A) and is served A's value without
// calling the source.
func TestALoadLongerThanLeaseTTLIsStillTheFleetsOnlyLoad(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	const leaseTTL = 150 * time.Millisecond
	newLoader := func() *flightcache.Loader[string, string] {
		local, err := lrustore.New[string, string](100)
		require.NoError(t, err)
		shared, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{Prefix: prefix, LeaseTTL: leaseTTL, Timeout: timeout})
		require.NoError(t, err)
		store := tiered.NewWithNotifier[string, string](local, shared, shared)
		sub, err := shared.Subscribe(store)
		require.NoError(t, err)
		l, err := flightcache.New[string, string](store, &flightcache.Options{FreshFor: time.Hour, LoadTimeout: 10 * time.Second})
		require.NoError(t, err)
		t.Cleanup(func() {
			l.Close()
			store.Close()
			sub.Close()
			shared.Close()
		})
		return l
	}
	a, b := newLoader(), newLoader()
	ctx := context.Background()

	var loads atomic.Int32
	started, finish := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		v, err := a.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
			loads.Add(1)
			close(started)
			<-finish
			return "from A", nil
		})
		if err == nil && v != "from A" {
			err = assert.AnError
		}
		aDone <- err
	}()
	<-started // A holds the lease and is loading

	bDone := make(chan string, 1)
	go func() {
		v, err := b.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
			loads.Add(1)
			return "from B", nil
		})
		assert.NoError(t, err)
		bDone <- v
	}()
	// A's load outlives its LeaseTTL several times over.
	select {
	case v := <-bDone:
		t.Fatalf("B returned %q while A's load still ran", v)
	case <-time.After(5 * leaseTTL):
	}
	assert.EqualValues(t, 1, loads.Load(), "B did not load while A's lease was alive")
	close(finish)
	require.NoError(t, <-aDone)
	assert.Equal(t, "from A", <-bDone, "B is served A's result")
	assert.EqualValues(t, 1, loads.Load(), "one load for the fleet")
}
