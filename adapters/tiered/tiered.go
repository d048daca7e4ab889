// Package tiered is a flightcache.Store made of two: a fast local store in
// front of a shared one, such as an in-memory LRU in front of Redis.
//
// Reads try the local tier, then the shared one, and copy a shared hit into
// the local tier with its original timestamps, so a copy never lives longer
// than the entry it copies. Writes and deletes go to both tiers, and, with a
// Notifier, tell the other instances of a fleet to drop the key from their
// local tiers.
package tiered

import (
	"context"
	"errors"

	"github.com/flightcache/flightcache"
)

// Notifier tells the other instances of a fleet that a key changed, so that
// they drop it from their local tiers. *redisstore.Store is one.
type Notifier[K comparable] interface {
	Notify(ctx context.Context, key K) error
}

// Purger is a local tier that can drop everything at once, as
// *lrustore.Store can. ResetLocal needs it.
type Purger interface {
	Purge()
}

// Store is a local Store in front of a shared one. It is safe for concurrent
// use when both tiers are. It is a flightcache.BatchStore, reading and
// writing the shared tier in one round trip when that tier is one, and a
// flightcache.Leaser, which takes its leases from the shared tier when that
// tier is a Leaser and otherwise lets every load go ahead.
type Store[K comparable, V any] struct {
	local, shared flightcache.Store[K, V]
	notifier      Notifier[K]
}

var (
	_ flightcache.BatchStore[string, int] = (*Store[string, int])(nil)
	_ flightcache.Leaser[string, int]     = (*Store[string, int])(nil)
)

// New returns a Store that keeps entries in local and in shared.
func New[K comparable, V any](local, shared flightcache.Store[K, V]) *Store[K, V] {
	return &Store[K, V]{local: local, shared: shared}
}

// NewWithNotifier is New with cross-instance invalidation: every Set and
// Delete also calls n.Notify, so that other instances drop the key from
// their local tiers (with redisstore, they learn of it through
// redisstore.Store.Subscribe).
func NewWithNotifier[K comparable, V any](local, shared flightcache.Store[K, V], n Notifier[K]) *Store[K, V] {
	return &Store[K, V]{local: local, shared: shared, notifier: n}
}

// Get returns the local entry for key, or else the shared one, which it
// copies into the local tier unchanged. A failing local tier is skipped; the
// error of a failing shared tier is returned when the local tier missed.
func (s *Store[K, V]) Get(ctx context.Context, key K) (flightcache.Entry[V], bool, error) {
	if e, ok, err := s.local.Get(ctx, key); err == nil && ok {
		return e, true, nil
	}
	e, ok, err := s.shared.Get(ctx, key)
	if err != nil || !ok {
		return e, false, err
	}
	s.local.Set(ctx, key, e) // a copy that failed is only a later miss
	return e, true, nil
}

// Set writes e to the shared tier and to the local tier, even when the
// shared tier fails, then notifies the other instances. It returns the
// errors of both tiers and of the notification, joined.
func (s *Store[K, V]) Set(ctx context.Context, key K, e flightcache.Entry[V]) error {
	errShared := s.shared.Set(ctx, key, e)
	errLocal := s.local.Set(ctx, key, e)
	return errors.Join(errShared, errLocal, s.notify(ctx, key))
}

// Delete removes key from both tiers, then notifies the other instances.
func (s *Store[K, V]) Delete(ctx context.Context, key K) error {
	errLocal := s.local.Delete(ctx, key)
	errShared := s.shared.Delete(ctx, key)
	return errors.Join(errShared, errLocal, s.notify(ctx, key))
}

func (s *Store[K, V]) notify(ctx context.Context, key K) error {
	if s.notifier == nil {
		return nil
	}
	return s.notifier.Notify(ctx, key)
}

// GetMany returns the entries for keys: local ones, then the rest from the
// shared tier in one call when it is a BatchStore, copied into the local
// tier.
func (s *Store[K, V]) GetMany(ctx context.Context, keys []K) (map[K]flightcache.Entry[V], error) {
	out := make(map[K]flightcache.Entry[V], len(keys))
	var rest []K
	for _, k := range keys {
		if e, ok, err := s.local.Get(ctx, k); err == nil && ok {
			out[k] = e
		} else {
			rest = append(rest, k)
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	var found map[K]flightcache.Entry[V]
	if bs, ok := s.shared.(flightcache.BatchStore[K, V]); ok {
		var err error
		if found, err = bs.GetMany(ctx, rest); err != nil {
			return out, err
		}
	} else {
		found = make(map[K]flightcache.Entry[V], len(rest))
		for _, k := range rest {
			e, ok, err := s.shared.Get(ctx, k)
			if err != nil {
				return out, err
			}
			if ok {
				found[k] = e
			}
		}
	}
	for k, e := range found {
		s.local.Set(ctx, k, e)
		out[k] = e
	}
	return out, nil
}

// SetMany writes entries to both tiers, the shared one in one call when it is
// a BatchStore, and notifies the other instances of each key.
func (s *Store[K, V]) SetMany(ctx context.Context, entries map[K]flightcache.Entry[V]) error {
	var errs []error
	if bs, ok := s.shared.(flightcache.BatchStore[K, V]); ok {
		errs = append(errs, bs.SetMany(ctx, entries))
	} else {
		for k, e := range entries {
			errs = append(errs, s.shared.Set(ctx, k, e))
		}
	}
	for k, e := range entries {
		errs = append(errs, s.local.Set(ctx, k, e), s.notify(ctx, k))
	}
	return errors.Join(errs...)
}

// Lease takes the lease of the shared tier when it is a flightcache.Leaser;
// otherwise every load may go ahead at once.
func (s *Store[K, V]) Lease(ctx context.Context, key K) (func(), error) {
	if l, ok := s.shared.(flightcache.Leaser[K, V]); ok {
		return l.Lease(ctx, key)
	}
	return func() {}, nil
}

// EvictLocal drops key from the local tier only. redisstore.Subscribe calls
// it for keys that other instances changed.
func (s *Store[K, V]) EvictLocal(ctx context.Context, key K) error {
	return s.local.Delete(ctx, key)
}

// ResetLocal drops every key from the local tier, which must be a Purger.
func (s *Store[K, V]) ResetLocal(context.Context) error {
	p, ok := s.local.(Purger)
	if !ok {
		return errors.New("tiered: the local tier cannot be cleared (it has no Purge method); it may serve entries changed elsewhere until they expire")
	}
	p.Purge()
	return nil
}
