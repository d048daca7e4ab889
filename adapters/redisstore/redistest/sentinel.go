package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a Sentinel deployment of a test's own: a master, its
// replica, and one Sentinel (quorum 1) that fails over to the replica about
// a second after the master stops answering.
type Sentinel struct {
	Master, Replica *Server
	// Addr is the Sentinel's address, MasterName the name it knows the
	// master by.
	Addr, MasterName string
}

// StartSentinel starts a Sentinel deployment from PATH on free loopback
// ports and stops it when the test ends. It skips (or, under CI, fails)
// when there is no redis-server.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	master := Start(t)
	replica, err := startServer(t.TempDir(), "--replicaof", "127.0.0.1", fmt.Sprint(master.port))
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(replica.Stop)

	// The Sentinel itself: a redis-server in sentinel mode, which needs a
	// configuration file it may rewrite.
	probe, err := startServer(t.TempDir()) // only to pick a free port the same way
	if err != nil {
		unavailable(t, err)
	}
	probe.Stop()
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	const name = "flightcache-test"
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
		"sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\n",
		probe.port, dir, filepath.Join(dir, "sentinel.log"), name, master.port, name, name)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := &Sentinel{Master: master, Replica: replica, Addr: probe.Addr, MasterName: name}
	// Ready once the Sentinel knows the replica, and the replica has synced:
	// only then can it fail over.
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	defer sc.Close()
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer rc.Close()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		replicas, _ := sc.Replicas(ctx, name).Result()
		info, _ := rc.Info(ctx, "replication").Result()
		if len(replicas) > 0 && strings.Contains(info, "master_link_status:up") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Sentinel on %s did not see a synced replica within 20s", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
