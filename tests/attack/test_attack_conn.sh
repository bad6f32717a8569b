#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 13's connection attacks against the three listeners (KMS, BSF Ub, BSF Zn) at once, on
# loopback, while real clients from 127.0.0.1 must each succeed within one second (the monotonic
# clock, no retry): a bootstrap (imskms ue bootstrap), a Zn query (curl with the NAF's client
# certificate), a Kue issue (imskms ue kue, which has the KMS query Zn) and a ticket request
# (imskms ue request).
#  1. Many addresses: A_IDLE idle connections (nothing sent) and A_SLOW slowloris connections (a
#     header line every 2 s; on Zn the TLS ClientHello, 16 octets every 2 s) per listener, from
#     A_SOURCES source addresses 127.0.0.2 and up, so that the per-address limit is not what
#     stops them. Each connection the daemon closes is opened again at once. The real
#     operations run once the flood is fully up (90 % of the connections open, on the flood's
#     side and established on the daemons'), then again right after each of the next waves of
#     header deadlines, while the daemons close the flood's connections and the flood opens
#     them again (at least a quarter open; A_ROUNDS rounds in all). Then: nothing was refused at
#     accept (the limits were not what held), and a flooding connection lived the header
#     timeout (5 s: the median within 4.5..6.5 s, none over 8 s).
#  2. One address: 127.0.0.2 alone opens more connections per listener than both its
#     --max-connections-per-ip and the listener's --max-connections; the daemons hold exactly
#     the per-address number, refuse the rest at accept, and the real operations still succeed.
# Numbers and the time cap: tests/attack/attack_env.sh (IMSKMS_ATTACK_SCALE=small|long). Every
# result line goes to stdout (docs/reliability.md, "Attack suite").
# Usage: test_attack_conn.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR MKCA_SH
set -u
B=$1
D=$2
K=$3
SRC=$4
MKCA=$5
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=../integration/lib.sh
. "$SRC/tests/integration/lib.sh"
clock_init
# shellcheck source=../integration/bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
# shellcheck source=attack_env.sh
. "$SRC/tests/attack/attack_env.sh"
attack_guard

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPU=sip:+15550001@ims.example.org
IMPU_B=sip:+15550002@ims.example.org

# File descriptors: the flood holds 3 x (A_IDLE + A_SLOW) sockets in one process, and the BSF
# holds its two listeners' connections; both must fit under the hard limit. The daemons get an
# explicit --max-connections (they refuse one that does not fit).
PER=$((A_IDLE + A_SLOW))
HARD=$(fd_hard)
if [ "$HARD" != unlimited ]; then
    [ $((3 * PER + 64)) -le "$HARD" ] && [ $((2 * A_CONN1 + 200)) -le "$HARD" ] || {
        echo "FAIL: the hard file descriptor limit (ulimit -Hn) is $HARD; the flood needs" \
            "$((3 * PER + 64)) and imskms-bsfd $((2 * A_CONN1 + 200))" >&2
        exit 1
    }
fi

bsfd_pki "$MKCA"
DB="$tmp/db"
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI" --impu "$IMPU" --k $KEY --op $OP \
    >/dev/null || bad "subscriber add"
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi 001010000000002@ims.mnc001.mcc001.3gppnetwork.org \
    --impu "$IMPU_B" --k $KEY --op $OP >/dev/null || bad "subscriber add B"
"$B" ue usim-init --usim "$tmp/usim" --impi "$IMPI" --impu "$IMPU" --k $KEY --op $OP >/dev/null ||
    bad "usim-init"
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 3600 --grace 3600 \
    >/dev/null || bad "keys init"
mkdir -p "$tmp/ue"

# One round of the real operations, each within 1 s; ROUND names it in the results. The real
# clients use localhost (127.0.0.1: /etc/hosts; the daemons listen on 127.0.0.1 only); the UE
# takes the Ub host name for the Digest realm.
ops() {
    _r=$1
    if timed "$_r bootstrap" "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" \
        --state "$tmp/ue"; then ok; else bad "$_r: bootstrap: $(cat "$tmp/err")"; fi
    BTID=$(sed -n 's/^btid=//p' "$tmp/ue/bootstrap")
    if timed "$_r zn" curl -s -o "$tmp/zn" -w '%{http_code}' --resolve "localhost:$ZN:127.0.0.1" \
        --cacert "$tmp/pki/ca.crt" --cert "$tmp/pki/naf.crt" --key "$tmp/pki/naf.key" -X POST \
        -H 'Content-Type: application/json' \
        -d "{\"btid\":\"$BTID\",\"naf_fqdn\":\"$FQDN\",\"ua_protocol_id\":\"0100000006\"}" \
        "https://localhost:$ZN/zn/v1/bootstrap-info" && [ "$(cat "$tmp/out")" = 200 ] &&
        grep -q '"ks_naf":"' "$tmp/zn"; then
        ok
    else
        bad "$_r: zn: $(cat "$tmp/out") $(cat "$tmp/err") $(cat "$tmp/zn" 2>/dev/null)"
    fi
    if timed "$_r kue" "$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn "$FQDN" --mode 3 \
        --state "$tmp/ue"; then ok; else bad "$_r: kue: $(cat "$tmp/err")"; fi
    if timed "$_r request" "$B" ue request --kms "http://localhost:$KMS" --peer "$IMPU_B" \
        --state "$tmp/ue" --out "$tmp/xfer"; then ok; else bad "$_r: request: $(cat "$tmp/err")"; fi
}

