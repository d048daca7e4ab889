package flightcache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The context.Context contract: "If Done is not yet closed, Err returns
// nil." fillCtx.end sets the state before it closes done, and Err reads only
// the state, so a reader can see an error while Done is still open (the
// context package's cancelCtx.Err waits for Done before it returns one).
func TestFillCtxErrIsNilUntilDoneIsClosed(t *testing.T) {
	const tries = 20_000
	bad := 0
	for range tries {
		var c fillCtx[string, string]
		c.begin(context.Background(), time.Now().Add(time.Hour))
		var wg sync.WaitGroup
		wg.Go(func() { c.end(ctxCanceled) })
		for c.Err() == nil {
		}
		select {
		case <-c.Done():
		default:
			bad++
		}
		wg.Wait()
	}
	t.Logf("%d of %d tries saw Err before Done was closed", bad, tries)
	assert.Zero(t, bad)
}
