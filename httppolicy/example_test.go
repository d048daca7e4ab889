package httppolicy_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/flightcache/flightcache/httppolicy"
)

// received is when the examples' responses arrive.
var received = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func ExampleExchange() {
	req, _ := http.NewRequest(http.MethodGet, "https://api.example/dashboard", nil)
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{
		"Cache-Control": {"max-age=60, stale-while-revalidate=30"},
		"Etag":          {`"v1"`},
	}}
	p := httppolicy.Exchange(req, resp, received, httppolicy.Options{})
	fmt.Println("fresh:", p.FreshFor, "stale:", p.StaleFor, "kept for revalidation:", p.KeepFor)

	// The same URL asked for with a user's credentials: that user's only.
	req.Header.Set("Authorization", "Bearer user-a")
	p = httppolicy.Exchange(req, resp, received, httppolicy.Options{})
	fmt.Println("private:", p.Private, "stored:", !p.NoStore)
	// Output:
	// fresh: 1m0s stale: 30s kept for revalidation: 24h0m0s
	// private: true stored: false
}

func ExampleNotModified() {
	// The header kept with the value when the 200 was stored, an hour ago.
	stored := http.Header{
		"Cache-Control": {"max-age=600"},
		"Etag":          {`"v1"`},
		"Date":          {received.Add(-time.Hour).Format(http.TimeFormat)},
	}
	// The 304 to If-None-Match: "v1", without Cache-Control.
	resp := &http.Response{StatusCode: http.StatusNotModified, Header: http.Header{
		"Etag": {`"v1"`},
		"Date": {received.Format(http.TimeFormat)},
	}}
	merged, p, err := httppolicy.NotModified(nil, stored, resp, received, httppolicy.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(merged.Get("Cache-Control"), merged.Get("Date"))
	fmt.Println("fresh again for", p.FreshFor)
	// Output:
	// max-age=600 Tue, 01 Dec 2026 09:00:00 GMT
	// fresh again for 10m0s
}

func ExampleParseDate() {
	for _, v := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
		"Sun, 06 Nov 1994 8:49:37 GMT",
	} {
		t, ok := httppolicy.ParseDate(v, received)
		fmt.Println(ok, t.Format(time.RFC3339))
	}
	// Output:
	// true 1994-11-06T08:49:37Z
	// true 1994-11-06T08:49:37Z
	// true 1994-11-06T08:49:37Z
	// false 0001-01-01T00:00:00Z
}

func ExampleOptions_heuristic() {
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{
		"Last-Modified": {received.Add(-50 * time.Hour).Format(http.TimeFormat)},
		"Date":          {received.Format(http.TimeFormat)},
	}}
	for _, o := range []httppolicy.Options{{}, {Heuristic: true}} {
		fmt.Println(httppolicy.Exchange(nil, resp, received, o).FreshFor)
	}
	// Output:
	// 0s
	// 5h0m0s
}
