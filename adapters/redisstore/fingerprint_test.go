package redisstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// The value type of an old release and of the new one (issue 13).
type (
	vehicleV1 struct{ ID, Name string }
	vehicleV2 struct {
		ID, DisplayName string
		VehicleType     int
	}
)

func TestAValueWrittenForAnotherShapeIsACountedLoggedMiss(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	old := newStore[string, vehicleV1](t, c, &redisstore.Options[string, vehicleV1]{Prefix: prefix})
	var logs bytes.Buffer
	current := newStore[string, vehicleV2](t, c, &redisstore.Options[string, vehicleV2]{
		Prefix: prefix, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, old.Set(ctx, "853", flightcache.Entry[vehicleV1]{Value: vehicleV1{ID: "853", Name: "Bus 853"}}))

	e, ok, err := current.Get(ctx, "853")
	require.NoError(t, err)
	assert.False(t, ok, "bytes written for another shape are a miss, not %+v", e.Value)
	assert.Zero(t, e)
	got, err := current.GetMany(ctx, []string{"853"})
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, uint64(2), current.DecodeErrors(), "each is counted")
	assert.Contains(t, logs.String(), "another value type")
	assert.Contains(t, logs.String(), current.RedisKey("853"))

	// The new release's own writes read back, and the old one now misses.
	require.NoError(t, current.Set(ctx, "853", flightcache.Entry[vehicleV2]{Value: vehicleV2{ID: "853", DisplayName: "Bus", VehicleType: 2}}))
	e, ok, err = current.Get(ctx, "853")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 2, e.Value.VehicleType)
	_, ok, err = old.Get(ctx, "853")
	require.NoError(t, err)
	assert.False(t, ok)
}

// optOut is a JSON Codec that stores no fingerprint.
type optOut[V any] struct{ redisstore.JSON[V] }

func (optOut[V]) Fingerprint() (uint64, bool) { return 0, false }

// fixed is a JSON Codec with a fingerprint of its choosing.
type fixed[V any] struct{ redisstore.JSON[V] }

func (fixed[V]) Fingerprint() (uint64, bool) { return 42, true }

func TestACodecMaySupplyOrOptOutOfTheFingerprint(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	v1 := newStore[string, vehicleV1](t, c, &redisstore.Options[string, vehicleV1]{Prefix: prefix, Codec: optOut[vehicleV1]{}})
	v2 := newStore[string, vehicleV2](t, c, &redisstore.Options[string, vehicleV2]{Prefix: prefix, Codec: optOut[vehicleV2]{}})
	require.NoError(t, v1.Set(ctx, "k", flightcache.Entry[vehicleV1]{Value: vehicleV1{ID: "1", Name: "n"}}))
	e, ok, err := v2.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok, "a Codec that opts out reads what its format can decode")
	assert.Equal(t, "1", e.Value.ID)

	f1 := newStore[string, vehicleV1](t, c, &redisstore.Options[string, vehicleV1]{Prefix: prefix, Codec: fixed[vehicleV1]{}})
	f2 := newStore[string, vehicleV2](t, c, &redisstore.Options[string, vehicleV2]{Prefix: prefix, Codec: fixed[vehicleV2]{}})
	require.NoError(t, f1.Set(ctx, "k", flightcache.Entry[vehicleV1]{Value: vehicleV1{ID: "1"}}))
	_, ok, err = f2.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ok, "the Codec's fingerprint, equal on both sides, is the one compared")
	_, ok, err = v1.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ok, "a reader without a fingerprint compares none")
	_, ok, err = newStore[string, vehicleV1](t, c, &redisstore.Options[string, vehicleV1]{Prefix: prefix}).Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok, "42 is not vehicleV1's derived fingerprint")
}

// TestAnEntryWithoutAFingerprintIsNotReadAsAnyType is issue 23, input 9:
// an entry written by a Store whose Codec declares no fingerprint was
// decoded by a Store of any value type on the prefix, so the README's
// "never a wrong value" held only among Stores with fingerprints. A reader
// with a fingerprint now finds such an entry a counted miss, single reads
// and batches alike.
func TestAnEntryWithoutAFingerprintIsNotReadAsAnyType(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	w := newStore[string, vehicleV1](t, c, &redisstore.Options[string, vehicleV1]{Prefix: prefix, Codec: optOut[vehicleV1]{}})
	r := newStore[string, vehicleV2](t, c, &redisstore.Options[string, vehicleV2]{Prefix: prefix})
	require.NoError(t, w.Set(ctx, "k", flightcache.Entry[vehicleV1]{Value: vehicleV1{ID: "1", Name: "n"}}))
	_, ok, err := r.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok)
	got, err := r.GetMany(ctx, []string{"k"})
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, uint64(2), r.DecodeErrors())
}

