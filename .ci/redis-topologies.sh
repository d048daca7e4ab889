#!/usr/bin/env bash
# Runs a command against every Redis topology the Redis-backed packages
# support, started here on free loopback ports and stopped at the end:
#
#   REDIS_ADDR           a single node
#   REDIS_RING_ADDRS     two independent servers, the shards of a redis.Ring
#   REDIS_CLUSTER_ADDRS  a Redis Cluster of three masters (no replicas)
#   REDIS_SENTINEL_ADDRS a Sentinel watching a master (and its replica)
#                        named by REDIS_SENTINEL_MASTER ("flightcache")
#
# (comma-separated host:port lists). adapters/redisstore/redistest reads
# these; a test of a topology whose variable is unset skips. Needs only
# Debian's redis-server package (redis-server and redis-cli).
#
#   .ci/redis-topologies.sh go test -race ./adapters/redisstore/ ./adapters/tiered/
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: $0 command [args...]" >&2
	exit 2
fi

dir=$(mktemp -d)
pids=()
stop_all() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	done
	rm -rf "$dir"
}
trap stop_all EXIT

# free_port prints a loopback port that is free, and whose cluster bus port
# (port + 10000) is free too.
free_port() {
	python3 - <<'PY'
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    if p + 10000 > 65535:
        a.close(); continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 10000))
    except OSError:
        a.close(); continue
    b.close(); a.close(); print(p); break
PY
}

# start_server PORT [extra redis-server flags...] starts a redis-server with
# persistence off and waits until it answers.
start_server() {
	local port=$1
	shift
	mkdir -p "$dir/$port"
	redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$dir/$port" --logfile "$dir/$port/redis.log" --daemonize yes \
		--pidfile "$dir/$port/redis.pid" "$@"
	for _ in $(seq 100); do
		redis-cli -p "$port" ping >/dev/null 2>&1 && break
		sleep 0.05
	done
	redis-cli -p "$port" ping >/dev/null
	pids+=("$(cat "$dir/$port/redis.pid")")
}

# The single node.
p=$(free_port)
start_server "$p"
export REDIS_ADDR="127.0.0.1:$p"

# The ring: two servers that know nothing of each other.
ring=()
for _ in 1 2; do
	p=$(free_port)
	start_server "$p"
	ring+=("127.0.0.1:$p")
done
REDIS_RING_ADDRS=$(IFS=,; echo "${ring[*]}")
export REDIS_RING_ADDRS

# The cluster: three masters that own all 16384 slots between them.
cluster=()
for _ in 1 2 3; do
	p=$(free_port)
	start_server "$p" --cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 5000
	cluster+=("127.0.0.1:$p")
done
redis-cli --cluster create "${cluster[@]}" --cluster-replicas 0 --cluster-yes >"$dir/cluster-create.log"
for _ in $(seq 200); do
	ok=1
	for a in "${cluster[@]}"; do
		redis-cli -h "${a%:*}" -p "${a#*:}" cluster info | grep -q 'cluster_state:ok' || ok=0
	done
	[ "$ok" = 1 ] && break
	sleep 0.05
done
[ "$ok" = 1 ] || { echo "the Redis Cluster did not come up" >&2; cat "$dir/cluster-create.log" >&2; exit 1; }
REDIS_CLUSTER_ADDRS=$(IFS=,; echo "${cluster[*]}")
export REDIS_CLUSTER_ADDRS

# Sentinel: a master, its replica, and one Sentinel (quorum 1) watching it.
master=$(free_port)
start_server "$master"
replica=$(free_port)
start_server "$replica" --replicaof 127.0.0.1 "$master"
sentinel=$(free_port)
mkdir -p "$dir/$sentinel"
cat >"$dir/$sentinel/sentinel.conf" <<CONF
port $sentinel
bind 127.0.0.1
daemonize yes
pidfile $dir/$sentinel/redis.pid
logfile $dir/$sentinel/redis.log
dir $dir/$sentinel
sentinel monitor flightcache 127.0.0.1 $master 1
sentinel down-after-milliseconds flightcache 2000
sentinel failover-timeout flightcache 5000
CONF
redis-server "$dir/$sentinel/sentinel.conf" --sentinel
for _ in $(seq 100); do
	redis-cli -p "$sentinel" sentinel get-master-addr-by-name flightcache 2>/dev/null | grep -q "$master" && break
	sleep 0.05
done
redis-cli -p "$sentinel" sentinel get-master-addr-by-name flightcache | grep -q "$master"
pids+=("$(cat "$dir/$sentinel/redis.pid")")
export REDIS_SENTINEL_ADDRS="127.0.0.1:$sentinel" REDIS_SENTINEL_MASTER=flightcache

echo "== Redis: single $REDIS_ADDR, ring $REDIS_RING_ADDRS, cluster $REDIS_CLUSTER_ADDRS, sentinel $REDIS_SENTINEL_ADDRS"
"$@"
