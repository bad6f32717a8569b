#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds bench_crypto in the default preset (build/) and runs it. See docs/performance.md.
set -uo pipefail

usage() {
  cat <<USAGE
usage: bench/run.sh [--seconds S] [--rounds N]
       bench/run.sh --help

Configures build/ with the default preset (cmake --preset default, once), builds the
bench_crypto target (cmake --build build -j2 --target bench_crypto) and runs
build/bin/bench_crypto with the arguments given:
  --seconds S  time per case per round (default 0.2)
  --rounds N   interleaved rounds, figures are medians (default 5)

Prints name=value lines on stdout (the human table's lines start with '#'); build
output goes to stderr. Exit status: bench_crypto's (0, or 2 on bad usage), 2 when the
build fails. The figures are informational: a benchmark never fails a build.
USAGE
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2

if [[ ! -f build/CMakeCache.txt ]]; then
  cmake --preset default >&2 || { echo "bench/run.sh: cmake --preset default failed" >&2; exit 2; }
fi
cmake --build build -j2 --target bench_crypto >&2 || {
  echo "bench/run.sh: build failed (run: cmake --build build -j2 --target bench_crypto)" >&2
  exit 2
}
exec build/bin/bench_crypto "$@"
