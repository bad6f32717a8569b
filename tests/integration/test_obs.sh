#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 16 items 2-4 on loopback: both daemons with --metrics-listen, JSON logs at debug level
# (then logfmt after a SIGHUP), and:
#  - /metrics read with Debian's python3-prometheus-client parser (prom_value.py): the whole
#    exposition parses, and counters move with the requests sent (N bootstraps -> ub 200 +N;
#    a refused KMS request -> its status and error code; replay refusals by reason; the Kkms
#    keys' states, grace and seals; Zn queries; the latency histograms count every request);
#    no metric carries an IMPI or IMPU;
#  - /readyz: 503 during the KMS's restart window (the JSON check restart_window false), 200
#    once it is over; the BSF's store check; the public listeners answer the status alone;
#  - logs: every line is JSON (then logfmt), a request line carries the request id the client
#    got in X-Request-Id, its status, code, client address, duration and identities; debug
#    level logs; a key rotation is logged; no key of the run in any log, trace or output.
# Usage: test_obs.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
set -u
B=$1
D=$2
K=$3
SRC=$4
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
clock_init
# shellcheck source=bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
pid=""
kpid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$kpid" ] && kill -9 "$kpid" 2>/dev/null; rm -rf "$tmp"' EXIT
prom_init "$SRC" || {
    echo "SKIP: python3-prometheus-client missing (scripts/deps.sh installs it)" >&2
    exit 77
}

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPU=sip:+15550001@ims.example.org
FQDN=kms.example.org # the name in tests/http/mkca.sh's NAF certificate
key_add K $KEY
key_add OPc "$("$B" crypto milenage --k $KEY --op $OP --rand 00000000000000000000000000000000 \
    --sqn 000000000000 --amf 8000 | sed -n 's/^opc=//p')"
bsfd_fixture "$SRC/tests/http/mkca.sh" "$IMPI" "$IMPU" $KEY $OP "$tmp/usim"

# scrape URL NAME: the exposition in $tmp/NAME.prom (kept for the no-identity and no-key checks)
scrape() {
    curl -s -o "$tmp/$2.prom" -D "$tmp/$2.hdr" "$1/metrics"
    $PROM "$tmp/$2.prom" check >/dev/null && ok || bad "$2: /metrics does not parse"
}
# val NAME SAMPLE [LABEL=VALUE...]: a value of the scrape $tmp/NAME.prom
val() {
    _f=$1
    shift
    $PROM "$tmp/$_f.prom" "$@"
}
# expect_eq WHAT GOT WANT
expect_eq() {
    [ "$2" = "$3" ] && ok || bad "$1: $2, expected $3"
}
# json_lines FILE: every line after "--- start" markers is a JSON object with time, level,
# prog and event
json_lines() {
    python3 - "$1" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("--- start"):
        continue
    o = json.loads(line)
    assert all(k in o for k in ("time", "level", "prog", "event")), line
    n += 1
print(n)
PY
}

# ---- the BSF: JSON logs at debug level, a metrics listener ----
bsfd_start --log-format json --log-level debug --metrics-listen 127.0.0.1:0
BM="http://127.0.0.1:$(sed -n 's/.*metrics listening on port \([0-9]*\).*/\1/p' "$tmp/bsfd.log")"
[ "$(curl -s "http://localhost:$UB/readyz")" = ready ] && ok || bad "bsf public /readyz"
code=$(curl -s -o "$tmp/bready.json" -w '%{http_code}' "$BM/readyz")
expect_eq "bsf metrics /readyz" "$code" 200
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); c={x["name"]:x for x in o["checks"]}; sys.exit(0 if o["ready"] and c["store"]["ok"] else 1)' \
    "$tmp/bready.json" && ok || bad "bsf readiness JSON: $(cat "$tmp/bready.json")"

scrape "$BM" b0
for i in 1 2 3; do
    mkdir -p "$tmp/ue$i"
    "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" --state "$tmp/ue$i" \
        >"$tmp/out" 2>"$tmp/err" || bad "bootstrap $i: $(cat "$tmp/err")"
    key_add_bootstrap "$tmp/ue$i" $FQDN
    cat "$tmp/out" "$tmp/err" >>"$tmp/all"
done
scrape "$BM" b1
expect_eq "ub 200 OK after 3 bootstraps" \
    $(($(val b1 imskms_requests_total interface=ub status=200 code=OK) - \
        $(val b0 imskms_requests_total interface=ub status=200 code=OK))) 3
expect_eq "bootstraps_total after 3 bootstraps" \
    $(($(val b1 imskms_bsf_bootstraps_total) - $(val b0 imskms_bsf_bootstraps_total))) 3
