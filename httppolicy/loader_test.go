package httppolicy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/httppolicy"
)

// page is a cached response body with its validator.
type page struct {
	Body string
	ETag string
}

// origin is an upstream served in memory (no sockets, so that synctest's
// clock can run): each path answers with its Cache-Control and an ETag,
// and 304 to a matching If-None-Match.
type origin struct {
	originCounts
	cc      map[string]string // path → Cache-Control; absent: 404
	version map[string]int    // path → version, in the body and the ETag
	fail    bool              // answer 500
}

// originCounts is what a fake origin counts, under its lock: the requests
// it was sent and the 304s it answered.
type originCounts struct {
	mu       sync.Mutex
	requests int
	notMod   int
}

func (o *originCounts) counts() (requests, notModified int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests, o.notMod
}

func (o *origin) RoundTrip(req *http.Request) (*http.Response, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests++
	w := httptest.NewRecorder()
	cc, ok := o.cc[req.URL.Path]
	etag := fmt.Sprintf("%q", fmt.Sprint(req.URL.Path, "-v", o.version[req.URL.Path]))
	switch {
	case o.fail:
		w.WriteHeader(http.StatusInternalServerError)
	case !ok:
		w.Header().Set("Cache-Control", "max-age=10")
		w.WriteHeader(http.StatusNotFound)
	case req.Header.Get("If-None-Match") == etag:
		o.notMod++
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
	default:
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("ETag", etag)
		_, _ = io.WriteString(w, etag)
	}
	return w.Result(), nil
}

// fetcher is the LoadFunc of the tests: a conditional GET whose headers set
// the entry's policy.
func fetcher(client *http.Client) flightcache.LoadFunc[string, page] {
	return func(ctx context.Context, url string) (page, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return page{}, err
		}
		prev, ok := flightcache.Previous[page](ctx, url)
		if ok && !prev.Missing && prev.Value.ETag != "" {
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
		switch resp.StatusCode {
		case http.StatusOK, http.StatusNotModified, http.StatusNotFound:
		default:
			return page{}, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if err := flightcache.SetPolicy(ctx, url, httppolicy.Policy(resp.Header, time.Now(), httppolicy.Options{})); err != nil {
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

func newHTTPLoader(t *testing.T) *flightcache.Loader[string, page] {
	t.Helper()
	store, err := lrustore.New[string, page](100)
	require.NoError(t, err)
	l, err := flightcache.New(store, &flightcache.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	return l
}

// read is one GetOrLoadResult, with how it was served.
func read(t *testing.T, l *flightcache.Loader[string, page], load flightcache.LoadFunc[string, page], url string) (flightcache.Result[page], error) {
	t.Helper()
	r, err := l.GetOrLoadResult(context.Background(), url, load)
	synctest.Wait() // let a background refresh land
	return r, err
}

func TestALoaderHonoursTheResponsesPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &origin{cc: map[string]string{"/swr": "max-age=60, stale-while-revalidate=30, stale-if-error=600"}, version: map[string]int{}}
		l, load := newHTTPLoader(t), fetcher(&http.Client{Transport: o})
		const url = "http://origin.test/swr"

		r, err := read(t, l, load, url)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)
		assert.Equal(t, `"/swr-v0"`, r.Value.ETag)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), r.FreshUntil, "max-age=60")

		time.Sleep(59 * time.Second)
		r, err = read(t, l, load, url)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedFresh, r.Served)
		reqs, _ := o.counts()
		assert.Equal(t, 1, reqs, "a fresh read reaches no upstream")

		time.Sleep(2 * time.Second) // 61 s: stale, inside stale-while-revalidate
		r, err = read(t, l, load, url)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStale, r.Served)
		reqs, notMod := o.counts()
		assert.Equal(t, 2, reqs, "the stale read revalidated in the background")
		assert.Equal(t, 1, notMod, "with If-None-Match, answered 304")

		r, err = read(t, l, load, url)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedFresh, r.Served, "the 304 made the old value fresh again")
		assert.Equal(t, `"/swr-v0"`, r.Value.ETag)
		assert.Equal(t, flightcache.DeadlineOf(time.Now().Add(time.Minute)), r.FreshUntil)

		// Past freshness and stale-while-revalidate, the source fails:
		// stale-if-error lets the old value stand in.
		time.Sleep(100 * time.Second)
		o.mu.Lock()
		o.fail = true
		o.mu.Unlock()
		r, err = read(t, l, load, url)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedStandIn, r.Served)
		assert.ErrorContains(t, r.Err, "500")
		assert.Equal(t, `"/swr-v0"`, r.Value.ETag)

		// Past stale-if-error too, the failure reaches the caller.
		time.Sleep(600 * time.Second)
		_, err = read(t, l, load, url)
		require.ErrorContains(t, err, "500")
	})
}

func TestALoaderRevalidatesAChangedResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// stale-if-error keeps the entry in the Store after its freshness,
		// for a conditional request (see TestRevalidationAfterTheWindows).
		o := &origin{cc: map[string]string{"/a": "max-age=0, stale-if-error=60"}, version: map[string]int{}}
		l, load := newHTTPLoader(t), fetcher(&http.Client{Transport: o})
		const url = "http://origin.test/a"

		r, err := read(t, l, load, url)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served)
		r, err = read(t, l, load, url)
		require.NoError(t, err)
		assert.Equal(t, flightcache.ServedLoaded, r.Served, "max-age=0: every read revalidates")
		assert.Equal(t, `"/a-v0"`, r.Value.ETag)
		reqs, notMod := o.counts()
		assert.Equal(t, []int{2, 1}, []int{reqs, notMod})

		o.mu.Lock()
		o.version["/a"] = 1
		o.mu.Unlock()
		r, err = read(t, l, load, url)
		require.NoError(t, err)
		assert.Equal(t, `"/a-v1"`, r.Value.ETag, "a changed response is a 200 with the new value")
		reqs, notMod = o.counts()
		assert.Equal(t, []int{3, 1}, []int{reqs, notMod})
	})
}

func TestALoaderCachesA404AsLongAsItsMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &origin{cc: map[string]string{}, version: map[string]int{}}
		l, load := newHTTPLoader(t), fetcher(&http.Client{Transport: o})
		const url = "http://origin.test/gone"

		for range 3 {
			_, err := read(t, l, load, url)
			require.ErrorIs(t, err, flightcache.ErrNotFound)
		}
		reqs, _ := o.counts()
		assert.Equal(t, 1, reqs, "the 404's max-age=10 is MissingFor")

		time.Sleep(11 * time.Second)
		_, err := read(t, l, load, url)
		require.ErrorIs(t, err, flightcache.ErrNotFound)
		reqs, _ = o.counts()
		assert.Equal(t, 2, reqs)
	})
}

func TestALoaderStoresNothingUnderNoStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &origin{cc: map[string]string{"/private": "private, max-age=600"}, version: map[string]int{}}
		l, load := newHTTPLoader(t), fetcher(&http.Client{Transport: o})
		const url = "http://origin.test/private"
		for range 3 {
			r, err := read(t, l, load, url)
			require.NoError(t, err)
			assert.Equal(t, flightcache.ServedLoaded, r.Served)
		}
		reqs, notMod := o.counts()
		assert.Equal(t, []int{3, 0}, []int{reqs, notMod}, "nothing stored, so nothing to revalidate either")
	})
}

// TestPreviousWithTheWrongValueTypeSaysNothing pins a sharp edge of the root
// API met while writing the fetcher: Previous with a V other than the
// Loader's reports a cold miss, silently, so a load that names the wrong
// type never sends a conditional request. SetPolicy with a key of the wrong
// type at least returns an error.
func TestPreviousWithTheWrongValueTypeSaysNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newHTTPLoader(t)
		type url string
		var sawPrev, sawWrong bool
		var policyErr error
		load := func(ctx context.Context, key string) (page, error) {
			_, sawPrev = flightcache.Previous[page](ctx, key)
			_, sawWrong = flightcache.Previous[*page](ctx, key)
			policyErr = flightcache.SetPolicy(ctx, url(key), flightcache.EntryPolicy{})
			return page{}, nil
		}
		_, err := l.GetOrLoad(context.Background(), "k", load)
		require.NoError(t, err)
		require.NoError(t, l.Refresh(context.Background(), "k", load))
		synctest.Wait()
		assert.True(t, sawPrev)
		assert.False(t, sawWrong, "the wrong V is a cold miss, with no error anywhere")
		assert.Error(t, policyErr, "the wrong K is an error")
	})
}
