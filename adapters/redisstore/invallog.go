package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flightcache/flightcache"
)

// InvalidateTag and Clear over the fleet (flightcache.InvalidationLog;
// issue 26).
//
// The log is one Redis hash per prefix, under the key logKey names: a
// field per tag invalidated ("t" and the tag), one for Clear ("c") and one
// for the fold of the tags it no longer keeps one by one ("f"), each
// holding the latest instant recorded for it. A Lua script raises a field,
// never lowers it, so invalidations recorded in any order, or more than
// once, leave the latest; a Clear also deletes the fields it covers, the
// tags' and the fold's. One key is one Redis Cluster hash slot. Instants
// are stored as 20 decimal digits of the int64 with its sign bit flipped,
// so that Lua compares them as strings (its numbers are doubles, which
// would round Unix nanoseconds).
//
// The hash is bounded (Options.MaxLogTags): when recording a tag leaves
// more tag fields than that, the script folds the older half of them, by
// instant, into "f" (raised to the instant of the median field, or kept
// when it is later) and deletes every tag field at or before "f". A fold
// costs O(n) for n fields (HGETALL, a selection of the median, HDEL) and
// comes once every n/2 new tags, so recording a tag costs O(1), amortized.
// A fold is not published: every instance running was told of each tag
// as it came, and an instance that replays the log is given "f" as a
// flightcache.Invalidation with Tagged set, which covers every tagged
// entry loaded at or before it, the folded tags' included. A Tagged
// invalidation given to LogInvalidation is recorded in "f" too, deleting
// the tag fields it covers.
//
// Once recorded, an invalidation is published on the invalidation channel
// (see invalidate.go): "<id> t <at> <tag>" for a tag, "<id> c <at>" for a
// Clear and "<id> f <at>" for a Tagged one, at in Unix nanoseconds. A
// message that fails is sent again in the background, with the failed
// notifications of keys. Past maxPending of them, one "<id> s" asks every
// instance to replay the whole log instead.

// logKey is the Redis key of the log of invalidations. Keys never contain
// "{}" (see keys.go), so it names no entry's key.
func (s *Store[K, V]) logKey() string { return s.escPrefix + "{}invalidations" }

// InvalidationLogKey returns the Redis key of the hash that records the
// invalidations of tags and Clears under the Store's prefix, for
// operators and tests (see LogInvalidation).
func (s *Store[K, V]) InvalidationLogKey() string { return s.logKey() }

// The log's fields besides the tags' ("t" and the tag).
const (
	clearField = "c" // the latest Clear
	foldField  = "f" // the fold of the tags no longer kept one by one
)

// logField returns the log's field of inv.
func logField(inv flightcache.Invalidation) string {
	switch {
	case inv.Tagged:
		return foldField
	case inv.Tag == "":
		return clearField
	}
	return "t" + inv.Tag
}

// parseField returns the invalidation a log field records, but for its
// instant.
func parseField(f string) (inv flightcache.Invalidation, ok bool) {
	switch f {
	case clearField:
		return inv, true
	case foldField:
		return flightcache.Invalidation{Tagged: true}, true
	}
	tag, ok := strings.CutPrefix(f, "t")
	return flightcache.Invalidation{Tag: tag}, ok && tag != ""
}

// formatAt writes an instant as the log stores it: ordered as strings as
// the instants are as numbers.
func formatAt(at flightcache.Deadline) string {
	return fmt.Sprintf("%020d", uint64(at)^(1<<63))
}

func parseAt(s string) (flightcache.Deadline, bool) {
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil || len(s) != 20 {
		return 0, false
	}
	return flightcache.Deadline(u ^ (1 << 63)), true
}

