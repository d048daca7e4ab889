package flightcache

import (
	"math"
	"time"
)

// This file is the freshness policy: pure functions of the Options, an Entry
// and the time, with no state and no locks. The read paths ask judge what an
// entry is good for and switch on the answer; the fill pipeline builds the
// entries it stores with valueEntry and missingEntry.

// verdict is what a stored entry is good for at a given moment.
type verdict uint8

const (
	// verdictMiss: nothing servable. Load, and wait for the load.
	verdictMiss verdict = iota
	// verdictFresh: serve the value as it is.
	verdictFresh
	// verdictRefreshEarly: fresh; serve it, and refresh it in the
	// background before it goes stale (XFetch).
	verdictRefreshEarly
	// verdictStale: past its freshness but inside StaleFor. Serve it and
	// refresh it in the background (stale-while-revalidate, RFC 5861).
	verdictStale
	// verdictFallback: not servable, but it may stand in for a load that
	// fails (stale-if-error, RFC 5861). Load, wait, and fall back on failure.
	verdictFallback
	// verdictMissing: a fresh negative entry. The key does not exist.
	verdictMissing
)

// earlyRefreshWindow: no entry is refreshed early before the last
// 1/earlyRefreshWindow of FreshFor.
const earlyRefreshWindow = 10

// policy holds the Options that decide freshness; newPolicy builds it.
type policy struct {
	// def is the EntryPolicy of entries whose load set none: the Options'
	// durations, with a FreshFor of 0 (never stale) as Forever.
	def      EntryPolicy
	freshFor time.Duration // Options.FreshFor; bounds how early a refresh may start
	jitter   float64
	beta     float64 // XFetch's beta; 0: no early refresh
	// inv is the Loader's record of InvalidateTag and Clear, against
	// which every entry is judged first; nil covers nothing.
	inv *invalTable
}

func newPolicy(o *Options) policy {
	def := EntryPolicy{
		FreshFor:     o.FreshFor,
		StaleFor:     o.StaleFor,
		StaleIfError: o.StaleIfError,
		MissingFor:   o.MissingFor,
	}
	if def.FreshFor == 0 {
		def.FreshFor = Forever
	}
	return policy{def: def, freshFor: o.FreshFor, jitter: o.Jitter, beta: o.EarlyRefresh, inv: newInvalTable()}
}

// judge says what e is good for at now (Unix nanoseconds). rnd returns a
// number drawn uniformly from [0, 1); judge calls it only for a fresh entry
// that is a candidate for early refresh.
func judge[V any](p *policy, e *Entry[V], now int64, rnd func() float64) verdict {
	// The common case, a fresh value with no early refresh, is decided
	// here, small enough to be inlined into the read paths.
	if !e.Missing && p.beta == 0 && (e.FreshUntil == 0 || now < int64(e.FreshUntil)) &&
		(e.ExpiresAt == 0 || now < int64(e.ExpiresAt)) && !gone(p, e) {
		return verdictFresh
	}
	return judgeRest(p, e, now, rnd)
}

// gone reports whether an InvalidateTag or a Clear covers e: it is of no
// use, not even to Previous or as a fallback.
func gone[V any](p *policy, e *Entry[V]) bool {
	return p.inv.covers(e.LoadedAt, e.Tags)
}

// judgeRest is judge for every case but the common one.
func judgeRest[V any](p *policy, e *Entry[V], now int64, rnd func() float64) verdict {
	if e.ExpiresAt != 0 && now >= int64(e.ExpiresAt) || gone(p, e) {
		return verdictMiss // never served after it, whatever FreshUntil says
	}
	if e.FreshUntil == 0 {
		if e.Missing {
			return verdictMissing
		}
		return verdictFresh
	}
	freshUntil := int64(e.FreshUntil)
	if now < freshUntil {
		if e.Missing {
			return verdictMissing
		}
		if p.beta > 0 && refreshEarly(p, e, freshUntil-now, rnd) {
			return verdictRefreshEarly
		}
		return verdictFresh
	}
	if e.Missing {
		return verdictMiss
	}
	if e.StaleUntil != 0 {
		// The entry carries its own windows: stale until StaleUntil, then
		// a fallback until ServeUntil (or ExpiresAt, which has not
		// passed), then kept for Previous only (KeepFor).
		if now < int64(e.StaleUntil) {
			return verdictStale
		}
		if e.ServeUntil == 0 || now < int64(e.ServeUntil) {
			return verdictFallback
		}
		return verdictMiss
	}
	// An entry stored without StaleUntil (by hand, or by an older version)
	// has the Options' windows.
	if now < addNanos(freshUntil, p.def.StaleFor) {
		return verdictStale
	}
	if now < addNanos(freshUntil, p.def.StaleIfError) {
		return verdictFallback
	}
	return verdictMiss
}

