package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/internal/keys"
)

// Store is a flightcache.Store, BatchStore, Leaser, BatchFencer and
// InvalidationLog over a Redis client the caller owns: a Store never
// closes it (its Close only waits for its own goroutines). It is safe for
// concurrent use.
//
// Every call returns within the caller's context and Options.Timeout, plus
// the scheduling delay of one goroutine, whatever timeouts the client was
// built with (see [ErrTimeout]); after repeated failures, at once (see
// [ErrUnavailable]). A Store errors when Redis does; the Loader treats
// those errors as misses and counts them.
type Store[K comparable, V any] struct {
	client    redis.UniversalClient
	prefix    string
	escPrefix string // the prefix as it begins every Redis key (see keys.go)
	key       func(K) string
	parseKey  func(string) (K, error)
	codec     Codec[V]
	fp        fingerprint // of V's shape, stored beside each value
	keyKind   keys.Kind   // what K can hold, for hashable
	timeout   time.Duration
	leaseTTL  time.Duration
	maxBytes  int // < 0: no bound
	// skew is how far Redis's clock is ahead of this instance's, at
	// least, in microseconds (see late.go).
	skew      atomic.Int64
	heartbeat time.Duration
	// waitReplicas is Options.WaitReplicas (replicas.go).
	waitReplicas int
	logger       *slog.Logger
	// id tells this Store's messages and lease tokens from those of other
	// instances.
	id string

	// direct is true when the client ends calls at their context's deadline
	// by itself, so that no call needs a goroutine of its own (call.go).
	direct bool
	// calls counts the calls to Redis still running, some of them left
	// behind by callers whose Timeout passed; Close waits for them.
	calls   sync.WaitGroup
	closeMu sync.RWMutex // orders calls.Add before Close's Wait
	closed  bool

	// The circuit breaker (see breaker.go); nil when off.
	breaker     *gobreaker.TwoStepCircuitBreaker[struct{}]
	openFor     time.Duration
	fenceTTL    time.Duration
	unavailable atomic.Uint64

	// Lease waiters by key string, woken by release messages (lease.go).
	waitMu  sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
	// closing is closed by Close, to stop lease keep-alives.
	closing   chan struct{}
	closeOnce sync.Once

	// Keys whose notification failed, to send again (see Notify).
	pendingMu    sync.Mutex
	pending      map[string]struct{}
	pendingReset bool
	retrying     bool // retryPending runs
	notifyRetry  time.Duration
	sentLog      limiter // of "sent notifications that had failed"

	// Invalidations recorded whose message failed, by hash field, to
	// send again (see invallog.go), or a request that every instance
	// replay the log instead.
	pendingInv    map[string]pendingInvalidation
	pendingReplay bool

	// clockSkew is Options.ClockSkew (invallog.go).
	clockSkew time.Duration
	// maxLogTags is Options.MaxLogTags, as the recording script takes
	// it (invallog.go).
	maxLogTags string
	// w is the watchers of invalidations (watch.go).
	w watching

	decodeErrors atomic.Uint64
	warnLog      limiter
}

var (
	_ flightcache.BatchFencer[string, int] = (*Store[string, int])(nil)
	_ flightcache.BatchStore[string, int]  = (*Store[string, int])(nil)
	_ flightcache.Leaser[string, int]      = (*Store[string, int])(nil)
	_ flightcache.BatchLeaser[string, int] = (*Store[string, int])(nil)
	_ flightcache.InvalidationLog          = (*Store[string, int])(nil)
)

