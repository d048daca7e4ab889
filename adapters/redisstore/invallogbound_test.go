package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// logFields returns the fields of s's log of invalidations and the instants
// they hold.
func logFields(t *testing.T, c redis.UniversalClient, s *redisstore.Store[string, string]) map[string]flightcache.Deadline {
	t.Helper()
	raw, err := c.HGetAll(context.Background(), s.InvalidationLogKey()).Result()
	require.NoError(t, err)
	fields := make(map[string]flightcache.Deadline, len(raw))
	for f, v := range raw {
		at, ok := redisstore.ParseLogAt(v)
		require.True(t, ok, "field %q holds %q", f, v)
		fields[f] = at
	}
	return fields
}

// tagFields counts the fields of tags among fields, and fails the test on
// a field that is neither a tag's, nor "c", nor "f".
func tagFields(t *testing.T, fields map[string]flightcache.Deadline) int {
	t.Helper()
	n := 0
	for f := range fields {
		switch {
		case strings.HasPrefix(f, "t"):
			n++
		case f != "c" && f != "f":
			t.Fatalf("unexpected field %q in the log: %v", f, fields)
		}
	}
	return n
}

// TestTheLogKeepsAtMostMaxLogTagsTags: with MaxLogTags 8, 100 distinct
// tags recorded (in order of their instants, and out of it) leave at most
// 8 tag fields in the hash, and a fold ("f") that covers every tag whose
// field went, and none of those kept; a watcher started afterwards is
// given the fold as a Tagged invalidation (not a Clear) and the tags kept.
// On every topology: the fold is one script on one key.
func TestTheLogKeepsAtMostMaxLogTagsTags(t *testing.T) {
	redistest.ForEach(t, testTheLogKeepsAtMostMaxLogTagsTags)
}

func testTheLogKeepsAtMostMaxLogTagsTags(t *testing.T, c redis.UniversalClient) {
	orders := map[string]func(i int) int{
		"in order":     func(i int) int { return i },
		"out of order": func(i int) int { return i * 37 % 100 },
	}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			prefix := redistest.Prefix(t)
			s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, ClockSkew: -1, MaxLogTags: 8})
			base := at(time.Now())
			recorded := map[string]flightcache.Deadline{}
			for i := range 100 {
				tag := fmt.Sprintf("tag-%d", i)
				inv, err := s.LogInvalidation(ctx, flightcache.Invalidation{Tag: tag, At: base.Add(time.Duration(order(i)) * time.Millisecond)})
				require.NoError(t, err)
				recorded[tag] = inv.At
				require.LessOrEqual(t, tagFields(t, logFields(t, c, s)), 8, "after %d tags", i+1)
			}
			fields := logFields(t, c, s)
			fold, ok := fields["f"]
			require.True(t, ok, "folded: %v", fields)
			assert.NotContains(t, fields, "c", "a fold is no Clear")
			for tag, at := range recorded {
				if kept, ok := fields["t"+tag]; ok {
					assert.Equal(t, at, kept, "%s: kept as recorded", tag)
					assert.True(t, kept.After(fold), "%s: a tag kept is later than the fold", tag)
				} else {
					assert.False(t, fold.Before(at), "%s: folded, so covered by the fold", tag)
				}
			}

			late := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
			w := watch(t, late)
			got, ok := w.latestOf(flightcache.Invalidation{Tagged: true})
			require.True(t, ok, "the fold is replayed as a Tagged invalidation")
			assert.Equal(t, fold, got)
			_, ok = w.latest("")
			assert.False(t, ok, "and not as a Clear")
			for f, at := range fields {
				if tag, ok := strings.CutPrefix(f, "t"); ok {
					assert.True(t, w.has(flightcache.Invalidation{Tag: tag, At: at}), "the tag kept, %s, is replayed", tag)
				}
			}
		})
	}
}

