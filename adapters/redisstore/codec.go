package redisstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flightcache/flightcache"
)

// Codec turns values into bytes and back. Implementations must be safe for
// concurrent use.
type Codec[V any] interface {
	Marshal(v V) ([]byte, error)
	Unmarshal(data []byte, v *V) error
}

// JSON is the Codec that a Store uses when Options.Codec is nil: encoding/json.
type JSON[V any] struct{}

// Marshal encodes v as JSON.
func (JSON[V]) Marshal(v V) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON into v.
func (JSON[V]) Unmarshal(data []byte, v *V) error { return json.Unmarshal(data, v) }

// The envelope around a value:
//
//	magic (1 byte) | version (1) | flags (1) | FreshUntil (8) | ExpiresAt (8) | LoadDuration (8) | codec bytes
//
// Times are Unix nanoseconds, big-endian; a flag says whether each is set, so
// that the zero time survives the trip.
const (
	envelopeMagic   = 0xFC
	envelopeVersion = 1
	envelopeHeader  = 3 + 3*8

	flagMissing    = 1 << 0
	flagFreshUntil = 1 << 1
	flagExpiresAt  = 1 << 2
)

var errBadEnvelope = errors.New("redisstore: not an entry of this version")

func encodeEntry[V any](codec Codec[V], e flightcache.Entry[V]) ([]byte, error) {
	var payload []byte
	if !e.Missing {
		var err error
		if payload, err = codec.Marshal(e.Value); err != nil {
			return nil, fmt.Errorf("redisstore: encode value: %w", err)
		}
	}
	b := make([]byte, envelopeHeader, envelopeHeader+len(payload))
	b[0], b[1] = envelopeMagic, envelopeVersion
	if e.Missing {
		b[2] |= flagMissing
	}
	if !e.FreshUntil.IsZero() {
		b[2] |= flagFreshUntil
		binary.BigEndian.PutUint64(b[3:], uint64(e.FreshUntil.UnixNano()))
	}
	if !e.ExpiresAt.IsZero() {
		b[2] |= flagExpiresAt
		binary.BigEndian.PutUint64(b[11:], uint64(e.ExpiresAt.UnixNano()))
	}
	binary.BigEndian.PutUint64(b[19:], uint64(e.LoadDuration))
	return append(b, payload...), nil
}

func decodeEntry[V any](codec Codec[V], b []byte) (flightcache.Entry[V], error) {
	var e flightcache.Entry[V]
	if len(b) < envelopeHeader || b[0] != envelopeMagic || b[1] != envelopeVersion || b[2]&^(flagMissing|flagFreshUntil|flagExpiresAt) != 0 {
		return e, errBadEnvelope
	}
	flags := b[2]
	if flags&flagFreshUntil != 0 {
		e.FreshUntil = time.Unix(0, int64(binary.BigEndian.Uint64(b[3:])))
	}
	if flags&flagExpiresAt != 0 {
		e.ExpiresAt = time.Unix(0, int64(binary.BigEndian.Uint64(b[11:])))
	}
	e.LoadDuration = time.Duration(binary.BigEndian.Uint64(b[19:]))
	if flags&flagMissing != 0 {
		if len(b) != envelopeHeader {
			return e, errBadEnvelope
		}
		e.Missing = true
		return e, nil
	}
	if err := codec.Unmarshal(b[envelopeHeader:], &e.Value); err != nil {
		return flightcache.Entry[V]{}, fmt.Errorf("redisstore: decode value: %w", err)
	}
	return e, nil
}
