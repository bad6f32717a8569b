#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The call set-up benchmark: wall-clock time and HTTP round trips of `imskms ue offer`, `ue
# answer` and `ue accept` against imskms-bsfd and imskms-kmsd on loopback, per pairing of the
# caller's and the callee's mode, beside the same UEs' `ue request` + `ue resolve` (the pre-SDP
# exchange) and the floors (`imskms --version`, curl GET /healthz). See docs/performance.md.
set -uo pipefail
export LC_ALL=C # $EPOCHREALTIME and awk with a decimal point

usage() {
  cat <<USAGE
usage: bench/run_call.sh [--calls N] [--rounds R] [--pairs LIST]
       bench/run_call.sh --help

Builds imskms, imskms-bsfd and imskms-kmsd in build/ (cmake --preset default, once), then in a
temporary directory (under \$TMPDIR, default /tmp; removed afterwards):
  - a throwaway PKI (tests/http/mkca.sh), a KEK, a subscriber store with two subscribers, A
    (sip:+15550001@bench.example.org) and B (sip:+15550002@bench.example.org), both with K and
    OP of TS 35.208 test set 1, and a simulated USIM for each,
  - imskms-bsfd (realm localhost, sessions of 3600 s, --rate-burst 1000 --rate-period 1: mode 1
    bootstraps in every exchange) and imskms-kmsd (modes 1,2,3,
    --skew 2, a Kkms keyring of 7 days) on 127.0.0.1 port 0 (bench/servers.sh), waiting for the
    KMS's /readyz,
  - for A and B: a bootstrap and a mode-2 Kue in one state directory, a bootstrap and a mode-3
    Kue in another; mode 1 bootstraps afresh in every exchange (--mode 1 --bsf --usim),
and then, R rounds, each timing per pairing N calls A -> B: 'ue offer' (A), 'ue answer' (B),
'ue accept' (A), one process each, every call checked (each step exits 0, B's tgk_fingerprint
is A's, accept's srtp_fingerprint is answer's: a call that fails or disagrees stops the run,
exit 3); then N of the same pairing's 'ue request' (A) + 'ue resolve' (B) (the same HTTP
exchanges without SDP, sessions or the TRANSFER_RESP; fingerprints checked too); and per
round N runs of 'imskms --version' (the floor: one process start) and of
'curl -s http://127.0.0.1:PORT/healthz' (a process start and one HTTP exchange with the KMS).
  --calls N     calls per pairing per round (default 50)
  --rounds R    interleaved rounds (default 3); figures are medians and 90th percentiles
                over all N x R samples
  --pairs LIST  caller-callee mode pairs, comma-separated (default
                11,12,13,21,22,23,31,32,33: all nine)
A UE in mode 1 bootstraps in each of its exchanges: beyond 1000 of them plus one per second of
the run the BSF refuses it (429) and the run stops with exit 3 (the default run makes 900 per
UE).

Times are wall-clock, taken by bash (\$EPOCHREALTIME) around each process, so they include its
start and exit. Round trips are counted per call and side from each step's --trace directory:
KMS exchanges (NNN-recv.mikey files: offer and answer trace only their KMS exchange), Ub
exchanges (NN-request.txt: mode 1's bootstrap); the KMS's request log lines must add up to the
KMS exchanges counted (a warning otherwise); Zn exchanges (the KMS asking the BSF for Ks_NAF)
come from imskms-bsfd's Zn log lines. KEEP=1 in the environment keeps the temporary directory
and every call's files (their paths are printed on stderr).

Prints name=value lines (a human table's lines start with '#'): nproc=, loadavg=, calls=,
rounds=; version_ms_median/p90 and healthz_ms_median/p90; per pair XY (caller mode X, callee
mode Y): call_XY_ms_median/p90 (offer + answer + accept), call_XY_offer_ms_*, call_XY_answer_ms_*,
call_XY_accept_ms_*, call_XY_rt_caller and call_XY_rt_callee (HTTP exchanges per call: Ub +
KMS), call_XY_kms_caller and call_XY_kms_callee (the KMS ones), call_XY_zn (Zn exchanges per
call), base_XY_ms_median/p90 (request + resolve),
call_XY_base_ratio (call median / base median), call_XY_floor_share (3 x version_ms_median /
call median: the part of a call that is process starts). Needs curl and openssl. Exit status:
0; 2 bad usage, a failed build or a server that does not start; 3 a call or an exchange that
failed or whose fingerprints disagree. The figures are informational.
USAGE
}

calls=50
rounds=3
pairs=11,12,13,21,22,23,31,32,33
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --calls|--rounds|--pairs)
      [[ $# -ge 2 ]] || { echo "bench/run_call.sh: $1 needs a value" >&2; exit 2; }
      case "$1" in
        --calls) calls=$2 ;;
        --rounds) rounds=$2 ;;
        --pairs) pairs=$2 ;;
      esac
      shift 2 ;;
    *) echo "bench/run_call.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ $calls =~ ^[1-9][0-9]{0,5}$ ]] || { echo "bench/run_call.sh: --calls: 1 to 999999" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]{0,2}$ ]] || { echo "bench/run_call.sh: --rounds: 1 to 999" >&2; exit 2; }
