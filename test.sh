#!/usr/bin/env bash
# The README's test command: everything the tests need, then the tests.
set -euo pipefail
cd "$(dirname "$0")"
go test -race -count=1 ./...
# The stress test is meant to be repeated.
go test -race -run 'TestStress' -count=20 ./singleflight/
