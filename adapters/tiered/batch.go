package tiered

import (
	"context"
	"errors"
	"time"

	"github.com/flightcache/flightcache"
)

// GetMany returns the entries for keys as Get does for each: fresh local
// ones, then the rest from the shared tier in one call when it is a
// BatchStore, each the newer of its two copies.
func (s *store[K, V]) GetMany(ctx context.Context, keys []K) (map[K]flightcache.Entry[V], error) {
	if err := s.gens.hashable(keys); err != nil {
		return nil, err
	}
	out := make(map[K]flightcache.Entry[V], len(keys))
	now := time.Now()
	stale := map[K]flightcache.Entry[V]{}
	seen := make(map[K]bool, len(keys))
	suspended := s.localOff()
	var rest []K
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if suspended {
			rest = append(rest, k)
			continue
		}
		if e, ok, err := s.local.Get(ctx, k); err == nil && ok {
			if freshAt(e, now) {
				out[k] = e
				continue
			}
			stale[k] = e
		}
		rest = append(rest, k)
	}
	if len(rest) == 0 {
		return out, nil
	}
	toks := make([]token, len(rest))
	for i, k := range rest {
		toks[i] = s.gens.begin(k)
	}
	found, err := s.getShared(ctx, rest)
	for i, k := range rest {
		se, sok := found[k]
		sok = sok && !s.repairing(k)
		le, lok := stale[k]
		if err != nil || !sok || (lok && !newer(se, le)) {
			s.gens.end(k, toks[i], nil)
			if lok {
				out[k] = le
			}
			continue
		}
		s.gens.end(k, toks[i], func() { s.local.Set(ctx, k, se) })
		out[k] = se
	}
	return out, err
}

func (s *store[K, V]) getShared(ctx context.Context, keys []K) (map[K]flightcache.Entry[V], error) {
	if bs, ok := s.shared.(flightcache.BatchStore[K, V]); ok {
		return bs.GetMany(ctx, keys)
	}
	found := make(map[K]flightcache.Entry[V], len(keys))
	for _, k := range keys {
		e, ok, err := s.shared.Get(ctx, k)
		if err != nil {
			return found, err
		}
		if ok {
			found[k] = e
		}
	}
	return found, nil
}

// SetMany writes entries to both tiers, the shared one in one call when it is
// a BatchStore, and notifies the other instances of each key.
func (s *store[K, V]) SetMany(ctx context.Context, entries map[K]flightcache.Entry[V]) error {
	var errs []error
	if bs, ok := s.shared.(flightcache.BatchStore[K, V]); ok {
		err := bs.SetMany(ctx, entries)
		keys := make([]K, 0, len(entries))
		for k := range entries {
			keys = append(keys, k)
		}
		s.landed(keys, err)
		errs = append(errs, err)
	} else {
		for k, e := range entries {
			err := s.shared.Set(ctx, k, e)
			s.landed([]K{k}, err)
			errs = append(errs, err)
		}
	}
	for k, e := range entries {
		errs = append(errs, s.gens.write(k, func() error { return s.local.Set(ctx, k, e) }), s.notify(ctx, k))
	}
	return errors.Join(errs...)
}
