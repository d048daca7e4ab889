package httppolicy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/httppolicy"
)

// FuzzPolicy checks that no header makes Policy panic or return a negative
// duration, that a NoStore policy has no durations (and Private implies
// NoStore), and that MissingFor is FreshFor. Run it longer with go test -fuzz FuzzPolicy ./httppolicy/.
func FuzzPolicy(f *testing.F) {
	for _, s := range []struct {
		cc, age, date, expires, vary string
		private                      bool
		def                          int64
	}{
		{"max-age=60", "", "", "", "", false, 0},
		{"s-maxage=1, stale-while-revalidate=59", "10", date(-5 * time.Second), "", "", false, 0},
		{"private=\"a, b\", max-age=\"60\"", "x", "garbage", "0", "*", true, int64(time.Hour)},
		{"no-cache=\"x, no-store", "-1", date(time.Hour), date(-time.Hour), "", false, -1},
		{"max-age=99999999999999999999, stale-if-error=2147483647", "999999999999", "Mon, 01 Jan 0001 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "", false, int64(flightcache.Forever)},
		{"max-age=60, max-age=30, must-revalidate=1, \xff", "1, 2", "", "", "Accept", false, 0},
	} {
		f.Add(s.cc, s.age, s.date, s.expires, s.vary, s.private, s.def)
	}
	f.Fuzz(func(t *testing.T, cc, age, dateV, expires, vary string, private bool, def int64) {
		h := http.Header{}
		for k, v := range map[string]string{"Cache-Control": cc, "Age": age, "Date": dateV, "Expires": expires, "Vary": vary} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		p := httppolicy.Policy(h, now, httppolicy.Options{Private: private, DefaultFreshFor: time.Duration(def)})
		for name, d := range map[string]time.Duration{"FreshFor": p.FreshFor, "StaleFor": p.StaleFor, "StaleIfError": p.StaleIfError, "MissingFor": p.MissingFor, "KeepFor": p.KeepFor} {
			require.GreaterOrEqual(t, d, time.Duration(0), "%s of %v", name, h)
		}
		require.Equal(t, p.FreshFor, p.MissingFor, "%v", h)
		if p.NoStore {
			require.Equal(t, flightcache.EntryPolicy{NoStore: true, Private: p.Private}, p, "%v", h)
		}
		require.True(t, p.NoStore || !p.Private, "Private implies NoStore: %v", h)
	})
}

// FuzzExchange checks Exchange and NotModified the same way, over a
// request's method and fields, a response's status, validators and
// Last-Modified, with Options.Heuristic, and a 304 merged into the
// fuzzed header: no panic, no negative duration, Private implies NoStore.
func FuzzExchange(f *testing.F) {
	f.Add("GET", "", "", 200, "max-age=60", `"x"`, date(-time.Hour), true, int64(0))
	f.Add("POST", "Bearer a", "no-store", 599, "public", "", "Thu, 18 Aug 2050 2:01:18 GMT", true, int64(-1))
	f.Add("", "", "max-age=0", 304, "s-maxage=1, must-revalidate", `W/"y"`, "0", false, int64(time.Hour))
	f.Fuzz(func(t *testing.T, method, auth, reqCC string, status int, cc, etag, lm string, heuristic bool, keep int64) {
		req, err := http.NewRequest(http.MethodGet, "http://fuzz.test/", nil)
		require.NoError(t, err)
		req.Method = method
		for k, v := range map[string]string{"Authorization": auth, "Cache-Control": reqCC} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		h := http.Header{}
		for k, v := range map[string]string{"Cache-Control": cc, "Etag": etag, "Last-Modified": lm} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		o := httppolicy.Options{Heuristic: heuristic, KeepFor: time.Duration(keep)}
		check := func(p flightcache.EntryPolicy) {
			for name, d := range map[string]time.Duration{"FreshFor": p.FreshFor, "StaleFor": p.StaleFor, "StaleIfError": p.StaleIfError, "MissingFor": p.MissingFor, "KeepFor": p.KeepFor} {
				require.GreaterOrEqual(t, d, time.Duration(0), "%s of %v", name, h)
			}
			require.True(t, p.NoStore || !p.Private, "Private implies NoStore: %v", h)
		}
		check(httppolicy.Exchange(req, &http.Response{StatusCode: status, Header: h}, now, o))
		merged, p, err := httppolicy.NotModified(req, h, &http.Response{StatusCode: http.StatusNotModified, Header: h.Clone()}, now, o)
		if err == nil {
			check(p)
			require.NotNil(t, merged)
		}
	})
}
