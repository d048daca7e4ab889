package httppolicy_test

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/httppolicy"
)

// This file plays the HTTP caching test suite's tests
// (github.com/http-tests/cache-tests) against the policy functions, with a
// model of what a Loader does with the policies they return: serve an
// entry while it is fresh; inside StaleFor, serve it and revalidate it in
// the background; past it, load, sending the entry's validators while it
// is kept (KeepFor); let it stand in for a failed load inside
// StaleIfError; drop it for a NoStore result. The model is the contract of
// the root package's EntryPolicy, not the Loader itself (whose KeepFor and
// Private come separately): loader_keep_test.go runs the same kind of
// exchange through a Loader.

// suitePause is how long the suite's client waits after a request marked
// pause_after.
const suitePause = 3 * time.Second

// field is one response or request header field of a suite test. A date
// field (rel) is the server's clock plus secs seconds, as an IMF-fixdate.
type field struct {
	name, value string
	rel         bool
	secs        int
}

// hf is a field with a literal value.
func hf(name, value string) field { return field{name: name, value: value} }

// hd is a date field secs seconds from the server's clock.
func hd(name string, secs int) field { return field{name: name, rel: true, secs: secs} }

// step is one request of a suite test and what the server answers to it.
type step struct {
	status   int      // the server's status; 0 is 200
	resp     []field  // the server's response fields
	req      []field  // the request's fields
	pause    bool     // the client waits suitePause after it
	disconn  bool     // the server drops the connection
	expect   string   // cached, not_cached, etag_validated, lm_validated, or ""
	noStored bool     // the caller must not get a stored response (expected_status null)
	wantHdr  []field  // response fields the caller must see (a value of "": present)
	noHdr    []string // response fields the caller must not see
}

// suiteCase is one test of the suite.
type suiteCase struct {
	id      string
	kind    string // required, optimal or check
	private bool   // browser-only: played against a private cache
	steps   []step
}

// modelEntry is what the model's Store holds for the one key of a test.
type modelEntry struct {
	header http.Header
	p      flightcache.EntryPolicy
	at     time.Time // when the entry's windows start
}

// until is at plus the durations, saturating (Forever stays for ever).
func (e *modelEntry) until(ds ...time.Duration) time.Time {
	var sum time.Duration
	for _, d := range ds {
		if d > math.MaxInt64-sum {
			return time.Unix(1<<62, 0)
		}
		sum += d
	}
	return e.at.Add(sum)
}

func (e *modelEntry) fresh(t time.Time) bool { return t.Before(e.until(e.p.FreshFor)) }
func (e *modelEntry) staleOK(t time.Time) bool {
	return t.Before(e.until(e.p.FreshFor, e.p.StaleFor))
}
func (e *modelEntry) standIn(t time.Time) bool {
	return t.Before(e.until(e.p.FreshFor, e.p.StaleIfError))
}
func (e *modelEntry) kept(t time.Time) bool {
	return t.Before(e.until(e.p.FreshFor, max(e.p.StaleFor, e.p.StaleIfError), e.p.KeepFor))
}

// suiteRun is one test played: the model's state and the server's.
type suiteRun struct {
	c       suiteCase
	o       httppolicy.Options
	t       time.Time
	entry   *modelEntry
	served  int // the server's request count
	reqNum  int // the client's request number
	sentINM bool
	sentIMS bool
}

// play runs the test and reports whether every expectation held, and the
// first that did not.
func play(c suiteCase, o httppolicy.Options) (ok bool, why string) {
	r := &suiteRun{c: c, o: o, t: now}
	for i, s := range c.steps {
		r.reqNum = i + 1
		got, hdr := r.request(s)
		if why := check(s, got, hdr); why != "" {
			return false, "request " + strconv.Itoa(r.reqNum) + ": " + why
		}
		if s.pause {
			r.t = r.t.Add(suitePause)
		}
	}
	return true, ""
}

// check compares what a request got with what its step expects.
func check(s step, got string, hdr http.Header) string {
	switch {
	case s.expect == "cached" && got != "cached",
		s.expect == "not_cached" && got == "cached",
		s.expect == "etag_validated" && got != "etag_validated",
		s.expect == "lm_validated" && got != "lm_validated":
		return "expected " + s.expect + ", got " + got
	case s.noStored && got != "error":
		return "a stored response reached the caller (" + got + ")"
	}
	for _, f := range s.wantHdr {
		if len(hdr.Values(f.name)) == 0 || (f.value != "" && hdr.Get(f.name) != f.value) {
			return "field " + f.name + " is " + strconv.Quote(hdr.Get(f.name)) + ", want " + strconv.Quote(f.value)
		}
	}
	for _, name := range s.noHdr {
		if len(hdr.Values(name)) > 0 {
			return "field " + name + " is there"
		}
	}
	return ""
}

