#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fleet benchmark (issue 21): bootstraps per second and their p50/p99 latency for one BSF on
# SQLite, one BSF on Redis and two BSF nodes on one Redis, then mode-3 ticket requests per
# second and their p50/p99 for one KMS on SQLite, one KMS on Redis and three KMS nodes on that
# Redis, in the same run, with the Redis commands (INFO commandstats before and after) and bytes
# per bootstrap or request counted. See docs/performance.md and docs/scaling.md. On a 2-core
# machine the client, the nodes and redis-server share the cores: the figures show the cost of
# the Redis round trips, not a fleet's capacity.
set -uo pipefail

usage() {
  cat <<USAGE
usage: bench/run_fleet.sh [--quick] [--threads T] [--subscribers N] [--seconds S] [--rounds R]
       bench/run_fleet.sh --help

Builds imskms, imskms-bsfd, imskms-kmsd, bench_bsf and bench_kms in build/ (cmake --preset
default, once), then in a temporary directory (under \$TMPDIR, default /tmp; removed
afterwards): a KEK, a subscriber store of N subscribers (bench_bsf --setup-db), the same
subscribers imported into a redis-server of this user on a unix socket (imskms subscriber
export / import --redis; no persistence), a throwaway PKI, and runs build/bin/bench_bsf (no
baseline) against, in turn:
  bsf1_sqlite  one imskms-bsfd on the SQLite store
  bsf1_redis   one imskms-bsfd --redis (--sqn-db, --node-id 0)
  bsf2_redis   two imskms-bsfd --redis (--node-id 0 and 1), the client's odd threads at the
               second node
then build/bin/bench_kms --cases request_mode3 (mode-3 ticket requests, no baseline) against:
  kms1_sqlite  one imskms-kmsd --state-db
  kms1_redis   one imskms-kmsd --redis on the same redis-server
  kms3_redis   three imskms-kmsd --redis (the node of kms1_redis and two more), client thread i
               at node i mod 3; the Kues of the untimed setup come from the first node
The KMS nodes share one FQDN, one KMS KEK (not the BSF's) and one keyring file (file keystore;
the keyring is not in Redis, so Redis counts only the requests' own commands), run with
--modes 2,3 --skew 5, and ask a BSF of their own (a copy of the subscriber store) over Zn
during the setup. They start before the BSF cases, so that the restart rule's window (start +
skew) has passed when their turn comes. Every BSF of a case runs with --rate-burst 1000 (the
load cycles through the IMPIs faster than the default rate of 5 and one per 2 s allows); every
daemon logs one line per request to a file.
  --quick          a smoke run: --subscribers 1000 --seconds 0.2 --rounds 3 (options given
                   after it win); about 15 s
  --threads T      client threads, one keep-alive connection each (default 4; 3 or more for
                   kms3_redis to reach every node)
  --subscribers N  IMPIs (default 5000; each bootstraps once per BSF case in an untimed cold
                   pass)
  --seconds S      time per round (default 0.5)
  --rounds R       rounds per case; figures are medians (default 5)

A 2-core machine can only show the cost of the Redis round trips, not a fleet's capacity: the
client, every node and redis-server share the same cores, so more nodes add no CPU. The output
says so on a '#' line.

Needs redis-server and redis-cli (Debian: apt-get install redis-server); exits 2 without them.
Prints, per BSF case, CASE_bootstraps_per_s, CASE_bootstrap_p50_us, CASE_bootstrap_p99_us,
CASE_failures and, for the Redis cases, CASE_redis_COMMAND_per_bootstrap (the calls Redis
counted, the ones the rate script makes inside EVAL included), CASE_redis_calls_per_bootstrap
and CASE_redis_bytes_in_per_bootstrap / _out_ (INFO stats total_net_input_bytes and
total_net_output_bytes: what the nodes sent to Redis and received); per KMS case
CASE_requests_per_s, CASE_request_p50_us, CASE_request_p99_us, CASE_failures, CASE_kms_posts
(every POST the KMS answered, the untimed setup's included: the divisor of the per-request
figures), CASE_kms_cpu_us_per_request (one node only) and, on Redis, the same Redis figures
per request; after the Redis cases, redis_memory_KIND_bytes: MEMORY USAGE averaged over up to
50 keys of each kind (bsf_sub, bsf_ses, bsf_ans, bsf_rate, kms_rp, kms_kue); then the same for
one subscriber with a 49-character IMPI and a 29-character IMPU, bootstrapped once in Redis
database 1 by a BSF node of its own with the default rate burst (long_bsf_sub, long_bsf_ses,
long_bsf_ans, long_bsf_rate: the item sizes of docs/scaling.md's sizing); then loadavg_after=.
The first lines are nproc=, loadavg=, redis_version= and the options. Exit status: 0; 2 bad
usage, a build failure or a server that does not start; 3 bench_bsf's or bench_kms's failure.
The figures are informational.
USAGE
}

threads=4 subs=5000 seconds=0.5 rounds=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --quick) subs=1000 seconds=0.2 rounds=3; shift ;;
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
cmake --build build -j2 --target bench_bsf bench_kms imskms_bsfd imskms_kmsd imskms_cli >&2 || {
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

# start_bsfd NAME STORE-OPTIONS...: sets port_NAME, zn_NAME and pid_NAME (--rate-burst $burst,
# default 1000)
start_bsfd() {
  local name=$1
  shift
  build/bin/imskms-bsfd "$@" --kek-file "$tmp/kek" --listen 127.0.0.1:0 --realm $realm \
    --lifetime 3600 --max-sessions 1000000 --rate-burst "${burst:-1000}" --zn-listen 127.0.0.1:0 \
    --zn-cert "$tmp/pki/server.crt" --zn-key "$tmp/pki/server.key" \
    --zn-client-ca "$tmp/pki/ca.crt" 2>"$tmp/$name.log" &
  local p=$!
  pids+=("$p")
  for _ in $(seq 100); do grep -q 'zn listening' "$tmp/$name.log" && break; sleep 0.05; done
  local u
  u=$(sed -n 's/.*ub listening on port \([0-9]*\).*/\1/p' "$tmp/$name.log")
  [[ -n $u ]] || die "imskms-bsfd $name did not start: $(cat "$tmp/$name.log")"
  printf -v "port_$name" '%s' "$u"
  printf -v "zn_$name" '%s' "$(sed -n 's/.*zn listening on port \([0-9]*\).*/\1/p' "$tmp/$name.log")"
  printf -v "pid_$name" '%s' "$p"
}
stop_bsfd() { kill "$1" && wait "$1" 2>/dev/null; }

# commandstats -> "cmd calls" lines
cmdstats() {
  redis-cli -s "$sock" info commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\1 \2/p' | sort
}
# "input-bytes output-bytes" Redis has received and sent so far
netbytes() {
  redis-cli -s "$sock" info stats | tr -d '\r' |
    sed -n 's/^total_net_input_bytes:\([0-9]*\)/\1/p; s/^total_net_output_bytes:\([0-9]*\)/\1/p' |
    paste -sd' '
}
# redis_before / redis_after CASE N UNIT: the commands Redis counted and the bytes it received
# and sent between the two, per UNIT (N of them). The INFO and PING calls of this script and of
# the nodes' health ticks are left out of the commands; their bytes (about 2 KB per case) are in.
redis_before() {
  netbytes >"$tmp/net_before"
  cmdstats >"$tmp/before"
}
redis_after() {
  local c=$1 n=$2 unit=$3
  netbytes >"$tmp/net_after"
  cmdstats >"$tmp/after"
  join -a 2 -e 0 -o 0,1.2,2.2 "$tmp/before" "$tmp/after" |
    awk -v c="$c" -v n="$n" -v u="$unit" '$1 != "info" && $1 != "config|resetstat" && $1 != "config|get" && $1 != "ping" {
        d = $3 - $2; if (d > 0) { printf "%s_redis_%s_per_%s=%.2f\n", c, $1, u, d / n; t += d } }
      END { printf "%s_redis_calls_per_%s=%.2f\n", c, u, t / n }'
  paste -d' ' "$tmp/net_before" "$tmp/net_after" |
    awk -v c="$c" -v n="$n" -v u="$unit" '{ printf "%s_redis_bytes_in_per_%s=%.1f\n%s_redis_bytes_out_per_%s=%.1f\n", c, u, ($3 - $1) / n, c, u, ($4 - $2) / n }'
}
# memsample KIND PATTERN [DB]: MEMORY USAGE averaged over up to 50 keys matching PATTERN (in
# Redis database DB, default 0)
memsample() {
  local keys db=${3:-0}
  keys=$(redis-cli -s "$sock" -n "$db" --scan --pattern "$2" | head -n 50)
  [[ -n $keys ]] || { echo "redis_memory_$1_keys=0"; return; }
  echo "$keys" | while read -r k; do redis-cli -s "$sock" -n "$db" memory usage "$k"; done |
    awk -v k="$1" '{ s += $1; n++ } END { printf "redis_memory_%s_bytes=%.0f\nredis_memory_%s_keys_sampled=%d\n", k, s / n, k, n }'
}

