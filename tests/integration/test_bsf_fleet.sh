#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Two imskms-bsfd nodes (--node-id 0 and 1) and an imskms-kmsd on one real redis-server (a unix
# socket in a temporary directory), the subscriber provisioned with 'imskms subscriber add
# --redis'. What a fleet must do (issue 21; docs/scaling.md):
#   - a challenge from node 0 answered at node 1 (the independent client tests/interop/
#     gba_client.py with --answer-bsf), and the same answer again refused at node 0 (the
#     answered-challenge record is shared);
#   - a bootstrap at node 0, the KMS's Zn query answered by node 1 (ue kue, the KMS pointed at
#     node 1's Zn); and Zn asked directly at node 1 gives the Ks_NAF the independent client
#     computed;
#   - 20 bootstraps of one IMPI alternating between the nodes, none needing a resynchronisation,
#     every AUTN decoded with the independent Milenage: no SQN repeated, node 0's IND values
#     0..3 and node 1's 4..7;
#   - the rate of one IMPI shared: with --rate-burst 3 the 4th challenge, at either node, is 429;
#   - kill -9 of node 0: node 1 carries on (bootstrap, Zn), node 0 restarts on its --sqn-db;
#   - Redis stopped: 503 with Imskms-Reason: store-unavailable on Ub and on Zn, never a success;
#     Redis back: service resumes without a restart of either node;
#   - usage errors of the new options, and imskms subscriber set-sqn --redis refused.
# Usage: test_bsf_fleet.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD MKCA_SH SOURCE_DIR
set -u
B=$1
D=$2
K=$3
MKCA=$4
SRC=$5
# shellcheck source=../cli/common.sh
. "$(dirname "$0")/../cli/common.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
clock_init
pid="" pid0="" pid1="" kpid=""
trap 'for p in $pid $pid0 $pid1 $kpid ${REDIS_PID:-}; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

command -v redis-server >/dev/null || {
    echo "FAIL: redis-server is needed (scripts/deps.sh installs it)" >&2
    exit 1
}

# ---- the shared fixture (redis_start DIR [ARGS] / redis_stop); not durable here: SAVE writes
# DIR/dump.rdb, which a start in the same DIR loads (later options win) ----
# shellcheck source=redis_env.sh
. "$SRC/tests/integration/redis_env.sh"
bsf_redis_start() { # DIR [ARGS]
    _rd=$1
    shift
    mkdir -p "$_rd"
    redis_start "$_rd" --appendonly no "$@" || {
        echo "FAIL: redis-server did not start: $(cat "$_rd/redis.log")" >&2
        exit 1
    }
}

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPU=sip:+15550001@ims.example.org
IMPI2=001010000000002@ims.mnc001.mcc001.3gppnetwork.org
IMPU2=sip:+15550002@ims.example.org
FQDN=kms.example.org # the name in tests/http/mkca.sh's NAF certificate

# shellcheck source=bsfd_env.sh
. "$(dirname "$0")/bsfd_env.sh"
bsfd_pki "$MKCA"
bsf_redis_start "$tmp/redis"
for who in "$IMPI $IMPU" "$IMPI2 $IMPU2"; do
    # shellcheck disable=SC2086 # IMPI and IMPU
    set -- $who
    "$B" subscriber add --redis "$REDIS_URL" --kek-file "$tmp/kek" --impi "$1" --impu "$2" \
        --k $KEY --op $OP >/dev/null || bad "subscriber add --redis $1"
done
"$B" ue usim-init --usim "$tmp/usim" --impi "$IMPI" --impu "$IMPU" --k $KEY --op $OP >/dev/null ||
    bad "usim-init"
"$B" ue usim-init --usim "$tmp/usim2" --impi "$IMPI2" --impu "$IMPU2" --k $KEY --op $OP \
    >/dev/null || bad "usim-init 2"
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 3600 --grace 3600 \
    >/dev/null || bad "keys init"
# the store holds K and OPc sealed only
redis-cli -s "$tmp/redis/redis.sock" --scan >"$tmp/keys"
[ "$(grep -c '^imskms:bsf:sub:{[0-9a-f]\{16\}}$' "$tmp/keys")" = 2 ] && ok ||
    bad "two subscriber keys expected: $(cat "$tmp/keys")"