// request plays one request against the model: it returns how it was
// answered (cached, not_cached, etag_validated, lm_validated or error)
// and the header the caller got.
func (r *suiteRun) request(s step) (string, http.Header) {
	e := r.entry
	switch {
	case e != nil && e.fresh(r.t):
		return "cached", e.header
	case e != nil && e.staleOK(r.t):
		r.load(s) // the background revalidation
		return "cached", e.header
	}
	resp, kind := r.load(s)
	switch {
	case resp == nil && e != nil && e.standIn(r.t):
		return "cached", e.header
	case resp == nil:
		return "error", nil
	}
	return kind, resp.Header
}

// load is the LoadFunc of the model: a request to the server, conditional
// when the entry is kept and has validators, whose answer sets the entry.
// It returns the response the caller gets (nil for a failure) and how it
// was got.
func (r *suiteRun) load(s step) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, "http://suite.test/", nil)
	for _, f := range s.req {
		req.Header.Add(f.name, r.value(f))
	}
	r.sentINM, r.sentIMS = false, false
	if e := r.entry; e != nil && e.kept(r.t) {
		if tag := e.header.Get("ETag"); tag != "" {
			req.Header.Set("If-None-Match", tag)
			r.sentINM = true
		}
		if lm := e.header.Get("Last-Modified"); lm != "" {
			req.Header.Set("If-Modified-Since", lm)
			r.sentIMS = true
		}
	}
	resp := r.serve(s, req)
	switch {
	case resp == nil, resp.StatusCode == 500, resp.StatusCode == 502, resp.StatusCode == 503, resp.StatusCode == 504:
		return nil, "error" // the load's error; the Loader keeps the entry
	case resp.StatusCode == http.StatusNotModified && r.entry != nil:
		merged, p, err := httppolicy.NotModified(req, r.entry.header, resp, r.t, r.o)
		if err != nil {
			return nil, "error"
		}
		r.store(merged, p)
		if r.sentINM {
			return &http.Response{StatusCode: http.StatusOK, Header: merged}, "etag_validated"
		}
		return &http.Response{StatusCode: http.StatusOK, Header: merged}, "lm_validated"
	}
	r.store(resp.Header, httppolicy.Exchange(req, resp, r.t, r.o))
	return resp, "not_cached"
}

// store puts the result of a load in the model's Store, or drops what it
// held for a NoStore result (as the Loader does).
func (r *suiteRun) store(h http.Header, p flightcache.EntryPolicy) {
	if p.NoStore {
		r.entry = nil
		return
	}
	r.entry = &modelEntry{header: h, p: p, at: r.t}
}

// serve is the suite's server: it answers the request with the step's
// status and fields, 304 to an expected validation whose validator
// matches the previous step's, and 999 to one that does not; it adds
// Date when the step sets none (as Node does) and its request counts.
func (r *suiteRun) serve(s step, req *http.Request) *http.Response {
	r.served++
	if s.disconn {
		return nil
	}
	status := s.status
	if status == 0 {
		status = http.StatusOK
	}
	if s.expect == "etag_validated" || s.expect == "lm_validated" {
		status = 999
		if prev := r.previousFields(); prev != nil {
			if v := r.fieldValue(prev, "ETag"); v != "" && req.Header.Get("If-None-Match") == v {
				status = http.StatusNotModified
			}
			if v := r.fieldValue(prev, "Last-Modified"); v != "" && req.Header.Get("If-Modified-Since") == v {
				status = http.StatusNotModified
			}
		}
	}
	h := http.Header{}
	for _, f := range s.resp {
		h.Add(f.name, r.value(f))
	}
	if len(h.Values("Date")) == 0 {
		h.Set("Date", r.t.Format(http.TimeFormat))
	}
	h.Set("Server-Request-Count", strconv.Itoa(r.served))
	h.Set("Client-Request-Count", strconv.Itoa(r.reqNum))
	return &http.Response{StatusCode: status, Header: h, Request: req}
}

// previousFields are the response fields of the step before this one.
func (r *suiteRun) previousFields() []field {
	if r.reqNum < 2 {
		return nil
	}
	return r.c.steps[r.reqNum-2].resp
}

// fieldValue is the value the first field named name of fs had when the
// server sent it (a date field is taken at the server's clock now, which
// the suite's tests that validate never rely on).
func (r *suiteRun) fieldValue(fs []field, name string) string {
	for _, f := range fs {
		if http.CanonicalHeaderKey(f.name) == http.CanonicalHeaderKey(name) {
			return r.value(f)
		}
	}
	return ""
}

// value is the field's value at the server's clock.
func (r *suiteRun) value(f field) string {
	if f.rel {
		return r.t.Add(time.Duration(f.secs) * time.Second).Format(http.TimeFormat)
	}
	return f.value
}
