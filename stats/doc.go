// Package stats counts what a flightcache.Loader does: hits, misses, loads,
// callers coalesced onto one load, stale serves, refreshes and failures, and
// how long loads take.
//
// A Loader reports events to a Recorder. Counter is a ready Recorder whose
// counters only ever increase and stay cheap when several cores record at
// once; it also sorts load latencies into the fixed buckets of
// LoadBucketBounds. Exporters to Prometheus or OpenTelemetry read its
// Snapshot: every count in Stats maps to a counter, and LoadBuckets,
// LoadTime and Loads to a histogram. A Loader with no Recorder pays nothing
// for statistics.
package stats