grep -q "$IMPI" "$tmp/keys" && bad "an IMPI in a key name" || ok
redis-cli -s "$tmp/redis/redis.sock" --scan | while read -r k; do
    redis-cli -s "$tmp/redis/redis.sock" get "$k"
done >"$tmp/vals"
grep -qi "$KEY" "$tmp/vals" && bad "K in clear in Redis" || ok

# node N [OPTS]: starts node N (0 or 1) on the fleet's Redis with its own --sqn-db.
node() {
    _n=$1
    shift
    echo "--- start node $_n" >>"$tmp/bsfd$_n.log"
    _m=$(log_mark "$tmp/bsfd$_n.log")
    "$D" --redis "$REDIS_URL" --sqn-db "$tmp/sqn$_n" --node-id "$_n" --kek-file "$tmp/kek" \
        --listen 127.0.0.1:0 --realm localhost --lifetime 3600 --zn-listen 127.0.0.1:0 \
        --zn-cert "$tmp/pki/server.crt" --zn-key "$tmp/pki/server.key" \
        --zn-client-ca "$tmp/pki/ca.crt" "$@" 2>>"$tmp/bsfd$_n.log" &
    eval "pid$_n=\$!"
    wait_log "$tmp/bsfd$_n.log" "$_m" 'zn listening' "$(eval echo "\$pid$_n")"
    eval "UB$_n=\$(log_since \"\$tmp/bsfd$_n.log\" \"\$_m\" | sed -n 's/.*ub listening on port \([0-9]*\).*/\1/p')"
    eval "ZN$_n=\$(log_since \"\$tmp/bsfd$_n.log\" \"\$_m\" | sed -n 's/.*zn listening on port \([0-9]*\).*/\1/p')"
    [ -n "$(eval echo "\$UB$_n")" ] || {
        echo "FAIL: node $_n did not start: $(log_since "$tmp/bsfd$_n.log" "$_m")" >&2
        exit 1
    }
}
node_stop() { # N: SIGTERM, exit 0
    _p=$(eval echo "\$pid$1")
    kill -TERM "$_p"
    wait "$_p"
    _st=$?
    eval "pid$1=''"
    [ $_st -eq 0 ] && ok || bad "node $1 SIGTERM: exit $_st"
}
zn_at() { # port btid -> status, the answer in $tmp/zn, headers in $tmp/zn.hdr
    curl -s -o "$tmp/zn" -D "$tmp/zn.hdr" -w '%{http_code}' --cacert "$tmp/pki/ca.crt" \
        --cert "$tmp/pki/naf.crt" --key "$tmp/pki/naf.key" -X POST \
        -H 'Content-Type: application/json' \
        -d "{\"btid\":\"$2\",\"naf_fqdn\":\"$FQDN\",\"ua_protocol_id\":\"0100000006\"}" \
        "https://localhost:$1/zn/v1/bootstrap-info"
}
challenge_at() { # port IMPI -> status, headers in $tmp/ub.hdr
    curl -s -o /dev/null -D "$tmp/ub.hdr" -w '%{http_code}' -H \
        "Authorization: Digest username=\"$2\", realm=\"localhost\", nonce=\"\", uri=\"/\", response=\"\"" \
        "http://localhost:$1/"
}
bootstrap_at() { # port usim state [trace]
    if [ -n "${4:-}" ]; then set -- "$1" "$2" "$3" --trace "$4"; fi
    _u=$1 _s=$2 _st=$3
    shift 3
    mkdir -p "$_st"
    "$B" ue bootstrap --bsf "http://localhost:$_u/" --usim "$_s" --state "$_st" "$@" >"$tmp/out" \
        2>"$tmp/err"
}

node 0 --rate-burst 40
node 1 --rate-burst 40 --metrics-listen 127.0.0.1:0

# ---- a challenge from node 0 answered at node 1 (the independent client) ----
python3 "$SRC/tests/interop/gba_client.py" --bsf "http://localhost:$UB0/" \
    --answer-bsf "http://localhost:$UB1/" --impi "$IMPI2" --k $KEY --op $OP --naf-fqdn $FQDN \
    >"$tmp/gba" 2>"$tmp/err" && ok || bad "challenged at node 0, answered at node 1: $(cat "$tmp/err")"
