#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 20 items 4 and 7: three imskms-kmsd nodes sharing the keyring in Redis (--keyring redis)
# against a throwaway redis-server (redis_env.sh) and one BSF:
#  - a Kue issued at node 1, a ticket request at node 2, its resolve at node 3: equal TGK
#    fingerprints (each node opens what another sealed);
#  - a rotation through the CLI: every node seals under the new key within a second, and a Kue
#    sealed by one node is used at the two others at once (the unknown-key-id re-read);
#  - a revocation through the CLI: every node refuses the revoked key within a second and
#    seals under the replacement;
#  - the lifetime running out at all three nodes at once (the test clock): exactly one new key
#    (the compare-and-swap lets one node rotate, the others re-read), every Kue issued;
#  - the start-up refusals, one line each: a Redis without appendfsync always, a Redis that
#    holds no keyring, --keyring redis without --redis.
# Usage: test_kms_fleet_keyring.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
set -u
B=$1
D=$2
K=$3
SRC=$4
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
# shellcheck source=redis_env.sh
. "$SRC/tests/integration/redis_env.sh"
clock_init
pid=""
P1="" P2="" P3=""
trap 'for p in $pid $P1 $P2 $P3; do kill -9 "$p" 2>/dev/null; done; redis_stop; rm -rf "$tmp"' EXIT

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
for s in "$IMPI $IMPU usim" "$IMPI_B $IMPU_B usim-b"; do
    set -- $s
    "$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$1" --impu "$2" --k $KEY --op $OP \
        >/dev/null || bad "subscriber add $1"
    "$B" ue usim-init --usim "$tmp/$3" --impi "$1" --impu "$2" --k $KEY --op $OP >/dev/null ||
        bad "usim-init $1"
done
mkdir -p "$tmp/r"
redis_start "$tmp/r" || exit 1
RK="--keyring redis --redis $REDIS_URL --kek-file $tmp/kek"
# shellcheck disable=SC2086
"$B" keys init $RK --lifetime 3600 --grace 3600 >/dev/null && ok || bad "keys init --keyring redis"
bsfd_start
for u in a b; do
    mkdir -p "$tmp/ue-$u"
    us=$tmp/usim
    [ $u = b ] && us=$tmp/usim-b
    "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$us" --state "$tmp/ue-$u" >/dev/null \
        2>"$tmp/err" || bad "bootstrap $u: $(cat "$tmp/err")"
done

