package flightcache

import (
	"errors"
	"sync/atomic"

	"github.com/puzpuzpuz/xsync/v4"
)

// This file is what EntryPolicy.Private needs: the marks a fill gives a
// private result, and the keys that callers load alone meanwhile
// (hit-for-pass).

// errPrivate is what a fill delivers, beside the entry, for a result its
// load marked Private: only the caller that started the call takes the
// entry (see delivered); a caller that joined it loads for itself.
var errPrivate = errors.New("flightcache: a private result")

// errReload is what a fill delivers to a call it served only as a copy of
// another (a Batcher's window that got a key twice) when the result is
// private: its caller loads for itself.
var errReload = errors.New("flightcache: load again, alone")

// delivered turns what a call delivered into what its caller gets: a
// private result reaches only the caller that started the call (mine); any
// other caller must load for itself (reload).
func delivered[V any](e Entry[V], err error, mine bool) (_ Entry[V], _ error, reload bool) {
	switch {
	case err == errPrivate && mine:
		return e, nil, false
	case err == errPrivate || err == errReload:
		return Entry[V]{}, nil, true
	}
	return e, err, false
}

// maxPassKeys bounds the keys a passSet holds: past it, callers of further
// keys whose results are private join each other's loads and, finding the
// result private, load again alone, which shares nothing but costs a load.
const maxPassKeys = 1 << 16

// passSet holds the keys whose last load returned a private result: their
// callers do not join each other's loads (Varnish's hit-for-pass) until a
// load of the key returns a result that can be shared. It costs a Loader
// whose loads never return private results one atomic load per miss. Safe
// for concurrent use.
type passSet[K comparable] struct {
	used atomic.Bool // a key was ever marked
	n    atomic.Int64
	keys *xsync.Map[K, struct{}]
}

func newPassSet[K comparable]() *passSet[K] {
	return &passSet[K]{keys: xsync.NewMap[K, struct{}]()}
}

// has reports whether callers of key load alone.
func (p *passSet[K]) has(key K) bool {
	if !p.used.Load() {
		return false
	}
	_, ok := p.keys.Load(key)
	return ok
}

// mark makes callers of key load alone. A key that does not equal itself
// is never marked: nothing could remove it (rule 11).
func (p *passSet[K]) mark(key K) {
	if key != key || p.n.Load() >= maxPassKeys {
		return
	}
	if _, loaded := p.keys.LoadOrStore(key, struct{}{}); !loaded {
		p.n.Add(1)
		p.used.Store(true)
	}
}

// unmark lets callers of key join each other's loads again.
func (p *passSet[K]) unmark(key K) {
	if !p.used.Load() {
		return
	}
	if _, ok := p.keys.LoadAndDelete(key); ok {
		p.n.Add(-1)
	}
}
