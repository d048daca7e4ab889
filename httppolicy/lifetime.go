package httppolicy

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flightcache/flightcache"
)

// maxDelta is the greatest delta-seconds value, and the greatest lifetime
// or age computed from dates: RFC 9111, section 1.2.2, has a cache take a
// larger value, or a calculation that overflows, as 2^31 seconds "or the
// greatest positive integer it can conveniently represent"; cacheobject
// stops at 2^31 − 1, and so does this package everywhere.
const maxDelta = math.MaxInt32 * time.Second

// exchange is a request and its response, as the policy reads them.
type exchange struct {
	method    string      // the request's method; "" is GET
	reqHeader http.Header // the request's header; nil for none
	status    int         // the response's status code
	header    http.Header // the response's header
	now       time.Time   // when the response was received
	o         Options
}

// policy is the EntryPolicy of the exchange: see [Exchange].
func (x *exchange) policy() flightcache.EntryPolicy {
	d := parseDirectives(x.header.Values("Cache-Control"))
	shared := !x.o.Private
	switch {
	case d.noStore, requestNoStore(x.reqHeader.Values("Cache-Control")), varyStar(x.header):
		return flightcache.EntryPolicy{NoStore: true}
	case x.forOneUser(&d):
		return flightcache.EntryPolicy{NoStore: true, Private: true}
	}

	date, hasDate, _ := singleDate(x.header, "Date", x.now)
	if !hasDate {
		date = x.now
	}
	lifetime, explicit := x.lifetime(&d, date)
	if !methodCacheable(x.method, explicit) || !x.storable(&d, explicit) {
		return flightcache.EntryPolicy{NoStore: true}
	}
	noStale := d.mustRevalidate || (d.proxyRevalidate && shared)
	if d.noCache {
		lifetime, noStale = 0, true
	}

	age := currentAge(x.header, date, x.now)
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
	if p.FreshFor != flightcache.Forever && x.hasValidator() {
		p.KeepFor = x.o.keepFor()
	}
	return p
}

// lifetime is the response's freshness lifetime (RFC 9111, section
// 4.2.1), and whether it was explicit: s-maxage for a shared cache, else
// max-age, else Expires minus Date; else, for a status code that is
// heuristically cacheable or a response marked public, the heuristic
// lifetime or Options.DefaultFreshFor (section 4.2.2); else 0.
func (x *exchange) lifetime(d *directives, date time.Time) (lifetime time.Duration, explicit bool) {
	switch {
	case !x.o.Private && d.sMaxAge.set:
		return d.sMaxAge.v, true
	case d.maxAge.set:
		return d.maxAge.v, true
	}
	if expires, ok, present := singleDate(x.header, "Expires", x.now); present {
		if !ok {
			return 0, true // an invalid Expires is in the past (section 5.3)
		}
		return min(max(expires.Sub(date), 0), maxDelta), true
	}
	if !heuristicStatus(x.status) && !d.public {
		return 0, false
	}
	if x.o.Heuristic {
		if lm, ok, _ := singleDate(x.header, "Last-Modified", x.now); ok && lm.Before(date) {
			return min(date.Sub(lm)/10, MaxHeuristic), false
		}
	}
	return max(x.o.DefaultFreshFor, 0), false
}

// storable reports whether RFC 9111, section 3, lets a cache store the
// response as far as its freshness goes: it has an explicit lifetime, or
// is marked public, or private in a private cache, or its status code is
// heuristically cacheable.
func (x *exchange) storable(d *directives, explicit bool) bool {
	return explicit || d.public || (d.private && x.o.Private) || heuristicStatus(x.status)
}

// forOneUser reports whether a shared cache must give the response to its
// own caller only: it is marked private (RFC 9111, section 5.2.2.7), or it
// answers a request with credentials and says nothing that lets a shared
// cache share it (public, s-maxage, must-revalidate: section 3.5).
func (x *exchange) forOneUser(d *directives) bool {
	if x.o.Private {
		return false
	}
	return d.private || (x.authorized() && !d.public && !d.sMaxAge.set && !d.mustRevalidate)
}

// authorized reports whether the request carries credentials: an
// Authorization field (RFC 9111, section 3.5).
func (x *exchange) authorized() bool {
	return len(x.reqHeader.Values("Authorization")) > 0
}

// hasValidator reports whether the response carries a validator that a
// conditional request can send back: an ETag (If-None-Match) or a valid
// Last-Modified (If-Modified-Since) (RFC 9110, section 8.8).
func (x *exchange) hasValidator() bool {
	if strings.TrimSpace(x.header.Get("ETag")) != "" {
		return true
	}
	_, ok, _ := singleDate(x.header, "Last-Modified", x.now)
	return ok
}

// heuristicStatus reports whether a response with status code may be
// given a heuristic lifetime: the codes RFC 9110, section 15.1, defines
// as heuristically cacheable.
func heuristicStatus(code int) bool {
	switch code {
	case http.StatusOK, http.StatusNonAuthoritativeInfo, http.StatusNoContent, http.StatusPartialContent,
		http.StatusMultipleChoices, http.StatusMovedPermanently, http.StatusPermanentRedirect,
		http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusGone, http.StatusRequestURITooLong,
		http.StatusNotImplemented:
		return true
	}
	return false
}

// methodCacheable reports whether a response to a request with method may
// be stored: GET and HEAD always; POST only with explicit freshness (RFC
// 9110, section 9.3.3); no other method.
func methodCacheable(method string, explicit bool) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		return explicit
	}
	return false
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
// section 5.1), and of a member, what comes before a parameter (";x=y",
// which Age does not define: the suite's checks read "7200;foo=bar" as 7200).
func ageValue(h http.Header) time.Duration {
	v := h.Get("Age")
	if v == "" {
		return 0
	}
	first, _, _ := strings.Cut(v, ",")
	first, _, _ = strings.Cut(first, ";")
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