SKEW=30
# node_start N [OPTS]: node N on a fresh port, its log $tmp/kmsd$N.log; sets P$N and PORT$N.
node_start() {
    _n=$1
    shift
    _log=$tmp/kmsd$_n.log
    _km=$(log_mark "$_log")
    # shellcheck disable=SC2086
    "$K" --listen 127.0.0.1:0 --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" \
        --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
        $RK --skew "$SKEW" "$@" 2>>"$_log" &
    eval "P$_n=$!"
    wait_log "$_log" "$_km" 'kms listening' "$!"
    _port=$(log_since "$_log" "$_km" | sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p')
    [ -n "$_port" ] || {
        echo "FAIL: node $_n did not start: $(log_since "$_log" "$_km")" >&2
        exit 1
    }
    eval "PORT$_n=$_port"
}
port() { eval "echo \$PORT$1"; }
kue() { # node statedir
    "$B" ue kue --kms "http://localhost:$(port "$1")" --kms-fqdn $FQDN --mode 3 --state "$2" \
        >"$tmp/out" 2>"$tmp/err"
}
request() { # node statedir peer out
    "$B" ue request --kms "http://localhost:$(port "$1")" --peer "$3" --state "$2" --out "$4" \
        >"$tmp/out" 2>"$tmp/err"
}
resolve() { # node statedir transfer
    "$B" ue resolve --kms "http://localhost:$(port "$1")" --ticket "$3" --state "$2" \
        >"$tmp/out" 2>"$tmp/err"
}
fp() { sed -n 's/^tgk_fingerprint=//p' "$tmp/out"; }
# The key id a Kue token in statedir/kue was sealed under (its clear header).
kue_key() {
    sed -n 's/^token=//p' "$1/kue" | xxd -r -p | base64 -w 0 | "$B" token inspect - |
        sed -n 's/^key_id=//p'
}
# A ticket request at node $1 with the Kue of ue-a, resolved at node $2 by ue-b.
call() { # request-node resolve-node what
    request "$1" "$tmp/ue-a" "$IMPU_B" "$tmp/xfer" && ok || bad "$3: request at node $1: $(cat "$tmp/err")"
    FA=$(fp)
    resolve "$2" "$tmp/ue-b" "$tmp/xfer" && ok || bad "$3: resolve at node $2: $(cat "$tmp/err")"
    FB=$(fp)
    printf '%s' "$FA" | grep -Eq '^[0-9a-f]{16}$' && [ "$FA" = "$FB" ] && ok ||
        bad "$3: fingerprints differ: '$FA' '$FB'"
}
active_key() {
    # shellcheck disable=SC2086
    "$B" keys status $RK | sed -n 's/^active_key=//p'
}
n_keys() {
    # shellcheck disable=SC2086
    "$B" keys list $RK | grep -c '^key_id='
}

# --check-config with the keyring in Redis writes nothing there: no seal window reserved, the
# image, anchor and generation as they were.
kdump() { for k in image anchor gen; do redis_cli dump "imskms:kms:{keyring}:$k" | sha256sum; done; }
kdump >"$tmp/keyring.before"
# shellcheck disable=SC2086
run 0 "--check-config with --keyring redis" "$K" --check-config --listen 127.0.0.1:0 \
    --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" --zn-cert "$tmp/pki/naf.crt" \
    --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" $RK --skew "$SKEW"
kdump | cmp -s - "$tmp/keyring.before" && ok || bad "--check-config wrote the keyring in Redis"

node_start 1
node_start 2
node_start 3
open_window() { clock_advance $((SKEW + 1)); }
open_window

# ---- one node seals, the others open ----
kue 1 "$tmp/ue-b" && ok || bad "kue of ue-b at node 1: $(cat "$tmp/err")"
kue 1 "$tmp/ue-a" && ok || bad "kue at node 1: $(cat "$tmp/err")"
[ "$(kue_key "$tmp/ue-a")" = 1 ] && ok || bad "the first Kue is not under key 1"
call 2 3 "Kue at 1, request at 2, resolve at 3"
call 3 1 "request at 3, resolve at 1"

# ---- a rotation through the CLI: every node seals under key 2 within a second ----
# shellcheck disable=SC2086
"$B" keys rotate $RK >"$tmp/out" && ok || bad "keys rotate"
[ "$(sed -n 's/^key_id=//p' "$tmp/out")" = 2 ] && ok || bad "rotate: $(cat "$tmp/out")"
sleep 1.2
for n in 1 2 3; do
    kue $n "$tmp/ue-a" && ok || bad "kue at node $n after the rotation: $(cat "$tmp/err")"
    [ "$(kue_key "$tmp/ue-a")" = 2 ] && ok || bad "node $n seals under key $(kue_key "$tmp/ue-a") a second after the rotation, not 2"
    # The Kue node $n just sealed is used at once at the two other nodes.
    for o in 1 2 3; do
        [ $o = $n ] && continue
        call $o $(((o % 3) + 1)) "a Kue of node $n at node $o at once"
    done
done

# ---- a rotation by one node, the others meet the new key id at once ----
# The CLI rotates to key 3 and node 1 seals under it; nodes 2 and 3 are asked right away (their
# poll is up to a second behind; the unknown key id makes them re-read before refusing).
for round in 1 2 3; do
    # A node re-reads for an unknown key id at most every 100 ms (KMS_KEYRING_UNKNOWN_MS): the
    # rounds, seconds apart in a fleet's life, must be more than that apart here too, or a fast
    # machine sees the last round's re-read still in force.
    sleep 0.15
    # shellcheck disable=SC2086
    "$B" keys rotate $RK >"$tmp/out" || bad "keys rotate (round $round)"
    want=$(sed -n 's/^key_id=//p' "$tmp/out")
    got=""
    for i in $(seq 1 30); do
        kue 1 "$tmp/ue-a" || break
        got=$(kue_key "$tmp/ue-a")
        [ "$got" = "$want" ] && break
        sleep 0.05
    done
    [ "$got" = "$want" ] && ok || bad "node 1 does not seal under the new key $want"
    request 2 "$tmp/ue-a" "$IMPU_B" "$tmp/xfer" && ok ||
        bad "round $round: a Kue under the new key $want refused at node 2: $(cat "$tmp/err")"
    request 3 "$tmp/ue-a" "$IMPU_B" "$tmp/xfer" && ok ||
        bad "round $round: a Kue under the new key $want refused at node 3: $(cat "$tmp/err")"
done
grep -q 'KMS_ERR_KEY_UNKNOWN' "$tmp/kmsd2.log" "$tmp/kmsd3.log" &&
    bad "a node refused a key id it did not know yet" || ok

# ---- a revocation through the CLI: refused everywhere within a second ----
cp "$tmp/ue-a/kue" "$tmp/kue-old"
old=$(kue_key "$tmp/ue-a")
# shellcheck disable=SC2086
"$B" keys revoke $RK "$old" >"$tmp/out" && ok || bad "keys revoke $old"
new=$(sed -n 's/^key_id=//p' "$tmp/out")
[ -n "$new" ] && ok || bad "revoking the active key made no new one"
sleep 1.2
for n in 1 2 3; do
    cp "$tmp/kue-old" "$tmp/ue-a/kue"
    request $n "$tmp/ue-a" "$IMPU_B" "$tmp/xfer"
    st=$?
    [ $st -eq 1 ] && ok || bad "node $n: a Kue under revoked key $old: exit $st, expected 1"
    kue $n "$tmp/ue-a" && ok || bad "kue at node $n after the revocation: $(cat "$tmp/err")"
    [ "$(kue_key "$tmp/ue-a")" = "$new" ] && ok || bad "node $n does not seal under key $new"
done
grep -q 'KMS_ERR_KEY_DESTROYED' "$tmp/kmsd1.log" "$tmp/kmsd2.log" "$tmp/kmsd3.log" && ok ||
    bad "no node logged the revoked key"

# ---- the lifetime runs out everywhere at once: one rotation, not three ----
before=$(n_keys)
act=$(active_key)
clock_advance 3601
# Ks outlived too: a fresh bootstrap each, then three Kue issues at once.
for n in 1 2 3; do
    mkdir -p "$tmp/ue-c$n"
    "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" --state "$tmp/ue-c$n" \
        >/dev/null 2>"$tmp/err" || bad "bootstrap c$n: $(cat "$tmp/err")"
done
wait_kues=""
for n in 1 2 3; do
    (
        "$B" ue kue --kms "http://localhost:$(port $n)" --kms-fqdn $FQDN --mode 3 \
            --state "$tmp/ue-c$n" >"$tmp/out$n" 2>&1 && kue_key "$tmp/ue-c$n" >"$tmp/key$n"
    ) &
    wait_kues="$wait_kues $!"
done
for w in $wait_kues; do wait "$w" && ok || bad "a Kue issued as the lifetime ran out failed"; done
after=$(n_keys)
[ "$after" -eq $((before + 1)) ] && ok || bad "$((after - before)) keys made when the lifetime ran out, expected 1"
want=$((act + 1))
for n in 1 2 3; do
    [ "$(cat "$tmp/key$n")" = "$want" ] && ok || bad "node $n sealed under $(cat "$tmp/key$n") after the lifetime, not $want"
done

# ---- start-up refusals ----
redis_cli config set appendfsync everysec >/dev/null
m=$(log_mark "$tmp/kmsd4.log")
"$K" --listen 127.0.0.1:0 --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" \
    --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
    $RK --skew "$SKEW" 2>>"$tmp/kmsd4.log"
st=$?
[ $st -eq 3 ] && ok || bad "a Redis with appendfsync everysec: exit $st, expected 3"
expect_log "$tmp/kmsd4.log" "$m" 'appendonly yes and appendfsync always' "a Redis that is not durable"
redis_cli config set appendfsync always >/dev/null
m=$(log_mark "$tmp/kmsd4.log")
"$K" --listen 127.0.0.1:0 --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" \
    --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
    --keyring redis --redis http://localhost:6379 --kek-file "$tmp/kek" 2>>"$tmp/kmsd4.log"
st=$?
[ $st -eq 2 ] && ok || bad "a bad --redis URL: exit $st, expected 2"
expect_log "$tmp/kmsd4.log" "$m" '--redis: redis://' "a bad --redis URL"
m=$(log_mark "$tmp/kmsd4.log")
"$K" --listen 127.0.0.1:0 --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" \
    --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
    --keyring redis --kek-file "$tmp/kek" 2>>"$tmp/kmsd4.log"
st=$?
[ $st -eq 2 ] && ok || bad "--keyring redis without --redis: exit $st, expected 2"
expect_log "$tmp/kmsd4.log" "$m" '--keyring redis needs --redis URL' "--keyring redis without --redis"
# Stop the nodes, empty Redis: a node refuses to start and makes no keyring.
for n in 1 2 3; do
    eval "kill -TERM \$P$n; wait \$P$n"
    st=$?
    [ $st -eq 0 ] && ok || bad "node $n SIGTERM: exit $st"
    eval "P$n="
done
redis_cli flushall >/dev/null
m=$(log_mark "$tmp/kmsd4.log")
"$K" --listen 127.0.0.1:0 --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" \
    --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
    $RK --skew "$SKEW" 2>>"$tmp/kmsd4.log"
st=$?
[ $st -eq 3 ] && ok || bad "an empty Redis: exit $st, expected 3"
expect_log "$tmp/kmsd4.log" "$m" 'holds no keyring' "an empty Redis"
[ "$(log_since "$tmp/kmsd4.log" "$m" | grep -c 'level=error')" = 1 ] && ok ||
    bad "an empty Redis: not one error line: $(log_since "$tmp/kmsd4.log" "$m")"
# The fleet's own keys (marker, skew) may be written; the keyring's never.
[ "$(redis_cli keys 'imskms:kms:{keyring}:*' | grep -c .)" = 0 ] && ok ||
    bad "a node made a keyring in an empty Redis: $(redis_cli keys '*')"

finish test_kms_fleet_keyring
