package flightcache_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
)

// fenceStore is a shared store that fences writes, as redisstore does: every
// write advances the key's Version, and SetIfVersion writes only if the
// Version is still the one given.
type fenceStore struct {
	*memStore[string]
	mu       sync.Mutex
	versions map[string]flightcache.Version
	next     flightcache.Version
	fenced   int // SetIfVersion calls that did not write
}

func newFenceStore() *fenceStore {
	return &fenceStore{memStore: newMemStore[string](), versions: make(map[string]flightcache.Version)}
}

func (s *fenceStore) bump(key string) {
	s.next++
	s.versions[key] = s.next
}

func (s *fenceStore) Set(ctx context.Context, key string, e flightcache.Entry[string]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bump(key)
	return s.memStore.Set(ctx, key, e)
}

func (s *fenceStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bump(key)
	return s.memStore.Delete(ctx, key)
}

func (s *fenceStore) GetVersioned(ctx context.Context, key string) (flightcache.Entry[string], bool, flightcache.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok, err := s.memStore.Get(ctx, key)
	return e, ok, s.versions[key], err
}

func (s *fenceStore) SetIfVersion(ctx context.Context, key string, e flightcache.Entry[string], v flightcache.Version) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.versions[key] != v {
		s.fenced++
		return false, nil
	}
	s.bump(key)
	return true, s.memStore.Set(ctx, key, e)
}

func (s *fenceStore) GetManyVersioned(ctx context.Context, keys []string) (map[string]flightcache.Entry[string], map[string]flightcache.Version, error) {
	entries, versions := make(map[string]flightcache.Entry[string]), make(map[string]flightcache.Version)
	for _, k := range keys {
		e, ok, v, _ := s.GetVersioned(ctx, k)
		if ok {
			entries[k] = e
		}
		versions[k] = v
	}
	return entries, versions, nil
}

func (s *fenceStore) SetManyIfVersion(ctx context.Context, entries map[string]flightcache.Entry[string], versions map[string]flightcache.Version) (map[string]bool, error) {
	written := make(map[string]bool)
	for k, e := range entries {
		ok, _ := s.SetIfVersion(ctx, k, e, versions[k])
		written[k] = ok
	}
	return written, nil
}

func (s *fenceStore) fencedWrites() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fenced
}

// TestASetOnOneInstanceWinsOverASlowFillOnAnother: instance A's load reads
// v1 and is slow; instance B sets v2; A's load ends. A's write is fenced
// out, and every instance, a new one too, serves v2 (rule 9), for a single
// load, a stale-while-revalidate refresh and a batch.
func TestASetOnOneInstanceWinsOverASlowFillOnAnother(t *testing.T) {
	for _, kind := range []string{"single", "refresh", "batch"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				shared := newFenceStore()
				opts := &flightcache.Options{FreshFor: time.Minute, StaleFor: time.Hour}
				a, b := newLoader(t, shared, opts), newLoader(t, shared, opts)
				gate := make(chan struct{})
				slow := func(context.Context, string) (string, error) {
					<-gate
					return "v1", nil // read before B's write
				}
				slowMany := func(_ context.Context, keys []string) (map[string]string, error) {
					<-gate
					return map[string]string{keys[0]: "v1"}, nil
				}
				if kind == "refresh" {
					require.NoError(t, a.Set(context.Background(), "k", "v0"))
					time.Sleep(2 * time.Minute) // v0 is stale
				}
				go func() {
					switch kind {
					case "batch":
						_, _ = a.GetOrLoadMany(context.Background(), []string{"k"}, slowMany)
					default:
						_, _ = a.GetOrLoad(context.Background(), "k", slow) // a miss, or a stale read that refreshes
					}
				}()
				synctest.Wait()
				require.NoError(t, b.Set(context.Background(), "k", "v2"))
				close(gate)
				synctest.Wait()

				assert.Equal(t, 1, shared.fencedWrites(), "A's write was fenced out")
				c := newLoader(t, shared, opts)
				for _, l := range []*flightcache.Loader[string, string]{a, b, c} {
					v, err := l.GetOrLoad(context.Background(), "k", slow)
					require.NoError(t, err)
					assert.Equal(t, "v2", v)
				}
			})
		})
	}
}