btid=$(sed -n 's/^btid=//p' "$tmp/gba")
ks_naf=$(sed -n 's/^ks_naf=//p' "$tmp/gba")
[ -n "$btid" ] && [ -n "$ks_naf" ] || bad "no btid or Ks_NAF: $(cat "$tmp/gba")"
# Zn at either node serves the B-TID, with the Ks_NAF the independent client computed
for z in "$ZN0" "$ZN1"; do
    [ "$(zn_at "$z" "$btid")" = 200 ] && ok || bad "Zn at port $z for $btid: $(cat "$tmp/zn")"
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["ks_naf"])' "$tmp/zn" \
        >"$tmp/ksnaf" 2>/dev/null
    [ "$(cat "$tmp/ksnaf")" = "$ks_naf" ] && ok || bad "Zn's Ks_NAF $(cat "$tmp/zn") != $ks_naf"
done
# the same answer a second time, at node 0: refused (the answered-challenge record is shared)
nonce=$(redis-cli -s "$tmp/redis/redis.sock" --scan --pattern 'imskms:bsf:ans:*' | wc -l)
[ "$nonce" -ge 1 ] && ok || bad "no answered-challenge record in Redis"
ttl=$(redis-cli -s "$tmp/redis/redis.sock" --scan --pattern 'imskms:bsf:ses:*' | head -n 1 |
    xargs redis-cli -s "$tmp/redis/redis.sock" pttl)
[ "$ttl" -gt 3500000 ] && [ "$ttl" -le 3600000 ] && ok || bad "a session's TTL is not its lifetime: $ttl"

# ---- a bootstrap at node 0, the KMS's Zn query answered by node 1 ----
ZN=$ZN1
SKEW=30
# shellcheck source=kmsd_env.sh
. "$SRC/tests/integration/kmsd_env.sh"
kmsd_start
open_window
bootstrap_at "$UB0" "$tmp/usim" "$tmp/ue" && ok || bad "bootstrap at node 0: $(cat "$tmp/err")"
"$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 2 --state "$tmp/ue" \
    >"$tmp/out" 2>"$tmp/err" && ok || bad "Kue with the KMS asking node 1's Zn: $(cat "$tmp/err")"
grep -q 'zn naf=kms.example.org impi=001010000000001' "$tmp/bsfd1.log" && ok ||
    bad "node 1 did not answer the KMS's Zn query"

# ---- 20 bootstraps of one IMPI alternating between the nodes ----
: >"$tmp/autns"
i=0
while [ $i -lt 20 ]; do
    n=$((i % 2))
    port=$(eval echo "\$UB$n")
    if bootstrap_at "$port" "$tmp/usim2" "$tmp/st$i" "$tmp/tr$i"; then ok; else
        bad "bootstrap $i at node $n: $(cat "$tmp/out" "$tmp/err")"
    fi
    [ "$(sed -n 's/^resyncs=//p' "$tmp/out")" = 0 ] && ok ||
        bad "bootstrap $i at node $n needed a resync: $(cat "$tmp/out")"
    nonce=$(sed -n 's/^WWW-Authenticate: .*nonce="\([^"]*\)".*/\1/p' "$tmp/tr$i/02-response.txt")
    [ -n "$nonce" ] || bad "bootstrap $i: no challenge in the trace"
    echo "$n $nonce" >>"$tmp/autns"
    i=$((i + 1))
done
# The SQNs, from each AUTN with the independent Milenage (autn_sqns.py).
python3 "$SRC/tests/integration/autn_sqns.py" "$SRC/tests/interop" $KEY $OP "$tmp/autns" \
    >"$tmp/sqns" 2>"$tmp/err"
[ $? -eq 0 ] && ok || bad "AUTN decoding: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/sqns")" -eq 20 ] && ok || bad "expected 20 SQNs: $(cat "$tmp/sqns")"
[ "$(awk '{ print $2 * 32 + $3 }' "$tmp/sqns" | sort | uniq -d | wc -l)" -eq 0 ] && ok ||
    bad "an SQN repeated: $(cat "$tmp/sqns")"
# node 0's IND values 0..3 and node 1's 4..7, each node's SEQ rising
awk '{ n = $1; if ($3 < 4 * n || $3 > 4 * n + 3) { print "IND " $3 " of node " n; bad = 1 }
       if (n in last && $2 <= last[n] && $3 <= lind[n]) { print "SQN of node " n " not rising"; bad = 1 }
       last[n] = $2; lind[n] = $3 }
     END { exit bad }' "$tmp/sqns" >"$tmp/err" && ok || bad "$(cat "$tmp/err") $(cat "$tmp/sqns")"
