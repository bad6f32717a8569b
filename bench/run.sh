#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the benchmarks in the default preset (build/) and runs them. See docs/performance.md.
set -uo pipefail

usage() {
  cat <<USAGE
usage: bench/run.sh [crypto|mikey|replay|ticket|service|all] [--seconds S] [--rounds N]
       bench/run.sh --help

Configures build/ with the default preset (cmake --preset default, once), builds the chosen
benchmark targets (cmake --build build -j2 --target bench_crypto bench_mikey bench_replay
bench_ticket bench_service) and runs them with the arguments given:
  crypto       build/bin/bench_crypto: Milenage vectors and Ks_NAF derivations
  mikey        build/bin/bench_mikey: REQUEST_INIT_PSK build+seal, open, and both
  replay       build/bin/bench_replay: replay-guard commits at 10, 50 and 99 % live fill
  ticket       build/bin/bench_ticket: sealed tickets sealed and opened, file keystore and
               PKCS#11 (a private SoftHSM2 token set up here), beside raw AES-256-GCM
  service      build/bin/bench_service: the KMS request handler alone (no HTTP), ticket
               requests in modes 3 and 2, in HMAC-SHA-256s
  all          all five in that order (the default when no program is named)
  srtp         build/bin/bench_srtp: SRTP protect + unprotect of a 160-octet payload through
               lib/srtp against raw libsrtp2, per policy (not in 'all'; its arguments are
               positional: bench/run.sh srtp [ITERATIONS_PER_ROUND] [ROUNDS])
  --seconds S  time per case per round (default 0.2)
  --rounds N   interleaved rounds, figures are medians (default 5)
'bench/run.sh mikey --help' shows a program's own help.

The daemons' load benchmarks have their own scripts (they start the servers and nginx, the
baseline): bench/run_bsf.sh (GBA bootstraps) and bench/run_kms.sh (the KMS in its three
modes, and the state a mode leaves: --fill); bench/run_call.sh times call set-up (ue offer,
answer, accept) per mode against both daemons. Each takes --help.

Prints name=value lines on stdout (the human tables' lines start with '#'); build output
goes to stderr. With all, each program prints its own table and keys, and the keys they share
(openssl_version, seconds_per_case, rounds) appear once per program with the same values.
Exit status: the program's (0, or 2 on bad usage); with all, the first non-zero one (the
second program is not run then); 2 when the build fails. The figures are informational: a
benchmark never fails a build.
USAGE
}

progs=(bench_crypto bench_mikey bench_replay bench_ticket bench_service)
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  crypto) progs=(bench_crypto); shift ;;
  mikey) progs=(bench_mikey); shift ;;
  replay) progs=(bench_replay); shift ;;
  ticket) progs=(bench_ticket); shift ;;
  service) progs=(bench_service); shift ;;
  srtp) progs=(bench_srtp); shift ;;
  all) shift ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2

if [[ ! -f build/CMakeCache.txt ]]; then
  cmake --preset default >&2 || { echo "bench/run.sh: cmake --preset default failed" >&2; exit 2; }
fi
cmake --build build -j2 --target "${progs[@]}" >&2 || {
  echo "bench/run.sh: build failed (run: cmake --build build -j2 --target ${progs[*]})" >&2
  exit 2
}
for p in "${progs[@]}"; do
  if [[ $p == bench_ticket ]]; then
    # The PKCS#11 cases run against a throwaway SoftHSM2 token (tests/hsm/softhsm_env.sh).
    hsm_dir=$(mktemp -d)
    # shellcheck source=../tests/hsm/softhsm_env.sh
    . tests/hsm/softhsm_env.sh
    if softhsm_env "$hsm_dir" >&2; then
      IMSKMS_BENCH_HSM_URI=$IMSKMS_TEST_HSM_URI "build/bin/$p" "$@"
    else
      echo "bench/run.sh: no SoftHSM2 token (run scripts/deps.sh); PKCS#11 cases skipped" >&2
      "build/bin/$p" "$@"
    fi
    st=$?
    rm -rf "$hsm_dir"
    [[ $st -eq 0 ]] || exit $st
    continue
  fi
  "build/bin/$p" "$@" || exit $?
done
exit 0
