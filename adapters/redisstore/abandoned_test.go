package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
)

// abandonTimeout is the Timeout of the instance whose calls are given up
// on: short, so that the tests are quick.
const abandonTimeout = 150 * time.Millisecond

// TestAnAbandonedWriteNeverLandsAfterALaterOne is issue 23, input 6: a Set
// that outlasted Options.Timeout returned an error, but its command was on
// its way; an Invalidate made as soon as it returned succeeded first, then
// the abandoned write (unconditional) landed, and every instance served the
// value the caller had been told was not written. The proxy holds A's
// bytes back, as a slow link or a large value does, and lets them through
// after the Invalidate (same class: redis/rueidis#630).
func TestAnAbandonedWriteNeverLandsAfterALaterOne(t *testing.T) {
	for name, client := range clientKinds {
		for _, batch := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/single", true: "/batch"}[batch], func(t *testing.T) {
				ctx := context.Background()
				srv := redistest.Start(t)
				proxy := redistest.StartProxy(t, srv.Addr)
				prefix := redistest.Prefix(t)
				a := newStore[string, string](t, client(t, proxy.Addr), &redisstore.Options[string, string]{
					Prefix: prefix, Timeout: abandonTimeout, TripAfter: -1})
				direct := client(t, srv.Addr)
				b := newStore[string, string](t, direct, &redisstore.Options[string, string]{Prefix: prefix})
				require.NoError(t, a.Set(ctx, "k", flightcache.Entry[string]{Value: "v0"}), "A's connection is made")

				proxy.Hold()
				old := flightcache.Entry[string]{Value: "old"}
				var err error
				if batch {
					err = a.SetMany(ctx, map[string]flightcache.Entry[string]{"k": old, "j": old})
				} else {
					err = a.Set(ctx, "k", old)
				}
				require.ErrorIs(t, err, redisstore.ErrTimeout, "A gave up on its write")
				require.NoError(t, b.Delete(ctx, "k"), "the later Invalidate lands first")
				proxy.Release()
				require.NoError(t, a.Close(), "A's abandoned call has ended")

				// The held bytes have reached Redis (A's connection is
				// gone, or its reply came back): poll for a while.
				assert.Never(t, func() bool {
					n, err := direct.Exists(ctx, b.RedisKey("k"), b.RedisKey("j")).Result()
					return err != nil || n > 0
				}, 500*time.Millisecond, 10*time.Millisecond, "the abandoned write landed after the Invalidate")
			})
		}
	}
}

// TestALeaseRequestGivenUpOnIsNeverGranted is issue 23, input 3: during a
// write stall longer than Options.Timeout and shorter than the client's
// ReadTimeout, A's lease request timed out (A loaded without a lease) but
// stayed queued; Redis granted it to A's abandoned token when it resumed,
// nobody kept it alive or released it, and B waited on it until its context
// ended instead of loading at once (redis/rueidis#630, minio/minio#11030).
func TestALeaseRequestGivenUpOnIsNeverGranted(t *testing.T) {
	for name, client := range clientKinds {
		for _, batch := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/single", true: "/batch"}[batch], func(t *testing.T) {
				ctx := context.Background()
				srv := redistest.Start(t)
				prefix := redistest.Prefix(t)
				a := newStore[string, string](t, client(t, srv.Addr), &redisstore.Options[string, string]{
					Prefix: prefix, Timeout: abandonTimeout, TripAfter: -1})
				admin := plainClient(t, srv.Addr)
				b := newStore[string, string](t, admin, &redisstore.Options[string, string]{Prefix: prefix})
				require.NoError(t, a.Set(ctx, "warm", flightcache.Entry[string]{Value: "v"}), "A's connection is made")

				require.NoError(t, admin.Do(ctx, "CLIENT", "PAUSE", 700, "WRITE").Err())
				var err error
				if batch {
					_, _, err = a.LeaseMany(ctx, []string{"k", "j"})
				} else {
					_, err = a.Lease(ctx, "k")
				}
				require.ErrorIs(t, err, redisstore.ErrTimeout, "A gave up on its lease request")
				// A write waits out the pause; the queued request runs then.
				require.NoError(t, admin.Set(ctx, prefix+"probe", 1, 0).Err())
				require.NoError(t, a.Close(), "A's abandoned calls have ended")

				n, err := admin.Exists(ctx, b.LeaseKey("k"), b.LeaseKey("j")).Result()
				require.NoError(t, err)
				assert.Zero(t, n, "no lease is held by a token nobody keeps")
				wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				start := time.Now()
				if batch {
					taken, release, err := b.LeaseMany(wctx, []string{"k", "j"})
					require.NoError(t, err)
					assert.ElementsMatch(t, []string{"k", "j"}, taken)
					release()
				} else {
					release, err := b.Lease(wctx, "k")
					require.NoError(t, err)
					require.NotNil(t, release, "B takes the lease instead of waiting for an orphan")
					release()
				}
				assert.Less(t, time.Since(start), time.Second)
			})
		}
	}
}

// TestAWriteRedisRunsLateIsRefused: the script's own check, seen from a
// caller that sends a deadline already past: Redis refuses and writes
// nothing; a deadline ahead is kept. Either way the reply carries Redis's
// clock, from which a Store learns how far it is from its own.
func TestAWriteRedisRunsLateIsRefused(t *testing.T) {
	ctx := context.Background()
	c := redistest.Client(t)
	s := newStore[string, string](t, c, nil)
	keys := []string{s.RedisKey("k"), s.VersionKey("k")}
	for _, x := range []struct {
		deadline time.Duration
		want     int64
	}{{-time.Second, -1}, {time.Minute, 1}} {
		reply, err := redisstore.WriteScript.Run(ctx, c, keys, "*", "x", 0, "1", 1000, time.Now().Add(x.deadline).UnixMicro()).Slice()
		require.NoError(t, err)
		require.Len(t, reply, 3)
		assert.Equal(t, x.want, reply[0])
		redisNow := time.Unix(reply[1].(int64), reply[2].(int64)*1000)
		assert.WithinDuration(t, time.Now(), redisNow, time.Second, "the reply carries Redis's clock")
		n, _ := c.Exists(ctx, keys[0]).Result()
		assert.Equal(t, x.want == 1, n == 1)
	}
	require.NoError(t, s.Set(ctx, "k", flightcache.Entry[string]{Value: "v"}))
	ahead := s.RedisClockAhead()
	assert.LessOrEqual(t, ahead, time.Duration(0), "one clock, read by Redis before the reply arrived")
	assert.Greater(t, ahead, -500*time.Millisecond, "learned from a quick reply (newStore's Timeout is 5 s)")
}