// record raises one field of the log to an instant, and keeps the log
// within its bound.
//
//	KEYS[1] the log
//	ARGV[1] the field, ARGV[2] the instant (formatAt)
//	ARGV[3] how many tag fields the log keeps at most (Options.MaxLogTags)
//	ARGV[4] the deadline, in Unix microseconds (see timed)
//
// Its result is 1, or -1 when it ran past its deadline and recorded
// nothing. A Clear deletes every other field at or before its instant (a
// field of a tag, the fold); a fold ("f") deletes the tag fields at or
// before its instant. A tag at or before the Clear or the fold is covered
// by it already, and gets no field. A tag's field that leaves more than
// ARGV[3] tag fields folds the older half: kth finds the instant of the
// median one (Wirth's selection, expected linear), "f" is raised to it,
// and every tag field at or before "f" is deleted, so that every tag field
// left is later than "f". Fields are told apart by their first byte (116
// is "t").
var record = timed(`
local log, field, at = KEYS[1], ARGV[1], ARGV[2]
local function kth(a, k)
	local lo, hi = 1, #a
	while lo < hi do
		local x, i, j = a[k], lo, hi
		repeat
			while a[i] < x do i = i + 1 end
			while x < a[j] do j = j - 1 end
			if i <= j then
				a[i], a[j] = a[j], a[i]
				i, j = i + 1, j - 1
			end
		until i > j
		if j < k then lo = i end
		if k < i then hi = j end
	end
	return a[k]
end
local function sweep(all, upto, clear)
	for i = 1, #all, 2 do
		local f = all[i]
		if (clear and f ~= "c" or string.byte(f) == 116) and all[i + 1] <= upto then
			redis.call("HDEL", log, f)
		end
	end
end
local function fold(f)
	local all, ats = redis.call("HGETALL", log), {}
	for i = 1, #all, 2 do
		if string.byte(all[i]) == 116 then ats[#ats + 1] = all[i + 1] end
	end
	if #ats <= tonumber(ARGV[3]) then return end
	local cut = kth(ats, math.floor(#ats / 2) + 1)
	if f == false or f < cut then
		redis.call("HSET", log, "f", cut)
	else
		cut = f
	end
	sweep(all, cut, false)
end
local cur, c, f = unpack(redis.call("HMGET", log, field, "c", "f"))
local tag = string.byte(field) == 116
if tag and (c and at <= c or f and at <= f) then return 1 end
if cur == false or cur < at then
	redis.call("HSET", log, field, at)
else
	at = cur
end
if not tag then
	sweep(redis.call("HGETALL", log), at, field == "c")
elseif redis.call("HLEN", log) - (c and 1 or 0) - (f and 1 or 0) > tonumber(ARGV[3]) then
	fold(f)
end
return 1`)

// LogInvalidation records inv (an InvalidateTag, a Clear for an empty
// Tag, or a fold of every tagged entry when inv.Tagged) in Redis for every
// instance, those started later included, and returns it as recorded: At
// moved to at least Options.ClockSkew after the Store's clock (see there),
// and never earlier. It implements flightcache.InvalidationLog.
//
// The record is durable as Redis keeps it: a field of one hash, raised in
// a Lua script that never lowers it, and that Redis refuses to run past
// the call's deadline (see [ErrLate]). The hash keeps at most
// Options.MaxLogTags tags one by one: recording one more folds the older
// half into an instant that covers every tagged entry loaded before it,
// holding Redis for a time that grows with MaxLogTags (see there). Once
// it is recorded, the Store applies it to the watchers of this Store
// (WatchInvalidations), before returning, and publishes it to the other
// instances, waiting for that only as long as ctx allows (the message then
// goes on in the background, which Close waits for); a message that fails
// is sent again in the background, as Notify's are, and LogInvalidation
// still returns nil.
//
// An error means that Redis did not record it, with one exception that no
// client can rule out: a call whose reply did not come back in time
// (ErrTimeout, a lost connection) may have been recorded just before its
// deadline. The Store then reads the log again in the background, and if
// it was recorded (its field says so, or, once its field is gone, a fold
// of the log covers it: see Options.MaxLogTags), applies it here and tells
// the other instances as though it had returned nil, so that the fleet
// never stays divided over it; the only effect of such an invalidation is
// that entries loaded before it load again. ctx bounds the call, within
// Options.Timeout.
//
// It returns an error wrapping flightcache.ErrInvalidTag for a tag that
// cannot be used, an error for a Tagged invalidation with a Tag, and
// flightcache.ErrClosed after Close, each without a call to Redis. It is
// safe for concurrent use.
func (s *Store[K, V]) LogInvalidation(ctx context.Context, inv flightcache.Invalidation) (flightcache.Invalidation, error) {
	if inv.Tagged && inv.Tag != "" {
		return flightcache.Invalidation{}, fmt.Errorf("redisstore: log invalidation: a Tagged invalidation has no Tag (%q)", inv.Tag)
	}
	if inv.Tag != "" {
		if _, err := flightcache.NewTags(inv.Tag); err != nil {
			return flightcache.Invalidation{}, fmt.Errorf("redisstore: log invalidation: %w", err)
		}
	}
	if s.clockSkew > 0 {
		inv.At = max(inv.At, flightcache.DeadlineOf(time.Now()).Add(s.clockSkew))
	}
	field, key := logField(inv), s.logKey()
	n, err := run(s, ctx, func(ctx context.Context) (int64, error) {
		sent := time.Now()
		v, err := record.Run(ctx, s.client, []string{key}, field, formatAt(inv.At), s.maxLogTags, s.deadline(ctx)).Slice()
		return s.timedReply(sent, v, err)
	})
	if err == nil && n < 0 {
		err = s.late()
	}
	if err != nil {
		if maybeRan(err) {
			s.queueInvalidation(inv, true)
		}
		return flightcache.Invalidation{}, fmt.Errorf("redisstore: log invalidation of %s: %w", describe(inv), err)
	}
	s.w.dispatch(inv)
	s.tellWithin(ctx, inv)
	return inv, nil
}

