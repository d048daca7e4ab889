package flightcache_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

func TestDurationsAsLongAsTheyGoMeanAtLeastThatLong(t *testing.T) {
	century := 100 * 365 * 24 * time.Hour
	for name, opts := range map[string]flightcache.Options{
		"FreshFor max":         {FreshFor: math.MaxInt64},
		"FreshFor 250y":        {FreshFor: 250 * 365 * 24 * time.Hour},
		"FreshFor max jitter":  {FreshFor: math.MaxInt64, Jitter: 1},
		"FreshFor 200y jitter": {FreshFor: 2 * century, Jitter: 0.5},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLoader(t, newMemStore[string](), &opts)
			src := newSource()
			for range 3 {
				v, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
				assert.Equal(t, "value-k", v)
			}
			assert.Equal(t, 1, src.count("k"), "3 reads, 1 load")
		})
	}
	t.Run("MissingFor max", func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), &flightcache.Options{MissingFor: math.MaxInt64})
		src := newSource()
		src.answer = func(context.Context, string) (string, error) { return "", flightcache.ErrNotFound }
		for range 3 {
			_, err := l.GetOrLoad(context.Background(), "k", src.load)
			assert.ErrorIs(t, err, flightcache.ErrNotFound)
		}
		assert.Equal(t, 1, src.count("k"))
	})
	t.Run("StaleFor max", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: time.Minute, StaleFor: math.MaxInt64})
			src := newSource()
			versionedSource(src)
			_, err := l.GetOrLoad(context.Background(), "k", src.load)
			require.NoError(t, err)
			time.Sleep(century / 100)
			src.gate = make(chan struct{})
			v, err := l.GetOrLoad(context.Background(), "k", src.load)
			require.NoError(t, err)
			assert.Equal(t, "v1", v, "served stale, at once, while the refresh runs")
			close(src.gate)
		})
	})
}

// TestAForeverPolicyUnderJitterAndEarlyRefreshIsNeverRefreshed: a Forever
// policy under Options.Jitter and EarlyRefresh stays fresh and is never
// refreshed early (no overflow in the windows or in the early-refresh draw).
func TestAForeverPolicyUnderJitterAndEarlyRefreshIsNeverRefreshed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, &flightcache.Options{FreshFor: time.Second, Jitter: 0.5, EarlyRefresh: 10, StaleFor: time.Hour})
		var calls atomic.Int64
		load := func(ctx context.Context, key string) (string, error) {
			calls.Add(1)
			return "v", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: flightcache.Forever, StaleFor: time.Hour, StaleIfError: time.Hour})
		}
		ctx := context.Background()
		for range 100 {
			r, err := l.GetOrLoadResult(ctx, "k", load)
			require.NoError(t, err)
			assert.Equal(t, "v", r.Value)
			time.Sleep(time.Hour)
		}
		synctest.Wait()
		assert.EqualValues(t, 1, calls.Load())
	})
}

