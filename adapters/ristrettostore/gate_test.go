package ristrettostore_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/adapters/ristrettostore"
)

func TestGateCloseWaitsForCalls(t *testing.T) {
	var g ristrettostore.Gate
	c := g.Enter()
	require.NotNil(t, c)

	done := make(chan bool)
	go func() { done <- g.Close() }()
	// Close cannot return while a call is inside, however long it is given.
	for range 1000 {
		runtime.Gosched()
		select {
		case <-done:
			t.Fatal("close returned while a call was inside")
		default:
		}
	}
	g.Leave(c)
	assert.True(t, <-done, "the first close reports that it closed the gate")
	assert.Nil(t, g.Enter(), "a closed gate admits no call")
	assert.False(t, g.Close(), "a second close reports that the gate was closed")
}

func TestGateAdmitsNothingAfterClose(t *testing.T) {
	// Calls enter and leave at full speed while the gate closes: when close
	// returns, none is inside and none gets in afterwards.
	var (
		g       ristrettostore.Gate
		inside  atomic.Int64
		wg      sync.WaitGroup
		started sync.WaitGroup
	)
	const goroutines = 8
	started.Add(goroutines)
	for range goroutines {
		wg.Go(func() {
			first := true
			for {
				c := g.Enter()
				if first {
					started.Done()
					first = false
				}
				if c == nil {
					return
				}
				inside.Add(1)
				runtime.Gosched()
				inside.Add(-1)
				g.Leave(c)
			}
		})
	}
	started.Wait()
	require.True(t, g.Close())
	assert.Zero(t, inside.Load(), "a call was inside when close returned")
	wg.Wait()
	assert.Zero(t, inside.Load())
}

func TestGateCloseWaitsForEveryCall(t *testing.T) {
	// Calls from many goroutines, some of them sharing a stripe: close
	// returns only once the last has left.
	var g ristrettostore.Gate
	const goroutines = 3 * ristrettostore.GateStripes
	release := make([]chan struct{}, goroutines)
	var entered, left sync.WaitGroup
	entered.Add(goroutines)
	stripes := make(map[int]bool)
	var mu sync.Mutex
	for i := range goroutines {
		release[i] = make(chan struct{})
		left.Go(func() {
			c := g.Enter()
			mu.Lock()
			stripes[ristrettostore.StripeOf()] = true
			mu.Unlock()
			entered.Done()
			<-release[i]
			g.Leave(c)
		})
	}
	entered.Wait()
	assert.Greater(t, len(stripes), 1, "goroutines spread over stripes")

	done := make(chan bool)
	go func() { done <- g.Close() }()
	for i := range goroutines {
		for range 100 {
			runtime.Gosched()
			select {
			case <-done:
				t.Fatalf("close returned with %d calls inside", goroutines-i)
			default:
			}
		}
		close(release[i])
	}
	assert.True(t, <-done)
	left.Wait()
	assert.Nil(t, g.Enter())
}

func TestStripeIsInRange(t *testing.T) {
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			i := ristrettostore.StripeOf()
			assert.GreaterOrEqual(t, i, 0)
			assert.Less(t, i, ristrettostore.GateStripes)
		})
	}
	wg.Wait()
}
