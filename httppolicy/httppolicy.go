// Package httppolicy turns the caching headers of an HTTP response into the
// [flightcache.EntryPolicy] of the entry a load builds from it, so that a
// Loader in front of an HTTP upstream keeps each response as long as the
// upstream said, and no longer: Cache-Control (RFC 9111, section 5.2),
// Expires and Age (RFC 9111, sections 5.3 and 5.1), and the
// stale-while-revalidate and stale-if-error extensions (RFC 5861).
//
// A LoadFunc calls it with the response it got and hands the result to
// [flightcache.SetPolicy]:
//
//	resp, err := http.DefaultClient.Do(req)
//	...
//	_ = flightcache.SetPolicy(ctx, url, httppolicy.Policy(resp.Header, time.Now(), httppolicy.Options{}))
//
// The Loader's Options.Jitter applies on top of the policy, by up to ± its
// fraction: leave it at 0 for a Loader whose entries follow HTTP
// freshness, or it serves some responses past their max-age. (Its
// Options.EarlyRefresh only ever refreshes before, and is harmless.)
//
// The cache is a shared one by default (RFC 9111, section 1: a cache that
// stores responses for more than one user), as a Loader in a server is;
// set [Options.Private] for a cache that serves one user.
//
// The directives are parsed with github.com/pquerna/cachecontrol's
// cacheobject.ParseResponseCacheControl, one directive at a time, so that a
// malformed directive costs only itself (that parser fails a whole header
// on one bad directive, which would lose a no-store beside it) and so that
// a directive given twice with different values is seen (that parser keeps
// the last one; RFC 9111, section 4.2.1, asks for the first or for
// treating the response as stale).
package httppolicy

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/cachecontrol/cacheobject"

	"github.com/flightcache/flightcache"
)

// maxDelta is the greatest delta-seconds value, and the greatest lifetime
// or age computed from dates: RFC 9111, section 1.2.2, has a cache take a
// larger value, or a calculation that overflows, as 2^31 seconds "or the
// greatest positive integer it can conveniently represent"; cacheobject
// stops at 2^31 − 1, and so does Policy everywhere.
const maxDelta = math.MaxInt32 * time.Second

// Options says what kind of cache the policy is for. Its zero value is a
// shared cache that treats a response with no explicit freshness as stale
// at once. Options is a plain value: safe to share between goroutines.
type Options struct {
	// Private makes the policy that of a private cache, one that serves a
	// single user (RFC 9111, section 3.5): a response marked private is
	// stored (section 5.2.2.7), and s-maxage and proxy-revalidate, which
	// speak to shared caches only, are ignored (sections 5.2.2.10 and
	// 5.2.2.8). False, the default, is a shared cache: a private response
	// gets NoStore, and s-maxage wins over max-age and Expires.
	Private bool

	// DefaultFreshFor is the freshness lifetime of a response that carries
	// no explicit one (no s-maxage for a shared cache, no max-age, no
	// Expires): the heuristic freshness that RFC 9111, section 4.2.2,
	// lets a cache choose. Its current age is subtracted from it like
	// from any other lifetime, except from [flightcache.Forever]. The
	// default, 0, makes such a response stale at once: it is never served
	// without a new load, which may revalidate it (see
	// [flightcache.Previous]); a negative value counts as 0. Choose it
	// only for upstreams whose responses you know: section 4.2.2 suggests
	// at most 10% of the time since Last-Modified.
	DefaultFreshFor time.Duration
}

