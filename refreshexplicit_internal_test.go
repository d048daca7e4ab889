package flightcache

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/stats"
)

// Refreshes race Sets, Invalidates, Expires, Clears and batch fills (split
// by MaxBatch) of a few keys, with
// loads that answer, fail, panic, call runtime.Goexit, honour their
// context at the deadline or ignore it and return only at the end. Each
// key has one writer, which after each Set reads the key back: it never
// sees a value older than its Set (rule 8: a refresh that began before a
// Set never writes over it). Values are numbered from one counter, taken
// when the Set is asked for or the load is called. Once everything has
// ended, no explicit refresh is left on record and the write order holds
// no key. Run with -race.
func TestRefreshesRacingWritesLeaveNothingBehind(t *testing.T) {
	for range 4 {
		seed := rand.Uint64()
		t.Run("", func(t *testing.T) {
			t.Logf("seed %d", seed)
			refreshChaos(t, seed)
		})
	}
}

func refreshChaos(t *testing.T, seed uint64) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec := new(stats.Counter)
		l, err := New(Store[string, string](newMapStore[string, string]()), &Options{
			FreshFor: time.Hour, LoadTimeout: 10 * time.Millisecond, Recorder: rec, MaxBatch: 2,
			Logger: slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		defer l.Close()

		var seq atomic.Uint64
		stop := make(chan struct{})
		value := func() string { return strconv.FormatUint(seq.Add(1), 10) }
		num := func(v string) uint64 {
			n, err := strconv.ParseUint(v, 10, 64)
			require.NoError(t, err, v)
			return n
		}
		load := func(rng *rand.Rand) LoadFunc[string, string] {
			kind := rng.IntN(7)
			return func(ctx context.Context, _ string) (string, error) {
				v := value()
				switch kind {
				case 0:
					return "", errors.New("failed")
				case 1:
					panic("load panics")
				case 2:
					runtime.Goexit()
				case 3:
					<-stop // ignores its context
				case 4:
					<-ctx.Done()
					return "", ctx.Err()
				}
				return v, nil
			}
		}
		const keys = 4
		var wg sync.WaitGroup
		for w := range 2 * keys {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			key := "k" + strconv.Itoa(w%keys)
			writer := w < keys
			wg.Go(func() {
				for range 300 {
					k := "k" + strconv.Itoa(rng.IntN(keys))
					switch op := rng.IntN(20); {
					case writer && op < 6:
						v := value()
						s := num(v)
						require.NoError(t, l.Set(ctx, key, v))
						got, err := l.GetOrLoad(ctx, key, func(context.Context, string) (string, error) { return value(), nil })
						if err == nil { // a miss after another's Invalidate may join a fill that fails
							require.GreaterOrEqual(t, num(got), s, "a value older than the Set was read back")
						}
					case op < 14:
						require.NoError(t, l.Refresh(ctx, k, load(rng)))
					case op < 15:
						all := []string{"k0", "k1", "k2", "k3"}
						rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
						one := load(rng)
						// A ctx that can end: the fill is not run inline,
						// and the caller leaves at the deadline.
						mctx, cancel := context.WithCancel(ctx)
						defer cancel()
						_, _ = l.GetOrLoadMany(mctx, all[:1+rng.IntN(keys)], func(ctx context.Context, ks []string) (map[string]string, error) {
							m := map[string]string{}
							for _, k := range ks {
								v, err := one(ctx, k)
								if err != nil {
									return nil, err
								}
								m[k] = v
							}
							return m, nil
						})
					case op < 16:
						require.NoError(t, l.Invalidate(ctx, k))
					case op < 18:
						require.NoError(t, l.Expire(ctx, k))
					case op < 19:
						require.NoError(t, l.Clear(ctx))
					default:
						time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond) // lets deadlines pass
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		require.NoError(t, l.Wait(ctx))
		synctest.Wait() // the late loads' pipelines are over too

		x := &l.refresh.explicit
		x.mu.Lock()
		assert.Empty(t, x.running, "explicit refreshes left on record")
		x.mu.Unlock()
		assert.Zero(t, l.writes.size(), "keys left in the write order")
		assert.NotZero(t, rec.Snapshot().Refreshes)
	})
}

// A Refresh kept for when a superseded one ends, whose load ignores its
// context, when Close comes: Close returns at the superseded fill's
// deadline, the kept Refresh never starts (it would be refused), no record
// of it is left, and once the late load returns no goroutine is left (the
// bubble would report it).
func TestAKeptRefreshAtCloseStartsNothingAndLeavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec := new(stats.Counter)
		l, err := New(Store[string, string](newMapStore[string, string]()), &Options{FreshFor: time.Hour, LoadTimeout: time.Second, Recorder: rec})
		require.NoError(t, err)
		stuck := make(chan struct{})
		require.NoError(t, l.Refresh(ctx, "k", func(context.Context, string) (string, error) {
			<-stuck
			return "late", nil
		}))
		synctest.Wait()
		require.NoError(t, l.Set(ctx, "k", "set"))
		var kept atomic.Int64
		for range 3 {
			require.NoError(t, l.Refresh(ctx, "k", func(context.Context, string) (string, error) {
				kept.Add(1)
				return "kept", nil
			}))
		}
		closed := make(chan error, 1)
		go func() { closed <- l.Close() }()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned before the superseded fill's deadline")
		default:
		}
		time.Sleep(time.Second) // the deadline
		require.NoError(t, <-closed)
		require.NoError(t, l.Wait(ctx))
		assert.ErrorIs(t, l.Refresh(ctx, "k", func(context.Context, string) (string, error) { return "", nil }), ErrClosed)
		assert.Zero(t, kept.Load(), "the kept Refresh started after Close")
		x := &l.refresh.explicit
		x.mu.Lock()
		assert.Empty(t, x.running)
		x.mu.Unlock()
		assert.Equal(t, uint64(1), rec.Snapshot().Refreshes, "only the refresh that ran is counted")
		close(stuck)
		synctest.Wait()
		assert.Zero(t, l.writes.size())
	})
}

