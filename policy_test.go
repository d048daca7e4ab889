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
	swr := policy{freshFor: time.Minute, staleFor: time.Minute, staleIfError: 2 * time.Minute}
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
		{"before FreshUntil", swr, Entry[string]{FreshUntil: at(time.Second)}, never, verdictFresh},
		{"at FreshUntil is not fresh", policy{}, Entry[string]{FreshUntil: at(0), ExpiresAt: at(0)}, never, verdictMiss},
		{"fresh negative entry", swr, Entry[string]{Missing: true, FreshUntil: at(time.Second)}, never, verdictMissing},
		{"stale negative entry is a miss", swr, Entry[string]{Missing: true, FreshUntil: at(-time.Second), ExpiresAt: at(time.Hour)}, never, verdictMiss},
		{"inside StaleFor", swr, Entry[string]{FreshUntil: at(-30 * time.Second), ExpiresAt: at(time.Hour)}, never, verdictStale},
		{"past StaleFor, inside StaleIfError", swr, Entry[string]{FreshUntil: at(-90 * time.Second), ExpiresAt: at(time.Hour)}, never, verdictFallback},
		{"past both", swr, Entry[string]{FreshUntil: at(-3 * time.Minute), ExpiresAt: at(time.Hour)}, never, verdictMiss},
		{"past ExpiresAt", swr, Entry[string]{FreshUntil: at(-time.Second), ExpiresAt: at(-time.Millisecond)}, never, verdictMiss},
		{"StaleFor as long as it goes", policy{freshFor: time.Minute, staleFor: math.MaxInt64},
			Entry[string]{FreshUntil: at(-100 * 365 * 24 * time.Hour)}, never, verdictStale},
		{"FreshUntil past what UnixNano can hold", policy{}, Entry[string]{FreshUntil: farFuture}, never, verdictFresh},
		{"early refresh near the end", policy{freshFor: time.Minute, beta: 1},
			Entry[string]{FreshUntil: at(time.Second), LoadDuration: time.Second}, always, verdictRefreshEarly},
		{"early refresh not before the last tenth", policy{freshFor: time.Minute, beta: 1},
			Entry[string]{FreshUntil: at(7 * time.Second), LoadDuration: time.Second}, always, verdictFresh},
		{"early refresh needs a load time", policy{freshFor: time.Minute, beta: 1},
			Entry[string]{FreshUntil: at(time.Second)}, always, verdictFresh},
		{"early refresh by chance only", policy{freshFor: time.Minute, beta: 1},
			Entry[string]{FreshUntil: at(time.Second), LoadDuration: time.Second}, func() float64 { return 0.5 }, verdictFresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.e
			assert.Equal(t, tc.expect, judge(&tc.p, &e, now, tc.rnd))
		})
	}
}

func TestEntriesSaturate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range []policy{
		{freshFor: math.MaxInt64},
		{freshFor: math.MaxInt64, jitter: 0.5},
		{freshFor: math.MaxInt64, staleFor: math.MaxInt64, staleIfError: math.MaxInt64},
		{freshFor: 200 * 365 * 24 * time.Hour, jitter: 0.5},
	} {
		for _, r := range []float64{0, 0.5, 0.999999} {
			e := valueEntry(&p, "v", now, time.Millisecond, r)
			assert.True(t, e.FreshUntil.After(now), "%+v r=%v: FreshUntil %v", p, r, e.FreshUntil)
			assert.False(t, e.ExpiresAt.Before(e.FreshUntil), "%+v: ExpiresAt %v", p, e.ExpiresAt)
			assert.False(t, e.ExpiresAt.After(farFuture))
			assert.Equal(t, verdictFresh, judge(&p, &e, now.UnixNano(), func() float64 { return 0 }))
		}
	}
	m := missingEntry[string](&policy{missingFor: math.MaxInt64, jitter: 1}, now, 0, 0.99)
	assert.True(t, m.FreshUntil.After(now))
	gone := missingEntry[string](&policy{}, now, 0, 0)
	assert.True(t, gone.ExpiresAt.Before(now), "without MissingFor, an entry that has expired already")
}

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
	assert.Equal(t, int64(math.MaxInt64), unixNanos(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, int64(math.MinInt64), unixNanos(time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, farFuture, addTime(farFuture, time.Hour))
	assert.Equal(t, farFuture, addTime(farFuture.Add(-time.Hour), math.MaxInt64))
	year2318 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(math.MaxInt64)
	assert.True(t, addTime(year2318, math.MaxInt64).After(year2318), "never wraps into the past")
}

func TestIsBeforeAgreesWithUnixNanos(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{0, 1, -1, time.Second - 1, time.Second, -time.Second, 1500 * time.Millisecond, time.Hour, math.MaxInt64} {
		for _, now := range []int64{base.UnixNano(), base.UnixNano() + 1, base.UnixNano() + int64(time.Second) - 1} {
			tt := addTime(base, max(d, 0))
			if d < 0 {
				tt = base.Add(d)
			}
			assert.Equal(t, now < unixNanos(tt), isBefore(now, tt), "now %d, t %v", now, tt)
		}
	}
}