# run CASE REDIS(0|1) bench_bsf-options...
run() {
  local c=$1 redis=$2
  shift 2
  [[ $redis = 1 ]] && redis_before
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
  [[ $redis = 1 ]] && redis_after "$c" "$boots" bootstrap
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

# ---- the KMS nodes, started now so that the restart window has passed when their turn comes
fqdn=kms.example.org
skew=5
(umask 077 && head -c 32 /dev/urandom >"$tmp/kms-kek")
build/bin/imskms keys init --keyring "$tmp/keyring" --kek-file "$tmp/kms-kek" --lifetime 604800 \
  --grace 172800 >/dev/null || die "keys init failed"
# The KMS's BSF (Zn for the setup's Kue issues) has a store of its own: one BSF per store.
cp "$tmp/db" "$tmp/kdb" || die "cannot copy the subscriber store"
start_bsfd kz --db "$tmp/kdb"
# start_kmsd NAME STORE-OPTIONS...: sets kport_NAME and kpid_NAME
start_kmsd() {
  local name=$1
  shift
  build/bin/imskms-kmsd "$@" --listen 127.0.0.1:0 --fqdn $fqdn --bsf-zn "https://localhost:$zn_kz" \
    --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
    --keyring "$tmp/keyring" --kek-file "$tmp/kms-kek" --modes 2,3 --skew $skew \
    2>"$tmp/$name.log" &
  local p=$!
  pids+=("$p")
  for _ in $(seq 100); do grep -q 'kms listening' "$tmp/$name.log" && break; sleep 0.05; done
  local u
  u=$(sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p' "$tmp/$name.log")
  [[ -n $u ]] || die "imskms-kmsd $name did not start: $(cat "$tmp/$name.log")"
  printf -v "kport_$name" '%s' "$u"
  printf -v "kpid_$name" '%s' "$p"
}
kms_started=$SECONDS
start_kmsd ks --state-db "$tmp/state.db"
start_kmsd k1 --redis "unix://$sock"
start_kmsd k2 --redis "unix://$sock"
start_kmsd k3 --redis "unix://$sock"

# runk CASE REDIS(0|1) URLS bench_kms-options...
runk() {
  local c=$1 redis=$2 urls=$3
  shift 3
  [[ $redis = 1 ]] && redis_before
  build/bin/bench_kms --kms "$urls" --bsf "http://127.0.0.1:$port_kz/" --realm $realm \
    --kms-fqdn $fqdn --threads "$threads" --subscribers "$subs" --seconds "$seconds" \
    --rounds "$rounds" --cases request_mode3 "$@" >"$tmp/out" 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; exit 3; }
  local posts
  posts=$(sed -n 's/^kms_posts=//p' "$tmp/out")
  local k v
  for k in per_s p50_us p99_us server_cpu_us; do
    v=$(sed -n "s/^request_mode3_$k=//p" "$tmp/out")
    case $k in
      per_s) k=requests_per_s ;; server_cpu_us) k=kms_cpu_us_per_request ;; *) k=request_$k ;;
    esac
    [[ -n $v ]] && echo "${c}_$k=$v"
  done
  echo "${c}_failures=$(sed -n 's/^failures=//p' "$tmp/out")"
  echo "${c}_kms_posts=$posts"
  [[ $redis = 1 ]] && redis_after "$c" "$posts" request
}

