#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A KMS fleet on Redis (issue 20): three imskms-kmsd nodes with --redis on one redis-server of
# the test's own (a unix socket in the temporary directory, no TCP port, no persistence), one
# BSF, one keyring file shared by the nodes (kms_keyring locks and re-reads it: several
# processes may hold it), one KMS FQDN:
#  - usage: --redis with --state-db, a bad URL, --redis without --kek-file: exit 2, one line;
#  - a Kue issued at node 1, a ticket request at node 2, its resolve at node 3: equal
#    fingerprints; the request replayed to the other nodes: 403 replay;
#  - a mode-2 Kue issued at node 1 used at node 3; imskms kue list / revoke --redis; a revoked
#    one refused at node 2;
#  - metrics: the Redis round trips, errors and latency histogram (Prometheus parser);
#  - start checks: maxmemory-policy other than noeviction, another --skew: the node refuses to
#    start with one line;
#  - kill -9 of node 1 under load on the others: no error there; node 1 restarted serves its
#    first request at once;
#  - Redis out of memory (maxmemory 1): 503 store-unavailable, nothing written (the refused
#    request is accepted once memory is back); Redis stalled (SIGSTOP): 503 after the command
#    time-out, then service after SIGCONT, the stalled request never accepted twice;
#  - Redis stopped: 503 store-unavailable (Imskms-Reason), a request accepted before not accepted
#    again; Redis started again, empty: the nodes reconnect by themselves, the restart rule
#    applies once (503 starting until now + skew), then service; a durable Redis (appendonly
#    yes, appendfsync always) restarted: no restart window, replays still refused;
#  - roles: the KMS works with exactly the ACL of docs/scaling.md, and fails closed (503) when
#    the ACL denies a command; without the password it does not start.
# Usage: test_kms_fleet.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
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
pid=""
kp1="" kp2="" kp3="" kp4=""
loaders=""
trap 'for p in $pid $kp1 $kp2 $kp3 $kp4 $loaders ${REDIS_PID:-}; do kill -9 "$p" 2>/dev/null; done;
    rm -rf "$tmp"' EXIT

command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "FAIL: redis-server and redis-cli are needed (scripts/deps.sh installs redis-server)" >&2
    exit 1
}
prom_init "$SRC" || bad "python3-prometheus-client missing (scripts/deps.sh installs it)"

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPU=sip:+15550001@ims.example.org
IMPI_B=001010000000002@ims.mnc001.mcc001.3gppnetwork.org
IMPU_B=sip:+15550002@ims.example.org
FQDN=kms.example.org
# shellcheck source=bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
bsfd_pki "$SRC/tests/http/mkca.sh"
DB="$tmp/db"
for who in A B; do
    if [ $who = A ]; then i=$IMPI u=$IMPU us="$tmp/usim"; else i=$IMPI_B u=$IMPU_B us="$tmp/usim-b"; fi
    "$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$i" --impu "$u" --k $KEY \
        --op $OP >/dev/null || bad "subscriber add $who"
    "$B" ue usim-init --usim "$us" --impi "$i" --impu "$u" --k $KEY --op $OP >/dev/null ||
        bad "usim-init $who"
done
# The KMS's own KEK (roles: not the BSF's, which seals the subscribers in $tmp/kek). Nothing the
# BSF wrote opens under it.
KK="$tmp/kms-kek"
head -c 32 /dev/urandom >"$KK"
chmod 600 "$KK"
run 1 "the BSF's subscribers under the KMS's KEK" "$B" subscriber list --db "$DB" --kek-file "$KK"
"$B" keys init --keyring "$tmp/keyring" --kek-file "$KK" --lifetime 3600 --grace 3600 \
    >/dev/null || bad "keys init"
bsfd_start
mkdir -p "$tmp/ue" "$tmp/ue-b"
"$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" --state "$tmp/ue" >/dev/null \
    2>"$tmp/err" || bad "bootstrap A: $(cat "$tmp/err")"
"$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim-b" --state "$tmp/ue-b" \
    >/dev/null 2>"$tmp/err" || bad "bootstrap B: $(cat "$tmp/err")"

