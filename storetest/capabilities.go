package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
)

// The checks of the optional capabilities a Store may have. Each runs when
// the Store has the capability and is skipped, saying so, when it has not.

// batch returns the Store as a flightcache.BatchStore, or skips t.
func (s *suite) batch(t *testing.T) flightcache.BatchStore[string, string] {
	t.Helper()
	b, ok := s.store.(flightcache.BatchStore[string, string])
	if !ok {
		t.Skip("the Store is not a flightcache.BatchStore")
	}
	return b
}

// leaser returns the Store as a flightcache.Leaser, or skips t.
func (s *suite) leaser(t *testing.T) flightcache.Leaser[string, string] {
	t.Helper()
	l, ok := s.store.(flightcache.Leaser[string, string])
	if !ok {
		t.Skip("the Store is not a flightcache.Leaser")
	}
	return l
}

// ref returns the Store as a flightcache.RefStore, or skips t.
func (s *suite) ref(t *testing.T) flightcache.RefStore[string, string] {
	t.Helper()
	r, ok := s.store.(flightcache.RefStore[string, string])
	if !ok {
		t.Skip("the Store is not a flightcache.RefStore")
	}
	return r
}

func checkGetRef(t *testing.T, s *suite) {
	r := s.ref(t)
	ctx := context.Background()
	k := s.key("k")
	if e, ok, err := r.GetRef(ctx, k); ok || err != nil || e != nil {
		t.Fatalf("GetRef(%q) of a key never set = %v, %t, %v; want nil, false, nil", k, e, ok, err)
	}
	first := s.positive("first", 1)
	s.set(t, k, first)
	got, ok, err := r.GetRef(ctx, k)
	if !ok || err != nil || got == nil {
		t.Fatalf("GetRef(%q) after Set = %v, %t, %v; want the entry, true, nil", k, got, ok, err)
	}
	if d := diff(*got, first); d != "" {
		t.Fatalf("GetRef(%q) after Set: %s, want %s (%s)", k, format(*got), format(first), d)
	}
	held := *got
	s.set(t, k, s.positive("second", 2))
	again, ok, err := r.GetRef(ctx, k)
	if !ok || err != nil || diff(*again, s.positive("second", 2)) != "" {
		t.Errorf("GetRef(%q) after a second Set = %v, %t, %v; want the second entry", k, again, ok, err)
	}
	if d := diff(*got, held); d != "" {
		t.Errorf("a Set of %q, or a GetRef after it, changed the Entry an earlier GetRef returned: now %s, was %s (%s)", k, format(*got), format(held), d)
	}
}

