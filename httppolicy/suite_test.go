package httppolicy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache/httppolicy"
)

// suiteCases are every ported test of the HTTP caching test suite.
func suiteCases() []suiteCase {
	var all []suiteCase
	for _, g := range [][]suiteCase{ccFreshnessCases, expiresCases, ccParseResponseCases, staleHeuristicCases} {
		all = append(all, g...)
	}
	return all
}

// checksThatFail are the suite's "check" tests (which say how a cache
// behaves, not whether it conforms) that this package fails, each on
// purpose:
var checksThatFail = map[string]string{
	// Two different max-ages: RFC 9111, section 4.2.1, allows treating
	// the response as stale, the most restrictive reading.
	"freshness-max-age-two-fresh-stale-sameline": "conflicting max-ages are stale",
	"freshness-max-age-two-fresh-stale-sepline":  "conflicting max-ages are stale",
	"freshness-max-age-two-stale-fresh-sameline": "conflicting max-ages are stale",
	"freshness-max-age-two-stale-fresh-sepline":  "conflicting max-ages are stale",
	// A max-age that is not a delta-seconds is invalid, hence stale.
	"freshness-max-age-decimal-zero": "an invalid max-age is stale",
	"freshness-max-age-decimal-five": "an invalid max-age is stale",
	"freshness-max-age-a100":         "an invalid max-age is stale",
	"freshness-max-age-100a":         "an invalid max-age is stale",
	// A Loader stores the value a load built, not fields: a response whose
	// no-cache names fields is no-cache as a whole.
	"headers-omit-headers-listed-in-Cache-Control-no-cache-single": "no-cache with fields is no-cache",
	"headers-omit-headers-listed-in-Cache-Control-no-cache":        "no-cache with fields is no-cache",
	// A stale response is served only with the upstream's leave
	// (stale-while-revalidate, stale-if-error): RFC 9111, section 4.2.4.
	"stale-close": "no stale-if-error",
	"stale-503":   "no stale-if-error",
	// The same, and Warning is obsolete (RFC 9111, section 5.5).
	"stale-warning-stored": "no stale-if-error, no Warning",
	"stale-warning-become": "no stale-if-error, no Warning",
	// Heuristic freshness of 10% of a few seconds is gone before the
	// suite's next request, 3 seconds later.
	"heuristic-delta-5":  "0.5 s of freshness",
	"heuristic-delta-10": "1 s of freshness",
	"heuristic-delta-30": "3 s of freshness, stale at 3 s",
}

// TestSuite plays every ported test, named by the suite's id, against a
// shared cache (a private one for the suite's browser-only tests) with
// Options.Heuristic on: every required and optimal test passes, and the
// checks pass but for checksThatFail. (With Options.KeepFor negative,
// cc-resp-must-revalidate-stale and cc-resp-no-cache-revalidate and
// -fresh fail: issue 25's input 3.)
func TestSuite(t *testing.T) {
	for _, c := range suiteCases() {
		t.Run(c.id, func(t *testing.T) {
			ok, why := play(c, suiteOptions(c, true))
			if _, fails := checksThatFail[c.id]; fails {
				assert.False(t, ok, "a check listed as failing passes")
				return
			}
			assert.True(t, ok, "%s test: %s", c.kind, why)
		})
	}
}

// TestSuiteWithoutHeuristic: with the zero Options every required test
// still passes, and only the optimal tests that need heuristic freshness
// fail (the checks are left to TestSuiteTally).
func TestSuiteWithoutHeuristic(t *testing.T) {
	for _, c := range suiteCases() {
		if c.kind == "check" {
			continue
		}
		t.Run(c.id, func(t *testing.T) {
			ok, why := play(c, suiteOptions(c, false))
			heuristic := c.kind == "optimal" && len(c.id) > 10 && c.id[:10] == "heuristic-"
			assert.Equal(t, !heuristic, ok, "%s test: %s", c.kind, why)
		})
	}
}

// TestSuiteTally states the figures the package doc and the report give.
func TestSuiteTally(t *testing.T) {
	type tally struct{ pass, all int }
	count := func(heuristic bool) map[string]tally {
		m := map[string]tally{}
		for _, c := range suiteCases() {
			ok, _ := play(c, suiteOptions(c, heuristic))
			n := m[c.kind]
			n.all++
			if ok {
				n.pass++
			}
			m[c.kind] = n
		}
		return m
	}
	on, off := count(true), count(false)
	assert.Equal(t, tally{64, 64}, on["required"], "required, Heuristic on")
	assert.Equal(t, tally{34, 34}, on["optimal"], "optimal, Heuristic on")
	assert.Equal(t, tally{64, 64}, off["required"], "required, Heuristic off")
	assert.Equal(t, tally{25, 34}, off["optimal"], "optimal, Heuristic off")
	assert.Equal(t, tally{17, 34}, on["check"], "check, Heuristic on")
	assert.Equal(t, tally{9, 34}, off["check"], "check, Heuristic off")
	t.Logf("Heuristic on: %v; off: %v", on, off)
}

// suiteOptions are the Options a test is played with.
func suiteOptions(c suiteCase, heuristic bool) httppolicy.Options {
	return httppolicy.Options{Private: c.private, Heuristic: heuristic}
}
