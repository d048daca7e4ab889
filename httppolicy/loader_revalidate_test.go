package httppolicy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/httppolicy"
)

// stored is a cached response: its body and the header NotModified
// updates.
type stored struct {
	Body   string
	Header http.Header
}

// userKey is the context key of the user a load asks for.
type userKey struct{}

// asUser is ctx for a caller who is user.
func asUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// exchangeOrigin is an upstream served in memory whose answer to a path
// is its Cache-Control, an ETag, and a body naming the user of the
// request's Authorization; a matching If-None-Match gets a 304 with
// cc304 as its Cache-Control (none when empty). A request waits for gate,
// when it is set.
type exchangeOrigin struct {
	originCounts
	cc    string
	cc304 string
	gate  chan struct{}
}

func (o *exchangeOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	o.mu.Lock()
	gate := o.gate
	o.mu.Unlock()
	if gate != nil {
		<-gate
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests++
	w := httptest.NewRecorder()
	w.Header().Set("ETag", `"v1"`)
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if req.Header.Get("If-None-Match") == `"v1"` {
		o.notMod++
		if o.cc304 != "" {
			w.Header().Set("Cache-Control", o.cc304)
		}
		w.WriteHeader(http.StatusNotModified)
		return w.Result(), nil
	}
	w.Header().Set("Cache-Control", o.cc)
	_, _ = fmt.Fprintf(w, "for %s", req.Header.Get("Authorization"))
	return w.Result(), nil
}

// exchangeFetcher is the LoadFunc a user of httppolicy writes: a GET with
// the caller's credentials, conditional when the entry it replaces has an
// ETag; Exchange sets the policy of a 200, NotModified that of a 304.
func exchangeFetcher(client *http.Client) flightcache.LoadFunc[string, stored] {
	return func(ctx context.Context, url string) (stored, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return stored{}, err
		}
		if user, ok := ctx.Value(userKey{}).(string); ok {
			req.Header.Set("Authorization", user)
		}
		prev, hasPrev := flightcache.Previous[stored](ctx, url)
		if hasPrev && prev.Value.Header.Get("ETag") != "" {
			req.Header.Set("If-None-Match", prev.Value.Header.Get("ETag"))
		}
		resp, err := client.Do(req)
		if err != nil {
			return stored{}, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return stored{}, err
		}
		if resp.StatusCode == http.StatusNotModified && hasPrev {
			_, p, err := httppolicy.NotModified(req, prev.Value.Header, resp, time.Now(), httppolicy.Options{})
			if err != nil {
				return stored{}, err
			}
			if err := flightcache.SetPolicy(ctx, url, p); err != nil {
				return stored{}, err
			}
			return stored{}, flightcache.ErrNotModified
		}
		if resp.StatusCode != http.StatusOK {
			return stored{}, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if err := flightcache.SetPolicy(ctx, url, httppolicy.Exchange(req, resp, time.Now(), httppolicy.Options{})); err != nil {
			return stored{}, err
		}
		return stored{Body: string(body), Header: resp.Header}, nil
	}
}

// newStoredLoader is a Loader of stored responses, closed with the test.
func newStoredLoader(t *testing.T) *flightcache.Loader[string, stored] {
	t.Helper()
	store, err := lrustore.New[string, stored](100)
	require.NoError(t, err)
	l, err := flightcache.New(store, &flightcache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	return l
}

// TestA304WithoutCacheControlRenewsTheEntry is issue 25's input 2 through
// a Loader (gregjones/httpcache#29, bartventer/httpcache#27): the origin's
// 304s carry no Cache-Control. With the 304's header alone the
// revalidated entry had no lifetime, and every later read went upstream;
// NotModified keeps the stored max-age=60, counted from the 304.
func TestA304WithoutCacheControlRenewsTheEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &exchangeOrigin{cc: "max-age=60, stale-while-revalidate=30"}
		l, load := newStoredLoader(t), exchangeFetcher(&http.Client{Transport: o})
		const url = "http://origin.test/page"
		ctx := context.Background()

		_, err := l.GetOrLoad(ctx, url, load)
		require.NoError(t, err)
		time.Sleep(61 * time.Second)
		r, err := l.GetOrLoadResult(ctx, url, load)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStale, r.Served)
		synctest.Wait() // the background revalidation, answered 304
		for range 10 {
			time.Sleep(5 * time.Second)
			r, err := l.GetOrLoadResult(ctx, url, load)
			require.NoError(t, err)
			assert.Equal(t, flightcache.ServedFresh, r.Served, "fresh for 60 s after the 304")
			assert.Equal(t, "for ", r.Value.Body)
		}
		reqs, notMod := o.counts()
		assert.Equal(t, []int{2, 1}, []int{reqs, notMod}, "10 reads after the 304 went nowhere")
	})
}
