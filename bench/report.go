package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// sample is one measurement taken in every round.
type sample []float64

func (s sample) sorted() []float64 {
	v := slices.Clone(s)
	slices.Sort(v)
	return v
}

// median is the middle value, or the mean of the two middle values.
func (s sample) median() float64 {
	if len(s) == 0 {
		return 0
	}
	v := s.sorted()
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (s sample) min() float64 { return slices.Min(s) }
func (s sample) max() float64 { return slices.Max(s) }

// durations turns a sample of nanoseconds into durations for printing.
func dur(ns float64) time.Duration { return time.Duration(ns) }

// fmtDur prints a duration with about three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.3gs", d.Seconds())
}

// spread prints the median of s and, when rounds differ, their range.
func spread(s sample, f func(float64) string) string {
	if len(s) < 2 || s.min() == s.max() {
		return f(s.median())
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.median()), f(s.min()), f(s.max()))
}

func nsStr(v float64) string   { return fmtDur(dur(v)) }
func intStr(v float64) string  { return fmt.Sprintf("%.0f", v) }
func f2Str(v float64) string   { return fmt.Sprintf("%.2f", v) }
func pctStr(v float64) string  { return fmt.Sprintf("%.2f%%", 100*v) }
func kopsStr(v float64) string { return fmt.Sprintf("%.0fk/s", v/1e3) }

// environment describes the machine and the versions measured, for the top
// of every report.
func environment() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s/%s, %d CPUs (GOMAXPROCS %d)", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	if m := cpuModel(); m != "" {
		fmt.Fprintf(&b, ", %s", m)
	}
	b.WriteString(".")
	if bi, ok := debug.ReadBuildInfo(); ok {
		var mods []string
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/flightcache/flightcache":
				v := d.Version
				if d.Replace != nil {
					v = "this checkout (" + d.Replace.Path + ")"
				}
				mods = append(mods, "flightcache "+v)
			case "github.com/hashicorp/golang-lru/v2", "github.com/dgraph-io/ristretto/v2",
				"github.com/maypok86/otter/v2", "github.com/viccon/sturdyc",
				"github.com/Yiling-J/theine-go", "golang.org/x/sync":
				mods = append(mods, d.Path+" "+d.Version)
			}
		}
		slices.Sort(mods)
		fmt.Fprintf(&b, " Modules: %s.", strings.Join(mods, ", "))
	}
	return b.String()
}

// cpuModel is the processor's name from /proc/cpuinfo, or "" where there is
// none.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// table collects a markdown table.
type table struct {
	header []string
	align  []bool // right-aligned columns
	rows   [][]string
}

func newTable(cols ...string) *table {
	t := &table{}
	for _, c := range cols {
		right := strings.HasPrefix(c, ">")
		t.header = append(t.header, strings.TrimPrefix(c, ">"))
		t.align = append(t.align, right)
	}
	return t
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	fmt.Fprintf(w, "| %s |\n|", strings.Join(t.header, " | "))
	for _, r := range t.align {
		if r {
			fmt.Fprint(w, "---:|")
		} else {
			fmt.Fprint(w, "---|")
		}
	}
	fmt.Fprintln(w)
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
}

// target is one line of the summary: a goal, what was measured, and whether
// the goal was met.
type target struct {
	goal     string
	subject  string
	measured string
	met      bool
	miss     string // by how much it was missed
	// timing is set for a target on a speed, a latency or a ratio over a
	// sample, which a -quick run measures too briefly to judge; the others
	// (loads, lost updates, values past their bound) hold in a run of any
	// length.
	timing bool
}

// writeTargets writes the summary of ts. In a quick run, the timing targets
// are shown as measured but not judged.
func writeTargets(w io.Writer, ts []target, quick bool) {
	t := newTable("target", "who", "measured", "result")
	met, judged := 0, 0
	for _, x := range ts {
		res := "met"
		switch {
		case quick && x.timing:
			res = "not judged (-quick)"
		case x.met:
			judged++
			met++
		default:
			judged++
			res = "**missed**"
			if x.miss != "" {
				res += ": " + x.miss
			}
		}
		t.add(x.goal, x.subject, x.measured, res)
	}
	fmt.Fprintf(w, "## Targets\n\n%d of %d met.", met, judged)
	if judged < len(ts) {
		fmt.Fprintf(w, " %d not judged: a -quick run measures speeds, latencies and sampled ratios too briefly; run without -quick to judge them.", len(ts)-judged)
	}
	fmt.Fprint(w, "\n\n")
	t.write(w)
}

// writeReference16 writes the reference figures measured on a 16-core
// machine (GOMAXPROCS 16) before the rebuild of the Loader's core, as
// issue 16 quotes them. They are not measured by this run; they stay here,
// marked, so that a 2-core table can be read against what wide machines
// show.
func writeReference16(w io.Writer) {
	fmt.Fprint(w, `## Reference: 16 cores (not measured by this run)

Figures from a 16-core machine (GOMAXPROCS 16), measured side by side in one run before the Loader's core was rebuilt (issue 16), quoted as they were reported; they are not produced by this program on this machine.

| what | flightcache | peer |
|---|---|---|
| singleflight `+"`Do`"+`, uncontended, context.Background() | 1.1–1.4µs, 2 allocs | x/sync/singleflight 0.20–0.27µs, 1 alloc |
| singleflight `+"`Do`"+`, uncontended, cancellable context | 1.6–1.7µs, 4 allocs | x/sync/singleflight 0.20–0.27µs, 1 alloc |
| hit, 16 goroutines, lrustore | 1.54× raw golang-lru | – |
| hit, 16 goroutines, otterstore | 12.6ns | otter v2 3.7ns (no expiry configured) |
| hit, 16 goroutines, 1,000 keys, ristrettostore | 1.36× raw ristretto | – |
| Zipf (1M requests, 100k keys, capacity 10k), otterstore | 478k requests/s, p99 356µs | otter v2 305k requests/s, p99 1,065µs |
| expiry storm, refresh mode, 16 readers, otterstore | p99 ≈ 50µs, 7.5M requests/s | otter v2 refresh mode p99 0.5µs, 39M requests/s |
| expiry storm, refresh mode, 16 readers, lrustore | p99 ≈ 140µs | – |
`)
}
