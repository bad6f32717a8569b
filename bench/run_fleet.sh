#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fleet benchmark (issue 21): bootstraps per second and their p50/p99 latency for one BSF on
# SQLite, one BSF on Redis and two BSF nodes on one Redis, in the same run, with the Redis
# commands per bootstrap counted (INFO commandstats before and after). See docs/performance.md
# and docs/scaling.md. On a 2-core machine the client, the nodes and redis-server share the
# cores: the figures show the cost of the Redis round trips, not how a fleet scales.
set -uo pipefail

usage() {
  cat <<USAGE
usage: bench/run_fleet.sh [--threads T] [--subscribers N] [--seconds S] [--rounds R]
       bench/run_fleet.sh --help

Builds imskms, imskms-bsfd and bench_bsf in build/ (cmake --preset default, once), then in a
temporary directory (under \$TMPDIR, default /tmp; removed afterwards): a KEK, a subscriber
store of N subscribers (bench_bsf --setup-db), the same subscribers imported into a
redis-server of this user on a unix socket (imskms subscriber export / import --redis; no
persistence), a throwaway PKI (Zn is not exercised), and runs build/bin/bench_bsf (no
baseline) against, in turn:
  bsf1_sqlite  one imskms-bsfd on the SQLite store
  bsf1_redis   one imskms-bsfd --redis (--sqn-db, --node-id 0)
  bsf2_redis   two imskms-bsfd --redis (--node-id 0 and 1), the client's odd threads at the
               second node
Every daemon runs with --rate-burst 1000 (the load cycles through the IMPIs faster than the
default rate of 5 and one per 2 s allows) and logs one line per request to a file.
  --threads T      client threads, one keep-alive connection each (default 4)
  --subscribers N  IMPIs (default 5000; each bootstraps once per case in an untimed cold pass)
  --seconds S      time per round (default 0.5)
  --rounds R       rounds per case; figures are medians (default 5)

Needs redis-server and redis-cli (Debian: apt-get install redis-server); exits 2 without them.
Prints, per case, CASE_bootstraps_per_s, CASE_bootstrap_p50_us, CASE_bootstrap_p99_us,
CASE_failures and, for the Redis cases, CASE_redis_COMMAND_per_bootstrap (the calls Redis
counted, the ones the rate script makes inside EVAL included) and CASE_redis_calls_per_bootstrap;
then nproc= and loadavg=. The KMS cases of issue 21 item 5 (mode-3 ticket requests on one KMS
without Redis, one and three with Redis) need imskms-kmsd --redis: not part of this script yet.
Exit status: 0; 2 bad usage, a build failure or a server that does not start; 3 bench_bsf's
failure. The figures are informational.
USAGE
}

threads=4 subs=5000 seconds=0.5 rounds=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --threads|--subscribers|--seconds|--rounds)
      [[ $# -ge 2 ]] || { echo "bench/run_fleet.sh: $1 needs a value" >&2; exit 2; }
      case "$1" in
        --threads) threads=$2 ;; --subscribers) subs=$2 ;;
        --seconds) seconds=$2 ;; --rounds) rounds=$2 ;;
      esac
      shift 2 ;;
    *) echo "bench/run_fleet.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
  echo "bench/run_fleet.sh: needs redis-server and redis-cli (apt-get install redis-server)" >&2
  exit 2
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake --preset default >&2 || { echo "bench/run_fleet.sh: cmake --preset default failed" >&2; exit 2; }
fi
cmake --build build -j2 --target bench_bsf imskms_bsfd imskms_cli >&2 || {
  echo "bench/run_fleet.sh: build failed" >&2
  exit 2
}

tmp=$(mktemp -d)
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "bench/run_fleet.sh: $*" >&2; exit 2; }

realm=bsf.bench.example.org
sh tests/http/mkca.sh "$tmp/pki" >/dev/null 2>&1 || die "tests/http/mkca.sh failed"
(umask 077 && head -c 32 /dev/urandom >"$tmp/kek")
build/bin/bench_bsf --setup-db "$tmp/db" --kek-file "$tmp/kek" --subscribers "$subs" >/dev/null ||
  die "subscriber store setup failed"

sock="$tmp/redis.sock"
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$tmp" --save '' \
  --appendonly no >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -s "$sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -s "$sock" ping >/dev/null 2>&1 || die "redis-server did not start: $(cat "$tmp/redis.log")"
