package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/storetest"
)

type entry = flightcache.Entry[string]

// mapStore is a plain, correct Store, unless flaw names a fault to commit.
type mapStore struct {
	flaw string

	mu      sync.Mutex
	m       map[string]entry
	pending func() // the lagging flaw's write not yet applied
	lastKey string // the crossed flaw's last key read
	last    *entry // and its Entry
}

func newMapStore(flaw string) *mapStore {
	return &mapStore{flaw: flaw, m: make(map[string]entry)}
}

var errFlaw = errors.New("flawed store")

func (s *mapStore) Get(ctx context.Context, key string) (entry, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flaw == "panicsOnCanceled" && ctx.Err() != nil {
		panic("context cancelled")
	}
	if s.flaw == "crossed" && s.last != nil && len(s.lastKey) == len(key) {
		return *s.last, true, nil // keys of one length are taken to be one key
	}
	e, ok := s.m[key]
	switch {
	case !ok:
		return entry{}, false, nil
	case s.flaw == "judgesFreshness" && time.Now().After(e.FreshUntil.Time()):
		return entry{}, false, nil
	case s.flaw == "emptyIsMissing" && e.Value == "" && !e.Missing:
		return entry{}, false, nil
	}
	if s.flaw == "crossed" {
		s.lastKey, s.last = key, &e
	}
	return e, true, nil
}

func (s *mapStore) Set(ctx context.Context, key string, e entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flaw == "panicsOnCanceled" && ctx.Err() != nil {
		panic("context cancelled")
	}
	switch s.flaw {
	case "millisecondTimes":
		e.FreshUntil -= e.FreshUntil % flightcache.Deadline(time.Millisecond)
		e.ExpiresAt -= e.ExpiresAt % flightcache.Deadline(time.Millisecond)
	case "zeroTimeAsEpoch":
		if e.ExpiresAt.IsZero() {
			e.ExpiresAt = flightcache.DeadlineOf(time.Unix(0, 0))
		}
	case "dropsStaleUntil":
		e.StaleUntil = 0
	case "fillsStaleUntil":
		if e.StaleUntil.IsZero() {
			e.StaleUntil = e.ExpiresAt
		}
	case "staleUntilAsFreshUntil":
		e.StaleUntil = e.FreshUntil
	case "dropsMissing":
		e.Missing = false
	case "shortKeys":
		key = key[:min(len(key), 64)]
	}
	expired := !e.ExpiresAt.IsZero() && !time.Now().Before(e.ExpiresAt.Time())
	apply := func() {
		if expired && s.flaw != "storesExpired" {
			if s.flaw != "keepsOnExpiredSet" {
				delete(s.m, key)
			}
			return
		}
		s.m[key] = e
	}
	if s.flaw == "lagging" {
		if s.pending != nil {
			s.pending()
		}
		s.pending = apply
		return nil
	}
	apply()
	return nil
}

func (s *mapStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		switch s.flaw {
		case "panicsOnCanceled":
			panic("context cancelled")
		case "liesOnCanceled":
			return nil
		}
	}
	if _, ok := s.m[key]; !ok && s.flaw == "deleteMissingFails" {
		return errFlaw
	}
	delete(s.m, key)
	return nil
}

// fullStore is a mapStore that is also a BatchStore and a Leaser, correct
// unless its flaw says otherwise.
type fullStore struct {
	*mapStore

	leaseMu sync.Mutex
	held    map[string]chan struct{} // closed on release

	versionMu sync.Mutex
	versions  map[string]flightcache.Version
	next      flightcache.Version

	refMu sync.Mutex
	refs  map[string]*entry // the refInPlace flaw's one Entry per key
}

func newFullStore(flaw string) *fullStore {
	return &fullStore{mapStore: newMapStore(flaw), held: map[string]chan struct{}{}, versions: map[string]flightcache.Version{}}
}

// advance gives key a new version, unless the flaw skips it for this call.
func (s *fullStore) advance(key, call string) {
	if s.flaw == call+"KeepsVersion" {
		return
	}
	s.next++
	s.versions[key] = s.next
}

func (s *fullStore) Set(ctx context.Context, key string, e entry) error {
	s.versionMu.Lock()
	defer s.versionMu.Unlock()
	s.advance(key, "set")
	return s.mapStore.Set(ctx, key, e)
}

