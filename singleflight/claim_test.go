package singleflight_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache/singleflight"
)

func TestClaimStartsOrJoinsAndFinishReleasesEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		first, started, err := g.Claim("k")
		require.NoError(t, err)
		require.True(t, started)
		second, started, err := g.Claim("k")
		require.NoError(t, err)
		assert.False(t, started, "a second claim joins the call in flight")

		got := make(chan int, 3)
		for _, tk := range []singleflight.Ticket[string, int]{first, second} {
			go func() {
				v, err, shared := tk.Wait(context.Background())
				assert.NoError(t, err)
				assert.True(t, shared)
				got <- v
			}()
		}
		go func() { // Do joins a call started by Claim
			v, err, shared := g.Do(context.Background(), "k", func(context.Context) (int, error) {
				t.Error("Do ran fn while a claimed call was in flight")
				return 0, nil
			})
			assert.NoError(t, err)
			assert.True(t, shared)
			got <- v
		}()
		synctest.Wait()
		assert.False(t, first.Ended())
		assert.True(t, first.Finish(42, nil))
		assert.False(t, first.Finish(7, errors.New("late")), "only the first Finish counts")
		assert.True(t, first.Ended())
		for range 3 {
			assert.Equal(t, 42, <-got)
		}
		_, started, _ = g.Claim("k")
		assert.True(t, started, "the key is free once the call ended")
	})
}

func TestClaimWaitLeavesWhenItsContextEnds(t *testing.T) {
	var g singleflight.Group[string, int]
	tk, _, err := g.Claim("k")
	require.NoError(t, err)
	defer tk.Finish(0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err, _ = tk.Wait(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestClaimOfABadKeyIsAnErrorAndANaNIsNeverShared(t *testing.T) {
	var g singleflight.Group[any, int]
	_, _, err := g.Claim([]int{1})
	assert.ErrorIs(t, err, singleflight.ErrUnhashableKey)
	_, _, err = g.Claim(struct{ X any }{map[int]int{}})
	assert.ErrorIs(t, err, singleflight.ErrUnhashableKey)

	a, started, err := g.Claim(math.NaN())
	require.NoError(t, err)
	assert.True(t, started)
	b, started, _ := g.Claim(math.NaN())
	assert.True(t, started, "a key that does not equal itself can never be joined")
	assert.Equal(t, 0, singleflight.InFlight(&g), "and leaves nothing in the group")
	a.Finish(1, nil)
	b.Finish(2, nil)
	v, _, _ := b.Wait(context.Background())
	assert.Equal(t, 2, v)

	_, started, err = g.Claim("fine")
	require.NoError(t, err)
	assert.True(t, started, "the group still works")
}

// An unshared call is joined by nobody, and leaves the call in flight for
// its key as it is.
func TestClaimUnsharedIsJoinedByNobody(t *testing.T) {
	var g singleflight.Group[string, int]
	shared, started, err := g.Claim("k")
	require.NoError(t, err)
	require.True(t, started)

	alone, err := g.ClaimUnshared("k")
	require.NoError(t, err)
	joiner, started, err := g.Claim("k")
	require.NoError(t, err)
	assert.False(t, started, "the shared call is still the key's")

	require.True(t, alone.Finish(1, nil))
	v, err, wasShared := alone.Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	assert.False(t, wasShared)
	assert.False(t, joiner.Ended(), "finishing the unshared call ends nothing else")

	require.True(t, shared.Finish(2, nil))
	v, _, _ = joiner.Wait(context.Background())
	assert.Equal(t, 2, v)

	var bad singleflight.Group[any, int]
	_, err = bad.ClaimUnshared([]int{1})
	assert.ErrorIs(t, err, singleflight.ErrUnhashableKey)
}

// The tests below are about a call that Claim starts and nobody joins: it
// gets no channel unless somebody has to block on it (issue 16).

// isClosed reports whether ch is closed, without blocking.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestWaitAfterFinishOnTheSameGoroutineReturnsTheResult(t *testing.T) {
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	boom := errors.New("boom")
	for _, ctx := range []context.Context{context.Background(), cancellable} {
		var g singleflight.Group[string, int]
		tk, started, err := g.Claim("k")
		require.NoError(t, err)
		require.True(t, started)
		assert.False(t, tk.Ended())
		require.True(t, tk.Finish(3, boom))
		assert.True(t, tk.Ended())
		v, err, shared := tk.Wait(ctx)
		assert.Equal(t, 3, v)
		assert.ErrorIs(t, err, boom)
		assert.False(t, shared, "nobody joined")
		assert.True(t, isClosed(tk.Done()), "Done after the end is closed")
		assert.False(t, singleflight.TicketHasChannel(tk),
			"a call nobody blocked on never gets a channel of its own")
		assert.Equal(t, 0, singleflight.InFlight(&g))
	}
}

func TestWaitBeforeFinishBlocksUntilFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		tk, _, err := g.Claim("k")
		require.NoError(t, err)
		got := make(chan int, 2)
		for _, ctx := range []context.Context{context.Background(), t.Context()} {
			go func() {
				v, err, shared := tk.Wait(ctx)
				assert.NoError(t, err)
				assert.False(t, shared, "the starter's own Ticket waited: nobody joined")
				got <- v
			}()
		}
		synctest.Wait() // both are durably blocked in Wait
		assert.Empty(t, got)
		assert.False(t, tk.Ended())
		assert.True(t, singleflight.TicketHasChannel(tk), "a waiter made the channel")
		require.True(t, tk.Finish(9, nil))
		assert.Equal(t, 9, <-got)
		assert.Equal(t, 9, <-got)
	})
}

func TestDoneBeforeAndAfterTheEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		tk, _, err := g.Claim("k")
		require.NoError(t, err)
		assert.False(t, singleflight.TicketHasChannel(tk))
		early := tk.Done()
		require.NotNil(t, early)
		assert.False(t, isClosed(early))
		assert.Equal(t, early, tk.Done(), "every Done before the end is the same channel")
		woke := make(chan struct{})
		go func() {
			<-early
			close(woke)
		}()
		synctest.Wait()
		assert.False(t, isClosed(woke), "Done is not closed before Finish")
		tk.Finish(1, nil)
		<-woke
		assert.True(t, isClosed(early), "Done taken before the end is closed by it")
		assert.True(t, isClosed(tk.Done()), "Done taken after the end is closed")
	})
	// The same with no Done before the end: the call never had a channel.
	var g singleflight.Group[string, int]
	tk, _, _ := g.Claim("k")
	tk.Finish(1, nil)
	assert.True(t, isClosed(tk.Done()))
	assert.False(t, singleflight.TicketHasChannel(tk))
}

func TestEveryKindOfJoinerOfAClaimedCallGetsItsResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		starter, started, err := g.Claim("k")
		require.NoError(t, err)
		require.True(t, started)
		assert.False(t, singleflight.TicketHasChannel(starter))

		type outcome struct {
			who    string
			v      int
			err    error
			shared bool
		}
		got := make(chan outcome, 8)
		joiner, started, err := g.Claim("k")
		require.NoError(t, err)
		require.False(t, started)
		go func() {
			v, err, shared := joiner.Wait(context.Background())
			got <- outcome{"claim", v, err, shared}
		}()
		notRun := func(context.Context) (int, error) {
			t.Error("fn ran while a claimed call was in flight")
			return 0, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for _, c := range []struct {
			name string
			ctx  context.Context
		}{{"background", context.Background()}, {"cancellable", ctx}} {
			go func() {
				v, err, shared := g.Do(c.ctx, "k", notRun)
				got <- outcome{"do/" + c.name, v, err, shared}
			}()
			ch, started := g.DoChanStarted(c.ctx, "k", notRun)
			assert.False(t, started)
			go func() {
				r := <-ch
				got <- outcome{"dochan/" + c.name, r.Val, r.Err, r.Shared}
			}()
		}
		synctest.Wait()
		assert.Empty(t, got, "every joiner waits for Finish")
		assert.Equal(t, 5, singleflight.Joiners(&g, "k"))
		assert.False(t, starter.Ended())
		assert.False(t, joiner.Ended())

		require.True(t, starter.Finish(42, nil))
		assert.False(t, joiner.Finish(7, nil), "a joiner's Finish does nothing")
		for range 5 {
			o := <-got
			assert.NoError(t, o.err, o.who)
			assert.Equal(t, 42, o.v, o.who)
			assert.True(t, o.shared, o.who)
		}
		v, err, shared := starter.Wait(context.Background())
		assert.NoError(t, err)
		assert.Equal(t, 42, v)
		assert.True(t, shared, "the starter's call was joined")
		assert.True(t, joiner.Ended())
		assert.True(t, isClosed(joiner.Done()))
	})
}

