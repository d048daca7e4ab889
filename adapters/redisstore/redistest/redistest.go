// Package redistest gives tests a real redis-server: the one named by
// REDIS_ADDR, or one it starts from PATH on a free loopback port. The tests
// of redisstore and tiered use it, and so may the tests of code built on
// them; tests never talk to a mock.
//
// It is a package of the redisstore module, not a module of its own, so that
// a program that requires redisstore or tiered pulls in no module that only
// their tests need.
package redistest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server that a test started and owns: it may stop and
// start it again to test failures.
type Server struct {
	Addr  string // Addr is the server's host:port, on the loopback interface.
	port  int
	dir   string
	extra []string // more redis-server arguments

	mu  sync.Mutex
	cmd *exec.Cmd
}

var (
	sharedOnce sync.Once
	sharedAddr string
	sharedErr  error
)

// Addr returns the address of a Redis that tests may share: REDIS_ADDR when
// set, or else a redis-server started from PATH for the whole test binary
// (it stops with the process). It skips the test, saying how to run it, when
// there is neither; under CI (CI=true) it fails instead.
func Addr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		return addr
	}
	sharedOnce.Do(func() {
		var s *Server
		s, sharedErr = startServer(os.TempDir())
		if sharedErr == nil {
			sharedAddr = s.Addr
		}
	})
	if sharedErr != nil {
		unavailable(t, sharedErr)
	}
	return sharedAddr
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("no Redis for this test (%v): set REDIS_ADDR to a disposable Redis, or put redis-server on PATH (Debian: apt-get install redis-server); ./test.sh does both", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Client returns a client of the shared Redis, closed when the test ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr(t)})
	t.Cleanup(func() { c.Close() })
	return c
}

// Prefix returns a key prefix no other test or process uses.
func Prefix(t testing.TB) string {
	var b [6]byte
	rand.Read(b[:])
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return "fctest:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

// Start starts a redis-server of the test's own from PATH on a free loopback
// port, with persistence off, and stops it when the test ends. It skips (or,
// under CI, fails) when there is no redis-server.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := startServer(t.TempDir())
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(s.Stop)
	return s
}

func startServer(dir string, extra ...string) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), port: port, dir: dir, extra: extra}
	return s, s.Restart()
}

// Restart starts the server again after Stop, on the same port, empty.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command("redis-server", append([]string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", s.port))}, s.extra...)...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	// Wait for it to answer, without a goroutine of ours that could outlive
	// the test.
	deadline := time.Now().Add(10 * time.Second)
	for !answers(s.Addr) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("redis-server on port %d did not answer within 10s", s.port)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd = cmd
	return nil
}

// answers reports whether the Redis (or Sentinel) at addr answers a PING.
func answers(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprint(conn, "PING\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.HasPrefix(line, "+PONG")
}

// Stop kills the server, as a crash or a network cut would look to clients.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Client returns a client of s, closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	return c
}

// Ping reports whether the Redis at addr answers.
func Ping(ctx context.Context, c redis.UniversalClient) error {
	return c.Ping(ctx).Err()
}
