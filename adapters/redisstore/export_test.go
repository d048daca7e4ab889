package redisstore

import "time"

// SetMaxPending changes how many failed notifications a Store keeps, for
// tests; it returns a function that restores it.
func SetMaxPending(n int) (restore func()) {
	old := maxPending
	maxPending = n
	return func() { maxPending = old }
}

// WriteScript is the Lua script of every write, for benchmarks.
var WriteScript = write

// SetLeasePoll changes how often lease waiters poll, for tests that must
// see them woken by a message; it returns a function that restores it.
func SetLeasePoll(d time.Duration) (restore func()) {
	oldMin, oldMax := leasePollMin, leasePollMax
	leasePollMin, leasePollMax = d, d
	return func() { leasePollMin, leasePollMax = oldMin, oldMax }
}

// WaitingForLeases reports how many Lease calls of s wait for another's.
func (s *Store[K, V]) WaitingForLeases() int {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	n := 0
	for _, ws := range s.waiters {
		n += len(ws)
	}
	return n
}

// EnvelopeHeader is the length of the envelope before the codec's bytes,
// and EnvelopeVersion the version a Store writes, for tests that build or
// take apart raw entries.
const (
	EnvelopeHeader  = envelopeHeader
	EnvelopeVersion = envelopeVersion
)

// SetNotifyRetry changes how long a failed notification waits before it is
// sent again in the background, for tests of the other ways it is sent; it
// returns a function that restores it.
func SetNotifyRetry(d time.Duration) (restore func()) {
	old := notifyRetry
	notifyRetry = d
	return func() { notifyRetry = old }
}

// ParseLogAt parses an instant as the log of invalidations stores it, for
// tests that read the log's hash.
var ParseLogAt = parseAt