// GetRef hands out a copy of its own, made once per Set, which it never
// modifies; the refInPlace flaw hands out one Entry per key and writes every
// Set into it, and refOfGet returns a different entry from Get's.
func (s *fullStore) GetRef(ctx context.Context, key string) (*entry, bool, error) {
	e, ok, err := s.mapStore.Get(ctx, key)
	if !ok || err != nil {
		return nil, ok, err
	}
	s.refMu.Lock()
	defer s.refMu.Unlock()
	switch s.flaw {
	case "refInPlace":
		if s.refs == nil {
			s.refs = map[string]*entry{}
		}
		p, had := s.refs[key]
		if !had {
			p = new(entry)
			s.refs[key] = p
		}
		*p = e
		return p, true, nil
	case "refOfGet":
		e.Value += "!"
	}
	return &e, true, nil
}

func (s *fullStore) Delete(ctx context.Context, key string) error {
	s.versionMu.Lock()
	defer s.versionMu.Unlock()
	s.advance(key, "delete")
	return s.mapStore.Delete(ctx, key)
}

func (s *fullStore) GetVersioned(ctx context.Context, key string) (entry, bool, flightcache.Version, error) {
	s.versionMu.Lock()
	defer s.versionMu.Unlock()
	e, ok, err := s.mapStore.Get(ctx, key)
	return e, ok, s.versions[key], err
}

func (s *fullStore) SetIfVersion(ctx context.Context, key string, e entry, v flightcache.Version) (bool, error) {
	s.versionMu.Lock()
	defer s.versionMu.Unlock()
	if s.versions[key] != v && s.flaw != "ignoresVersion" {
		return false, nil
	}
	s.advance(key, "setIf")
	return true, s.mapStore.Set(ctx, key, e)
}

func (s *fullStore) GetManyVersioned(ctx context.Context, keys []string) (map[string]entry, map[string]flightcache.Version, error) {
	entries, versions := map[string]entry{}, map[string]flightcache.Version{}
	for _, k := range keys {
		e, ok, v, err := s.GetVersioned(ctx, k)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			entries[k] = e
		}
		if v != 0 {
			versions[k] = v
		}
	}
	return entries, versions, nil
}

func (s *fullStore) SetManyIfVersion(ctx context.Context, entries map[string]entry, versions map[string]flightcache.Version) (map[string]bool, error) {
	written := map[string]bool{}
	for k, e := range entries {
		v := versions[k]
		if s.flaw == "batchUsesLatestVersion" {
			_, _, v, _ = s.GetVersioned(ctx, k)
		}
		ok, err := s.SetIfVersion(ctx, k, e, v)
		if err != nil {
			return written, err
		}
		if ok {
			written[k] = true
		}
	}
	return written, nil
}

func (s *fullStore) GetMany(ctx context.Context, keys []string) (map[string]entry, error) {
	out := map[string]entry{}
	for i, k := range keys {
		if s.flaw == "getManyHalf" && i%2 == 1 {
			continue // as a Ring's MGET that asks one shard
		}
		e, ok, err := s.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok && !(s.flaw == "getManyDropsNegative" && e.Missing) {
			out[k] = e
		}
	}
	return out, nil
}

func (s *fullStore) SetMany(ctx context.Context, entries map[string]entry) error {
	for k, e := range entries {
		if s.flaw == "setManySkipsExpired" && !e.ExpiresAt.IsZero() && e.ExpiresAt.Time().Before(time.Now()) {
			continue
		}
		if err := s.Set(ctx, k, e); err != nil {
			return err
		}
	}
	return nil
}

func (s *fullStore) Lease(ctx context.Context, key string) (func(), error) {
	if s.flaw == "leaseAlwaysGranted" {
		return func() {}, nil
	}
	if s.flaw == "leaseOneForAll" {
		key = ""
	}
	s.leaseMu.Lock()
	ch, busy := s.held[key]
	if !busy {
		ch = make(chan struct{})
		s.held[key] = ch
		s.leaseMu.Unlock()
		var once sync.Once
		return func() {
			once.Do(func() {
				s.leaseMu.Lock()
				delete(s.held, key)
				s.leaseMu.Unlock()
				close(ch)
			})
		}, nil
	}
	s.leaseMu.Unlock()
	if s.flaw == "leaseIgnoresContext" {
		<-ch
		return nil, nil
	}
	select {
	case <-ch:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestRunPassesACorrectStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) flightcache.Store[string, string] {
		return newMapStore("")
	})
}

func TestRunPassesACorrectStoreWithEveryCapability(t *testing.T) {
	storetest.Run(t, func(t *testing.T) flightcache.Store[string, string] {
		return newFullStore("")
	})
}