# each node's marks are its own, in its --sqn-db
[ -s "$tmp/sqn0" ] && [ -s "$tmp/sqn1" ] && ok || bad "no --sqn-db files"
# Node 1's metrics: its bootstraps counted, but no session or answered-challenge gauges (those
# live in Redis; the node's own tables hold nothing, and a 0 would read as "empty").
bm=$(sed -n 's/.*metrics listening on port \([0-9]*\).*/\1/p' "$tmp/bsfd1.log" | head -n 1)
curl -s -o "$tmp/b1.prom" "http://127.0.0.1:$bm/metrics" || bad "node 1 /metrics"
[ "$(sed -n 's/^imskms_bsf_bootstraps_total //p' "$tmp/b1.prom")" -ge 10 ] 2>/dev/null && ok ||
    bad "node 1 bootstraps_total: $(grep bootstraps "$tmp/b1.prom")"
grep -Eq '^(# (HELP|TYPE) )?imskms_bsf_(sessions|answered_challenges)' "$tmp/b1.prom" &&
    bad "node 1 (--redis) exports its empty session tables: $(grep -E 'imskms_bsf_(sessions|answered)' "$tmp/b1.prom")" || ok
# ...and its Redis client's figures, read with Prometheus's own parser: round trips (at least
# one per bootstrap), connections, the latency histogram counting every round trip.
prom_init "$SRC" || bad "python3-prometheus-client missing (scripts/deps.sh installs it)"
$PROM "$tmp/b1.prom" check >/dev/null && ok || bad "node 1 /metrics does not parse"
rt=$($PROM "$tmp/b1.prom" imskms_redis_round_trips_total)
lc=$($PROM "$tmp/b1.prom" imskms_redis_latency_seconds_count)
[ "${rt:-0}" -ge 10 ] 2>/dev/null && [ "$lc" = "$rt" ] && ok ||
    bad "node 1 Redis round trips '$rt', latency count '$lc'"
[ "$($PROM "$tmp/b1.prom" imskms_redis_connects_total)" -ge 1 ] 2>/dev/null && ok ||
    bad "node 1 imskms_redis_connects_total"

# ---- kill -9 of node 0: node 1 carries on ----
kill -9 "$pid0"
wait "$pid0" 2>/dev/null
pid0=""
bootstrap_at "$UB1" "$tmp/usim" "$tmp/ue" && ok || bad "bootstrap at node 1 after node 0 died: $(cat "$tmp/err")"
[ "$(sed -n 's/^resyncs=//p' "$tmp/out")" = 0 ] && ok || bad "a resync after node 0 died"
"$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 2 --state "$tmp/ue" \
    >"$tmp/out" 2>"$tmp/err" && ok || bad "Kue after node 0 died: $(cat "$tmp/err")"
node 0 --rate-burst 40 # the lock of its --sqn-db died with it
bootstrap_at "$UB0" "$tmp/usim" "$tmp/ue" && ok || bad "bootstrap at node 0 restarted: $(cat "$tmp/err")"
[ "$(sed -n 's/^resyncs=//p' "$tmp/out")" = 0 ] && ok || bad "a resync at node 0 restarted: $(cat "$tmp/out")"

# ---- Redis stopped: 503 store-unavailable on Ub and Zn; back: served again ----
btid=$(sed -n 's/^btid=//p' "$tmp/ue/bootstrap" 2>/dev/null | head -n 1)
[ -n "$btid" ] || btid=$(grep -o '[A-Za-z0-9+/=]*@localhost' "$tmp/ue/bootstrap" | head -n 1)
[ "$(zn_at "$ZN1" "$btid")" = 200 ] && ok || bad "Zn before Redis stopped: $(cat "$tmp/zn")"
redis-cli -s "$tmp/redis/redis.sock" save >/dev/null || bad "redis SAVE"
redis_stop
for n in 0 1; do
    code=$(challenge_at "$(eval echo "\$UB$n")" "$IMPI")
    [ "$code" = 503 ] && ok || bad "node $n: a challenge without Redis: $code"
    grep -qi '^Imskms-Reason: store-unavailable' "$tmp/ub.hdr" && ok ||
        bad "node $n: Ub 503 without Imskms-Reason: store-unavailable: $(cat "$tmp/ub.hdr")"
    code=$(zn_at "$(eval echo "\$ZN$n")" "$btid")
    [ "$code" = 503 ] && ok || bad "node $n: Zn without Redis: $code $(cat "$tmp/zn")"
    grep -qi '^Imskms-Reason: store-unavailable' "$tmp/zn.hdr" && ok ||
        bad "node $n: Zn 503 without Imskms-Reason: store-unavailable: $(cat "$tmp/zn.hdr")"
