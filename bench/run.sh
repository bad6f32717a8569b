#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the benchmarks in the default preset (build/) and runs them. See docs/performance.md.
set -uo pipefail

usage() {
  cat <<USAGE
usage: bench/run.sh [crypto|mikey|replay|all] [--seconds S] [--rounds N]
       bench/run.sh --help

Configures build/ with the default preset (cmake --preset default, once), builds the chosen
benchmark targets (cmake --build build -j2 --target bench_crypto bench_mikey bench_replay)
and runs them with the arguments given:
  crypto       build/bin/bench_crypto: Milenage vectors and Ks_NAF derivations
  mikey        build/bin/bench_mikey: REQUEST_INIT_PSK build+seal, open, and both
  replay       build/bin/bench_replay: replay-guard commits at 10, 50 and 99 % live fill
  all          all three in that order (the default when no program is named)
  --seconds S  time per case per round (default 0.2)
  --rounds N   interleaved rounds, figures are medians (default 5)
'bench/run.sh mikey --help' shows a program's own help.

Prints name=value lines on stdout (the human tables' lines start with '#'); build output
goes to stderr. With all, each program prints its own table and keys, and the keys they share
(openssl_version, seconds_per_case, rounds) appear once per program with the same values.
Exit status: the program's (0, or 2 on bad usage); with all, the first non-zero one (the
second program is not run then); 2 when the build fails. The figures are informational: a
benchmark never fails a build.
USAGE
}

progs=(bench_crypto bench_mikey bench_replay)
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  crypto) progs=(bench_crypto); shift ;;
  mikey) progs=(bench_mikey); shift ;;
  replay) progs=(bench_replay); shift ;;
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
  "build/bin/$p" "$@" || exit $?
done
exit 0
