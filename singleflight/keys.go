package singleflight

import (
	"fmt"
	"reflect"
)

// What a key type can hold, from cheapest to check to dearest. A Group works
// it out once, on first use, and keeps it in Group.keys.
const (
	_ uint32 = iota
	// keysPlain: every value equals itself and hashes; nothing to check.
	keysPlain
	// keysFloat: a value may be a NaN, or hold one, and not equal itself.
	keysFloat
	// keysIface: a value may hold an interface, whose dynamic value may be
	// unhashable; comparing it may panic.
	keysIface
)

// keyKind returns what K can hold.
func (g *Group[K, V]) keyKind() uint32 {
	k := g.keys.Load()
	if k == 0 {
		k = classify(reflect.TypeFor[K]())
		g.keys.Store(k)
	}
	return k
}

// classify returns what values of t can hold.
func classify(t reflect.Type) uint32 {
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
		k := uint32(keysPlain)
		for i := range t.NumField() {
			k = max(k, classify(t.Field(i).Type))
		}
		return k
	default:
		return keysPlain
	}
}

// checkKey reports whether key may be listed among the calls in flight,
// which it may when it equals itself, or returns an error wrapping
// ErrUnhashableKey. It panics on nothing, and costs nothing but a load for
// key types with neither floats nor interfaces in them.
func (g *Group[K, V]) checkKey(key K) (listable bool, err error) {
	switch g.keyKind() {
	case keysPlain:
		return true, nil
	case keysFloat:
		return key == key, nil
	default:
		return checkHashable(key)
	}
}

// checkHashable compares key with itself, which panics exactly when an
// interface in it holds a value Go cannot compare, and so cannot hash.
// Comparison stops at the first field that differs, so a key holding both a
// NaN and such a value may not be caught here; it does not equal itself, so
// it never goes in the map, and nothing hashes it.
func checkHashable[K comparable](key K) (self bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			self, err = false, fmt.Errorf("%w: key of type %T (%v)", ErrUnhashableKey, key, r)
		}
	}()
	return key == key, nil
}
