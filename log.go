package flightcache

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flightcache/flightcache/stats"
)

// logEvery is the least time between two log lines of one kind; the lines
// held back in between are counted in the next one, so that a dead source or
// store cannot flood the log.
const logEvery = time.Second

// logKind is a kind of failure that nobody waits for, logged to
// Options.Logger.
type logKind int

const (
	logRefresh logKind = iota // a background refresh failed
	logStore                  // a Store call failed, and was treated as a miss or a lost write
	logLease                  // a fleet-wide lease could not be taken
	numLogKinds
)

// logLimiter lets through at most one line of each kind per logEvery.
type logLimiter struct {
	mu         sync.Mutex
	last       [numLogKinds]time.Time
	suppressed [numLogKinds]int
}

// allow reports whether a line of kind may be logged now, and how many were
// held back since the last one.
func (r *logLimiter) allow(kind logKind) (ok bool, suppressed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if !r.last[kind].IsZero() && now.Sub(r.last[kind]) < logEvery {
		r.suppressed[kind]++
		return false, 0
	}
	suppressed = r.suppressed[kind]
	r.last[kind], r.suppressed[kind] = now, 0
	return true, suppressed
}

// warn logs msg about key and err, unless a line of the same kind went out
// less than logEvery ago.
func (l *Loader[K, V]) warn(kind logKind, msg string, key any, err error, attrs ...slog.Attr) {
	ok, suppressed := l.logs.allow(kind)
	if !ok {
		return
	}
	attrs = append([]slog.Attr{slog.String("key", fmt.Sprint(key)), slog.Any("err", err)}, attrs...)
	attrs = append(attrs, slog.Int("suppressed", suppressed))
	l.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

// storeFailed counts and logs a failed Store call that the Loader absorbed.
func (l *Loader[K, V]) storeFailed(op string, key any, err error) {
	l.record(stats.StoreError)
	l.warn(logStore, "flightcache: store "+op+" failed; treated as a miss or a lost write", key, err)
}