done
bootstrap_at "$UB1" "$tmp/usim" "$tmp/ue3" && bad "a bootstrap succeeded without Redis" || ok
bsf_redis_start "$tmp/redis" # loads the dump SAVE wrote
for n in 0 1; do
    bootstrap_at "$(eval echo "\$UB$n")" "$tmp/usim" "$tmp/ue$n" && ok ||
        bad "node $n: bootstrap once Redis is back: $(cat "$tmp/err")"
done
[ "$(zn_at "$ZN0" "$btid")" = 200 ] && ok || bad "Zn once Redis is back: $(cat "$tmp/zn")"

# ---- the rate of an IMPI is the fleet's ----
node_stop 0
node_stop 1
node 0 --rate-burst 3 --rate-period 30
node 1 --rate-burst 3 --rate-period 30
redis-cli -s "$tmp/redis/redis.sock" --scan --pattern 'imskms:bsf:rate:*' |
    xargs -r redis-cli -s "$tmp/redis/redis.sock" del >/dev/null
codes="$(challenge_at "$UB0" "$IMPI") $(challenge_at "$UB1" "$IMPI") $(challenge_at "$UB0" "$IMPI") $(challenge_at "$UB1" "$IMPI")"
[ "$codes" = "401 401 401 429" ] && ok || bad "a burst of 4 over two nodes with --rate-burst 3: $codes"
tr -d '\r' <"$tmp/ub.hdr" | grep -qi '^Retry-After: 30$' && ok || bad "429 without Retry-After: 30"
[ "$(challenge_at "$UB0" "$IMPI")" = 429 ] && ok || bad "node 0 served the IMPI past the fleet's burst"
clock_advance 30
[ "$(challenge_at "$UB1" "$IMPI")" = 401 ] && ok || bad "no token earned after --rate-period"
# made-up names leave nothing in Redis
before=$(redis-cli -s "$tmp/redis/redis.sock" dbsize)
for x in 1 2 3 4 5; do challenge_at "$UB0" "nobody$x@ims.example.org" >/dev/null; done
[ "$(redis-cli -s "$tmp/redis/redis.sock" dbsize)" = "$before" ] && ok ||
    bad "challenges for made-up names wrote to Redis"
node_stop 0
node_stop 1
kmsd_stop

# ---- usage errors ----
common="--kek-file $tmp/kek --listen 127.0.0.1:0 --realm localhost --lifetime 60 --zn-listen 127.0.0.1:0 --zn-cert $tmp/pki/server.crt --zn-key $tmp/pki/server.key --zn-client-ca $tmp/pki/ca.crt"
for opt in "--redis $REDIS_URL" "--redis $REDIS_URL --sqn-db $tmp/s --db $tmp/db" \
    "--db $tmp/db --sqn-db $tmp/s" "--db $tmp/db --redis-password-file $tmp/kek" \
    "--redis redis://h --sqn-db $tmp/s" "--redis http://localhost:6379 --sqn-db $tmp/s" \
    "--redis redis://u@localhost:6379 --sqn-db $tmp/s"; do
    # shellcheck disable=SC2086 # options
    "$D" $common $opt >/dev/null 2>"$tmp/err"
    [ $? -eq 2 ] && ok || bad "$opt: not a usage error: $(cat "$tmp/err")"
done
# shellcheck disable=SC2086
"$D" $common --redis "$REDIS_URL" >/dev/null 2>"$tmp/err"
grep -q 'needs --sqn-db' "$tmp/err" && ok || bad "--redis without --sqn-db: $(cat "$tmp/err")"
# Redis not there at start: exit 3 naming it
# shellcheck disable=SC2086
"$D" $common --redis "unix://$tmp/nowhere.sock" --sqn-db "$tmp/s" >/dev/null 2>"$tmp/err"
[ $? -eq 3 ] && ok || bad "no Redis at start: not exit 3: $(cat "$tmp/err")"
grep -q -- '--redis' "$tmp/err" && ok || bad "the start error does not name --redis: $(cat "$tmp/err")"

