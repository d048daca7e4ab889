package httppolicy

import (
	"strings"
	"time"

	"github.com/pquerna/cachecontrol/cacheobject"
)

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
	noStore, noCache, private, public  bool
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
		case "public":
			d.public = true
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
	d.public = d.public || c.Public
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

// appendMember appends m, trimmed, to out unless it is empty.
func appendMember(out []string, m string) []string {
	if m = strings.TrimSpace(m); m != "" {
		out = append(out, m)
	}
	return out
}

// requestNoStore reports whether a request's Cache-Control lines hold
// no-store (RFC 9111, section 5.2.1.5), with or without an argument.
func requestNoStore(lines []string) bool {
	for _, line := range lines {
		for _, member := range splitList(line) {
			name, _, _ := strings.Cut(member, "=")
			if strings.EqualFold(strings.TrimSpace(name), "no-store") {
				return true
			}
		}
	}
	return false
}