// TestTheLongestPoliciesNeitherWrapNorPanic replays Yiling-J/theine-go#57
// (a TTL large enough to overflow made an entry expire never, or at once)
// and losfair/sqlite-cache#1 (Duration::MAX as a TTL panicked): Set,
// SetWithPolicy and a load's SetPolicy with every window at the longest
// durations, with an early refresh, store entries whose windows are in
// order and saturate instead of wrapping, are served fresh now and two
// centuries on, and load once. Under the largest Jitter, which may shorten
// any of them as its doc says, the windows are still in order.
func TestTheLongestPoliciesNeitherWrapNorPanic(t *testing.T) {
	longest := flightcache.EntryPolicy{
		FreshFor: math.MaxInt64, StaleFor: math.MaxInt64, StaleIfError: math.MaxInt64,
		MissingFor: math.MaxInt64, KeepFor: math.MaxInt64,
	}
	almost := flightcache.EntryPolicy{
		FreshFor: math.MaxInt64 - 1, StaleFor: math.MaxInt64 - 1, StaleIfError: math.MaxInt64 - 1,
		MissingFor: math.MaxInt64 - 1, KeepFor: math.MaxInt64 - 1,
	}
	for name, p := range map[string]flightcache.EntryPolicy{"MaxInt64": longest, "MaxInt64-1": almost} {
		for _, jitter := range []float64{0, 1} {
			for _, st := range memoryStores {
				t.Run(fmt.Sprintf("%s/Jitter=%v/%s", name, jitter, st.name), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						l := newLoader(t, st.new(t), &flightcache.Options{
							FreshFor: p.FreshFor, StaleFor: p.StaleFor, StaleIfError: p.StaleIfError, MissingFor: p.MissingFor,
							Jitter: jitter, EarlyRefresh: 1,
						})
						ctx := context.Background()
						var loads atomic.Int64
						load := func(ctx context.Context, key string) (string, error) {
							loads.Add(1)
							time.Sleep(time.Millisecond) // a load that takes time, for XFetch
							if key == "policy" {
								if err := flightcache.SetPolicy(ctx, key, p); err != nil {
									return "", err
								}
							}
							if key == "missing" {
								return "", flightcache.ErrNotFound
							}
							return "v-" + key, nil
						}
						require.NoError(t, l.Set(ctx, "set", "v-set"))
						require.NoError(t, l.SetWithPolicy(ctx, "setpolicy", "v-setpolicy", p))
						keys := []string{"set", "setpolicy", "options", "policy"}
						check := func() {
							for _, k := range keys {
								r, err := l.GetOrLoadResult(ctx, k, load)
								require.NoError(t, err, k)
								assert.Equal(t, "v-"+k, r.Value, k)
								if jitter == 0 {
									assert.Contains(t, []flightcache.Served{flightcache.ServedFresh, flightcache.ServedLoaded}, r.Served, "%s is served fresh", k)
								}
								windowsInOrder(t, k, r.Entry)
							}
							_, err := l.GetOrLoad(ctx, "missing", load)
							assert.ErrorIs(t, err, flightcache.ErrNotFound)
							require.NoError(t, l.Wait(ctx))
						}
						check()
						if jitter > 0 {
							return
						}
						time.Sleep(200 * 365 * 24 * time.Hour)
						check()
						assert.Equal(t, int64(3), loads.Load(), "options, policy and missing, loaded once each")
					})
				})
			}
		}
	}
}

// windowsInOrder checks that e's windows never end before they begin: each
// instant it has (not never) is at or after the one before it, from LoadedAt
// to ExpiresAt. A jitter or an overflow that made a window negative
// (hapijs/catbox#76: a negative TTL for an entry created before it expired)
// breaks the order.
func windowsInOrder(t *testing.T, key string, e flightcache.Entry[string]) {
	t.Helper()
	seq := []struct {
		name string
		at   flightcache.Deadline
	}{{"LoadedAt", e.LoadedAt}, {"FreshUntil", e.FreshUntil}, {"StaleUntil", e.StaleUntil}, {"ServeUntil", e.ServeUntil}, {"ExpiresAt", e.ExpiresAt}}
	var last flightcache.Deadline
	lastName := ""
	for _, s := range seq {
		if s.at.IsZero() {
			continue
		}
		assert.False(t, s.at.Before(last), "key %s: %s %v is before %s %v", key, s.name, s.at, lastName, last)
		last, lastName = s.at, s.name
	}
}

// TestJitterNeverEndsAWindowBeforeItBeginsNorPastItsSpread: with the largest
// Jitter, over thousands of loads under the Options' policy and a load's
// own, every entry's windows are in order (windowsInOrder), the Options'
// FreshFor lands within ± the Jitter of itself, a load's own FreshFor is
// only shortened, never lengthened (EntryPolicy's doc), and the stale
// windows keep their length.
func TestJitterNeverEndsAWindowBeforeItBeginsNorPastItsSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const freshFor, staleFor = time.Minute, time.Hour
		l := newLoader(t, newMemStore[string](), &flightcache.Options{FreshFor: freshFor, StaleFor: staleFor, MissingFor: freshFor, Jitter: 1})
		ctx := context.Background()
		own := func(ctx context.Context, key string) (string, error) {
			return "v", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: freshFor, StaleFor: staleFor})
		}
		options := func(context.Context, string) (string, error) { return "v", nil }
		for i := range 2000 {
			key := strconv.Itoa(i)
			load := options
			if i%2 == 1 {
				load = own
			}
			r, err := l.GetOrLoadResult(ctx, key, load)
			require.NoError(t, err)
			windowsInOrder(t, key, r.Entry)
			fresh := r.FreshUntil.Sub(r.LoadedAt)
			assert.GreaterOrEqual(t, fresh, time.Duration(0))
			if i%2 == 1 {
				assert.LessOrEqual(t, fresh, freshFor, "a load's own FreshFor is only shortened")
			} else {
				assert.LessOrEqual(t, fresh, 2*freshFor, "the Options' FreshFor is spread by ± Jitter")
			}
			assert.Equal(t, staleFor, r.StaleUntil.Sub(r.FreshUntil), "the stale window keeps its length")
		}
	})
}
