package flightcache

import (
	"fmt"

	"github.com/flightcache/flightcache/internal/keys"
)

// keysMayFail reports whether some values of K cannot be used as keys: an
// interface (which may hold a slice, a map or a func, which Go cannot hash)
// or a float (NaN does not equal itself), alone or inside an array or a
// struct. Keys of every other comparable type are always valid and cost no
// check (rule 11).
func keysMayFail[K comparable]() bool { return keys.Of[K]() != keys.Plain }

// checkKey returns an error wrapping ErrInvalidKey when key cannot be hashed
// (wrapping singleflight.ErrUnhashableKey too, as the adapters' errors do)
// or does not equal itself: such a key could never be found again, and
// would leave entries behind in every map it went into.
func checkKey[K comparable](key K) error {
	if err := keys.Hashable("flightcache", key); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	if key != key {
		return fmt.Errorf("%w: key %v does not equal itself", ErrInvalidKey, key)
	}
	return nil
}
