package tiered_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/adapters/tiered"
)

// heldShared is a shared tier whose reads can be held: a read reads, then
// signals entered and waits for release before it returns what it read.
type heldShared struct {
	*lrustore.Store[string, string]
	entered chan string
	release chan struct{}
	reads   int
}

func newHeldShared(t *testing.T) *heldShared {
	return &heldShared{Store: newLRU[string](t), entered: make(chan string, 10), release: make(chan struct{})}
}

func (h *heldShared) Get(ctx context.Context, key string) (flightcache.Entry[string], bool, error) {
	h.reads++
	e, ok, err := h.Store.Get(ctx, key)
	h.entered <- key
	<-h.release
	return e, ok, err
}

func (h *heldShared) GetMany(ctx context.Context, keys []string) (map[string]flightcache.Entry[string], error) {
	out := map[string]flightcache.Entry[string]{}
	for _, k := range keys {
		if e, ok, _ := h.Store.Get(ctx, k); ok {
			out[k] = e
		}
	}
	h.entered <- fmt.Sprint(keys)
	<-h.release
	return out, nil
}

func (h *heldShared) SetMany(ctx context.Context, entries map[string]flightcache.Entry[string]) error {
	for k, e := range entries {
		h.Store.Set(ctx, k, e)
	}
	return nil
}

// TestAReadFromTheSharedTierNeverBringsAnOldValueBack is issue 13's case
// for every change that can happen while a shared read is held: the read
// began when the shared tier held v1; the change happens and returns; the
// read then finishes. The local tier must not hold v1 afterwards.
func TestAReadFromTheSharedTierNeverBringsAnOldValueBack(t *testing.T) {
	ctx := context.Background()
	v1 := flightcache.Entry[string]{Value: "v1"}
	v2 := flightcache.Entry[string]{Value: "v2"}
	for _, c := range []struct {
		name   string
		change func(s tiered.Store[string, string])
		batch  bool
		want   string // what the local tier holds afterwards; "" for nothing
	}{
		{"Set", func(s tiered.Store[string, string]) { s.Set(ctx, "k", v2) }, false, "v2"},
		{"Delete", func(s tiered.Store[string, string]) { s.Delete(ctx, "k") }, false, ""},
		{"SetMany", func(s tiered.Store[string, string]) {
			s.SetMany(ctx, map[string]flightcache.Entry[string]{"k": v2})
		}, false, "v2"},
		{"EvictLocal", func(s tiered.Store[string, string]) { s.EvictLocal(ctx, "k") }, false, ""},
		{"ResetLocal", func(s tiered.Store[string, string]) { s.ResetLocal(ctx) }, false, ""},
		{"GetMany/Set", func(s tiered.Store[string, string]) { s.Set(ctx, "k", v2) }, true, "v2"},
		{"GetMany/Delete", func(s tiered.Store[string, string]) { s.Delete(ctx, "k") }, true, ""},
		{"GetMany/EvictLocal", func(s tiered.Store[string, string]) { s.EvictLocal(ctx, "k") }, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			local, shared := newLRU[string](t), newHeldShared(t)
			require.NoError(t, shared.Store.Set(ctx, "k", v1))
			s := tiered.New[string, string](local, shared)

			read := make(chan string)
			go func() {
				if c.batch {
					got, err := s.GetMany(ctx, []string{"k"})
					assert.NoError(t, err)
					read <- got["k"].Value
					return
				}
				e, _, err := s.Get(ctx, "k")
				assert.NoError(t, err)
				read <- e.Value
			}()
			<-shared.entered // the read has begun, before the change
			c.change(s)
			close(shared.release)
			<-read
			e, ok, err := local.Get(ctx, "k")
			require.NoError(t, err)
			if c.want == "" {
				assert.False(t, ok, "the local tier holds %q, read before the change", e.Value)
			} else {
				require.True(t, ok)
				assert.Equal(t, c.want, e.Value, "the local tier holds the value read before the change")
			}
		})
	}
}

func TestAnUnchangedReadIsCopiedAndLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	local, shared := newLRU[string](t), newHeldShared(t)
	close(shared.release)
	require.NoError(t, shared.Store.Set(ctx, "k", flightcache.Entry[string]{Value: "v1"}))
	s := tiered.New[string, string](local, shared)
	_, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	<-shared.entered
	_, ok, _ = local.Get(ctx, "k")
	assert.True(t, ok, "a read nothing raced with is copied")
	assert.Zero(t, tiered.ReadsInFlight(s), "no generation is kept once no read is in flight")
}

// leasingHeld is a heldShared that is a flightcache.Leaser.
type leasingHeld struct{ *heldShared }

func (leasingHeld) Lease(context.Context, string) (func(), error) { return func() {}, nil }

func TestAStaleLocalCopyDoesNotHideANewerSharedOneFromAFill(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	old := flightcache.Entry[string]{Value: "old", FreshUntil: flightcache.DeadlineOf(now.Add(-time.Second)), ExpiresAt: flightcache.DeadlineOf(now.Add(time.Hour))}
	fresh := flightcache.Entry[string]{Value: "new", FreshUntil: flightcache.DeadlineOf(now.Add(time.Minute)), ExpiresAt: flightcache.DeadlineOf(now.Add(time.Hour))}
	local, shared := newLRU[string](t), newHeldShared(t)
	close(shared.release)
	s := tiered.New[string, string](local, leasingHeld{shared})
	l := s.(flightcache.Leaser[string, string])

	require.NoError(t, local.Set(ctx, "k", old))
	require.NoError(t, shared.Store.Set(ctx, "k", fresh))
	e, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "old", e.Value, "Get answers from the local tier, for the Loader to judge")
	assert.Zero(t, shared.reads, "and reads no clock and no shared tier")

	// The Loader found it stale: it leases, then looks again.
	release, err := l.Lease(ctx, "k")
	require.NoError(t, err)
	release()
	e, _, _ = s.Get(ctx, "k")
	assert.Equal(t, "new", e.Value, "another instance reloaded the key: after the lease, the newer shared copy")
	e, _, _ = local.Get(ctx, "k")
	assert.Equal(t, "new", e.Value, "which replaced the stale local copy")

	reads := shared.reads
	_, err = l.Lease(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, reads, shared.reads, "a fresh local copy costs a lease no shared read")

	require.NoError(t, local.Set(ctx, "j", old))
	require.NoError(t, shared.Store.Set(ctx, "j", old))
	_, err = l.Lease(ctx, "j")
	require.NoError(t, err)
	e, _, _ = s.Get(ctx, "j")
	assert.Equal(t, "old", e.Value, "the same entry in both tiers: the local copy, stale, for the Loader to judge")

	require.NoError(t, local.Set(ctx, "k", old))
	require.NoError(t, local.Set(ctx, "m", old))
	got, err := s.GetMany(ctx, []string{"k", "j", "m"})
	require.NoError(t, err)
	assert.Equal(t, "new", got["k"].Value, "GetMany, which takes no leases, prefers the newer copy itself")
	assert.Equal(t, "old", got["m"].Value, "no shared copy: the stale local one")
}
