package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
)

// MaxEntries is the largest number of entries Run keeps in one Store at a
// time. The Store that newStore returns must keep that many entries, each
// with an ExpiresAt an hour or more away, without evicting or rejecting any
// of them. Their values are strings of under 100 bytes, but for a few of
// about 1,100 bytes, and one entry carries flightcache.MaxTags tags of
// about 1,500 bytes in all, which a Store that weighs entries by size must
// allow for.
const MaxEntries = 1000

// Run checks that the Stores made by newStore keep the flightcache.Store
// contract, and reports each behaviour a Store gets wrong as a failed subtest
// of t named after that behaviour, such as "ReadYourWrites" or
// "ExpiredSetReplaces".
//
// Run calls newStore once for every subtest, with that subtest's t, so
// newStore may register clean-up (closing the Store, say) with t.Cleanup and
// may fail the subtest with t.Fatal. Each Store must be able to hold
// MaxEntries entries without dropping any. The keys Run uses begin with
// "storetest:" and a random part that is new for each call of Run, so Stores
// over a shared backend, such as one Redis database, need not be emptied first
// and may be tested by several processes at once; they are left holding some
// of the entries the checks stored, all of which expire within about an hour
// and a few minutes.
//
// Run also checks each optional capability the Stores have: GetRef of a
// flightcache.RefStore, GetMany and SetMany of a flightcache.BatchStore, Lease of a flightcache.Leaser, and
// the fenced writes of a flightcache.Fencer and BatchFencer (subtests
// "GetRef", "GetMany", "SetMany", "Lease...", "Fencing", "BatchFencing"); over a
// Store without one,
// those subtests skip. A failed subtest ends by quoting the rule broken.
//
// Run and the Stores it is given are used from the goroutine that runs each
// subtest, except in the "Concurrent" and "Lease..." subtests, which call
// the Store from several goroutines at once and are best run with the race
// detector.
func Run(t *testing.T, newStore func(t *testing.T) flightcache.Store[string, string]) {
	t.Helper()
	run := strconv.FormatUint(rand.Uint64(), 36)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			quoteRule(t, c.name)
			store := newStore(t)
			if store == nil {
				t.Fatal("newStore returned a nil Store")
			}
			c.check(t, &suite{
				store:  store,
				prefix: "storetest:" + run + ":" + c.name + ":",
				base:   baseTime(),
			})
		})
	}
}

// entry is the one instantiation of flightcache.Entry the suite uses.
type entry = flightcache.Entry[string]

var cases = []struct {
	name  string
	check func(t *testing.T, s *suite)
}{
	{"GetMissing", checkGetMissing},
	{"GetAfterSet", checkGetAfterSet},
	{"ZeroEntry", checkZeroEntry},
	{"NegativeEntry", checkNegativeEntry},
	{"SetReplaces", checkSetReplaces},
	{"Delete", checkDelete},
	{"DeleteMissing", checkDeleteMissing},
	{"DistinctKeys", checkDistinctKeys},
	{"StaleButNotExpired", checkStaleButNotExpired},
	{"ExpiredSetNotStored", checkExpiredSetNotStored},
	{"ExpiredSetReplaces", checkExpiredSetReplaces},
	{"ReadYourWrites", checkReadYourWrites},
	{"CanceledContext", checkCanceledContext},
	{"Concurrent", checkConcurrent},
	{"GetRef", checkGetRef},
	{"GetMany", checkGetMany},
	{"SetMany", checkSetMany},
	{"LeaseExclusive", checkLeaseExclusive},
	{"LeaseKeysIndependent", checkLeaseKeysIndependent},
	{"LeaseCanceled", checkLeaseCanceled},
	{"Fencing", checkFencing},
	{"BatchFencing", checkBatchFencing},
}

// suite holds one subtest's Store and the material its checks share.
type suite struct {
	store  flightcache.Store[string, string]
	prefix string               // begins every key of this subtest
	base   flightcache.Deadline // an instant near now, with nanoseconds
}

