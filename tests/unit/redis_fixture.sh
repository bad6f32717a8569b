#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The CTest fixture redis_server: a private redis-server for test_store_redis, on a unix socket
# in DIR (no TCP port, no persistence).
# Usage: redis_fixture.sh start DIR | stop DIR
set -eu
dir=$2
case $1 in
start)
    if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
    rm -rf "$dir"
    mkdir -p "$dir"
    redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --dir "$dir" \
        --save '' --appendonly no --daemonize yes --pidfile "$dir/redis.pid" \
        --logfile "$dir/redis.log"
    n=0
    until [ "$(redis-cli -s "$dir/redis.sock" ping 2>/dev/null)" = PONG ]; do
        n=$((n + 1))
        [ $n -lt 200 ] || { echo "redis-server did not start: $(cat "$dir/redis.log")" >&2; exit 1; }
        sleep 0.05
    done
    ;;
stop)
    if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: redis_fixture.sh start|stop DIR" >&2
    exit 2
    ;;
esac
