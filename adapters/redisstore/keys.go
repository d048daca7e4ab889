package redisstore

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// The Redis keys a Store builds.
//
// Every key a Store writes is
//
//	escape(Prefix) "{k" escape(Key(key)) "}" kind
//
// where kind is one byte: 'v' for the entry, 'l' for the lease, 'n' for the
// version (see fence.go), and escape writes '\' as "\\", '{' as "\[" and
// '}' as "\]". The invalidation channel is escape(Prefix) "{}invalidate".
//
// So the layout is unambiguous for every prefix and every key: the escaped
// prefix holds no '{', so the first '{' ends it; the escaped key holds no
// '}', so the first '}' after it ends the key; one byte of kind follows. No
// user key can name another key's lease, and no prefix can reach into
// another prefix's keys. And a key's entry, lease and version share their
// Redis Cluster hash slot: Redis hashes only the text between the first '{'
// and the next '}' ("k" and the escaped key, never empty), which is the same
// for all three. A prefix without '\', '{' and '}' appears in the keys unchanged.
//
// Issue 13: the old layout (prefix + key, lease at key + "\x00lease") let
// the user key "x\x00lease" overwrite the lease of "x".

// Kinds of key.
const (
	kindEntry = 'v'
	kindLease = 'l'
)

var escaper = strings.NewReplacer(`\`, `\\`, "{", `\[`, "}", `\]`)

// escape makes s free of '{' and '}', reversibly.
func escape(s string) string { return escaper.Replace(s) }

// redisKeyOf builds the Redis key of kind for the string form of a key.
func redisKeyOf(escPrefix, key string, kind byte) string {
	var b strings.Builder
	esc := escape(key)
	b.Grow(len(escPrefix) + len(esc) + 4)
	b.WriteString(escPrefix)
	b.WriteString("{k")
	b.WriteString(esc)
	b.WriteByte('}')
	b.WriteByte(kind)
	return b.String()
}

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
