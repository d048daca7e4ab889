package flightcache

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestJudge(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	now := base.UnixNano()
	swr := pol(Options{FreshFor: time.Minute, StaleFor: time.Minute, StaleIfError: 2 * time.Minute})
	never := func() float64 { return 0 }  // -ln(1-0) = 0: no early refresh
	always := func() float64 { return 1 } // -ln(0) = +Inf: early refresh whenever allowed
	for _, tc := range []struct {
		name   string
		p      policy
		e      Entry[string]
		rnd    func() float64
		expect verdict
	}{
		{"no FreshUntil is fresh for ever", policy{}, Entry[string]{}, never, verdictFresh},
		{"no FreshUntil, missing", policy{}, Entry[string]{Missing: true}, never, verdictMissing},
		{"before FreshUntil", swr, Entry[string]{FreshUntil: DeadlineOf(at(time.Second))}, never, verdictFresh},
		{"at FreshUntil is not fresh", policy{}, Entry[string]{FreshUntil: DeadlineOf(at(0)), ExpiresAt: DeadlineOf(at(0))}, never, verdictMiss},
		{"fresh negative entry", swr, Entry[string]{Missing: true, FreshUntil: DeadlineOf(at(time.Second))}, never, verdictMissing},
		{"stale negative entry is a miss", swr, Entry[string]{Missing: true, FreshUntil: DeadlineOf(at(-time.Second)), ExpiresAt: DeadlineOf(at(time.Hour))}, never, verdictMiss},
		{"inside StaleFor", swr, Entry[string]{FreshUntil: DeadlineOf(at(-30 * time.Second)), ExpiresAt: DeadlineOf(at(time.Hour))}, never, verdictStale},
		{"past StaleFor, inside StaleIfError", swr, Entry[string]{FreshUntil: DeadlineOf(at(-90 * time.Second)), ExpiresAt: DeadlineOf(at(time.Hour))}, never, verdictFallback},
		{"past both", swr, Entry[string]{FreshUntil: DeadlineOf(at(-3 * time.Minute)), ExpiresAt: DeadlineOf(at(time.Hour))}, never, verdictMiss},
		{"past ExpiresAt", swr, Entry[string]{FreshUntil: DeadlineOf(at(-time.Second)), ExpiresAt: DeadlineOf(at(-time.Millisecond))}, never, verdictMiss},
		{"own windows: inside StaleUntil", policy{}, Entry[string]{FreshUntil: DeadlineOf(at(-time.Second)), StaleUntil: DeadlineOf(at(time.Second)), ExpiresAt: DeadlineOf(at(time.Hour))}, never, verdictStale},
		{"own windows: past StaleUntil, before ExpiresAt", swr, Entry[string]{FreshUntil: DeadlineOf(at(-time.Second)), StaleUntil: DeadlineOf(at(-time.Millisecond)), ExpiresAt: DeadlineOf(at(time.Hour))}, never, verdictFallback},
		{"own windows win over the Options'", swr, Entry[string]{FreshUntil: DeadlineOf(at(-time.Second)), StaleUntil: DeadlineOf(at(-time.Second)), ExpiresAt: DeadlineOf(at(-time.Second))}, never, verdictMiss},
		{"StaleFor as long as it goes", pol(Options{FreshFor: time.Minute, StaleFor: math.MaxInt64}),
			Entry[string]{FreshUntil: DeadlineOf(at(-100 * 365 * 24 * time.Hour))}, never, verdictStale},
		{"FreshUntil past what UnixNano can hold", policy{}, Entry[string]{FreshUntil: maxDeadline}, never, verdictFresh},
		{"early refresh near the end", pol(Options{FreshFor: time.Minute, EarlyRefresh: 1}),
			Entry[string]{FreshUntil: DeadlineOf(at(time.Second)), LoadDuration: MicrosOf(time.Second)}, always, verdictRefreshEarly},
		{"early refresh not before the last tenth", pol(Options{FreshFor: time.Minute, EarlyRefresh: 1}),
			Entry[string]{FreshUntil: DeadlineOf(at(7 * time.Second)), LoadDuration: MicrosOf(time.Second)}, always, verdictFresh},
		{"early refresh needs a load time", pol(Options{FreshFor: time.Minute, EarlyRefresh: 1}),
			Entry[string]{FreshUntil: DeadlineOf(at(time.Second))}, always, verdictFresh},
		{"early refresh by chance only", pol(Options{FreshFor: time.Minute, EarlyRefresh: 1}),
			Entry[string]{FreshUntil: DeadlineOf(at(time.Second)), LoadDuration: MicrosOf(time.Second)}, func() float64 { return 0.5 }, verdictFresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.e
			assert.Equal(t, tc.expect, judge(&tc.p, &e, now, tc.rnd))
		})
	}
}

