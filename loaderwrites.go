package flightcache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/flightcache/flightcache/stats"
)

// This file is the Loader's writes: Set, Invalidate and Expire, each of
// which wins over the fills in flight for its key (rules 8, 9) and is all or
// nothing (rule 13), through the write order (writes.go).

// Set stores value for key as if it had just been loaded: fresh for
// Options.FreshFor. It wins over a load of key that has started: that load's
// callers get its result, but the result is not stored over value, and a
// caller that comes after Set returns never gets it.
//
// Set is all or nothing: it returns the Store's error, wrapped, or ctx.Err()
// when ctx ends while Set waits for a load's write under way, and then it
// has changed nothing (a load in flight still stores its result). ctx bounds
// only waiting: a Set that need not wait is made whatever ctx says, with ctx
// passed to the Store, which may refuse it (a remote one) or not.
func (l *Loader[K, V]) Set(ctx context.Context, key K, value V) error {
	return l.set(ctx, key, value, &l.policy.def)
}

// SetWithPolicy is Set with the policy of the entry, as a load gives its
// own with [SetPolicy]: its windows, in place of the Options' (Jitter only
// shortens them), and its tags ([EntryPolicy.Tags]), which
// [Loader.InvalidateTag] then covers. Set's entry has no tags. It returns
// an error, and changes nothing, for a policy with a negative duration or a
// tag that cannot be used, and for one with NoStore or Private, which
// would store nothing.
func (l *Loader[K, V]) SetWithPolicy(ctx context.Context, key K, value V, p EntryPolicy) error {
	if err := p.validate(); err != nil {
		return err
	}
	if p.NoStore || p.Private {
		return fmt.Errorf("flightcache: SetWithPolicy of key %v: a policy with NoStore or Private stores nothing", key)
	}
	return l.set(ctx, key, value, &p)
}

// set is Set under the policy ep.
func (l *Loader[K, V]) set(ctx context.Context, key K, value V, ep *EntryPolicy) error {
	if err := l.admit(ctx, key); err != nil {
		return err
	}
	err := l.writes.overwrite(ctx, key, l.fill.forget, func() error {
		// Stamped past the latest invalidation (see invalTable.stamp).
		e := valueEntry(&l.policy, ep, value, l.policy.inv.stamp(l.clock.exactNow()), 0, rand.Float64())
		return l.view.store.Set(ctx, key, e)
	})
	return l.wrote(ctx, "set", key, err)
}

// wrote finishes a Set or Invalidate (op) of key that overwrite ended with
// err: a write that took effect ends the failure throttle's backoff of key
// (a value is there, or a new load is asked for); one that did not changes
// nothing more (rule 13). A Store's error is counted and wrapped; ctx's is
// returned as it is.
func (l *Loader[K, V]) wrote(ctx context.Context, op string, key K, err error) error {
	switch {
	case err == nil:
		l.fill.throttle.succeeded(key)
		return nil
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	}
	l.rep.record(stats.StoreError)
	return fmt.Errorf("flightcache: %s key %v: %w", op, key, err)
}

// Invalidate removes key from the Store, so that the next GetOrLoad loads it
// again, even while the failure throttle held back loads of key. It wins
// over a load of key that has started: that load's callers get its result,
// but the result is not stored, and a caller that comes after Invalidate
// returns never gets it. Like Set, it is all or nothing, and ctx bounds only
// waiting: an Invalidate that returns an error has changed nothing.
func (l *Loader[K, V]) Invalidate(ctx context.Context, key K) error {
	if err := l.admit(ctx, key); err != nil {
		return err
	}
	err := l.writes.overwrite(ctx, key, l.fill.forget, func() error {
		return l.view.store.Delete(ctx, key)
	})
	return l.wrote(ctx, "invalidate", key, err)
}

// Expire makes the entry of key stale now, as a soft purge does: within
// its stale window (StaleFor, re-based at now) the old value is still
// served while one background refresh loads a new one; an entry with no
// stale window (one fresh for ever has none: see [Forever]) is a miss from
// now on, and is kept only for [Previous]
// where its KeepFor says so. An entry that is stale already, or none,
// stays as it is. Like Invalidate, it wins over the loads of key in
// flight (their results reach their callers but are not stored), and over
// a Store shared by a fleet it reaches every instance (rule 9). It is all
// or nothing, and ctx bounds only waiting (see Set). FusionCache's Expire
// and Varnish's purge.soft are the models.
func (l *Loader[K, V]) Expire(ctx context.Context, key K) error {
	if err := l.admit(ctx, key); err != nil {
		return err
	}
	err := l.writes.overwrite(ctx, key, l.fill.forget, func() error {
		found, err := l.view.getFenced(ctx, key)
		if err != nil || !found.ok {
			return err
		}
		stale, changed := staleFrom(found.e, notNever(Deadline(l.clock.exactNow())))
		if !changed || gone(&l.policy, &found.e) {
			return nil
		}
		// Over a Fencer, only if no instance wrote the key since it was
		// read: a newer Set stands.
		if err := l.view.set(ctx, key, stale, found.v); err != nil {
			return err
		}
		l.rep.record(stats.Expire)
		return nil
	})
	return l.wrote(ctx, "expire", key, err)
}
