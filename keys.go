package flightcache

import (
	"fmt"
	"reflect"

	"github.com/flightcache/flightcache/singleflight"
)

// keysMayFail reports whether some values of K cannot be used as keys: an
// interface (which may hold a slice, a map or a func, which Go cannot hash)
// or a float (NaN does not equal itself), alone or inside an array or a
// struct. Keys of every other comparable type are always valid and cost no
// check (rule 11).
func keysMayFail[K comparable]() bool {
	return mayFail(reflect.TypeFor[K]())
}

func mayFail(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface, reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return mayFail(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if mayFail(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// checkKey returns an error wrapping ErrInvalidKey when key cannot be hashed
// (wrapping singleflight.ErrUnhashableKey too, as the adapters' errors do)
// or does not equal itself: such a key could never be found again, and
// would leave entries behind in every map it went into.
func checkKey[K comparable](key K) (err error) {
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("%w: %w", ErrInvalidKey, fmt.Errorf("%w: a key holding %T", singleflight.ErrUnhashableKey, key))
		}
	}()
	if key != key {
		return fmt.Errorf("%w: key %v does not equal itself", ErrInvalidKey, key)
	}
	return nil
}
