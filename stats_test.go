package flightcache_test

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/stats"
)

// TestALoadThatCallsGoexitIsCountedAsAFailedLoad: a load that calls
// runtime.Goexit (t.FailNow in a test double, or a library that does) is a
// call of the source that failed, and its callers get an error: it is
// counted in Loads and LoadErrors (rule 15), as the miss is in Misses.
func TestALoadThatCallsGoexitIsCountedAsAFailedLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := new(stats.Counter)
		l, err := flightcache.New[string, string](newMemStore[string](), &flightcache.Options{Recorder: rec})
		require.NoError(t, err)
		defer l.Close()
		ctx, cancel := context.WithCancel(context.Background()) // the load runs on a goroutine of the Loader's
		defer cancel()
		_, err = l.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
			runtime.Goexit()
			return "", nil
		})
		require.Error(t, err)
		s := rec.Snapshot()
		assert.Equal(t, uint64(1), s.Misses)
		assert.Equal(t, uint64(1), s.Loads, "the source was called once")
		assert.Equal(t, uint64(1), s.LoadErrors, "and failed")
	})
}
