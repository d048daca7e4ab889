package ristrettostore

// Gate exposes the gate to the tests of package ristrettostore_test.
type Gate = gate

func (g *gate) Enter() *counter  { return g.enter() }
func (g *gate) Leave(c *counter) { g.leave(c) }
func (g *gate) Close() bool      { return g.close() }

// Counters returns how many counters g has made.
func (g *gate) Counters() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.counters)
}

// MaxCounters is the bound on Counters.
var MaxCounters = maxCounters
