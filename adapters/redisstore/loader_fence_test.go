package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// TestASetOnOneInstanceWinsOverASlowLoaderFillOnAnother is issue 13's first
// case through Loaders: instance A's load reads v1 and is slow; instance B's
// Loader sets v2; A's load ends. Every instance, and a new one, then serves
// v2, for a single load, a stale-while-revalidate refresh and a batch
// (DESIGN rule 9).
func TestASetOnOneInstanceWinsOverASlowLoaderFillOnAnother(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, c redis.UniversalClient) {
		for _, kind := range []string{"single", "refresh", "batch", "invalidate"} {
			t.Run(kind, func(t *testing.T) {
				ctx := context.Background()
				prefix := redistest.Prefix(t)
				opts := &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour}
				instance := func() (*flightcache.Loader[string, string], *redisstore.Store[string, string]) {
					s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
					l, err := flightcache.New[string, string](s, opts)
					require.NoError(t, err)
					t.Cleanup(func() { l.Close() })
					return l, s
				}
				a, aStore := instance()
				b, _ := instance()

				started, gate := make(chan struct{}), make(chan struct{})
				slow := func(context.Context, string) (string, error) {
					close(started)
					<-gate
					return "v1", nil // read from the source before B's write
				}
				slowMany := func(_ context.Context, keys []string) (map[string]string, error) {
					close(started)
					<-gate
					return map[string]string{keys[0]: "v1"}, nil
				}
				if kind == "refresh" {
					require.NoError(t, aStore.Set(ctx, "k", flightcache.Entry[string]{
						Value: "v0", FreshUntil: flightcache.DeadlineOf(time.Now().Add(-time.Second)), ExpiresAt: flightcache.DeadlineOf(time.Now().Add(time.Hour)),
					}))
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					switch kind {
					case "batch":
						_, _ = a.GetOrLoadMany(ctx, []string{"k"}, slowMany)
					default:
						_, _ = a.GetOrLoad(ctx, "k", slow) // a miss, or a stale read that refreshes
					}
				}()
				<-started
				want := "v2"
				if kind == "invalidate" {
					require.NoError(t, b.Invalidate(ctx, "k"))
					want = "v3"
				} else {
					require.NoError(t, b.Set(ctx, "k", "v2"))
				}
				close(gate)
				<-done
				require.NoError(t, a.Close()) // waits for a refresh's write too

				source := func(context.Context, string) (string, error) { return "v3", nil }
				c, _ := instance()
				for _, l := range []*flightcache.Loader[string, string]{b, c} {
					v, err := l.GetOrLoad(ctx, "k", source)
					require.NoError(t, err)
					assert.Equal(t, want, v, "A's slow fill did not write over B's %s", kind)
				}
			})
		}
	})
}