IFS=, read -r -a pair_list <<<"$pairs"
for p in "${pair_list[@]}"; do
  [[ $p =~ ^[123][123]$ ]] || {
    echo "bench/run_call.sh: --pairs: two modes (1, 2 or 3) per pair, e.g. 11,23: not '$p'" >&2
    exit 2
  }
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=servers.sh
. "$root/bench/servers.sh"

cd "$root" || exit 2
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake --preset default >&2 || { echo "bench/run_call.sh: cmake --preset default failed" >&2; exit 2; }
fi
cmake --build build -j2 --target imskms_bsfd imskms_kmsd imskms_cli >&2 || {
  echo "bench/run_call.sh: build failed (run: cmake --build build -j2 --target imskms_bsfd imskms_kmsd imskms_cli)" >&2
  exit 2
}

tmp=$(mktemp -d)
kms_pid=""
bsf_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  srv_stop_all
  if [[ -n ${KEEP:-} ]]; then echo "bench/run_call.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
die() { echo "bench/run_call.sh: $*" >&2; exit 2; }
# fail WHAT FILE: a call or exchange that did not work (its stderr in FILE), exit 3.
fail() {
  local e
  e=$(head -n 3 "$2" 2>/dev/null)
  echo "bench/run_call.sh: $1${e:+: $e}" >&2
  exit 3
}

B=build/bin/imskms
realm=localhost # the BSF is reached as http://localhost:PORT/ (mode 1 names no --realm)
fqdn=kms.example.org
K=465b5ce8b199b49faa5f0a2ee238a6bc # TS 35.208 test set 1
OP=cdc202d5123e20f62b6d676ac72cb318
declare -A impi=([A]=ue-a@bench.example.org [B]=ue-b@bench.example.org)
declare -A impu=([A]=sip:+15550001@bench.example.org [B]=sip:+15550002@bench.example.org)

sh tests/http/mkca.sh "$tmp/pki" >/dev/null 2>&1 || die "tests/http/mkca.sh failed"
(umask 077 && head -c 32 /dev/urandom >"$tmp/kek")
for u in A B; do
  $B subscriber add --db "$tmp/db" --kek-file "$tmp/kek" --impi "${impi[$u]}" --impu "${impu[$u]}" \
    --k $K --op $OP >/dev/null 2>"$tmp/err" || die "subscriber add $u: $(cat "$tmp/err")"
  $B ue usim-init --usim "$tmp/usim-$u" --impi "${impi[$u]}" --impu "${impu[$u]}" --k $K --op $OP \
    >/dev/null 2>"$tmp/err" || die "usim-init $u: $(cat "$tmp/err")"
done
# Mode 1 bootstraps in every exchange: the per-IMPI challenge rate limit is lifted as far as it goes.
srv_bsfd_start $realm --lifetime 3600 --rate-burst 1000 --rate-period 1
$B keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 604800 --grace 172800 \
  >/dev/null 2>"$tmp/err" || die "keys init failed: $(cat "$tmp/err")"
srv_kmsd_start $fqdn --modes 1,2,3 --skew 2
# The restart rule: requests stamped before start + skew are refused; /readyz says when.
for _ in $(seq 200); do
  [[ $(curl -s "http://127.0.0.1:$kms/readyz") == ready ]] && break
  sleep 0.05
done
[[ $(curl -s "http://127.0.0.1:$kms/readyz") == ready ]] || die "imskms-kmsd is not ready"

U="http://127.0.0.1:$kms/mikey"
UB="http://localhost:$ub/"
for u in A B; do
  for m in 2 3; do
    mkdir "$tmp/$u$m"
    $B ue bootstrap --bsf "$UB" --usim "$tmp/usim-$u" --state "$tmp/$u$m" >/dev/null \
      2>"$tmp/err" || die "ue bootstrap $u: $(cat "$tmp/err")"
    $B ue kue --kms "$U" --kms-fqdn $fqdn --mode $m --state "$tmp/$u$m" >/dev/null 2>"$tmp/err" ||
      die "ue kue --mode $m $u: $(cat "$tmp/err")"
  done
  mkdir "$tmp/${u}1"
done

