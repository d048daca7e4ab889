package flightcache

import (
	"math"
	"time"
)

// Entry is what a Store keeps for one key: the value and the instants the
// Loader needs to decide, on every read, whether the value may be served.
//
// A Store keeps an Entry exactly as it was given and hands it back unchanged;
// it never decides whether the Entry is fresh. Entry is copied on every hit, so
// it stays small: its instants are Deadlines, int64s that the garbage
// collector need not scan, where a time.Time is 24 bytes with a *Location
// pointer in it.
//
// Entry[*T] is 64 bytes, a size class of Go's allocator of its own, and
// holds no pointer but Value and Tags: 8 for Value, 40 for the five
// instants, 8 for Tags, and 8 for LoadDuration (4, in microseconds) and
// Missing (1) with their padding. It would be 48 with FreshUntil,
// StaleUntil and ExpiresAt only, but ServeUntil (the end of the serving
// windows, past which KeepFor keeps the entry for Previous only) and
// LoadedAt (from which a revalidation re-bases the windows, rule 14, and
// which tag invalidations and Clear are judged against) cannot be derived
// from the others. An untagged entry's Tags is nil, and costs nothing but
// its 8 bytes.
type Entry[V any] struct {
	// Value is the loaded value. It is the zero value when Missing is true.
	Value V

	// FreshUntil is the instant until which Value is served as it is. Zero
	// (never) means for ever.
	FreshUntil Deadline

	// StaleUntil is the end of the entry's stale-while-revalidate window:
	// from FreshUntil until then, Value is served while a background refresh
	// loads a new one. From StaleUntil to ServeUntil, Value only stands in
	// for a load that fails (stale-if-error). The Loader sets it on every
	// entry it builds; an entry without it gets the windows of the Loader's
	// Options.
	StaleUntil Deadline

	// ServeUntil is the end of the entry's serving windows (the longer of
	// stale-while-revalidate and stale-if-error): after it Value is never
	// served, and is kept until ExpiresAt only for [Previous], to be
	// revalidated (EntryPolicy.KeepFor). Zero means ExpiresAt.
	ServeUntil Deadline

	// ExpiresAt is the instant after which the entry is of no use: never
	// served, nor kept for Previous. Zero means never. Stores may use it as
	// their time to live.
	ExpiresAt Deadline

	// LoadedAt is when the load that produced Value was called (or when
	// Loader.Set stored it). A revalidation that the source answers with
	// ErrNotModified re-bases the entry's windows at the time the
	// revalidating load was called (the new entry's LoadedAt), each as long
	// as it was from the old LoadedAt (rule 14): the answer may be read at
	// any moment of the call, so its age counts from the call's start, as
	// for any load. Zero means
	// unknown: such an entry is re-based with the Options' windows, and
	// any [Loader.Clear] makes it a miss.
	LoadedAt Deadline

	// Tags are the tags the load gave the entry (EntryPolicy.Tags), nil for
	// none. [Loader.InvalidateTag] of any of them, and [Loader.Clear], make
	// the entry a miss when it was loaded (LoadedAt) at or before them,
	// wherever it is stored. A Store keeps them as it keeps the rest of the
	// Entry: in memory, the pointer; in bytes, the names (see [NewTags]).
	Tags *Tags

	// LoadDuration is how long the load that produced Value took, in
	// microseconds. The Loader uses it to refresh hot keys early.
	LoadDuration Micros

	// Missing marks a negative entry: the source said the key does not exist.
	Missing bool
}

// Micros is a duration in whole microseconds, in 32 bits: from 0 to
// 71m34.967295s, which is longer than a load runs (Options.LoadTimeout
// bounds it). It is the compact form of [Entry.LoadDuration], which with
// Missing fills 8 bytes where a time.Duration alone takes 8.
type Micros uint32

// MicrosOf returns d in microseconds, rounded up, so that a load that took
// any time at all took some: 0 for d <= 0, and the longest Micros for d
// past it.
func MicrosOf(d time.Duration) Micros {
	switch {
	case d <= 0:
		return 0
	case d >= time.Duration(math.MaxUint32)*time.Microsecond:
		return math.MaxUint32
	}
	return Micros((d + time.Microsecond - 1) / time.Microsecond)
}

// Duration returns m as a time.Duration.
func (m Micros) Duration() time.Duration { return time.Duration(m) * time.Microsecond }

