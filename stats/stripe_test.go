package stats

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestStripeFillsWholeCacheLines checks the padding of a stripe, so that two
// stripes never share a cache line (or an adjacent-line prefetch pair).
func TestStripeFillsWholeCacheLines(t *testing.T) {
	assert.Zero(t, unsafe.Sizeof(stripe{})%128)
}

func TestLoadBucketOfEachBound(t *testing.T) {
	for i, b := range loadBounds {
		assert.Equal(t, i, loadBucket(b), "a bound is in its own bucket")
		assert.Equal(t, i+1, loadBucket(b+1), "just above a bound is in the next bucket")
	}
	assert.Equal(t, 0, loadBucket(0))
}