echo "nproc=$(nproc)"
echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "redis_version=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
echo "threads=$threads"
echo "subscribers=$subs"
echo "seconds=$seconds"
echo "rounds=$rounds"
echo "# A $(nproc)-core machine can only show the cost of the Redis round trips, not a fleet's"
echo "# capacity: the client, every node and redis-server share these cores (more nodes add no CPU)."
# Each bench_bsf run simulates fresh USIMs (SEQ_MS 0) and each case's nodes fresh --sqn-db
# files: the cases do not interfere.
run_case_sqlite
run_case_redis1
run_case_redis2
memsample bsf_sub 'imskms:bsf:sub:*'
memsample bsf_ses 'imskms:bsf:ses:*'
memsample bsf_ans 'imskms:bsf:ans:*'
memsample bsf_rate 'imskms:bsf:rate:*'

wait_s=$((kms_started + skew + 1 - SECONDS))
[[ $wait_s -gt 0 ]] && sleep "$wait_s" # the restart rule: requests stamped before start + skew
k() { echo "http://127.0.0.1:$1/mikey"; }
runk kms1_sqlite 0 "$(k "$kport_ks")" --kms-pid "$kpid_ks"
runk kms1_redis 1 "$(k "$kport_k1")" --kms-pid "$kpid_k1"
runk kms3_redis 1 "$(k "$kport_k1"),$(k "$kport_k2"),$(k "$kport_k3")"
# Replay entries live --skew (+1 s): sampled at once.
memsample kms_rp 'imskms:kms:*:rp:*'
memsample kms_kue 'imskms:kms:*:kue:*'

