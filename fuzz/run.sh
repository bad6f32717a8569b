#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target of the fuzz preset for a fixed time each. See fuzz/README.md.
set -uo pipefail

usage() {
  cat <<USAGE
usage: fuzz/run.sh [--jobs N] [--handler-seconds S] [--merge] [SECONDS]
       fuzz/run.sh --help

Configures (cmake --preset fuzz, once) and builds build-fuzz/, then runs every
build-fuzz/bin/fuzz_* target for SECONDS seconds each (default 30) on a temporary
copy of its committed corpus fuzz/corpus/<surface>/, with fuzz/dict/<surface>.dict
when present.

  --jobs N             run N targets at once (default 1); each target is one process,
                       so a run costs about (targets x SECONDS) / N of wall time
  --handler-seconds S  the whole-handler targets (kms_service, bsf_ub, bsf_zn: where the
                       state machines are) run S seconds instead of SECONDS
  --merge              afterwards add to fuzz/corpus/<surface>/ the inputs of the run that
                       add coverage to it (libFuzzer -merge=1; nothing committed is
                       removed); without it the committed corpus is never modified

Prints one line per target: executions, exec/s, coverage (cov: edges, ft: features) when
the corpus was loaded and at the end, corpus size. Crash inputs are kept in
build-fuzz/fuzz-artifacts/<surface>/ and full logs in build-fuzz/fuzz-logs/<surface>.log.
Exit status: 0 when every target ran clean, 1 when any target crashed (or failed to run),
2 on bad usage or a failed build.
USAGE
}

secs=30 jobs=1 hsecs="" merge=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --jobs) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; jobs=$2; shift ;;
    --handler-seconds) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; hsecs=$2; shift ;;
    --merge) merge=1 ;;
    -*) echo "fuzz/run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) secs=$1 ;;
  esac
  shift
done
for v in "$secs" "$jobs" "${hsecs:-1}"; do
  if ! [[ "$v" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz/run.sh: SECONDS, --jobs and --handler-seconds take a positive integer, not '$v'" >&2
    exit 2
  fi
done
hsecs="${hsecs:-$secs}"

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

# The first and the last "cov: N ft: M" of a libFuzzer log (INITED, then the last status line).
cov_at() { grep -Eo "$1.*cov: [0-9]+ ft: [0-9]+" "$2" | head -n 1 | grep -Eo 'cov: [0-9]+ ft: [0-9]+' \
  | sed -E 's/cov: ([0-9]+) ft: ([0-9]+)/\1 \2/' || true; }

# Runs one target; its result line goes to $tmp/result-<surface>.
run_one() {
  local bin=$1 name surface corpus art args log rc t runs eps corp before after line
  name="${bin##*/}"
  surface="${name#fuzz_}"
  case "$surface" in kms_service|bsf_ub|bsf_zn) t=$hsecs ;; *) t=$secs ;; esac
  corpus="$tmp/corpus-$surface"
  mkdir -p "$corpus"
  if [[ -d "fuzz/corpus/$surface" ]]; then
    cp -R "fuzz/corpus/$surface/." "$corpus/"
  fi
  art="$build/fuzz-artifacts/$surface"
  rm -rf "$art" && mkdir -p "$art"
  args=(-max_total_time="$t" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$art/")
  if [[ -f "fuzz/dict/$surface.dict" ]]; then
    args+=(-dict="fuzz/dict/$surface.dict")
  fi
  log="$build/fuzz-logs/$surface.log"
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  runs="$(field 'stat::number_of_executed_units:' "$log")"
  eps="$(field 'stat::average_exec_per_sec:' "$log")"
  before="$(cov_at 'INITED' "$log")"
  after="$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 | sed -E 's/cov: ([0-9]+) ft: ([0-9]+)/\1 \2/')"
  corp="$(grep -Eo 'corp: [0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+$' || echo '?')"
  if [[ $rc -eq 0 ]]; then
    rmdir "$art" 2>/dev/null
    line="$(printf 'PASS  %-22s %ss runs=%s exec/s=%s cov=%s->%s ft=%s->%s corpus=%s' \
      "$name" "$t" "$runs" "$eps" "${before%% *}" "${after%% *}" "${before##* }" "${after##* }" "$corp")"
    if [[ $merge -eq 1 ]]; then
      # Additive: libFuzzer copies into the committed corpus only the new inputs that add
      # coverage to it; every committed input (the hand-written and model-made seeds) stays.
      local n_old n_new
      mkdir -p "fuzz/corpus/$surface"
      n_old=$(find "fuzz/corpus/$surface" -type f | wc -l)
      if "$bin" -merge=1 "fuzz/corpus/$surface" "$corpus" >"$log.merge" 2>&1; then
        n_new=$(find "fuzz/corpus/$surface" -type f | wc -l)
        line="$line merged=$n_old->$n_new"
      else
        line="$line merge=FAILED"
      fi
    fi
    echo "$line" >"$tmp/result-$surface"
  else
    local crash
    crash="$(ls -1 "$art" 2>/dev/null | head -n 1)"
    { printf 'FAIL  %-22s exit=%s artifact=%s log=%s\n' "$name" "$rc" \
        "${crash:+$art/$crash}" "${log#"$root"/}"
      grep -m 1 -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error:' "$log" \
        | sed 's/^/      /'; } >"$tmp/result-$surface"
  fi
}

ran=0
for bin in "$build"/bin/fuzz_*; do
  [[ -f "$bin" && -x "$bin" && "$bin" != *_replay ]] || continue
  ran=$((ran + 1))
  while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do
    wait -n
  done
  run_one "$bin" &
done
wait
failed=0
for r in "$tmp"/result-*; do
  [[ -f "$r" ]] || continue
  cat "$r"
  grep -q '^FAIL' "$r" && failed=1
done
if [[ $(ls "$tmp"/result-* 2>/dev/null | wc -l) -ne $ran ]]; then
  echo "fuzz/run.sh: $ran targets, fewer results" >&2
  failed=1
fi

if [[ $ran -eq 0 ]]; then
  echo "fuzz/run.sh: no fuzz_* targets in $build/bin" >&2
  exit 1
fi
exit "$failed"