# ---- Redis ----
# The shared fixture, not durable here (the restart rule is what is tested): later options win.
# shellcheck source=redis_env.sh
. "$SRC/tests/integration/redis_env.sh"
SOCK="$tmp/redis/redis.sock"
RURL="unix://$SOCK"
rcli() { redis-cli -s "$SOCK" ${RCLI_AUTH:-} "$@" 2>/dev/null; }
fleet_redis_start() { # [more redis-server options]
    mkdir -p "$tmp/redis"
    redis_start "$tmp/redis" --appendonly no "$@" || {
        echo "FAIL: redis-server did not start: $(tail -n 5 "$tmp/redis/redis.log")" >&2
        exit 1
    }
}

# ---- the nodes ----
SKEW=30
NSKEW=$SKEW # node_refused's --skew
# node_start N [OPTS]: node N on a fresh port, its log in $tmp/kmsN.log, $kpN and $PN set.
node_start() {
    _n=$1
    shift
    echo "--- start" >>"$tmp/kms$_n.log"
    _km=$(log_mark "$tmp/kms$_n.log")
    "$K" --listen 127.0.0.1:0 --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" \
        --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
        --keyring "$tmp/keyring" --kek-file "$KK" --redis "$RURL" --skew "$SKEW" \
        "$@" 2>>"$tmp/kms$_n.log" &
    eval "kp$_n=$!"
    wait_log "$tmp/kms$_n.log" "$_km" 'kms listening' "$!"
    _p=$(log_since "$tmp/kms$_n.log" "$_km" | sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p')
    [ -n "$_p" ] || {
        echo "FAIL: node $_n did not start: $(log_since "$tmp/kms$_n.log" "$_km")" >&2
        exit 1
    }
    eval "P$_n=$_p"
}
# node_refused N WHAT PATTERN [OPTS]: node N exits at start (non-zero) logging PATTERN.
node_refused() {
    _n=$1 _what=$2 _pat=$3
    shift 3
    echo "--- start" >>"$tmp/kms$_n.log"
    _km=$(log_mark "$tmp/kms$_n.log")
    "$K" --listen 127.0.0.1:0 --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" \
        --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
        --keyring "$tmp/keyring" --kek-file "$KK" --redis "$RURL" --skew "$NSKEW" \
        "$@" 2>>"$tmp/kms$_n.log"
    _st=$?
    [ $_st -ne 0 ] && ok || bad "$_what: the node started"
    expect_log "$tmp/kms$_n.log" "$_km" "$_pat" "$_what"
    [ "$(log_since "$tmp/kms$_n.log" "$_km" | grep -c 'level=error')" = 1 ] && ok ||
        bad "$_what: not one error line: $(log_since "$tmp/kms$_n.log" "$_km")"
}
node_kill() { # N
    eval "_p=\$kp$1"
    kill -9 "$_p"
    wait "$_p" 2>/dev/null
    eval "kp$1=''"
}
node_stop() { # N
    eval "_p=\$kp$1"
    kill -TERM "$_p"
    wait "$_p"
    _st=$?
    eval "kp$1=''"
    [ $_st -eq 0 ] && ok || bad "node $1 SIGTERM: exit $_st"
}
port_of() { eval "echo \$P$1"; }
# kue N STATE MODE [OPTS], request N STATE PEER OUT [OPTS], resolve N STATE TRANSFER: the UE
# against node N; output in $tmp/out and $tmp/err, m the node's log mark before.
kue() {
    _n=$1 _d=$2 _md=$3
    shift 3
    m=$(log_mark "$tmp/kms$_n.log")
    "$B" ue kue --kms "http://localhost:$(port_of "$_n")" --kms-fqdn $FQDN --mode "$_md" \
        --state "$_d" "$@" >"$tmp/out" 2>"$tmp/err"
}
request() {
    _n=$1 _d=$2 _peer=$3 _o=$4
    shift 4
    m=$(log_mark "$tmp/kms$_n.log")
    "$B" ue request --kms "http://localhost:$(port_of "$_n")" --peer "$_peer" --state "$_d" \
        --out "$_o" "$@" >"$tmp/out" 2>"$tmp/err"
}
resolve() {
    m=$(log_mark "$tmp/kms$1.log")
    "$B" ue resolve --kms "http://localhost:$(port_of "$1")" --ticket "$3" --state "$2" \
        >"$tmp/out" 2>"$tmp/err"
}
post() { # N FILE -> $code, headers in $tmp/post.hdr, m the node's log mark
    m=$(log_mark "$tmp/kms$1.log")
    code=$(curl -s -o "$tmp/post.out" -D "$tmp/post.hdr" -w '%{http_code}' \
        -H 'Content-Type: application/mikey' --data-binary "@$2" \
        "http://localhost:$(port_of "$1")/mikey")
}
fp() { sed -n 's/^tgk_fingerprint=//p' "$tmp/out"; }
logged() { # N WHAT PATTERN: in node N's lines since m
    expect_log "$tmp/kms$1.log" "$m" "$3" "$2"
}

# ---- usage ----
ZNOPTS="--listen 127.0.0.1:0 --fqdn $FQDN --bsf-zn https://localhost:$ZN --zn-cert $tmp/pki/naf.crt
    --zn-key $tmp/pki/naf.key --zn-ca $tmp/pki/ca.crt --keyring $tmp/keyring"
# shellcheck disable=SC2086
run 2 "--redis with --state-db" "$K" $ZNOPTS --kek-file "$KK" --redis "$RURL" \
    --state-db "$tmp/state.db" && grep -q -- '--redis and --state-db' "$tmp/err" && ok ||
    bad "--redis with --state-db: $(cat "$tmp/err")"
# shellcheck disable=SC2086
run 2 "a bad --redis URL" "$K" $ZNOPTS --kek-file "$KK" --redis "redis://host"
# shellcheck disable=SC2086
run 2 "--redis without --kek-file" "$K" $ZNOPTS --hsm "pkcs11:token=x" --modes 3 --redis "$RURL"
run 2 "kue list with --redis and --state-db" "$B" kue list --redis "$RURL" --state-db "$tmp/x" \
    --kek-file "$KK"

fleet_redis_start

# ---- start checks: noeviction, one skew ----
rcli config set maxmemory-policy allkeys-lru >/dev/null
node_refused 4 "maxmemory-policy allkeys-lru" 'maxmemory-policy is allkeys-lru: it must be noeviction'
rcli config set maxmemory-policy noeviction >/dev/null
# check NAME EXIT [OPTS]: imskms-kmsd --check-config on the fleet's Redis.
check() {
    _what=$1 _want=$2
    shift 2
    run "$_want" "$_what" "$K" --check-config --listen 127.0.0.1:0 --fqdn "$FQDN" \
        --bsf-zn "https://localhost:$ZN" --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" \
        --zn-ca "$tmp/pki/ca.crt" --keyring "$tmp/keyring" --kek-file "$KK" --redis "$RURL" "$@"
}
# --check-config on the fleet's still empty Redis passes and writes nothing: the skew and the
# marker are a start's to create (and an empty Redis's restart window a start's to open).
check "--check-config on an empty Redis" 0 --skew "$SKEW"
[ "$(rcli dbsize)" = 0 ] && ok || bad "--check-config wrote to Redis: $(rcli --scan)"

node_start 1 --metrics-listen 127.0.0.1:0
KM1="http://127.0.0.1:$(sed -n 's/.*metrics listening on port \([0-9]*\).*/\1/p' "$tmp/kms1.log" | head -n 1)"
expect_log "$tmp/kms1.log" 0 'fleet marker absent, created anew' "the first node of an empty Redis"
node_start 2
node_start 3
NSKEW=$((SKEW + 1))
node_refused 4 "another --skew" "the fleet's --skew is $SKEW s"
NSKEW=$SKEW
# A check reads what is there: the fleet's skew against its own, and leaves the horizon alone
# (a key with a TTL of the skew in real time: it is compared apart, and may expire meanwhile).
rcli --scan | grep -v horizon | sort >"$tmp/keys.before"
hz=$(rcli --scan --pattern '*horizon*' | head -n 1)
pttl=$([ -n "$hz" ] && rcli pttl "$hz")
# (a check run as a start would: the warning naming both skews, then its error line)
"$K" --check-config --listen 127.0.0.1:0 --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" \
    --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
    --keyring "$tmp/keyring" --kek-file "$KK" --redis "$RURL" --skew $((SKEW + 1)) \
    >/dev/null 2>"$tmp/err"
[ $? -ne 0 ] && grep -q "the fleet's skew is $SKEW s" "$tmp/err" && ok ||
    bad "--check-config with another --skew: $(cat "$tmp/err")"
check "--check-config with the fleet's --skew" 0 --skew "$SKEW"
rcli --scan | grep -v horizon | sort | cmp -s - "$tmp/keys.before" && ok ||
    bad "--check-config changed Redis's keys"
if [ -n "$hz" ]; then
    [ "$(rcli pttl "$hz")" -le "$pttl" ] && ok || bad "--check-config set the horizon again"
else
    [ -z "$(rcli --scan --pattern '*horizon*')" ] && ok || bad "--check-config set a horizon"
fi
# An empty Redis at the fleet's first start: the restart rule, fleet-wide (node 2 learnt the
# horizon from Redis).
kue 2 "$tmp/ue" 3
[ $? -ne 0 ] && ok || bad "a request inside the first start's window was served"
logged 2 "the first start's window" 'mikey 503 .*(KMS_ERR_REPLAY_RESTART)'
clock_advance $((SKEW + 1))

# ---- one Kue, three nodes ----
kue 1 "$tmp/ue" 3 && ok || bad "kue at node 1: $(cat "$tmp/err")"
kue 3 "$tmp/ue-b" 3 && ok || bad "kue of B at node 3: $(cat "$tmp/err")"
mkdir -p "$tmp/tr-req"
request 2 "$tmp/ue" "$IMPU_B" "$tmp/xfer" --trace "$tmp/tr-req" && ok ||
    bad "request at node 2: $(cat "$tmp/err")"
FA=$(fp)
resolve 3 "$tmp/ue-b" "$tmp/xfer" && ok || bad "resolve at node 3: $(cat "$tmp/err")"
FB=$(fp)
printf '%s' "$FA" | grep -Eq '^[0-9a-f]{16}$' && [ "$FA" = "$FB" ] && ok ||
    bad "fingerprints differ across nodes: '$FA' '$FB'"
for n in 1 3 2; do
    post $n "$tmp/tr-req/001-sent.mikey"
    [ "$code" = 403 ] && ok || bad "the request replayed to node $n: $code, not 403"
    logged $n "the request replayed to node $n" 'mikey 403 .*(KMS_ERR_REPLAY)'
done

# ---- mode 2 across nodes, imskms kue --redis ----
mkdir -p "$tmp/ue2"
cp "$tmp/ue/bootstrap" "$tmp/ue2/"
kue 1 "$tmp/ue2" 2 && ok || bad "mode-2 kue at node 1: $(cat "$tmp/err")"
request 3 "$tmp/ue2" "$IMPU_B" "$tmp/xfer2" && ok || bad "mode-2 request at node 3: $(cat "$tmp/err")"
run 0 "kue list --redis" "$B" kue list --redis "$RURL" --kek-file "$KK"
[ "$(grep -c "^ref=[0-9a-f]\{32\} identity=$IMPI " "$tmp/out")" = 1 ] && ok ||
    bad "kue list --redis: $(cat "$tmp/out")"
REF=$(sed -n 's/^ref=\([0-9a-f]*\) .*/\1/p' "$tmp/out")
# A Kue in Redis under another KEK does not open: the record's seal binds it (exit 1).
head -c 32 /dev/urandom >"$tmp/kek2"
chmod 600 "$tmp/kek2"
run 1 "kue list --redis under another KEK" "$B" kue list --redis "$RURL" --kek-file "$tmp/kek2"
run 0 "kue revoke --redis" "$B" kue revoke --redis "$RURL" --kek-file "$KK" --ref "$REF"
grep -q '^revoked=1$' "$tmp/out" && ok || bad "kue revoke --redis: $(cat "$tmp/out")"
request 2 "$tmp/ue2" "$IMPU_B" "$tmp/xfer3"
[ $? -ne 0 ] && ok || bad "a revoked mode-2 Kue was served at node 2"
logged 2 "a revoked mode-2 Kue" 'mikey 403 '

# ---- metrics ----
curl -s -o "$tmp/m1.prom" "$KM1/metrics"
$PROM "$tmp/m1.prom" check >/dev/null && ok || bad "/metrics does not parse"
rt=$($PROM "$tmp/m1.prom" imskms_redis_round_trips_total)
[ "$rt" -gt 10 ] && ok || bad "imskms_redis_round_trips_total: $rt"
[ "$($PROM "$tmp/m1.prom" imskms_redis_errors_total)" = 0 ] && ok ||
    bad "imskms_redis_errors_total: $($PROM "$tmp/m1.prom" imskms_redis_errors_total)"
[ "$($PROM "$tmp/m1.prom" imskms_redis_latency_seconds_count)" = "$rt" ] && ok ||
    bad "latency count differs from round trips"
[ "$($PROM "$tmp/m1.prom" imskms_redis_latency_seconds_bucket le=+Inf)" = "$rt" ] && ok ||
    bad "latency +Inf bucket differs from round trips"

# ---- kill -9 of node 1 under load on nodes 2 and 3 ----
load() { # N TAG: 12 Kue issues at node N, one after the other; failures counted in $tmp/fail-TAG
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        _d="$tmp/l$2-$i"
        mkdir -p "$_d"
        cp "$tmp/ue/bootstrap" "$_d/"
        if "$B" ue kue --kms "http://localhost:$(port_of "$1")" --kms-fqdn $FQDN --mode 3 \
            --state "$_d" >/dev/null 2>>"$tmp/fail-$2.err"; then
            touch "$_d/acked"
        else
            echo x >>"$tmp/fail-$2"
        fi
    done
}
load 2 a &
loaders="$!"
load 3 b &
loaders="$loaders $!"
_n=0
# Up to 60 s for four acknowledged requests (ASan CLI runs on a loaded machine).
while [ "$(find "$tmp" -name acked | wc -l)" -lt 4 ] && [ $_n -lt 1200 ]; do
    sleep 0.05
    _n=$((_n + 1))
done
node_kill 1
for l in $loaders; do wait "$l"; done
loaders=""
[ ! -e "$tmp/fail-a" ] && [ ! -e "$tmp/fail-b" ] && ok ||
    bad "errors at nodes 2 and 3 while node 1 died: $(cat "$tmp"/fail-*.err 2>/dev/null | head -n 3)"
[ "$(find "$tmp" -name acked | wc -l)" = 24 ] && ok || bad "not every load request was served"
# Restarted (no clock moved): its first request at once, and a replay still refused there.
node_start 1
kue 1 "$tmp/ue" 3 && ok || bad "the first request of a restarted node: $(cat "$tmp/err")"
post 1 "$tmp/tr-req/001-sent.mikey"
[ "$code" = 403 ] && ok || bad "a replay at the restarted node: $code"

# marks: each node's log mark; all_noticed WHAT: every node logs the restart rule after them
# (before the test clock moves on: a node noticing later would set its horizon from there).
marks() { for _n in 1 2 3; do eval "mk$_n=$(log_mark "$tmp/kms$_n.log")"; done; }
all_noticed() {
    for _n in 1 2 3; do
        eval "_mk=\$mk$_n _p=\$kp$_n"
        wait_log "$tmp/kms$_n.log" "$_mk" 'restart rule applies fleet-wide' "$_p" && ok ||
            bad "node $_n did not notice $1"
    done
}

# store_refused WHAT DIR [N [M]]: while Redis is unusable, a request at node N (default 2)
# fails (503 with KMS_ERR_STORE in its log; its messages traced in DIR) and its first message
# posted to node M (default 3) is answered 503 store-unavailable.
store_refused() {
    _rn=${3:-2} _pn=${4:-3}
    mkdir -p "$2"
    kue "$_rn" "$tmp/ue" 3 --trace "$2"
    [ $? -ne 0 ] && ok || bad "a request served while $1"
    logged "$_rn" "$1" 'mikey 503 .*(KMS_ERR_STORE)'
    post "$_pn" "$2/001-sent.mikey"
    [ "$code" = 503 ] && grep -qi '^Imskms-Reason: store-unavailable' "$tmp/post.hdr" && ok ||
        bad "$1: $code, $(grep -i '^Imskms-Reason' "$tmp/post.hdr")"
}

# ---- Redis out of memory: 503, nothing written, service back when memory is ----
# maxmemory 1 under noeviction: Redis refuses every write with an OOM error reply.
rcli config set maxmemory 1 >/dev/null || bad "config set maxmemory"
store_refused "Redis is out of memory" "$tmp/tr-oom"
post 1 "$tmp/tr-req/001-sent.mikey"
[ "$code" = 503 ] && ok || bad "a request accepted before, sent while Redis is out of memory: $code"
rcli config set maxmemory 0 >/dev/null || bad "config set maxmemory 0"
# Nothing was written for the refused request: it is accepted now, once.
post 3 "$tmp/tr-oom/001-sent.mikey"
[ "$code" = 200 ] && ok || bad "the request refused under OOM, sent again after: $code"
post 1 "$tmp/tr-oom/001-sent.mikey"
[ "$code" = 403 ] && ok || bad "that request replayed to another node: $code"
kue 2 "$tmp/ue" 3 && ok || bad "service after the OOM: $(cat "$tmp/err")"

# ---- Redis stalled (SIGSTOP): 503 after the command time-out, not a hung thread ----
kill -STOP "$REDIS_PID"
s0=$(date +%s)
store_refused "Redis is stalled" "$tmp/tr-stall"
s1=$(date +%s)
# A loose bound (the time-out is 200 ms per command): the two requests do not wait for Redis.
[ $((s1 - s0)) -le 10 ] && ok || bad "two requests took $((s1 - s0)) s on a stalled Redis"
kill -CONT "$REDIS_PID"
# A SET that timed out may still run when Redis resumes: the request may be refused as a
# replay then (the safe way), but it is never accepted twice.
post 3 "$tmp/tr-stall/001-sent.mikey"
case $code in 200 | 403) ok ;; *) bad "the stalled request after SIGCONT: $code" ;; esac
post 1 "$tmp/tr-stall/001-sent.mikey"
[ "$code" = 403 ] && ok || bad "the stalled request replayed after SIGCONT: $code"
kue 3 "$tmp/ue" 3 && ok || bad "service after the stall: $(cat "$tmp/err")"
kue 2 "$tmp/ue" 3 && ok || bad "service after the stall at node 2: $(cat "$tmp/err")"