// tellWithin tells the other instances of inv, recorded already, whatever
// ctx says, but waits for it only as long as ctx allows (rule 13: a ctx
// bounds waiting for a remote store): past that, the message goes on on a
// goroutine of the Store's, which Close waits for, and a message that
// fails is queued to send again as any other.
func (s *Store[K, V]) tellWithin(ctx context.Context, inv flightcache.Invalidation) {
	send := func() { s.tell(context.WithoutCancel(ctx), inv) }
	if ctx.Done() == nil || !s.track() {
		send() // a ctx that cannot end waits anyway; after Close, it fails and is queued
		return
	}
	done := make(chan struct{})
	go func() {
		defer s.calls.Done()
		defer close(done)
		send()
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// maybeRan reports whether a call that failed with err may have run in
// Redis all the same: its reply was lost or late. A call the breaker
// refused, made after Close, refused as late or failing in Redis never
// ran.
func maybeRan(err error) bool {
	var rerr redis.Error
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, flightcache.ErrClosed), errors.Is(err, ErrLate),
		errors.As(err, &rerr):
		return false
	}
	return true
}

// describe names inv in errors and logs.
func describe(inv flightcache.Invalidation) string {
	switch {
	case inv.Tagged:
		return "a fold of the tagged entries"
	case inv.Tag == "":
		return "a Clear"
	}
	return strconv.Quote(inv.Tag)
}

// message returns the channel's message of inv.
func (s *Store[K, V]) message(inv flightcache.Invalidation) string {
	at := strconv.FormatInt(int64(inv.At), 10)
	switch {
	case inv.Tagged:
		return s.id + " f " + at
	case inv.Tag == "":
		return s.id + " c " + at
	}
	return s.id + " t " + at + " " + inv.Tag
}

// isInvalidationMessage reports whether rest, a message without its
// sender, is one of the log's (see parseMessage).
func isInvalidationMessage(rest string) bool {
	return strings.HasPrefix(rest, "t ") || strings.HasPrefix(rest, "c ") || strings.HasPrefix(rest, "f ") || rest == "s"
}

// parseMessage parses rest, a message of the log without its sender: an
// invalidation, or replay for "s" (replay the whole log).
func parseMessage(rest string) (inv flightcache.Invalidation, replay, ok bool) {
	if rest == "s" {
		return inv, true, true
	}
	kind, rest, _ := strings.Cut(rest, " ")
	at, tag, _ := strings.Cut(rest, " ")
	n, err := strconv.ParseInt(at, 10, 64)
	switch {
	case err != nil:
		return inv, false, false
	case kind == "c" && tag == "":
		return flightcache.Invalidation{At: flightcache.Deadline(n)}, false, true
	case kind == "f" && tag == "":
		return flightcache.Invalidation{Tagged: true, At: flightcache.Deadline(n)}, false, true
	case kind == "t" && tag != "":
		return flightcache.Invalidation{Tag: tag, At: flightcache.Deadline(n)}, false, true
	}
	return inv, false, false
}

// tell publishes inv, recorded, to the other instances, or keeps it to
// send again.
func (s *Store[K, V]) tell(ctx context.Context, inv flightcache.Invalidation) {
	if err := s.publish(ctx, s.message(inv)); err != nil {
		s.queueInvalidation(inv, false)
		return
	}
	s.flushPending(ctx)
}

// pendingInvalidation is an invalidation to tell again: the latest of its
// field, and whether it may not have been recorded (check: read the log
// before telling).
type pendingInvalidation struct {
	inv   flightcache.Invalidation
	check bool
}