// Policy returns the policy of the entry built from an HTTP response whose
// header is h, received at now (the response_time of RFC 9111,
// section 4.2.3; a load passes time.Now()). It never panics and never
// returns a negative duration, whatever h holds; a nil h is a response
// without headers.
//
//   - NoStore: Cache-Control no-store (RFC 9111, section 5.2.2.5); private
//     for a shared cache (section 5.2.2.7), including private with field
//     names, since a Loader cannot store a response without some of its
//     fields; Vary: * (section 4.1: such a response never matches a later
//     request). All durations are then 0.
//   - FreshFor: the freshness lifetime (section 4.2.1): s-maxage for a
//     shared cache, else max-age, else Expires minus Date (Date defaulting
//     to now; an invalid Expires, such as "0", is in the past, section
//     5.3), else [Options.DefaultFreshFor]; less the response's current
//     age, max(Age, now − Date) (section 4.2.3), floored at 0. no-cache,
//     with or without field names, makes it 0 (section 5.2.2.4): the entry
//     is never served without a new load, which may revalidate it.
//   - StaleFor: stale-while-revalidate (RFC 5861, section 3), less the
//     time the response has already spent stale when its age exceeds its
//     lifetime.
//   - StaleIfError: stale-if-error (RFC 5861, section 4), counted the same
//     way.
//   - MissingFor: FreshFor, so that a load that maps a 404 to
//     [flightcache.ErrNotFound] caches that answer as long as the response
//     said.
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
// directives are ignored (RFC 9111, section 5.2.3). An Age that is not a
// non-negative integer is ignored, and of a list only the first member is
// read (section 5.1). Pragma is ignored (section 5.4).
//
// For a 304 Not Modified, pass the 304's header: its server sends the
// Cache-Control and Expires it would have sent with a 200 (RFC 9110,
// section 15.4.5), and they replace the stored ones (RFC 9111, section
// 4.3.4). A load that must cope with servers that leave them out keeps
// the 200's header in its value and passes that instead.
//
// Policy does not look at the status code: the LoadFunc decides which
// responses become values, which become ErrNotFound, and which are errors.
// Nor at Vary beyond "*": a key must already tell apart the requests whose
// responses differ.
func Policy(h http.Header, now time.Time, o Options) flightcache.EntryPolicy {
	d := parseDirectives(h.Values("Cache-Control"))
	if d.noStore || (d.private && !o.Private) || varyStar(h) {
		return flightcache.EntryPolicy{NoStore: true}
	}

	date, hasDate := parseDate(h.Get("Date"))
	if !hasDate {
		date = now
	}

	var lifetime time.Duration
	switch {
	case !o.Private && d.sMaxAge.set:
		lifetime = d.sMaxAge.v
	case d.maxAge.set:
		lifetime = d.maxAge.v
	case len(h.Values("Expires")) > 0:
		if expires, ok := parseDate(h.Get("Expires")); ok {
			lifetime = min(max(expires.Sub(date), 0), maxDelta)
		}
	default:
		lifetime = max(o.DefaultFreshFor, 0)
	}
	noStale := d.mustRevalidate || (d.proxyRevalidate && !o.Private)
	if d.noCache {
		lifetime, noStale = 0, true
	}

	age := currentAge(h, date, now)
	var p flightcache.EntryPolicy
	var over time.Duration // how long the response has been stale already
	if lifetime == flightcache.Forever {
		p.FreshFor = flightcache.Forever
	} else {
		p.FreshFor = max(lifetime-age, 0)
		over = max(age-lifetime, 0)
	}
	if !noStale {
		p.StaleFor = max(d.staleWhileRevalidate.v-over, 0)
		p.StaleIfError = max(d.staleIfError.v-over, 0)
	}
	p.MissingFor = p.FreshFor
	return p
}

// delta is a delta-seconds directive: whether it was given, and its value
// as a duration (0 when it was invalid or given twice with different
// values).
type delta struct {
	set bool
	v   time.Duration
	bad bool // invalid, or given again with another value: stays 0
}

// add records one occurrence of the directive, with value v, or ok false
// when its value was not a valid delta-seconds.
func (d *delta) add(v time.Duration, ok bool) {
	switch {
	case !ok || (d.set && d.v != v):
		d.bad, d.v = true, 0
	case !d.bad:
		d.v = v
	}
	d.set = true
}

// directives is what Policy reads of the Cache-Control header.
type directives struct {
	noStore, noCache, private          bool
	mustRevalidate, proxyRevalidate    bool
	maxAge, sMaxAge                    delta
	staleWhileRevalidate, staleIfError delta
}

