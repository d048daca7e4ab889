package flightcache

import "errors"

// ErrNotFound is what a LoadFunc returns, wrapped or not, to say that the key
// does not exist at the source. With Options.MissingFor set the Loader caches
// that answer, and a read of the cached answer returns an error for which
// errors.Is(err, ErrNotFound) is true.
var ErrNotFound = errors.New("flightcache: not found")

// ErrClosed is returned by every method of a Loader after Close.
var ErrClosed = errors.New("flightcache: loader closed")
