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

// notModified is a 304 with the fields kv.
func notModified(kv ...string) *http.Response {
	return &http.Response{StatusCode: http.StatusNotModified, Header: header(kv...)}
}

func TestNotModifiedUpdatesTheStoredHeader(t *testing.T) {
	stored := header("Cache-Control", "max-age=60", "ETag", `"v1"`, "Date", date(-time.Hour),
		"Content-Length", "1234", "Content-Type", "text/html", "Expires", date(time.Hour))
	for _, c := range []struct {
		name  string
		resp  *http.Response
		want  flightcache.EntryPolicy
		check func(t *testing.T, merged http.Header)
	}{
		{"new Cache-Control replaces the stored one", notModified("ETag", `"v1"`, "Date", date(0), "Cache-Control", "max-age=120, stale-while-revalidate=5"),
			withKeep(pol(120, 5, 0)), func(t *testing.T, m http.Header) {
				assert.Equal(t, []string{"max-age=120, stale-while-revalidate=5"}, m.Values("Cache-Control"))
			}},
		{"Content-Length is not updated", notModified("ETag", `"v1"`, "Content-Length", "0"),
			withKeep(pol(60, 0, 0)), func(t *testing.T, m http.Header) { assert.Equal(t, "1234", m.Get("Content-Length")) }},
		{"hop-by-hop fields are not updated", notModified("ETag", `"v1"`, "Connection", "close, X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5", "X-New", "2"),
			withKeep(pol(60, 0, 0)), func(t *testing.T, m http.Header) {
				assert.Empty(t, m.Values("Connection"))
				assert.Empty(t, m.Values("X-Hop"))
				assert.Empty(t, m.Values("Keep-Alive"))
				assert.Equal(t, "2", m.Get("X-New"))
				assert.Equal(t, "text/html", m.Get("Content-Type"))
			}},
		{"a weak ETag matches its strong twin", notModified("ETag", `W/"v1"`, "Date", date(0)),
			withKeep(pol(60, 0, 0)), func(t *testing.T, m http.Header) { assert.Equal(t, `W/"v1"`, m.Get("ETag")) }},
		{"no validator: the only stored response", notModified("Date", date(0)), withKeep(pol(60, 0, 0)), nil},
		{"an Age on the 304 counts", notModified("ETag", `"v1"`, "Date", date(0), "Age", "20"), withKeep(pol(40, 0, 0)), nil},
		{"an Expires on the 304 counts", notModified("ETag", `"v1"`, "Date", date(0), "Cache-Control", "public", "Expires", date(30*time.Second)),
			withKeep(pol(30, 0, 0)), nil},
		{"no-store on the 304", notModified("ETag", `"v1"`, "Cache-Control", "no-store"), noStore, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			merged, p, err := httppolicy.NotModified(nil, stored, c.resp, now, httppolicy.Options{})
			require.NoError(t, err)
			assert.Equal(t, c.want, p)
			if c.check != nil {
				c.check(t, merged)
			}
		})
	}
}

// withKeep is p with the KeepFor of a response with a validator.
func withKeep(p flightcache.EntryPolicy) flightcache.EntryPolicy {
	p.KeepFor = httppolicy.DefaultKeepFor
	return p
}

func TestNotModifiedRefusesAnotherResponse(t *testing.T) {
	stored := header("Cache-Control", "max-age=60", "ETag", `"v1"`, "Last-Modified", date(-time.Hour))
	for name, resp := range map[string]*http.Response{
		"another ETag":          notModified("ETag", `"v2"`),
		"another Last-Modified": notModified("Last-Modified", date(-time.Minute)),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := httppolicy.NotModified(nil, stored, resp, now, httppolicy.Options{})
			require.ErrorIs(t, err, httppolicy.ErrValidatorMismatch)
		})
	}
	_, _, err := httppolicy.NotModified(nil, header("Cache-Control", "max-age=60"), notModified("ETag", `"v1"`), now, httppolicy.Options{})
	require.ErrorIs(t, err, httppolicy.ErrValidatorMismatch, "an ETag against a stored response without one")

	for name, resp := range map[string]*http.Response{"nil": nil, "a 200": {StatusCode: http.StatusOK, Header: header()}} {
		_, _, err := httppolicy.NotModified(nil, stored, resp, now, httppolicy.Options{})
		assert.Error(t, err, name)
		assert.NotErrorIs(t, err, httppolicy.ErrValidatorMismatch, name)
	}
}

func TestNotModifiedWithoutAStoredHeader(t *testing.T) {
	merged, p, err := httppolicy.NotModified(nil, nil, notModified("Cache-Control", "max-age=60"), now, httppolicy.Options{})
	require.NoError(t, err)
	assert.Equal(t, pol(60, 0, 0), p)
	assert.Equal(t, date(0), merged.Get("Date"))
}

func TestNotModifiedSeesTheRequest(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "http://origin.test/", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer a")
	stored := header("Cache-Control", "max-age=60", "ETag", `"v1"`)
	_, p, err := httppolicy.NotModified(req, stored, notModified("ETag", `"v1"`), now, httppolicy.Options{})
	require.NoError(t, err)
	assert.Equal(t, privateOnly, p)

	resp := notModified("ETag", `"v1"`)
	resp.Request = req
	_, p, err = httppolicy.NotModified(nil, stored, resp, now, httppolicy.Options{})
	require.NoError(t, err)
	assert.Equal(t, privateOnly, p, "the response's Request stands in for a nil req")
}
