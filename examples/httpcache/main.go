// Command httpcache puts a flightcache.Loader in front of an HTTP upstream
// (an httptest.Server in the same program) that honours the upstream's
// caching headers and revalidates with ETags: each load is a conditional
// GET (If-None-Match from the entry it replaces, flightcache.Previous);
// httppolicy.Exchange turns a response and the request it answers into the
// entry's policy (flightcache.SetPolicy), and httppolicy.NotModified
// merges a 304 into the header kept with the value and gives the policy of
// the result, which the load sets before answering
// flightcache.ErrNotModified. It prints how many requests reached the
// upstream with and without the Loader, and how each read was served.
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
// Cache-Control each answers with. /missing answers 404; /page's 200 says
// it has spent its max-age in a cache upstream already (Age: 60);
// /dashboard is read by two users in turn, each with their Authorization.
var paths = []struct{ path, cacheControl string }{
	{"/static", "max-age=3600"},
	{"/live", "max-age=0, stale-while-revalidate=60"},
	{"/page", "max-age=60"},
	{"/private", "no-store"},
	{"/missing", "max-age=60"},
	{"/dashboard", "max-age=60"},
}

// page is a cached response: its body, and its header for the next
// conditional request (the ETag) and for the 304 that answers it
// (httppolicy.NotModified).
type page struct {
	Body   string
	Header http.Header
}

// userKey is the context key of the caller's credentials, which the load
// forwards as Authorization.
type userKey struct{}