// baseTime returns the current second with its nanoseconds set to a fixed
// value with every digit significant, so that a Store that loses precision
// below a second (or below a nanosecond's worth of a second) is caught.
func baseTime() flightcache.Deadline {
	return flightcache.DeadlineOf(time.Unix(time.Now().Unix(), 123456789))
}

func (s *suite) key(name string) string { return s.prefix + name }

// positive returns a positive entry for value whose every field depends on n,
// so entries made with different n differ in every field. It is fresh for
// a minute or more, served stale while it refreshes for ten minutes or more,
// and expires in an hour or more. Its times differ from one another in
// their nanoseconds too, so a Store that stores one time in another's place
// is caught. Entries of odd n carry tags that depend on n (see tagsFor),
// those of even n none.
func (s *suite) positive(value string, n int) entry {
	return entry{
		Tags:         tagsFor(n),
		Value:        value,
		FreshUntil:   s.base.Add(time.Minute + time.Duration(n)*time.Millisecond),
		StaleUntil:   s.base.Add(10*time.Minute + time.Duration(n)*time.Millisecond + 3),
		ServeUntil:   s.base.Add(20*time.Minute + time.Duration(n)*time.Millisecond + 4),
		ExpiresAt:    s.base.Add(time.Hour + time.Duration(n)*time.Millisecond + 5),
		LoadedAt:     s.base.Add(-time.Second + time.Duration(n)*time.Millisecond + 6),
		LoadDuration: flightcache.Micros(n + 1),
	}
}

// tagsFor returns the tags of the entries of n: none for an even n, and
// for an odd one two or three tags that depend on n, one of them with a
// space in it, so that a Store that keeps entries as bytes must keep each
// name whole.
func tagsFor(n int) *flightcache.Tags {
	if n%2 == 0 {
		return nil
	}
	names := []string{"storetest", "tag " + strconv.Itoa(n%7)}
	if n%3 == 0 {
		names = append(names, "third:"+strconv.Itoa(n))
	}
	return mustTags(names...)
}

// mustTags returns the set of names, which must be valid tags.
func mustTags(names ...string) *flightcache.Tags {
	tags, err := flightcache.NewTags(names...)
	if err != nil {
		panic(err)
	}
	return tags
}

// sameTags reports whether a and b hold the same names: a nil *Tags and an
// empty set are the same, since a Store that keeps names makes the set
// again (flightcache.NewTags returns nil for none).
func sameTags(a, b *flightcache.Tags) bool {
	return slices.Equal(slices.Collect(a.All()), slices.Collect(b.All()))
}

// negative returns a negative entry whose fields depend on n as positive's do.
func (s *suite) negative(n int) entry {
	e := s.positive("", n)
	e.Missing = true
	return e
}

func (s *suite) set(t *testing.T, key string, e entry) {
	t.Helper()
	if err := s.store.Set(context.Background(), key, e); err != nil {
		t.Fatalf("Set(%q, %s) = %v, want nil", key, format(e), err)
	}
}

func (s *suite) delete(t *testing.T, key string) {
	t.Helper()
	if err := s.store.Delete(context.Background(), key); err != nil {
		t.Fatalf("Delete(%q) = %v, want nil", key, err)
	}
}

// wantEntry fails t unless Get(key) returns want; after says what came before.
func (s *suite) wantEntry(t *testing.T, key string, want entry, after string) {
	t.Helper()
	got, ok, err := s.store.Get(context.Background(), key)
	switch {
	case err != nil:
		t.Fatalf("Get(%q) %s: error %v, want %s", key, after, err, format(want))
	case !ok:
		t.Fatalf("Get(%q) %s: a miss, want %s", key, after, format(want))
	}
	if d := diff(got, want); d != "" {
		t.Fatalf("Get(%q) %s: %s, want %s (%s)", key, after, format(got), format(want), d)
	}
}