// A Refresh whose load panics, and one whose load calls runtime.Goexit,
// each superseded by a Set with a Refresh kept meanwhile: the kept one
// runs once the first has ended, and its result is stored.
func TestAKeptRefreshRunsAfterOneThatPanicsOrExits(t *testing.T) {
	for name, bad := range map[string]func(){"panic": func() { panic("load") }, "goexit": runtime.Goexit} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				rec := new(stats.Counter)
				l, err := New(Store[string, string](newMapStore[string, string]()), &Options{FreshFor: time.Hour, LoadTimeout: time.Hour, Recorder: rec, Logger: slog.New(slog.DiscardHandler)})
				require.NoError(t, err)
				defer l.Close()
				gate := make(chan struct{})
				require.NoError(t, l.Refresh(ctx, "k", func(context.Context, string) (string, error) {
					<-gate
					bad()
					return "", nil
				}))
				synctest.Wait()
				require.NoError(t, l.Set(ctx, "k", "set"))
				require.NoError(t, l.Refresh(ctx, "k", func(context.Context, string) (string, error) { return "kept", nil }))
				close(gate)
				require.NoError(t, l.Wait(ctx))
				r, ok, err := l.Peek(ctx, "k")
				require.NoError(t, err)
				require.True(t, ok)
				assert.Equal(t, "kept", r.Value)
				s := rec.Snapshot()
				assert.Equal(t, uint64(2), s.Refreshes)
				assert.Equal(t, uint64(1), s.RefreshErrors)
				assert.Zero(t, l.writes.size())
				x := &l.refresh.explicit
				x.mu.Lock()
				assert.Empty(t, x.running, "explicit refreshes left on record")
				x.mu.Unlock()
			})
		})
	}
}