// String returns m as a time.Duration prints it, as "1.5ms".
func (m Micros) String() string { return m.Duration().String() }

// Deadline is an instant as Unix nanoseconds, the compact form of the
// instants an Entry carries: 8 bytes and no pointer, where a time.Time is 24
// bytes with a *Location pointer in it. Zero means never (no deadline), so
// the zero Entry is fresh for ever.
//
// A Deadline spans the instants whose Unix nanoseconds fit an int64, from
// 1677-09-21 to 2262-04-11 (UTC). Its conversions and arithmetic saturate at
// both ends and never wrap (rule 12): an instant past 2262 is read as
// 2262-04-11, which is as good as never for a cache.
type Deadline int64

// Bounds of a Deadline's range.
const (
	maxDeadline Deadline = math.MaxInt64
	minDeadline Deadline = math.MinInt64
)

// Unix seconds bounding the times whose Unix nanoseconds fit an int64.
const (
	maxNanoSec = math.MaxInt64 / int64(time.Second)
	minNanoSec = math.MinInt64 / int64(time.Second)
)

// DeadlineOf returns t as a Deadline. The zero time is never (0); any other
// time is saturated at the Deadline range. The Unix epoch itself
// (1970-01-01T00:00:00Z), whose Deadline would read as never, is 1 ns
// later.
func DeadlineOf(t time.Time) Deadline {
	if t.IsZero() {
		return 0
	}
	s, ns := t.Unix(), int64(t.Nanosecond())
	switch {
	case s > maxNanoSec || s == maxNanoSec && ns > math.MaxInt64-maxNanoSec*int64(time.Second):
		return maxDeadline
	case s < minNanoSec:
		return minDeadline
	}
	// s*1e9 fits an int64 here, and so does adding ns: at minNanoSec it
	// only moves back into the range.
	return notNever(Deadline(s*int64(time.Second) + ns))
}

// notNever returns d, or the Deadline 1 ns past the Unix epoch when d is
// zero, which would read as never.
func notNever(d Deadline) Deadline {
	if d == 0 {
		return 1
	}
	return d
}

// Time returns d as a time.Time in the local time zone, as time.Unix does,
// and the zero time for never.
func (d Deadline) Time() time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(d))
}

// IsZero reports whether d is never, the zero Deadline.
func (d Deadline) IsZero() bool { return d == 0 }

// Add returns d+x, saturated at the Deadline range. Never plus any duration
// is never; an instant that would land on the Unix epoch, which would read
// as never, lands 1 ns later.
func (d Deadline) Add(x time.Duration) Deadline {
	if d == 0 {
		return 0
	}
	return notNever(addSat(d, x))
}

// addSat returns d+x, saturated at the Deadline range.
func addSat(d Deadline, x time.Duration) Deadline {
	switch {
	case x > 0 && d > maxDeadline-Deadline(x):
		return maxDeadline
	case x < 0 && d < minDeadline-Deadline(x):
		return minDeadline
	}
	return d + Deadline(x)
}

// Sub returns the duration d-u, saturated at the range of a Duration. It
// subtracts the Unix nanoseconds as they are: never counts as the Unix
// epoch, so check IsZero first where never may occur.
func (d Deadline) Sub(u Deadline) time.Duration {
	switch {
	case u < 0 && d > maxDeadline+u:
		return math.MaxInt64
	case u > 0 && d < minDeadline+u:
		return math.MinInt64
	}
	return time.Duration(d - u)
}

// Before reports whether the instant d is before u. Never is before every
// instant, as the zero time.Time that Time returns for it is: d.Before(u)
// is d.Time().Before(u.Time()).
func (d Deadline) Before(u Deadline) bool {
	return u.After(d)
}

// After reports whether the instant d is after u. Never is before every
// instant, as the zero time.Time that Time returns for it is: d.After(u) is
// d.Time().After(u.Time()).
func (d Deadline) After(u Deadline) bool {
	switch {
	case d == 0:
		return false
	case u == 0:
		return true
	}
	return d > u
}

// Equal reports whether d and u are the same instant, or both never.
func (d Deadline) Equal(u Deadline) bool { return d == u }

// String returns "never" for the zero Deadline, and otherwise the instant in
// UTC in RFC 3339 with nanoseconds, as "2026-01-02T15:04:05.123456789Z".
func (d Deadline) String() string {
	if d == 0 {
		return "never"
	}
	return d.Time().UTC().Format(time.RFC3339Nano)
}
