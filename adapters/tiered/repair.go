package tiered

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Repairs of writes the shared tier refused (DESIGN rule 13; issue 23,
// input 2).
//
// A Set, Delete or SetMany writes the local tier whatever the shared tier
// answers, and notifies the other instances, which drop their copies. When
// the shared write failed, the shared tier may still hold the value the
// write replaced: every instance, this one included, read it back and kept
// it for its FreshFor (1 h in the report). So the key is put under repair:
//
//   - this instance serves no shared copy of it (a read finds its local
//     copy, the write's own, or else a miss, and the Loader loads it; a
//     fill's fenced write may land meanwhile);
//   - a goroutine deletes it from the shared tier, again and again (after
//     50 ms, backing off to 1 s, for at most a minute), and once the delete
//     lands notifies the other instances again, so that the copies they
//     re-read in the meantime go too.
//
// A delete is what is retried, for a Set too: it gives the key a new
// version (fills in flight lose, rule 9) and can never put back an older
// value over a newer one, which a Set sent again could. A later write of
// the key from this instance that lands ends its repair. A repair that
// still fails after a minute is given up and logged.

const (
	repairFirst = 50 * time.Millisecond
	repairMax   = time.Second
	repairFor   = time.Minute
)

// repairs holds the keys under repair.
type repairs[K comparable] struct {
	n       atomic.Int64 // len(keys), read without the lock on every read
	mu      sync.Mutex
	keys    map[K]time.Time // when the key's first failed write was
	running bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// has reports whether key is under repair.
func (r *repairs[K]) has(key K) bool {
	if r.n.Load() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.keys[key]
	return ok
}

// end ends key's repair: a write of it landed.
func (r *repairs[K]) end(key K) {
	if r.n.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.keys, key)
	r.n.Store(int64(len(r.keys)))
}

// failed puts keys under repair, and starts the repairing goroutine
// unless it runs; run is that goroutine's work.
func (r *repairs[K]) failed(keys []K, run func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if r.keys == nil {
		r.keys = map[K]time.Time{}
		r.stop = make(chan struct{})
	}
	now := time.Now()
	for _, k := range keys {
		if _, ok := r.keys[k]; !ok {
			r.keys[k] = now
		}
	}
	r.n.Store(int64(len(r.keys)))
	if r.running {
		return
	}
	r.running = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		run()
	}()
}

// close stops the repairs and waits for the goroutine.
func (r *repairs[K]) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		if r.stop != nil {
			close(r.stop)
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// repairing reports whether key is under repair. A key the repairs cannot
// hold (see gens.tracked) never is, and is never looked up: one Go cannot
// hash would panic in the map.
func (s *store[K, V]) repairing(key K) bool {
	return s.rep.n.Load() != 0 && s.gens.tracked(key) && s.rep.has(key)
}

// endRepair ends key's repair, if any: a write of it landed.
func (s *store[K, V]) endRepair(key K) {
	if s.rep.n.Load() != 0 && s.gens.tracked(key) {
		s.rep.end(key)
	}
}

// failedWrite puts keys under repair after the shared tier refused a write
// of them with err.
func (s *store[K, V]) failedWrite(keys []K, err error) {
	var tracked []K
	for _, k := range keys {
		if s.gens.tracked(k) {
			tracked = append(tracked, k)
		}
	}
	if len(tracked) == 0 {
		return
	}
	s.repairLog.log(slog.LevelWarn, "tiered: the shared tier refused a write; the key is deleted there in the background, and until then this instance serves no shared copy of it",
		slog.Int("keys", len(tracked)), slog.Any("err", err))
	s.rep.failed(tracked, s.repair)
}

// repair deletes the keys under repair from the shared tier until none is
// left or Close.
func (s *store[K, V]) repair() {
	r := &s.rep
	wait := repairFirst
	for {
		t := time.NewTimer(wait)
		select {
		case <-r.stop:
			t.Stop()
			return
		case <-t.C:
		}
		r.mu.Lock()
		todo := make(map[K]time.Time, len(r.keys))
		for k, since := range r.keys {
			todo[k] = since
		}
		r.mu.Unlock()
		ctx := context.Background()
		for k, since := range todo {
			err := s.shared.Delete(ctx, k)
			if err == nil {
				r.end(k)
				s.notify(ctx, k)
				continue
			}
			if time.Since(since) > repairFor {
				r.end(k)
				s.repairLog.log(slog.LevelError, "tiered: gave up deleting a key whose write the shared tier refused; other instances may serve its old value until it expires",
					slog.Any("key", k), slog.Any("err", err))
			}
		}
		r.mu.Lock()
		if len(r.keys) == 0 || r.closed {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		wait = min(2*wait, repairMax)
	}
}

// PendingRepairs reports how many keys wait for their shared write to be
// repaired; see Store.
func (s *store[K, V]) PendingRepairs() int { return int(s.rep.n.Load()) }

// Close stops the repairs and waits for them, and for the notifications
// under way in the background; see Store.
func (s *store[K, V]) Close() error {
	s.rep.close()
	s.notifying.close()
	return nil
}

// limiter lets one line a second through to slog's default logger.
type limiter struct {
	mu   sync.Mutex
	last time.Time
}

func (l *limiter) log(level slog.Level, msg string, attrs ...slog.Attr) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < time.Second {
		l.mu.Unlock()
		return
	}
	l.last = now
	l.mu.Unlock()
	slog.Default().LogAttrs(context.Background(), level, msg, attrs...)
}
