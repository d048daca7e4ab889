package main

import (
	"bytes"
	"fmt"
	"math"
	"time"
)

// stormChart draws reader latency per mode as grouped bars on a log scale,
// with loads per key per period written beside each group.
func stormChart(rs []stormResult) []byte {
	const (
		width, rowH, left, top = 900, 64, 250, 50
		barH                   = 14
	)
	height := top + len(rs)*rowH + 50
	minNs, maxNs := 10.0, 1e8 // 10ns to 100ms
	x := func(d time.Duration) float64 {
		v := math.Max(float64(d), minNs)
		return left + (math.Log10(v)-math.Log10(minNs))/(math.Log10(maxNs)-math.Log10(minNs))*(width-left-120)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">Expiry storm: reader latency (log scale) and loads per key per freshness period</text>`+"\n", 10)
	for ns := minNs; ns <= maxNs; ns *= 10 {
		px := x(time.Duration(ns))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", px, top-5, px, height-40)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%v</text>`+"\n", px, height-25, time.Duration(ns))
	}
	colors := []struct {
		name  string
		color string
		get   func(stormResult) time.Duration
	}{
		{"p50", "#4c78a8", func(r stormResult) time.Duration { return r.p50 }},
		{"p99", "#f58518", func(r stormResult) time.Duration { return r.p99 }},
		{"p99.99", "#e45756", func(r stormResult) time.Duration { return r.p9999 }},
	}
	for i, r := range rs {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+26, r.mode)
		for j, c := range colors {
			w := x(c.get(r)) - left
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %v</title></rect>`+"\n",
				left, y+j*(barH+2), math.Max(w, 1), barH, c.color, c.name, c.get(r))
		}
		if r.loadsPerPeriod > 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#333">%.2f loads/key/period</text>`+"\n", width-115, y+26, r.loadsPerPeriod)
		}
	}
	for j, c := range colors {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			left+j*90, height-14, c.color, left+j*90+16, height-3, c.name)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
