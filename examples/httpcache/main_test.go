package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// want is what the program prints; the README shows it too. Its /page
// lines (a conditional GET answered 304 at the second read, then fresh
// reads) need the root package's EntryPolicy.KeepFor: until the Loader
// keeps an entry past its windows for Previous, /page is 10 loaded reads
// with no 304, and TestOutput fails there.
const want = `10 reads of each path, straight to the upstream and through a flightcache.Loader:

                                                   upstream requests
path        Cache-Control                           without  with  (304)  reads through the Loader
/static     max-age=3600                                 10     1    (0)  1 loaded, 9 fresh
/live       max-age=0, stale-while-revalidate=60         10    10    (8)  1 loaded, 9 stale
/page       max-age=60, Age: 60                          10     2    (1)  2 loaded, 8 fresh
/private    no-store                                     10    10    (0)  10 loaded
/missing    404, max-age=60                              10     1    (0)  1 loaded, 9 fresh
/dashboard  max-age=60, to Authorization                 10    10    (0)  10 loaded

/live, read by read: each stale read is served at once and revalidated in the
background (the upstream's version changes before read 6):
  read  1: loaded  "live v1"  then the upstream answered 200
  read  2: stale   "live v1"  then the upstream answered 304
  read  3: stale   "live v1"  then the upstream answered 304
  read  4: stale   "live v1"  then the upstream answered 304
  read  5: stale   "live v1"  then the upstream answered 304
  read  6: stale   "live v1"  then the upstream answered 200
  read  7: stale   "live v2"  then the upstream answered 304
  read  8: stale   "live v2"  then the upstream answered 304
  read  9: stale   "live v2"  then the upstream answered 304
  read 10: stale   "live v2"  then the upstream answered 304

/page, first reads: past its max-age on arrival and with no stale window, it is
kept for its ETag (KeepFor); the next read revalidates it, and the 304, without
Cache-Control, makes it fresh for its max-age again (httppolicy.NotModified):
  read  1: loaded  "page v1"  then the upstream answered 200
  read  2: loaded  "page v1"  then the upstream answered 304
  read  3: fresh   "page v1"  then the upstream answered 304

/dashboard, read by users a and b in turn under one key: an answer to a request
with Authorization is its caller's only (EntryPolicy.Private); reads given
another user's dashboard: 0.

Loader.Refresh of /static: a conditional GET, answered 304 (1 so far); the next read is fresh: "static v1".
`

// TestOutput runs the program and compares what it prints, so that a change
// in how the Loader serves an HTTP upstream shows up here.
func TestOutput(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out, 10))
	assert.Equal(t, want, out.String())
}

// TestREADMEShowsTheOutput keeps the README's copy of the output true.
func TestREADMEShowsTheOutput(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	assert.Contains(t, string(readme), "```\n"+want+"```\n", "README.md's output of go run ./examples/httpcache")
}
