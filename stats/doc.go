// Package stats counts what a flightcache.Loader does: hits, misses, loads,
// callers coalesced onto one load, stale serves, refreshes and failures.
//
// A Loader reports events to a Recorder. Counter is a ready Recorder whose
// counters only ever increase and stay cheap when several cores record at
// once; exporters to Prometheus or OpenTelemetry read its Snapshot. A Loader
// with no Recorder pays nothing for statistics.
package stats
