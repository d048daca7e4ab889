package ristrettostore

// Gate exposes the gate to the tests of package ristrettostore_test.
type Gate = gate

func (g *gate) Enter() *stripe  { return g.enter() }
func (g *gate) Leave(s *stripe) { g.leave(s) }
func (g *gate) Close() bool     { return g.close() }

// StripeOf is the stripe the calling goroutine enters a gate on.
func StripeOf() int { return stripeOf() }

// GateStripes is the number of stripes of a gate.
const GateStripes = gateStripes
