package redisstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// version2Entry returns the bytes a Store of envelope version 2 wrote for a
// positive string value: magic | 2 | flags | FreshUntil | ExpiresAt |
// LoadDuration | fingerprint | JSON, with no StaleUntil.
func version2Entry(value string, freshUntil, expiresAt time.Time) []byte {
	const (
		flagFreshUntil  = 1 << 1
		flagExpiresAt   = 1 << 2
		flagFingerprint = 1 << 3
	)
	b := []byte{0xFC, 2, flagFreshUntil | flagExpiresAt | flagFingerprint}
	b = binary.BigEndian.AppendUint64(b, uint64(freshUntil.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(expiresAt.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(time.Millisecond))
	b = binary.BigEndian.AppendUint64(b, redisstore.TypeFingerprint(reflect.TypeFor[string]()))
	return append(b, `"`+value+`"`...)
}

// version4Entry returns the bytes a Store of envelope version 4 wrote for a
// positive string value: the header of version 5 (which adds only the tags
// section after it) and JSON. A version 4 writer knew no tags, so an entry
// of its would survive InvalidateTag of the tags its load set.
func version4Entry(value string, freshUntil, expiresAt time.Time) []byte {
	const (
		flagFreshUntil  = 1 << 1
		flagExpiresAt   = 1 << 2
		flagFingerprint = 1 << 3
		flagLoadedAt    = 1 << 6
	)
	b := []byte{0xFC, 4, flagFreshUntil | flagExpiresAt | flagFingerprint | flagLoadedAt}
	b = binary.BigEndian.AppendUint64(b, uint64(freshUntil.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, 0) // StaleUntil
	b = binary.BigEndian.AppendUint64(b, uint64(expiresAt.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(time.Millisecond))
	b = binary.BigEndian.AppendUint64(b, redisstore.TypeFingerprint(reflect.TypeFor[string]()))
	b = binary.BigEndian.AppendUint64(b, 0) // ServeUntil
	b = binary.BigEndian.AppendUint64(b, uint64(time.Now().UnixNano()))
	return append(b, `"`+value+`"`...)
}

// TestEntriesOfTheOldEnvelopeAreAMiss: an entry written by a Store of
// envelope version 2, which had no StaleUntil, or of version 4, which had
// no tags, is read by every read (Get, GetMany, GetVersioned) as a miss,
// counted and logged with its version, never misread (ExpiresAt taken for
// StaleUntil; an entry without the tags its load set); a Loader loads the
// key again and writes it in the new envelope.
func TestEntriesOfTheOldEnvelopeAreAMiss(t *testing.T) {
	require.Equal(t, 5, redisstore.EnvelopeVersion, "this test knows the layouts before version 5")
	now := time.Now()
	for version, old := range map[int][]byte{
		2: version2Entry("old", now.Add(time.Hour), now.Add(2*time.Hour)),
		4: version4Entry("old", now.Add(time.Hour), now.Add(2*time.Hour)),
	} {
		t.Run("version "+strconv.Itoa(version), func(t *testing.T) {
			oldEntryIsAMiss(t, old, version)
		})
	}
}

func oldEntryIsAMiss(t *testing.T, old []byte, version int) {
	ctx := context.Background()
	c := redistest.Client(t)
	var logs bytes.Buffer
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, c.Set(ctx, s.RedisKey("k"), old, time.Hour).Err())

	e, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok, "an entry of the old envelope is a miss")
	assert.Zero(t, e)
	got, err := s.GetMany(ctx, []string{"k"})
	require.NoError(t, err)
	assert.Empty(t, got)
	e, ok, _, err = s.GetVersioned(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Zero(t, e)
	assert.Equal(t, uint64(3), s.DecodeErrors(), "each read counts it")
	assert.Contains(t, logs.String(), "envelope version "+strconv.Itoa(version)+", want 5")

	l, err := flightcache.New[string, string](s, &flightcache.Options{FreshFor: time.Hour, StaleFor: time.Minute})
	require.NoError(t, err)
	defer l.Close()
	loads := 0
	v, err := l.GetOrLoad(ctx, "k", func(ctx context.Context, _ string) (string, error) {
		loads++
		flightcache.SetPolicy(ctx, "k", flightcache.EntryPolicy{FreshFor: time.Hour, StaleFor: time.Minute, Tags: []string{"t"}})
		return "new", nil
	})
	require.NoError(t, err)
	assert.Equal(t, "new", v)
	assert.Equal(t, 1, loads, "the old entry is not served")
	raw, err := c.Get(ctx, s.RedisKey("k")).Bytes()
	require.NoError(t, err)
	require.Greater(t, len(raw), redisstore.EnvelopeHeader)
	assert.Equal(t, byte(redisstore.EnvelopeVersion), raw[1], "rewritten in the new envelope")
	e, ok, err = s.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "new", e.Value)
	assert.False(t, e.StaleUntil.IsZero(), "the Loader's entry keeps its StaleUntil")
	assert.True(t, e.Tags.Has("t"), "and its tags")
}

// TestBadTagsInRedisAreACountedMiss: an entry whose tags section does not
// decode is a miss for every read, counted and logged, never an entry
// without its tags.
func TestBadTagsInRedisAreACountedMiss(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	var logs bytes.Buffer
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	tags, err := flightcache.NewTags("a")
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v", Tags: tags}))
	raw, err := c.Get(ctx, s.RedisKey("k")).Bytes()
	require.NoError(t, err)
	raw[redisstore.EnvelopeHeader+1] = 0 // the name's length: an empty tag
	require.NoError(t, c.Set(ctx, s.RedisKey("k"), raw, time.Hour).Err())

	_, ok, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok)
	got, err := s.GetMany(ctx, []string{"k"})
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, uint64(2), s.DecodeErrors())
	assert.Contains(t, logs.String(), "bad tags")
}
