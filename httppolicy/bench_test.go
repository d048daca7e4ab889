package httppolicy_test

import (
	"testing"
	"time"

	"github.com/flightcache/flightcache/httppolicy"
)

// BenchmarkPolicy is the cost a load pays per response, for a typical CDN
// header set.
func BenchmarkPolicy(b *testing.B) {
	h := header(
		"Cache-Control", "public, max-age=300, s-maxage=600, stale-while-revalidate=30, stale-if-error=86400",
		"Age", "12",
		"Date", date(-2*time.Second),
		"ETag", `"abc"`,
	)
	b.ReportAllocs()
	for b.Loop() {
		_ = httppolicy.Policy(h, now, httppolicy.Options{})
	}
}
