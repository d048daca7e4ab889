package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// upstream is the origin server: it answers each path with its
// Cache-Control and an ETag naming the path's version, and 304 to an
// If-None-Match that matches, with the ETag alone (no Cache-Control, as
// many servers answer); /page's 200 says Age: 60; /dashboard answers with
// the dashboard of the user its Authorization names. It counts what it
// answered.
type upstream struct {
	mu          sync.Mutex
	version     map[string]int
	requests    map[string]int
	notModified map[string]int
	last        map[string]int // the status of the last answer per path
}

func newUpstream() *upstream {
	return &upstream{version: map[string]int{}, requests: map[string]int{}, notModified: map[string]int{}, last: map[string]int{}}
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := r.URL.Path
	u.requests[p]++
	cc := ""
	for _, x := range paths {
		if x.path == p {
			cc = x.cacheControl
		}
	}
	if p == "/missing" || cc == "" {
		w.Header().Set("Cache-Control", cc)
		u.last[p] = http.StatusNotFound
		http.NotFound(w, r)
		return
	}
	body := fmt.Sprintf("%s v%d", strings.TrimPrefix(p, "/"), u.version[p]+1)
	if p == "/dashboard" {
		body = "dashboard of " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	etag := fmt.Sprintf("%q", body)
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		u.notModified[p]++
		u.last[p] = http.StatusNotModified
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Cache-Control", cc)
	if p == "/page" {
		w.Header().Set("Age", "60")
	}
	u.last[p] = http.StatusOK
	_, _ = io.WriteString(w, body)
}

// change makes a new version of path.
func (u *upstream) change(path string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.version[path]++
}

// counts returns the requests path got, how many were answered 304, and
// the status of the last answer.
func (u *upstream) counts(path string) (requests, notModified, last int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests[path], u.notModified[path], u.last[path]
}

// reset forgets the counts.
func (u *upstream) reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	clear(u.requests)
	clear(u.notModified)
	clear(u.last)
}
