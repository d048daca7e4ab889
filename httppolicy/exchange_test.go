package httppolicy_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/httppolicy"
)

func TestExchange(t *testing.T) {
	get := func(kv ...string) *http.Request {
		req, err := http.NewRequest(http.MethodGet, "http://origin.test/", nil)
		require.NoError(t, err)
		req.Header = header(kv...)
		return req
	}
	method := func(m string) *http.Request {
		req := get()
		req.Method = m
		return req
	}
	ok := func(kv ...string) *http.Response {
		return &http.Response{StatusCode: http.StatusOK, Header: header(kv...)}
	}
	for _, c := range []struct {
		name string
		req  *http.Request
		resp *http.Response
		o    httppolicy.Options
		want flightcache.EntryPolicy
	}{
		{"a GET", get(), ok("Cache-Control", "max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"a HEAD", method(http.MethodHead), ok("Cache-Control", "max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"a nil request is a GET", nil, ok("Cache-Control", "max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"a request without a method is a GET", method(""), ok("Cache-Control", "max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"a nil response", get(), nil, httppolicy.Options{}, noStore},
		{"a response with a nil header", get(), &http.Response{StatusCode: http.StatusOK}, httppolicy.Options{}, pol(0, 0, 0)},
		{"a POST with max-age", method(http.MethodPost), ok("Cache-Control", "max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"a POST without explicit freshness", method(http.MethodPost), ok("Last-Modified", date(-100)), httppolicy.Options{Heuristic: true}, noStore},
		{"a DELETE", method(http.MethodDelete), ok("Cache-Control", "max-age=60"), httppolicy.Options{}, noStore},
		{"the request's no-store", get("Cache-Control", "max-age=0, No-Store"), ok("Cache-Control", "max-age=60"), httppolicy.Options{}, noStore},
		{"the request's no-cache is not the entry's", get("Cache-Control", "no-cache"), ok("Cache-Control", "max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"Authorization", get("Authorization", "Basic eA=="), ok("Cache-Control", "max-age=60"), httppolicy.Options{}, privateOnly},
		{"an empty Authorization is still one", get("Authorization", ""), ok("Cache-Control", "max-age=60"), httppolicy.Options{}, privateOnly},
		{"Authorization and public", get("Authorization", "Basic eA=="), ok("Cache-Control", "public, max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"Authorization, private cache", get("Authorization", "Basic eA=="), ok("Cache-Control", "max-age=60"), httppolicy.Options{Private: true}, pol(60, 0, 0)},
		{"Authorization and no-store", get("Authorization", "Basic eA=="), ok("Cache-Control", "no-store, public"), httppolicy.Options{}, noStore},
		{"a 500 with max-age", get(), &http.Response{StatusCode: 500, Header: header("Cache-Control", "max-age=60")}, httppolicy.Options{}, pol(60, 0, 0)},
		{"a 500 without", get(), &http.Response{StatusCode: 500, Header: header()}, httppolicy.Options{}, noStore},
		{"a 404 without", get(), &http.Response{StatusCode: 404, Header: header()}, httppolicy.Options{}, pol(0, 0, 0)},
		{"private, private cache, any status", get(), &http.Response{StatusCode: 599, Header: header("Cache-Control", "private")}, httppolicy.Options{Private: true}, pol(0, 0, 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, httppolicy.Exchange(c.req, c.resp, now, c.o))
		})
	}

	resp := ok("Cache-Control", "max-age=60")
	resp.Request = get("Authorization", "Basic eA==")
	assert.Equal(t, privateOnly, httppolicy.Exchange(nil, resp, now, httppolicy.Options{}), "resp.Request stands in for a nil req")
}
