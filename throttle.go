package flightcache

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v4"
)

// Backoff is a capped exponential backoff with jitter: after the n-th
// failure in a row, the wait is Initial·2^(n−1), at most Max, spread by up to
// ± Jitter of itself and never past Max ("Exponential Backoff and Jitter",
// AWS Architecture Blog, 2015). Its zero value is no backoff.
type Backoff struct {
	// Initial is the wait after the first failure. It must be > 0 when Max
	// is.
	Initial time.Duration
	// Max caps the wait; 0 means Initial.
	Max time.Duration
	// Jitter is in [0, 1].
	Jitter float64
}

// defaultRefreshBackoff is how background refreshes of a key back off after
// failures when Options.FailureBackoff is the zero Backoff.
var defaultRefreshBackoff = Backoff{Initial: time.Second, Max: time.Minute}

// validate returns b with Max filled in, or an error naming what is not
// valid.
func (b Backoff) validate(name string) (Backoff, error) {
	switch {
	case b.Initial < 0 || b.Max < 0:
		return b, fmt.Errorf("flightcache: Options.%s has a negative duration (%+v)", name, b)
	case b.Initial == 0 && (b.Max > 0 || b.Jitter != 0):
		return b, fmt.Errorf("flightcache: Options.%s needs Initial > 0 (%+v)", name, b)
	case math.IsNaN(b.Jitter) || b.Jitter < 0 || b.Jitter > 1:
		return b, fmt.Errorf("flightcache: Options.%s.Jitter must be in [0, 1], not %v", name, b.Jitter)
	case b.Max == 0:
		b.Max = b.Initial
	case b.Max < b.Initial:
		return b, fmt.Errorf("flightcache: Options.%s.Max (%v) is below Initial (%v)", name, b.Max, b.Initial)
	}
	return b, nil
}

// wait is the wait after the n-th failure in a row (n ≥ 1). r is uniform in
// [0, 1) and places it in the jitter range.
func (b *Backoff) wait(n int, r float64) time.Duration {
	d := b.Max
	if shift := n - 1; shift < 62 && b.Initial <= b.Max>>shift {
		d = b.Initial << shift
	}
	return min(jittered(d, b.Jitter, r), b.Max)
}

// maxThrottledKeys bounds the keys the throttle remembers. A key it cannot
// remember is loaded again at its next miss or stale read: forgetting costs
// some loads, never memory.
const maxThrottledKeys = 1 << 14

// throttle owns the failure throttle: for each key whose last load failed,
// how many loads failed in a row, the last error, and the time before which
// no new load of it starts. Background refreshes always consult it; loads a
// caller waits for do only when Options.FailureBackoff is set (callers).
// A lookup takes no lock and, while no key has failed, reads one atomic
// counter only. Safe for concurrent use.
type throttle[K comparable] struct {
	backoff Backoff
	callers bool // loads a caller waits for are throttled too

	size atomic.Int64 // keys in the map
	keys *xsync.Map[K, *failure]
}

// failure is the throttle's state of one key.
type failure struct {
	notBefore atomic.Int64          // Unix nanoseconds
	last      atomic.Pointer[error] // the last load's error
	n         int                   // failures in a row; changed only inside Compute
}

func newThrottle[K comparable](b Backoff) *throttle[K] {
	t := &throttle[K]{backoff: b, callers: b.Initial > 0, keys: xsync.NewMap[K, *failure]()}
	if !t.callers {
		t.backoff = defaultRefreshBackoff
	}
	return t
}

// blocked returns, when no load of key may start at now (Unix nanoseconds),
// the error of its last load and how long it stays blocked.
//
//lint:ignore ST1008 last is the error of the key's last load, a value the caller serves, not a failure of this call
func (t *throttle[K]) blocked(key K, now int64) (last error, left time.Duration, ok bool) {
	if t.size.Load() == 0 {
		return nil, 0, false
	}
	f, found := t.keys.Load(key)
	if !found {
		return nil, 0, false
	}
	nb := f.notBefore.Load()
	if now >= nb {
		return nil, 0, false
	}
	if p := f.last.Load(); p != nil {
		last = *p
	}
	return last, time.Duration(nb - now), true
}

// failed records that a load of key failed with err at now, and blocks the
// key for the next wait of the backoff.
func (t *throttle[K]) failed(key K, err error, now int64) {
	t.keys.Compute(key, func(f *failure, loaded bool) (*failure, xsync.ComputeOp) {
		if !loaded {
			f = new(failure)
			t.size.Add(1)
		}
		f.n++
		f.last.Store(&err)
		f.notBefore.Store(addNanos(now, t.backoff.wait(f.n, rand.Float64())))
		return f, xsync.UpdateOp
	})
	if t.size.Load() > maxThrottledKeys {
		t.sweep(now)
	}
}

// succeeded forgets key's failures.
func (t *throttle[K]) succeeded(key K) {
	if t.size.Load() == 0 {
		return
	}
	t.keys.Compute(key, func(f *failure, loaded bool) (*failure, xsync.ComputeOp) {
		if !loaded {
			return f, xsync.CancelOp
		}
		t.size.Add(-1)
		return f, xsync.DeleteOp
	})
}

// forgetAll forgets every key's failures: an InvalidateTag or a Clear asks
// for new loads of keys the throttle cannot tell apart.
func (t *throttle[K]) forgetAll() {
	if t.size.Load() == 0 {
		return
	}
	n := t.keys.DeleteMatching(func(K, *failure) (bool, bool) { return true, false })
	t.size.Add(-int64(n))
}

// sweep forgets keys whose backoff has ended, then, if the map is still too
// large, others in no particular order, down to half the bound.
func (t *throttle[K]) sweep(now int64) {
	excess := t.size.Load() - maxThrottledKeys/2
	n := t.keys.DeleteMatching(func(_ K, f *failure) (bool, bool) {
		if now >= f.notBefore.Load() || excess > 0 {
			excess--
			return true, false
		}
		return false, false
	})
	t.size.Add(-int64(n))
}
