package tiered_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/tiered"
	"github.com/flightcache/flightcache/singleflight"
	"github.com/flightcache/flightcache/storetest"
)

func TestMain(m *testing.M) {
	quietRedis()
	if runFleetChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

func newLRU[V any](t *testing.T) *lrustore.Store[string, V] {
	s, err := lrustore.New[string, V](10_000)
	require.NoError(t, err)
	return s
}

func TestConformanceOverTwoMemoryTiers(t *testing.T) {
	storetest.Run(t, func(t *testing.T) flightcache.Store[string, string] {
		return tiered.New[string, string](newLRU[string](t), newLRU[string](t))
	})
}

// notes records the keys a Store notified.
type notes struct {
	mu   sync.Mutex
	keys []string
	fail error
}

func (n *notes) Notify(_ context.Context, key string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.keys = append(n.keys, key)
	return n.fail
}

func TestReadsCopySharedHitsIntoTheLocalTierWithoutExtendingThem(t *testing.T) {
	ctx := context.Background()
	local, shared, n := newLRU[string](t), newLRU[string](t), &notes{}
	s := tiered.NewWithNotifier[string, string](local, shared, n)

	e := flightcache.Entry[string]{Value: "v", FreshUntil: flightcache.DeadlineOf(time.Now().Add(time.Minute).Round(0)), ExpiresAt: flightcache.DeadlineOf(time.Now().Add(2 * time.Minute).Round(0))}
	require.NoError(t, shared.Set(ctx, "k", e))
	got, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, e, got)

	copied, ok, _ := local.Get(ctx, "k")
	require.True(t, ok, "a shared hit is copied into the local tier")
	assert.Equal(t, e, copied, "with its own timestamps: the copy never outlives the original")
	assert.Empty(t, n.keys, "a copy is not a change to notify")

	// Now the local tier answers alone.
	require.NoError(t, shared.Delete(ctx, "k"))
	_, ok, _ = s.Get(ctx, "k")
	assert.True(t, ok)
}

func TestWritesAndDeletesReachBothTiersAndAreNotified(t *testing.T) {
	ctx := context.Background()
	local, shared, n := newLRU[string](t), newLRU[string](t), &notes{}
	s := tiered.NewWithNotifier[string, string](local, shared, n)

	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}))
	for _, tier := range []*lrustore.Store[string, string]{local, shared} {
		e, ok, _ := tier.Get(ctx, "k")
		require.True(t, ok)
		assert.Equal(t, "v", e.Value)
	}
	require.NoError(t, s.SetMany(ctx, map[string]flightcache.Entry[string]{"a": {Value: "a"}}))
	got, err := s.GetMany(ctx, []string{"a", "k", "none"})
	require.NoError(t, err)
	assert.Len(t, got, 2)

	require.NoError(t, s.Delete(ctx, "k"))
	for _, tier := range []*lrustore.Store[string, string]{local, shared} {
		_, ok, _ := tier.Get(ctx, "k")
		assert.False(t, ok)
	}
	assert.Equal(t, []string{"k", "a", "k"}, n.keys)

	n.fail = errors.New("bus down")
	assert.ErrorIs(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}), n.fail)
	_, ok, _ := local.Get(ctx, "k")
	assert.True(t, ok, "a failed notification does not undo the write")
}

// failingStore fails every call.
type failingStore struct{ err error }

func (f failingStore) Get(context.Context, string) (flightcache.Entry[string], bool, error) {
	return flightcache.Entry[string]{}, false, f.err
}
func (f failingStore) Set(context.Context, string, flightcache.Entry[string]) error { return f.err }
func (f failingStore) Delete(context.Context, string) error                         { return f.err }

func TestAFailingSharedTierStillLetsTheLocalTierWork(t *testing.T) {
	ctx := context.Background()
	down := failingStore{errors.New("shared tier down")}
	local := newLRU[string](t)
	s := tiered.New[string, string](local, down)
	defer s.Close() // the failed Set's repair
	assert.ErrorIs(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}), down.err)
	e, ok, err := s.Get(ctx, "k")
	require.NoError(t, err, "the local tier answers")
	assert.True(t, ok)
	assert.Equal(t, "v", e.Value)
	_, _, err = s.Get(ctx, "other")
	assert.ErrorIs(t, err, down.err, "a local miss reports the shared tier's failure")
}

func TestEvictAndResetTheLocalTierOnly(t *testing.T) {
	ctx := context.Background()
	local, shared := newLRU[string](t), newLRU[string](t)
	s := tiered.New[string, string](local, shared)
	for _, k := range []string{"a", "b"} {
		require.NoError(t, s.Set(ctx, k, flightcache.Entry[string]{Value: k}))
	}
	require.NoError(t, s.EvictLocal(ctx, "a"))
	_, ok, _ := local.Get(ctx, "a")
	assert.False(t, ok)
	require.NoError(t, s.ResetLocal(ctx))
	assert.Zero(t, local.Len())
	assert.Equal(t, 2, shared.Len(), "the shared tier keeps everything")

	noPurge := tiered.New[string, string](failingStore{}, shared)
	assert.Error(t, noPurge.ResetLocal(ctx), "a local tier without Purge cannot be reset, and says so")
}

// leasing is a shared tier that is a flightcache.Leaser.
type leasing struct {
	*lrustore.Store[string, string]
	leases int
}

