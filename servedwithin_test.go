package flightcache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// TestEveryReadIsServedWithinItsEntrysWindows checks rule 6's "no mode
// ever serves a value past the windows of its entry" under a random mix, in
// fake time: random Options (stale-while-revalidate, stale-if-error,
// negative caching, jitter, early refresh, soft timeout, failure backoff),
// loads that take random time and answer a value, "not found", "not
// modified" or an error, with policies of their own or not, and Set,
// SetWithPolicy, Invalidate, Expire, Refresh, InvalidateTag and Clear,
// from several goroutines. Every value served from an entry must be served
// inside the window its Served kind names, at the instant the call returns:
// fresh before FreshUntil, stale before StaleUntil, a stand-in before
// ServeUntil, none at or after ExpiresAt; Peek likewise. It prints its seed;
// FLIGHTCACHE_WINDOWS_SEED=<seed> replays it.
func TestEveryReadIsServedWithinItsEntrysWindows(t *testing.T) {
	seed := rand.Uint64()
	if s := envSeed(t, "FLIGHTCACHE_WINDOWS_SEED"); s != 0 {
		seed = s
	}
	t.Logf("seed %d (replay with FLIGHTCACHE_WINDOWS_SEED=%d)", seed, seed)
	for round := range 40 {
		rng := rand.New(rand.NewPCG(seed, uint64(round)))
		opts := randomOptions(rng)
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			t.Logf("options %+v", opts)
			synctest.Test(t, func(t *testing.T) {
				servedWithinMix(t, rng.Uint64(), opts)
			})
		})
	}
}

