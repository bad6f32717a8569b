#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The BSF bootstrap benchmark: imskms-bsfd beside nginx on loopback, the same load generator
# (build/bin/bench_bsf) against both, interleaved rounds. See docs/performance.md.
set -uo pipefail

usage() {
  cat <<USAGE
usage: bench/run_bsf.sh [--threads T] [--subscribers N] [--seconds S] [--rounds R]
       bench/run_bsf.sh --help

Builds imskms-bsfd and bench_bsf in build/ (cmake --preset default, once), then in a temporary
directory (under \$TMPDIR, default /tmp; removed afterwards):
  - a KEK and a subscriber store with N subscribers ue0..ue<N-1>@bench.example.org
    (K and OP of TS 35.208 test set 1; bench_bsf --setup-db),
  - a throwaway PKI for Zn (tests/http/mkca.sh; Zn is not exercised),
  - imskms-bsfd on 127.0.0.1 port 0 (realm bsf.bench.example.org, default log level: one
    line per request to a log file),
  - nginx as a foreground process of this user on 127.0.0.1:<free port> (daemon off,
    master_process off, 1 worker, access log on, keep-alive unlimited) serving two small
    static files with headers of the BSF's sizes,
and runs build/bin/bench_bsf against both, then stops both.
  --threads T      client threads, one keep-alive connection each (default 4)
  --subscribers N  IMPIs (default 20000; every one bootstraps once in an untimed cold pass)
  --seconds S      time per server per round (default 0.5)
  --rounds R       interleaved rounds; figures are medians (default 5)

Needs nginx (Debian: apt-get install nginx-light) and openssl; exits 2 when nginx is missing.
Prints bench_bsf's name=value lines (its help: build/bin/bench_bsf --help) preceded by
nginx_version=, nproc= and loadavg= lines. Exit status: bench_bsf's (0; 2 bad usage; 3 a
failure), 2 when the build fails or a server does not start. The figures are informational.
USAGE
}

args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --threads|--subscribers|--seconds|--rounds)
      [[ $# -ge 2 ]] || { echo "bench/run_bsf.sh: $1 needs a value" >&2; exit 2; }
      args+=("$1" "$2"); shift 2 ;;
    *) echo "bench/run_bsf.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
subs=20000
for ((i = 0; i < ${#args[@]}; i += 2)); do
  [[ ${args[i]} == --subscribers ]] && subs=${args[i+1]}
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=servers.sh
. "$root/bench/servers.sh"
srv_nginx_find

cd "$root" || exit 2
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake --preset default >&2 || { echo "bench/run_bsf.sh: cmake --preset default failed" >&2; exit 2; }
fi
cmake --build build -j2 --target bench_bsf imskms_bsfd >&2 || {
  echo "bench/run_bsf.sh: build failed (run: cmake --build build -j2 --target bench_bsf imskms_bsfd)" >&2
  exit 2
}

tmp=$(mktemp -d)
bsf_pid=""
ngx_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  srv_stop_all
  rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "bench/run_bsf.sh: $*" >&2; exit 2; }

realm=bsf.bench.example.org
sh tests/http/mkca.sh "$tmp/pki" >/dev/null 2>&1 || die "tests/http/mkca.sh failed"
(umask 077 && head -c 32 /dev/urandom >"$tmp/kek")
build/bin/bench_bsf --setup-db "$tmp/db" --kek-file "$tmp/kek" --subscribers "$subs" >/dev/null ||
  die "subscriber store setup failed"

# The BSF (port 0: it logs the port it got), and nginx serving two small static files with
# headers of the BSF's sizes.
srv_bsfd_start $realm --lifetime 3600
srv_nginx_start "        location = /ub-401.txt {
            add_header Cache-Control no-store;
            add_header WWW-Authenticate 'Digest realm=\"$realm\", nonce=\"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrLzAx\", algorithm=AKAv1-MD5, qop=\"auth-int\", opaque=\"0123456789abcdef\"';
        }
        location = /ub-200.xml {
            add_header Cache-Control no-store;
            add_header Authentication-Info 'qop=auth-int, nc=00000001, cnonce=\"0000000000000001\", rspauth=\"0123456789abcdef0123456789abcdef\"';
        }"
printf 'unauthorized\n' >"$tmp/www/ub-401.txt"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<BootstrappingInfo xmlns="uri:3gpp-gba"><btid>MDEyMzQ1Njc4OWFiY2RlZg==@%s</btid><lifetime>2026-11-28T11:00:00Z</lifetime></BootstrappingInfo>' \
  "$realm" >"$tmp/www/ub-200.xml"
curl -sf -o /dev/null "http://127.0.0.1:$ngx_port/ub-200.xml" ||
  die "nginx did not start: $(cat "$tmp/nginx-error.log" "$tmp/nginx-stderr.log")"

echo "nginx_version=$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')"
echo "nproc=$(nproc)"
echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
build/bin/bench_bsf --bsf "http://127.0.0.1:$ub/" --baseline "http://127.0.0.1:$ngx_port/" \
  --realm $realm --bsf-pid "$bsf_pid" --baseline-pid "$ngx_pid" "${args[@]}"
st=$?
echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)"
exit $st
