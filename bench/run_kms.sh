#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The KMS benchmark: imskms-kmsd and imskms-bsfd beside nginx on loopback, the same load
# generator (build/bin/bench_kms) against all, interleaved rounds; or the state a mode leaves
# after N Kues. See docs/performance.md and docs/modes.md.
set -uo pipefail

usage() {
  cat <<USAGE
usage: bench/run_kms.sh [--threads T] [--subscribers N] [--seconds S] [--rounds R] [--cases LIST]
                        [--floor ARGS]
       bench/run_kms.sh --fill N --fill-mode 2|3 [--threads T]
       bench/run_kms.sh --help

Builds imskms-kmsd, imskms-bsfd, bench_kms and mhd_floor in build/ (cmake --preset default, once), then in
a temporary directory (under \$TMPDIR, default /tmp; removed afterwards):
  - a KEK, a subscriber store with N subscribers ue0..ue<N-1>@bench.example.org (K and OP of
    TS 35.208 test set 1; bench_kms --setup-db) and a throwaway PKI (tests/http/mkca.sh: the
    KMS's Zn client certificate names kms.example.org),
  - imskms-bsfd on 127.0.0.1 port 0 (realm bsf.bench.example.org, sessions of 3600 s, room
    for 1,000,000 of them),
  - a Kkms keyring (file keystore; 7 days, 2 days of grace) and imskms-kmsd on 127.0.0.1 port 0
    (modes 1,2,3, --skew 5: after a start the KMS refuses requests stamped before start + skew,
    so the run waits that long; the replay cache holds each request for about the skew),
  - unless --fill: nginx as a foreground process of this user (1 worker, access log on,
    unlimited keep-alive) serving a static file of a ticket answer's size,
  - unless --fill: build/bin/mhd_floor, a minimal libmicrohttpd POST server with the KMS's
    threading mode and thread count answering a fixed body of the same size (the floor of
    our HTTP stack, a second baseline: bench_kms's floor case, *_floor_ratio),
and runs build/bin/bench_kms, then stops them all. Both daemons log one line per request to a
file, as nginx does.
  --threads T      client threads, one keep-alive connection per server each (default 4)
  --subscribers N  IMPIs (default 20000; mode-1 exchanges bootstrap each in turn after an
                   untimed cold pass)
  --seconds S      time per case per round (default 0.5)
  --rounds R       interleaved rounds; figures are medians (default 5)
  --cases LIST     bench_kms --cases (default: every case)
  --floor ARGS     mhd_floor's options, one word list (default "--mode pool"; see
                   build/bin/mhd_floor --help: pool, single, tpc, glue; --response)
  --fill N         issue N Kues of --fill-mode and report the KMS's memory and store size
  --fill-mode 2|3  see --fill

Needs nginx (Debian: apt-get install nginx-light; not for --fill), curl, python3 and openssl;
exits 2 when nginx is missing. Prints bench_kms's name=value lines (its help:
build/bin/bench_kms --help) preceded by nginx_version=, nproc= and loadavg= lines. Exit status:
bench_kms's (0; 2 bad usage; 3 a failure), 2 when the build fails or a server does not start.
The figures are informational.
USAGE
}

args=()
fill=""
floor_args="--mode pool"
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --floor)
      [[ $# -ge 2 ]] || { echo "bench/run_kms.sh: $1 needs a value" >&2; exit 2; }
      floor_args=$2; shift 2 ;;
    --threads|--subscribers|--seconds|--rounds|--cases|--fill|--fill-mode)
      [[ $# -ge 2 ]] || { echo "bench/run_kms.sh: $1 needs a value" >&2; exit 2; }
      [[ $1 == --fill ]] && fill=$2
      args+=("$1" "$2"); shift 2 ;;
    *) echo "bench/run_kms.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
subs=20000
for ((i = 0; i < ${#args[@]}; i += 2)); do
  [[ ${args[i]} == --subscribers ]] && subs=${args[i+1]}
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=servers.sh
. "$root/bench/servers.sh"
[[ -z $fill ]] && srv_nginx_find

cd "$root" || exit 2
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake --preset default >&2 || { echo "bench/run_kms.sh: cmake --preset default failed" >&2; exit 2; }
fi
cmake --build build -j2 --target bench_kms mhd_floor imskms_bsfd imskms_kmsd imskms_cli >&2 || {
  echo "bench/run_kms.sh: build failed (run: cmake --build build -j2 --target bench_kms mhd_floor imskms_bsfd imskms_kmsd imskms_cli)" >&2
  exit 2
}

tmp=$(mktemp -d)
kms_pid=""
bsf_pid=""
ngx_pid=""
floor_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  srv_stop_all
  rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "bench/run_kms.sh: $*" >&2; exit 2; }

realm=bsf.bench.example.org
fqdn=kms.example.org
skew=5
sh tests/http/mkca.sh "$tmp/pki" >/dev/null 2>&1 || die "tests/http/mkca.sh failed"
(umask 077 && head -c 32 /dev/urandom >"$tmp/kek")
build/bin/bench_kms --setup-db "$tmp/db" --kek-file "$tmp/kek" --subscribers "$subs" >/dev/null ||
  die "subscriber store setup failed"
srv_bsfd_start $realm --lifetime 3600 --max-sessions 1000000

build/bin/imskms keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 604800 \
  --grace 172800 >/dev/null || die "keys init failed"
srv_kmsd_start $fqdn --modes 1,2,3 --skew $skew
sleep $((skew + 1)) # the restart rule: requests stamped before start + skew are refused

common=(--kms "http://127.0.0.1:$kms/mikey" --bsf "http://127.0.0.1:$ub/" --realm $realm
  --kms-fqdn $fqdn --kms-pid "$kms_pid")
echo "nproc=$(nproc)"
echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n $fill ]]; then
  build/bin/bench_kms "${common[@]}" --state-db "$tmp/state.db" "${args[@]}"
  st=$?
else
  # A static answer of a mode-3 ticket request's size (bench_kms prints the real sizes).
  srv_nginx_start "        location = /mikey-resp.bin { }"
  head -c 351 /dev/urandom >"$tmp/www/mikey-resp.bin"
  curl -sf -o /dev/null "http://127.0.0.1:$ngx_port/mikey-resp.bin" ||
    die "nginx did not start: $(cat "$tmp/nginx-error.log" "$tmp/nginx-stderr.log")"
  echo "nginx_version=$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')"
  # The floor: the same answer size; the KMS's default thread count (online CPUs).
  # shellcheck disable=SC2086 # floor_args is a word list
  build/bin/mhd_floor --resp-bytes 351 $floor_args 2>"$tmp/floor.log" &
  floor_pid=$!
  for _ in $(seq 100); do
    grep -q 'listening on port' "$tmp/floor.log" && break
    sleep 0.05
  done
  floor=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$tmp/floor.log")
  [[ -n $floor ]] || die "mhd_floor did not start: $(cat "$tmp/floor.log")"
  echo "floor_args=$floor_args"
  build/bin/bench_kms "${common[@]}" --baseline "http://127.0.0.1:$ngx_port/" \
    --baseline-pid "$ngx_pid" --floor "http://127.0.0.1:$floor/mikey" --floor-pid "$floor_pid" \
    "${args[@]}"
  st=$?
fi
echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $st -ne 0 ]]; then
  echo "bench/run_kms.sh: last KMS log lines:" >&2
  tail -n 5 "$tmp/kmsd.log" >&2
fi
exit $st