func (l *leasing) Lease(context.Context, string) (func(), error) {
	l.leases++
	return func() {}, nil
}

func TestATieredStoreIsALeaserOnlyWhenItsSharedTierIs(t *testing.T) {
	plain := tiered.New[string, string](newLRU[string](t), newLRU[string](t))
	_, ok := plain.(flightcache.Leaser[string, string])
	assert.False(t, ok, "over a shared tier without leases, the Loader must not see a Leaser")
	_, ok = plain.(flightcache.BatchStore[string, string])
	assert.True(t, ok)

	shared := &leasing{Store: newLRU[string](t)}
	s := tiered.NewWithNotifier[string, string](newLRU[string](t), shared, &notes{})
	l, ok := s.(flightcache.Leaser[string, string])
	require.True(t, ok, "over a Leaser, it is one")
	release, err := l.Lease(context.Background(), "k")
	require.NoError(t, err)
	release()
	assert.Equal(t, 1, shared.leases, "and takes the shared tier's lease")
	_, ok = s.(flightcache.BatchLeaser[string, string])
	assert.False(t, ok, "a BatchLeaser only over a BatchLeaser")

	batch := &batchLeasing{leasing: &leasing{Store: newLRU[string](t)}}
	bs := tiered.New[string, string](newLRU[string](t), batch)
	bl, ok := bs.(flightcache.BatchLeaser[string, string])
	require.True(t, ok, "over a BatchLeaser, it is one")
	taken, release, err := bl.LeaseMany(context.Background(), []string{"a", "b"})
	require.NoError(t, err)
	release()
	assert.Equal(t, []string{"a", "b"}, taken)
	assert.Equal(t, 1, batch.calls, "one call of the shared tier's LeaseMany")
}

type batchLeasing struct {
	*leasing
	calls int
}

func (b *batchLeasing) LeaseMany(_ context.Context, keys []string) ([]string, func(), error) {
	b.calls++
	return keys, func() {}, nil
}

// TestKeysGoCannotUseNeverWedgeTheTiers: a key Go cannot hash, or one that
// does not equal itself, neither panics under tiered's lock nor leaves
// anything behind; the tiers answer it as they do (lrustore: an error), and
// every other key keeps working (issue 12, rule 11).
func TestKeysGoCannotUseNeverWedgeTheTiers(t *testing.T) {
	ctx := context.Background()
	newAny := func() *lrustore.Store[any, string] {
		s, err := lrustore.New[any, string](100)
		require.NoError(t, err)
		return s
	}
	s := tiered.New[any, string](newAny(), newAny())
	e := flightcache.Entry[string]{Value: "v"}
	for _, bad := range []any{[]int{1}, map[int]int{}, struct{ A any }{[]byte("x")}, math.NaN()} {
		assert.NotPanics(t, func() {
			_, ok, _ := s.Get(ctx, bad)
			assert.False(t, ok)
			_ = s.Set(ctx, bad, e)
			_ = s.Delete(ctx, bad)
			_, err := s.GetMany(ctx, []any{bad, "ok"})
			if _, isFloat := bad.(float64); !isFloat {
				assert.ErrorIs(t, err, singleflight.ErrUnhashableKey, "GetMany")
			}
			_ = s.SetMany(ctx, map[any]flightcache.Entry[string]{math.NaN(): e})
		}, "%T", bad)
	}
	require.NoError(t, s.Set(ctx, "fine", e))
	got, ok, err := s.Get(ctx, "fine")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "v", got.Value)
	assert.Zero(t, tiered.ReadsInFlight(s), "nothing left behind")

	// With a key under repair, too (issue 23): the repairs never look up a
	// key Go cannot hash.
	down := tiered.New[any, string](newAny(), refusing{newAny()})
	defer down.Close()
	assert.Error(t, down.Set(ctx, "k", e))
	assert.Equal(t, 1, down.PendingRepairs())
	for _, bad := range []any{[]int{1}, math.NaN()} {
		assert.NotPanics(t, func() {
			_, _, _ = down.Get(ctx, bad)
			_, _ = down.GetMany(ctx, []any{bad})
			_ = down.Set(ctx, bad, e)
		}, "%T", bad)
	}
}

// refusing is a shared tier that refuses every write.
type refusing struct{ *lrustore.Store[any, string] }

func (refusing) Set(context.Context, any, flightcache.Entry[string]) error {
	return errors.New("refused")
}
func (refusing) Delete(context.Context, any) error { return errors.New("refused") }

func TestANilTierIsAnErrorThatNamesIt(t *testing.T) {
	ctx := context.Background()
	var nilLRU *lrustore.Store[string, string]
	for name, s := range map[string]tiered.Store[string, string]{
		"local":  tiered.New[string, string](nil, newLRU[string](t)),
		"shared": tiered.New[string, string](newLRU[string](t), nilLRU),
	} {
		assert.NotPanics(t, func() {
			_, _, err := s.Get(ctx, "k")
			assert.ErrorContains(t, err, name+" tier is nil")
			assert.ErrorContains(t, s.Set(ctx, "k", flightcache.Entry[string]{}), name)
			assert.ErrorContains(t, s.Delete(ctx, "k"), name)
			_, err = s.GetMany(ctx, []string{"k"})
			assert.ErrorContains(t, err, name)
		}, name)
	}
}
