#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Two imskms-bsfd nodes of one fleet, each with its own SQLite store holding the same subscriber
# (exported from the first with 'imskms subscriber export', imported into the second), started
# with --node-id 0 and 1, and one simulated USIM: 20 bootstraps alternating between the nodes,
# none needing a resynchronisation (resyncs=0 each time). Every AUTN of the run, taken from the
# UE's --trace files, is decoded with an independent Milenage (tests/interop/gba_client.py,
# written from TS 35.206 and checked against TS 35.208 set 1): MAC-A must verify, no SQN may
# repeat, node 0's IND values must be 0..3 and node 1's 4..7 (TS 33.102 C.1.2 classes of 4), and
# each node's SEQ must rise by one per bootstrap. Then the rate flags: with --rate-burst 3
# --rate-period 30 the 4th challenge of a burst is refused (429, Retry-After: 30), and one
# challenge is served again once the test clock has moved 30 s on.
# Usage: test_bsf_nodes.sh IMSKMS IMSKMS_BSFD MKCA_SH SOURCE_DIR
set -u
B=$1
D=$2
MKCA=$3
SRC=$4
# shellcheck source=../cli/common.sh
. "$(dirname "$0")/../cli/common.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
clock_init
pid="" pid0="" pid1=""
trap 'for p in $pid $pid0 $pid1; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

K=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPU=sip:+15550001@ims.example.org

# shellcheck source=bsfd_env.sh
. "$(dirname "$0")/bsfd_env.sh"
bsfd_pki "$MKCA"
"$B" subscriber add --db "$tmp/db0" --kek-file "$tmp/kek" --impi "$IMPI" --impu "$IMPU" --k $K \
    --op $OP >/dev/null || bad "subscriber add"
"$B" ue usim-init --usim "$tmp/usim" --impi "$IMPI" --impu "$IMPU" --k $K --op $OP >/dev/null ||
    bad "usim-init"

# ---- the second node's store: an export of the first, imported ----
"$B" subscriber export --db "$tmp/db0" --kek-file "$tmp/kek" --out "$tmp/export" >"$tmp/out" ||
    bad "export"
[ "$(cat "$tmp/out")" = "exported=1" ] && ok || bad "export said: $(cat "$tmp/out")"
grep -qi "$K" "$tmp/export" && bad "the export holds K in clear" || ok
"$B" subscriber import --db "$tmp/db1" --kek-file "$tmp/kek" --in "$tmp/export" >"$tmp/out" ||
    bad "import"
[ "$(cat "$tmp/out")" = "imported=1" ] && ok || bad "import said: $(cat "$tmp/out")"
[ "$("$B" subscriber list --db "$tmp/db1" --kek-file "$tmp/kek")" = \
    "$("$B" subscriber list --db "$tmp/db0" --kek-file "$tmp/kek")" ] && ok ||
    bad "the imported store lists otherwise"

# ---- two nodes (a burst of 10 per node: --rate-burst, so that the test need not wait) ----
DB="$tmp/db0"
bsfd_start --node-id 0 --rate-burst 20
pid0=$pid UB0=$UB
DB="$tmp/db1"
bsfd_start --node-id 1 --rate-burst 20
pid1=$pid UB1=$UB
pid=""

: >"$tmp/autns"
i=0
while [ $i -lt 20 ]; do
    node=$((i % 2))
    if [ $node = 0 ]; then port=$UB0; else port=$UB1; fi
    mkdir -p "$tmp/st$i" "$tmp/tr$i"
    if "$B" ue bootstrap --bsf "http://localhost:$port/" --usim "$tmp/usim" --state "$tmp/st$i" \
        --trace "$tmp/tr$i" >"$tmp/out" 2>"$tmp/err"; then
        ok
    else
        bad "bootstrap $i at node $node: $(cat "$tmp/out" "$tmp/err")"
    fi
    [ "$(sed -n 's/^resyncs=//p' "$tmp/out")" = 0 ] && ok ||
        bad "bootstrap $i at node $node needed a resync: $(cat "$tmp/out")"
    # the challenge: the first response's WWW-Authenticate nonce = base64(RAND || AUTN || ...)
    nonce=$(sed -n 's/^WWW-Authenticate: .*nonce="\([^"]*\)".*/\1/p' "$tmp/tr$i/02-response.txt")
    [ -n "$nonce" ] || bad "bootstrap $i: no challenge in the trace"
    echo "$node $nonce" >>"$tmp/autns"
    i=$((i + 1))
done