// New returns a Store over client. It returns an error when client is nil,
// an option is out of range, or K is neither a string nor an integer kind
// and Options.Key is nil.
func New[K comparable, V any](client redis.UniversalClient, opts *Options[K, V]) (*Store[K, V], error) {
	if client == nil || reflect.ValueOf(client).IsNil() {
		return nil, errors.New("redisstore: nil client")
	}
	var o Options[K, V]
	if opts != nil {
		o = *opts
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := checkClient(client); err != nil {
		return nil, err
	}
	if err := checkWaitReplicas(client, o.WaitReplicas); err != nil {
		return nil, err
	}
	s := &Store[K, V]{
		closing: make(chan struct{}),
		client:  client, prefix: o.Prefix, key: o.Key, parseKey: o.ParseKey, codec: o.Codec,
		timeout: o.Timeout, leaseTTL: o.LeaseTTL, logger: o.Logger, keyKind: keys.Of[K](),
	}
	format, parse, builtin := builtinKey[K]()
	if s.key == nil {
		if !builtin {
			return nil, fmt.Errorf("redisstore: key type %v needs Options.Key", reflect.TypeFor[K]())
		}
		s.key = format
		if s.parseKey == nil {
			s.parseKey = parse
		}
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	s.escPrefix = escape(s.prefix)
	if s.codec == nil {
		s.codec = JSON[V]{}
	}
	s.fp = codecFingerprint(s.codec)
	s.direct = honoursContext(client)
	s.fenceTTL = orDefault(o.FenceTTL, DefaultFenceTTL)
	s.notifyRetry = notifyRetry
	s.waitReplicas = o.WaitReplicas
	s.heartbeat = orDefault(o.Heartbeat, DefaultHeartbeat)
	s.maxBytes = orDefault(o.MaxEntryBytes, DefaultMaxEntryBytes)
	s.clockSkew = max(orDefault(o.ClockSkew, DefaultClockSkew), 0)
	s.maxLogTags = strconv.Itoa(orDefault(o.MaxLogTags, DefaultMaxLogTags))
	s.openFor = orDefault(o.OpenFor, DefaultOpenFor)
	s.timeout = orDefault(s.timeout, DefaultTimeout)
	s.leaseTTL = orDefault(s.leaseTTL, DefaultLeaseTTL)
	if s.logger == nil {
		s.logger = slog.Default()
	}
	var b [8]byte
	rand.Read(b[:])
	s.id = hex.EncodeToString(b[:])
	switch {
	case o.TripAfter == 0:
		s.breaker = s.newBreaker(DefaultTripAfter)
	case o.TripAfter > 0:
		s.breaker = s.newBreaker(o.TripAfter)
	}
	return s, nil
}

// validate returns an error naming the first duration of o that is
// negative, or MaxLogTags when it is.
func (o *Options[K, V]) validate() error {
	if o.MaxLogTags < 0 {
		return fmt.Errorf("redisstore: Options.MaxLogTags is negative (%d)", o.MaxLogTags)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Timeout", o.Timeout}, {"LeaseTTL", o.LeaseTTL}, {"FenceTTL", o.FenceTTL},
		{"Heartbeat", o.Heartbeat}, {"OpenFor", o.OpenFor},
	} {
		if d.v < 0 {
			return fmt.Errorf("redisstore: Options.%s is negative (%v)", d.name, d.v)
		}
	}
	return nil
}

// orDefault returns v, or def when v is the zero value (an option left
// unset).
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (s *Store[K, V]) redisKey(key K) string { return redisKeyOf(s.escPrefix, s.key(key), kindEntry) }

// RedisKey returns the Redis key that holds key's entry, for operators and
// tests; see the package documentation for the layout.
func (s *Store[K, V]) RedisKey(key K) string { return s.redisKey(key) }

// LeaseKey returns the Redis key that holds key's lease while an instance
// loads it. It shares key's Redis Cluster hash slot.
func (s *Store[K, V]) LeaseKey(key K) string { return redisKeyOf(s.escPrefix, s.key(key), kindLease) }

// Close makes every later call return flightcache.ErrClosed and waits for
// the calls to Redis that callers left behind when their Timeout passed:
// they end when the client gives up on them (at once when it was built
// with ContextTimeoutEnabled, else within its ReadTimeout and
// WriteTimeout). It stops the watching of invalidations (see
// WatchInvalidations) and the sending again of failed messages. It leaves
// the client open. It is safe to call more than once and from several
// goroutines.
func (s *Store[K, V]) Close() error {
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	s.closeOnce.Do(func() { close(s.closing) })
	s.stopWatching()
	s.calls.Wait()
	return nil
}

// DecodeErrors reports how many reads found a stored value that could not be
// decoded and treated it as a miss, those written for a value type of
// another shape (see [TypeFingerprint]) included. It counts reads, not
// entries: a Loader's miss reads a key more than once (its caller's read,
// the fill's second look, the read after a lease), and each read of the
// same undecodable value counts.
func (s *Store[K, V]) DecodeErrors() uint64 { return s.decodeErrors.Load() }

// decode turns the bytes of key into an entry; bytes that do not decode are
// a miss, counted and logged.
func (s *Store[K, V]) decode(key string, b []byte) (flightcache.Entry[V], bool) {
	var (
		e   flightcache.Entry[V]
		err error
	)
	if s.maxBytes >= 0 && len(b) > s.maxBytes {
		err = fmt.Errorf("%w (%d bytes, at most %d)", ErrTooLarge, len(b), s.maxBytes)
	} else {
		e, err = decodeEntry(s.codec, s.fp, b)
	}
	if err != nil {
		s.decodeErrors.Add(1)
		msg := "redisstore: undecodable entry treated as a miss"
		switch {
		case errors.Is(err, errOtherType):
			msg = "redisstore: entry written for another value type treated as a miss"
		case errors.Is(err, ErrTooLarge):
			msg = "redisstore: entry longer than Options.MaxEntryBytes treated as a miss, not decoded"
		}
		s.logf(msg, slog.String("key", key), slog.Any("err", err))
		return flightcache.Entry[V]{}, false
	}
	return e, true
}

// logf logs a warning at most once a second, so that a flood of bad
// entries cannot flood the log.
func (s *Store[K, V]) logf(msg string, attrs ...slog.Attr) {
	s.warnLog.log(s.logger, slog.LevelWarn, msg, attrs...)
}

// limiter lets one line a second through to a log.
type limiter struct {
	mu   sync.Mutex
	last time.Time
}

func (l *limiter) log(logger *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < time.Second {
		l.mu.Unlock()
		return
	}
	l.last = now
	l.mu.Unlock()
	logger.LogAttrs(context.Background(), level, msg, attrs...)
}

// Get returns the entry stored for key; a miss while a watcher of
// invalidations waits for the log to be replayed (see Replaying).
func (s *Store[K, V]) Get(ctx context.Context, key K) (flightcache.Entry[V], bool, error) {
	if s.blind() {
		return flightcache.Entry[V]{}, false, nil
	}
	k := s.redisKey(key)
	b, err := run(s, ctx, func(ctx context.Context) ([]byte, error) {
		return s.client.Get(ctx, k).Bytes()
	})
	if err != nil {
		return flightcache.Entry[V]{}, false, fmt.Errorf("redisstore: get %q: %w", k, err)
	}
	if b == nil {
		return flightcache.Entry[V]{}, false, nil
	}
	e, ok := s.decode(k, b)
	return e, ok, nil
}

// ttl is how long Redis keeps e: until ExpiresAt, rounded up to the next
// millisecond, or forever (0). ok is false when ExpiresAt has passed.
func ttl[V any](e flightcache.Entry[V]) (d time.Duration, ok bool) {
	if e.ExpiresAt.IsZero() {
		return 0, true
	}
	d = time.Until(e.ExpiresAt.Time()) // saturates at the longest Duration
	if d <= 0 {
		return 0, false
	}
	if d > math.MaxInt64-time.Millisecond {
		return d.Truncate(time.Millisecond), true // rounding up would wrap
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond), true
}

// Set stores e under key with ExpiresAt as its Redis TTL, and gives key a
// new version (see flightcache.Fencer), in one Lua script. An entry whose
// ExpiresAt has passed deletes key instead. When it returns an error, the
// write was made or not, but it never lands later (see [ErrLate]): a write
// that follows wins over it. An error wrapping ErrTooLarge or
// ErrNotReplicated says more (nothing written; written on the master only).
func (s *Store[K, V]) Set(ctx context.Context, key K, e flightcache.Entry[V]) error {
	keys, args, err := s.writeArgs(key, e, anyVersion)
	if err != nil {
		return err
	}
	if _, err := s.runWrite(ctx, keys, args); err != nil {
		return fmt.Errorf("redisstore: set %q: %w", keys[0], err)
	}
	return nil
}

// Delete removes key and gives it a new version, kept for Options.FenceTTL
// as a tombstone, so that fills in flight cannot write (see
// flightcache.Fencer). An error means what it means for Set.
func (s *Store[K, V]) Delete(ctx context.Context, key K) error {
	keys, args := s.deleteArgs(key)
	if _, err := s.runWrite(ctx, keys, args); err != nil {
		return fmt.Errorf("redisstore: delete %q: %w", keys[0], err)
	}
	return nil
}

// GetMany returns the entries stored for keys in one round trip per Redis
// node: MGET on a *redis.Client (a single node, or Sentinel's current
// master), where every key lives on the one server; on every other client
// (a Ring, a Cluster, a wrapper) a pipeline of GETs, which the client
// routes key by key to the shard or node that holds it. It finds nothing
// while a watcher of invalidations waits for the log to be replayed (see
// Replaying).
func (s *Store[K, V]) GetMany(ctx context.Context, keys []K) (map[K]flightcache.Entry[V], error) {
	if err := s.hashable(keys); err != nil {
		return nil, err
	}
	out := make(map[K]flightcache.Entry[V], len(keys))
	if len(keys) == 0 || s.blind() {
		return out, nil
	}
	rkeys := make([]string, len(keys))
	for i, k := range keys {
		rkeys[i] = s.redisKey(k)
	}
	raw, err := run(s, ctx, func(ctx context.Context) ([]any, error) {
		if _, single := s.client.(*redis.Client); single {
			return s.client.MGet(ctx, rkeys...).Result()
		}
		cmds := make([]*redis.StringCmd, len(rkeys))
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range rkeys {
				cmds[i] = p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		raw := make([]any, len(cmds))
		for i, c := range cmds {
			if v, err := c.Result(); err == nil {
				raw[i] = v
			}
		}
		return raw, nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: get %d keys: %w", len(keys), err)
	}
	for i, v := range raw {
		str, ok := v.(string)
		if !ok {
			continue
		}
		if e, ok := s.decode(rkeys[i], []byte(str)); ok {
			out[keys[i]] = e
		}
	}
	return out, nil
}

// SetMany stores entries in one pipelined round trip per Redis node, as Set
// does for each; the client routes each write to the node that holds its
// key.
func (s *Store[K, V]) SetMany(ctx context.Context, entries map[K]flightcache.Entry[V]) error {
	type op struct {
		keys []string
		args []any
	}
	ops := make([]op, 0, len(entries))
	for k, e := range entries {
		keys, args, err := s.writeArgs(k, e, anyVersion)
		if err != nil {
			return err
		}
		ops = append(ops, op{keys, args})
	}
	if _, err := s.pipelineWrites(ctx, len(ops), func(i int) ([]string, []any) { return ops[i].keys, ops[i].args }); err != nil {
		return fmt.Errorf("redisstore: set %d keys: %w", len(entries), err)
	}
	return nil
}

// hashable returns an error wrapping singleflight.ErrUnhashableKey when one
// of ks is a key Go cannot hash, which would panic in the map a batch read
// returns. Key types that cannot hold an interface cost nothing.
func (s *Store[K, V]) hashable(ks []K) error {
	if s.keyKind != keys.Iface {
		return nil
	}
	for _, k := range ks {
		if err := keys.Hashable("redisstore", k); err != nil {
			return err
		}
	}
	return nil
}