type renamed struct{ ID, Name string }

type tagged struct {
	ID   string `json:"id"`
	Name string
}

type tree struct {
	Value    int
	Children []*tree
}

type withTime struct {
	At time.Time
	D  time.Duration
}

func TestTypeFingerprintFollowsTheShape(t *testing.T) {
	fp := func(v any) uint64 { return redisstore.TypeFingerprint(reflect.TypeOf(v)) }
	assert.Equal(t, fp(vehicleV1{}), fp(renamed{}), "a type's name does not count")
	assert.Equal(t, fp(vehicleV1{}), fp(struct{ ID, Name string }{}))
	for name, other := range map[string]any{
		"another field":  vehicleV2{},
		"another tag":    tagged{},
		"another order":  struct{ Name, ID string }{},
		"another type":   struct{ ID, Name []byte }{},
		"a pointer":      &vehicleV1{},
		"a slice":        []vehicleV1{},
		"a map":          map[string]vehicleV1{},
		"a plain string": "",
	} {
		assert.NotEqual(t, fp(vehicleV1{}), fp(other), name)
	}
	assert.NotEqual(t, fp(0), fp(int64(0)))
	assert.NotZero(t, fp(tree{}), "a recursive type ends")
	assert.Equal(t, fp(withTime{}), fp(withTime{}))
	assert.NotEqual(t, fp(withTime{}), fp(struct {
		At string
		D  time.Duration
	}{}))
}

// TestDuringARollingDeployEachReleaseLoadsOverTheOthersEntries is
// rubygems/rubygems.org#6548: during a rolling deploy, old and new servers
// shared a cache whose entries, written with a struct of another shape,
// failed to load on the other release (a 500 per read), and, having no
// TTL, kept failing until the cache was flushed. Here Loaders of both
// releases over one prefix, with entries that never expire: each release
// finds the other's entry a miss (never an error, never a zero value),
// loads once, and its write over the other's entry lands, so that its next
// read is a hit.
func TestDuringARollingDeployEachReleaseLoadsOverTheOthersEntries(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	oldStore := newStore[string, vehicleV1](t, c, &redisstore.Options[string, vehicleV1]{Prefix: prefix})
	newStore := newStore[string, vehicleV2](t, c, &redisstore.Options[string, vehicleV2]{Prefix: prefix})
	oldLoader, err := flightcache.New[string, vehicleV1](oldStore, nil)
	require.NoError(t, err)
	defer oldLoader.Close()
	newLoader, err := flightcache.New[string, vehicleV2](newStore, nil)
	require.NoError(t, err)
	defer newLoader.Close()
	var oldLoads, newLoads int
	loadOld := func(context.Context, string) (vehicleV1, error) {
		oldLoads++
		return vehicleV1{ID: "853", Name: "Bus 853"}, nil
	}
	loadNew := func(context.Context, string) (vehicleV2, error) {
		newLoads++
		return vehicleV2{ID: "853", DisplayName: "Bus 853", VehicleType: 3}, nil
	}

	v1, err := oldLoader.GetOrLoad(ctx, "853", loadOld)
	require.NoError(t, err)
	require.Equal(t, "Bus 853", v1.Name)
	ttl, err := c.PTTL(ctx, oldStore.RedisKey("853")).Result()
	require.NoError(t, err)
	require.Negative(t, ttl, "the entry has no Redis TTL: it never expires by itself")

	for range 2 {
		v2, err := newLoader.GetOrLoad(ctx, "853", loadNew)
		require.NoError(t, err)
		assert.Equal(t, vehicleV2{ID: "853", DisplayName: "Bus 853", VehicleType: 3}, v2, "the new release never sees a value of the old shape")
	}
	assert.Equal(t, 1, newLoads, "the new release loads once, then its own entry is a hit")
	assert.Positive(t, newStore.DecodeErrors(), "the old entry was counted")

	for range 2 {
		v1, err := oldLoader.GetOrLoad(ctx, "853", loadOld)
		require.NoError(t, err)
		assert.Equal(t, "Bus 853", v1.Name)
	}
	assert.Equal(t, 2, oldLoads, "the old release, reading the new entry, loads once more, then hits")
}