// TestAFirstJoinerOfAClaimedCallWaitsForIt has each kind of joiner be the
// first party besides the starter to touch the call, when it has no
// channel yet.
func TestAFirstJoinerOfAClaimedCallWaitsForIt(t *testing.T) {
	notRun := func(context.Context) (int, error) {
		t.Error("fn ran while a claimed call was in flight")
		return 0, nil
	}
	joiners := map[string]func(g *singleflight.Group[string, int], ctx context.Context) func() (int, error, bool){
		"claim": func(g *singleflight.Group[string, int], ctx context.Context) func() (int, error, bool) {
			tk, started, err := g.Claim("k")
			assert.NoError(t, err)
			assert.False(t, started)
			return func() (int, error, bool) { return tk.Wait(ctx) }
		},
		"do": func(g *singleflight.Group[string, int], ctx context.Context) func() (int, error, bool) {
			return func() (int, error, bool) { return g.Do(ctx, "k", notRun) }
		},
		"dochan": func(g *singleflight.Group[string, int], ctx context.Context) func() (int, error, bool) {
			ch := g.DoChan(ctx, "k", notRun)
			return func() (int, error, bool) {
				r := <-ch
				return r.Val, r.Err, r.Shared
			}
		},
	}
	for name, join := range joiners {
		for _, cancellable := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/cancellable=%t", name, cancellable), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ctx := context.Background()
					if cancellable {
						ctx = t.Context()
					}
					var g singleflight.Group[string, int]
					starter, _, err := g.Claim("k")
					require.NoError(t, err)
					wait := join(&g, ctx)
					got := make(chan int, 1)
					go func() {
						v, err, shared := wait()
						assert.NoError(t, err)
						assert.True(t, shared)
						got <- v
					}()
					synctest.Wait()
					assert.Empty(t, got, "the joiner waits for Finish")
					require.True(t, starter.Finish(8, nil))
					assert.Equal(t, 8, <-got)
				})
			})
		}
	}
}

func TestWaitWhoseContextEndsBeforeFinishLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[string, int]
		tk, _, err := g.Claim("k")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		left := make(chan error, 1)
		go func() {
			_, err, _ := tk.Wait(ctx)
			left <- err
		}()
		deadline, cancelDeadline := context.WithTimeout(context.Background(), time.Second)
		defer cancelDeadline()
		_, err, shared := tk.Wait(deadline) // the bubble's clock jumps a second
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.False(t, shared)
		synctest.Wait()
		assert.Empty(t, left)
		cancel()
		assert.ErrorIs(t, <-left, context.Canceled)

		assert.False(t, tk.Ended(), "the call goes on after its waiters leave")
		require.True(t, tk.Finish(5, nil))
		v, err, _ := tk.Wait(context.Background())
		assert.NoError(t, err)
		assert.Equal(t, 5, v)
	})
}

func TestWaitForAClaimedNaNKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g singleflight.Group[float64, int]
		tk, started, err := g.Claim(math.NaN())
		require.NoError(t, err)
		require.True(t, started)
		assert.False(t, singleflight.TicketHasChannel(tk))
		got := make(chan int, 1)
		go func() {
			v, _, _ := tk.Wait(context.Background())
			got <- v
		}()
		synctest.Wait()
		assert.Empty(t, got)
		tk.Finish(4, nil)
		assert.Equal(t, 4, <-got)
		assert.True(t, isClosed(tk.Done()))
		assert.Equal(t, 0, singleflight.InFlight(&g))
	})
}

// TestClaimedCallsRaceTheirWaiters has many goroutines join, wait on and
// watch claimed calls while Finish runs; run it under -race.
func TestClaimedCallsRaceTheirWaiters(t *testing.T) {
	defer goleak.VerifyNone(t)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var g singleflight.Group[int, int]
	const rounds, waiters = 200, 8
	for round := range rounds {
		starter, started, err := g.Claim(round)
		require.NoError(t, err)
		require.True(t, started)
		kinds := make([]int, waiters)
		for i := range kinds {
			kinds[i] = rng.IntN(7)
		}
		finishFirst := rng.IntN(2) == 0
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		results := make(chan int, waiters)
		begin := make(chan struct{})
		for _, kind := range kinds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-begin
				var v int
				switch kind {
				case 0: // the starter's Ticket, from another goroutine
					v, _, _ = starter.Wait(context.Background())
				case 1:
					v, _, _ = starter.Wait(ctx)
				case 2: // join with Claim: a call that ended starts afresh
					tk, started, _ := g.Claim(round)
					if started {
						tk.Finish(round, nil)
					}
					v, _, _ = tk.Wait(ctx)
				case 3:
					<-starter.Done()
					assert.True(t, starter.Ended())
					v, _, _ = starter.Wait(context.Background())
				case 4:
					v, _, _ = g.Do(context.Background(), round, func(context.Context) (int, error) { return round, nil })
				case 5:
					v, _, _ = g.Do(ctx, round, func(context.Context) (int, error) { return round, nil })
				case 6:
					r := <-g.DoChan(ctx, round, func(context.Context) (int, error) { return round, nil })
					v = r.Val
				}
				results <- v
			}()
		}
		if finishFirst {
			close(begin)
			starter.Finish(round, nil)
		} else {
			starter.Finish(round, nil)
			close(begin)
		}
		wg.Wait()
		cancel()
		close(results)
		for v := range results {
			require.Equal(t, round, v, "round %d (seed %d)", round, seed)
		}
	}
	assert.Equal(t, 0, singleflight.InFlight(&g))
}

