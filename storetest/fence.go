package storetest

import (
	"context"
	"testing"

	"github.com/flightcache/flightcache"
)

// fencer returns the Store as a flightcache.Fencer, or skips t.
func (s *suite) fencer(t *testing.T) flightcache.Fencer[string, string] {
	t.Helper()
	f, ok := s.store.(flightcache.Fencer[string, string])
	if !ok {
		t.Skip("the Store is not a flightcache.Fencer")
	}
	return f
}

func (s *suite) versioned(t *testing.T, f flightcache.Fencer[string, string], key string) flightcache.Version {
	t.Helper()
	_, _, v, err := f.GetVersioned(context.Background(), key)
	if err != nil {
		t.Fatalf("GetVersioned(%q) = %v, want nil", key, err)
	}
	return v
}

// setIf calls SetIfVersion and fails t unless it reports want.
func (s *suite) setIf(t *testing.T, f flightcache.Fencer[string, string], key string, e entry, v flightcache.Version, want bool, after string) {
	t.Helper()
	ok, err := f.SetIfVersion(context.Background(), key, e, v)
	switch {
	case err != nil:
		t.Fatalf("SetIfVersion(%q) %s = %v, want nil", key, after, err)
	case ok && !want:
		t.Fatalf("SetIfVersion(%q) %s wrote; want no write, since the key changed after its version was read", key, after)
	case !ok && want:
		t.Fatalf("SetIfVersion(%q) %s did not write; want a write, since nothing changed the key", key, after)
	}
}

func checkFencing(t *testing.T, s *suite) {
	f := s.fencer(t)
	k := s.key("k")

	// A fill of a key never written.
	v0 := s.versioned(t, f, k)
	e1 := s.positive("first fill", 1)
	s.setIf(t, f, k, e1, v0, true, "with the version read before")
	s.wantEntry(t, k, e1, "after SetIfVersion wrote it")
	v1 := s.versioned(t, f, k)
	if v1 == v0 || v1 == 0 {
		t.Fatalf("the version after a SetIfVersion that wrote is %d, as before (%d); want a new, non-zero one", v1, v0)
	}
	s.setIf(t, f, k, s.positive("stale fill", 2), v0, false, "with the version from before another SetIfVersion")
	s.wantEntry(t, k, e1, "after a SetIfVersion that must not write")

	// Set wins over a fill that began before it.
	e3 := s.positive("set", 3)
	s.set(t, k, e3)
	if v := s.versioned(t, f, k); v == v1 {
		t.Fatalf("Set left the version at %d; want a new one", v)
	}
	s.setIf(t, f, k, s.positive("fill begun before Set", 4), v1, false, "with the version from before a Set")
	s.wantEntry(t, k, e3, "after a fill begun before the Set tried to write")

	// Delete wins over a fill that began before it.
	v3 := s.versioned(t, f, k)
	s.delete(t, k)
	s.setIf(t, f, k, s.positive("fill begun before Delete", 5), v3, false, "with the version from before a Delete")
	s.wantMiss(t, k, "after a fill begun before the Delete tried to write")
	vd := s.versioned(t, f, k)
	e6 := s.positive("fill after Delete", 6)
	s.setIf(t, f, k, e6, vd, true, "with the version read after the Delete")
	s.wantEntry(t, k, e6, "after a fill begun after the Delete wrote")

	// Delete of a key never written still fences a fill begun before it.
	k2 := s.key("absent")
	va := s.versioned(t, f, k2)
	s.delete(t, k2)
	s.setIf(t, f, k2, s.positive("fill of an absent key", 7), va, false, "of an absent key, with the version from before a Delete of it")
	s.wantMiss(t, k2, "after a fill begun before a Delete of the absent key tried to write")
}

func checkBatchFencing(t *testing.T, s *suite) {
	f := s.fencer(t)
	b, ok := f.(flightcache.BatchFencer[string, string])
	if !ok {
		t.Skip("the Store is not a flightcache.BatchFencer")
	}
	ctx := context.Background()
	keys := distinctKeys(s)[:12]
	for i, k := range keys[:8] {
		s.set(t, k, s.positive("before", i))
	}
	entries, versions, err := b.GetManyVersioned(ctx, keys)
	if err != nil {
		t.Fatalf("GetManyVersioned = %v, want nil", err)
	}
	if len(entries) != 8 {
		t.Fatalf("GetManyVersioned found %d entries, want the 8 set", len(entries))
	}
	for i, k := range keys {
		_, _, v, err := f.GetVersioned(ctx, k)
		if err != nil {
			t.Fatalf("GetVersioned(%q) = %v", k, err)
		}
		if versions[k] != v {
			t.Fatalf("GetManyVersioned gave %q version %d, GetVersioned %d (key %d)", k, versions[k], v, i)
		}
	}
	// Another instance writes or deletes every third key meanwhile.
	changed := map[string]bool{}
	for i, k := range keys {
		switch i % 3 {
		case 0:
			s.set(t, k, s.positive("written meanwhile", 100+i))
			changed[k] = true
		case 1:
			s.delete(t, k)
			changed[k] = true
		}
	}
	fills := map[string]entry{}
	for i, k := range keys {
		fills[k] = s.positive("batch fill", 200+i)
	}
	written, err := b.SetManyIfVersion(ctx, fills, versions)
	if err != nil {
		t.Fatalf("SetManyIfVersion = %v, want nil", err)
	}
	for _, k := range keys {
		if changed[k] && written[k] {
			t.Errorf("SetManyIfVersion wrote %q, which was written or deleted after its version was read", k)
		}
		if !changed[k] && !written[k] {
			t.Errorf("SetManyIfVersion did not write %q, which nothing changed", k)
		}
		if !changed[k] {
			s.wantEntry(t, k, fills[k], "after SetManyIfVersion wrote it")
		}
	}
}
