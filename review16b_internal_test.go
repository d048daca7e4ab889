package flightcache

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/stats"
)

// blockingTimeoutRecorder blocks the first RecordLoad of a timeout until
// unblock is closed, having closed entered.
type blockingTimeoutRecorder struct {
	first            atomic.Bool
	entered, unblock chan struct{}
}

func (r *blockingTimeoutRecorder) Record(stats.Event, int) {}
func (r *blockingTimeoutRecorder) RecordLoad(_ time.Duration, err error) {
	if errors.Is(err, ErrLoadTimeout) && r.first.CompareAndSwap(false, true) {
		close(r.entered)
		<-r.unblock
	}
}

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
func TestReview16bAJobIsNotReusedWhileItsExpireRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &blockingTimeoutRecorder{entered: make(chan struct{}), unblock: make(chan struct{})}
		l, err := New(Store[string, string](&r16Store{m: map[string]Entry[string]{}}), &Options{LoadTimeout: time.Second, Recorder: rec})
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
		<-rec.entered
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

		close(rec.unblock)
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

// goexitRecorder calls runtime.Goexit when told of a timeout, as a test's
// Recorder calling t.FailNow off the test goroutine would.
type goexitRecorder struct{}

func (goexitRecorder) Record(stats.Event, int) {}
func (goexitRecorder) RecordLoad(_ time.Duration, err error) {
	if errors.Is(err, ErrLoadTimeout) {
		runtime.Goexit()
	}
}

// A Recorder that calls runtime.Goexit when the fill's timer counts its
// timeout must not stop the timer from answering the keys and ending the
// context: a load that waits for its context would otherwise hold its
// callers, and Close, for ever.
func TestReview16bARecorderGoexitAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := New(Store[string, string](&r16Store{m: map[string]Entry[string]{}}), &Options{LoadTimeout: time.Second, Recorder: goexitRecorder{}})
		require.NoError(t, err)
		_, err = l.GetOrLoad(context.Background(), "a", func(c context.Context, key string) (string, error) {
			<-c.Done()
			return "", c.Err()
		})
		assert.ErrorIs(t, err, ErrLoadTimeout)
		require.NoError(t, l.Close())
	})
}

// failGoexitRecorder calls runtime.Goexit whenever it is told of a failed
// load, as a test's Recorder that asserts no load fails would.
type failGoexitRecorder struct{}

func (failGoexitRecorder) Record(stats.Event, int) {}
func (failGoexitRecorder) RecordLoad(_ time.Duration, err error) {
	if err != nil {
		runtime.Goexit()
	}
}

// A Recorder that calls runtime.Goexit when it counts a failed load, on the
// pipeline's goroutine, and again when the pipeline counts the Goexit, must
// not leave the key without a result: its call would stay in flight, and
// every later caller of the key would join it and wait for ever.
func TestReview16bARecorderGoexitOnAFailedLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := New(Store[string, string](&r16Store{m: map[string]Entry[string]{}}), &Options{LoadTimeout: time.Minute, Recorder: failGoexitRecorder{}})
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