// wantMiss fails t unless Get(key) reports a miss with the zero entry.
func (s *suite) wantMiss(t *testing.T, key string, after string) {
	t.Helper()
	got, ok, err := s.store.Get(context.Background(), key)
	switch {
	case err != nil:
		t.Fatalf("Get(%q) %s: error %v, want a miss", key, after, err)
	case ok:
		t.Fatalf("Get(%q) %s: found %s, want a miss", key, after, format(got))
	}
	if d := diff(got, entry{}); d != "" {
		t.Fatalf("Get(%q) %s: a miss with the non-zero entry %s, want the zero entry", key, after, format(got))
	}
}

// diff describes how got differs from want, or returns "" when they are the
// same entry. Times are compared with Equal, so a Store may drop the monotonic
// clock reading and the location but nothing else.
func diff(got, want entry) string {
	var d []string
	if got.Value != want.Value {
		d = append(d, fmt.Sprintf("Value %q != %q", got.Value, want.Value))
	}
	if got.Missing != want.Missing {
		d = append(d, fmt.Sprintf("Missing %t != %t", got.Missing, want.Missing))
	}
	if !got.FreshUntil.Equal(want.FreshUntil) {
		d = append(d, fmt.Sprintf("FreshUntil %s != %s", got.FreshUntil, want.FreshUntil))
	}
	if !got.StaleUntil.Equal(want.StaleUntil) {
		d = append(d, fmt.Sprintf("StaleUntil %s != %s", got.StaleUntil, want.StaleUntil))
	}
	if !got.ServeUntil.Equal(want.ServeUntil) {
		d = append(d, fmt.Sprintf("ServeUntil %s != %s", got.ServeUntil, want.ServeUntil))
	}
	if !got.LoadedAt.Equal(want.LoadedAt) {
		d = append(d, fmt.Sprintf("LoadedAt %s != %s", got.LoadedAt, want.LoadedAt))
	}
	if !got.ExpiresAt.Equal(want.ExpiresAt) {
		d = append(d, fmt.Sprintf("ExpiresAt %s != %s", got.ExpiresAt, want.ExpiresAt))
	}
	if got.LoadDuration != want.LoadDuration {
		d = append(d, fmt.Sprintf("LoadDuration %s != %s", got.LoadDuration, want.LoadDuration))
	}
	if !sameTags(got.Tags, want.Tags) {
		d = append(d, fmt.Sprintf("Tags %s != %s", got.Tags, want.Tags))
	}
	return strings.Join(d, "; ")
}

func format(e entry) string {
	return fmt.Sprintf("{Value:%q Missing:%t FreshUntil:%s StaleUntil:%s ServeUntil:%s ExpiresAt:%s LoadedAt:%s LoadDuration:%s Tags:%s}",
		e.Value, e.Missing, e.FreshUntil, e.StaleUntil, e.ServeUntil, e.ExpiresAt, e.LoadedAt, e.LoadDuration, formatTags(e.Tags))
}

// formatTags shows tags as Tags.String does, but a long name by its length
// and first bytes.
func formatTags(tags *flightcache.Tags) string {
	var names []string
	for n := range tags.All() {
		if len(n) > 40 {
			n = fmt.Sprintf("%q…(%d bytes)", n[:20], len(n))
		}
		names = append(names, n)
	}
	return "{" + strings.Join(names, " ") + "}"
}

func checkGetMissing(t *testing.T, s *suite) {
	s.wantMiss(t, s.key("never-set"), "of a key never set")
}

func checkGetAfterSet(t *testing.T, s *suite) {
	k := s.key("k")
	e := s.positive("value", 1)
	s.set(t, k, e)
	s.wantEntry(t, k, e, "after Set")
	s.wantEntry(t, k, e, "read a second time")

	// An Entry need not carry every time. One without StaleUntil (an
	// Entry the Loader did not build, judged by the Loader's Options) must
	// come back without it, not with one filled in; one whose only time is
	// StaleUntil must keep it.
	k = s.key("no-stale-until")
	e = s.positive("no StaleUntil", 2)
	e.StaleUntil = 0
	s.set(t, k, e)
	s.wantEntry(t, k, e, "after Set of an entry with a zero StaleUntil")

	k = s.key("only-stale-until")
	e = entry{Value: "only StaleUntil", StaleUntil: s.base.Add(time.Minute)}
	s.set(t, k, e)
	s.wantEntry(t, k, e, "after Set of an entry whose only time is StaleUntil")
	s.delete(t, k) // it never expires, so remove it from a shared backend

	// Tags are kept by name, every one of them, whatever bytes they hold:
	// the most an entry may have, one of the longest length.
	k = s.key("most-tags")
	e = s.positive("most tags", 3)
	e.Tags = mostTags()
	s.set(t, k, e)
	s.wantEntry(t, k, e, fmt.Sprintf("after Set of an entry with %d tags, one of %d bytes", flightcache.MaxTags, flightcache.MaxTagLen))
}

