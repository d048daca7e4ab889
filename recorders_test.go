package flightcache_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flightcache/flightcache/stats"
)

// What the Loader reports to: a Recorder and a log handler that keep what
// they are given, with hooks that make them misbehave (panic, block, take
// their time) as a plug-in with a bug would.

// recorder is a stats.Counter whose hooks, when set, run before it counts.
type recorder struct {
	stats.Counter
	onRecord     func(e stats.Event, n int)
	onRecordLoad func(elapsed time.Duration, err error)
}

func (r *recorder) Record(e stats.Event, n int) {
	if r.onRecord != nil {
		r.onRecord(e, n)
	}
	r.Counter.Record(e, n)
}

func (r *recorder) RecordLoad(elapsed time.Duration, err error) {
	if r.onRecordLoad != nil {
		r.onRecordLoad(elapsed, err)
	}
	r.Counter.RecordLoad(elapsed, err)
}

// panicsOn is a recorder that panics every time it is given event on.
func panicsOn(on stats.Event) *recorder {
	return &recorder{onRecord: func(e stats.Event, _ int) {
		if e == on {
			panic("recorder bug")
		}
	}}
}

// panicsOnceOn is a recorder that panics the first time it is given event
// on.
func panicsOnceOn(on stats.Event) *recorder {
	var fired atomic.Bool
	return &recorder{onRecord: func(e stats.Event, _ int) {
		if e == on && fired.CompareAndSwap(false, true) {
			panic("recorder bug")
		}
	}}
}

// logSink keeps what a Logger over it is given: each record's message, and
// the records in slog's text format. hook, when set, runs first for each
// record: it may panic or block, as a broken handler would.
type logSink struct {
	hook func()

	mu   sync.Mutex
	msgs []string
	text bytes.Buffer
}

func (s *logSink) logger() *slog.Logger {
	return slog.New(sinkHandler{s, slog.NewTextHandler(sinkText{s}, nil)})
}

// messages returns the messages logged so far.
func (s *logSink) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// String returns the records logged so far, a line each.
func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text.String()
}

// sinkText is where the text handler of a logSink writes.
type sinkText struct{ s *logSink }

func (w sinkText) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.text.Write(p)
}

// sinkHandler is the slog.Handler of a logSink: every level is enabled.
type sinkHandler struct {
	s *logSink
	slog.Handler
}

func (sinkHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h sinkHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.s.hook != nil {
		h.s.hook()
	}
	h.s.mu.Lock()
	h.s.msgs = append(h.s.msgs, r.Message)
	h.s.mu.Unlock()
	return h.Handler.Handle(ctx, r)
}

func (h sinkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sinkHandler{h.s, h.Handler.WithAttrs(as)}
}

func (h sinkHandler) WithGroup(name string) slog.Handler {
	return sinkHandler{h.s, h.Handler.WithGroup(name)}
}
