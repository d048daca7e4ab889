package redisstore

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// TestEnvelopeLayout pins the bytes of the envelope to the layout codec.go
// documents, so that a change to it cannot ship without a new version.
func TestEnvelopeLayout(t *testing.T) {
	e := flightcache.Entry[string]{
		Value:        "v",
		FreshUntil:   flightcache.Deadline(0x0102030405060708),
		StaleUntil:   flightcache.Deadline(0x1112131415161718),
		ExpiresAt:    flightcache.Deadline(0x2122232425262728),
		LoadDuration: 0x31323334, // µs, kept as nanoseconds
		ServeUntil:   flightcache.Deadline(0x5152535455565758),
		LoadedAt:     flightcache.Deadline(0x6162636465666768),
	}
	b, err := encodeEntry(JSON[string]{}, fingerprint{0x4142434445464748, true}, e)
	require.NoError(t, err)
	want := []byte{
		0xFC, 5, flagFreshUntil | flagStaleUntil | flagExpiresAt | flagFingerprint | flagServeUntil | flagLoadedAt,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // FreshUntil
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // StaleUntil
		0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, // ExpiresAt
		0x00, 0x00, 0x00, 0xC0, 0x2C, 0x18, 0x03, 0x20, // LoadDuration, 0x31323334 µs in ns
		0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, // fingerprint
		0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, // ServeUntil
		0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, // LoadedAt
		'"', 'v', '"',
	}
	assert.Equal(t, want, b)
	assert.Equal(t, byte(0b111_1110), want[2], "flags: FreshUntil 1<<1, ExpiresAt 1<<2, fingerprint 1<<3, StaleUntil 1<<4, ServeUntil 1<<5, LoadedAt 1<<6")

	// With tags: flag 1<<7, and after the header their count and each
	// name's length and bytes, as uvarints, in increasing order.
	e.Tags = mustTags(t, "bc", "a", strings.Repeat("x", 200))
	b, err = encodeEntry(JSON[string]{}, fingerprint{0x4142434445464748, true}, e)
	require.NoError(t, err)
	tagged := append([]byte{}, want[:EnvelopeHeaderForTest]...)
	tagged[2] |= 1 << 7
	tagged = append(tagged, 3, 1, 'a', 2, 'b', 'c', 0xC8, 0x01)
	tagged = append(tagged, strings.Repeat("x", 200)...)
	tagged = append(tagged, '"', 'v', '"')
	assert.Equal(t, tagged, b)
}

// EnvelopeHeaderForTest is the header's length, for the layout test.
const EnvelopeHeaderForTest = envelopeHeader

func mustTags(t *testing.T, names ...string) *flightcache.Tags {
	t.Helper()
	tags, err := flightcache.NewTags(names...)
	require.NoError(t, err)
	return tags
}

// TestEnvelopeKeepsTags: tags survive the trip by name, positive and
// negative entries alike, up to MaxTags names of up to MaxTagLen bytes of
// any kind; an untagged entry comes back with nil Tags and costs no byte.
func TestEnvelopeKeepsTags(t *testing.T) {
	most := []string{strings.Repeat("t", flightcache.MaxTagLen), " ", "a b", "\x00", "ключ", "\xff"}
	for i := len(most); i < flightcache.MaxTags; i++ {
		most = append(most, "tag-"+strconv.Itoa(i))
	}
	untagged, err := encodeEntry(JSON[string]{}, fingerprint{7, true}, flightcache.Entry[string]{Value: "v"})
	require.NoError(t, err)
	assert.Len(t, untagged, envelopeHeader+3, "an untagged entry: the header and the codec's bytes")
	for _, names := range [][]string{nil, {"one"}, {"b", "a", "b"}, most} {
		for _, missing := range []bool{false, true} {
			in := flightcache.Entry[string]{Value: "v", Tags: mustTags(t, names...), LoadedAt: 5}
			if missing {
				in.Value, in.Missing = "", true
			}
			b, err := encodeEntry(JSON[string]{}, fingerprint{7, true}, in)
			require.NoError(t, err)
			out, err := decodeEntry(JSON[string]{}, fingerprint{7, true}, b)
			require.NoError(t, err, "%d tags, missing %t", len(names), missing)
			assert.Equal(t, slices.Collect(in.Tags.All()), slices.Collect(out.Tags.All()), "%d tags, missing %t", len(names), missing)
			assert.Equal(t, in.Value, out.Value)
			assert.Equal(t, in.Missing, out.Missing)
			if len(names) == 0 {
				assert.Nil(t, out.Tags)
			}
		}
	}
}

// TestBadTagsAreUndecodable: a tags section that is cut short, or holds a
// list flightcache.NewTags refuses, makes the entry undecodable, never an
// entry with fewer tags (which an InvalidateTag of the lost ones would
// miss).
func TestBadTagsAreUndecodable(t *testing.T) {
	header := func(missing bool) []byte {
		b, err := encodeEntry(JSON[string]{}, fingerprint{}, flightcache.Entry[string]{Missing: missing})
		require.NoError(t, err)
		b[2] |= flagTags
		return b[:envelopeHeader]
	}
	long := binary.AppendUvarint([]byte{1}, flightcache.MaxTagLen+1)
	long = append(long, strings.Repeat("x", flightcache.MaxTagLen+1)...)
	tooMany := binary.AppendUvarint(nil, flightcache.MaxTags+1)
	for i := range flightcache.MaxTags + 1 {
		tooMany = append(tooMany, 2, 'a', byte('0'+i%10))
	}
	for _, c := range []struct {
		name    string
		section []byte
		missing bool
	}{
		{"no section", nil, true},
		{"a count of 0", []byte{0}, true},
		{"more than MaxTags", tooMany, true},
		{"a name cut short", []byte{2, 1, 'a', 5, 'b'}, true},
		{"a count past the names", []byte{3, 1, 'a', 1, 'b'}, true},
		{"an empty name", []byte{1, 0}, true},
		{"a name longer than MaxTagLen", long, true},
		{"a negative entry with bytes after its tags", []byte{1, 1, 'a', '"', 'v', '"'}, true},
		{"a length past the end", []byte{1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 'a'}, false},
	} {
		b := append(header(c.missing), c.section...)
		_, err := decodeEntry(JSON[string]{}, fingerprint{}, b)
		assert.Error(t, err, c.name)
	}
}