# The sizing's item sizes (docs/scaling.md): one subscriber with an IMPI and IMPU of the
# lengths an operator's have (TS 23.003: IMSI@ims.mncMNC.mccMCC.3gppnetwork.org), alone in
# Redis database 1, bootstrapped once by its own BSF node (the default rate burst, 5) through
# imskms ue bootstrap.
limpi=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
limpu=sip:+15550001@ims.example.org
lk=465b5ce8b199b49faa5f0a2ee238a6bc lop=cdc202d5123e20f62b6d676ac72cb318
build/bin/imskms subscriber add --redis "unix://$sock?db=1" --kek-file "$tmp/kek" --impi $limpi \
  --impu $limpu --k $lk --op $lop >/dev/null &&
  build/bin/imskms ue usim-init --usim "$tmp/lusim" --impi $limpi --impu $limpu --k $lk \
    --op $lop >/dev/null || die "the long-IMPI subscriber could not be added"
burst=5 start_bsfd l --redis "unix://$sock?db=1" --sqn-db "$tmp/sqn-l" --node-id 0 # the default burst
mkdir -p "$tmp/lue"
build/bin/imskms ue bootstrap --bsf "http://127.0.0.1:$port_l/" --realm $realm --usim "$tmp/lusim" \
  --state "$tmp/lue" >/dev/null 2>"$tmp/lue.err" || die "long-IMPI bootstrap: $(cat "$tmp/lue.err")"
echo "long_impi_chars=${#limpi}"
echo "long_impu_chars=${#limpu}"
memsample long_bsf_sub 'imskms:bsf:sub:*' 1
memsample long_bsf_ses 'imskms:bsf:ses:*' 1
memsample long_bsf_ans 'imskms:bsf:ans:*' 1
memsample long_bsf_rate 'imskms:bsf:rate:*' 1
stop_bsfd "$pid_l"
echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)"
