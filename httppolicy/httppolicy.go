// Package httppolicy turns an HTTP exchange (a request and the response to
// it) into the [flightcache.EntryPolicy] of the entry a load builds from
// it, so that a Loader in front of an HTTP upstream keeps each response as
// long as the upstream said, and no longer, and shares it only as far as
// it may: RFC 9111 (Cache-Control, section 5.2; Expires, section 5.3;
// Age, section 5.1; storing, section 3; freshness, section 4.2;
// validation, section 4.3) and the stale-while-revalidate and
// stale-if-error extensions (RFC 5861).
//
// A LoadFunc calls [Exchange] with the request it sent and the response it
// got, and hands the result to [flightcache.SetPolicy]; for a 304 Not
// Modified it calls [NotModified] with the header it kept from the stored
// response, and answers [flightcache.ErrNotModified]:
//
//	resp, err := client.Do(req)
//	...
//	_ = flightcache.SetPolicy(ctx, url, httppolicy.Exchange(req, resp, time.Now(), httppolicy.Options{}))
//
// [Policy] is the older form, for a response header alone: a 200 to a GET
// without credentials.
//
// # What the key must hold
//
// A Loader shares an entry with every caller of its key, so the key must
// tell apart every request whose response may differ: the URL (with the
// method, if more than GET is loaded), the value of every request field
// the response names in Vary (a response with Vary: * is never stored),
// and the user, for any response that varies by user. [Exchange] keeps a
// response to a request with credentials (Authorization) to its own caller
// unless the response says it may be shared (public, s-maxage,
// must-revalidate: RFC 9111, section 3.5), and keeps a response marked
// private to its own caller in a shared cache ([flightcache.EntryPolicy]
// Private); but a load that sends a cookie or another per-user field, or
// that picks the user's data some other way, must put the user in the key.
//
// # Revalidation
//
// A response that carries a validator (ETag, Last-Modified) gets a
// KeepFor ([Options.KeepFor]): the Loader keeps it past its serving
// windows for [flightcache.Previous] only, so that the next load sends a
// conditional request instead of downloading it whole, whether the
// response was no-cache, max-age=0, must-revalidate or simply past its
// max-age.
//
// KeepFor and Private take effect in the root package's Loader from the
// version that implements them (DESIGN, issue 22). Before it, an entry is
// dropped at the end of its serving windows, and a Private policy acts as
// NoStore alone: the answer is not stored, but callers that joined its
// load get it too.
//
// # Jitter
//
// The Loader's Options.Jitter applies on top of the policy and only
// shortens FreshFor: leave it at 0 for entries that should live exactly
// as long as the upstream said. Options.EarlyRefresh only ever refreshes
// before, and is harmless.
//
// # Conformance
//
// The package's tests port, case by case and named by their ids, the
// groups cc-freshness, age-parse, expires-freshness, expires-parse,
// cc-parse, cc-response, stale and heuristic-freshness of the HTTP caching
// test suite (github.com/http-tests/cache-tests), played against the
// policy by a model of the Loader, and the portable cases of
// github.com/pquerna/cachecontrol's tests. Every required test of those
// groups passes (64 of 64), and every optimal one with [Options.Heuristic]
// on (34 of 34; 25 without it, the heuristic ones failing). The
// browser-only immutable tests, about a browser's reload, are left out;
// the other browser-only ones are played against a private cache. All 51
// portable cases of cachecontrol pass with [Options.Heuristic] on. Of the
// suite's "check" tests, 17 of 34 pass; those that ask a cache to serve a
// response stale without the upstream's leave, to warn, to store a
// response without the fields no-cache names, to read one of two
// different max-ages or a max-age that is not a delta-seconds ("3600.5",
// "a3600") as fresh, or to keep heuristic freshness of under 3 seconds for
// 3 seconds, fail by design (see suite_test.go).
//
// The directives are parsed with github.com/pquerna/cachecontrol's
// cacheobject.ParseResponseCacheControl, one directive at a time, so that
// a malformed directive costs only itself and so that a directive given
// twice with different values is seen.
package httppolicy

