package httppolicy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache/httppolicy"
)

// cachecontrolCase is one case of github.com/pquerna/cachecontrol's tests
// (cacheobject/object_test.go, cacheobject/object_http_test.go,
// api_test.go) that does not depend on that package's API: a request and
// a response, and whether the response may be stored and for how long it
// is fresh. Its Reasons map to NoStore (Private included); its
// expiration time, less now, to FreshFor (a zero time to 0).
type cachecontrolCase struct {
	name     string // the test's name there, and the case's
	method   string
	req      http.Header
	status   int
	resp     http.Header
	private  bool          // CacheIsPrivate
	storable bool          // no Reasons
	fresh    time.Duration // expiration − now; -1: not checked there
}

// withDate adds the Date of now to a response header, as the tests' fill
// does.
func withDate(kv ...string) http.Header { return header(append(kv, "Date", date(0))...) }

// cachecontrolCases are the cases. Methods and status codes come first,
// then directives, then expiration.
func cachecontrolCases() []cachecontrolCase {
	var cs []cachecontrolCase
	// TestCachableStatusCode: which codes may be cached without explicit
	// freshness (a heuristic lifetime from a Last-Modified an hour ago).
	for _, code := range []int{200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501} {
		cs = append(cs, cachecontrolCase{"CachableStatusCode/" + http.StatusText(code), "GET", nil, code,
			withDate("Last-Modified", date(-time.Hour)), false, true, 6 * time.Minute})
	}
	for _, code := range []int{201, 429, 500, 504} {
		cs = append(cs, cachecontrolCase{"CachableStatusCode/not " + http.StatusText(code), "GET", nil, code,
			withDate("Last-Modified", date(-time.Hour)), false, false, 0})
	}
	// TestUncachableMethods (CONNECT is listed twice there).
	for _, m := range []string{"PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "MADEUP"} {
		cs = append(cs, cachecontrolCase{"UncachableMethods/" + m, m, nil, 200, withDate(), false, false, -1})
	}
	auth := header("Authorization", "bearer random")
	return append(cs, []cachecontrolCase{
		{"GETPrivate", "GET", nil, 200, withDate("Cache-Control", "private"), false, false, -1},
		{"GETPrivateWithPrivateCache", "GET", nil, 200, withDate("Cache-Control", "private"), true, true, -1},
		{"HEAD", "HEAD", nil, 200, withDate("Last-Modified", date(-time.Hour)), false, true, 6 * time.Minute},
		{"HEADLongLastModified", "HEAD", nil, 200, withDate("Last-Modified", date(-70000*time.Hour)), false, true, 24 * time.Hour},
		{"NonCachablePOST", "POST", nil, 200, withDate(), false, false, -1},
		{"CachablePOSTExpiresHeader", "POST", nil, 200, withDate("Expires", date(time.Hour)), false, true, -1},
		{"CachablePOSTSMax", "POST", nil, 200, withDate("Cache-Control", "s-maxage=900"), false, true, -1},
		{"NonCachablePOSTSMax", "POST", nil, 200, withDate("Cache-Control", "s-maxage=900"), true, false, -1},
		{"CachablePOSTMax", "POST", nil, 200, withDate("Cache-Control", "max-age=9000"), false, true, -1},
		{"PUTs", "PUT", nil, 200, withDate(), false, false, -1},
		{"PUTWithExpires", "PUT", nil, 200, withDate("Expires", date(time.Hour)), false, false, -1},
		{"Authorization", "GET", auth, 200, withDate(), false, false, -1},
		{"CachableAuthorization", "GET", auth, 200, withDate("Cache-Control", "public, max-age=300"), false, true, -1},
		{"RespNoStore", "GET", nil, 200, withDate("Cache-Control", "no-store"), false, false, -1},
		{"ReqNoStore", "GET", header("Cache-Control", "no-store"), 200, withDate(), false, false, -1},
		{"Resp500", "GET", nil, 500, withDate(), false, false, -1},
		{"ExpirationSMaxShared", "GET", nil, 200, withDate("Cache-Control", "s-maxage=60"), false, true, time.Minute},
		{"ExpirationSMaxPrivate", "GET", nil, 200, withDate("Cache-Control", "s-maxage=60"), true, true, 0},
		{"ExpirationMax", "GET", nil, 200, withDate("Cache-Control", "max-age=60"), false, true, time.Minute},
		{"ExpirationMaxAndSMax", "GET", nil, 200, withDate("Cache-Control", "max-age=60, s-maxage=900"), false, true, 900 * time.Second},
		{"ExpirationExpires", "GET", nil, 200, withDate("Expires", date(1500*time.Second)), false, true, 1500 * time.Second},
		{"ExpirationExpiresNoServerDate", "GET", nil, 200, header("Expires", date(1500*time.Second)), false, true, 1500 * time.Second},
		{"CachableRequestObject/GET", "GET", nil, 200, withDate(), false, true, -1},
		{"CachableRequestObject/PUT", "PUT", nil, 200, withDate(), false, false, -1},
		{"CachableResponseObject", "DELETE", nil, 200, withDate("Cache-Control", "no-store"), false, false, -1},
		{"CachableResponsePublic", "GET", nil, 200, header("Cache-Control", "public", "Last-Modified", date(-5*time.Hour)), false, true, 30 * time.Minute},
		{"CachableResponseNoHeaders", "GET", nil, 200, header(), false, true, 0},
		{"CachableResponseBadExpires", "GET", nil, 200, header("Expires", "-1"), false, true, 0},
		{"CachableResponsePrivate", "GET", nil, 200, header("Cache-Control", "private"), false, false, 0},
		{"CachableResponsePrivate/private cache", "GET", nil, 200, header("Cache-Control", "private"), true, true, 0},
	}...)
}

// TestCachecontrolCases plays pquerna/cachecontrol's portable cases with
// Options.Heuristic on: all pass. (Without it, the four whose expiration
// is heuristic, HEAD, HEADLongLastModified, CachableResponsePublic and
// the heuristically cacheable status codes, are stored but not fresh.)
func TestCachecontrolCases(t *testing.T) {
	assert.Len(t, cachecontrolCases(), 51, "the count the package doc gives")
	for _, c := range cachecontrolCases() {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, "http://cachecontrol.test/", nil)
			if c.req != nil {
				req.Header = c.req
			}
			resp := &http.Response{StatusCode: c.status, Header: c.resp}
			p := httppolicy.Exchange(req, resp, now, httppolicy.Options{Private: c.private, Heuristic: true})
			assert.Equal(t, c.storable, !p.NoStore, "storable")
			if c.fresh >= 0 {
				assert.Equal(t, c.fresh, p.FreshFor, "FreshFor")
			}
		})
	}
}