// TestEnvelopeKeepsEveryTimeApart: each of the three times survives the
// trip whichever of the others are set, and a zero one stays zero.
func TestEnvelopeKeepsEveryTimeApart(t *testing.T) {
	base := time.Unix(1_800_000_000, 123456789)
	for mask := range 8 {
		var e flightcache.Entry[string]
		e.Value, e.LoadDuration = "v", 42
		if mask&1 != 0 {
			e.FreshUntil = flightcache.DeadlineOf(base.Add(time.Minute + 1))
		}
		if mask&2 != 0 {
			e.StaleUntil = flightcache.DeadlineOf(base.Add(10*time.Minute + 3))
		}
		if mask&4 != 0 {
			e.ExpiresAt = flightcache.DeadlineOf(base.Add(time.Hour + 5))
		}
		for _, missing := range []bool{false, true} {
			in := e
			if missing {
				in.Value, in.Missing = "", true
			}
			b, err := encodeEntry(JSON[string]{}, fingerprint{7, true}, in)
			require.NoError(t, err)
			out, err := decodeEntry(JSON[string]{}, fingerprint{7, true}, b)
			require.NoError(t, err)
			assert.Equal(t, in.Value, out.Value, "mask %03b missing %t", mask, missing)
			assert.Equal(t, in.Missing, out.Missing, "mask %03b missing %t", mask, missing)
			assert.True(t, in.FreshUntil.Equal(out.FreshUntil), "mask %03b: FreshUntil %v, want %v", mask, out.FreshUntil, in.FreshUntil)
			assert.True(t, in.StaleUntil.Equal(out.StaleUntil), "mask %03b: StaleUntil %v, want %v", mask, out.StaleUntil, in.StaleUntil)
			assert.True(t, in.ExpiresAt.Equal(out.ExpiresAt), "mask %03b: ExpiresAt %v, want %v", mask, out.ExpiresAt, in.ExpiresAt)
			assert.Equal(t, in.LoadDuration, out.LoadDuration)
		}
	}
}

// TestStaleUntilSaturates: a StaleUntil past 2262, or before 1678, is
// stored as the latest (earliest) time Unix nanoseconds hold, as FreshUntil
// and ExpiresAt are, never wrapped (DESIGN rule 12).
func TestStaleUntilSaturates(t *testing.T) {
	for _, c := range []struct {
		in   time.Time
		want int64
	}{
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{time.Now().Add(math.MaxInt64).Add(math.MaxInt64), math.MaxInt64},
		{time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC), math.MinInt64},
	} {
		b, err := encodeEntry(JSON[string]{}, fingerprint{}, flightcache.Entry[string]{StaleUntil: flightcache.DeadlineOf(c.in)})
		require.NoError(t, err)
		assert.Equal(t, c.want, int64(binary.BigEndian.Uint64(b[offStaleUntil:])), "StaleUntil %v", c.in)
		e, err := decodeEntry(JSON[string]{}, fingerprint{}, b)
		require.NoError(t, err)
		assert.Equal(t, c.want, int64(e.StaleUntil))
	}
}

// TestOtherEnvelopeVersionsAreBadEnvelopes: bytes of any version but this
// one, however sound otherwise, do not decode, and the error names the
// version.
func TestOtherEnvelopeVersionsAreBadEnvelopes(t *testing.T) {
	b, err := encodeEntry(JSON[string]{}, fingerprint{}, flightcache.Entry[string]{Value: "v"})
	require.NoError(t, err)
	for _, v := range []byte{0, 1, 2, 3, 4, 6, 255} {
		other := append([]byte{}, b...)
		other[1] = v
		_, err := decodeEntry(JSON[string]{}, fingerprint{}, other)
		require.ErrorIs(t, err, errBadEnvelope, "version %d", v)
		assert.Contains(t, err.Error(), "envelope version", "version %d", v)
	}
}

// TestASetTimeAtTheEpochIsNotNever: a time set to 0 Unix nanoseconds (the
// epoch, which a time.Time could be) decodes as the Deadline 1 ns later, as
// flightcache.DeadlineOf makes it, not as never; a clear flag is never.
func TestASetTimeAtTheEpochIsNotNever(t *testing.T) {
	b, err := encodeEntry(JSON[string]{}, fingerprint{}, flightcache.Entry[string]{Value: "v", FreshUntil: 5})
	require.NoError(t, err)
	binary.BigEndian.PutUint64(b[offFreshUntil:], 0)
	e, err := decodeEntry(JSON[string]{}, fingerprint{}, b)
	require.NoError(t, err)
	assert.Equal(t, flightcache.DeadlineOf(time.Unix(0, 0)), e.FreshUntil)
	assert.Equal(t, flightcache.Deadline(1), e.FreshUntil)
	assert.True(t, e.ExpiresAt.IsZero(), "a clear flag is never")
}