// TestALoaderStartedAfterAFoldJudgesEntriesByIt: an instance invalidates
// 100 distinct tags over a log that keeps 8; a Loader started afterwards
// replays the fold, and treats an entry tagged with an early tag, whose
// field was folded, and loaded before the fold as gone (as it would an
// entry of any tag loaded then: the fold's price), serves an untagged
// entry loaded before it, and serves a tagged entry loaded after it.
func TestALoaderStartedAfterAFoldJudgesEntriesByIt(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	loader := func() (*flightcache.Loader[string, string], *redisstore.Store[string, string]) {
		s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, MaxLogTags: 8})
		l, err := flightcache.New[string, string](s, &flightcache.Options{FreshFor: time.Hour})
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		return l, s
	}
	tags := map[string][]string{"early": {"tag-0"}, "never": {"never-invalidated"}, "plain": nil, "after": {"tag-1"}}
	load := func(ctx context.Context, key string) (string, error) {
		return key, flightcache.SetPolicy(ctx, key, flightcache.EntryPolicy{FreshFor: time.Hour, Tags: tags[key]})
	}
	a, s := loader()
	for _, k := range []string{"early", "never", "plain"} {
		_, err := a.GetOrLoad(ctx, k, load)
		require.NoError(t, err)
	}
	for i := range 100 {
		require.NoError(t, a.InvalidateTag(ctx, fmt.Sprintf("tag-%d", i)))
	}
	_, err := a.GetOrLoad(ctx, "after", load)
	require.NoError(t, err)
	fields := logFields(t, c, s)
	require.LessOrEqual(t, tagFields(t, fields), 8)
	require.NotContains(t, fields, "ttag-0", "the early tag was folded")
	require.Contains(t, fields, "f")

	b, _ := loader()
	for key, want := range map[string]bool{"early": false, "never": false, "plain": true, "after": true} {
		_, ok, err := b.Peek(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, want, ok, "%s (tags %v) served by a Loader started after the fold", key, tags[key])
	}
}

// TestAClearDropsTheFoldItCovers: a Clear deletes the fold when it is at
// or after its instant, as it deletes the tags' fields, and leaves a later
// fold alone.
func TestAClearDropsTheFoldItCovers(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{ClockSkew: -1, MaxLogTags: 2})
	base := at(time.Now())
	for i := range 3 {
		_, err := s.LogInvalidation(ctx, flightcache.Invalidation{Tag: fmt.Sprintf("tag-%d", i), At: base.Add(time.Duration(i+1) * time.Millisecond)})
		require.NoError(t, err)
	}
	fold, ok := logFields(t, c, s)["f"]
	require.True(t, ok, "folded")

	_, err := s.LogInvalidation(ctx, flightcache.Invalidation{At: base})
	require.NoError(t, err)
	assert.Equal(t, fold, logFields(t, c, s)["f"], "a Clear before the fold leaves it")

	clear, err := s.LogInvalidation(ctx, flightcache.Invalidation{At: base.Add(time.Second)})
	require.NoError(t, err)
	assert.Equal(t, map[string]flightcache.Deadline{"c": clear.At}, logFields(t, c, s), "a Clear after the fold drops it and every tag")
}

// TestATaggedInvalidationIsRecordedAsTheFold: LogInvalidation records a
// Tagged invalidation in the fold's field, deleting the tags' fields it
// covers, and tells it to every instance as a Tagged invalidation, never
// a Clear; one with a Tag is refused without a call to Redis.
func TestATaggedInvalidationIsRecordedAsTheFold(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t)
	s := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix, ClockSkew: -1})
	other := newStore[string, string](t, c, &redisstore.Options[string, string]{Prefix: prefix})
	own, told := watch(t, s), watch(t, other)
	base := at(time.Now())
	for i, tag := range []string{"old", "new"} {
		_, err := s.LogInvalidation(ctx, flightcache.Invalidation{Tag: tag, At: base.Add(time.Duration(2*i) * time.Millisecond)})
		require.NoError(t, err)
	}

	_, err := s.LogInvalidation(ctx, flightcache.Invalidation{Tag: "x", Tagged: true, At: base})
	require.Error(t, err, "a Tagged invalidation has no Tag")
	fold, err := s.LogInvalidation(ctx, flightcache.Invalidation{Tagged: true, At: base.Add(time.Millisecond)})
	require.NoError(t, err)
	assert.True(t, fold.Tagged)
	assert.Equal(t, map[string]flightcache.Deadline{"f": fold.At, "tnew": base.Add(2 * time.Millisecond)}, logFields(t, c, s),
		"the fold replaced the tag it covers")
	assert.True(t, own.has(fold), "applied to the Store's own watchers")
	told.waitFor(t, "told to another instance as a Tagged invalidation", fold)
	for _, w := range []*applied{own, told} {
		_, ok := w.latest("")
		assert.False(t, ok, "never as a Clear")
	}
}