func TestEntriesSaturate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, o := range []Options{
		{FreshFor: math.MaxInt64 - 1},
		{FreshFor: math.MaxInt64 - 1, Jitter: 0.5},
		{FreshFor: math.MaxInt64 - 1, StaleFor: math.MaxInt64, StaleIfError: math.MaxInt64},
		{FreshFor: 200 * 365 * 24 * time.Hour, Jitter: 0.5},
	} {
		p := pol(o)
		for _, r := range []float64{0, 0.5, 0.999999} {
			e := valueEntry(&p, &p.def, "v", DeadlineOf(now), time.Millisecond, r)
			assert.True(t, e.FreshUntil.Time().After(now), "%+v r=%v: FreshUntil %v", p, r, e.FreshUntil)
			assert.False(t, e.ExpiresAt.Before(e.FreshUntil), "%+v: ExpiresAt %v", p, e.ExpiresAt)
			assert.False(t, e.StaleUntil.Before(e.FreshUntil) || e.StaleUntil.After(e.ExpiresAt), "%+v: StaleUntil %v", p, e.StaleUntil)
			assert.True(t, e.ExpiresAt.After(DeadlineOf(now)), "saturated, never wrapped into the past: %v", e.ExpiresAt)
			assert.Equal(t, verdictFresh, judge(&p, &e, now.UnixNano(), func() float64 { return 0 }))
		}
	}
	mp := pol(Options{MissingFor: math.MaxInt64, Jitter: 1})
	m := missingEntry[string](&mp, &mp.def, DeadlineOf(now), 0, 0.99)
	assert.True(t, m.FreshUntil.Time().After(now))
	var zero policy
	gone := missingEntry[string](&zero, &zero.def, DeadlineOf(now), 0, 0)
	assert.True(t, gone.ExpiresAt.Time().Before(now), "without MissingFor, an entry that has expired already")
}

// pol is the policy of o.
func pol(o Options) policy { return newPolicy(&o) }

func TestJitterSpreadsWithinItsFraction(t *testing.T) {
	d := time.Hour
	assert.Equal(t, d, jittered(d, 0, 0.3))
	assert.Equal(t, 54*time.Minute, jittered(d, 0.1, 0))
	assert.Equal(t, time.Hour, jittered(d, 0.1, 0.5))
	assert.Equal(t, time.Duration(math.MaxInt64), jittered(math.MaxInt64, 0.5, 0.99))
}

