package redistest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A Topology is one way of deploying Redis that go-redis supports, with a
// way to make a client of it for a test.
type Topology struct {
	// Name is "single", "ring", "cluster" or "sentinel", and names the
	// subtest.
	Name string
	// Env is the variable that points the tests at it.
	Env string
	// Client returns a client of the topology, closed when the test ends,
	// or skips the test when Env is unset ("single" starts a server of its
	// own instead).
	Client func(t testing.TB) redis.UniversalClient
}

// Topologies lists the topologies tests run on: a single node (REDIS_ADDR,
// or a redis-server started from PATH), a redis.Ring over the
// comma-separated servers of REDIS_RING_ADDRS, and a Redis Cluster reached
// through the comma-separated seed nodes of REDIS_CLUSTER_ADDRS, and the
// master that the Sentinels of REDIS_SENTINEL_ADDRS name
// REDIS_SENTINEL_MASTER ("flightcache" when unset), through a failover
// client. .ci/redis-topologies.sh starts all four and sets the variables.
func Topologies() []Topology {
	return []Topology{
		{Name: "single", Env: "REDIS_ADDR", Client: func(t testing.TB) redis.UniversalClient { return Client(t) }},
		{Name: "ring", Env: "REDIS_RING_ADDRS", Client: ringClient},
		{Name: "cluster", Env: "REDIS_CLUSTER_ADDRS", Client: clusterClient},
		{Name: "sentinel", Env: "REDIS_SENTINEL_ADDRS", Client: sentinelClient},
	}
}

// ForEach runs f as a subtest of t on every topology in Topologies.
func ForEach(t *testing.T, f func(t *testing.T, c redis.UniversalClient)) {
	t.Helper()
	for _, top := range Topologies() {
		t.Run(top.Name, func(t *testing.T) { f(t, top.Client(t)) })
	}
}

func addrs(t testing.TB, env string) []string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("%s is unset: .ci/redis-topologies.sh starts this topology and sets it", env)
	}
	return strings.Split(v, ",")
}

func ringClient(t testing.TB) redis.UniversalClient {
	shards := map[string]string{}
	for i, a := range addrs(t, "REDIS_RING_ADDRS") {
		shards[fmt.Sprintf("shard%d", i)] = a
	}
	c := redis.NewRing(&redis.RingOptions{Addrs: shards})
	t.Cleanup(func() { c.Close() })
	return c
}

func clusterClient(t testing.TB) redis.UniversalClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs(t, "REDIS_CLUSTER_ADDRS")})
	t.Cleanup(func() { c.Close() })
	return c
}

func sentinelClient(t testing.TB) redis.UniversalClient {
	master := os.Getenv("REDIS_SENTINEL_MASTER")
	if master == "" {
		master = "flightcache"
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: addrs(t, "REDIS_SENTINEL_ADDRS")})
	t.Cleanup(func() { c.Close() })
	return c
}