// loseReplyHook makes the next script call after arm run in Redis and then
// fail as a lost reply does (a connection that broke before the reply came
// back), running between the two what before holds, if anything.
type loseReplyHook struct {
	mu     sync.Mutex
	armed  bool
	before func()
}

func (h *loseReplyHook) arm(before func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed, h.before = true, before
}

func (h *loseReplyHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *loseReplyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := next(ctx, cmd); err != nil {
			return err
		}
		name := strings.ToLower(cmd.Name())
		if name != "evalsha" && name != "eval" {
			return nil
		}
		h.mu.Lock()
		armed, before := h.armed, h.before
		h.armed = false
		h.mu.Unlock()
		if !armed {
			return nil
		}
		if before != nil {
			before()
		}
		cmd.SetErr(io.ErrUnexpectedEOF)
		return io.ErrUnexpectedEOF
	}
}

func (h *loseReplyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestATagWhoseReplyWasLostIsToldEvenOnceFolded: an InvalidateTag whose
// script ran in Redis but whose reply was lost is checked in the
// background and told to the other instances as though it had returned
// nil. When the log folds the tag's field before that check (other
// instances record MaxLogTags more tags meanwhile), the check must still
// tell it: the running instances are never told of a fold, and an instance
// started later is given the fold, which covers the tag; if the check took
// the missing field for "never recorded", the running instances would go
// on serving the tag's entries while new ones treat them as gone.
func TestATagWhoseReplyWasLostIsToldEvenOnceFolded(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	hook := new(loseReplyHook)
	lossy := plainClient(t, addr)
	lossy.AddHook(hook)
	admin := plainClient(t, addr)
	a := newStore[string, string](t, lossy, &redisstore.Options[string, string]{Prefix: prefix, MaxLogTags: 4, TripAfter: -1})
	b := newStore[string, string](t, admin, &redisstore.Options[string, string]{Prefix: prefix, MaxLogTags: 4})
	running := watch(t, b)

	hook.arm(func() {
		// Before the reply would have come back, the fleet records more
		// tags, later than the lost one, and the log folds it away.
		for i := range 8 {
			_, err := b.LogInvalidation(ctx, flightcache.Invalidation{Tag: fmt.Sprintf("later-%d", i), At: at(time.Now().Add(time.Hour))})
			assert.NoError(t, err) // not require: this may run on a goroutine of a's
		}
	})
	lost := flightcache.Invalidation{Tag: "lost", At: at(time.Now())}
	_, err := a.LogInvalidation(ctx, lost)
	require.Error(t, err, "the reply was lost")
	fields := logFields(t, admin, b)
	require.NotContains(t, fields, "tlost", "the log folded the lost tag's field")
	require.Contains(t, fields, "f")
	require.False(t, fields["f"].Before(lost.At), "the fold covers the lost tag")

	assert.Eventually(t, func() bool {
		tagged, folded := running.latestOf(flightcache.Invalidation{Tagged: true})
		return running.has(lost) || folded && !tagged.Before(lost.At)
	}, 2*time.Second, 5*time.Millisecond,
		"a running instance was told neither the tag recorded nor a fold covering it, while a new instance would judge its entries by the fold")
}
