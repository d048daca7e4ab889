package httppolicy_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// The tests in this file run httppolicy's KeepFor and Private through a
// Loader: they pass once the root package gives EntryPolicy.KeepFor and
// EntryPolicy.Private their effect (DESIGN, issue 22); before that, the
// Loader drops an entry at the end of its serving windows and lets callers
// join a private load.

// TestALoaderRevalidatesAResponsePastItsMaxAge is issue 25's input 3
// (the suite's cc-resp-must-revalidate-stale): a max-age=60 response with
// an ETag and no stale window is revalidated with a conditional request
// after its 60 s, answered 304, not downloaded again. Needs the root's
// KeepFor.
func TestALoaderRevalidatesAResponsePastItsMaxAge(t *testing.T) {
	for _, cc := range []string{"max-age=60", "max-age=60, must-revalidate"} {
		t.Run(cc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := &exchangeOrigin{cc: cc}
				l, load := newStoredLoader(t), exchangeFetcher(&http.Client{Transport: o})
				const url = "http://origin.test/page"
				ctx := context.Background()

				_, err := l.GetOrLoad(ctx, url, load)
				require.NoError(t, err)
				time.Sleep(61 * time.Second)
				r, err := l.GetOrLoadResult(ctx, url, load)
				require.NoError(t, err)
				assert.Equal(t, flightcache.ServedLoaded, r.Served)
				assert.Equal(t, "for ", r.Value.Body)
				reqs, notMod := o.counts()
				assert.Equal(t, []int{2, 1}, []int{reqs, notMod}, "the second request conditional, answered 304")

				r, err = l.GetOrLoadResult(ctx, url, load)
				require.NoError(t, err)
				assert.Equal(t, flightcache.ServedFresh, r.Served, "fresh again for 60 s")
			})
		})
	}
}

// TestALoaderRevalidatesANoCacheResponseEveryTime is input 3 for no-cache
// (the suite's cc-resp-no-cache-revalidate): every read goes upstream, and
// every one after the first is conditional. Needs the root's KeepFor.
func TestALoaderRevalidatesANoCacheResponseEveryTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &exchangeOrigin{cc: "no-cache"}
		l, load := newStoredLoader(t), exchangeFetcher(&http.Client{Transport: o})
		const url = "http://origin.test/page"
		for range 3 {
			r, err := l.GetOrLoadResult(context.Background(), url, load)
			require.NoError(t, err)
			assert.Equal(t, flightcache.ServedLoaded, r.Served)
		}
		reqs, notMod := o.counts()
		assert.Equal(t, []int{3, 2}, []int{reqs, notMod})
	})
}

// TestAResponseForOneUserIsNotSharedWithCallersThatJoined is input 4
// (moonrhythm/parapet#185, tempesta-tech/tempesta#3) at its sharpest: a
// Loader keyed on the URL whose load forwards the caller's credentials.
// User B, asking while user A's load is in flight, must get B's answer,
// not A's, whether the answer is private or merely a response to a request
// with Authorization. Needs the root's Private (callers do not join a
// private load); the sequential half holds already, through NoStore.
func TestAResponseForOneUserIsNotSharedWithCallersThatJoined(t *testing.T) {
	for _, cc := range []string{"max-age=60", "private, max-age=60"} {
		t.Run(cc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := &exchangeOrigin{cc: cc}
				l, load := newStoredLoader(t), exchangeFetcher(&http.Client{Transport: o})
				const url = "http://origin.test/dashboard"

				// One after the other: nothing of A's is stored for B.
				for _, user := range []string{"a", "b"} {
					v, err := l.GetOrLoad(asUser(context.Background(), user), url, load)
					require.NoError(t, err)
					assert.Equal(t, "for "+user, v.Body)
				}

				// At once: B arrives while A's load waits on the origin.
				gate := make(chan struct{})
				o.mu.Lock()
				o.gate = gate
				o.mu.Unlock()
				got := make([]string, 2)
				var wg sync.WaitGroup
				for i, user := range []string{"a", "b"} {
					wg.Go(func() {
						v, err := l.GetOrLoad(asUser(context.Background(), user), url, load)
						assert.NoError(t, err)
						got[i] = v.Body
					})
					synctest.Wait()
				}
				close(gate)
				wg.Wait()
				assert.Equal(t, []string{"for a", "for b"}, got, "each user gets their own answer")
			})
		})
	}
}
