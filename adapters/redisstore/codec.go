package redisstore

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/flightcache/flightcache"
)

// Codec turns values into bytes and back. Implementations must be safe for
// concurrent use. A Codec may also be a [Fingerprinter].
type Codec[V any] interface {
	Marshal(v V) ([]byte, error)
	Unmarshal(data []byte, v *V) error
}

// Fingerprinter is a Codec that chooses the fingerprint stored beside each
// value, instead of the one a Store derives from the shape of V (see
// [TypeFingerprint]). A Codec whose format carries its own schema
// evolution, such as Protocol Buffers, may opt out by returning ok false:
// its entries are then stored without a fingerprint, and it reads every
// entry whatever its fingerprint, trusting its format to refuse bytes of
// another type. A reader that has a fingerprint never decodes an entry
// written without one (a counted miss): nothing says it was written for
// its value type. Fingerprint is called once, by New.
type Fingerprinter interface {
	Fingerprint() (fp uint64, ok bool)
}

// JSON is the Codec that a Store uses when Options.Codec is nil: encoding/json.
type JSON[V any] struct{}

// Marshal encodes v as JSON.
func (JSON[V]) Marshal(v V) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON into v.
func (JSON[V]) Unmarshal(data []byte, v *V) error { return json.Unmarshal(data, v) }

// The envelope around a value:
//
//	magic (1 byte) | version (1) | flags (1) | FreshUntil (8) | StaleUntil (8) | ExpiresAt (8) | LoadDuration (8) | fingerprint (8) | ServeUntil (8) | LoadedAt (8) | [tags] | codec bytes
//
// Times are Unix nanoseconds, big-endian: an Entry's Deadlines as they are,
// saturated at the int64 range already (DESIGN rule 12); a flag says whether
// each is set, so that a zero Deadline (never) survives the trip; another says whether the entry has a fingerprint of its value
// type. A field whose flag is clear is written as zeros.
//
// The tags section is there only when the entry has tags (flagTags): their
// count, then each name's length and bytes, count and lengths as unsigned
// varints (encoding/binary's Uvarint), the names in the increasing order
// of flightcache.Tags. An untagged entry costs no byte more than in
// version 4. Decoded names go through flightcache.NewTags: a list it
// refuses (too many, an empty or too long name) is undecodable.
//
// Version 2 added the fingerprint (issue 13): bytes written for
// struct{ID, Name string} decoded as struct{ID, DisplayName string;
// VehicleType int} without an error, into a value with empty fields.
// Version 3 added StaleUntil, the end of the entry's stale-while-revalidate
// window (issue 14). Version 4 added ServeUntil, the end of the entry's
// serving windows (EntryPolicy.KeepFor keeps it longer, for Previous only),
// and LoadedAt, from which a revalidation re-bases its windows (issue 22).
// Version 5 added the tags (issue 26), which InvalidateTag judges entries
// by: a version 4 reader would drop them, and its entries would survive
// the invalidation of their tags.
// An entry of any other version is a miss, counted and
// logged as undecodable: during a rolling upgrade, instances of either
// version load the keys the other wrote, never misread them.
const (
	envelopeMagic   = 0xFC
	envelopeVersion = 5
	envelopeHeader  = 3 + 7*8

	// The offsets of the header's fields.
	offFreshUntil   = 3
	offStaleUntil   = offFreshUntil + 8
	offExpiresAt    = offStaleUntil + 8
	offLoadDuration = offExpiresAt + 8
	offFingerprint  = offLoadDuration + 8
	offServeUntil   = offFingerprint + 8
	offLoadedAt     = offServeUntil + 8

	flagMissing     = 1 << 0
	flagFreshUntil  = 1 << 1
	flagExpiresAt   = 1 << 2
	flagFingerprint = 1 << 3
	flagStaleUntil  = 1 << 4
	flagServeUntil  = 1 << 5
	flagLoadedAt    = 1 << 6
	flagTags        = 1 << 7
	knownFlags      = flagMissing | flagFreshUntil | flagExpiresAt | flagFingerprint | flagStaleUntil | flagServeUntil | flagLoadedAt | flagTags
)

var (
	errBadEnvelope = errors.New("redisstore: not an entry of this version")
	// errOtherType is the decode error of an entry written for a value type
	// of another shape.
	errOtherType = errors.New("redisstore: entry written for another value type")
)

