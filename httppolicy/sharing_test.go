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

// TestAResponseForOneUserReachesNoOther is issue 25's input 4 (moonrhythm/parapet#185,
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
