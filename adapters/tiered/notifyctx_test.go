package tiered_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/redisstore"
	"github.com/flightcache/flightcache/adapters/redisstore/redistest"
	"github.com/flightcache/flightcache/adapters/tiered"
)

// endsAfterWrite is a shared tier whose writes end the caller's context as
// soon as they have landed: a caller whose deadline passes between the
// Redis write and the PUBLISH.
type endsAfterWrite struct {
	*redisstore.Store[string, string]
	cancel context.CancelFunc
}

func (s endsAfterWrite) Set(ctx context.Context, k string, e flightcache.Entry[string]) error {
	defer s.cancel()
	return s.Store.Set(ctx, k, e)
}

func (s endsAfterWrite) Delete(ctx context.Context, k string) error {
	defer s.cancel()
	return s.Store.Delete(ctx, k)
}

func (s endsAfterWrite) SetMany(ctx context.Context, m map[string]flightcache.Entry[string]) error {
	defer s.cancel()
	return s.Store.SetMany(ctx, m)
}

// TestANotificationDoesNotDependOnTheCallersContext is issue 23, input 5: a
// Set whose context ended between the Redis write and the PUBLISH returned
// context.Canceled; Redis held the new value, but the notification was
// queued until that instance's next successful Notify or quiet
// subscription, and another instance served the replaced value meanwhile
// (for the whole test while others kept publishing). A fleet-wide side
// effect of a write never depends on the caller's context once the write
// has landed; for Set, Delete and SetMany.
func TestANotificationDoesNotDependOnTheCallersContext(t *testing.T) {
	writes := map[string]func(ctx context.Context, s tiered.Store[string, string]) error{
		"Set": func(ctx context.Context, s tiered.Store[string, string]) error {
			return s.Set(ctx, "k", flightcache.Entry[string]{Value: "v2"})
		},
		"Delete": func(ctx context.Context, s tiered.Store[string, string]) error { return s.Delete(ctx, "k") },
		"SetMany": func(ctx context.Context, s tiered.Store[string, string]) error {
			return s.SetMany(ctx, map[string]flightcache.Entry[string]{"k": {Value: "v2"}})
		},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			c := redistest.Client(t)
			prefix := redistest.Prefix(t)
			// Long heartbeats: no quiet channel's PING sends the queue.
			o := redisstore.Options[string, string]{Timeout: timeout, Heartbeat: time.Minute}
			b := newMember(t, c, prefix, o)
			require.NoError(t, b.store.Set(context.Background(), "k", flightcache.Entry[string]{Value: "v1"}))
			require.Equal(t, "v1", b.serves("k"))

			aShared, err := redisstore.New[string, string](c, &redisstore.Options[string, string]{Prefix: prefix, Timeout: timeout, Heartbeat: time.Minute})
			require.NoError(t, err)
			t.Cleanup(func() { aShared.Close() })
			ctx, cancel := context.WithCancel(context.Background())
			a := tiered.NewWithNotifier[string, string](newLRU[string](t), endsAfterWrite{aShared, cancel}, aShared)
			t.Cleanup(func() { a.Close() })
			write(ctx, a) // its error, if any, is the caller's context's
			require.Eventually(t, func() bool { return b.serves("k") != "v1" }, 3*time.Second, 5*time.Millisecond,
				"B serves the value A replaced")
		})
	}
}
