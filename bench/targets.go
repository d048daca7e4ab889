package main

import (
	"fmt"
	"math"
	"strings"
)

// The targets flightcache is held to.
const (
	hitRatioTarget  = 1.10 // hit through the loader / the store's own Get
	zeroAllocs      = 0.005
	hitRatioEqualPP = 0.5 // zipf: hit ratio within this many points of the store's own
	stormP99Target  = 2.0 // stale-while-revalidate p99 / plain hit p99
)

func storeName(c contender) string { return c.store + "store" }

func over(got, limit float64) string {
	return fmt.Sprintf("%.1f%% over", 100*(got/limit-1))
}

func hitTargets(rs []hitResult) []target {
	var ts []target
	for _, r := range rs {
		if r.c.kind != "flightcache" {
			continue
		}
		ratio := r.ratio.median()
		ts = append(ts, target{
			goal:     fmt.Sprintf("hit through the loader ≤ %.2f× the store's Get", hitRatioTarget),
			subject:  storeName(r.c),
			measured: fmt.Sprintf("%.2f× (%.1fns vs %.1fns)", ratio, r.loaderNs.median(), r.rawNs.median()),
			met:      ratio <= hitRatioTarget,
			miss:     over(ratio, hitRatioTarget),
			timing:   true,
		})
		a := r.loaderAllocs.median()
		ts = append(ts, target{
			goal:     "0 allocs/op on a hit",
			subject:  storeName(r.c),
			measured: fmt.Sprintf("%.2f allocs/op", a),
			met:      a < zeroAllocs,
			miss:     fmt.Sprintf("%.2f allocs/op", a),
			timing:   true,
		})
	}
	return ts
}

func stampedeTargets(rs []stampedeResult) []target {
	worst := map[string]float64{}
	var detail = map[string][]string{}
	var order []contender
	for _, r := range rs {
		if r.c.kind != "flightcache" {
			continue
		}
		if _, ok := worst[r.c.name]; !ok {
			order = append(order, r.c)
		}
		worst[r.c.name] = math.Max(worst[r.c.name], r.loads.max())
		detail[r.c.name] = append(detail[r.c.name], fmt.Sprintf("%s: worst %.0f", r.sc.name, r.loads.max()))
	}
	var ts []target
	for _, c := range order {
		w := worst[c.name]
		ts = append(ts, target{
			goal:     fmt.Sprintf("exactly 1 load per key in every stampede repetition (%d)", len(rs[0].loads)),
			subject:  storeName(c),
			measured: strings.Join(detail[c.name], "; "),
			met:      w == 1,
			miss:     fmt.Sprintf("%.0f loads of one key", w),
		})
	}
	return ts
}

func afterFillTargets(rs []afterFillResult) []target {
	var ts []target
	for _, r := range rs {
		if r.c.kind != "flightcache" {
			continue
		}
		ts = append(ts, target{
			goal:     "0 extra loads for a read right after a fill",
			subject:  storeName(r.c),
			measured: fmt.Sprintf("%.0f (worst round)", r.extra.max()),
			met:      r.extra.max() == 0,
			miss:     fmt.Sprintf("%.0f extra loads", r.extra.max()),
		})
	}
	return ts
}

func zipfTargets(rs []zipfResult) []target {
	naive := map[string]zipfResult{}
	for _, r := range rs {
		if r.c.kind == "naive" {
			naive[r.c.store] = r
		}
	}
	var ts []target
	for _, r := range rs {
		if r.c.kind != "flightcache" {
			continue
		}
		if n, ok := naive[r.c.store]; ok {
			got, want := r.throughput.median(), n.throughput.median()
			ts = append(ts, target{
				goal:     "zipf throughput ≥ the hand-written composition on the same store",
				subject:  storeName(r.c),
				measured: fmt.Sprintf("%.0fk/s vs %.0fk/s", got/1e3, want/1e3),
				met:      got >= want,
				miss:     fmt.Sprintf("%.1f%% slower", 100*(1-got/want)),
				timing:   true,
			})
		}
		got, own := r.hitRatio.median(), r.storeHitRatio.median()
		diff := 100 * (got - own)
		ts = append(ts, target{
			goal:     fmt.Sprintf("zipf hit ratio equal to its Store's own, used directly (not more than %.1f points below; above is callers joining a load)", hitRatioEqualPP),
			subject:  storeName(r.c),
			measured: fmt.Sprintf("%.2f%% vs %.2f%% (%+.2f points)", 100*got, 100*own, diff),
			met:      diff >= -hitRatioEqualPP,
			miss:     fmt.Sprintf("%+.2f points", diff),
			timing:   true,
		})
	}
	return ts
}

func stormTargets(results [][]stormResult) []target {
	plain := map[string]stormResult{}
	for _, rs := range results {
		if m := rs[0].mode; m.c.kind == "flightcache" && m.plain {
			plain[m.c.store] = medianStorm(rs)
		}
	}
	var ts []target
	for _, rs := range results {
		m := rs[0].mode
		if m.c.kind != "flightcache" || !m.stale || m.early != 0 {
			continue
		}
		who := storeName(m.c) + ", stale-while-revalidate"
		med := medianStorm(rs)
		if p, ok := plain[m.c.store]; ok {
			ratio := med.p99 / p.p99
			ts = append(ts, target{
				goal:     fmt.Sprintf("storm: reader p99 within %.0f× of a plain hit", stormP99Target),
				subject:  who,
				measured: fmt.Sprintf("%s vs %s (%.2f×)", nsStr(med.p99), nsStr(p.p99), ratio),
				met:      ratio <= stormP99Target,
				miss:     over(ratio, stormP99Target),
				timing:   true,
			})
		}
		ts = append(ts, target{
			goal:     "storm: ≤ 1 load per key per freshness period",
			subject:  who,
			measured: f2Str(med.loadsPerPeriod),
			met:      med.loadsPerPeriod <= 1,
			miss:     over(med.loadsPerPeriod, 1),
			timing:   true,
		})
		past, age, lost, overlapping, _ := worstStorm(rs)
		ts = append(ts,
			target{goal: "storm: zero lost updates", subject: who, measured: intStr(lost), met: lost == 0, miss: intStr(lost)},
			target{goal: "storm: zero values past the staleness bound", subject: who,
				measured: fmt.Sprintf("%.0f (oldest %s)", past, nsStr(age)), met: past == 0, miss: intStr(past) + " reads"},
			target{goal: "storm: never two loads of one key at once", subject: who, measured: intStr(overlapping), met: overlapping == 0, miss: intStr(overlapping) + " overlapping loads"},
		)
	}
	return ts
}