import (
	"net/http"
	"time"

	"github.com/flightcache/flightcache"
)

// DefaultKeepFor is how long a response with a validator is kept past its
// serving windows for revalidation when [Options.KeepFor] is 0.
const DefaultKeepFor = 24 * time.Hour

// MaxHeuristic caps the heuristic freshness lifetime of [Options.Heuristic]:
// 24 hours, past which RFC 7234, section 5.5.4, had a cache warn, and which
// browsers and github.com/pquerna/cachecontrol also use.
const MaxHeuristic = 24 * time.Hour

// Options says what kind of cache the policy is for. Its zero value is a
// shared cache that treats a response with no explicit freshness as stale
// at once and keeps a response with a validator [DefaultKeepFor] past its
// windows. Options is a plain value: safe to share between goroutines.
type Options struct {
	// Private makes the policy that of a private cache, one that serves a
	// single user (RFC 9111, section 3.5): a response marked private is
	// stored and shared like any other (section 5.2.2.7), a response to a
	// request with Authorization too, and s-maxage and proxy-revalidate,
	// which speak to shared caches only, are ignored (sections 5.2.2.10
	// and 5.2.2.8). False, the default, is a shared cache: a private
	// response, or one to a request with credentials that does not say it
	// may be shared, gets [flightcache.EntryPolicy] Private, and s-maxage
	// wins over max-age and Expires.
	Private bool

	// Heuristic turns on heuristic freshness (RFC 9111, section 4.2.2): a
	// response with no explicit lifetime (no s-maxage for a shared cache,
	// no max-age, no Expires) but a Last-Modified is fresh for 10% of the
	// time from Last-Modified to its Date, at most [MaxHeuristic], when
	// its status code is one RFC 9110, section 15.1, calls heuristically
	// cacheable (200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414,
	// 501) or it is marked public. Off by default: such a response is
	// stale at once (or fresh for DefaultFreshFor), and is revalidated.
	Heuristic bool

	// DefaultFreshFor is the freshness lifetime of a response that carries
	// no explicit one and no heuristic one (Heuristic off, or no usable
	// Last-Modified), for the same status codes as Heuristic: a fixed
	// heuristic freshness of RFC 9111, section 4.2.2. Its current age is
	// subtracted from it like from any other lifetime, except from
	// [flightcache.Forever]. The default, 0, makes such a response stale
	// at once; a negative value counts as 0. Choose it only for upstreams
	// whose responses you know.
	DefaultFreshFor time.Duration

	// KeepFor is how long a response that carries a validator (an ETag or
	// a Last-Modified) is kept past its serving windows for revalidation
	// ([flightcache.EntryPolicy] KeepFor): never served in that time, only
	// handed to the next load by [flightcache.Previous]. 0 means
	// [DefaultKeepFor]; a negative value keeps nothing.
	KeepFor time.Duration
}

// keepFor is the KeepFor of a response with a validator.
func (o Options) keepFor() time.Duration {
	switch {
	case o.KeepFor < 0:
		return 0
	case o.KeepFor == 0:
		return DefaultKeepFor
	}
	return o.KeepFor
}