# ---- Redis stopped, then started again empty ----
redis_stop
store_refused "Redis is down" "$tmp/tr-down"
grep -qi '^Retry-After: [0-9]' "$tmp/post.hdr" && ok || bad "Redis down: no Retry-After"
post 3 "$tmp/tr-req/001-sent.mikey"
[ "$code" = 503 ] && ok || bad "a request accepted before, sent while Redis is down: $code"
mr=$(log_mark "$tmp/kms2.log")
marks
fleet_redis_start
# The nodes find Redis again by themselves (every node's tick pings it each second).
all_noticed "the empty Redis"
kue 2 "$tmp/ue" 3
[ $? -ne 0 ] && ok || bad "a request inside the window after Redis lost its data was served"
logged 2 "the window after Redis lost its data" 'mikey 503 .*(KMS_ERR_REPLAY_RESTART)'
post 3 "$tmp/tr-req/001-sent.mikey"
[ "$code" = 503 ] && grep -qi '^Imskms-Reason: starting' "$tmp/post.hdr" && ok ||
    bad "an old request after Redis lost its data: $code $(grep -i '^Imskms-Reason' "$tmp/post.hdr")"
clock_advance $((SKEW + 1))
kue 3 "$tmp/ue" 3 && ok || bad "service after the window: $(cat "$tmp/err")"
kue 2 "$tmp/ue" 3 && ok || bad "service after the window at node 2: $(cat "$tmp/err")"
[ "$(log_since "$tmp/kms2.log" "$mr" | grep -c 'restart rule applies fleet-wide')" = 1 ] && ok ||
    bad "the restart rule applied more than once at node 2"