// fingerprint is the value-type fingerprint a Store writes and expects;
// ok false means none.
type fingerprint struct {
	fp uint64
	ok bool
}

func encodeEntry[V any](codec Codec[V], fp fingerprint, e flightcache.Entry[V]) ([]byte, error) {
	var payload []byte
	if !e.Missing {
		var err error
		if payload, err = codec.Marshal(e.Value); err != nil {
			return nil, fmt.Errorf("redisstore: encode value: %w", err)
		}
	}
	b := make([]byte, envelopeHeader, envelopeHeader+tagsLen(e.Tags)+len(payload))
	b[0], b[1] = envelopeMagic, envelopeVersion
	if e.Missing {
		b[2] |= flagMissing
	}
	putTime(b, offFreshUntil, flagFreshUntil, e.FreshUntil)
	putTime(b, offStaleUntil, flagStaleUntil, e.StaleUntil)
	putTime(b, offExpiresAt, flagExpiresAt, e.ExpiresAt)
	putTime(b, offServeUntil, flagServeUntil, e.ServeUntil)
	putTime(b, offLoadedAt, flagLoadedAt, e.LoadedAt)
	binary.BigEndian.PutUint64(b[offLoadDuration:], uint64(e.LoadDuration.Duration()))
	if fp.ok {
		b[2] |= flagFingerprint
		binary.BigEndian.PutUint64(b[offFingerprint:], fp.fp)
	}
	if e.Tags.Len() > 0 {
		b[2] |= flagTags
		b = binary.AppendUvarint(b, uint64(e.Tags.Len()))
		for n := range e.Tags.All() {
			b = binary.AppendUvarint(b, uint64(len(n)))
			b = append(b, n...)
		}
	}
	return append(b, payload...), nil
}

// tagsLen is the length of the tags section of an entry with tags.
func tagsLen(tags *flightcache.Tags) int {
	if tags.Len() == 0 {
		return 0
	}
	n := binary.MaxVarintLen64
	for name := range tags.All() {
		n += binary.MaxVarintLen64 + len(name)
	}
	return n
}

// errBadTags is the decode error of a tags section that is cut short or
// that flightcache.NewTags refuses.
var errBadTags = errors.New("redisstore: bad tags in the envelope")

// decodeTags reads the tags section at the start of b and returns the tags
// and the bytes after it.
func decodeTags(b []byte) (*flightcache.Tags, []byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count == 0 || count > flightcache.MaxTags {
		return nil, nil, fmt.Errorf("%w: count", errBadTags)
	}
	b = b[n:]
	names := make([]string, count)
	for i := range names {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, nil, fmt.Errorf("%w: name %d cut short", errBadTags, i)
		}
		names[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	tags, err := flightcache.NewTags(names...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errBadTags, err)
	}
	return tags, b, nil
}

// putTime writes d into the header b at off and sets its flag, unless d is
// zero (never).
func putTime(b []byte, off int, flag byte, d flightcache.Deadline) {
	if d.IsZero() {
		return
	}
	b[2] |= flag
	binary.BigEndian.PutUint64(b[off:], uint64(d))
}

// getTime reads the Deadline at off in the header b: zero (never) unless its
// flag is set. A set time of 0 nanoseconds, the Unix epoch, which the
// time.Time of an earlier release could write, is 1 ns later, as
// flightcache.DeadlineOf makes it, so that it does not read as never.
func getTime(b []byte, off int, flag byte) flightcache.Deadline {
	if b[2]&flag == 0 {
		return 0
	}
	if d := flightcache.Deadline(binary.BigEndian.Uint64(b[off:])); d != 0 {
		return d
	}
	return 1
}

