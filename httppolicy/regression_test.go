package httppolicy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/httppolicy"
)

// The tests in this file are issue 25's failing inputs, one test each.

// TestMalformedExpiresIsInThePast is input 1: http.ParseTime took a
// one-digit hour, doubled spaces and a second Expires line, and such a
// response was fresh for 215,854 hours; RFC 9111, section 5.3, has an
// invalid Expires mean the past (the HTTP caching test suite's
// freshness-expires-invalid-1-digit-hour, -multiple-spaces and
// -multiple-lines).
func TestMalformedExpiresIsInThePast(t *testing.T) {
	for name, h := range map[string][]string{
		"1-digit-hour":    {"Expires", "Thu, 18 Aug 2050 2:01:18 GMT"},
		"multiple-spaces": {"Expires", "Thu, 18  Aug  2050 02:01:18 GMT"},
		"multiple-lines":  {"Expires", "Thu, 18 Aug 2050 02:01:18 GMT", "Expires", "Thu, 18 Aug 2050 02:01:19 GMT"},
	} {
		t.Run(name, func(t *testing.T) {
			p := httppolicy.Policy(header(append(h, "Date", date(0))...), now, httppolicy.Options{})
			assert.Zero(t, p.FreshFor)
		})
	}
}

// TestA304RenewsTheStoredResponse is input 2 (gregjones/httpcache#29,
// bartventer/httpcache#27): a 304 without Cache-Control gave no lifetime
// when its own header was passed to Policy, and the stored 200's old Date
// kept the entry stale when the stored header was. NotModified updates the
// stored header with the 304's fields and a fresh Date (RFC 9111,
// section 4.3.4), and the stored max-age counts from now.
func TestA304RenewsTheStoredResponse(t *testing.T) {
	stored := header("Cache-Control", "max-age=60", "ETag", `"v1"`, "Date", date(-10*time.Minute), "Age", "30", "X-Kept", "yes")
	notModified := &http.Response{StatusCode: http.StatusNotModified, Header: header("ETag", `"v1"`, "Date", date(0))}

	// The two ways the package doc used to prescribe.
	assert.Zero(t, httppolicy.Policy(notModified.Header, now, httppolicy.Options{}).FreshFor, "the 304's header alone")
	assert.Zero(t, httppolicy.Policy(stored, now, httppolicy.Options{}).FreshFor, "the stored header alone")

	merged, p, err := httppolicy.NotModified(nil, stored, notModified, now, httppolicy.Options{})
	require.NoError(t, err)
	assert.Equal(t, time.Minute, p.FreshFor, "max-age=60 from now")
	assert.Equal(t, httppolicy.DefaultKeepFor, p.KeepFor)
	assert.Equal(t, date(0), merged.Get("Date"))
	assert.Empty(t, merged.Values("Age"), "the stored Age is the old response's")
	assert.Equal(t, "yes", merged.Get("X-Kept"))
	assert.Equal(t, date(-10*time.Minute), stored.Get("Date"), "stored is not modified")

	// A 304 without Date is dated when received (RFC 9110, section 6.6.1).
	noDate := &http.Response{StatusCode: http.StatusNotModified, Header: header("ETag", `"v1"`)}
	merged, p, err = httppolicy.NotModified(nil, stored, noDate, now, httppolicy.Options{})
	require.NoError(t, err)
	assert.Equal(t, time.Minute, p.FreshFor)
	assert.Equal(t, date(0), merged.Get("Date"))
}

// TestAResponseWithAValidatorIsKeptForRevalidation is input 3: no-cache,
// max-age=0, must-revalidate and a plain max-age past its time left no
// entry, so Previous was empty and every revalidation a full download
// (the suite's cc-resp-must-revalidate-stale, cc-resp-no-cache-revalidate
// and -fresh). A response with an ETag or a Last-Modified is kept for
// Options.KeepFor past its windows.
func TestAResponseWithAValidatorIsKeptForRevalidation(t *testing.T) {
	for _, cc := range []string{"no-cache", "max-age=0", "max-age=60, must-revalidate", "max-age=60"} {
		for _, v := range [][]string{{"ETag", `"x"`}, {"Last-Modified", date(-time.Hour)}} {
			h := header("Cache-Control", cc, v[0], v[1])
			assert.Equal(t, httppolicy.DefaultKeepFor, httppolicy.Policy(h, now, httppolicy.Options{}).KeepFor, "%v", h)
			assert.Equal(t, time.Hour, httppolicy.Policy(h, now, httppolicy.Options{KeepFor: time.Hour}).KeepFor, "%v", h)
			assert.Zero(t, httppolicy.Policy(h, now, httppolicy.Options{KeepFor: -1}).KeepFor, "%v", h)
		}
		assert.Zero(t, httppolicy.Policy(header("Cache-Control", cc), now, httppolicy.Options{}).KeepFor, "no validator: %s", cc)
	}
	assert.Zero(t, httppolicy.Policy(header("ETag", `"x"`, "Cache-Control", "no-store"), now, httppolicy.Options{}).KeepFor)
	assert.Zero(t, httppolicy.Policy(header("ETag", `"x"`, "Last-Modified", "garbage"), now, httppolicy.Options{DefaultFreshFor: flightcache.Forever}).KeepFor,
		"fresh for ever needs no revalidation")
}