// Exchange returns the policy of the entry built from resp, the response
// to req, received at now (the response_time of RFC 9111, section 4.2.3; a
// load passes time.Now()). A nil req stands for resp.Request, and when
// that is nil too, for a GET without header fields; a nil resp gets
// NoStore. Exchange never panics and never returns a negative duration,
// whatever the headers hold.
//
//   - NoStore: the response's no-store (RFC 9111, section 5.2.2.5) or the
//     request's (section 5.2.1.5); Vary: * (section 4.1: such a response
//     never matches a later request); a request method other than GET and
//     HEAD, except POST with explicit freshness (RFC 9110, section 9.3.3);
//     a response that section 3 does not let a cache store: one without
//     explicit freshness, not marked public (nor private, in a private
//     cache), whose status code is not heuristically cacheable (a 500
//     without max-age, say). All durations are then 0.
//   - Private (with NoStore): for a shared cache, a response marked private
//     (section 5.2.2.7), with or without field names, and a response to a
//     request with Authorization that is not marked public, s-maxage or
//     must-revalidate (section 3.5). Its caller gets it; no other caller
//     does, not even one that joined the same load.
//   - FreshFor: the freshness lifetime (section 4.2.1): s-maxage for a
//     shared cache, else max-age, else Expires minus Date (Date defaulting
//     to now; an invalid Expires, such as "0" or a date [ParseDate]
//     refuses, is in the past, section 5.3), else the heuristic lifetime
//     of [Options.Heuristic] or [Options.DefaultFreshFor] (section
//     4.2.2); less the response's current age, max(Age, now − Date)
//     (section 4.2.3), floored at 0. no-cache, with or without field
//     names, makes it 0 (section 5.2.2.4).
//   - StaleFor: stale-while-revalidate (RFC 5861, section 3), less the
//     time the response has already spent stale when its age exceeds its
//     lifetime.
//   - StaleIfError: stale-if-error (RFC 5861, section 4), counted the same
//     way.
//   - MissingFor: FreshFor, so that a load that maps a 404 to
//     [flightcache.ErrNotFound] caches that answer as long as the response
//     said.
//   - KeepFor: [Options.KeepFor] when the response has a validator (ETag,
//     Last-Modified) and is not fresh for ever, so that it can be
//     revalidated (section 4.3.1).
//
// StaleFor and StaleIfError are 0 under no-cache, must-revalidate, and,
// for a shared cache, proxy-revalidate (RFC 9111, sections 4.2.4, 5.2.2.2
// and 5.2.2.8): those forbid serving the response stale. s-maxage implies
// proxy-revalidate for a shared cache (section 5.2.2.10), but only where
// no explicit permission says otherwise: stale-while-revalidate and
// stale-if-error beside s-maxage are honoured, as CDNs do, since RFC 9111,
// section 4.2.4, counts RFC 5861's directives as such a permission.
//
// Malformed or conflicting headers get their most restrictive reading
// (RFC 9111, section 4.2.1): a directive whose value is not a valid
// delta-seconds, or that is given twice with different values, counts as
// 0 (so an invalid max-age makes the response stale, and Expires is then
// ignored as it is beside any max-age); a no-store, must-revalidate or
// proxy-revalidate given an argument still counts; values of 2^31 seconds
// or more are taken as 2^31 − 1 seconds (section 1.2.2); quoted values are
// accepted (section 5.2); directive names are case-insensitive; several
// Cache-Control lines are one list (RFC 9110, section 5.3); unknown
// directives are ignored (RFC 9111, section 5.2.3). Date, Expires and
// Last-Modified are read with [ParseDate], and one given twice is invalid.
// An Age that is not a non-negative integer is ignored, and of a list only
// the first member is read (section 5.1). Pragma is ignored (section 5.4).
//
// Exchange leaves to the load which responses become values, which become
// [flightcache.ErrNotFound] and which are errors; it reads the status code
// only for heuristic freshness. The request's own freshness demands
// (no-cache, max-age, min-fresh) are not a policy of the entry: a Loader
// serves every caller of a key alike.
func Exchange(req *http.Request, resp *http.Response, now time.Time, o Options) flightcache.EntryPolicy {
	if resp == nil {
		return flightcache.EntryPolicy{NoStore: true}
	}
	if req == nil {
		req = resp.Request
	}
	x := exchange{status: resp.StatusCode, header: resp.Header, now: now, o: o}
	if req != nil {
		x.method, x.reqHeader = req.Method, req.Header
	}
	return x.policy()
}

// Policy returns the policy of the entry built from an HTTP response whose
// header is h, received at now: [Exchange] of a 200 answering a GET
// without credentials. It never panics; a nil h is a response without
// header fields. Use [Exchange] for a response of another status (for
// [Options.Heuristic]) or to a request with credentials, and
// [NotModified] for a 304.
func Policy(h http.Header, now time.Time, o Options) flightcache.EntryPolicy {
	x := exchange{status: http.StatusOK, header: h, now: now, o: o}
	return x.policy()
}
