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

// TestA304RenewsTheStoredResponse is issue 25's input 2 (gregjones/httpcache#29,
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

// TestAResponseWithAValidatorIsKeptForRevalidation is issue 25's input 3: no-cache,
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