// queueInvalidation keeps inv to tell the other instances in the
// background: check says that it may not have been recorded, so the log
// is read first and what it holds is told.
func (s *Store[K, V]) queueInvalidation(inv flightcache.Invalidation, check bool) {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	if !s.pendingReplay {
		if s.pendingInv == nil {
			s.pendingInv = map[string]pendingInvalidation{}
		}
		f := logField(inv)
		p, ok := s.pendingInv[f]
		if !ok || inv.At.After(p.inv.At) {
			p.inv = inv
		}
		p.check = p.check || check
		s.pendingInv[f] = p
		if len(s.pendingInv) > maxPending {
			s.pendingInv, s.pendingReplay = nil, true
		}
	}
	s.logf("redisstore: an invalidation was not told to the other instances; it will be once Redis answers",
		slog.String("invalidation", describe(inv)), slog.Bool("maybe_not_recorded", check),
		slog.Int("waiting", len(s.pendingInv)), slog.Bool("replay", s.pendingReplay))
	s.kickLocked()
}

// flushInvalidations tells the invalidations whose message failed, and
// reports whether it sent them all.
func (s *Store[K, V]) flushInvalidations(ctx context.Context) bool {
	s.pendingMu.Lock()
	pending, replay := s.pendingInv, s.pendingReplay
	s.pendingInv, s.pendingReplay = nil, false
	s.pendingMu.Unlock()
	if replay {
		if err := s.publish(ctx, s.id+" s"); err != nil {
			s.pendingMu.Lock()
			s.pendingInv, s.pendingReplay = nil, true
			s.kickLocked()
			s.pendingMu.Unlock()
			return false
		}
		s.w.replayAll() // this instance's watchers too
		s.logger.Warn("redisstore: too many invalidations had not been told; asked every instance to replay the log",
			slog.String("channel", s.channel()))
		return true
	}
	for f, p := range pending {
		if err := s.sendPending(ctx, f, p); err != nil {
			// Redis is down again: keep this one and the rest.
			for f, p := range pending {
				s.requeue(f, p)
			}
			return false
		}
		delete(pending, f)
	}
	return true
}

// sendPending tells one pending invalidation: for one that may not have
// been recorded, what the log holds for its field, if anything.
func (s *Store[K, V]) sendPending(ctx context.Context, field string, p pendingInvalidation) error {
	if p.check {
		raw, err := run(s, ctx, func(ctx context.Context) ([]any, error) {
			return s.client.HMGet(ctx, s.logKey(), field, clearField, foldField).Result()
		})
		if err != nil {
			return err
		}
		at, ok := parseAt(hmgetString(raw, 0))
		if !ok {
			// No field: not recorded, and never will be (its deadline has
			// passed), or recorded and then folded into "f" (or never given
			// a field, being covered by it already). The running instances
			// are not told of a fold, and an instance started later judges
			// the tag's entries by "f": when "f" covers the tag, it is told
			// as it was asked, so that the fleet agrees either way. (A
			// Clear that covers it was told to every instance.)
			fold, folded := parseAt(hmgetString(raw, 2))
			if p.inv.Tagged || p.inv.Tag == "" || !folded || fold.Before(p.inv.At) {
				return nil
			}
			at = p.inv.At
		}
		p.inv.At = at
		s.w.dispatch(p.inv)
	}
	return s.publish(ctx, s.message(p.inv))
}

// requeue puts p back among the pending invalidations, unless a later one
// of its field came meanwhile, and makes sure they are sent again.
func (s *Store[K, V]) requeue(field string, p pendingInvalidation) {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	s.kickLocked()
	if s.pendingReplay {
		return
	}
	if s.pendingInv == nil {
		s.pendingInv = map[string]pendingInvalidation{}
	}
	if q, ok := s.pendingInv[field]; ok {
		if q.inv.At.After(p.inv.At) {
			p.inv = q.inv
		}
		p.check = p.check || q.check
	}
	s.pendingInv[field] = p
}

// readLog returns every invalidation the log holds, its fold ("f") as a
// Tagged one.
func (s *Store[K, V]) readLog(ctx context.Context) ([]flightcache.Invalidation, error) {
	raw, err := run(s, ctx, func(ctx context.Context) (map[string]string, error) {
		return s.client.HGetAll(ctx, s.logKey()).Result()
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: read the log of invalidations %q: %w", s.logKey(), err)
	}
	invs := make([]flightcache.Invalidation, 0, len(raw))
	for f, v := range raw {
		inv, ok1 := parseField(f)
		at, ok2 := parseAt(v)
		if !ok1 || !ok2 {
			s.logf("redisstore: bad field in the log of invalidations, ignored",
				slog.String("key", s.logKey()), slog.String("field", f), slog.String("value", v))
			continue
		}
		inv.At = at
		invs = append(invs, inv)
	}
	return invs, nil
}

// hmgetString returns the i-th value of an HMGET's reply, "" for a field
// that is absent.
func hmgetString(vals []any, i int) string {
	if i < len(vals) {
		if s, ok := vals[i].(string); ok {
			return s
		}
	}
	return ""
}
