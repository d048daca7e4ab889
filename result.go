package flightcache

import (
	"errors"
	"fmt"
)

// Served says where the value of a call came from.
type Served uint8

const (
	// ServedFresh is a fresh entry from the Store (or a cached "not
	// found" answer).
	ServedFresh Served = iota + 1
	// ServedStale is an entry past its freshness, inside its
	// stale-while-revalidate window; a background refresh of it was
	// started or was running already.
	ServedStale
	// ServedLoaded is the result of a load that the call started or
	// joined.
	ServedLoaded
	// ServedStandIn is an old value standing in for a load that failed,
	// that the failure throttle held back, or that ran past
	// Options.SoftTimeout (stale-if-error); Result.Err says which.
	ServedStandIn
)

// String returns the name of s, as "fresh".
func (s Served) String() string {
	switch s {
	case ServedFresh:
		return "fresh"
	case ServedStale:
		return "stale"
	case ServedLoaded:
		return "loaded"
	case ServedStandIn:
		return "stand-in"
	}
	return fmt.Sprintf("Served(%d)", uint8(s))
}

// Result is what [Loader.GetOrLoadResult] returns: the value, with the
// Entry it came from and how it was served.
type Result[V any] struct {
	// Entry is the entry served: its Value, and the times until which it
	// is fresh, may be served stale, and may stand in for a failed load.
	// For a value whose load set EntryPolicy.NoStore, the times are those
	// the entry would have had. The times are Deadlines: r.FreshUntil.Time()
	// is a time.Time (the zero time for never).
	Entry[V]

	// Served says where the value came from.
	Served Served

	// Err is, for a value ServedStandIn, why the load's value is not here:
	// the error of the failed load, an error wrapping ErrThrottled, or
	// ErrSoftTimeout. It is nil otherwise.
	Err error
}

// ErrSoftTimeout is the Result.Err of an old value served because its load
// ran past Options.SoftTimeout; the load goes on in the background.
var ErrSoftTimeout = errors.New("flightcache: load slower than SoftTimeout")

// ErrThrottled is wrapped by the error of a call whose key's loads are held
// back by the failure throttle (Options.FailureBackoff) after a load failed.
// The same error wraps the last load's error too, so errors.Is matches
// either.
var ErrThrottled = errors.New("flightcache: load throttled after a failure")