// TestFlawedStore is run by TestRunCatchesFlaws in a child process, with the
// flaw to commit in the environment.
func TestFlawedStore(t *testing.T) {
	flaw := os.Getenv("STORETEST_FLAW")
	if flaw == "" {
		t.Skip("run by TestRunCatchesFlaws")
	}
	storetest.Run(t, func(t *testing.T) flightcache.Store[string, string] {
		return newFullStore(flaw)
	})
}

// TestRunCatchesFlaws runs the suite over stores that each get one thing
// wrong, and checks that the suite fails and names the behaviour.
func TestRunCatchesFlaws(t *testing.T) {
	flaws := map[string][]string{
		"lagging":                {"GetAfterSet", "ReadYourWrites", "SetReplaces"},
		"storesExpired":          {"ExpiredSetNotStored", "ExpiredSetReplaces"},
		"keepsOnExpiredSet":      {"ExpiredSetReplaces"},
		"millisecondTimes":       {"GetAfterSet"},
		"zeroTimeAsEpoch":        {"ZeroEntry"},
		"dropsMissing":           {"NegativeEntry", "SetReplaces"},
		"dropsStaleUntil":        {"GetAfterSet", "NegativeEntry", "SetReplaces", "StaleButNotExpired", "ReadYourWrites", "Concurrent", "GetMany", "SetMany", "Fencing", "BatchFencing"},
		"fillsStaleUntil":        {"GetAfterSet"},
		"staleUntilAsFreshUntil": {"GetAfterSet", "StaleButNotExpired"},
		"emptyIsMissing":         {"ZeroEntry", "SetReplaces"},
		"shortKeys":              {"DistinctKeys"},
		"crossed":                {"DistinctKeys"},
		"judgesFreshness":        {"StaleButNotExpired"},
		"panicsOnCanceled":       {"CanceledContext"},
		"liesOnCanceled":         {"CanceledContext"},
		"deleteMissingFails":     {"DeleteMissing"},
		// The optional capabilities.
		"getManyHalf":            {"GetMany"},
		"getManyDropsNegative":   {"GetMany"},
		"setManySkipsExpired":    {"SetMany"},
		"leaseAlwaysGranted":     {"LeaseExclusive"},
		"leaseOneForAll":         {"LeaseKeysIndependent"},
		"leaseIgnoresContext":    {"LeaseCanceled"},
		"ignoresVersion":         {"Fencing", "BatchFencing"},
		"setKeepsVersion":        {"Fencing", "BatchFencing"},
		"deleteKeepsVersion":     {"Fencing", "BatchFencing"},
		"setIfKeepsVersion":      {"Fencing"},
		"batchUsesLatestVersion": {"BatchFencing"},
		"refInPlace":             {"GetRef"},
		"refOfGet":               {"GetRef"},
	}
	rules := map[string]string{
		"GetAfterSet":          "the rule: a Get that follows a Set of the same key returns exactly the Entry stored, every field of it",
		"StaleButNotExpired":   "the rule: a Store never judges freshness; the Loader does, from the Entry's own timestamps",
		"GetMany":              "the rule: BatchStore.GetMany returns, for each key, what Get returns",
		"SetMany":              "the rule: BatchStore.SetMany stores each Entry as Set does",
		"LeaseExclusive":       "the rule: Leaser: while one holder has key's lease, another Lease waits",
		"LeaseKeysIndependent": "the rule: Leaser: leases on different keys never wait on each other",
		"LeaseCanceled":        "the rule: Leaser: Lease waits no longer than ctx allows",
		"Fencing":              "the rule: Fencer: Set and Delete win over every fill in flight",
		"BatchFencing":         "the rule: BatchFencer: SetManyIfVersion writes exactly the keys nothing changed",
		"GetRef":               "the rule: RefStore: GetRef returns what Get returns",
	}
	failed := regexp.MustCompile(`--- FAIL: TestFlawedStore/(\w+)`)
	for flaw, want := range flaws {
		t.Run(flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFlawedStore$", "-test.count=1")
			cmd.Env = append(os.Environ(), "STORETEST_FLAW="+flaw)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a store that is %s (err %v); output:\n%s", flaw, err, out)
			}
			var got []string
			for _, m := range failed.FindAllSubmatch(out, -1) {
				got = append(got, string(m[1]))
			}
			for _, name := range want {
				if !slices.Contains(got, name) {
					t.Errorf("over a store that is %s, subtest %s passed; failed: %v; output:\n%s", flaw, name, got, out)
				}
				if rule, ok := rules[name]; ok && !strings.Contains(string(out), rule) {
					t.Errorf("over a store that is %s, the failure does not quote %q; output:\n%s", flaw, rule, out)
				}
			}
		})
	}
}