// parseDirectives reads every Cache-Control line as one list, and each
// member of it on its own with cacheobject, so that a bad member spoils
// only itself.
func parseDirectives(lines []string) directives {
	var d directives
	for _, line := range lines {
		for _, member := range splitList(line) {
			d.addMember(member)
		}
	}
	return d
}

// addMember adds one directive, as "max-age=60" or "no-store", to d.
func (d *directives) addMember(member string) {
	c, err := cacheobject.ParseResponseCacheControl(member)
	if err != nil {
		// The member's value is malformed: read its name alone, at its
		// most restrictive.
		name, _, _ := strings.Cut(member, "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "no-store":
			d.noStore = true
		case "no-cache":
			d.noCache = true
		case "private":
			d.private = true
		case "must-revalidate":
			d.mustRevalidate = true
		case "proxy-revalidate":
			d.proxyRevalidate = true
		case "max-age":
			d.maxAge.add(0, false)
		case "s-maxage":
			d.sMaxAge.add(0, false)
		case "stale-while-revalidate":
			d.staleWhileRevalidate.add(0, false)
		case "stale-if-error":
			d.staleIfError.add(0, false)
		}
		return
	}
	d.noStore = d.noStore || c.NoStore
	d.noCache = d.noCache || c.NoCachePresent
	d.private = d.private || c.PrivatePresent
	d.mustRevalidate = d.mustRevalidate || c.MustRevalidate
	d.proxyRevalidate = d.proxyRevalidate || c.ProxyRevalidate
	addDelta(&d.maxAge, c.MaxAge)
	addDelta(&d.sMaxAge, c.SMaxAge)
	addDelta(&d.staleWhileRevalidate, c.StaleWhileRevalidate)
	addDelta(&d.staleIfError, c.StaleIfError)
}

// addDelta adds s to d when cacheobject parsed one (it marks an absent
// directive with -1).
func addDelta(d *delta, s cacheobject.DeltaSeconds) {
	if s < 0 {
		return
	}
	d.add(min(time.Duration(s)*time.Second, maxDelta), true)
}

// splitList splits a Cache-Control field value into its members, at the
// commas outside quoted strings (RFC 9110, sections 5.6.1 and 5.6.4),
// trimmed and without empty ones. A quote left open does not swallow the
// rest of the list: after it, every comma splits.
func splitList(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // a quoted-pair: the next byte is literal
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = appendMember(out, s[start:i])
			start = i + 1
		}
	}
	if quoted {
		for _, m := range strings.Split(s[start:], ",") {
			out = appendMember(out, m)
		}
		return out
	}
	return appendMember(out, s[start:])
}

func appendMember(out []string, m string) []string {
	if m = strings.TrimSpace(m); m != "" {
		out = append(out, m)
	}
	return out
}

// parseDate parses an HTTP date in any of the formats RFC 9110, section
// 5.6.7, requires a recipient to accept.
func parseDate(v string) (time.Time, bool) {
	t, err := http.ParseTime(strings.TrimSpace(v))
	return t, err == nil
}

// currentAge is the response's age when received (RFC 9111, section
// 4.2.3): the greater of its Age field and the time since its Date. The
// resident time is 0, since the policy starts when the entry is stored.
func currentAge(h http.Header, date, now time.Time) time.Duration {
	apparent := min(max(now.Sub(date), 0), maxDelta)
	return max(apparent, ageValue(h))
}

// ageValue is the Age field's value, or 0 when it is absent or not a
// non-negative integer; of a list, the first member counts (RFC 9111,
// section 5.1).
func ageValue(h http.Header) time.Duration {
	v := h.Get("Age")
	if v == "" {
		return 0
	}
	first, _, _ := strings.Cut(v, ",")
	n, err := strconv.ParseUint(strings.TrimSpace(first), 10, 64)
	switch {
	case err == nil && n <= math.MaxInt32:
		return time.Duration(n) * time.Second
	case err == nil, errors.Is(err, strconv.ErrRange):
		return maxDelta
	}
	return 0
}

// varyStar reports whether a Vary field lists "*".
func varyStar(h http.Header) bool {
	for _, line := range h.Values("Vary") {
		for _, m := range splitList(line) {
			if m == "*" {
				return true
			}
		}
	}
	return false
}