[ $(($(val b1 imskms_bsf_challenges_total) - $(val b0 imskms_bsf_challenges_total))) -ge 3 ] && ok ||
    bad "challenges_total did not move with 3 bootstraps"
[ "$(val b1 imskms_bsf_sessions)" -ge 3 ] && ok || bad "bsf sessions: $(val b1 imskms_bsf_sessions)"
expect_eq "ub latency count" "$(val b1 imskms_request_duration_seconds_count interface=ub)" \
    "$(val b1 imskms_requests_total interface=ub)"
expect_eq "ub latency +Inf bucket" \
    "$(val b1 imskms_request_duration_seconds_bucket interface=ub le=+Inf)" \
    "$(val b1 imskms_request_duration_seconds_count interface=ub)"
grep -q 'imskms_build_info{program="imskms-bsfd",version="'"$("$D" --version | cut -d' ' -f2)"'"} 1' \
    "$tmp/b1.prom" && ok || bad "bsf build_info: $(grep build_info "$tmp/b1.prom")"
grep -qi '^content-type: text/plain; version=0.0.4' "$tmp/b1.hdr" && ok ||
    bad "metrics content type: $(cat "$tmp/b1.hdr")"
# A bootstrap's request line: JSON, with the IMPI and B-TID as fields.
grep '"event":"request"' "$tmp/bsfd.log" | grep '"status":200' | grep -q '"impi":"'"$IMPI"'".*"btid":"' &&
    ok || bad "no bootstrap request line with impi and btid"

# ---- the KMS: JSON logs at debug level from a configuration file, a metrics listener ----
SKEW=30
# shellcheck source=kmsd_env.sh
. "$SRC/tests/integration/kmsd_env.sh"
printf '[kmsd]\nlog-format = json\nlog-level = debug\nreplay-entries = 5000\n' >"$tmp/kmsd.conf"
kmsd_start --config "$tmp/kmsd.conf" --metrics-listen 127.0.0.1:0
KM="http://127.0.0.1:$(sed -n 's/.*metrics listening on port \([0-9]*\).*/\1/p' "$tmp/kmsd.log")"

# The restart window: not ready, and a request refused 503 (replay refusal "restart").
code=$(curl -s -o "$tmp/pub.out" -w '%{http_code}' "http://localhost:$KMS/readyz")
expect_eq "kms public /readyz in the restart window" "$code:$(cat "$tmp/pub.out")" "503:unready"
code=$(curl -s -o "$tmp/kready.json" -w '%{http_code}' "$KM/readyz")
expect_eq "kms metrics /readyz in the restart window" "$code" 503
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); c={x["name"]:x for x in o["checks"]}; sys.exit(0 if not o["ready"] and not c["restart_window"]["ok"] and c["keyring"]["ok"] and c["store"]["ok"] and not c["bsf"]["required"] else 1)' \
    "$tmp/kready.json" && ok || bad "kms readiness JSON in the window: $(cat "$tmp/kready.json")"
scrape "$KM" k0
"$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 3 --state "$tmp/ue1" \
    >"$tmp/out" 2>"$tmp/err" && bad "a Kue issue in the restart window succeeded" || ok
cat "$tmp/out" "$tmp/err" >>"$tmp/all"
scrape "$KM" k1
expect_eq "kms 503 KMS_ERR_REPLAY_RESTART" \
    $(($(val k1 imskms_requests_total interface=kms status=503 code=KMS_ERR_REPLAY_RESTART) - \
        $(val k0 imskms_requests_total interface=kms status=503 code=KMS_ERR_REPLAY_RESTART))) 1
expect_eq "replay refusals (restart)" \
    $(($(val k1 imskms_replay_refusals_total reason=restart) - \
        $(val k0 imskms_replay_refusals_total reason=restart))) 1

open_window
code=$(curl -s -o "$tmp/pub.out" -w '%{http_code}' "http://localhost:$KMS/readyz")
expect_eq "kms public /readyz after the window" "$code:$(cat "$tmp/pub.out")" "200:ready"
code=$(curl -s -o "$tmp/kready.json" -w '%{http_code}' "$KM/readyz")
expect_eq "kms metrics /readyz after the window" "$code" 200
scrape "$KM" k1b # the public /readyz above counts as a kms request too

# Two Kue issues (modes 3 and 2), the second's bytes posted again: a replay.
m=$(log_mark "$tmp/kmsd.log")
"$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 3 --state "$tmp/ue1" \
    >"$tmp/out" 2>"$tmp/err" && ok || bad "kue mode 3: $(cat "$tmp/err")"
key_add_kue "$tmp/ue1"
cat "$tmp/out" "$tmp/err" >>"$tmp/all"
expect_log "$tmp/kmsd.log" "$m" '"level":"debug".*waits on Zn' "debug line of a request sent to the Zn pool"
mkdir -p "$tmp/tr"
"$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 2 --state "$tmp/ue2" \
    --trace "$tmp/tr" >"$tmp/out" 2>"$tmp/err" && ok || bad "kue mode 2: $(cat "$tmp/err")"
