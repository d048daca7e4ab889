package redisstore_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// wide is 512 bytes once decoded, from the two bytes "{}".
type wide struct{ Pad [64]int64 }

// countingJSON is the JSON codec, counting the values it decodes.
type countingJSON[V any] struct {
	redisstore.JSON[V]
	decoded *atomic.Int64
}

func (c countingJSON[V]) Unmarshal(data []byte, v *V) error {
	c.decoded.Add(1)
	return c.JSON.Unmarshal(data, v)
}

// TestAnEntryPastMaxEntryBytesIsAMissNotDecoded is issue 23, input 7: a
// 3,000,044-byte value with a valid envelope and the value type's
// fingerprint, JSON [{},{},...], decoded into a million 512-byte values:
// the heap went from 104 to 1,259 MiB in 1.37 s, with a nil error, so
// anyone who could write under the prefix could kill every instance. It is
// now a miss before decoding, counted and logged, for single reads, batches
// and fenced reads alike.
func TestAnEntryPastMaxEntryBytesIsAMissNotDecoded(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	var logs syncBuffer
	var decoded atomic.Int64
	s := newStore[string, []wide](t, c, &redisstore.Options[string, []wide]{
		Codec:  countingJSON[[]wide]{decoded: &decoded},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, s.Set(ctx, "good", flightcache.Entry[[]wide]{Value: []wide{{}}}))
	good, err := c.Get(ctx, s.RedisKey("good")).Bytes()
	require.NoError(t, err)

	var bomb bytes.Buffer
	bomb.Write(good[:redisstore.EnvelopeHeader]) // a valid header, fingerprint included
	bomb.WriteString("[" + strings.Repeat("{},", 999_999) + "{}]")
	require.Equal(t, 3_000_001+redisstore.EnvelopeHeader, bomb.Len()) // 3,000,044 bytes in envelope version 3
	require.NoError(t, c.Set(ctx, s.RedisKey("bomb"), bomb.Bytes(), time.Minute).Err())

	_, ok, err := s.Get(ctx, "bomb")
	require.NoError(t, err)
	assert.False(t, ok)
	got, err := s.GetMany(ctx, []string{"bomb", "good"})
	require.NoError(t, err)
	assert.Len(t, got, 1)
	_, ok, _, err = s.GetVersioned(ctx, "bomb")
	require.NoError(t, err)
	assert.False(t, ok)
	entries, _, err := s.GetManyVersioned(ctx, []string{"bomb"})
	require.NoError(t, err)
	assert.Empty(t, entries)

	assert.Equal(t, int64(1), decoded.Load(), "only the good entry was decoded")
	assert.Equal(t, uint64(4), s.DecodeErrors())
	assert.Contains(t, logs.String(), "MaxEntryBytes")
	assert.Contains(t, logs.String(), fmt.Sprintf("%d bytes", bomb.Len()))
}

func TestMaxEntryBytesBoundsWritesAndCanBeLifted(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	small := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, MaxEntryBytes: 100})
	free := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, MaxEntryBytes: -1})
	long := flightcache.Entry[string]{Value: strings.Repeat("x", 200)}

	err := small.Set(ctx, "k", long)
	require.ErrorIs(t, err, redisstore.ErrTooLarge)
	require.ErrorIs(t, small.SetMany(ctx, map[string]flightcache.Entry[string]{"k": long}), redisstore.ErrTooLarge)
	_, ok, err := free.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok, "a refused write writes nothing")

	require.NoError(t, free.Set(ctx, "k", long))
	e, ok, err := free.Get(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, long.Value, e.Value)
	_, ok, err = small.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok, "a reader with a lower bound does not decode it")
	assert.Equal(t, uint64(1), small.DecodeErrors())
}