// mostTags returns flightcache.MaxTags tags, one flightcache.MaxTagLen
// bytes long, others with spaces, a NUL, a brace, non-ASCII and invalid
// UTF-8 in them.
func mostTags() *flightcache.Tags {
	names := []string{strings.Repeat("t", flightcache.MaxTagLen), " ", "a b", "a\x00b", "{x}", "ключ", "\xff\xfe"}
	for i := len(names); i < flightcache.MaxTags; i++ {
		names = append(names, "tag-"+strconv.Itoa(i))
	}
	return mustTags(names...)
}

func checkZeroEntry(t *testing.T, s *suite) {
	// The zero entry is a positive entry holding "" that never expires: it
	// must be found, and must not come back as a negative entry or with
	// zero times turned into some other time.
	k := s.key("zero")
	s.set(t, k, entry{})
	s.wantEntry(t, k, entry{}, "after Set of the zero entry")

	k2 := s.key("value-only")
	e := entry{Value: "v"}
	s.set(t, k2, e)
	s.wantEntry(t, k2, e, "after Set of an entry with zero times")

	// Neither expires, so remove them from a shared backend.
	s.delete(t, k)
	s.delete(t, k2)
}

func checkNegativeEntry(t *testing.T, s *suite) {
	k := s.key("k")
	e := s.negative(1)
	s.set(t, k, e)
	s.wantEntry(t, k, e, "after Set of a negative entry")
}

func checkSetReplaces(t *testing.T, s *suite) {
	k := s.key("k")
	steps := []struct {
		what string
		e    entry
	}{
		{"a first Set", s.positive("first", 1)},
		{"a Set of another value", s.positive("second", 2)},
		{"a Set of a negative entry over a positive one", s.negative(3)},
		{"a Set of a positive entry over a negative one", s.positive("fourth", 4)},
		{"a Set of the zero entry", entry{}},
		{"a Set over the zero entry", s.positive("sixth", 6)},
	}
	for _, step := range steps {
		s.set(t, k, step.e)
		s.wantEntry(t, k, step.e, "after "+step.what)
	}
}

func checkDelete(t *testing.T, s *suite) {
	k := s.key("k")
	s.set(t, k, s.positive("value", 1))
	s.delete(t, k)
	s.wantMiss(t, k, "after Delete")

	e := s.positive("again", 2)
	s.set(t, k, e)
	s.wantEntry(t, k, e, "after Delete and a new Set")

	n := s.negative(3)
	s.set(t, k, n)
	s.delete(t, k)
	s.wantMiss(t, k, "after Delete of a negative entry")
}

func checkDeleteMissing(t *testing.T, s *suite) {
	k := s.key("never-set")
	s.delete(t, k)
	s.wantMiss(t, k, "after Delete of a key never set")

	k = s.key("twice")
	s.set(t, k, s.positive("value", 1))
	s.delete(t, k)
	s.delete(t, k)
	s.wantMiss(t, k, "after two Deletes")
}

