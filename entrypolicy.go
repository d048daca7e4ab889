package flightcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Forever is the EntryPolicy.FreshFor of an entry that never goes stale: it
// stays until the Store evicts it or it is invalidated. Its StaleFor and
// StaleIfError never apply, and are not kept: an entry has no field for a
// window that begins at no instant, so [Loader.Expire] makes such an entry
// a miss, as it does an entry with no stale window.
const Forever time.Duration = math.MaxInt64

// EntryPolicy is how long one loaded entry is served: the Options' FreshFor,
// StaleFor, StaleIfError and MissingFor, decided by the load for its own
// result, as an HTTP response's Cache-Control decides for it (RFC 9111,
// RFC 5861). A load sets it with [SetPolicy]. Options.EarlyRefresh applies
// on top, and Options.Jitter shortens FreshFor and MissingFor by up to its
// fraction but never lengthens them: the source's lifetime is a maximum, as
// max-age is. The entry keeps its windows (FreshUntil, StaleUntil,
// ExpiresAt), so a hit costs the same whatever policy built it.
//
// An entry is kept, for reads and for [Previous] alike, until its
// ExpiresAt, the end of the longer of StaleFor and StaleIfError: an entry
// with none of the three is not kept at all.
//
// Every duration means what it says: unlike Options.FreshFor, a FreshFor of
// 0 makes the entry stale as soon as it is stored (HTTP's max-age=0 or
// no-cache), and [Forever] keeps it fresh for ever. No duration may be
// negative.
type EntryPolicy struct {
	// FreshFor is how long the value is served as it is.
	FreshFor time.Duration

	// StaleFor is how long after FreshFor the value is still served while
	// a background refresh loads a new one (stale-while-revalidate).
	StaleFor time.Duration

	// StaleIfError is how long after FreshFor the value stands in for a
	// load that fails (stale-if-error).
	StaleIfError time.Duration

	// MissingFor is how long a "not found" answer is cached, when the load
	// returns ErrNotFound.
	MissingFor time.Duration

	// NoStore keeps the result out of the Store: the callers of this load
	// get it, and the Store drops what it held for the key (HTTP's
	// no-store).
	NoStore bool

	// KeepFor keeps the entry this much longer after its serving windows
	// (the end of FreshFor and of the longer of StaleFor and StaleIfError)
	// for [Previous] only: it is never served in that time, but a load of
	// the key can revalidate it (send its validators and answer
	// [ErrNotModified]) instead of downloading it whole. Varnish calls it
	// "keep". 0: the entry is not kept past its serving windows.
	KeepFor time.Duration

	// Private gives the result only to the caller whose load it was: the
	// callers that joined that load load for themselves, and, until a load
	// of the key returns a result that is not private, callers of the key
	// do not join each other's loads (Varnish's hit-for-pass). Private
	// implies NoStore. It is for answers meant for one user, such as an
	// HTTP response marked private.
	Private bool

	// Tags are the entry's tags: [Loader.InvalidateTag] of any of them
	// makes the entry a miss, on every instance of a fleet whose Store
	// carries invalidations ([InvalidationLog]). A tag is 1 to MaxTagLen
	// bytes, and an entry has at most MaxTags of them (ErrInvalidTag);
	// repeats count once. A revalidated entry (ErrNotModified) keeps its
	// previous tags unless its load sets a policy.
	Tags []string

	// tags is Tags as a set, made by validate.
	tags *Tags
}

// validate returns an error naming the first duration that is negative,
// or the first tag that cannot be used, and makes the set of p's tags.
func (p *EntryPolicy) validate() error {
	if err := firstNegative("EntryPolicy", []namedDuration{
		{"FreshFor", p.FreshFor},
		{"StaleFor", p.StaleFor},
		{"StaleIfError", p.StaleIfError},
		{"MissingFor", p.MissingFor},
		{"KeepFor", p.KeepFor},
	}); err != nil {
		return err
	}
	tags, err := NewTags(p.Tags...)
	if err != nil {
		return fmt.Errorf("flightcache: EntryPolicy.Tags: %w", err)
	}
	p.tags = tags
	return nil
}

// ErrNotModified is what a LoadFunc returns, wrapped or not, to say that the
// value of the entry it replaces (see [Previous]) is still current, as an
// HTTP server answers 304 Not Modified to a conditional request
// (RFC 9110, section 15.4.5). The Loader keeps that value, fresh again under
// the policy of this load, and its callers get it with a nil error; the
// value is not loaded, copied or decoded again. A load that answers
// ErrNotModified for a key with no previous entry fails with an error
// wrapping it. A BatchLoadFunc returns it to say that none of its keys has
// changed, and says so of one key by returning the previous value for it.
var ErrNotModified = errors.New("flightcache: not modified")

// errNotInLoad is the error of SetPolicy and Previous outside a load.
var errNotInLoad = errors.New("flightcache: not called with the context of a load of this key")

// fillKey is the context key under which a load's context holds its fill.
type fillKey struct{}

// loadHooks is what a load's context lets the load see and say of the keys
// it loads.
type loadHooks[K comparable, V any] interface {
	setPolicy(key K, p EntryPolicy) error
	previous(key K) (Entry[V], bool)
}

// policyHooks is loadHooks without the value type, which SetPolicy does not
// know.
type policyHooks[K comparable] interface {
	setPolicy(key K, p EntryPolicy) error
}

// SetPolicy sets the policy of the entry built for key from the result of
// the load whose context is ctx, in place of the Options' durations. A
// LoadFunc or a BatchLoadFunc calls it with the context it was given (or
// one derived from it), and key one of the keys of that call, before it
// returns; a later call wins. It returns an error, and changes nothing, when
// p has a negative duration, when ctx is not the context of a call loading
// key (a key of another call of the same batch, when Options.MaxBatch split
// it, is not), when key is not of the Loader's key type, and once the load
// has returned. Safe for concurrent use.
func SetPolicy[K comparable](ctx context.Context, key K, p EntryPolicy) error {
	if ctx == nil {
		return errNilContext
	}
	if err := p.validate(); err != nil {
		return err
	}
	v := ctx.Value(fillKey{})
	h, ok := v.(policyHooks[K])
	switch {
	case !ok && v != nil:
		return fmt.Errorf("flightcache: SetPolicy of key %v: a key of type %T is not of the Loader's key type", key, key)
	case !ok:
		return fmt.Errorf("flightcache: SetPolicy of key %v: %w", key, errNotInLoad)
	}
	return h.setPolicy(key, p)
}

// Previous returns the entry that the load whose context is ctx replaces for
// key: the stale, expired or refreshed entry the Store held when the load
// began, so that the load can revalidate it, sending its validators
// (an ETag in If-None-Match, a Last-Modified date in If-Modified-Since) and
// answering [ErrNotModified] when the source says it has not changed. The
// bool is false when the Store held no entry for key that had not expired
// (a cold miss), when ctx is not the context of a call loading key, or
// V is not the Loader's value type, and once the fill of key is over (a
// context the load kept reaches nothing then). Keep validators in V: the Entry
// says when the value goes stale, not when it was loaded. Safe for
// concurrent use.
//
// V must be given, as in flightcache.Previous[User](ctx, id).
func Previous[V any, K comparable](ctx context.Context, key K) (Entry[V], bool) {
	if ctx == nil {
		return Entry[V]{}, false
	}
	h, ok := ctx.Value(fillKey{}).(loadHooks[K, V])
	if !ok {
		return Entry[V]{}, false
	}
	return h.previous(key)
}
