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

// revalidating is a source whose first answer sets policy, and whose later
// answers revalidate the previous entry: ErrNotModified when there is one
// (with again, when set, as the new policy), and a full answer otherwise.
type revalidating struct {
	policy       flightcache.EntryPolicy
	again        *flightcache.EntryPolicy
	full, notMod int
	sawPrevious  []bool
}

func (s *revalidating) load(ctx context.Context, key string) (string, error) {
	prev, ok := flightcache.Previous[string](ctx, key)
	s.sawPrevious = append(s.sawPrevious, ok)
	if ok {
		s.notMod++
		if s.again != nil {
			if err := flightcache.SetPolicy(ctx, key, *s.again); err != nil {
				return "", err
			}
		}
		_ = prev
		return "", flightcache.ErrNotModified
	}
	s.full++
	return "full", flightcache.SetPolicy(ctx, key, s.policy)
}

// EntryPolicy.KeepFor keeps an entry with no stale window past its windows
// for Previous only (Varnish's "keep"): the next load can revalidate it
// instead of downloading it whole, and it is never served meanwhile
// (issue 22 input 6; httppolicy's max-age, no-cache, must-revalidate).
func TestKeepForKeepsAnEntryForRevalidationOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, nil)
		src := &revalidating{policy: flightcache.EntryPolicy{FreshFor: time.Minute, KeepFor: time.Hour}}

		v, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "full", v)
		e, ok := store.entry("k")
		require.True(t, ok)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), e.ServeUntil)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute+time.Hour)), e.ExpiresAt, "kept an hour past its windows")

		time.Sleep(2 * time.Minute) // past FreshFor, inside KeepFor
		fail := func(context.Context, string) (string, error) { return "", errBackend }
		_, err = l.GetOrLoad(context.Background(), "k", fail)
		require.ErrorIs(t, err, errBackend, "a kept entry never stands in for a failed load")

		r, err := l.GetOrLoadResult(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, "full", r.Value)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)
		assert.Equal(t, 1, src.full, "revalidated, not downloaded again")
		assert.Equal(t, 1, src.notMod)

		time.Sleep(2*time.Hour + time.Minute) // past KeepFor too
		_, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		assert.Equal(t, 2, src.full, "past KeepFor, nothing is kept to revalidate")
	})
}

// KeepFor ends the serving windows where they end without it: StaleIfError
// still bounds how long an old value stands in for a failed load.
func TestKeepForDoesNotLengthenStaleIfError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		src := &revalidating{policy: flightcache.EntryPolicy{FreshFor: time.Minute, StaleIfError: time.Minute, KeepFor: time.Hour}}
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)

		fail := func(context.Context, string) (string, error) { return "", errBackend }
		time.Sleep(90 * time.Second) // inside StaleIfError
		r, err := l.GetOrLoadResult(context.Background(), "k", fail)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)

		time.Sleep(time.Minute) // past StaleIfError, inside KeepFor
		_, err = l.GetOrLoad(context.Background(), "k", fail)
		require.ErrorIs(t, err, errBackend)
	})
}

func TestKeepForMustNotBeNegative(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLoader(t, newMemStore[string](), nil)
		_, err := l.GetOrLoad(context.Background(), "k", func(ctx context.Context, key string) (string, error) {
			return "v", flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Minute, KeepFor: -1})
		})
		require.Error(t, err)
		assert.ErrorContains(t, err, "KeepFor")
	})
}