// distinctKeys returns keys that a careless Store might confuse: ones that
// differ in case, by a trailing space or a NUL, hold separators a Store might
// use itself, are not ASCII, are long, or are prefixes of one another.
func distinctKeys(s *suite) []string {
	suffixes := []string{
		"", " ", "a", "A", "a ", "a\x00", "a\x00b", "ab", "a:b", "a/b", "a|b",
		"a*", "a?", "a\n", "ключ", "鍵", "🔑", "\xff\xfe",
		strings.Repeat("k", 1000), strings.Repeat("k", 999),
	}
	keys := make([]string, 0, 500)
	for _, sfx := range suffixes {
		keys = append(keys, s.key(sfx))
	}
	for i := len(keys); i < 500; i++ {
		keys = append(keys, s.key("key-"+strconv.Itoa(i)))
	}
	return keys
}

func checkDistinctKeys(t *testing.T, s *suite) {
	keys := distinctKeys(s)
	want := make([]entry, len(keys))
	for i, k := range keys {
		want[i] = s.positive("value of "+k, i)
		if i%7 == 3 {
			want[i] = s.negative(i)
		}
		s.set(t, k, want[i])
	}
	for i, k := range keys {
		s.wantEntry(t, k, want[i], fmt.Sprintf("after Sets of %d distinct keys", len(keys)))
	}
	for i, k := range keys {
		if i%2 == 0 {
			s.delete(t, k)
		}
	}
	for i, k := range keys {
		if i%2 == 0 {
			s.wantMiss(t, k, "after its Delete")
		} else {
			s.wantEntry(t, k, want[i], "after Deletes of other keys")
		}
	}
}

func checkStaleButNotExpired(t *testing.T, s *suite) {
	// The Loader, not the Store, judges freshness: an entry that is no longer
	// fresh but has not expired must be kept and returned as it is.
	k := s.key("stale")
	e := s.positive("stale value", 1)
	e.FreshUntil = s.base.Add(-time.Hour)
	e.ExpiresAt = s.base.Add(time.Hour)
	s.set(t, k, e)
	for i := range 3 {
		s.wantEntry(t, k, e, fmt.Sprintf("after Set of an entry past FreshUntil but an hour from ExpiresAt (read %d)", i+1))
	}

	k = s.key("stale-negative")
	e = s.negative(2)
	e.FreshUntil = s.base.Add(-time.Hour)
	s.set(t, k, e)
	s.wantEntry(t, k, e, "after Set of a negative entry past FreshUntil but an hour from ExpiresAt")

	// Past the end of its stale-while-revalidate window, an entry may
	// still stand in for a load that fails until it expires: the Store
	// keeps it.
	k = s.key("past-stale-until")
	e = s.positive("stale-if-error value", 3)
	e.FreshUntil = s.base.Add(-2 * time.Hour)
	e.StaleUntil = s.base.Add(-time.Hour)
	s.set(t, k, e)
	s.wantEntry(t, k, e, "after Set of an entry past FreshUntil and StaleUntil but an hour from ExpiresAt")
}

// expiredAges are how long before the Set the expired entries of the
// ExpiredSet checks expired.
var expiredAges = []time.Duration{time.Hour, time.Second, time.Millisecond, time.Nanosecond}

func expired(e entry, age time.Duration) entry {
	e.ExpiresAt = flightcache.DeadlineOf(time.Now().Add(-age))
	if e.FreshUntil.After(e.ExpiresAt) {
		e.FreshUntil = e.ExpiresAt
	}
	if e.StaleUntil.After(e.ExpiresAt) {
		e.StaleUntil = e.ExpiresAt
	}
	if e.ServeUntil.After(e.ExpiresAt) {
		e.ServeUntil = e.ExpiresAt
	}
	return e
}

func checkExpiredSetNotStored(t *testing.T, s *suite) {
	for i, age := range expiredAges {
		k := s.key("k" + strconv.Itoa(i))
		e := expired(s.positive("expired", i), age)
		s.set(t, k, e)
		s.wantMiss(t, k, fmt.Sprintf("after Set of an entry whose ExpiresAt passed %s before", age))

		k = s.key("negative" + strconv.Itoa(i))
		s.set(t, k, expired(s.negative(i), age))
		s.wantMiss(t, k, fmt.Sprintf("after Set of a negative entry whose ExpiresAt passed %s before", age))
	}
}