// fetch is the LoadFunc: a GET of url, with the caller's credentials,
// conditional when the entry it replaces has an ETag, whose response (and
// request) set the entry's policy.
func fetch(client *http.Client) flightcache.LoadFunc[string, page] {
	return func(ctx context.Context, url string) (page, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return page{}, err
		}
		if user, ok := ctx.Value(userKey{}).(string); ok {
			req.Header.Set("Authorization", "Bearer "+user)
		}
		prev, hasPrev := flightcache.Previous[page](ctx, url)
		if hasPrev && prev.Value.Header.Get("ETag") != "" {
			req.Header.Set("If-None-Match", prev.Value.Header.Get("ETag"))
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
		switch {
		case resp.StatusCode == http.StatusNotModified && hasPrev:
			_, policy, err := httppolicy.NotModified(req, prev.Value.Header, resp, time.Now(), httppolicy.Options{})
			if err != nil {
				return page{}, err
			}
			if err := flightcache.SetPolicy(ctx, url, policy); err != nil {
				return page{}, err
			}
			return page{}, flightcache.ErrNotModified
		case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound:
			return page{}, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		policy := httppolicy.Exchange(req, resp, time.Now(), httppolicy.Options{})
		if err := flightcache.SetPolicy(ctx, url, policy); err != nil {
			return page{}, err
		}
		if resp.StatusCode == http.StatusNotFound {
			return page{}, flightcache.ErrNotFound
		}
		return page{Body: string(body), Header: resp.Header}, nil
	}
}

// userFor is who reads /dashboard the i-th time (from 0): a and b in turn.
func userFor(path string, i int) (string, bool) {
	if path != "/dashboard" {
		return "", false
	}
	return []string{"a", "b"}[i%2], true
}

// run reads each path n times straight from the upstream, then n times
// through a Loader, and prints what the upstream saw.
func run(w io.Writer, n int) error {
	up := newUpstream()
	srv := httptest.NewServer(up)
	defer srv.Close()
	client := srv.Client()
	ctx := context.Background()

	without, err := readWithout(ctx, client, srv.URL, up, n)
	if err != nil {
		return err
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
	with := &reads{served: map[string]map[flightcache.Served]int{}, traces: map[string]*strings.Builder{"/live": {}, "/page": {}}}
	for _, p := range paths {
		if err := with.read(ctx, pages, load, srv.URL, p.path, up, n); err != nil {
			return err
		}
	}
	with.print(w, without, up, n)

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

// readWithout reads each path n times straight from the upstream, and
// returns how many requests each got.
func readWithout(ctx context.Context, client *http.Client, base string, up *upstream, n int) (map[string]int, error) {
	without := map[string]int{}
	for _, p := range paths {
		for i := range n {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+p.path, nil)
			if err != nil {
				return nil, err
			}
			if user, ok := userFor(p.path, i); ok {
				req.Header.Set("Authorization", "Bearer "+user)
			}
			resp, err := client.Do(req)
			if err != nil {
				return nil, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		without[p.path], _, _ = up.counts(p.path)
	}
	return without, nil
}

// reads is what the reads through the Loader saw: how each path's reads
// were served, the read-by-read traces of /live and /page, and how many
// reads of /dashboard got another user's.
type reads struct {
	served    map[string]map[flightcache.Served]int
	traces    map[string]*strings.Builder
	wrongUser int
}

// read reads path n times through pages.
func (rs *reads) read(ctx context.Context, pages *flightcache.Loader[string, page], load flightcache.LoadFunc[string, page], base, path string, up *upstream, n int) error {
	rs.served[path] = map[flightcache.Served]int{}
	for i := range n {
		if path == "/live" && i == n/2 {
			up.change(path)
		}
		rctx := ctx
		user, byUser := userFor(path, i)
		if byUser {
			rctx = context.WithValue(ctx, userKey{}, user)
		}
		r, err := pages.GetOrLoadResult(rctx, base+path, load)
		if err != nil && !errors.Is(err, flightcache.ErrNotFound) {
			return err
		}
		rs.served[path][r.Served]++
		if byUser && r.Value.Body != "dashboard of "+user {
			rs.wrongUser++
		}
		if err := pages.Wait(ctx); err != nil { // for the revalidation it started, if any
			return err
		}
		if tr, ok := rs.traces[path]; ok && (path == "/live" || i < 3) {
			_, _, last := up.counts(path)
			fmt.Fprintf(tr, "  read %2d: %-7s %-9q  then the upstream answered %d\n", i+1, r.Served, r.Value.Body, last)
		}
	}
	return nil
}

// print writes the table of requests and reads, and the traces.
func (rs *reads) print(w io.Writer, without map[string]int, up *upstream, n int) {
	fmt.Fprintf(w, "%d reads of each path, straight to the upstream and through a flightcache.Loader:\n\n", n)
	fmt.Fprintf(w, "%-50s %s\n", "", "upstream requests")
	fmt.Fprintf(w, "%-11s %-38s %8s %5s %6s  %s\n", "path", "Cache-Control", "without", "with", "(304)", "reads through the Loader")
	for _, p := range paths {
		cc := p.cacheControl
		switch p.path {
		case "/missing":
			cc = "404, " + cc
		case "/page":
			cc += ", Age: 60"
		case "/dashboard":
			cc += ", to Authorization"
		}
		with, notModified, _ := up.counts(p.path)
		fmt.Fprintf(w, "%-11s %-38s %8d %5d %6s  %s\n", p.path, cc, without[p.path], with, fmt.Sprintf("(%d)", notModified), tally(rs.served[p.path]))
	}
	fmt.Fprintf(w, "\n/live, read by read: each stale read is served at once and revalidated in the\nbackground (the upstream's version changes before read %d):\n", n/2+1)
	fmt.Fprint(w, rs.traces["/live"].String())
	fmt.Fprint(w, "\n/page, first reads: past its max-age on arrival and with no stale window, it is\nkept for its ETag (KeepFor); the next read revalidates it, and the 304, without\nCache-Control, makes it fresh for its max-age again (httppolicy.NotModified):\n")
	fmt.Fprint(w, rs.traces["/page"].String())
	fmt.Fprintf(w, "\n/dashboard, read by users a and b in turn under one key: an answer to a request\nwith Authorization is its caller's only (EntryPolicy.Private); reads given\nanother user's dashboard: %d.\n", rs.wrongUser)
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