flood_start() { # source-count idle slow
    rm -f "$tmp/flood.json"
    python3 "$ATTACK" hold --target "ub=127.0.0.1:$UB" --target "zn=127.0.0.1:$ZN:tls" \
        --target "kms=127.0.0.1:$KMS" --source 127.0.0.2 --source-count "$1" --idle "$2" \
        --slow "$3" --seconds $((A_CAP - 30)) --status "$tmp/flood.json" \
        >"$tmp/flood.out" 2>"$tmp/flood.err" &
    fpid=$!
}
flood_until() { # attack.py status options: waits up to 60 s for them to hold
    _i=0
    while [ $_i -lt 600 ]; do
        [ -f "$tmp/flood.json" ] && python3 "$ATTACK" status "$tmp/flood.json" "$@" >/dev/null 2>&1 &&
            return 0
        kill -0 "$fpid" 2>/dev/null || break
        sleep 0.1
        _i=$((_i + 1))
    done
    bad "the flood never got to: $* ($(python3 "$ATTACK" status "$tmp/flood.json" 2>&1)" \
        "$(cat "$tmp/flood.err"))"
    return 1
}
flood_check() { # what, attack.py status options: the flood's state now, printed and checked
    _w=$1
    shift
    if python3 "$ATTACK" status "$tmp/flood.json" "$@" >"$tmp/st" 2>&1; then ok; else bad "$_w: $(cat "$tmp/st")"; fi
    echo "$_w: $(head -n 1 "$tmp/st")" >>"$tmp/results"
}
flood_stop() { # the summary line stays in $tmp/flood.json
    kill -TERM "$fpid"
    wait "$fpid"
    _st=$?
    fpid=""
    [ $_st -eq 0 ] && ok || bad "the flood exited $_st: $(cat "$tmp/flood.err")"
}
healthy() { # what
    [ "$(curl -s "http://127.0.0.1:$UB/healthz")" = ok ] && ok || bad "$1: Ub healthz"
    [ "$(curl -s "http://127.0.0.1:$KMS/healthz")" = ok ] && ok || bad "$1: KMS healthz"
    kill -0 "$pid" && kill -0 "$kpid" && ok || bad "$1: a daemon died"
}

# ---- 1. many source addresses ----
bsfd_start --max-connections "$A_CONN1"
kmsd_start --max-connections "$A_CONN1"
open_window
ops "no attack"
flood_start "$A_SOURCES" "$A_IDLE" "$A_SLOW"
if flood_until --open-min "$PER"; then
    flood_check "round 1, flood up" --open-min $((PER * 9 / 10)) --server --server-min $((PER * 9 / 10))
    ops "round 1"
    r=2
    while [ $r -le "$A_ROUNDS" ]; do
        # Right after the next wave of header deadlines: the daemons are closing the flood's
        # connections and the flood is opening them again. How many are open again by then
        # depends on the flood's own speed (one Python process, CPU-bound on a loaded machine),
        # not on the daemons: recorded, with a floor of a quarter so that it is still a flood.
        flood_until --closed-min $(((r - 1) * PER * 9 / 10)) &&
            flood_check "round $r, after header deadline wave $((r - 1))" --open-min $((PER / 4)) \
                --server --server-min $((PER / 4))
        ops "round $r"
        r=$((r + 1))
    done
fi
flood_stop
# The flood's connections ended at the header deadline (5 s from the accept: a median of 5 s
# and none, slowloris included, past 8 s, against 30 s idle and forever slowloris before),
# none refused at accept (neither --max-connections nor the per-address limit was reached),
# none failed to open.
flood_check "many addresses, at the end" --fast-max 0 --errors-max 0 --life 4.5:6.5 --life-max 8 \
    --closed-min "$PER"
healthy "after the flood from many addresses"

# ---- 2. one source address: the per-address limit ----
bsfd_stop
kmsd_stop
bsfd_start --max-connections "$A_CONN2" --max-connections-per-ip "$A_PERIP"
kmsd_start --max-connections "$A_CONN2" --max-connections-per-ip "$A_PERIP"
open_window
flood_start 1 "$A_SINGLE" 0
if flood_until --held-min "$A_PERIP" --fast-min 1; then
    # 127.0.0.2 holds its share and no more; the listener keeps room for everyone else
    flood_check "one address, $A_SINGLE idle each" --held-max "$A_PERIP" --held-min "$A_PERIP" --server
    ops "one address"
fi
flood_stop
flood_check "one address, at the end" --errors-max 0 --fast-min $((A_SINGLE - A_PERIP))
healthy "after the flood from one address"
bsfd_stop
kmsd_stop

echo "results (the flood as its sender saw it; each real operation on the monotonic clock, limit $A_OP_LIMIT s):"
cat "$tmp/results"
finish attack_conn