func checkExpiredSetReplaces(t *testing.T, s *suite) {
	// A Set of an expired entry must not leave the entry it replaces behind:
	// a Store that drops the write instead of removing the key would serve
	// the older entry.
	for i, age := range expiredAges {
		k := s.key("k" + strconv.Itoa(i))
		s.set(t, k, s.positive("older", i))
		s.set(t, k, expired(s.positive("expired", i+100), age))
		s.wantMiss(t, k, fmt.Sprintf("after a Set over it of an entry whose ExpiresAt passed %s before", age))

		k = s.key("negative" + strconv.Itoa(i))
		s.set(t, k, s.negative(i))
		s.set(t, k, expired(s.positive("expired", i+100), age))
		s.wantMiss(t, k, fmt.Sprintf("after a Set over a negative entry of one whose ExpiresAt passed %s before", age))
	}
}

func checkReadYourWrites(t *testing.T, s *suite) {
	// Every Get follows a Set that has just returned, with no other call in
	// between: this is what catches a Store that applies writes later.
	const fresh = MaxEntries - 1
	for i := range fresh {
		k := s.key("fresh-" + strconv.Itoa(i))
		e := s.positive("v"+strconv.Itoa(i), i)
		s.set(t, k, e)
		s.wantEntry(t, k, e, fmt.Sprintf("right after Set of fresh key %d", i))
	}

	k := s.key("overwritten")
	for i := range 200 {
		e := s.positive("v"+strconv.Itoa(i), i)
		if i%3 == 1 {
			e = s.negative(i)
		}
		s.set(t, k, e)
		s.wantEntry(t, k, e, fmt.Sprintf("right after overwrite %d", i))
	}
	for i := range 200 {
		s.delete(t, k)
		s.wantMiss(t, k, fmt.Sprintf("right after Delete %d", i))
		e := s.positive("again"+strconv.Itoa(i), i)
		s.set(t, k, e)
		s.wantEntry(t, k, e, fmt.Sprintf("right after Delete and Set %d", i))
		s.set(t, k, expired(e, time.Millisecond))
		s.wantMiss(t, k, fmt.Sprintf("right after Set of an expired entry %d", i))
	}
}

// noPanic runs f and fails t, rather than crashing the test binary, if f
// panics.
func noPanic(t *testing.T, what string, f func()) (ok bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
			ok = false
		}
	}()
	f()
	return true
}

func checkCanceledContext(t *testing.T, s *suite) {
	// A Store may honour a cancelled context by failing with an error, or
	// ignore it and do the work. It may not panic, and it may not report
	// success for work it did not do.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := s.key("k")

	e1 := s.positive("set with a cancelled context", 1)
	var err error
	if noPanic(t, "Set with a cancelled context", func() { err = s.store.Set(ctx, k, e1) }) && err == nil {
		s.wantEntry(t, k, e1, "after a Set with a cancelled context that returned nil")
	}

	e2 := s.positive("set with a live context", 2)
	s.set(t, k, e2)
	var (
		got entry
		ok  bool
	)
	if noPanic(t, "Get with a cancelled context", func() { got, ok, err = s.store.Get(ctx, k) }) && err == nil {
		switch {
		case !ok:
			t.Errorf("Get(%q) with a cancelled context: a miss with a nil error, want %s or an error", k, format(e2))
		case diff(got, e2) != "":
			t.Errorf("Get(%q) with a cancelled context: %s, want %s or an error (%s)", k, format(got), format(e2), diff(got, e2))
		}
	}

	if noPanic(t, "Delete with a cancelled context", func() { err = s.store.Delete(ctx, k) }) && err == nil {
		s.wantMiss(t, k, "after a Delete with a cancelled context that returned nil")
	}

	// The Store still works with a live context afterwards.
	e3 := s.positive("after cancellation", 3)
	s.set(t, k, e3)
	s.wantEntry(t, k, e3, "after calls with a cancelled context")
	s.delete(t, k)
	s.wantMiss(t, k, "after calls with a cancelled context and a Delete")
}

