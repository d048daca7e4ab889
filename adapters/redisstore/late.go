package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Calls the Store gave up on never take effect later (DESIGN rule 13;
// issue 23, inputs 3 and 6).
//
// A call the Store stops waiting for at Options.Timeout may still reach
// Redis afterwards: over a client without ContextTimeoutEnabled it goes on
// on its own goroutine until the client's ReadTimeout (5 s by default since
// go-redis v9.22), and over any client a command that was sent whole before
// the deadline sits in Redis's input buffer while Redis is paused or slow.
// An unconditional SET of the old value then landed after a later
// Invalidate and both instances served it; a SET NX granted a lease to a
// token nobody held any more, and other instances waited for it.
//
// So every write and every lease request goes to Redis in a Lua script
// whose first step compares Redis's clock (TIME) with the instant the Store
// stops waiting for the call (its context's deadline, at most Timeout
// away), and does nothing once it has passed. A write that lands must
// have landed while its caller could still hear of it.
//
// The deadline is sent in Redis's time: the Store learns how far Redis's
// clock is from its own from the replies of these scripts, which return
// the TIME they read. A reply that came back quickly (within Timeout/10)
// bounds the difference from below: Redis read its clock before the reply
// arrived, so Redis's time minus the local time of arrival is at most the
// true difference. The Store keeps the latest such bound; with it, a
// deadline sent can only be early (by at most the round trip), never late.
// Before the first reply, the clocks are taken to agree. Over a Cluster the
// nodes' clocks may differ from one another by what NTP leaves (a few
// milliseconds), and the deadline by as much.
//
// A lease request the Store gave up on is also released by its token once
// the Store has stopped waiting (see lease.go), for a request that Redis
// ran just before the deadline while its reply was still on its way.

// timed makes the script of every write and lease request: body runs
// only while Redis's clock is not past the deadline in the script's last
// argument (Unix microseconds in Redis's time; 0 means none), and the
// script returns {result, seconds, microseconds}: body's result, or -1
// when it was late, and the TIME Redis read (see timedReply). Reading TIME
// before writing needs Redis 5 or later (effects replication).
func timed(body string) *redis.Script {
	return redis.NewScript(`
local t = redis.call("TIME")
local function body()
	local dl = tonumber(ARGV[#ARGV])
	if dl > 0 and tonumber(t[1]) * 1000000 + tonumber(t[2]) > dl then return -1 end
` + body + `
end
return {body(), tonumber(t[1]), tonumber(t[2])}`)
}

// timedReply returns the result of a timed script's reply v (or err), sent
// at sent, and learns from the TIME in it how far Redis's clock is ahead of
// this instance's.
func (s *Store[K, V]) timedReply(sent time.Time, v []any, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	if len(v) != 3 {
		return 0, fmt.Errorf("redisstore: unexpected reply %v from a script", v)
	}
	n, _ := v[0].(int64)
	sec, _ := v[1].(int64)
	usec, _ := v[2].(int64)
	if arrived := time.Now(); arrived.Sub(sent) <= s.timeout/10 {
		s.skew.Store(sec*1_000_000 + usec - arrived.UnixMicro())
	}
	return n, nil
}

// ErrLate is wrapped by the error of a write or lease request that Redis
// ran only after the Store had stopped waiting for it, and so refused:
// nothing was written. A caller sees it only when the reply still came
// in time, which means the call ran at the very end of Options.Timeout
// (the deadline sent is early by up to a round trip), or Redis's clock
// jumped.
var ErrLate = errors.New("redisstore: Redis ran the call after its deadline and refused it")

// errRefused is what a pipeline of scripts returns inside run when Redis
// refused one of them as late; the caller turns it into ErrLate with late,
// only when it still waited for the reply.
var errRefused = errors.New("redisstore: refused as late")

// deadline is the instant, in Unix microseconds of Redis's clock as far
// as the Store knows it, after which Redis must refuse a write made under
// ctx: ctx's deadline, which run always sets.
func (s *Store[K, V]) deadline(ctx context.Context) int64 {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return dl.UnixMicro() + s.skew.Load()
}

// late returns ErrLate for a call Redis refused as late, and logs it: the
// caller was still waiting, so Redis's clock is ahead of this instance's.
// An err that is not errRefused is returned as it is.
func (s *Store[K, V]) lateErr(err error) error {
	if !errors.Is(err, errRefused) {
		return err
	}
	return s.late()
}

func (s *Store[K, V]) late() error {
	s.logf("redisstore: Redis refused a write as late while this instance still waited for it: it ran at the very end of Options.Timeout, or Redis's clock jumped",
		slog.Duration("timeout", s.timeout), slog.Duration("redis_clock_ahead_at_least", time.Duration(s.skew.Load())*time.Microsecond))
	return ErrLate
}

// RedisClockAhead reports how far Redis's clock is ahead of this
// instance's (negative: behind), as the Store last learned it from a quick
// reply: a lower bound, off by at most that reply's round trip. It is 0
// until the first such reply. It is safe for concurrent use.
func (s *Store[K, V]) RedisClockAhead() time.Duration {
	return time.Duration(s.skew.Load()) * time.Microsecond
}