# side_args U M: a UE's options for an exchange in mode M (into the array side).
side_args() {
  if [[ $2 == 1 ]]; then
    side=(--kms "$U" --state "$tmp/${1}1" --mode 1 --bsf "$UB" --usim "$tmp/usim-$1" --kms-fqdn "$fqdn")
  else
    side=(--kms "$U" --state "$tmp/$1$2")
  fi
}
# timed FILE CMD...: runs CMD (stdout in $tmp/out, stderr in $tmp/err), appends its
# wall-clock microseconds to FILE; returns CMD's status.
timed() {
  local f=$1 t0 t1 rc=0
  shift
  t0=${EPOCHREALTIME/./}
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  t1=${EPOCHREALTIME/./}
  echo $((t1 - t0)) >>"$f"
  return $rc
}
val() { sed -n "s/^$1=//p" "$tmp/out" | head -n 1; }
# counts: the KMS's request lines, the BSF's Zn request lines (neither is summed up in floods).
counts() {
  echo "$(grep -c 'event=request interface=kms ' "$tmp/kmsd.log")" \
    "$(grep -c 'event=request interface=zn ' "$tmp/bsfd.log")"
}
# settled_counts: counts, once two readings 50 ms apart agree (a log line may follow its answer).
settled_counts() {
  local a b
  a=$(counts)
  while sleep 0.05 && b=$(counts) && [[ $a != "$b" ]]; do a=$b; done
  echo "$a"
}
# trace_count DIR: "KMS-exchanges Ub-exchanges" of one step's --trace directory.
trace_count() {
  echo "$(find "$1" -name '*-recv.mikey' | wc -l) $(find "$1" -name '*-request.txt' | wc -l)"
}

s="$tmp/samples"
mkdir "$s" "$tmp/call"
# one_call PAIR I: offer, answer, accept; times into $s/PAIR.{offer,answer,accept}, each
# side's exchanges into $s/PAIR.rt ("caller-KMS caller-Ub callee-KMS callee-Ub").
one_call() {
  local p=$1 i=$2 c=$tmp/call/$1-$r-$2 tgk sfp
  mkdir "$c" "$c/trA" "$c/trB" || die "mkdir $c"
  side_args A "${p:0:1}"
  timed "$s/$p.offer" $B ue offer "${side[@]}" --peer "${impu[B]}" --session "$c/A" \
    --out "$c/offer.sdp" --trace "$c/trA" || fail "call $p #$i: ue offer" "$tmp/err"
  tgk=$(val tgk_fingerprint)
  side_args B "${p:1:1}"
  timed "$s/$p.answer" $B ue answer "${side[@]}" --offer "$c/offer.sdp" --session "$c/B" \
    --out "$c/answer.sdp" --trace "$c/trB" || fail "call $p #$i: ue answer" "$tmp/err"
  [[ -n $tgk && $(val tgk_fingerprint) == "$tgk" ]] ||
    fail "call $p #$i: tgk_fingerprint: offer $tgk, answer $(val tgk_fingerprint)" /dev/null
  sfp=$(val srtp_fingerprint)
  timed "$s/$p.accept" $B ue accept --session "$c/A" --answer "$c/answer.sdp" ||
    fail "call $p #$i: ue accept" "$tmp/err"
  [[ -n $sfp && $(val srtp_fingerprint) == "$sfp" ]] ||
    fail "call $p #$i: srtp_fingerprint: answer $sfp, accept $(val srtp_fingerprint)" /dev/null
  echo "$(trace_count "$c/trA") $(trace_count "$c/trB")" >>"$s/$p.rt"
  [[ -n ${KEEP:-} ]] || rm -rf "$c"
}
# one_base PAIR I: request + resolve, one time per exchange pair into $s/PAIR.base.
one_base() {
  local p=$1 i=$2 c=$tmp/call/base-$1-$r-$2 tgk t0 t1
  mkdir "$c" || die "mkdir $c"
  t0=${EPOCHREALTIME/./}
  side_args A "${p:0:1}"
  $B ue request "${side[@]}" --peer "${impu[B]}" --out "$c/xfer" >"$tmp/out" 2>"$tmp/err" ||
    fail "base $p #$i: ue request" "$tmp/err"
  tgk=$(val tgk_fingerprint)
  side_args B "${p:1:1}"
  $B ue resolve "${side[@]}" --ticket "$c/xfer" >"$tmp/out" 2>"$tmp/err" ||
    fail "base $p #$i: ue resolve" "$tmp/err"
  t1=${EPOCHREALTIME/./}
  [[ -n $tgk && $(val tgk_fingerprint) == "$tgk" ]] ||
    fail "base $p #$i: tgk_fingerprint: request $tgk, resolve $(val tgk_fingerprint)" /dev/null
  echo $((t1 - t0)) >>"$s/$p.base"
  [[ -n ${KEEP:-} ]] || rm -rf "$c"
}

