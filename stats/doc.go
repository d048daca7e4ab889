// Package stats counts what a [github.com/flightcache/flightcache.Loader]
// does: hits, misses, loads, callers coalesced onto one load, stale serves,
// refreshes and failures, and how long loads take.
//
// A Loader reports events to the [Recorder] in its Options.Recorder.
// [Counter] is a ready Recorder whose counters only ever increase and stay
// cheap when several cores record at once; it also sorts load latencies into
// the fixed buckets of [LoadBucketBounds]. Exporters to Prometheus or
// OpenTelemetry read its [Counter.Snapshot]: every count in [Stats] maps to a
// counter, and [Stats.LoadBuckets], [Stats.LoadTime] and [Stats.Loads] to a
// histogram. [Stats.Sub] gives what happened between two snapshots. A Loader
// with no Recorder pays nothing for statistics.
package stats