key_add_kue "$tmp/ue2"
cat "$tmp/out" "$tmp/err" >>"$tmp/all"
scrape "$KM" k2
m=$(log_mark "$tmp/kmsd.log")
code=$(curl -s -o "$tmp/post.out" -D "$tmp/post.hdr" -w '%{http_code}' \
    -H 'Content-Type: application/mikey' --data-binary "@$tmp/tr/001-sent.mikey" \
    "http://localhost:$KMS/mikey")
expect_eq "a replayed request" "$code" 403
rid=$(sed -n 's/^X-Request-Id: \([0-9a-f]*\).*/\1/ip' "$tmp/post.hdr")
[ "${#rid}" -eq 16 ] && ok || bad "X-Request-Id: '$rid'"
# Its one line: the id the client got, the status, the code, the client, a duration.
wait_log "$tmp/kmsd.log" "$m" "\"request_id\":\"$rid\"" "$kpid"
log_since "$tmp/kmsd.log" "$m" | grep "\"request_id\":\"$rid\"" >"$tmp/line"
python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).readline()); sys.exit(0 if o["event"]=="request" and o["status"]==403 and o["code"]=="KMS_ERR_REPLAY" and o["client"]=="127.0.0.1" and isinstance(o["duration_us"],int) and o["interface"]=="kms" and o["level"]=="warn" and "btid" in o and "(KMS_ERR_REPLAY)" in o["msg"] else 1)' \
    "$tmp/line" && ok || bad "the replay's request line: $(cat "$tmp/line")"
expect_log "$tmp/kmsd.log" "$m" 'mikey 403 .*(KMS_ERR_REPLAY)' "the replay's line keeps its text"
# A wrong Content-Type: 415 and its code.
curl -s -o /dev/null -H 'Content-Type: text/plain' --data x "http://localhost:$KMS/mikey"
scrape "$KM" k3
expect_eq "kms 200 OK after two Kue issues" \
    $(($(val k2 imskms_requests_total interface=kms status=200 code=OK) - \
        $(val k1b imskms_requests_total interface=kms status=200 code=OK))) 2
expect_eq "kms 403 KMS_ERR_REPLAY" \
    $(($(val k3 imskms_requests_total interface=kms status=403 code=KMS_ERR_REPLAY) - \
        $(val k2 imskms_requests_total interface=kms status=403 code=KMS_ERR_REPLAY))) 1
expect_eq "replay refusals (replay)" \
    $(($(val k3 imskms_replay_refusals_total reason=replay) - \
        $(val k2 imskms_replay_refusals_total reason=replay))) 1
expect_eq "kms 415 KMS_ERR_MEDIA_TYPE" \
    $(($(val k3 imskms_requests_total interface=kms status=415 code=KMS_ERR_MEDIA_TYPE) - \
        $(val k2 imskms_requests_total interface=kms status=415 code=KMS_ERR_MEDIA_TYPE))) 1
expect_eq "replay capacity" "$(val k3 imskms_replay_capacity)" 5000
[ "$(val k3 imskms_replay_entries)" -ge 2 ] && ok || bad "replay entries: $(val k3 imskms_replay_entries)"
expect_eq "key 1 active" "$(val k3 imskms_kkms_state key=1 state=active)" 1
g=$(val k3 imskms_kkms_grace_remaining_seconds key=1)
# keys init --lifetime 3600 --grace 3600, the clock moved SKEW + 1 s since: about 7200 - 31,
# less the real time since keys init (up to 10 minutes allowed: an ASan run on a loaded machine;
# the lifetime or the grace alone would be 3600 or less).
[ "$g" -gt 6600 ] && [ "$g" -le 7200 ] && ok || bad "key 1 grace remaining: $g"
[ "$(val k3 imskms_kkms_seals key=1)" -ge 1 ] && ok || bad "key 1 seals: $(val k3 imskms_kkms_seals key=1)"
[ $(($(val k3 imskms_zn_queries_total) - $(val k0 imskms_zn_queries_total))) -ge 1 ] && ok ||
    bad "no Zn query counted"
expect_eq "kms latency +Inf bucket" \
    "$(val k3 imskms_request_duration_seconds_bucket interface=kms le=+Inf)" \
    "$(val k3 imskms_requests_total interface=kms)"
