package httppolicy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/httppolicy"
)

// TestHeuristicFreshness is issue 25's input 5 (the suite's heuristic-freshness
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
