package flightcache

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Recorder that calls runtime.Goexit when the fill's timer counts its
// timeout must not stop the timer from answering the keys and ending the
// context: a load that waits for its context would otherwise hold its
// callers, and Close, for ever.
func TestARecorderThatCallsGoexitAtTheDeadlineStillEndsTheFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := New(Store[string, string](newMapStore[string, string]()), &Options{LoadTimeout: time.Second, Recorder: hookRecorder{onRecordLoad: func(_ time.Duration, err error) {
			// as a test's Recorder calling t.FailNow off the test goroutine would
			if errors.Is(err, ErrLoadTimeout) {
				runtime.Goexit()
			}
		}}})
		require.NoError(t, err)
		_, err = l.GetOrLoad(context.Background(), "a", func(c context.Context, key string) (string, error) {
			<-c.Done()
			return "", c.Err()
		})
		assert.ErrorIs(t, err, ErrLoadTimeout)
		require.NoError(t, l.Close())
	})
}

// A Recorder that calls runtime.Goexit when it counts a failed load, on the
// pipeline's goroutine, and again when the pipeline counts the Goexit, must
// not leave the key without a result: its call would stay in flight, and
// every later caller of the key would join it and wait for ever.
func TestARecorderThatCallsGoexitOnAFailedLoadLeavesTheKeyFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := New(Store[string, string](newMapStore[string, string]()), &Options{LoadTimeout: time.Minute, Recorder: hookRecorder{onRecordLoad: func(_ time.Duration, err error) {
			// as a test's Recorder that asserts no load fails would
			if err != nil {
				runtime.Goexit()
			}
		}}})
		require.NoError(t, err)
		errLoad := errors.New("load failed")
		for _, mode := range []string{"handed off", "refresh"} {
			ctx, cancel := context.WithCancel(context.Background())
			fail := func(context.Context, string) (string, error) { return "", errLoad }
			if mode == "refresh" {
				require.NoError(t, l.Refresh(ctx, "a", fail))
			} else {
				_, err = l.GetOrLoad(ctx, "a", fail)
				assert.Error(t, err)
			}
			cancel()
			synctest.Wait()
			v, err := l.GetOrLoad(context.Background(), "a", func(context.Context, string) (string, error) { return "A", nil })
			require.NoError(t, err, mode)
			assert.Equal(t, "A", v)
			require.NoError(t, l.Invalidate(context.Background(), "a"))
		}
		require.NoError(t, l.Close())
	})
}
