package flightcache

import (
	"context"
	"fmt"

	"github.com/flightcache/flightcache/stats"
)

// This file is the Loader's invalidations beyond one key: InvalidateTag and
// Clear. Neither touches an entry: each records an instant in the Loader's
// invalTable (and, over an InvalidationLog, the fleet's), against which
// every entry is judged when it is read. A fill that began before it
// stamps its entry before it, so that entry is a miss wherever it lands
// (rules 8, 9, 13).

// Invalidation is one [Loader.InvalidateTag] or [Loader.Clear], as an
// [InvalidationLog] carries it between the instances of a fleet: every
// entry loaded at or before At (its [Entry.LoadedAt]), tagged Tag, or
// every entry for a Clear, is gone. A log that keeps a bounded record
// also carries its fold of the tags it no longer keeps one by one (Tagged):
// every tagged entry loaded at or before At, whatever its tags, is gone.
// It is a plain value, safe to copy and share.
type Invalidation struct {
	// Tag is the tag invalidated, or "" for a Clear (or a Tagged
	// invalidation).
	Tag string
	// At is the instant of the invalidation, by the clock of the instance
	// that made it (moved later by the log's allowance for clock skew; see
	// InvalidationLog.LogInvalidation).
	At Deadline
	// Tagged makes the invalidation a log's fold of the tag records it no
	// longer keeps one by one: every entry that has tags ([Entry.Tags] not
	// nil), whatever they are, loaded at or before At is gone; an untagged
	// entry is not. Tag must be "" with it. It is never a Clear. A Loader
	// makes none itself: it takes them from its InvalidationLog, whose
	// watchers are given one in place of the tags it folded. A Loader
	// given one with a Tag judges it by Tagged alone, which covers the tag
	// too.
	Tagged bool
}

// InvalidationLog is a Store shared by a fleet that carries InvalidateTag
// and Clear to every Loader over it, on every instance, those started
// later included. A Loader over a Store that is not one judges entries
// against its own invalidations only, and pays nothing for this.
//
// Entries are judged against invalidations by their LoadedAt, stamped by
// the clock of the instance that loaded them, where At was stamped by the
// clock of the instance that invalidated: a log allows for the clocks'
// skew by moving At later.
type InvalidationLog interface {
	// LogInvalidation records inv for every instance, and returns it as
	// recorded: At may be moved later, never earlier, to allow for clock
	// skew between instances. It returns once every instance that starts
	// from then on will see it, and those running are being told (a
	// message that fails is sent again in the background); an error means
	// that it was not recorded and no instance was told. ctx bounds the
	// call.
	LogInvalidation(ctx context.Context, inv Invalidation) (Invalidation, error)

	// WatchInvalidations calls apply with every invalidation recorded, by
	// any instance (this one's own included or not), until stop is called:
	// those recorded before it, and each one that follows, again after
	// any gap in what the Store hears from the fleet. apply is safe for
	// concurrent use, returns at once, and takes an invalidation more
	// than once, or out of order, without harm. WatchInvalidations must
	// return promptly, replaying in the background what it cannot replay
	// at once; until it has, the Store must not serve entries an
	// invalidation it has not replayed may cover (it may report misses).
	// A log that keeps a bounded record may replay, in place of the tags
	// it no longer keeps one by one, a Tagged invalidation at or after
	// each of them (see Invalidation.Tagged).
	WatchInvalidations(apply func(Invalidation)) (stop func())
}

// InvalidateTag makes every entry tagged tag ([EntryPolicy.Tags]) a miss:
// the next read of its key loads it again, and neither Previous nor a
// failed load's fallback sees the old entry. It wins over the loads in
// flight as Invalidate does (rule 8): their callers get their results, but
// a caller that comes after InvalidateTag returns never joins them, and
// what they store is a miss already. It ends the failure backoff
// (Options.FailureBackoff) of every key, as Invalidate ends its key's: a
// key it covers loads at its next read. It touches no entry: a tagged entry
// stays in the Store until it is evicted or expires, judged gone at every
// read, which costs the entry's tags a lookup each.
//
// Over an [InvalidationLog] (redisstore, and tiered over it), it reaches
// every instance of the fleet, those started later included. It is all or
// nothing (rule 13): when the log refuses it, InvalidateTag returns the
// error, wrapped, and this Loader has changed nothing. ctx bounds only the
// log's call: without a log, InvalidateTag never waits, and is made
// whatever ctx says. It returns ErrClosed after Close, an error wrapping
// ErrInvalidTag for a tag that cannot be used, and an error for a nil ctx.
// HybridCache's RemoveByTagAsync and FusionCache's RemoveByTag are the
// models.
func (l *Loader[K, V]) InvalidateTag(ctx context.Context, tag string) error {
	if err := l.admitAll(ctx); err != nil {
		return err
	}
	if err := checkTag(tag); err != nil {
		return err
	}
	return l.invalidate(ctx, "invalidate tag "+tag, Invalidation{Tag: tag}, stats.TagInvalidation)
}

