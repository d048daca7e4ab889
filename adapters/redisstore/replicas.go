package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Waiting for replicas (issue 23, input 8).
//
// Redis replicates asynchronously: a write the master acknowledged may be
// missing from the replica a Sentinel promotes, and with it the key's new
// version, so a failover can undo a Set and the fence it set. With
// Options.WaitReplicas, every write (Set, Delete, SetMany and the fenced
// writes of fills) is followed, in the same pipeline on the same
// connection, by WAIT: the call returns only once that many replicas
// acknowledged it, or fails with ErrNotReplicated. A failover that
// promotes one of those replicas keeps the write. It narrows the window
// without closing it: Sentinel may still promote a replica that had not
// acknowledged (one that was not among those counted), and a replica
// without persistence that restarts forgets. WAIT is a command of one
// connection, so the option needs a *redis.Client (a single node with
// replicas, or a Sentinel failover client); New refuses it over a Ring or
// a Cluster, whose pipelines spread a batch's writes over several
// connections.

// ErrNotReplicated is wrapped by the error of a write that Redis made but
// fewer than Options.WaitReplicas replicas acknowledged within
// Options.Timeout: the master has it, and a failover may lose it.
var ErrNotReplicated = errors.New("redisstore: fewer replicas than Options.WaitReplicas acknowledged the write in time")

// checkWaitReplicas returns an error when n replicas cannot be waited for
// over c.
func checkWaitReplicas(c redis.UniversalClient, n int) error {
	switch {
	case n < 0:
		return fmt.Errorf("redisstore: Options.WaitReplicas is negative (%d)", n)
	case n == 0:
		return nil
	}
	if _, ok := c.(*redis.Client); !ok {
		return fmt.Errorf("redisstore: Options.WaitReplicas needs a *redis.Client (a single node or a Sentinel failover client), not a %T", c)
	}
	return nil
}

// waitReplicated queues WAIT on p when the Store waits for replicas, for
// most of the time left before ctx's deadline (so that its answer comes
// back in time); it returns nil when it does not wait.
func (s *Store[K, V]) waitReplicated(ctx context.Context, p redis.Pipeliner) *redis.Cmd {
	if s.waitReplicas == 0 {
		return nil
	}
	d := s.timeout
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	return p.Do(ctx, "WAIT", s.waitReplicas, max(d*3/4, time.Millisecond).Milliseconds())
}

// replicated returns the error of a WAIT queued by waitReplicated (nil for
// none).
func (s *Store[K, V]) replicated(c *redis.Cmd) error {
	if c == nil {
		return nil
	}
	n, err := c.Int64()
	if err != nil {
		return err
	}
	if n < int64(s.waitReplicas) {
		return fmt.Errorf("%w (%d of %d)", ErrNotReplicated, n, s.waitReplicas)
	}
	return nil
}
