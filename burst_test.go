package flightcache_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/ristrettostore"
)

// TestBurstLoadsOncePerKeyOnEveryStore sends thousands of callers at a cold
// key in three waves: before the load ends, while it ends, and just after it
// ended. On every store, including ristretto, whose writes are asynchronous
// underneath, the key is loaded exactly once.
func TestBurstLoadsOncePerKeyOnEveryStore(t *testing.T) {
	const (
		reps = 20
		wave = 700
	)
	stores := map[string]func(t *testing.T) flightcache.Store[string, string]{
		"map": func(*testing.T) flightcache.Store[string, string] { return newMemStore[string]() },
		"lrustore": func(t *testing.T) flightcache.Store[string, string] {
			s, err := lrustore.New[string, string](10_000)
			require.NoError(t, err)
			return s
		},
		"ristrettostore": func(t *testing.T) flightcache.Store[string, string] {
			s, err := ristrettostore.New[string, string](10_000)
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			l := newLoader(t, newStore(t), &flightcache.Options{FreshFor: time.Hour})
			src := newSource()
			for rep := range reps {
				key := fmt.Sprint("cold-", rep)
				gate := make(chan struct{})
				load := func(ctx context.Context, key string) (string, error) {
					<-gate
					return src.load(ctx, key)
				}
				var wg sync.WaitGroup
				call := func() {
					defer wg.Done()
					v, err := l.GetOrLoad(context.Background(), key, load)
					if assert.NoError(t, err) {
						assert.Equal(t, "value-"+key, v)
					}
				}
				wg.Add(3 * wave)
				for range wave { // before the load ends
					go call()
				}
				firstDone := make(chan struct{})
				go func() {
					defer close(firstDone)
					_, err := l.GetOrLoad(context.Background(), key, load)
					assert.NoError(t, err)
				}()
				close(gate)
				for range wave { // while it ends
					go call()
				}
				<-firstDone
				for range wave { // just after
					go call()
				}
				wg.Wait()
				require.Equal(t, 1, src.count(key), "repetition %d", rep)
			}
		})
	}
}
