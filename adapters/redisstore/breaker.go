package redisstore

import (
	"context"
	"errors"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// The circuit breaker.
//
// When Redis is down or hung, every call would cost its caller a Timeout
// (with a default go-redis client, a dead Redis cost each miss three
// retries: 758 ms at a 250 ms Timeout, issue 13). After Options.TripAfter
// calls in a row fail, the Store stops calling Redis for Options.OpenFor:
// calls then fail at once with ErrUnavailable, so the Loader goes straight
// to the local tier and the source. Then one call goes through as a probe;
// if it succeeds, calls flow again, else the wait starts over. Each change
// of state is logged; calls held off are counted (Store.Unavailable).
//
// The breaker is sony/gobreaker's (v2), used in two steps around each call.
// A call counts as failed when Redis did not answer (a network error or the
// Timeout); an error reply from Redis is an answer, and a caller that gave
// up first (its context ended) counts for nothing.

// ErrUnavailable is wrapped by the error of a call the Store did not make
// because recent calls to Redis failed (its circuit breaker is open).
var ErrUnavailable = errors.New("redisstore: Redis is failing; calls are held off for a while")

// errCallerGone marks, for the breaker, a call whose caller left first.
var errCallerGone = errors.New("redisstore: the caller left")

func (s *Store[K, V]) newBreaker(tripAfter int) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        s.prefix,
		MaxRequests: 1,
		Timeout:     s.openFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(tripAfter) },
		IsSuccessful: func(err error) bool {
			var reply redis.Error
			return err == nil || errors.As(err, &reply)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errCallerGone) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			level, msg := slog.LevelWarn, "redisstore: Redis is failing; holding calls off"
			switch to {
			case gobreaker.StateHalfOpen:
				level, msg = slog.LevelInfo, "redisstore: probing Redis"
			case gobreaker.StateClosed:
				level, msg = slog.LevelInfo, "redisstore: Redis answers again; calls flow"
			}
			s.logger.LogAttrs(context.Background(), level, msg, slog.String("prefix", s.prefix),
				slog.String("from", from.String()), slog.String("to", to.String()),
				slog.Duration("open_for", s.openFor), slog.Uint64("held_off", s.unavailable.Load()))
		},
	})
}

// allow asks the breaker whether a call may go to Redis; done reports how
// it went.
func (s *Store[K, V]) allow() (done func(callerCtx context.Context, err error), err error) {
	if s.breaker == nil {
		return func(context.Context, error) {}, nil
	}
	report, err := s.breaker.Allow()
	if err != nil {
		s.unavailable.Add(1)
		return nil, ErrUnavailable
	}
	return func(callerCtx context.Context, err error) {
		if err != nil && callerCtx.Err() != nil {
			err = errCallerGone
		}
		report(err)
	}, nil
}

// Unavailable reports how many calls the Store did not make because its
// circuit breaker was open.
func (s *Store[K, V]) Unavailable() uint64 { return s.unavailable.Load() }
