package redistest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on loopback between a test's clients and a Redis,
// which injects the faults a network causes that a stopped or paused
// server cannot show:
//
//   - Hold keeps what clients send from reaching Redis until Release, as a
//     congested link or a slow sender does: a command a client gave up on
//     then lands late.
//   - Blackhole turns every open connection half-open, as a NAT or a proxy
//     that drops a flow does: the Redis side is closed, while the client
//     side stays open, its writes swallowed and nothing ever answered, so
//     the client sees no FIN and no RST. Connections made afterwards work.
//
// Its methods are safe for concurrent use.
type Proxy struct {
	// Addr is where clients connect.
	Addr   string
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond
	holding bool
	closed  bool
	pairs   map[*pipe]struct{}
}

// pipe is one client's connection and the proxy's to Redis for it.
type pipe struct {
	client, server net.Conn
	dead           bool // blackholed: the client's writes are swallowed
}

// StartProxy starts a Proxy to the Redis at target, closed when the test
// ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, pairs: map[*pipe]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pp := &pipe{client: c, server: s}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.pairs[pp] = struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.up(pp)
		go p.down(pp)
	}
}

// up copies what the client sends to Redis, waiting while the proxy holds.
func (p *Proxy) up(pp *pipe) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := pp.client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.holding && !p.closed {
				p.cond.Wait()
			}
			dead := pp.dead
			p.mu.Unlock()
			if !dead {
				if _, werr := pp.server.Write(buf[:n]); werr != nil && !p.isDead(pp) {
					p.drop(pp)
					return
				}
			}
		}
		if err != nil {
			if tc, ok := pp.server.(*net.TCPConn); ok && !p.isDead(pp) {
				tc.CloseWrite() // Redis reads what was sent, then the end
			}
			if !p.isDead(pp) && err != io.EOF {
				p.drop(pp)
			}
			return
		}
	}
}

// down copies what Redis answers to the client, unless the pipe is dead.
func (p *Proxy) down(pp *pipe) {
	defer p.wg.Done()
	_, _ = io.Copy(pp.client, pp.server)
	if !p.isDead(pp) {
		p.drop(pp)
	}
}

func (p *Proxy) isDead(pp *pipe) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pp.dead
}

// drop closes both sides of a pipe.
func (p *Proxy) drop(pp *pipe) {
	pp.client.Close()
	pp.server.Close()
	p.mu.Lock()
	delete(p.pairs, pp)
	p.mu.Unlock()
}

// Hold keeps every byte clients send from reaching Redis until Release.
func (p *Proxy) Hold() {
	p.mu.Lock()
	p.holding = true
	p.mu.Unlock()
}

// Release sends on what Hold kept back, and lets what follows through.
func (p *Proxy) Release() {
	p.mu.Lock()
	p.holding = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Blackhole makes every open connection half-open: its Redis side is
// closed, its client side stays open, and what the client sends is read
// and dropped with no answer, for as long as the client keeps it.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pp := range p.pairs {
		pp.dead = true
		pp.server.Close()
	}
}

// Close closes the listener and every connection, and waits for the
// proxy's goroutines. It is safe to call more than once.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.ln.Close()
	for pp := range p.pairs {
		pp.client.Close()
		pp.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
