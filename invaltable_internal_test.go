package flightcache

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The table remembers at most maxTagRecords tags one by one; past it, the
// older half is folded into one instant that covers every tagged entry
// loaded before it: a tag invalidated long ago still covers what it did,
// and untagged entries are not touched.
func TestInvalTableStaysBoundedAndCoversWhatItForgot(t *testing.T) {
	tab := newInvalTable()
	tagsOf := func(name string) *Tags {
		tags, err := NewTags(name)
		require.NoError(t, err)
		return tags
	}
	first := tagsOf("tag-0")
	loadedBefore := tab.stamp(1) // loaded before every invalidation
	for i := range maxTagRecords + 10 {
		tab.apply(Invalidation{Tag: "tag-" + strconv.Itoa(i), At: tab.instant(int64(100 + i))})
	}
	assert.LessOrEqual(t, tab.records.Load(), int64(maxTagRecords), "the records are bounded")
	assert.Equal(t, tab.records.Load(), int64(tab.tags.Size()))
	assert.True(t, tab.covers(loadedBefore, first), "a tag whose record was folded still covers its entries")
	assert.False(t, tab.covers(loadedBefore, nil), "an untagged entry is not covered")

	loadedAfter := tab.stamp(2) // the clock reads less than the last invalidation: stamped past it
	assert.False(t, tab.covers(loadedAfter, tagsOf("tag-"+strconv.Itoa(maxTagRecords+9))), "a load after the invalidations is not covered")
	tab.apply(Invalidation{At: tab.instant(3)})
	assert.True(t, tab.covers(loadedAfter, nil), "a Clear after it covers it")
	assert.False(t, tab.covers(tab.stamp(4), nil))
}

// An invalidation is idempotent and order-free: an older instant never
// lowers a newer one, and a nil table covers nothing.
func TestInvalTableTakesInvalidationsInAnyOrder(t *testing.T) {
	tab := newInvalTable()
	tags, err := NewTags("t")
	require.NoError(t, err)
	tab.apply(Invalidation{Tag: "t", At: 50})
	tab.apply(Invalidation{Tag: "t", At: 20})
	tab.apply(Invalidation{Tag: "t", At: 50})
	assert.True(t, tab.covers(40, tags))
	assert.False(t, tab.covers(60, tags))
	assert.Equal(t, int64(1), tab.records.Load())
	var none *invalTable
	assert.False(t, none.covers(math.MinInt64+1, tags))
}

// A log's fold (Tagged) covers every tagged entry loaded at or before its
// instant, whatever its tags, and no untagged one: it is never taken for a
// Clear, with or without a Tag (which it covers too). It raises the floor
// that loads are stamped past, as every invalidation does.
func TestInvalTableTaggedCoversTaggedEntriesOnly(t *testing.T) {
	for _, tag := range []string{"", "t"} {
		tab := newInvalTable()
		tags, err := NewTags("other")
		require.NoError(t, err)
		tab.apply(Invalidation{Tag: tag, Tagged: true, At: 50})
		assert.True(t, tab.covers(50, tags), "tag %q: a tagged entry loaded at the fold", tag)
		assert.False(t, tab.covers(51, tags), "tag %q: one loaded after it", tag)
		assert.False(t, tab.covers(10, nil), "tag %q: an untagged entry: not a Clear", tag)
		assert.Equal(t, Deadline(51), tab.stamp(1), "tag %q: loads are stamped past it", tag)
		assert.Zero(t, tab.records.Load(), "tag %q: no record of a tag", tag)
	}
}

// The Loader applies what its log recorded only when it is the
// invalidation it asked for, never earlier: a log's answer of another tag,
// or of a Tagged invalidation for a Clear, is ignored.
func TestALogsAnswerIsAppliedOnlyWhenItIsTheInvalidationAskedFor(t *testing.T) {
	cl, tag := Invalidation{At: 10}, Invalidation{Tag: "t", At: 10}
	for _, c := range []struct {
		asked, logged, want Invalidation
	}{
		{cl, Invalidation{At: 20}, Invalidation{At: 20}},
		{tag, Invalidation{Tag: "t", At: 20}, Invalidation{Tag: "t", At: 20}},
		{cl, Invalidation{At: 5}, cl},
		{cl, Invalidation{Tagged: true, At: 20}, cl},
		{tag, Invalidation{Tag: "u", At: 20}, tag},
		{tag, Invalidation{Tag: "t", Tagged: true, At: 20}, tag},
	} {
		assert.Equal(t, c.want, atLeast(c.logged, c.asked), "asked %+v, logged %+v", c.asked, c.logged)
	}
}