// refreshEarly applies the XFetch rule of Vattani, Chierichetti and
// Lowenstein ("Optimal Probabilistic Cache Stampede Prevention", VLDB 2015)
// to a fresh entry that goes stale in gap nanoseconds: refresh when
//
//	-delta*beta*ln(rand) >= gap
//
// where delta is how long the entry's load took and rand is uniform in
// (0, 1]. The closer the entry is to going stale, and the more often it is
// read, the likelier a read refreshes it first; cold keys are never refreshed
// early.
//
// How early a key is refreshed grows with the log of its read rate; for a key
// read tens of thousands of times a second whose load takes a tenth of
// FreshFor, the rule alone would refresh it several times per FreshFor. So no
// entry is refreshed earlier than the last tenth of FreshFor, or than twice
// its scaled load time when that is longer, which still leaves the refresh
// time to finish before the entry goes stale.
func refreshEarly[V any](p *policy, e *Entry[V], gap int64, rnd func() float64) bool {
	if e.LoadDuration == 0 {
		return false
	}
	g := float64(gap)
	scale := float64(e.LoadDuration.Duration()) * p.beta
	// -ln(rand) is below 745 for any float64 in (0, 1]: entries further from
	// going stale than that never qualify, and cost no random number.
	if g > 745*scale || g > max(float64(p.freshFor/earlyRefreshWindow), 2*scale) {
		return false
	}
	return -math.Log(1-rnd())*scale >= g
}

// valueEntry builds the entry for v under ep (its tags included), loaded at loadedAt by a load
// that took took. r is uniform in [0, 1) and places the entry in the jitter
// range (1 places it at the policy's full length). The entry carries its
// own windows: FreshUntil, StaleUntil (the end of StaleFor), ServeUntil (the
// end of the longer of StaleFor and StaleIfError) and ExpiresAt (KeepFor
// after ServeUntil).
func valueEntry[V any](p *policy, ep *EntryPolicy, v V, loadedAt Deadline, took time.Duration, r float64) Entry[V] {
	e := Entry[V]{Value: v, LoadDuration: MicrosOf(took), LoadedAt: loadedAt, Tags: ep.tags}
	if ep.FreshFor == Forever {
		return e // fresh until evicted or invalidated
	}
	e.FreshUntil = later(loadedAt, p.spread(ep, ep.FreshFor, r))
	e.StaleUntil = later(e.FreshUntil, ep.StaleFor)
	e.ServeUntil = later(e.FreshUntil, max(ep.StaleFor, ep.StaleIfError))
	e.ExpiresAt = later(e.ServeUntil, ep.KeepFor)
	return e
}

// windowsOf returns the policy whose windows e has, each as long as it is
// from e.LoadedAt, and whether e says (an entry stored without LoadedAt
// does not): a revalidated entry is re-based with it (rule 14).
func windowsOf[V any](e *Entry[V]) (EntryPolicy, bool) {
	if e.LoadedAt == 0 {
		return EntryPolicy{}, false
	}
	if e.FreshUntil == 0 {
		return EntryPolicy{FreshFor: Forever, MissingFor: Forever}, true
	}
	serve := e.ServeUntil
	if serve == 0 {
		serve = e.ExpiresAt
	}
	fresh := span(e.LoadedAt, e.FreshUntil)
	ep := EntryPolicy{
		FreshFor:   fresh,
		MissingFor: fresh,
		StaleFor:   span(e.FreshUntil, e.StaleUntil),
	}
	if serve != 0 {
		ep.StaleIfError = span(e.FreshUntil, serve)
		if e.ExpiresAt != 0 {
			ep.KeepFor = span(serve, e.ExpiresAt)
		}
	}
	return ep, true
}

