package main

import (
	"math/bits"
	"time"
)

// histogram counts durations in log-linear buckets: 16 buckets per power of
// two, so a percentile is exact to within about 6%.
type histogram struct {
	counts [64 * 16]uint64
	n      uint64
	max    time.Duration
}

func bucketOf(d time.Duration) int {
	ns := uint64(max(d, 1))
	exp := bits.Len64(ns) - 1
	if exp < 4 {
		return int(ns)
	}
	mant := (ns >> (exp - 4)) & 15
	return exp*16 + int(mant)
}

// lowerBound is the smallest duration in bucket b.
func lowerBound(b int) time.Duration {
	if b < 16 {
		return time.Duration(b)
	}
	exp, mant := b/16, uint64(b%16)
	return time.Duration((16 + mant) << (exp - 4))
}

func (h *histogram) add(d time.Duration) {
	h.counts[bucketOf(d)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the lower bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen > rank {
			return lowerBound(b)
		}
	}
	return h.max
}
