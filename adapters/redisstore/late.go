package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"time"
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
// have landed while its caller could still hear of it. The comparison
// is between the instance's clock and the Redis server's: clocks kept in
// step by NTP (a few milliseconds apart) leave a window of that size.
// A clock of Redis's that runs ahead by more than Timeout refuses every
// write; the Store then logs that the clocks disagree.
//
// A lease request the Store gave up on is also released by its token once
// the Store has stopped waiting (see lease.go), for a request that Redis
// ran just before the deadline while its reply was still on its way.

// lateCheck begins every script that writes: it returns -1, having done
// nothing, when Redis's clock is past the deadline in the script's last
// argument (Unix microseconds; 0 means none).
const lateCheck = `
local dl = tonumber(ARGV[#ARGV])
if dl > 0 then
	local t = redis.call("TIME")
	if tonumber(t[1]) * 1000000 + tonumber(t[2]) > dl then return -1 end
end`

// ErrLate is wrapped by the error of a write or lease request that Redis
// ran only after the Store had stopped waiting for it, and so refused:
// nothing was written. A caller sees it only when the reply still came
// in time by the instance's clock, which means Redis's clock runs ahead of
// the instance's (or the call was slowed at the very end).
var ErrLate = errors.New("redisstore: Redis ran the call after its deadline and refused it")

// errRefused is what a pipeline of scripts returns inside run when Redis
// refused one of them as late; the caller turns it into ErrLate with late,
// only when it still waited for the reply.
var errRefused = errors.New("redisstore: refused as late")

// deadline is the instant, in Unix microseconds, after which Redis must
// refuse a write made under ctx: ctx's deadline, which run always sets.
func deadline(ctx context.Context) int64 {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return dl.UnixMicro()
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
	s.logf("redisstore: Redis refused a write as late while this instance still waited for it; are the clocks of Redis and this host apart by more than Options.Timeout?",
		slog.Duration("timeout", s.timeout), slog.Time("local_time", time.Now()))
	return ErrLate
}