// concurrentEntry returns the entry that goroutine g writes to key in its
// step i. Every field is derived from (g, i) and the value names the key, so
// a reader can tell a crossed entry (another key's) or a torn one (fields
// from different writes) from a sound one.
func (s *suite) concurrentEntry(key string, g, i int) entry {
	return s.positive(key+"|"+strconv.Itoa(g)+"|"+strconv.Itoa(i), g*10_000+i)
}

// checkSound returns a description of what is wrong with e, read from key,
// or "".
func (s *suite) checkSound(key string, e entry) string {
	rest, ok := strings.CutPrefix(e.Value, key+"|")
	if !ok {
		return fmt.Sprintf("Get(%q) returned %s, whose value belongs to another key", key, format(e))
	}
	gs, is, ok := strings.Cut(rest, "|")
	g, err1 := strconv.Atoi(gs)
	i, err2 := strconv.Atoi(is)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Sprintf("Get(%q) returned %s, whose value was never written", key, format(e))
	}
	if d := diff(e, s.concurrentEntry(key, g, i)); d != "" {
		return fmt.Sprintf("Get(%q) returned the torn entry %s (%s)", key, format(e), d)
	}
	return ""
}

func checkConcurrent(t *testing.T, s *suite) {
	const (
		goroutines = 8
		steps      = 300
		shared     = 8 // keys every goroutine reads and writes
		private    = 4 // keys of each goroutine's own
	)
	sharedKeys := make([]string, shared)
	for i := range sharedKeys {
		sharedKeys[i] = s.key("shared-" + strconv.Itoa(i))
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			<-start
			if msg := s.hammer(g, steps, sharedKeys, private); msg != "" {
				t.Errorf("goroutine %d: %s", g, msg)
			}
		})
	}
	close(start)
	wg.Wait()
}

// hammer runs one goroutine of checkConcurrent and returns a description of
// the first fault it sees, or "".
func (s *suite) hammer(g, steps int, sharedKeys []string, private int) string {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(g), 1))
	ownKeys := make([]string, private)
	for i := range ownKeys {
		ownKeys[i] = s.key("private-" + strconv.Itoa(g) + "-" + strconv.Itoa(i))
	}
	for i := range steps {
		if rng.IntN(2) == 0 {
			// A shared key: any sound entry of that key, or a miss.
			k := sharedKeys[rng.IntN(len(sharedKeys))]
			var err error
			switch rng.IntN(4) {
			case 0, 1:
				err = s.store.Set(ctx, k, s.concurrentEntry(k, g, i))
			case 2:
				var (
					e  entry
					ok bool
				)
				e, ok, err = s.store.Get(ctx, k)
				if err == nil && ok {
					if msg := s.checkSound(k, e); msg != "" {
						return msg
					}
				}
			case 3:
				err = s.store.Delete(ctx, k)
			}
			if err != nil {
				return fmt.Sprintf("a call on shared key %q failed: %v", k, err)
			}
			continue
		}

		// A private key: only this goroutine writes it, so every read must
		// see this goroutine's last write.
		k := ownKeys[rng.IntN(len(ownKeys))]
		if rng.IntN(4) == 0 {
			if err := s.store.Delete(ctx, k); err != nil {
				return fmt.Sprintf("Delete(%q) = %v", k, err)
			}
			if e, ok, err := s.store.Get(ctx, k); err != nil || ok {
				return fmt.Sprintf("Get(%q) right after its Delete = %s, %t, %v; want a miss", k, format(e), ok, err)
			}
			continue
		}
		want := s.concurrentEntry(k, g, i)
		if err := s.store.Set(ctx, k, want); err != nil {
			return fmt.Sprintf("Set(%q) = %v", k, err)
		}
		e, ok, err := s.store.Get(ctx, k)
		if err != nil || !ok {
			return fmt.Sprintf("Get(%q) right after its Set = %t, %v; want %s", k, ok, err, format(want))
		}
		if d := diff(e, want); d != "" {
			return fmt.Sprintf("Get(%q) right after its Set = %s, want %s (%s)", k, format(e), format(want), d)
		}
	}
	return ""
}
