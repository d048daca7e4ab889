#!/usr/bin/env bash
# The README's test command: everything the tests need, then the tests.
#
# The Redis tests talk to a real redis-server. This script installs Debian's
# redis-server when it is missing, starts one on a free loopback port with
# persistence off, points the tests at it with REDIS_ADDR, and stops it at
# the end. With REDIS_ADDR already set, it uses that Redis instead. In the
# same way, when PostgreSQL is installed, it starts one for the tests of
# examples/service (POSTGRES_DSN), which skip them without it.
# ./test.sh --deps only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v redis-server >/dev/null 2>&1 && [ -z "${REDIS_ADDR:-}" ]; then
	echo "== installing redis-server"
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
[ "${1:-}" = "--deps" ] && exit 0

if [ -z "${REDIS_ADDR:-}" ]; then
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 6399)
	dir=$(mktemp -d)
	redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
	stop_redis() {
		# Wait for the server to be gone before removing its directory:
		# it writes its log as it shuts down, and a removal racing that
		# write fails (and, under set -e, fails the run).
		local pid
		pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
		if [ -n "$pid" ]; then
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.05
			done
		fi
		rm -rf "$dir" || true
	}
	trap stop_redis EXIT
	for _ in $(seq 100); do
		redis-cli -p "$port" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	export REDIS_ADDR="127.0.0.1:$port"
	echo "== redis-server on $REDIS_ADDR"
fi

# examples/service runs on PostgreSQL too (-dsn): when PostgreSQL is
# installed (Debian's postgresql package) and POSTGRES_DSN is unset, start a
# throwaway server on a free loopback port, as for Redis, and point its tests
# at it; without one they skip.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "${POSTGRES_DSN:-}" ] && [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ]; then
	pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	pg_dir=$(mktemp -d)
	pg_as=""
	if [ "$(id -u)" -eq 0 ]; then
		# PostgreSQL refuses to run as root.
		chown postgres "$pg_dir"
		pg_as="runuser -u postgres --"
	fi
	$pg_as "$pg_bin/initdb" -D "$pg_dir/data" -U flightcache --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1
	$pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
	stop_postgres() {
		$pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$pg_dir" || true
	}
	if declare -F stop_redis >/dev/null; then
		trap 'stop_postgres; stop_redis' EXIT
	else
		trap stop_postgres EXIT
	fi
	export POSTGRES_DSN="postgres://flightcache@127.0.0.1:$pg_port/postgres?sslmode=disable"
	echo "== postgres on 127.0.0.1:$pg_port"
fi

# Every module of the workspace (go.work), one after the other: ./... stops
# at a module's edge.
. .ci/lib.sh
for m in $(modules); do
	echo "== go test $m"
	(cd "$m" && go test -race -count=1 ./...)
done
# The stress test is meant to be repeated.
go test -race -run 'TestStress' -count=20 ./singleflight/