func TestClaimFinishWaitOfAnUnjoinedKeyAllocatesOnlyTheCall(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ctx := range []context.Context{context.Background(), cancellable} {
		var g singleflight.Group[string, int]
		allocs := testing.AllocsPerRun(1000, func() {
			tk, _, _ := g.Claim("k")
			tk.Finish(1, nil)
			if !tk.Ended() || !isClosed(tk.Done()) {
				t.Fatal("the call did not end")
			}
			if v, err, _ := tk.Wait(ctx); v != 1 || err != nil {
				t.Fatal(v, err)
			}
		})
		assert.Equal(t, 1.0, allocs)
	}
	var joined singleflight.Group[string, int]
	starter, _, _ := joined.Claim("k")
	allocs := testing.AllocsPerRun(1000, func() {
		if _, started, _ := joined.Claim("k"); started {
			t.Fatal("a second Claim started a call")
		}
	})
	assert.Equal(t, 0.0, allocs, "a Claim that joins allocates nothing")
	starter.Finish(1, nil)
	assert.False(t, singleflight.TicketHasChannel(starter), "nobody blocked on the call")

	var g singleflight.Group[float64, int]
	allocs = testing.AllocsPerRun(1000, func() {
		tk, _, _ := g.Claim(math.NaN())
		tk.Finish(1, nil)
		tk.Wait(context.Background())
	})
	assert.Equal(t, 1.0, allocs, "nor for a key that does not equal itself")
}

// TestJoinableSaysWhetherAClaimWouldJoin: a Ticket's call is joinable while
// it runs and is the Group's call for its key; Forget, ForgetAll and Finish
// end that, and an unshared call or a NaN key's never has it. Each answer
// is checked against what a Claim made then does.
func TestJoinableSaysWhetherAClaimWouldJoin(t *testing.T) {
	var g singleflight.Group[string, int]
	claimJoins := func(key string) bool {
		tk, started, err := g.Claim(key)
		require.NoError(t, err)
		if started {
			tk.Finish(0, nil)
		}
		return !started
	}

	a, _, err := g.Claim("a")
	require.NoError(t, err)
	assert.True(t, a.Joinable())
	assert.True(t, claimJoins("a"))
	g.Forget("a")
	assert.False(t, a.Joinable(), "forgotten")
	assert.False(t, claimJoins("a"))
	assert.False(t, a.Ended(), "still running, but no longer the key's")
	a.Finish(1, nil)

	b, _, err := g.Claim("b")
	require.NoError(t, err)
	c, _, err := g.Claim("c")
	require.NoError(t, err)
	require.True(t, b.Joinable())
	require.True(t, c.Joinable())
	g.ForgetAll()
	assert.False(t, b.Joinable())
	assert.False(t, c.Joinable())
	b.Finish(1, nil)
	c.Finish(1, nil)

	d, _, err := g.Claim("d")
	require.NoError(t, err)
	d.Finish(1, nil)
	assert.False(t, d.Joinable(), "ended")
	assert.False(t, claimJoins("d"))

	alone, err := g.ClaimUnshared("e")
	require.NoError(t, err)
	assert.False(t, alone.Joinable(), "unshared")
	alone.Finish(1, nil)

	var nan singleflight.Group[float64, int]
	n, _, err := nan.Claim(math.NaN())
	require.NoError(t, err)
	assert.False(t, n.Joinable(), "a key that does not equal itself")
	n.Finish(1, nil)
}
