package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"time"
)

// series is one kind of bar in a chart.
type series struct{ name, color string }

// barRow is one labelled group of bars, one per series, with a note written
// at its right.
type barRow struct {
	label  string
	values []float64
	note   string
}

// chart is a horizontal grouped bar chart.
type chart struct {
	title    string
	series   []series
	rows     []barRow
	log      bool    // logarithmic axis from lo to hi (powers of ten)
	lo, hi   float64 // axis range; for a linear axis lo is 0 and hi is found
	tick     func(float64) string
	footnote string
}

var palette = []string{"#4c78a8", "#f58518", "#e45756", "#54a24b", "#b279a2"}

func (c chart) svg() []byte {
	const (
		width, left, top, noteW = 980, 420, 50, 170
		barH                    = 12
	)
	rowH := len(c.series)*(barH+2) + 14
	height := top + len(c.rows)*rowH + 60
	plotW := float64(width - left - noteW)
	lo, hi := c.lo, c.hi
	if !c.log {
		lo = 0
		for _, r := range c.rows {
			for _, v := range r.values {
				hi = math.Max(hi, v)
			}
		}
		hi = niceCeil(hi)
	}
	x := func(v float64) float64 {
		if c.log {
			v = math.Max(v, lo)
			return left + (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*plotW
		}
		return left + v/hi*plotW
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(c.title))
	var ticks []float64
	if c.log {
		for v := lo; v <= hi*1.0001; v *= 10 {
			ticks = append(ticks, v)
		}
	} else {
		for i := range 6 {
			ticks = append(ticks, hi*float64(i)/5)
		}
	}
	for _, v := range ticks {
		px := x(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", px, top-5, px, height-45)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", px, height-32, html.EscapeString(c.tick(v)))
	}
	for i, r := range c.rows {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+rowH/2, html.EscapeString(r.label))
		for j, v := range r.values {
			s := c.series[j]
			w := math.Max(x(v)-left, 1)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s</title></rect>`+"\n",
				left, y+j*(barH+2), w, barH, s.color, html.EscapeString(s.name), html.EscapeString(c.tick(v)))
		}
		if r.note != "" {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#333">%s</text>`+"\n", width-noteW+8, y+rowH/2, html.EscapeString(r.note))
		}
	}
	lx := left
	for _, s := range c.series {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			lx, height-22, s.color, lx+16, height-12, html.EscapeString(s.name))
		lx += 16 + 7*len(s.name) + 20
	}
	if c.footnote != "" {
		fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555" font-size="11">%s</text>`+"\n", height-2, html.EscapeString(c.footnote))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func writeChart(dir, name string, c chart) error {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, c.svg(), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", path)
	return nil
}

func durTick(v float64) string { return time.Duration(v).String() }

func hitChart(rs []hitResult, env string) chart {
	c := chart{
		title:    "Hit on one key, every core reading: ns/op through the loader and with the store's own Get",
		series:   []series{{"through the loader", palette[0]}, {"store's own Get", palette[1]}},
		tick:     func(v float64) string { return fmt.Sprintf("%.0fns", v) },
		footnote: env,
	}
	for _, r := range rs {
		c.rows = append(c.rows, barRow{label: r.c.name, values: []float64{r.loaderNs.median(), r.rawNs.median()},
			note: fmt.Sprintf("%.2f× · %.2f allocs/op", r.ratio.median(), r.loaderAllocs.median())})
	}
	return c
}

func stampedeChart(rs []stampedeResult, cases []stampedeCase, after []afterFillResult, env string) chart {
	c := chart{
		title: "Stampede on a cold key: loads of the key in the worst repetition (log scale)",
		log:   true, lo: 1, hi: 1e4,
		tick:     func(v float64) string { return fmt.Sprintf("%.0f", v) },
		footnote: env,
	}
	for i, sc := range cases {
		c.series = append(c.series, series{sc.name, palette[i%len(palette)]})
	}
	// rs holds every contender for the first case, then for the next.
	rows := map[string]*barRow{}
	var order []string
	for _, r := range rs {
		if _, ok := rows[r.c.name]; !ok {
			rows[r.c.name] = &barRow{label: r.c.name}
			order = append(order, r.c.name)
		}
		rows[r.c.name].values = append(rows[r.c.name].values, r.loads.max())
	}
	for _, a := range after {
		if r, ok := rows[a.c.name]; ok {
			r.note = fmt.Sprintf("%.0f extra loads after fill", a.extra.median())
		}
	}
	for _, n := range order {
		c.rows = append(c.rows, *rows[n])
	}
	return c
}

func zipfChart(rs []zipfResult, env string) chart {
	c := chart{
		title:    "Zipf workload: requests per second (16 goroutines, 50µs source)",
		series:   []series{{"throughput", palette[0]}},
		tick:     func(v float64) string { return fmt.Sprintf("%.0fk/s", v/1e3) },
		footnote: env,
	}
	for _, r := range rs {
		c.rows = append(c.rows, barRow{label: r.c.name, values: []float64{r.throughput.median()},
			note: fmt.Sprintf("hit ratio %.1f%% (own %.1f%%)", 100*r.hitRatio.median(), 100*r.ownHitRatio.median())})
	}
	return c
}

func stormChart(results [][]stormResult, env string) chart {
	c := chart{
		title:    "Expiry storm: reader latency (log scale) and loads per key per freshness period",
		series:   []series{{"p50", palette[0]}, {"p99", palette[1]}, {"p99.99", palette[2]}},
		log:      true,
		lo:       10,
		hi:       1e8,
		tick:     durTick,
		footnote: env,
	}
	for _, rs := range results {
		m := medianStorm(rs)
		note := ""
		if m.loadsPerPeriod > 0 {
			note = fmt.Sprintf("%.2f loads/key/period", m.loadsPerPeriod)
		}
		c.rows = append(c.rows, barRow{label: m.mode.label(), values: []float64{m.p50, m.p99, m.p9999}, note: note})
	}
	return c
}
