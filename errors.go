package flightcache

import "errors"

// ErrNotFound is what a LoadFunc returns, wrapped or not, to say that the key
// does not exist at the source. With Options.MissingFor set the Loader caches
// that answer, and a read of the cached answer returns an error for which
// errors.Is(err, ErrNotFound) is true.
var ErrNotFound = errors.New("flightcache: not found")

// ErrClosed is returned by every method of a Loader after Close.
var ErrClosed = errors.New("flightcache: loader closed")

// ErrLoadTimeout is wrapped by the error that callers get when a load ran
// longer than Options.LoadTimeout. The same error also matches
// context.DeadlineExceeded.
var ErrLoadTimeout = errors.New("flightcache: load timed out")

// ErrInvalidKey is wrapped by the error that every method of a Loader returns
// for a key that cannot be used: one that Go cannot hash (an interface-typed
// key holding a slice, a map or a func) or that does not equal itself (a
// NaN). Such a key never reaches the Store (rule 11). The error for a key Go
// cannot hash also matches singleflight.ErrUnhashableKey, as the errors of
// the adapters and of package singleflight do.
var ErrInvalidKey = errors.New("flightcache: invalid key")

var (
	errNilStore   = errors.New("flightcache: nil Store")
	errNilLoad    = errors.New("flightcache: nil load function")
	errNilContext = errors.New("flightcache: nil context.Context")
)
