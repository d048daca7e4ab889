package httppolicy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/flightcache/flightcache"
)

// ErrValidatorMismatch is wrapped by the error of [NotModified] when the
// 304's validators do not select the stored response (RFC 9111, section
// 4.3.4): its ETag, or failing that its Last-Modified, differs from the
// stored one. The load should then fetch the resource without
// conditions.
var ErrValidatorMismatch = errors.New("httppolicy: the 304's validator does not match the stored response")

// errNot304 is the error of NotModified for a response that is not a 304.
var errNot304 = errors.New("httppolicy: not a 304 Not Modified response")

// NotModified updates the stored response's header with a 304 Not
// Modified, resp, received at now in answer to the conditional request
// req, and returns the updated header and the policy computed from it
// (RFC 9111, section 4.3.4): every field of the 304 replaces the stored
// field of that name, except those a cache does not store or update
// (Content-Length, Connection and the fields it names, and the other
// hop-by-hop and proxy fields: sections 3.1 and 3.2). A 304 without a Date
// gets now as its Date (RFC 9110, section 6.6.1), and one without an Age
// clears the stored Age: the response is as old as the 304, not as the
// response first stored. So a 304 without Cache-Control renews the stored
// response for its stored max-age counted from now, and one with
// Cache-Control or Expires replaces them.
//
// stored is the header of the response the load revalidated, which the
// load keeps beside its value (in V; see [flightcache.Previous]); it is
// not modified. The policy is that of [Exchange] for a 200 with the
// updated header; for a stored response of another status, call
// [Exchange] with it. A load answers [flightcache.ErrNotModified] after
// setting the policy; as the Loader then keeps the old value, whose header
// is the one stored before, it should pass that header again at the next
// 304 (or return the old value with the updated header to keep it).
//
// It returns an error, and no policy, when resp is nil or not a 304, and
// one wrapping [ErrValidatorMismatch] when the 304 speaks of another
// response than the stored one.
func NotModified(req *http.Request, stored http.Header, resp *http.Response, now time.Time, o Options) (http.Header, flightcache.EntryPolicy, error) {
	switch {
	case resp == nil:
		return nil, flightcache.EntryPolicy{}, fmt.Errorf("%w: nil", errNot304)
	case resp.StatusCode != http.StatusNotModified:
		return nil, flightcache.EntryPolicy{}, fmt.Errorf("%w: status %d", errNot304, resp.StatusCode)
	}
	if err := sameResponse(stored, resp.Header); err != nil {
		return nil, flightcache.EntryPolicy{}, err
	}
	merged := mergeHeader(stored, resp.Header, now)
	if req == nil {
		req = resp.Request
	}
	p := Exchange(req, &http.Response{StatusCode: http.StatusOK, Header: merged}, now, o)
	return merged, p, nil
}

// sameResponse checks that the 304's validators select the stored
// response (RFC 9111, section 4.3.4): an ETag must match the stored one
// (weakly, since a 304 to If-None-Match is selected by weak comparison,
// RFC 9110, section 13.1.2); without an ETag, a Last-Modified must equal
// the stored one when both are there. A 304 without validators updates
// the stored response.
func sameResponse(stored, notModified http.Header) error {
	if tag := strings.TrimSpace(notModified.Get("ETag")); tag != "" {
		have := strings.TrimSpace(stored.Get("ETag"))
		if opaqueTag(have) != opaqueTag(tag) || have == "" {
			return fmt.Errorf("%w: ETag %s, stored %q", ErrValidatorMismatch, tag, have)
		}
		return nil
	}
	lm, have := notModified.Get("Last-Modified"), stored.Get("Last-Modified")
	if lm != "" && have != "" && strings.TrimSpace(lm) != strings.TrimSpace(have) {
		return fmt.Errorf("%w: Last-Modified %s, stored %s", ErrValidatorMismatch, lm, have)
	}
	return nil
}

// opaqueTag is an entity tag without its weakness indicator.
func opaqueTag(tag string) string {
	return strings.TrimPrefix(tag, "W/")
}

// notUpdated are the fields a 304 does not replace in the stored header
// (RFC 9111, sections 3.1 and 3.2), in canonical form.
var notUpdated = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Transfer-Encoding": true, "Upgrade": true, "Proxy-Authenticate": true,
	"Proxy-Authentication-Info": true, "Proxy-Authorization": true, "Content-Length": true,
}

// mergeHeader returns a copy of stored with the fields of the 304's header
// notModified in place of its own, as NotModified describes.
func mergeHeader(stored, notModified http.Header, now time.Time) http.Header {
	merged := stored.Clone()
	if merged == nil {
		merged = http.Header{}
	}
	skip := connectionOptions(notModified)
	for name, vs := range notModified {
		name = http.CanonicalHeaderKey(name)
		if notUpdated[name] || skip[name] {
			continue
		}
		merged[name] = append([]string(nil), vs...)
	}
	if len(notModified.Values("Date")) == 0 {
		merged.Set("Date", now.UTC().Format(http.TimeFormat))
	}
	if len(notModified.Values("Age")) == 0 {
		merged.Del("Age")
	}
	return merged
}

// connectionOptions are the fields a Connection header names, which are
// hop-by-hop (RFC 9110, section 7.6.1), in canonical form.
func connectionOptions(h http.Header) map[string]bool {
	var names map[string]bool
	for _, line := range h.Values("Connection") {
		for _, m := range splitList(line) {
			if names == nil {
				names = map[string]bool{}
			}
			names[http.CanonicalHeaderKey(m)] = true
		}
	}
	return names
}
