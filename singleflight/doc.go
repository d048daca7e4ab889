// Package singleflight suppresses duplicate calls: while a function is
// running for a key, callers asking for the same key wait for that run and
// share its result instead of starting their own.
//
// It is a typed, context-aware take on golang.org/x/sync/singleflight. Each
// caller can stop waiting when its own context ends while the call goes on
// for the others, and a panic in the function reaches the callers as a
// [*PanicError] instead of crashing the process.
//
// Where the function runs depends on the caller that starts the call. When
// that caller's context can never end (its Done method returns nil, as for
// context.Background() and context.WithoutCancel), [Group.Do] runs the
// function on the caller's own goroutine, as x/sync does: nothing could make
// that caller leave early, so a hand-off would buy nothing. Otherwise, and
// always for [Group.DoChan], the function runs on a new goroutine with a
// context that keeps the caller's values but not its deadline or
// cancellation, so that it runs to completion whoever leaves. Either way,
// callers that join the call may leave when their own contexts end.
//
// A key Go cannot hash (an interface value holding a slice, map or func) is
// an error wrapping [ErrUnhashableKey] from every entry point, never a
// panic; a key that does not equal itself (a NaN) runs the function for its
// caller alone and leaves nothing behind.
//
// The package does no caching: once a call returns, the next call for its key
// runs the function again. Package flightcache builds a cache loader on it.
package singleflight
