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

func TestGateBoundsItsCounters(t *testing.T) {
	// A sync.Pool drops its counters at garbage collection; the gate then
	// makes new ones, up to its bound, and shares old ones after that.
	var g ristrettostore.Gate
	for range 10 * ristrettostore.MaxCounters {
		c := g.Enter()
		require.NotNil(t, c)
		g.Leave(c)
		runtime.GC() // moves the pool's counters to its victim cache
		runtime.GC() // and drops them
	}
	assert.Equal(t, ristrettostore.MaxCounters, g.Counters())

	// Shared counters still count: close waits for a call on one.
	c := g.Enter()
	done := make(chan bool)
	go func() { done <- g.Close() }()
	for range 1000 {
		runtime.Gosched()
		select {
		case <-done:
			t.Fatal("close returned while a call was inside")
		default:
		}
	}
	g.Leave(c)
	assert.True(t, <-done)
}
