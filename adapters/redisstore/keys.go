package redisstore

import (
	"fmt"
	"reflect"
	"strconv"
)

// builtinKey returns the key functions for K when its kind is a string or an
// integer, or false.
func builtinKey[K comparable]() (format func(K) string, parse func(string) (K, error), ok bool) {
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.String:
		return func(k K) string {
				if s, ok := any(k).(string); ok {
					return s
				}
				return reflect.ValueOf(k).String()
			}, func(s string) (K, error) {
				var k K
				reflect.ValueOf(&k).Elem().SetString(s)
				return k, nil
			}, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(k K) string {
				return strconv.FormatInt(reflect.ValueOf(k).Int(), 10)
			}, func(s string) (K, error) {
				var k K
				n, err := strconv.ParseInt(s, 10, t.Bits())
				if err != nil {
					return k, fmt.Errorf("redisstore: key %q: %w", s, err)
				}
				reflect.ValueOf(&k).Elem().SetInt(n)
				return k, nil
			}, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return func(k K) string {
				return strconv.FormatUint(reflect.ValueOf(k).Uint(), 10)
			}, func(s string) (K, error) {
				var k K
				n, err := strconv.ParseUint(s, 10, t.Bits())
				if err != nil {
					return k, fmt.Errorf("redisstore: key %q: %w", s, err)
				}
				reflect.ValueOf(&k).Elem().SetUint(n)
				return k, nil
			}, true
	}
	return nil, nil, false
}
