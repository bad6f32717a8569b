# SPDX-License-Identifier: Apache-2.0
# Sourced: a throwaway redis-server for the fleet tests (docs/scaling.md).
#   redis_start DIR [extra redis-server args]   starts one on a unix socket in DIR (no TCP
#                                              port), durable as the keyring needs, prints
#                                              nothing, exports REDIS_URL=unix://DIR/redis.sock
#                                              and REDIS_SOCK; exit status 1 when it did not come up
#   redis_cli ARGS...                          redis-cli on that socket
#   redis_stop                                 stops it (SHUTDOWN NOSAVE, then the pid) and waits
# DIR must be short: a unix socket path has at most 107 bytes.

redis_start() {
    local dir=$1
    shift
    REDIS_DIR=$dir
    REDIS_SOCK=$dir/redis.sock
    REDIS_URL=unix://$REDIS_SOCK
    export REDIS_URL REDIS_SOCK REDIS_DIR
    redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --dir "$dir" \
        --save '' --appendonly yes --appendfsync always --maxmemory-policy noeviction \
        --daemonize no --logfile "$dir/redis.log" "$@" >/dev/null 2>&1 &
    REDIS_PID=$!
    export REDIS_PID
    local i
    for i in $(seq 1 100); do
        if [ -S "$REDIS_SOCK" ] && redis-cli -s "$REDIS_SOCK" ping 2>/dev/null | grep -q PONG; then
            return 0
        fi
        if ! kill -0 "$REDIS_PID" 2>/dev/null; then
            echo "redis_start: redis-server exited (see $dir/redis.log)" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "redis_start: redis-server did not answer on $REDIS_SOCK" >&2
    return 1
}

redis_cli() {
    redis-cli -s "$REDIS_SOCK" "$@"
}

redis_stop() {
    [ -n "${REDIS_PID:-}" ] || return 0
    redis-cli -s "$REDIS_SOCK" shutdown nosave >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 100); do
        kill -0 "$REDIS_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
}
