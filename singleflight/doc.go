// Package singleflight suppresses duplicate calls: while a function is
// running for a key, callers asking for the same key wait for that run and
// share its result instead of starting their own.
//
// It is a typed, context-aware take on golang.org/x/sync/singleflight. Each
// caller can stop waiting when its own context ends while the call goes on
// for the others; the function runs on a goroutine of the Group's, detached
// from the callers' cancellation; and a panic in the function reaches the
// callers as a *PanicError instead of crashing the process.
//
// The package does no caching: once a call returns, the next call for its key
// runs the function again. Package flightcache builds a cache loader on it.
package singleflight
