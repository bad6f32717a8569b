#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Interop on Ub: an independent Digest AKAv1-MD5 client (gba_client.py, Python standard library,
# written from RFC 2617 / RFC 3310 / TS 24.109 / TS 35.206 / TS 33.220 and not from our C code)
# bootstraps against a live imskms-bsfd; the Ks_NAF it derives itself must equal the one the
# BSF hands the NAF over Zn. A wrong K must make it refuse the network (MAC-A, exit 1), a
# --sqn-ms ahead of the network's SQN must make it refuse the challenge as stale (exit 1).
# The daemon is started as tests/integration/test_bsfd.sh does and stopped with SIGTERM.
# Usage: test_gba_client.sh IMSKMS IMSKMS_BSFD SOURCE_DIR
set -u
B=$1
D=$2
SRC=$3
CLIENT="$SRC/tests/interop/gba_client.py"
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

command -v python3 >/dev/null || {
    echo "FAIL: python3 missing" >&2
    exit 1
}

K=465b5ce8b199b49faa5f0a2ee238a6bc # TS 35.208 test set 1
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000042@ims.mnc001.mcc001.3gppnetwork.org
NAF=kms.example.org

python3 "$CLIENT" --self-test >/dev/null && ok || bad "gba_client.py --self-test"

# shellcheck source=../integration/lib.sh
. "$SRC/tests/integration/lib.sh"
# shellcheck source=../integration/bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
bsfd_pki "$SRC/tests/http/mkca.sh"
DB="$tmp/db"
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI" --impu sip:+15550042@ims.example.org \
    --k $K --op $OP >/dev/null || bad "subscriber add"

bsfd_start

field() { sed -n "s/^$1=//p" "$2" | head -n 1; }
client() { # K [extra options] -> stdout in $tmp/out, stderr in $tmp/err, exit status returned
    k=$1
    shift
    python3 "$CLIENT" --bsf "http://localhost:$UB/" --impi "$IMPI" --k "$k" --op $OP "$@" \
        >"$tmp/out" 2>"$tmp/err"
}

# ---- a bootstrap by the independent client ----
if client $K --naf-fqdn $NAF; then ok; else bad "gba_client.py: exit $?: $(cat "$tmp/err")"; fi
BTID=$(field btid "$tmp/out")
LIFETIME=$(field lifetime "$tmp/out")
KSNAF=$(field ks_naf "$tmp/out")
RAND=$(field rand "$tmp/out")
printf '%s' "$KSNAF" | grep -Eq '^[0-9a-f]{64}$' && ok || bad "no ks_naf: $(cat "$tmp/out")"
printf '%s' "$LIFETIME" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' && ok ||
    bad "lifetime not an xs:dateTime in UTC: $LIFETIME"
# B-TID = base64(RAND) "@" BSF domain (TS 33.220 4.5.2): the RAND the client saw in the nonce.
[ "$BTID" = "$(printf '%s' "$RAND" | xxd -r -p | base64)@localhost" ] && ok ||
    bad "B-TID $BTID is not base64(RAND)@localhost for RAND $RAND"

# ---- the NAF's view over Zn must hold the same Ks_NAF ----
code=$(curl -s -o "$tmp/zn" -w '%{http_code}' --cacert "$tmp/pki/ca.crt" \
    --cert "$tmp/pki/naf.crt" --key "$tmp/pki/naf.key" -X POST -H 'Content-Type: application/json' \
    -d "{\"btid\":\"$BTID\",\"naf_fqdn\":\"$NAF\",\"ua_protocol_id\":\"0100000006\"}" \
    "https://localhost:$ZN/zn/v1/bootstrap-info")
[ "$code" = 200 ] && ok || bad "zn: $code $(cat "$tmp/zn")"
grep -q "\"ks_naf\":\"$KSNAF\"" "$tmp/zn" && ok ||
    bad "Ks_NAF over Zn differs from the independent client's $KSNAF: $(cat "$tmp/zn")"
grep -q "\"impi\":\"$IMPI\"" "$tmp/zn" && ok || bad "zn impi: $(cat "$tmp/zn")"

# ---- a wrong K: MAC-A does not verify, exit 1 with a reason ----
client 00112233445566778899aabbccddeeff
st=$?
[ $st -eq 1 ] && ok || bad "wrong K: exit $st, expected 1 ($(cat "$tmp/err"))"
grep -q 'MAC-A' "$tmp/err" && ok || bad "wrong K: reason: $(cat "$tmp/err")"

# ---- the USIM has seen a higher SQN: the challenge is stale, exit 1 ----
client $K --sqn-ms ffffffffffff
st=$?
[ $st -eq 1 ] && ok || bad "stale SQN: exit $st, expected 1 ($(cat "$tmp/err"))"
grep -q 'not fresh' "$tmp/err" && ok || bad "stale SQN: reason: $(cat "$tmp/err")"

bsfd_stop
finish "test_gba_client.sh"
