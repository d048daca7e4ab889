package lrustore

import (
	"fmt"
	"hash/maphash"
	"reflect"

	"github.com/flightcache/flightcache/singleflight"
)

// What a key type can hold, worked out once per Store so that key types
// that can hold neither pay nothing on any call.
type keyKind uint8

const (
	// keysPlain: every key equals itself and hashes.
	keysPlain keyKind = iota
	// keysFloat: a key may be a NaN, or hold one, and not equal itself.
	keysFloat
	// keysIface: a key may hold an interface, whose dynamic value Go may
	// be unable to hash.
	keysIface
)

// classify returns what values of t can hold.
func classify(t reflect.Type) keyKind {
	switch t.Kind() {
	case reflect.Interface:
		return keysIface
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return keysFloat
	case reflect.Array:
		if t.Len() == 0 {
			return keysPlain
		}
		return classify(t.Elem())
	case reflect.Struct:
		k := keysPlain
		for i := range t.NumField() {
			k = max(k, classify(t.Field(i).Type))
		}
		return k
	}
	return keysPlain
}

// seed is the seed of the hashes checkHashable computes and throws away.
var seed = maphash.MakeSeed()

// checkHashable returns an error wrapping singleflight.ErrUnhashableKey when
// Go cannot hash key: when an interface in it holds a slice, a map or a func.
// It hashes key as a map would, every field of it, and recovers the panic
// that hashing raises, here, before the cache takes any lock.
func checkHashable[K comparable](key K) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("lrustore: %w: key of type %T (%v)", singleflight.ErrUnhashableKey, key, r)
		}
	}()
	_ = maphash.Comparable(seed, key)
	return nil
}
