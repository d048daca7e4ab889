package flightcache_test

import (
	"math"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache"
)

// Bounds of the Deadline range, as instants and as Deadlines.
var (
	lastInstant  = time.Unix(0, math.MaxInt64) // 2262-04-11T23:47:16.854775807Z
	firstInstant = time.Unix(0, math.MinInt64) // 1677-09-21T00:12:43.145224192Z
)

const (
	maxD = flightcache.Deadline(math.MaxInt64)
	minD = flightcache.Deadline(math.MinInt64)
)

func TestDeadlineOf(t *testing.T) {
	for _, c := range []struct {
		name string
		in   time.Time
		want flightcache.Deadline
	}{
		{"the zero time is never", time.Time{}, 0},
		{"an instant, to the nanosecond", time.Unix(1_800_000_000, 123456789), 1_800_000_000_123_456_789},
		{"the zone does not count", time.Unix(1_800_000_000, 5).In(time.FixedZone("X", 3600)), 1_800_000_000_000_000_005},
		{"the Unix epoch is 1 ns later, not never", time.Unix(0, 0), 1},
		{"1 ns before the epoch", time.Unix(0, -1), -1},
		{"the last instant", lastInstant, maxD},
		{"1 ns past the last instant saturates", lastInstant.Add(1), maxD},
		{"the last second's end saturates", time.Unix(math.MaxInt64/int64(time.Second), 999_999_999), maxD},
		{"year 9999 saturates", time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), maxD},
		{"a MaxInt64 duration from now saturates", time.Now().Add(math.MaxInt64).Add(math.MaxInt64), maxD},
		{"the first instant", firstInstant, minD},
		{"1 ns before the first instant saturates", firstInstant.Add(-1), minD},
		{"year 1 saturates", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), minD},
		{"a MinInt64 duration back saturates", time.Now().Add(math.MinInt64).Add(math.MinInt64), minD},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, flightcache.DeadlineOf(c.in))
		})
	}
}

func TestDeadlineTime(t *testing.T) {
	assert.True(t, flightcache.Deadline(0).Time().IsZero(), "never is the zero time")
	at := time.Unix(1_800_000_000, 123456789)
	assert.True(t, at.Equal(flightcache.DeadlineOf(at).Time()))
	assert.True(t, lastInstant.Equal(maxD.Time()))
	assert.True(t, firstInstant.Equal(minD.Time()))
	for _, d := range []flightcache.Deadline{1, -1, maxD, minD, 1_800_000_000_123_456_789} {
		assert.Equal(t, d, flightcache.DeadlineOf(d.Time()), "a round trip keeps %d", int64(d))
	}
	assert.True(t, flightcache.Deadline(0).IsZero())
	assert.False(t, flightcache.Deadline(1).IsZero())
}

func TestDeadlineAdd(t *testing.T) {
	at := flightcache.DeadlineOf(time.Unix(1_800_000_000, 0))
	for _, c := range []struct {
		name string
		d    flightcache.Deadline
		x    time.Duration
		want flightcache.Deadline
	}{
		{"a minute", at, time.Minute, at + flightcache.Deadline(time.Minute)},
		{"a negative duration", at, -time.Minute, at - flightcache.Deadline(time.Minute)},
		{"nothing", at, 0, at},
		{"MaxInt64 saturates", at, math.MaxInt64, maxD},
		{"MaxInt64 from the last instant", maxD, math.MaxInt64, maxD},
		{"MaxInt64 from the first instant lands in range", minD, math.MaxInt64, -1},
		{"MinInt64 from after the epoch fits", at, math.MinInt64, at + minD},
		{"MinInt64 from before the epoch saturates", -at, math.MinInt64, minD},
		{"MinInt64 from the first instant", minD, math.MinInt64, minD},
		{"MinInt64 from the last instant lands in range", maxD, math.MinInt64, -1},
		{"-MaxInt64 from a negative instant saturates", -5, -math.MaxInt64, minD},
		{"landing on the epoch is 1 ns later", -5, 5, 1},
		{"landing on the epoch from above too", 5, -5, 1},
		{"never stays never", 0, time.Hour, 0},
		{"never stays never, MaxInt64", 0, math.MaxInt64, 0},
		{"never stays never, backwards", 0, math.MinInt64, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, c.d.Add(c.x))
		})
	}
}

func TestDeadlineSub(t *testing.T) {
	at := flightcache.DeadlineOf(time.Unix(1_800_000_000, 0))
	for _, c := range []struct {
		name string
		d, u flightcache.Deadline
		want time.Duration
	}{
		{"a minute", at + flightcache.Deadline(time.Minute), at, time.Minute},
		{"a minute back", at, at + flightcache.Deadline(time.Minute), -time.Minute},
		{"the same instant", at, at, 0},
		{"the whole range saturates", maxD, minD, math.MaxInt64},
		{"the whole range back saturates", minD, maxD, math.MinInt64},
		{"just past MaxInt64 saturates", 1, -math.MaxInt64, math.MaxInt64},
		{"just fits", 0, -math.MaxInt64, math.MaxInt64},
		{"past MinInt64 saturates", -2, math.MaxInt64, math.MinInt64},
		{"MinInt64 fits", -1, math.MaxInt64, math.MinInt64},
		{"never counts as the epoch", 0, 1, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, c.d.Sub(c.u))
		})
	}
}

