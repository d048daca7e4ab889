package flightcache

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jobOf returns the job a load's context reaches while its fill runs.
func jobOf(ctx context.Context) *job[string, string] {
	c := ctx.Value(fillKey{}).(*fillCtx[string, string])
	c.hooks.Lock()
	defer c.hooks.Unlock()
	return c.job
}

// A fill's timer fires, and its expire is held (in a Recorder) before it
// answers the key; meanwhile the load returns and the pipeline ends. The job
// is then still the timer's: fills that start before expire is done never
// get it, and the load's kept context reaches nothing. Once expire is done,
// the job is given back.
func TestAJobIsNotReusedWhileItsExpireRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The Recorder blocks the first RecordLoad of a timeout until
		// unblock is closed, having closed entered.
		entered, unblock := make(chan struct{}), make(chan struct{})
		var fired atomic.Bool
		rec := hookRecorder{onRecordLoad: func(_ time.Duration, err error) {
			if errors.Is(err, ErrLoadTimeout) && fired.CompareAndSwap(false, true) {
				close(entered)
				<-unblock
			}
		}}
		l, err := New(Store[string, string](newMapStore[string, string]()), &Options{LoadTimeout: time.Second, Recorder: rec})
		require.NoError(t, err)
		defer l.Close()

		var first *job[string, string]
		var kept context.Context
		release := make(chan struct{})
		got := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			_, err := l.GetOrLoad(ctx, "a", func(c context.Context, key string) (string, error) {
				first, kept = jobOf(c), c
				<-release
				return "A", nil
			})
			got <- err
		}()
		synctest.Wait()
		time.Sleep(time.Second) // the timer fires; expire blocks in the Recorder
		<-entered
		close(release) // the load returns; the pipeline ends
		synctest.Wait()
		require.NotNil(t, first)

		for i := range 20 {
			_, err := l.GetOrLoad(context.Background(), "b"+string(rune('a'+i)), func(c context.Context, key string) (string, error) {
				assert.NotSame(t, first, jobOf(c), "a job is reused while its expire runs")
				return "B", nil
			})
			require.NoError(t, err)
		}
		assert.Error(t, SetPolicy(kept, "a", EntryPolicy{}))

		close(unblock)
		synctest.Wait()
		err = <-got
		// Whichever answered first (the load, or the timeout), the caller
		// got one result.
		if err != nil {
			assert.ErrorIs(t, err, ErrLoadTimeout)
		}
		assert.Equal(t, int32(0), first.refs.Load(), "the job was given back once both were done")
	})
}