# ---- a durable Redis restarted: no window, the replay cache kept ----
redis_stop
marks
fleet_redis_start --appendonly yes --appendfsync always
# Empty again (the marker is created anew): durable or not, that is one window.
all_noticed "the empty durable Redis"
clock_advance $((SKEW + 1))
mkdir -p "$tmp/tr-dur"
kue 2 "$tmp/ue" 3 --trace "$tmp/tr-dur" && ok || bad "kue on a durable Redis: $(cat "$tmp/err")"
md=$(log_mark "$tmp/kms3.log")
redis_stop
fleet_redis_start --appendonly yes --appendfsync always
wait_log "$tmp/kms3.log" "$md" 'shared replay cache is kept' "$kp3" && ok ||
    bad "node 3 did not see the durable restart"
kue 3 "$tmp/ue" 3 && ok || bad "a request at once after a durable Redis restart: $(cat "$tmp/err")"
post 1 "$tmp/tr-dur/001-sent.mikey"
[ "$code" = 403 ] && ok || bad "a replay across a durable Redis restart: $code"
logged 1 "a replay across a durable Redis restart" 'mikey 403 .*(KMS_ERR_REPLAY)'

# ---- roles: the ACL of docs/scaling.md ----
ACL=$(sed -n 's/^ACL SETUSER kms \(.*\)$/\1/p' "$SRC/docs/scaling.md" | head -n 1)
[ -n "$ACL" ] && ok || bad "no 'ACL SETUSER kms' line in docs/scaling.md"
# The test's admin user, then the default user (the one a unix socket URL authenticates as)
# given exactly the documented rules and a password.
rcli acl setuser admin on '>adminpw' '~*' '&*' '+@all' >/dev/null
printf 'kmspw\n' >"$tmp/redis.pw"
chmod 600 "$tmp/redis.pw"
# shellcheck disable=SC2086
set -f # the ACL rules hold * (not file names)
rcli acl setuser default reset $(echo "$ACL" | sed 's/>PASSWORD/>kmspw/') >/dev/null
set +f
RCLI_AUTH="--user admin --pass adminpw --no-auth-warning"
[ "$(rcli acl getuser default | grep -c '~imskms:kms:\*')" -ge 1 ] && ok || bad "ACL not set"
for n in 1 2 3; do node_stop $n; done
node_refused 4 "a node without the Redis password" 'AUTH\|NOAUTH\|maxmemory-policy unreadable'
chmod 644 "$tmp/redis.pw"
node_refused 4 "a password file others can read" 'redis-password-file' \
    --redis-password-file "$tmp/redis.pw"