func TestSaturatingArithmetic(t *testing.T) {
	assert.Equal(t, int64(math.MaxInt64), addNanos(math.MaxInt64-5, 10))
	assert.Equal(t, int64(15), addNanos(5, 10))
	assert.Equal(t, maxDeadline, DeadlineOf(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, minDeadline, DeadlineOf(time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, maxDeadline, later(maxDeadline, time.Hour))
	assert.Equal(t, maxDeadline, later(maxDeadline-Deadline(time.Hour), math.MaxInt64))
	year2262 := later(DeadlineOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), math.MaxInt64)
	assert.Equal(t, maxDeadline, year2262)
	assert.False(t, later(year2262, math.MaxInt64).Before(year2262), "never wraps into the past")
	assert.Equal(t, Deadline(1), later(minDeadline+1, math.MaxInt64), "an instant that would land on never lands 1 ns later")
}

func TestEntryPolicyBuildsEntriesWithTheirOwnWindows(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := pol(Options{FreshFor: time.Hour, StaleFor: time.Hour})
	for _, tc := range []struct {
		name                      string
		ep                        EntryPolicy
		fresh, stale, expires     time.Duration
		forever                   bool
		atFresh, atStale, atLater verdict
	}{
		{name: "fresh, then stale, then a fallback", ep: EntryPolicy{FreshFor: time.Minute, StaleFor: time.Minute, StaleIfError: 5 * time.Minute},
			fresh: time.Minute, stale: 2 * time.Minute, expires: 6 * time.Minute, atFresh: verdictFresh, atStale: verdictStale, atLater: verdictFallback},
		{name: "stale-if-error shorter than stale-while-revalidate", ep: EntryPolicy{FreshFor: time.Minute, StaleFor: 5 * time.Minute, StaleIfError: time.Minute},
			fresh: time.Minute, stale: 6 * time.Minute, expires: 6 * time.Minute, atFresh: verdictFresh, atStale: verdictStale, atLater: verdictStale},
		{name: "max-age=0: stale at once", ep: EntryPolicy{StaleFor: time.Minute},
			fresh: 0, stale: time.Minute, expires: time.Minute, atFresh: verdictStale, atStale: verdictMiss, atLater: verdictMiss},
		{name: "nothing: expired at once", ep: EntryPolicy{},
			atFresh: verdictMiss, atStale: verdictMiss, atLater: verdictMiss},
		{name: "Forever", ep: EntryPolicy{FreshFor: Forever, StaleFor: time.Minute}, forever: true,
			atFresh: verdictFresh, atStale: verdictFresh, atLater: verdictFresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valueEntry(&p, &tc.ep, "v", DeadlineOf(now), 0, 0.5)
			if tc.forever {
				assert.True(t, e.FreshUntil.IsZero() && e.StaleUntil.IsZero() && e.ExpiresAt.IsZero(), "%+v", e)
			} else {
				assert.Equal(t, DeadlineOf(now.Add(tc.fresh)), e.FreshUntil)
				assert.Equal(t, DeadlineOf(now.Add(tc.stale)), e.StaleUntil)
				assert.Equal(t, DeadlineOf(now.Add(tc.expires)), e.ExpiresAt)
			}
			never := func() float64 { return 0 }
			at := func(d time.Duration) int64 { return now.Add(d).UnixNano() }
			assert.Equal(t, tc.atFresh, judge(&p, &e, at(0), never), "as it is stored")
			assert.Equal(t, tc.atStale, judge(&p, &e, at(90*time.Second), never), "after 90s")
			assert.Equal(t, tc.atLater, judge(&p, &e, at(5*time.Minute), never), "after 5m")
		})
	}
	m := missingEntry[string](&p, &EntryPolicy{MissingFor: time.Minute}, DeadlineOf(now), 0, 0.5)
	assert.Equal(t, verdictMissing, judge(&p, &m, now.UnixNano(), noRefresh))
	assert.Equal(t, verdictMiss, judge(&p, &m, now.Add(time.Minute).UnixNano(), noRefresh))
}

func TestBackoffWaitDoublesUpToMaxWithinItsJitter(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second}
	for n, want := range []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		if n > 0 {
			assert.Equal(t, want, b.wait(n, 0.3), "failure %d", n)
		}
	}
	assert.Equal(t, 10*time.Second, b.wait(1000, 0.5), "no overflow however many failures")
	assert.Equal(t, time.Duration(math.MaxInt64), (&Backoff{Initial: time.Hour, Max: math.MaxInt64}).wait(80, 0))
	j := Backoff{Initial: time.Second, Max: time.Minute, Jitter: 0.5}
	assert.Equal(t, 2*time.Second, j.wait(2, 0.5), "the middle of the range")
	assert.Equal(t, time.Second, j.wait(2, 0), "down by half")
	assert.Equal(t, time.Minute, j.wait(10, 0.99), "never past Max")
}

func TestJitterNeverLengthensAPolicyALoadSet(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := pol(Options{FreshFor: time.Hour, Jitter: 0.5})
	own := EntryPolicy{FreshFor: time.Minute, MissingFor: time.Minute}
	for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
		e := valueEntry(&p, &own, "v", DeadlineOf(now), 0, r)
		assert.False(t, e.FreshUntil.Time().After(now.Add(time.Minute)), "r=%v: %v past the load's FreshFor", r, e.FreshUntil.Time().Sub(now))
		assert.False(t, e.FreshUntil.Time().Before(now.Add(30*time.Second)), "r=%v: within Jitter below it", r)
		if r == 0 {
			assert.Equal(t, DeadlineOf(now.Add(30*time.Second)), e.FreshUntil, "the whole Jitter below it")
		}
		m := missingEntry[string](&p, &own, DeadlineOf(now), 0, r)
		assert.False(t, m.FreshUntil.Time().After(now.Add(time.Minute)), "r=%v", r)
	}
	assert.Equal(t, DeadlineOf(now.Add(90*time.Minute)), DeadlineOf(valueEntry(&p, &p.def, "v", DeadlineOf(now), 0, 0.999999999).FreshUntil.Time().Round(time.Second)), "the Options' own: ±")
}
