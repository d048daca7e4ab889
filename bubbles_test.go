package flightcache_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// A Loader made in one testing/synctest bubble serves fills there, then in
// another bubble, then outside any: nothing a fill leaves for the next one
// to reuse (its job, a singleflight call, a key's write order) carries a
// channel or a timer of the bubble it was made in.
func TestALoaderServesFillsInOneBubbleThenAnother(t *testing.T) {
	var l *flightcache.Loader[string, string]
	fills := func(t *testing.T, round string) {
		load := func(ctx context.Context, key string) (string, error) {
			<-ctx.Done() // asks for Done: the channel is made now
			return "", ctx.Err()
		}
		// A handed-off fill that times out, and one that answers; inline
		// ones; a split batch; a refresh.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := l.GetOrLoad(ctx, "timeout-"+round, load)
		assert.ErrorIs(t, err, flightcache.ErrLoadTimeout)
		for _, c := range []context.Context{ctx, context.Background()} {
			v, err := l.GetOrLoad(c, "k", func(ctx context.Context, key string) (string, error) {
				_ = ctx.Done()
				return "v-" + round, nil
			})
			require.NoError(t, err)
			assert.NotEmpty(t, v)
			m, err := l.GetOrLoadMany(c, []string{"a", "b", "c", "d", "e"}, func(ctx context.Context, keys []string) (map[string]string, error) {
				_ = ctx.Done()
				out := map[string]string{}
				for _, k := range keys {
					out[k] = k
				}
				return out, nil
			})
			require.NoError(t, err)
			assert.Len(t, m, 5)
		}
		require.NoError(t, l.Refresh(ctx, "k", func(ctx context.Context, key string) (string, error) {
			_ = ctx.Done()
			return "r-" + round, nil
		}))
		require.NoError(t, l.Wait(context.Background()))
		require.NoError(t, l.Invalidate(context.Background(), "k"))
	}
	synctest.Test(t, func(t *testing.T) {
		var err error
		l, err = flightcache.New(newMemStore[string](), &flightcache.Options{LoadTimeout: time.Minute, MaxBatch: 2, FreshFor: time.Second, StaleFor: time.Hour})
		require.NoError(t, err)
		fills(t, "one")
	})
	defer l.Close()
	synctest.Test(t, func(t *testing.T) { fills(t, "two") })
	_, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
		_ = ctx.Done()
		return "v", nil
	})
	require.NoError(t, err)
}

// A Loader made outside any testing/synctest bubble (a package-level one,
// one a TestMain builds) reads the process's coarse clock; its first read
// inside a bubble must not start the clock's ticking goroutine there, or
// the bubble ends with a goroutine it cannot wait for ("blocked goroutines
// remain"). Run it alone: another test may have left the clock ticking.
func TestALoaderMadeOutsideABubbleServesFillsInOne(t *testing.T) {
	l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Second})
	synctest.Test(t, func(t *testing.T) {
		v, err := l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "v", nil })
		require.NoError(t, err)
		assert.Equal(t, "v", v)
	})
}