# The SQNs, decoded from each AUTN with the independent Milenage (autn_sqns.py).
python3 "$SRC/tests/integration/autn_sqns.py" "$SRC/tests/interop" $K $OP "$tmp/autns" \
    >"$tmp/sqns" 2>"$tmp/err"
[ $? -eq 0 ] && ok || bad "AUTN decoding: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/sqns")" -eq 20 ] && ok || bad "expected 20 SQNs: $(cat "$tmp/sqns")"
[ "$(awk '{ print $2 * 32 + $3 }' "$tmp/sqns" | sort | uniq -d | wc -l)" -eq 0 ] && ok ||
    bad "an SQN repeated: $(cat "$tmp/sqns")"
# node 0: IND 0..3, node 1: IND 4..7, in turn; each node's SEQ one more per bootstrap
awk '{ n = $1; c[n]++; want = 4 * n + (c[n] - 1) % 4
       if ($3 != want) { print "IND " $3 " of node " n ", want " want; bad = 1 }
       if (c[n] > 1 && $2 != last[n] + 1) { print "SEQ " $2 " of node " n " after " last[n]; bad = 1 }
       last[n] = $2 }
     END { exit bad }' "$tmp/sqns" >"$tmp/err" && ok || bad "$(cat "$tmp/err")"

pid=$pid0
bsfd_stop
pid=$pid1
bsfd_stop
pid0="" pid1=""

# ---- the rate flags ----
challenge() { # -> status; headers in $tmp/hdr
    curl -s -D "$tmp/hdr" -o /dev/null -w '%{http_code}' \
        -H "Authorization: Digest username=\"$IMPI\", realm=\"localhost\", nonce=\"\", uri=\"/\", response=\"\"" \
        "http://localhost:$UB/"
}
DB="$tmp/db0"
bsfd_start --node-id 0 --rate-burst 3 --rate-period 30
codes="$(challenge) $(challenge) $(challenge) $(challenge)"
[ "$codes" = "401 401 401 429" ] && ok || bad "a burst of 4 with --rate-burst 3: $codes"
tr -d '\r' <"$tmp/hdr" | grep -qi '^Retry-After: 30$' && ok ||
    bad "429 without Retry-After: 30: $(cat "$tmp/hdr")"
# The wall clock moves on too, seconds of it on a loaded ASan build since the burst: 20 s of
# the period's 30 leave a margin of 10 s.
clock_advance 20
[ "$(challenge)" = 429 ] && ok || bad "a token earned before --rate-period"
clock_advance 10
[ "$(challenge)" = 401 ] && ok || bad "no challenge after --rate-period"
[ "$(challenge)" = 429 ] && ok || bad "more than one token earned in one period"
bsfd_stop
# the defaults stay 5 and 2
bsfd_start
# The sixth of a burst is refused only when all six fall within one period (2 s, counted in
# whole seconds of the daemon's clock); a loaded machine can spread them over two seconds of real
# time. A burst that took more than one whole second is no verdict: the clock moves on 10 s
# (the bucket full again) and the burst is tried again, at most 5 times.
tries=0
while :; do
    s0=$(date +%s)
    codes="$(challenge) $(challenge) $(challenge) $(challenge) $(challenge) $(challenge)"
    [ $(($(date +%s) - s0)) -le 1 ] && break
    tries=$((tries + 1))
    [ $tries -lt 5 ] || break
    clock_advance 10
done
[ "$codes" = "401 401 401 401 401 429" ] && ok || bad "the default burst: $codes ($tries slow tries)"
tr -d '\r' <"$tmp/hdr" | grep -qi '^Retry-After: 2$' && ok || bad "default Retry-After: $(cat "$tmp/hdr")"
bsfd_stop

# ---- usage errors ----
for opt in "--node-id 8" "--node-id -1" "--rate-burst 0" "--rate-period 0" "--rate-period 3601"; do
    # shellcheck disable=SC2086 # the option and its value
    "$D" --db "$tmp/db0" --kek-file "$tmp/kek" --listen 127.0.0.1:0 --realm localhost --lifetime 60 \
        --zn-listen 127.0.0.1:0 --zn-cert "$tmp/pki/server.crt" --zn-key "$tmp/pki/server.key" \
        --zn-client-ca "$tmp/pki/ca.crt" $opt >/dev/null 2>"$tmp/err"
    [ $? -eq 2 ] && ok || bad "$opt: not a usage error: $(cat "$tmp/err")"
done
finish "test_bsf_nodes.sh"