func decodeEntry[V any](codec Codec[V], fp fingerprint, b []byte) (flightcache.Entry[V], error) {
	var e flightcache.Entry[V]
	switch {
	case len(b) < 2 || b[0] != envelopeMagic:
		return e, errBadEnvelope
	case b[1] != envelopeVersion:
		return e, fmt.Errorf("%w (envelope version %d, want %d)", errBadEnvelope, b[1], envelopeVersion)
	case len(b) < envelopeHeader || b[2]&^knownFlags != 0:
		return e, errBadEnvelope
	}
	flags := b[2]
	switch {
	case !fp.ok:
		// A reader without a fingerprint compares none.
	case flags&flagFingerprint == 0:
		// Written by a Codec that opted out: nothing says it was written
		// for this value type (issue 23, input 9).
		return e, fmt.Errorf("%w (written without a fingerprint, want %016x)", errOtherType, fp.fp)
	default:
		if got := binary.BigEndian.Uint64(b[offFingerprint:]); got != fp.fp {
			return e, fmt.Errorf("%w (fingerprint %016x, want %016x)", errOtherType, got, fp.fp)
		}
	}
	e.FreshUntil = getTime(b, offFreshUntil, flagFreshUntil)
	e.StaleUntil = getTime(b, offStaleUntil, flagStaleUntil)
	e.ExpiresAt = getTime(b, offExpiresAt, flagExpiresAt)
	e.ServeUntil = getTime(b, offServeUntil, flagServeUntil)
	e.LoadedAt = getTime(b, offLoadedAt, flagLoadedAt)
	e.LoadDuration = flightcache.MicrosOf(time.Duration(binary.BigEndian.Uint64(b[offLoadDuration:])))
	rest := b[envelopeHeader:]
	if flags&flagTags != 0 {
		var err error
		if e.Tags, rest, err = decodeTags(rest); err != nil {
			return flightcache.Entry[V]{}, err
		}
	}
	if flags&flagMissing != 0 {
		if len(rest) != 0 {
			return flightcache.Entry[V]{}, errBadEnvelope
		}
		e.Missing = true
		return e, nil
	}
	if err := codec.Unmarshal(rest, &e.Value); err != nil {
		return flightcache.Entry[V]{}, fmt.Errorf("redisstore: decode value: %w", err)
	}
	return e, nil
}

// codecFingerprint is the fingerprint a Store over codec uses: the Codec's
// own when it is a Fingerprinter, else TypeFingerprint of V.
func codecFingerprint[V any](codec Codec[V]) fingerprint {
	if f, ok := codec.(Fingerprinter); ok {
		fp, ok := f.Fingerprint()
		return fingerprint{fp, ok}
	}
	return fingerprint{TypeFingerprint(reflect.TypeFor[V]()), true}
}

// TypeFingerprint returns a 64-bit FNV-1a hash of the shape of t: its kind
// and, recursively, its elements, keys, and its struct fields' names, tags
// and types, in order. Type names do not count, so renaming a type keeps its
// fingerprint, but adding, removing, renaming, retagging or retyping a field
// changes it. A type that marshals itself (json.Marshaler or
// encoding.TextMarshaler, such as time.Time) counts by its package path and
// name instead, since its fields are not what is encoded. It is what a Store
// stores beside each value unless its Codec is a [Fingerprinter].
func TypeFingerprint(t reflect.Type) uint64 {
	var b strings.Builder
	shape(&b, t, map[reflect.Type]int{})
	h := fnv.New64a()
	h.Write([]byte(b.String()))
	return h.Sum64()
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// shape writes a description of t to b; seen numbers the struct types being
// described, so that a recursive type ends.
func shape(b *strings.Builder, t reflect.Type, seen map[reflect.Type]int) {
	if t == nil {
		b.WriteString("nil")
		return
	}
	if t.Name() != "" && (t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)) {
		b.WriteString("named(" + t.PkgPath() + "." + t.Name() + ")")
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		b.WriteString("*")
		shape(b, t.Elem(), seen)
	case reflect.Slice:
		b.WriteString("[]")
		shape(b, t.Elem(), seen)
	case reflect.Array:
		b.WriteString("[" + strconv.Itoa(t.Len()) + "]")
		shape(b, t.Elem(), seen)
	case reflect.Map:
		b.WriteString("map[")
		shape(b, t.Key(), seen)
		b.WriteString("]")
		shape(b, t.Elem(), seen)
	case reflect.Struct:
		if n, ok := seen[t]; ok {
			b.WriteString("@" + strconv.Itoa(n))
			return
		}
		seen[t] = len(seen)
		b.WriteString("struct{")
		for i := range t.NumField() {
			f := t.Field(i)
			b.WriteString(strconv.Quote(f.Name) + " " + strconv.Quote(string(f.Tag)) + " ")
			if f.Anonymous {
				b.WriteString("embedded ")
			}
			shape(b, f.Type, seen)
			b.WriteString(";")
		}
		b.WriteString("}")
	case reflect.Interface:
		b.WriteString("interface{" + strconv.Itoa(t.NumMethod()) + "}")
	default:
		b.WriteString(t.Kind().String())
	}
}
