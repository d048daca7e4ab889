package flightcache

import "time"

// Entry is what a Store keeps for one key: the value and the timestamps the
// Loader needs to decide, on every read, whether the value may be served.
//
// A Store keeps an Entry exactly as it was given and hands it back unchanged;
// it never decides whether the Entry is fresh. Entry is copied on every hit, so
// it stays small.
type Entry[V any] struct {
	// Value is the loaded value. It is the zero value when Missing is true.
	Value V

	// Missing marks a negative entry: the source said the key does not exist.
	Missing bool

	// FreshUntil is the time until which Value is served as it is. The zero
	// time means for ever.
	FreshUntil time.Time

	// StaleUntil is the end of the entry's stale-while-revalidate window:
	// from FreshUntil until then, Value is served while a background refresh
	// loads a new one. From StaleUntil to ServeUntil, Value only stands in
	// for a load that fails (stale-if-error). The Loader sets it on every
	// entry it builds; an entry without it gets the windows of the Loader's
	// Options.
	StaleUntil time.Time

	// ServeUntil is the end of the entry's serving windows (the longer of
	// stale-while-revalidate and stale-if-error): after it Value is never
	// served, and is kept until ExpiresAt only for [Previous], to be
	// revalidated (EntryPolicy.KeepFor). The zero time means ExpiresAt.
	ServeUntil time.Time

	// ExpiresAt is the time after which the entry is of no use: never
	// served, nor kept for Previous. The zero time means never. Stores may
	// use it as their time to live.
	ExpiresAt time.Time

	// LoadedAt is when the load that produced Value returned (or when
	// Loader.Set stored it). A revalidation that the source answers with
	// ErrNotModified re-bases the entry's windows at the time of that
	// answer, each as long as it was from LoadedAt (rule 14). The zero time
	// means unknown: such an entry is re-based with the Options' windows.
	LoadedAt time.Time

	// LoadDuration is how long the load that produced Value took. The Loader
	// uses it to refresh hot keys early.
	LoadDuration time.Duration
}