// TestDeadlineOrderIsTheTimesOrder: Before, After and Equal order Deadlines
// as their times order (never, the zero time, before every instant).
func TestDeadlineOrderIsTheTimesOrder(t *testing.T) {
	ds := []flightcache.Deadline{0, minD, minD + 1, -1, 1, 2, flightcache.DeadlineOf(time.Now()), maxD - 1, maxD}
	for _, a := range ds {
		for _, b := range ds {
			ta, tb := a.Time(), b.Time()
			assert.Equal(t, ta.Before(tb), a.Before(b), "%v.Before(%v)", a, b)
			assert.Equal(t, ta.After(tb), a.After(b), "%v.After(%v)", a, b)
			assert.Equal(t, ta.Equal(tb), a.Equal(b), "%v.Equal(%v)", a, b)
		}
	}
}

func TestDeadlineString(t *testing.T) {
	assert.Equal(t, "never", flightcache.Deadline(0).String())
	assert.Equal(t, "2027-01-15T08:00:00.123456789Z", flightcache.DeadlineOf(time.Date(2027, 1, 15, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))).String())
	assert.Equal(t, "2262-04-11T23:47:16.854775807Z", maxD.String())
	assert.Equal(t, "1970-01-01T00:00:00.000000001Z", flightcache.DeadlineOf(time.Unix(0, 0)).String())
}

// TestEntryIsCompact pins Entry's layout: 64 bytes for a pointer value (a
// size class of Go's allocator; 72 would cost 80 in every cached entry),
// and no pointer but Value and Tags (nil when untagged) for the garbage
// collector to scan. It is 8 (Value) + 5×8 (FreshUntil, StaleUntil,
// ServeUntil, ExpiresAt, LoadedAt) + 8 (Tags) + 4 (LoadDuration, in
// microseconds) + 1 (Missing), padded to 64: not the 48 that three
// instants would take, because ServeUntil (KeepFor), LoadedAt (rule 14,
// and what InvalidateTag and Clear judge) and Tags are needed as well.
// With time.Time instants it was 8 + 5×24 + 8 + 8 = 144 bytes, with five
// *Location pointers.
func TestEntryIsCompact(t *testing.T) {
	assert.Equal(t, uintptr(64), unsafe.Sizeof(flightcache.Entry[*int]{}))
	assert.Equal(t, uintptr(8), unsafe.Sizeof(flightcache.Deadline(0)))
	typ := reflect.TypeFor[flightcache.Entry[*int]]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "Value" || f.Name == "Tags" {
			continue
		}
		assert.False(t, hasPointers(f.Type), "Entry.%s (%s) holds a pointer", f.Name, f.Type)
	}
	assert.Equal(t, "Missing", typ.Field(typ.NumField()-1).Name, "Missing last, so that its padding is all there is")
}

// hasPointers reports whether a value of type typ holds a pointer the
// garbage collector scans.
func hasPointers(typ reflect.Type) bool {
	switch typ.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return typ.Len() > 0 && hasPointers(typ.Elem())
	case reflect.Struct:
		for i := range typ.NumField() {
			if hasPointers(typ.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true // pointers, maps, slices, strings, interfaces, channels, funcs
}

// BenchmarkEntryCopy copies an Entry[*int], as every hit does, and reports
// its size.
func BenchmarkEntryCopy(b *testing.B) {
	v := 1
	src := []flightcache.Entry[*int]{{Value: &v, FreshUntil: flightcache.DeadlineOf(time.Now().Add(time.Minute))}}
	dst := make([]flightcache.Entry[*int], 1)
	b.ReportMetric(float64(unsafe.Sizeof(src[0])), "bytes/entry")
	for b.Loop() {
		copy(dst, src)
	}
}

// MicrosOf rounds up, so that a load that took any time took some, and
// saturates instead of wrapping (rule 12).
func TestMicrosOf(t *testing.T) {
	for d, want := range map[time.Duration]flightcache.Micros{
		-time.Second:              0,
		0:                         0,
		1:                         1,
		time.Microsecond:          1,
		time.Microsecond + 1:      2,
		1500 * time.Microsecond:   1500,
		math.MaxInt64:             math.MaxUint32,
		math.MaxUint32 * 1000:     math.MaxUint32,
		math.MaxUint32*1000 - 1:   math.MaxUint32,
		math.MaxUint32*1000 - 1e3: math.MaxUint32 - 1,
	} {
		assert.Equal(t, want, flightcache.MicrosOf(d), "%v", d)
	}
	assert.Equal(t, 1500*time.Microsecond, flightcache.Micros(1500).Duration())
	assert.Equal(t, "1.5ms", flightcache.Micros(1500).String())
}
