package redisstore

// SetMaxPending changes how many failed notifications a Store keeps, for
// tests; it returns a function that restores it.
func SetMaxPending(n int) (restore func()) {
	old := maxPending
	maxPending = n
	return func() { maxPending = old }
}

// WriteScript is the Lua script of every write, for benchmarks.
var WriteScript = write