func checkGetMany(t *testing.T, s *suite) {
	b := s.batch(t)
	ctx := context.Background()
	keys := distinctKeys(s)[:60]
	want := map[string]entry{}
	for i, k := range keys {
		switch i % 3 {
		case 0:
			want[k] = s.positive("value of "+k, i)
			s.set(t, k, want[k])
		case 1:
			want[k] = s.negative(i)
			s.set(t, k, want[k])
		}
	}
	asked := append(append([]string{}, keys...), keys[0], keys[1], keys[2]) // repeats
	got, err := b.GetMany(ctx, asked)
	if err != nil {
		t.Fatalf("GetMany of %d keys = %v, want nil", len(asked), err)
	}
	for _, k := range keys {
		e, found := got[k]
		w, stored := want[k]
		switch {
		case stored && !found:
			t.Errorf("GetMany left out %q, which Get finds as %s", k, format(w))
		case !stored && found:
			t.Errorf("GetMany returned %s for %q, which was never set", format(e), k)
		case stored && diff(e, w) != "":
			t.Errorf("GetMany returned %s for %q, want %s (%s)", format(e), k, format(w), diff(e, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("GetMany returned key %q, which was not stored", k)
		}
	}
	for _, asked := range [][]string{nil, {}} {
		got, err := b.GetMany(ctx, asked)
		if err != nil || len(got) != 0 {
			t.Errorf("GetMany(%#v) = %d entries, %v; want none and nil", asked, len(got), err)
		}
	}
}

func checkSetMany(t *testing.T, s *suite) {
	b := s.batch(t)
	ctx := context.Background()
	entries := map[string]entry{}
	for i, k := range distinctKeys(s)[:60] {
		entries[k] = s.positive("batch "+strconv.Itoa(i), i)
		if i%4 == 1 {
			entries[k] = s.negative(i)
		}
	}
	if err := b.SetMany(ctx, entries); err != nil {
		t.Fatalf("SetMany of %d entries = %v, want nil", len(entries), err)
	}
	for k, e := range entries {
		s.wantEntry(t, k, e, "right after the SetMany that stored it")
	}

	// Expired entries in a batch replace what was there with nothing, as
	// a Set of one does.
	over := map[string]entry{}
	i := 0
	for k, e := range entries {
		if i%2 == 0 {
			over[k] = expired(e, time.Millisecond)
		} else {
			over[k] = s.positive("replaced", i)
		}
		i++
	}
	if err := b.SetMany(ctx, over); err != nil {
		t.Fatalf("SetMany over the first batch = %v, want nil", err)
	}
	for k, e := range over {
		if !e.ExpiresAt.IsZero() && e.ExpiresAt.Time().Before(time.Now()) {
			s.wantMiss(t, k, "after a SetMany over it of an entry whose ExpiresAt had passed")
		} else {
			s.wantEntry(t, k, e, "after a SetMany over the first")
		}
	}
	if err := b.SetMany(ctx, map[string]entry{}); err != nil {
		t.Errorf("SetMany of no entries = %v, want nil", err)
	}
	if err := b.SetMany(ctx, nil); err != nil {
		t.Errorf("SetMany(nil) = %v, want nil", err)
	}
}

// leaseWait bounds each wait of the lease checks for a lease that should
// come back. It is long, so that only a Store that never returns fails.
const leaseWait = 10 * time.Second

// heldFor is how long the lease checks watch a second Lease not return
// while the first is held. A longer watch catches more; a Store can only
// pass wrongly, never fail wrongly, because of it.
const heldFor = 50 * time.Millisecond

type leaseResult struct {
	release func()
	err     error
}

func lease(ctx context.Context, l flightcache.Leaser[string, string], key string) <-chan leaseResult {
	ch := make(chan leaseResult, 1)
	go func() {
		r, err := l.Lease(ctx, key)
		ch <- leaseResult{r, err}
	}()
	return ch
}

func checkLeaseExclusive(t *testing.T, s *suite) {
	l := s.leaser(t)
	ctx, cancel := context.WithTimeout(context.Background(), leaseWait)
	defer cancel()
	k := s.key("k")
	first, err := l.Lease(ctx, k)
	if err != nil || first == nil {
		t.Fatalf("Lease(%q) of a key nobody holds = release %t, %v; want a release func and nil", k, first != nil, err)
	}
	second := lease(ctx, l, k)
	select {
	case r := <-second:
		if r.release != nil {
			r.release()
		}
		first()
		t.Fatalf("a second Lease(%q) returned (release %t, %v) while the first was held; want it to wait", k, r.release != nil, r.err)
	case <-time.After(heldFor):
	}
	first()
	select {
	case r := <-second:
		if r.err != nil {
			t.Fatalf("the waiting Lease(%q) = %v once the first was released, want nil", k, r.err)
		}
		if r.release != nil {
			r.release() // allowed: it may have taken the freed lease
		}
	case <-ctx.Done():
		t.Fatalf("the waiting Lease(%q) had not returned %v after the first was released", k, leaseWait)
	}
	again, err := l.Lease(ctx, k)
	if err != nil || again == nil {
		t.Fatalf("Lease(%q) after every holder released = release %t, %v; want a release func and nil", k, again != nil, err)
	}
	again()
}

func checkLeaseKeysIndependent(t *testing.T, s *suite) {
	l := s.leaser(t)
	ctx, cancel := context.WithTimeout(context.Background(), leaseWait)
	defer cancel()
	var releases []func()
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	for _, k := range distinctKeys(s)[:20] {
		select {
		case r := <-lease(ctx, l, k):
			if r.err != nil || r.release == nil {
				t.Fatalf("Lease(%q) while other keys' leases are held = release %t, %v; want a release func and nil", k, r.release != nil, r.err)
			}
			releases = append(releases, r.release)
		case <-ctx.Done():
			t.Fatalf("Lease(%q) waited on other keys' leases", k)
		}
	}
}

func checkLeaseCanceled(t *testing.T, s *suite) {
	l := s.leaser(t)
	k := s.key("k")
	held, err := l.Lease(context.Background(), k)
	if err != nil || held == nil {
		t.Fatalf("Lease(%q) of a key nobody holds = release %t, %v; want a release func and nil", k, held != nil, err)
	}
	defer held()
	ctx, cancel := context.WithCancel(context.Background())
	waiting := lease(ctx, l, k)
	time.Sleep(heldFor / 5) // let it start waiting; it must return either way
	cancel()
	select {
	case r := <-waiting:
		if r.release != nil {
			r.release()
			t.Fatalf("a Lease(%q) whose context was cancelled while another held it took the lease", k)
		}
	case <-time.After(leaseWait):
		t.Fatalf("a Lease(%q) waiting for a held lease did not return %v after its context was cancelled", k, leaseWait)
	}
}

// rules quotes, for each check, the rule it enforces: the failure of a
// check ends with its rule, as testing/slogtest's messages do.
var rules = map[string]string{
	"GetMissing":           "Get of a key never set reports a miss with the zero Entry",
	"GetAfterSet":          "a Get that follows a Set of the same key returns exactly the Entry stored, every field of it",
	"ZeroEntry":            "the zero Entry is a positive entry holding the zero value that never expires",
	"NegativeEntry":        "a negative Entry (Missing) is stored and returned as one",
	"SetReplaces":          "Set replaces any Entry already there",
	"Delete":               "Delete removes the Entry for key",
	"DeleteMissing":        "deleting a key that is not there is not an error",
	"DistinctKeys":         "distinct keys hold distinct Entries",
	"StaleButNotExpired":   "a Store never judges freshness; the Loader does, from the Entry's own timestamps",
	"ExpiredSetNotStored":  "a Set whose ExpiresAt has passed is never read back",
	"ExpiredSetReplaces":   "a Set whose ExpiresAt has passed never leaves the Entry it replaced behind",
	"ReadYourWrites":       "a Store never applies a write so late that a read after Set returns sees an older Entry",
	"CanceledContext":      "a cancelled context is honoured with an error or ignored; never a panic, never a false success",
	"Concurrent":           "a Store is safe for concurrent use: Entries are never torn or crossed between keys",
	"GetMany":              "BatchStore.GetMany returns, for each key, what Get returns, and nothing for keys not stored",
	"SetMany":              "BatchStore.SetMany stores each Entry as Set does, expired ones included",
	"LeaseExclusive":       "Leaser: while one holder has key's lease, another Lease waits until it is released, then returns",
	"LeaseKeysIndependent": "Leaser: leases on different keys never wait on each other (DESIGN rule 10)",
	"LeaseCanceled":        "Leaser: Lease waits no longer than ctx allows",
	"Fencing":              "Fencer: Set and Delete win over every fill in flight: SetIfVersion writes only if nothing changed the key since its version was read (DESIGN rule 9)",
	"BatchFencing":         "BatchFencer: SetManyIfVersion writes exactly the keys nothing changed since GetManyVersioned read them",
	"GetRef":               "RefStore: GetRef returns what Get returns, and the Store never modifies an Entry once GetRef may have returned it",
}

func quoteRule(t *testing.T, name string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the rule: %s", rules[name])
		}
	})
}
