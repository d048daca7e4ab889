package flightcache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The context.Context contract: "If Done is not yet closed, Err returns
// nil." A reader that sees an error from fillCtx.Err while fillCtx.end runs
// finds Done closed, as with the context package's cancelCtx, whose Err
// waits for Done before it returns one.
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