// A revalidated entry keeps the windows its source gave it, re-based at
// the time the revalidating load was called, unless the load sets new ones
// (rule 14; issue 22 input 5: it was made fresh for the Options' FreshFor,
// for ever with zero Options, where the source said 5 s). Every kind of fill: a miss past the
// windows, a background refresh of a stale entry, a batch, a Batcher and
// Refresh.
func TestRevalidatedEntryKeepsTheWindowsItsSourceGave(t *testing.T) {
	given := flightcache.EntryPolicy{FreshFor: 5 * time.Second, StaleFor: time.Minute, StaleIfError: 2 * time.Minute, KeepFor: time.Hour}
	for _, opts := range []*flightcache.Options{nil, {FreshFor: time.Hour, Jitter: 0.5}} {
		for name, reload := range map[string]func(l *flightcache.Loader[string, string], src *revalidating){
			"GetOrLoad past the windows": func(l *flightcache.Loader[string, string], src *revalidating) {
				time.Sleep(10 * time.Minute)
				_, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
			},
			"refresh of a stale entry": func(l *flightcache.Loader[string, string], src *revalidating) {
				time.Sleep(10 * time.Second)
				_, err := l.GetOrLoad(context.Background(), "k", src.load)
				require.NoError(t, err)
			},
			"GetOrLoadMany": func(l *flightcache.Loader[string, string], src *revalidating) {
				time.Sleep(10 * time.Minute)
				_, err := l.GetOrLoadMany(context.Background(), []string{"k"}, func(ctx context.Context, keys []string) (map[string]string, error) {
					v, err := src.load(ctx, keys[0])
					if err != nil {
						return nil, err
					}
					return map[string]string{keys[0]: v}, nil
				})
				require.NoError(t, err)
			},
			"Batcher": func(l *flightcache.Loader[string, string], src *revalidating) {
				time.Sleep(10 * time.Minute)
				b, err := l.Batcher(func(ctx context.Context, keys []string) (map[string]string, error) {
					v, err := src.load(ctx, keys[0])
					if err != nil {
						return nil, err
					}
					return map[string]string{keys[0]: v}, nil
				}, flightcache.Window{Wait: time.Millisecond})
				require.NoError(t, err)
				_, err = b.GetOrLoad(context.Background(), "k")
				require.NoError(t, err)
			},
			"Refresh": func(l *flightcache.Loader[string, string], src *revalidating) {
				time.Sleep(time.Second)
				require.NoError(t, l.Refresh(context.Background(), "k", src.load))
			},
		} {
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					store := newMemStore[string]()
					l := newLoader(t, store, opts)
					src := &revalidating{policy: given}
					_, err := l.GetOrLoad(context.Background(), "k", src.load)
					require.NoError(t, err)
					first, ok := store.entry("k")
					require.True(t, ok)
					fresh := first.FreshUntil.Sub(first.LoadedAt) // Jitter shortens it
					if opts == nil {
						require.Equal(t, 5*time.Second, fresh)
					}

					reload(l, src)
					require.NoError(t, l.Wait(context.Background()))
					require.Equal(t, 1, src.notMod, "revalidated")
					now := time.Now()
					e, ok := store.entry("k")
					require.True(t, ok)
					assert.Equal(t, "full", e.Value)
					assert.Equal(t, flightcache.DeadlineOf(now), e.LoadedAt)
					assert.Equal(t, flightcache.DeadlineOf(now.Add(fresh)), e.FreshUntil, "the source's 5 s, re-based at now, not jittered again")
					assert.Equal(t, flightcache.DeadlineOf(now.Add(fresh+time.Minute)), e.StaleUntil)
					assert.Equal(t, flightcache.DeadlineOf(now.Add(fresh+2*time.Minute)), e.ServeUntil)
					assert.Equal(t, flightcache.DeadlineOf(now.Add(fresh+2*time.Minute+time.Hour)), e.ExpiresAt)
				})
			})
		}
	}
}

// A revalidation whose load sets a policy takes it.
func TestRevalidationThatSetsAPolicyTakesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore[string]()
		l := newLoader(t, store, nil)
		src := &revalidating{
			policy: flightcache.EntryPolicy{FreshFor: 5 * time.Second, KeepFor: time.Hour},
			again:  &flightcache.EntryPolicy{FreshFor: time.Minute},
		}
		_, err := l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		time.Sleep(10 * time.Second)
		_, err = l.GetOrLoad(context.Background(), "k", src.load)
		require.NoError(t, err)
		e, ok := store.entry("k")
		require.True(t, ok)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), e.FreshUntil)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), e.ExpiresAt, "no KeepFor in the new policy")
	})
}