// staleFrom returns e made stale at now, its later windows (StaleUntil,
// ServeUntil, ExpiresAt) moved as much earlier as FreshUntil is, and
// whether that changed e: an entry stale already is left as it is. An entry
// fresh for ever has no later window: it is gone at now.
func staleFrom[V any](e Entry[V], now Deadline) (Entry[V], bool) {
	if e.FreshUntil != 0 && e.FreshUntil <= now {
		return e, false
	}
	if e.FreshUntil == 0 {
		e.FreshUntil, e.StaleUntil, e.ServeUntil, e.ExpiresAt = now, now, now, now
		return e, true
	}
	from := e.FreshUntil
	e.FreshUntil = now
	for _, t := range []*Deadline{&e.StaleUntil, &e.ServeUntil, &e.ExpiresAt} {
		if *t != 0 {
			*t = later(now, span(from, *t))
		}
	}
	return e, true
}

// span returns how long it is from a to b, two instants (not never): 0 when
// b is not after a, and Forever when b is within an hour of the end of the
// Deadline range, where a saturated instant lies (rule 12).
func span(a, b Deadline) time.Duration {
	if b <= a {
		return 0
	}
	if b > maxDeadline-Deadline(time.Hour) {
		return Forever
	}
	return b.Sub(a)
}

// missingEntry builds what a fill stores, under ep, for a key the source
// does not have: a negative entry for MissingFor, or, without negative
// caching, an entry that has already expired (see goneEntry).
func missingEntry[V any](p *policy, ep *EntryPolicy, loadedAt Deadline, took time.Duration, r float64) Entry[V] {
	if ep.MissingFor == 0 {
		return goneEntry[V]()
	}
	until := later(loadedAt, p.spread(ep, ep.MissingFor, r))
	return Entry[V]{
		Missing: true, FreshUntil: until, StaleUntil: until, ServeUntil: until,
		ExpiresAt: later(until, ep.KeepFor), LoadDuration: MicrosOf(took), LoadedAt: loadedAt, Tags: ep.tags,
	}
}

// goneEntry is an entry that has already expired: storing it makes the Store
// drop whatever it kept for the key (every Store treats a Set of an expired
// entry so), with the fencing and write order of any other write.
func goneEntry[V any]() Entry[V] {
	return Entry[V]{Missing: true, FreshUntil: longAgo, StaleUntil: longAgo, ExpiresAt: longAgo}
}

// spread applies Options.Jitter to d, a duration of ep, placed by r in
// [0, 1): ± the fraction for the Options' own policy, and only downward for
// a policy a load set, whose durations are the source's maximum (as
// RFC 9111's max-age is: a response is not served fresh past it).
func (p *policy) spread(ep *EntryPolicy, d time.Duration, r float64) time.Duration {
	if ep == &p.def {
		return jittered(d, p.jitter, r)
	}
	return jittered(d, p.jitter, r/2) // between (1-jitter)·d and d
}

// longAgo is the instant of entries that have expired already: long enough
// ago that no clock, however coarse or skewed, sees it as the future.
const longAgo = Deadline(time.Second) // 1970-01-01T00:00:01Z

// jittered spreads d by up to ± the fraction j, placed by r in [0, 1), and
// saturates at the longest Duration instead of overflowing.
func jittered(d time.Duration, j, r float64) time.Duration {
	if j == 0 {
		return d
	}
	f := float64(d) * (1 + j*(2*r-1))
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return max(time.Duration(f), 0)
}

// Saturating time arithmetic (rule 12): a duration as long as
// math.MaxInt64 never wraps a time into the past.

// addNanos returns n+d, saturated at math.MaxInt64. d is not negative.
func addNanos(n int64, d time.Duration) int64 {
	if n > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return n + int64(d)
}

// later returns d+x, an instant (not never) moved later by x, which is not
// negative, saturated at the end of the Deadline range (rule 12).
func later(d Deadline, x time.Duration) Deadline {
	return notNever(addSat(d, x))
}