echo "nproc=$(nproc)"
echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "calls=$calls"
echo "rounds=$rounds"
for ((r = 1; r <= rounds; r++)); do
  for ((i = 0; i < calls; i++)); do
    timed "$s/version" $B --version || fail "imskms --version" "$tmp/err"
    timed "$s/healthz" curl -sf "http://127.0.0.1:$kms/healthz" || fail "curl /healthz" "$tmp/err"
  done
  for p in "${pair_list[@]}"; do
    read -r k0 z0 <<<"$(settled_counts)"
    for ((i = 0; i < calls; i++)); do one_call "$p" "$i"; done
    read -r k1 z1 <<<"$(settled_counts)"
    echo "$((k1 - k0)) $((z1 - z0))" >>"$s/$p.logs"
    for ((i = 0; i < calls; i++)); do one_base "$p" "$i"; done
  done
done

# stat FILE: "median p90" in ms (nearest rank) of the microsecond samples in FILE.
stat() {
  sort -n "$1" | awk '{ v[NR] = $1 }
    END { m = int((NR + 1) / 2); q = int(0.9 * NR + 0.999999); if (q < 1) q = 1
          printf "%.2f %.2f\n", v[m] / 1000, v[q] / 1000 }'
}
# per_call FILE COLUMN: the sum of COLUMN over FILE's lines divided by the calls made.
per_call() { awk -v c="$2" -v n=$((calls * rounds)) '{ s += $c } END { printf "%g\n", s / n }' "$1"; }
# sum_files OUT FILES...: the line-wise sums of equally long sample files (one call's steps).
sum_files() { paste "${@:2}" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; print s }' >"$1"; }
# calc EXPR: awk arithmetic, three decimals.
calc() { awk "BEGIN { printf \"%.3g\\n\", $1 }"; }

read -r ver_med ver_p90 <<<"$(stat "$s/version")"
read -r hz_med hz_p90 <<<"$(stat "$s/healthz")"
echo "version_ms_median=$ver_med"
echo "version_ms_p90=$ver_p90"
echo "healthz_ms_median=$hz_med"
echo "healthz_ms_p90=$hz_p90"
table=("# pair  call ms (med p90)  offer  answer  accept  req+res ms (med p90)  ratio  floor  RT caller callee  Zn")
for p in "${pair_list[@]}"; do
  sum_files "$s/$p.call" "$s/$p.offer" "$s/$p.answer" "$s/$p.accept"
  read -r cm c9 <<<"$(stat "$s/$p.call")"
  read -r om o9 <<<"$(stat "$s/$p.offer")"
  read -r am a9 <<<"$(stat "$s/$p.answer")"
  read -r xm x9 <<<"$(stat "$s/$p.accept")"
  read -r bm b9 <<<"$(stat "$s/$p.base")"
  kc=$(per_call "$s/$p.rt" 1)
  ke=$(per_call "$s/$p.rt" 3)
  rtc=$(calc "$kc + $(per_call "$s/$p.rt" 2)")
  rte=$(calc "$ke + $(per_call "$s/$p.rt" 4)")
  kl=$(per_call "$s/$p.logs" 1)
  zn_=$(per_call "$s/$p.logs" 2)
  [[ $(calc "$kc + $ke") == "$(calc "$kl")" ]] ||
    echo "bench/run_call.sh: warning: pair $p: the KMS logged $kl requests per call, the traces count $kc + $ke" >&2
  ratio=$(calc "$cm / $bm")
  share=$(calc "3 * $ver_med / $cm")
  cat <<OUT
call_${p}_ms_median=$cm
call_${p}_ms_p90=$c9
call_${p}_offer_ms_median=$om
call_${p}_offer_ms_p90=$o9
call_${p}_answer_ms_median=$am
call_${p}_answer_ms_p90=$a9
call_${p}_accept_ms_median=$xm
call_${p}_accept_ms_p90=$x9
call_${p}_rt_caller=$rtc
call_${p}_rt_callee=$rte
call_${p}_kms_caller=$kc
call_${p}_kms_callee=$ke
call_${p}_zn=$zn_
base_${p}_ms_median=$bm
base_${p}_ms_p90=$b9
call_${p}_base_ratio=$ratio
call_${p}_floor_share=$share
OUT
  table+=("$(printf '# %s    %7s %7s    %6s  %6s  %6s     %7s %7s    %5s  %5s    %4s  %4s    %4s' \
    "$p" "$cm" "$c9" "$om" "$am" "$xm" "$bm" "$b9" "$ratio" "$share" "$rtc" "$rte" "$zn_")")
done
printf '%s\n' "${table[@]}"
echo "# floors: imskms --version $ver_med ms (p90 $ver_p90), curl GET /healthz $hz_med ms (p90 $hz_p90)"
