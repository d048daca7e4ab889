// Package storetest checks that an implementation of flightcache.Store keeps
// the contract the Loader relies on. It plays the part for Stores that
// testing/slogtest plays for slog handlers: a Store's own tests call Run, and
// Run reports each behaviour that the Store gets wrong as a failed subtest
// named after that behaviour.
//
// The suite checks what every Store must do whatever it is built on: a Get
// returns exactly the Entry that the last Set stored, every field of it
// (StaleUntil included, and zero Deadlines, never, kept zero); a Delete removes it; a Set whose ExpiresAt has already passed is never read
// back and never leaves the Entry it replaced behind; a Get that follows a Set
// sees that Set, even in a Store that applies writes asynchronously; a
// cancelled context is either honoured with an error or ignored; and Entries
// read by many goroutines at once are never torn or crossed between keys.
//
// It also checks the optional capabilities a Store has, found by type
// assertion as the Loader finds them: a flightcache.BatchStore's GetMany
// returns for each key what Get returns and SetMany stores each Entry as Set
// does; a flightcache.Leaser's lease is exclusive per key, independent
// across keys, and waits no longer than its context allows. Each failed
// check ends by quoting the rule it enforces.
//
// It does not check eviction, capacity or time to live, which differ from
// Store to Store; test those in the Store's own package.
//
// Package storetest reports through the standard testing package alone, so a
// Store's tests do not inherit an assertion library by running it.
package storetest
