#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target of the fuzz preset for a fixed time each. See fuzz/README.md.
set -uo pipefail

usage() {
  cat <<USAGE
usage: fuzz/run.sh [SECONDS]
       fuzz/run.sh --help

Configures (cmake --preset fuzz, once) and builds build-fuzz/, then runs every
build-fuzz/bin/fuzz_* target for SECONDS seconds each (default 30) on a temporary
copy of its committed corpus fuzz/corpus/<surface>/, with fuzz/dict/<surface>.dict
when present. The committed corpus is never modified.

Prints one line per target. Crash inputs are kept in build-fuzz/fuzz-artifacts/<surface>/
and full logs in build-fuzz/fuzz-logs/<surface>.log. Exit status: 0 when every target ran
clean, 1 when any target crashed (or failed to run), 2 on bad usage or a failed build.
USAGE
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
esac
if [[ $# -gt 1 ]]; then usage >&2; exit 2; fi
secs="${1:-30}"
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz/run.sh: SECONDS must be a positive integer, not '$secs'" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
cd "$root" || exit 2

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake --preset fuzz >/dev/null || { echo "fuzz/run.sh: cmake --preset fuzz failed" >&2; exit 2; }
fi
cmake --build build-fuzz -j2 >/dev/null || {
  echo "fuzz/run.sh: build failed (run: cmake --build build-fuzz -j2)" >&2
  exit 2
}

tmp="$(mktemp -d "${TMPDIR:-/tmp}/kms-fuzz.XXXXXX")" || exit 2
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$build/fuzz-logs"

# Print the value following "key" in a libFuzzer log, or "?".
field() { grep -Eo "$1 *[0-9]+" "$2" | tail -n 1 | grep -Eo '[0-9]+$' || echo '?'; }

failed=0 ran=0
for bin in "$build"/bin/fuzz_*; do
  [[ -f "$bin" && -x "$bin" && "$bin" != *_replay ]] || continue
  name="${bin##*/}"
  surface="${name#fuzz_}"
  ran=$((ran + 1))
  corpus="$tmp/corpus-$surface"
  mkdir -p "$corpus"
  if [[ -d "fuzz/corpus/$surface" ]]; then
    cp -R "fuzz/corpus/$surface/." "$corpus/"
  fi
  art="$build/fuzz-artifacts/$surface"
  rm -rf "$art" && mkdir -p "$art"
  args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$art/")
  if [[ -f "fuzz/dict/$surface.dict" ]]; then
    args+=(-dict="fuzz/dict/$surface.dict")
  fi
  log="$build/fuzz-logs/$surface.log"
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  runs="$(field 'stat::number_of_executed_units:' "$log")"
  eps="$(field 'stat::average_exec_per_sec:' "$log")"
  cov="$(field 'cov:' "$log")"
  ft="$(field 'ft:' "$log")"
  corp="$(grep -Eo 'corp: [0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+$' || echo '?')"
  if [[ $rc -eq 0 ]]; then
    rmdir "$art" 2>/dev/null
    printf 'PASS  %-18s %ss runs=%s exec/s=%s cov=%s ft=%s corpus=%s\n' \
      "$name" "$secs" "$runs" "$eps" "$cov" "$ft" "$corp"
  else
    failed=1
    crash="$(ls -1 "$art" 2>/dev/null | head -n 1)"
    printf 'FAIL  %-18s exit=%s artifact=%s log=%s\n' "$name" "$rc" \
      "${crash:+$art/$crash}" "${log#"$root"/}"
    grep -m 1 -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error:' "$log" \
      | sed 's/^/      /'
  fi
done

if [[ $ran -eq 0 ]]; then
  echo "fuzz/run.sh: no fuzz_* targets in $build/bin" >&2
  exit 1
fi
exit "$failed"
