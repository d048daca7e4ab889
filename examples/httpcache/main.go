// Command httpcache puts a flightcache.Loader in front of an HTTP upstream
// (an httptest.Server in the same program) that honours the upstream's
// Cache-Control and revalidates with ETags: each load is a conditional GET
// (If-None-Match from the entry it replaces, flightcache.Previous), a 304
// answer is flightcache.ErrNotModified, and httppolicy.Policy turns the
// response's headers into the entry's policy (flightcache.SetPolicy). It
// prints how many requests reached the upstream with and without the
// Loader, and how each read was served.
//
//	go run ./examples/httpcache
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/httppolicy"
)

func main() {
	if err := run(os.Stdout, 10); err != nil {
		fmt.Fprintln(os.Stderr, "httpcache:", err)
		os.Exit(1)
	}
}

// paths are the upstream's paths, in the order printed, with the
// Cache-Control each answers with. /missing answers 404.
var paths = []struct{ path, cacheControl string }{
	{"/static", "max-age=3600"},
	{"/live", "max-age=0, stale-while-revalidate=60"},
	{"/private", "no-store"},
	{"/missing", "max-age=60"},
}

// page is a cached response: its body, and its ETag for the next
// conditional request.
type page struct {
	Body string
	ETag string
}

// upstream is the origin server: it answers each path with its
// Cache-Control and an ETag naming the path's version, 304 to an
// If-None-Match that matches, and counts what it answered.
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
	w.Header().Set("Cache-Control", cc)
	if p == "/missing" || cc == "" {
		u.last[p] = http.StatusNotFound
		http.NotFound(w, r)
		return
	}
	body := fmt.Sprintf("%s v%d", strings.TrimPrefix(p, "/"), u.version[p]+1)
	etag := fmt.Sprintf("%q", body)
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		u.notModified[p]++
		u.last[p] = http.StatusNotModified
		w.WriteHeader(http.StatusNotModified)
		return
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

func (u *upstream) reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	clear(u.requests)
	clear(u.notModified)
	clear(u.last)
}

// fetch is the LoadFunc: a GET of url, conditional when the entry it
// replaces has an ETag, whose response headers set the entry's policy.
func fetch(client *http.Client) flightcache.LoadFunc[string, page] {
	return func(ctx context.Context, url string) (page, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return page{}, err
		}
		if prev, ok := flightcache.Previous[page](ctx, url); ok && prev.Value.ETag != "" {
			req.Header.Set("If-None-Match", prev.Value.ETag)
		}
		resp, err := client.Do(req)
		if err != nil {
			return page{}, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return page{}, err
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotModified && resp.StatusCode != http.StatusNotFound {
			return page{}, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		policy := httppolicy.Policy(resp.Header, time.Now(), httppolicy.Options{})
		if err := flightcache.SetPolicy(ctx, url, policy); err != nil {
			return page{}, err
		}
		switch resp.StatusCode {
		case http.StatusNotModified:
			return page{}, flightcache.ErrNotModified
		case http.StatusNotFound:
			return page{}, flightcache.ErrNotFound
		}
		return page{Body: string(body), ETag: resp.Header.Get("ETag")}, nil
	}
}

// run reads each path n times straight from the upstream, then n times
// through a Loader, and prints what the upstream saw.
func run(w io.Writer, n int) error {
	up := newUpstream()
	srv := httptest.NewServer(up)
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	without := map[string]int{}
	for _, p := range paths {
		for range n {
			resp, err := client.Get(srv.URL + p.path)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		without[p.path], _, _ = up.counts(p.path)
	}
	up.reset()

	lru, err := lrustore.New[string, page](100)
	if err != nil {
		return err
	}
	pages, err := flightcache.New[string, page](lru, &flightcache.Options{})
	if err != nil {
		return err
	}
	defer pages.Close()
	load := fetch(client)

	served := map[string]map[flightcache.Served]int{}
	var trace strings.Builder
	for _, p := range paths {
		served[p.path] = map[flightcache.Served]int{}
		url := srv.URL + p.path
		for i := range n {
			if p.path == "/live" && i == n/2 {
				up.change(p.path)
			}
			r, err := pages.GetOrLoadResult(ctx, url, load)
			if err != nil && !errors.Is(err, flightcache.ErrNotFound) {
				return err
			}
			served[p.path][r.Served]++
			if err := pages.Wait(ctx); err != nil { // for the revalidation it started, if any
				return err
			}
			if p.path == "/live" {
				_, _, last := up.counts(p.path)
				fmt.Fprintf(&trace, "  read %2d: %-7s %-9q  then the upstream answered %d\n", i+1, r.Served, r.Value.Body, last)
			}
		}
	}

	fmt.Fprintf(w, "%d reads of each path, straight to the upstream and through a flightcache.Loader:\n\n", n)
	fmt.Fprintf(w, "%-48s %s\n", "", "upstream requests")
	fmt.Fprintf(w, "%-9s %-38s %8s %5s %6s  %s\n", "path", "Cache-Control", "without", "with", "(304)", "reads through the Loader")
	for _, p := range paths {
		cc := p.cacheControl
		if p.path == "/missing" {
			cc = "404, " + cc
		}
		with, notModified, _ := up.counts(p.path)
		fmt.Fprintf(w, "%-9s %-38s %8d %5d %6s  %s\n", p.path, cc, without[p.path], with, fmt.Sprintf("(%d)", notModified), tally(served[p.path]))
	}
	fmt.Fprintf(w, "\n/live, read by read: each stale read is served at once and revalidated in the\nbackground (the upstream's version changes before read %d):\n", n/2+1)
	fmt.Fprint(w, trace.String())

	// Loader.Refresh revalidates a fresh entry now, in the background.
	if err := pages.Refresh(ctx, srv.URL+"/static", load); err != nil {
		return err
	}
	if err := pages.Wait(ctx); err != nil {
		return err
	}
	_, notModified, last := up.counts("/static")
	r, err := pages.GetOrLoadResult(ctx, srv.URL+"/static", load)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nLoader.Refresh of /static: a conditional GET, answered %d (%d so far); the next read is %s: %q.\n", last, notModified, r.Served, r.Value.Body)
	return nil
}

// tally says how many reads were served each way.
func tally(m map[flightcache.Served]int) string {
	var parts []string
	for _, s := range []flightcache.Served{flightcache.ServedLoaded, flightcache.ServedFresh, flightcache.ServedStale, flightcache.ServedStandIn} {
		if m[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[s], s))
		}
	}
	return strings.Join(parts, ", ")
}