// Clear makes every entry of the Loader's Store a miss, as InvalidateTag
// makes a tag's: the entries loaded before it, whatever their tags, and
// over an [InvalidationLog] on every instance of the fleet (the keyspace
// the log covers: a redisstore's prefix). It is a generation, not a scan:
// it touches no entry, and the memory of the entries it covered is freed
// as the Store evicts or expires them. It is all or nothing, with the same
// errors, as InvalidateTag. FusionCache's Clear is the model.
func (l *Loader[K, V]) Clear(ctx context.Context) error {
	if err := l.admitAll(ctx); err != nil {
		return err
	}
	return l.invalidate(ctx, "clear", Invalidation{}, stats.Clear)
}

// admitAll is admit for a call about no one key.
func (l *Loader[K, V]) admitAll(ctx context.Context) error {
	switch {
	case l.closed.Load():
		return ErrClosed
	case ctx == nil:
		return errNilContext
	}
	return nil
}

// invalidate makes inv, stamped now, over the log when there is one, and
// counts ev.
func (l *Loader[K, V]) invalidate(ctx context.Context, op string, inv Invalidation, ev stats.Event) error {
	inv.At = l.policy.inv.instant(l.clock.exactNow())
	if l.view.log != nil {
		logged, err := l.logInvalidation(ctx, inv)
		if err != nil {
			l.rep.record(stats.StoreError)
			return fmt.Errorf("flightcache: %s: %w", op, err)
		}
		inv = atLeast(logged, inv)
	}
	l.applyInvalidation(inv)
	l.rep.record(ev)
	return nil
}

// logInvalidation is the log's LogInvalidation, with a panic in it made an
// error, and bounded by ctx whatever the log does with it: a log that has
// not answered when ctx ends leaves the call to ctx's error, and should it
// record inv after all, the Loader applies it then, as another instance's
// (so that this instance agrees with the fleet). Close waits for such a
// call as it waits for log lines.
func (l *Loader[K, V]) logInvalidation(ctx context.Context, inv Invalidation) (Invalidation, error) {
	if ctx.Done() == nil {
		return l.callLog(ctx, inv)
	}
	type answer struct {
		logged Invalidation
		err    error
	}
	answered := make(chan answer, 1)
	left := make(chan struct{})
	l.rep.detach(func() {
		logged, err := l.callLog(ctx, inv)
		answered <- answer{logged, err}
		select {
		case <-left:
			if err == nil {
				l.applyInvalidation(atLeast(logged, inv))
			}
		default:
		}
	})
	select {
	case a := <-answered:
		return a.logged, a.err
	case <-ctx.Done():
		close(left)
		select {
		case a := <-answered: // it answered as ctx ended
			return a.logged, a.err
		default:
		}
		return Invalidation{}, fmt.Errorf("the InvalidationLog did not answer in time (it is applied here if it records it later): %w", ctx.Err())
	}
}

// callLog calls the log's LogInvalidation, with a panic in it made an
// error.
func (l *Loader[K, V]) callLog(ctx context.Context, inv Invalidation) (logged Invalidation, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("flightcache: InvalidationLog.LogInvalidation: %w", newPanicError(p))
		}
	}()
	return l.view.log.LogInvalidation(ctx, inv)
}

// atLeast returns the invalidation the log recorded for inv: logged, unless
// it is not inv's (another tag, or a Tagged one for a Clear or the other
// way round) or moves it earlier, which a log may not do.
func atLeast(logged, inv Invalidation) Invalidation {
	if logged.Tag == inv.Tag && logged.Tagged == inv.Tagged && logged.At.After(inv.At) {
		return logged
	}
	return inv
}

// applyInvalidation records inv, made here or by another instance, and
// makes every caller that comes after it start a load of its own instead
// of joining one that began before it (whose result inv may cover). It
// ends every key's failure backoff, as Invalidate ends its key's: the
// keys inv covers are asked to load again, and the throttle cannot tell
// them from the others.
func (l *Loader[K, V]) applyInvalidation(inv Invalidation) {
	l.policy.inv.apply(inv)
	l.fill.group.ForgetAll()
	l.fill.throttle.forgetAll()
}

// watchInvalidations has the Store, when it is an InvalidationLog, tell the
// Loader of every invalidation the fleet makes. A panic in the Store's
// WatchInvalidations is an error.
func (l *Loader[K, V]) watchInvalidations() (err error) {
	if l.view.log == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("flightcache: InvalidationLog.WatchInvalidations: %w", newPanicError(p))
		}
	}()
	l.unwatch = l.view.log.WatchInvalidations(l.applyInvalidation)
	return nil
}

// stopWatching stops the Store's calls of applyInvalidation, once; a panic
// in the Store's stop is contained and reported.
func (l *Loader[K, V]) stopWatching() {
	l.unwatchOnce.Do(func() {
		if l.unwatch != nil {
			l.rep.contain("InvalidationLog", l.unwatch)
		}
	})
}