chmod 600 "$tmp/redis.pw"
node_start 1 --redis-password-file "$tmp/redis.pw"
mkdir -p "$tmp/ue3"
cp "$tmp/ue/bootstrap" "$tmp/ue3/"
kue 1 "$tmp/ue3" 2 && ok || bad "mode-2 kue under the kms ACL: $(cat "$tmp/err")"
request 1 "$tmp/ue3" "$IMPU_B" "$tmp/xfer4" && ok ||
    bad "mode-2 request under the kms ACL: $(cat "$tmp/err")"
run 0 "kue list --redis under the kms ACL" "$B" kue list --redis "$RURL" \
    --redis-password-file "$tmp/redis.pw" --kek-file "$KK"
grep -q "^ref=" "$tmp/out" && ok || bad "kue list under the kms ACL: $(cat "$tmp/out")"
# A key outside the prefix is out of reach for that user.
[ "$(redis-cli -s "$SOCK" --no-auth-warning -a kmspw set other:key 1 2>&1 | grep -c NOPERM)" = 1 ] &&
    ok || bad "the kms ACL reaches keys outside imskms:kms:"
# The ACL denies SET: every request that must record its replay entry fails closed.
rcli acl setuser default '-set' >/dev/null
store_refused "the ACL denies SET" "$tmp/tr-acl" 1 1
rcli acl setuser default '+set' >/dev/null
post 1 "$tmp/tr-acl/001-sent.mikey"
[ "$code" = 200 ] && ok || bad "the refused request once SET is allowed again: $code"
node_stop 1
bsfd_stop
for n in 1 2 3; do
    ! grep -qi "$(od -An -tx1 "$KK" | tr -d ' \n')" "$tmp/kms$n.log" && ok ||
        bad "the KEK in node $n's log"
done
finish test_kms_fleet