# ---- the CLI on Redis ----
"$B" subscriber set-sqn --redis "$REDIS_URL" --kek-file "$tmp/kek" --impi "$IMPI" --sqn 000000000100 \
    >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && ok || bad "set-sqn --redis not refused"
grep -q -- '--sqn-db' "$tmp/err" && ok || bad "set-sqn --redis does not point to --sqn-db: $(cat "$tmp/err")"
"$B" subscriber set-sqn --sqn-db "$tmp/sqn0" --impi "$IMPI" --sqn 000000100000 >"$tmp/out" &&
    ok || bad "set-sqn --sqn-db"
[ "$(cat "$tmp/out")" = "impi=$IMPI
sqn=000000100000" ] && ok || bad "set-sqn --sqn-db said: $(cat "$tmp/out")"
"$B" subscriber set-sqn --sqn-db "$tmp/none" --impi "$IMPI" --sqn 000000000001 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "set-sqn on a missing --sqn-db"
"$B" subscriber list --redis "$REDIS_URL" --kek-file "$tmp/kek" >"$tmp/list" || bad "list --redis"
[ "$(cut -d' ' -f1 "$tmp/list" | tr '\n' ' ')" = "impi=$IMPI impi=$IMPI2 " ] && ok ||
    bad "list --redis: $(cat "$tmp/list")"
# export from Redis, import into SQLite and back into a second Redis database: the same list
"$B" subscriber export --redis "$REDIS_URL" --kek-file "$tmp/kek" --out "$tmp/export" >/dev/null &&
    ok || bad "export --redis"
"$B" subscriber import --db "$tmp/db" --kek-file "$tmp/kek" --in "$tmp/export" >/dev/null &&
    ok || bad "import --db"
"$B" subscriber import --redis "$REDIS_URL?db=1" --kek-file "$tmp/kek" --in "$tmp/export" \
    >"$tmp/out" && ok || bad "import --redis"
[ "$(cat "$tmp/out")" = "imported=2" ] && ok || bad "import --redis said: $(cat "$tmp/out")"
[ "$("$B" subscriber list --db "$tmp/db" --kek-file "$tmp/kek")" = "$(cat "$tmp/list")" ] &&
    [ "$("$B" subscriber list --redis "$REDIS_URL?db=1" --kek-file "$tmp/kek")" = "$(cat "$tmp/list")" ] &&
    ok || bad "the imported stores list otherwise"
# all or nothing: a second import finds the first IMPI taken and adds nothing
"$B" subscriber del --redis "$REDIS_URL?db=1" --kek-file "$tmp/kek" --impi "$IMPI2" >/dev/null ||
    bad "del --redis"
"$B" subscriber import --redis "$REDIS_URL?db=1" --kek-file "$tmp/kek" --in "$tmp/export" \
    >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && ok || bad "import over a taken IMPI: not exit 2"
[ "$("$B" subscriber list --redis "$REDIS_URL?db=1" --kek-file "$tmp/kek" | wc -l)" = 1 ] && ok ||
    bad "a failed import --redis left records behind"
# another KEK: exit 1, nothing imported
head -c 32 /dev/urandom >"$tmp/kek2"
chmod 600 "$tmp/kek2"
"$B" subscriber import --redis "$REDIS_URL?db=2" --kek-file "$tmp/kek2" --in "$tmp/export" \
    >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "import under another KEK: not exit 1"
[ "$(redis-cli -s "$tmp/redis/redis.sock" -n 2 dbsize)" = 0 ] && ok || bad "records left in db 2"
"$B" subscriber del --redis "$REDIS_URL" --kek-file "$tmp/kek" --impi nobody@x >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "del of an unknown IMPI: not exit 2"
"$B" subscriber list --db "$tmp/db" --redis "$REDIS_URL" --kek-file "$tmp/kek" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--db with --redis: not exit 2"
redis_stop
"$B" subscriber list --redis "$REDIS_URL" --kek-file "$tmp/kek" >/dev/null 2>"$tmp/err"
[ $? -eq 3 ] && ok || bad "list with Redis gone: not exit 3: $(cat "$tmp/err")"
finish "test_bsf_fleet.sh"