// envSeed returns the seed in the environment variable name, or 0.
func envSeed(t *testing.T, name string) uint64 {
	s := os.Getenv(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseUint(s, 10, 64)
	require.NoError(t, err, name)
	return n
}

func randomOptions(rng *rand.Rand) flightcache.Options {
	pick := func(ds ...time.Duration) time.Duration { return ds[rng.IntN(len(ds))] }
	o := flightcache.Options{
		FreshFor:    pick(0, time.Second, 5*time.Second, 20*time.Second),
		MissingFor:  pick(0, 0, 3*time.Second),
		Jitter:      []float64{0, 0, 0.5, 1}[rng.IntN(4)],
		LoadTimeout: pick(10*time.Second, time.Minute),
		Logger:      slog.New(slog.DiscardHandler),
	}
	if o.FreshFor > 0 {
		o.StaleFor = pick(0, 2*time.Second, 10*time.Second)
		o.StaleIfError = pick(0, 3*time.Second, 15*time.Second)
	}
	if rng.IntN(3) == 0 {
		o.EarlyRefresh = []float64{1, 5}[rng.IntN(2)]
	}
	if rng.IntN(3) == 0 {
		o.SoftTimeout = pick(500*time.Millisecond, 2*time.Second)
	}
	if rng.IntN(3) == 0 {
		o.FailureBackoff = flightcache.Backoff{Initial: time.Second, Max: 4 * time.Second}
	}
	return o
}

// servedWithinMix runs one round of the mix.
func servedWithinMix(t *testing.T, seed uint64, opts flightcache.Options) {
	l := newLoader(t, newMemStore[string](), &opts)
	var mu sync.Mutex
	version := map[string]int{}
	load := func(rng *rand.Rand) flightcache.LoadFunc[string, string] {
		// Each load draws its behaviour from its caller's generator,
		// under mu, before it sleeps.
		mu.Lock()
		took := time.Duration(rng.IntN(4000)) * time.Millisecond
		outcome := rng.IntN(10)
		policy := rng.IntN(3) == 0
		ep := flightcache.EntryPolicy{
			FreshFor:     time.Duration(rng.IntN(10)) * time.Second,
			StaleFor:     time.Duration(rng.IntN(5)) * time.Second,
			StaleIfError: time.Duration(rng.IntN(8)) * time.Second,
			MissingFor:   time.Duration(rng.IntN(4)) * time.Second,
			KeepFor:      time.Duration(rng.IntN(4)) * time.Second,
			Tags:         []string{"t" + strconv.Itoa(rng.IntN(2))},
		}
		mu.Unlock()
		return func(ctx context.Context, key string) (string, error) {
			time.Sleep(took)
			if policy {
				if err := flightcache.SetPolicy(ctx, key, ep); err != nil {
					return "", err
				}
			}
			switch {
			case outcome == 0:
				return "", errBackend
			case outcome == 1:
				return "", flightcache.ErrNotFound
			case outcome == 2:
				if _, ok := flightcache.Previous[string](ctx, key); ok {
					return "", flightcache.ErrNotModified
				}
			}
			mu.Lock()
			version[key]++
			v := fmt.Sprintf("%s#%d", key, version[key])
			mu.Unlock()
			return v, nil
		}
	}
	check := func(op string, r flightcache.Result[string]) {
		t.Helper()
		now := flightcache.DeadlineOf(time.Now())
		before := func(at flightcache.Deadline) bool { return at.IsZero() || now.Before(at) }
		serveUntil := r.ServeUntil
		if serveUntil.IsZero() {
			serveUntil = r.ExpiresAt
		}
		switch r.Served {
		case flightcache.ServedFresh:
			assert.True(t, before(r.FreshUntil) && before(r.ExpiresAt), "%s: served fresh at %v, past FreshUntil %v or ExpiresAt %v", op, now, r.FreshUntil, r.ExpiresAt)
		case flightcache.ServedStale:
			assert.True(t, !r.FreshUntil.IsZero() && !now.Before(r.FreshUntil) && before(r.StaleUntil) && before(r.ExpiresAt),
				"%s: served stale at %v outside [FreshUntil %v, StaleUntil %v), ExpiresAt %v", op, now, r.FreshUntil, r.StaleUntil, r.ExpiresAt)
		case flightcache.ServedStandIn:
			assert.True(t, before(serveUntil) && before(r.ExpiresAt), "%s: stood in at %v past ServeUntil %v or ExpiresAt %v", op, now, serveUntil, r.ExpiresAt)
		}
	}
	const workers, ops = 4, 60
	keys := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		b, err := l.Batcher(func(ctx context.Context, ks []string) (map[string]string, error) {
			return eachKey(ctx, ks, load(rng))
		}, flightcache.Window{Wait: 10 * time.Millisecond})
		require.NoError(t, err)
		wg.Go(func() {
			ctx := context.Background()
			for range ops {
				mu.Lock()
				op, key := rng.IntN(14), keys[rng.IntN(len(keys))]
				pause := time.Duration(rng.IntN(3000)) * time.Millisecond
				mu.Unlock()
				var r flightcache.Result[string]
				var err error
				switch op {
				case 0, 1, 2, 3:
					r, err = l.GetOrLoadResult(ctx, key, load(rng))
					check("GetOrLoadResult", r)
				case 4:
					cctx, cancel := context.WithTimeout(ctx, pause)
					r, err = l.GetOrLoadResult(cctx, key, load(rng))
					cancel()
					check("GetOrLoadResult with a deadline", r)
				case 5, 6:
					r, err = b.GetOrLoadResult(ctx, key)
					check("Batcher", r)
				case 7:
					var found bool
					r, found, err = l.Peek(ctx, key)
					if found {
						check("Peek", r)
					}
				case 8:
					err = l.Set(ctx, key, key+"#set")
				case 9:
					err = l.Expire(ctx, key)
				case 10:
					err = l.Refresh(ctx, key, load(rng))
				case 11:
					switch rng.IntN(3) {
					case 0:
						err = l.Invalidate(ctx, key)
					case 1:
						err = l.InvalidateTag(ctx, "t0")
					default:
						err = l.Clear(ctx)
					}
				case 12:
					err = l.SetWithPolicy(ctx, key, key+"#setpolicy", flightcache.EntryPolicy{FreshFor: time.Second, StaleFor: time.Second, Tags: []string{"t1"}})
				default:
					time.Sleep(pause)
				}
				if err != nil && !errors.Is(err, errBackend) && !errors.Is(err, flightcache.ErrNotFound) &&
					!errors.Is(err, flightcache.ErrThrottled) && !errors.Is(err, flightcache.ErrLoadTimeout) &&
					!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, flightcache.ErrNotModified) {
					t.Errorf("op %d on %s: unexpected error %v", op, key, err)
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, l.Wait(context.Background()))
}
