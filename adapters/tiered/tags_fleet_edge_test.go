package tiered_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
	"github.com/flightcache/flightcache/adapters/tiered"
)

// Tags with odd bytes (spaces, NUL, invalid UTF-8, the letters of the
// log's fields and messages) travel the log's messages and its replay to
// an instance started later.
func TestOddTagsAcrossTheFleet(t *testing.T) {
	odd := []string{"a b", " lead", "trail ", "\x00nul", "\xff\xfe", "c", "t", "s", "f", "tc", "tf", "f 1", "k x", "1 2 3", "ü ✓"}
	f := newTagFleet(t)
	a := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	b := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	ctx := context.Background()
	for i, tag := range odd {
		key := "o" + string(rune('a'+i))
		load := func(ctx context.Context, key string) (string, error) {
			return key + "@" + time.Now().String(), flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: []string{tag}})
		}
		_, err := a.loader.GetOrLoad(ctx, key, load)
		require.NoError(t, err)
		_, err = b.loader.GetOrLoad(ctx, key, load)
		require.NoError(t, err)
		require.NotEmpty(t, serves(t, b, key), "tag %q", tag)
		require.NoError(t, a.loader.InvalidateTag(ctx, tag))
		untilGone(t, b, []string{key}, time.Now(), tagVisibility)
		late := f.member(redistest.Client(t), redisstore.Options[string, string]{})
		assert.Empty(t, serves(t, late, key), "tag %q: an instance started later replays it", tag)
	}
}

// pausingStore is an instance's tiered Store, fencing as it does, whose
// next read, once armed, stops after reading until resumed.
type pausingStore struct {
	tiered.Store[string, string]
	paused chan struct{}
	resume chan struct{}
}

func (s *pausingStore) pause() {
	if s.paused != nil {
		close(s.paused)
		s.paused = nil
		<-s.resume
	}
}

func (s *pausingStore) Get(ctx context.Context, key string) (flightcache.Entry[string], bool, error) {
	e, ok, err := s.Store.Get(ctx, key)
	s.pause()
	return e, ok, err
}

func (s *pausingStore) GetVersioned(ctx context.Context, key string) (flightcache.Entry[string], bool, flightcache.Version, error) {
	e, ok, v, err := s.Store.(flightcache.Fencer[string, string]).GetVersioned(ctx, key)
	s.pause()
	return e, ok, v, err
}

func (s *pausingStore) SetIfVersion(ctx context.Context, key string, e flightcache.Entry[string], v flightcache.Version) (bool, error) {
	return s.Store.(flightcache.Fencer[string, string]).SetIfVersion(ctx, key, e, v)
}

// Expire on instance A reads the entry, makes it stale and writes it back.
// A Set on instance B that lands between that read and that write is a
// newer write: rule 9 ("Set and Invalidate on any instance win") and rule
// 13 ("A Redis call an instance gave up on never takes effect later over
// a newer write") say B's value stands; Expire's doc says it "wins over
// the loads of key in flight", not over a newer Set.
func TestExpireDoesNotWriteAnOldValueOverANewerSetElsewhere(t *testing.T) {
	f := newTagFleet(t)
	a := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	b := f.member(redistest.Client(t), redisstore.Options[string, string]{})
	ctx := context.Background()
	policy := flightcache.EntryPolicy{FreshFor: time.Hour, StaleFor: time.Hour}
	require.NoError(t, a.loader.SetWithPolicy(ctx, "k", "old", policy))

	ps := &pausingStore{Store: a.store, paused: make(chan struct{}), resume: make(chan struct{})}
	expirer, err := flightcache.New[string, string](ps, &flightcache.Options{FreshFor: time.Hour})
	require.NoError(t, err)
	defer expirer.Close()
	paused := ps.paused
	done := make(chan error, 1)
	go func() { done <- expirer.Expire(ctx, "k") }()
	<-paused
	require.NoError(t, b.loader.SetWithPolicy(ctx, "k", "new", policy))
	close(ps.resume)
	require.NoError(t, <-done)
	time.Sleep(tagVisibility)
	for name, m := range map[string]*tagMember{"A": a, "B": b} {
		assert.Equal(t, "new", serves(t, m, "k"), "instance %s: the Set made after Expire read the entry stands", name)
	}
}
