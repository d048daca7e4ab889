package flightcache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mapStore is a map Store for the internal tests of reads.
type mapStore struct {
	mu sync.Mutex
	m  map[string]Entry[string]
}

func (s *mapStore) Get(_ context.Context, k string) (Entry[string], bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	return e, ok, nil
}

func (s *mapStore) Set(_ context.Context, k string, e Entry[string]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = e
	return nil
}

func (s *mapStore) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

// No read is ever served past its entry's windows, whatever the scheduler
// does to the coarse clock (rule 6; issue 22 input 9: with 16 readers on 2
// cores the coarse clock's goroutine lagged by up to 257 ms, and a fresh
// verdict by it served entries past their ExpiresAt). Each entry here is
// past its windows by the system clock and inside them by a coarse clock
// that lags a minute behind; every entry point loads it.
func TestLaggingCoarseClockServesNothingPastItsWindows(t *testing.T) {
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	entries := map[string]Entry[string]{
		"fresh past ExpiresAt":  {Value: "old", FreshUntil: ago(time.Second), ExpiresAt: ago(time.Second)},
		"missing past its time": {Missing: true, FreshUntil: ago(time.Second), ExpiresAt: ago(time.Second)},
		"stale past StaleUntil": {Value: "old", FreshUntil: ago(2 * time.Minute), StaleUntil: ago(30 * time.Second), ExpiresAt: ago(30 * time.Second)},
		"fresh, early refresh":  {Value: "old", FreshUntil: ago(time.Second), ExpiresAt: ago(time.Second), LoadDuration: time.Second},
	}
	reads := map[string]func(l *Loader[string, string]) (string, error){
		"GetOrLoad": func(l *Loader[string, string]) (string, error) {
			return l.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "new", nil })
		},
		"GetOrLoadMany": func(l *Loader[string, string]) (string, error) {
			m, err := l.GetOrLoadMany(context.Background(), []string{"k"}, func(context.Context, []string) (map[string]string, error) {
				return map[string]string{"k": "new"}, nil
			})
			return m["k"], err
		},
		"Batcher": func(l *Loader[string, string]) (string, error) {
			b, err := l.Batcher(func(context.Context, []string) (map[string]string, error) {
				return map[string]string{"k": "new"}, nil
			}, Window{Wait: time.Millisecond})
			if err != nil {
				return "", err
			}
			return b.GetOrLoad(context.Background(), "k")
		},
	}
	for name, e := range entries {
		for via, read := range reads {
			t.Run(name+"/"+via, func(t *testing.T) {
				lag := &coarseClock{}
				lag.nanos.Store(ago(time.Minute).UnixNano())
				lag.read.Store(true)
				s := &mapStore{m: map[string]Entry[string]{"k": e}}
				l, err := New[string, string](s, &Options{FreshFor: time.Hour, StaleFor: time.Minute, MissingFor: time.Hour, EarlyRefresh: 1})
				require.NoError(t, err)
				defer l.Close()
				l.clock, l.fill.clock, l.refresh.clock = clock{src: lag}, clock{src: lag}, clock{src: lag}

				v, err := read(l)
				require.NoError(t, err)
				assert.Equal(t, "new", v, "loaded, not served past its windows")
			})
		}
	}
}