expect_eq "kms ready gauge" "$(val k3 imskms_ready)" 1
# Request ids differ from request to request.
r1=$(curl -s -D - -o /dev/null "http://localhost:$KMS/healthz" | sed -n 's/^X-Request-Id: //ip' | tr -d '\r')
r2=$(curl -s -D - -o /dev/null "http://localhost:$KMS/healthz" | sed -n 's/^X-Request-Id: //ip' | tr -d '\r')
[ -n "$r1" ] && [ "$r1" != "$r2" ] && ok || bad "request ids '$r1' '$r2'"
# The metrics listener: unknown paths 404, other methods 405.
expect_eq "metrics 404" "$(curl -s -o /dev/null -w '%{http_code}' "$KM/nowhere")" 404
expect_eq "metrics POST" "$(curl -s -o /dev/null -w '%{http_code}' --data x "$KM/metrics")" 405

# A rotation is logged and shows in the metrics.
m=$(log_mark "$tmp/kmsd.log")
"$B" keys rotate --keyring "$tmp/keyring" --kek-file "$tmp/kek" >/dev/null || bad "keys rotate"
wait_log "$tmp/kmsd.log" "$m" '"event":"keyring","change":"rotated","key":2' "$kpid" && ok ||
    bad "rotation not logged: $(log_since "$tmp/kmsd.log" "$m")"
scrape "$KM" k4
expect_eq "key 2 active" "$(val k4 imskms_kkms_state key=2 state=active)" 1
expect_eq "key 1 in grace" "$(val k4 imskms_kkms_state key=1 state=grace)" 1
# A revocation too.
m=$(log_mark "$tmp/kmsd.log")
"$B" keys revoke --keyring "$tmp/keyring" --kek-file "$tmp/kek" 1 >/dev/null || bad "keys revoke"
wait_log "$tmp/kmsd.log" "$m" '"event":"keyring","change":"revoked","key":1' "$kpid" && ok ||
    bad "revocation not logged: $(log_since "$tmp/kmsd.log" "$m")"
scrape "$KM" k5
expect_eq "key 1 destroyed" "$(val k5 imskms_kkms_state key=1 state=destroyed)" 1
expect_eq "key 1 grace over" "$(val k5 imskms_kkms_grace_remaining_seconds key=1)" 0

# Every line so far is JSON.
n=$(json_lines "$tmp/kmsd.log") && [ "$n" -gt 10 ] && ok || bad "kmsd.log: not JSON lines ($n)"
n=$(json_lines "$tmp/bsfd.log") && [ "$n" -gt 10 ] && ok || bad "bsfd.log: not JSON lines ($n)"
grep -q '"level":"debug"' "$tmp/bsfd.log" && ok || bad "bsfd: no debug line at debug level"

# ---- SIGHUP: back to logfmt at info level ----
sed -i -e 's/^log-format = .*/log-format = logfmt/' -e 's/^log-level = .*/log-level = info/' \
    "$tmp/kmsd.conf"
m=$(log_mark "$tmp/kmsd.log")
kill -HUP "$kpid"
wait_log "$tmp/kmsd.log" "$m" 'reload done' "$kpid" && ok || bad "reload: $(log_since "$tmp/kmsd.log" "$m")"
expect_log "$tmp/kmsd.log" "$m" 'reload: log-format: json -> logfmt' "log format reload"
m=$(log_mark "$tmp/kmsd.log")
"$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 3 --state "$tmp/ue3" \
    >"$tmp/out" 2>"$tmp/err" && ok || bad "kue mode 3 after the reload: $(cat "$tmp/err")"
key_add_kue "$tmp/ue3"
cat "$tmp/out" "$tmp/err" >>"$tmp/all"
wait_log "$tmp/kmsd.log" "$m" '^time=[^ ]* level=info prog=imskms-kmsd event=request interface=kms request_id=[0-9a-f]\{16\} client=127.0.0.1 method=POST path=/mikey status=200 ' "$kpid" &&
    ok || bad "no logfmt request line: $(log_since "$tmp/kmsd.log" "$m")"
log_has "$tmp/kmsd.log" "$m" 'level=debug' && bad "a debug line at info level" || ok

# ---- personal data and keys ----
# No metric names a subscriber (IMPI, IMPU, B-TID): they are log fields only.
btid=$(sed -n 's/^btid=//p' "$tmp/ue1/bootstrap")
for f in "$tmp"/*.prom "$tmp/bready.json" "$tmp/kready.json"; do
    grep -q -e "$IMPI" -e "$IMPU" -e "${btid:-none}" "$f" && bad "an identity in $(basename "$f")" || ok
done
kmsd_stop
bsfd_stop
cat "$tmp"/*.prom "$tmp"/tr/* >>"$tmp/all" 2>/dev/null
expect_no_keys "JSON and logfmt logs, metrics, traces, CLI output" "$tmp/kmsd.log" "$tmp/bsfd.log" \
    "$tmp/all"
finish "test_obs.sh"
