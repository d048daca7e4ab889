// Package keys tells which keys Go cannot use in a map, for the packages of
// flightcache that must refuse such keys before a map, a lock or a backend
// sees them (DESIGN rule 11): the Loader and the in-memory adapters.
// (Package singleflight, which imports nothing of ours, keeps a copy.)
package keys

import (
	"fmt"
	"hash/maphash"
	"reflect"

	"github.com/flightcache/flightcache/singleflight"
)

// Kind is what the values of a key type can hold, from the cheapest to
// check to the dearest.
type Kind uint8

const (
	// Plain: every value equals itself and hashes; nothing to check.
	Plain Kind = iota
	// Float: a value may be a NaN, or hold one, and not equal itself.
	Float
	// Iface: a value may hold an interface, whose dynamic value Go may be
	// unable to hash.
	Iface
)

// Of returns what values of K can hold. Work it out once per type or per
// owner: it uses reflection.
func Of[K comparable]() Kind { return classify(reflect.TypeFor[K]()) }

func classify(t reflect.Type) Kind {
	switch t.Kind() {
	case reflect.Interface:
		return Iface
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return Float
	case reflect.Array:
		if t.Len() == 0 {
			return Plain
		}
		return classify(t.Elem())
	case reflect.Struct:
		k := Plain
		for i := range t.NumField() {
			k = max(k, classify(t.Field(i).Type))
		}
		return k
	}
	return Plain
}

// seed is the seed of the hashes Hashable computes and throws away.
var seed = maphash.MakeSeed()

// Hashable returns an error wrapping singleflight.ErrUnhashableKey, naming
// who and the key's type, when Go cannot hash key: when an interface in it
// holds a slice, a map or a func. It hashes key as a map would, every field
// of it, and recovers the panic that hashing raises.
func Hashable[K comparable](who string, key K) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %w: key of type %T (%v)", who, singleflight.ErrUnhashableKey, key, r)
		}
	}()
	_ = maphash.Comparable(seed, key)
	return nil
}