build/bin/imskms subscriber export --db "$tmp/db" --kek-file "$tmp/kek" --out "$tmp/export" >/dev/null &&
  build/bin/imskms subscriber import --redis "unix://$sock" --kek-file "$tmp/kek" --in "$tmp/export" \
    >/dev/null || die "import into Redis failed"

# start_bsfd NAME STORE-OPTIONS...: sets port_NAME and pid_NAME
start_bsfd() {
  local name=$1
  shift
  build/bin/imskms-bsfd "$@" --kek-file "$tmp/kek" --listen 127.0.0.1:0 --realm $realm \
    --lifetime 3600 --max-sessions 1000000 --rate-burst 1000 --zn-listen 127.0.0.1:0 \
    --zn-cert "$tmp/pki/server.crt" --zn-key "$tmp/pki/server.key" \
    --zn-client-ca "$tmp/pki/ca.crt" 2>"$tmp/$name.log" &
  local p=$!
  pids+=("$p")
  for _ in $(seq 100); do grep -q 'zn listening' "$tmp/$name.log" && break; sleep 0.05; done
  local u
  u=$(sed -n 's/.*ub listening on port \([0-9]*\).*/\1/p' "$tmp/$name.log")
  [[ -n $u ]] || die "imskms-bsfd $name did not start: $(cat "$tmp/$name.log")"
  printf -v "port_$name" '%s' "$u"
  printf -v "pid_$name" '%s' "$p"
}
stop_bsfd() { kill "$1" && wait "$1" 2>/dev/null; }

# commandstats -> "cmd calls" lines
cmdstats() {
  redis-cli -s "$sock" info commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\1 \2/p' | sort
}

# run CASE REDIS(0|1) bench_bsf-options...
run() {
  local c=$1 redis=$2
  shift 2
  [[ $redis = 1 ]] && cmdstats >"$tmp/before"
  build/bin/bench_bsf --realm $realm --threads "$threads" --subscribers "$subs" \
    --seconds "$seconds" --rounds "$rounds" "$@" >"$tmp/out" 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; exit 3; }
  local boots
  boots=$(sed -n 's/^sessions_created=//p' "$tmp/out")
  for k in bootstraps_per_s bootstrap_p50_us bootstrap_p99_us failures rate_limited \
    bsf_cpu_us_per_bootstrap; do
    local v
    v=$(sed -n "s/^$k=//p" "$tmp/out")
    [[ -n $v ]] && echo "${c}_$k=$v"
  done
  echo "${c}_bootstraps_counted=$boots"
  if [[ $redis = 1 ]]; then
    cmdstats >"$tmp/after"
    join -a 2 -e 0 -o 0,1.2,2.2 "$tmp/before" "$tmp/after" |
      awk -v c="$c" -v n="$boots" '$1 != "info" && $1 != "config|resetstat" && $1 != "config|get" && $1 != "ping" {
          d = $3 - $2; if (d > 0) { printf "%s_redis_%s_per_bootstrap=%.2f\n", c, $1, d / n; t += d } }
        END { printf "%s_redis_calls_per_bootstrap=%.2f\n", c, t / n }'
  fi
}

run_case_sqlite() {
  start_bsfd s --db "$tmp/db"
  run bsf1_sqlite 0 --bsf "http://127.0.0.1:$port_s/" --bsf-pid "$pid_s"
  stop_bsfd "$pid_s"
}
run_case_redis1() {
  start_bsfd r0 --redis "unix://$sock" --sqn-db "$tmp/sqn-a0" --node-id 0
  run bsf1_redis 1 --bsf "http://127.0.0.1:$port_r0/" --bsf-pid "$pid_r0"
  stop_bsfd "$pid_r0"
}
run_case_redis2() {
  start_bsfd r0 --redis "unix://$sock" --sqn-db "$tmp/sqn-b0" --node-id 0
  start_bsfd r1 --redis "unix://$sock" --sqn-db "$tmp/sqn-b1" --node-id 1
  run bsf2_redis 1 --bsf "http://127.0.0.1:$port_r0/" --bsf2 "http://127.0.0.1:$port_r1/"
  stop_bsfd "$pid_r0"
  stop_bsfd "$pid_r1"
}

echo "nproc=$(nproc)"
echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "redis_version=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
echo "threads=$threads"
echo "subscribers=$subs"
# Each bench_bsf run simulates fresh USIMs (SEQ_MS 0) and each case's nodes fresh --sqn-db
# files: the cases do not interfere.
run_case_sqlite
run_case_redis1
run_case_redis2
echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)"
