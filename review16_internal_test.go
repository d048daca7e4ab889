package flightcache

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Close promises to wait for the fills running when it is called. With the
// counter, a fill A whose done() has dropped n to 0 but not yet taken the
// lock, a fill B that starts (n 0->1), and a Close whose zero() then makes
// the channel, A closes that channel: Close returns while B, which started
// before Close, still runs. The test widens A's window by holding the
// counter's lock while A's done runs (A then blocks on it after dropping n
// to 0), and counts how often zero's channel closes while B is counted.
func TestReview16CounterZeroClosesWhileAFillStartedBeforeItRuns(t *testing.T) {
	const tries = 2_000
	bad := 0
	for range tries {
		var c counter
		c.add() // fill A
		var wg sync.WaitGroup
		c.mu.Lock()
		wg.Go(func() { c.done() }) // A ends: n drops to 0, then A waits for mu
		for c.n.Load() != 0 {
			runtime.Gosched()
		}
		c.add() // fill B starts
		c.mu.Unlock()
		ch := c.zero() // Close, after B started
		wg.Wait()      // A's done has returned; B is still running
		select {
		case <-ch:
			bad++ // Close would return while B runs
		default:
		}
	}
	t.Logf("%d of %d tries saw zero closed while a fill ran", bad, tries)
	assert.Zero(t, bad)
}

// The context.Context contract: "If Done is not yet closed, Err returns
// nil." fillCtx.end sets the state before it closes done, and Err reads only
// the state, so a reader can see an error while Done is still open (the
// context package's cancelCtx.Err waits for Done before it returns one).
func TestReview16FillCtxErrOnlyOnceDoneIsClosed(t *testing.T) {
	const tries = 20_000
	bad := 0
	for range tries {
		var c fillCtx[string, string]
		c.begin(context.Background(), time.Now().Add(time.Hour))
		var wg sync.WaitGroup
		wg.Go(func() { c.end(ctxCanceled) })
		for c.Err() == nil {
		}
		select {
		case <-c.Done():
		default:
			bad++
		}
		wg.Wait()
	}
	t.Logf("%d of %d tries saw Err before Done was closed", bad, tries)
	assert.Zero(t, bad)
}

// r16Store is a map Store for the internal tests.
type r16Store struct {
	mu sync.Mutex
	m  map[string]Entry[string]
}

func (s *r16Store) Get(_ context.Context, k string) (Entry[string], bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	return e, ok, nil
}

func (s *r16Store) Set(_ context.Context, k string, e Entry[string]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = e
	return nil
}

func (s *r16Store) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

// An entry that a lagging coarse clock finds stale, but that is past its
// StaleUntil by the system clock, is not served stale: GetOrLoad and
// GetOrLoadMany load it (confirmStale).
func TestReview16LaggingClockDoesNotServePastStaleUntil(t *testing.T) {
	now := time.Now()
	lag := &coarseClock{}
	lag.nanos.Store(now.Add(-time.Minute).UnixNano()) // a minute behind
	lag.read.Store(true)
	e := Entry[string]{
		Value:      "old",
		FreshUntil: now.Add(-2 * time.Minute),
		StaleUntil: now.Add(-30 * time.Second), // stale by the lagging clock, gone by the system's
	}
	for _, many := range []bool{false, true} {
		s := &r16Store{m: map[string]Entry[string]{"k": e}}
		l, err := New[string, string](s, &Options{FreshFor: time.Hour, StaleFor: time.Minute})
		require.NoError(t, err)
		l.clock, l.fill.clock = clock{src: lag}, clock{src: lag}
		var v string
		if many {
			var m map[string]string
			m, err = l.GetOrLoadMany(context.Background(), []string{"k"}, func(context.Context, []string) (map[string]string, error) {
				return map[string]string{"k": "new"}, nil
			})
			v = m["k"]
		} else {
			v, err = l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "new", nil })
		}
		require.NoError(t, err)
		assert.Equal(t, "new", v, "many=%v", many)
		require.NoError(t, l.Close())
	}
}