// TestAResponseForOneUserReachesNoOther is input 4 (moonrhythm/parapet#185,
// tempesta-tech/tempesta#3): Policy never saw the request, so a shared
// cache stored the answer to a request with Authorization, and private
// only kept the answer out of the Store while coalesced callers still got
// it. Exchange makes both Private (RFC 9111, sections 3.5 and 5.2.2.7).
func TestAResponseForOneUserReachesNoOther(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "http://origin.test/dashboard", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer user-a")
	exchange := func(o httppolicy.Options, kv ...string) flightcache.EntryPolicy {
		return httppolicy.Exchange(req, &http.Response{StatusCode: http.StatusOK, Header: header(kv...)}, now, o)
	}
	assert.Equal(t, privateOnly, exchange(httppolicy.Options{}, "Cache-Control", "max-age=60"))
	assert.Equal(t, privateOnly, exchange(httppolicy.Options{}, "Cache-Control", "max-age=60, stale-while-revalidate=30"))
	for _, cc := range []string{"public, max-age=60", "s-maxage=60", "max-age=60, must-revalidate"} {
		assert.Equal(t, time.Minute, exchange(httppolicy.Options{}, "Cache-Control", cc).FreshFor, "%s lets a shared cache share it", cc)
	}
	assert.Equal(t, pol(60, 0, 0), exchange(httppolicy.Options{Private: true}, "Cache-Control", "max-age=60"), "a private cache serves one user")

	anon, err := http.NewRequest(http.MethodGet, "http://origin.test/dashboard", nil)
	require.NoError(t, err)
	p := httppolicy.Exchange(anon, &http.Response{StatusCode: http.StatusOK, Header: header("Cache-Control", "private, max-age=60")}, now, httppolicy.Options{})
	assert.Equal(t, privateOnly, p, "private: its own caller only, not the callers that joined")
}

// TestHeuristicFreshness is input 5 (the suite's heuristic-freshness
// tests): without explicit freshness, Options.Heuristic makes a response
// fresh for 10% of the time since its Last-Modified, at most MaxHeuristic,
// for the status codes RFC 9110, section 15.1, calls heuristically
// cacheable, or when it is public (RFC 9111, section 4.2.2).
func TestHeuristicFreshness(t *testing.T) {
	on := httppolicy.Options{Heuristic: true}
	exchange := func(status int, o httppolicy.Options, kv ...string) flightcache.EntryPolicy {
		return httppolicy.Exchange(nil, &http.Response{StatusCode: status, Header: header(append(kv, "Date", date(0))...)}, now, o)
	}
	lm := date(-10 * time.Hour)
	assert.Equal(t, time.Hour, exchange(200, on, "Last-Modified", lm).FreshFor)
	assert.Equal(t, httppolicy.MaxHeuristic, exchange(200, on, "Last-Modified", date(-1000*time.Hour)).FreshFor, "capped")
	assert.Equal(t, 50*time.Minute, exchange(200, on, "Last-Modified", lm, "Age", "600").FreshFor, "less its age")
	assert.Equal(t, time.Hour, exchange(404, on, "Last-Modified", lm).FreshFor)
	assert.Equal(t, time.Hour, exchange(599, on, "Last-Modified", lm, "Cache-Control", "public").FreshFor, "public")
	assert.Equal(t, noStore, exchange(599, on, "Last-Modified", lm), "not heuristically cacheable")
	assert.Equal(t, noStore, exchange(503, on, "Last-Modified", lm))
	assert.Zero(t, exchange(200, httppolicy.Options{}, "Last-Modified", lm).FreshFor, "off by default")
	assert.Zero(t, exchange(200, on, "Last-Modified", date(time.Hour)).FreshFor, "Last-Modified after Date")
	assert.Zero(t, exchange(200, on, "Last-Modified", lm, "Cache-Control", "max-age=0").FreshFor, "explicit wins")
	assert.Equal(t, 5*time.Second, exchange(200, on, "Last-Modified", lm, "Expires", date(5*time.Second)).FreshFor, "explicit wins")
	assert.Equal(t, time.Hour, httppolicy.Policy(header("Last-Modified", lm, "Date", date(0)), now, on).FreshFor, "Policy is a 200")
}
