#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# imskms-bsfd on loopback with real HTTP and real TLS: bootstrap, wrong K, replayed answer,
# resynchronisation after the BSF's SQN store was reset, many UEs at once, unknown IMPIs, the
# challenge rate limit, malformed Digest headers, Zn with a good certificate, another NAF's
# and none, and a clean stop on SIGTERM.
# Usage: test_bsfd.sh IMSKMS IMSKMS_BSFD MKCA_SH ZN_CLIENT_PROBE
set -u
B=$1
D=$2
MKCA=$3
PROBE=$4
# shellcheck source=../cli/common.sh
. "$(dirname "$0")/../cli/common.sh"
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

K=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
NAF=kms.example.org

# shellcheck source=bsfd_env.sh
. "$(dirname "$0")/bsfd_env.sh"
bsfd_pki "$MKCA"
DB="$tmp/db"
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI" --impu sip:+15550001@ims.example.org \
    --impu tel:+15550001 --k $K --op $OP >/dev/null || bad "subscriber add"
"$B" ue usim-init --usim "$tmp/usim" --impi "$IMPI" --impu sip:+15550001@ims.example.org --k $K \
    --op $OP >/dev/null || bad "usim-init"

bootstrap() { # usim statedir -> output in $tmp/out
    mkdir -p "$2"
    "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$1" --state "$2" --trace "$2" \
        >"$tmp/out" 2>"$tmp/err"
}
field() { sed -n "s/^$1=//p" "$2" | head -n 1; }
zn() { # cert-name(or none) btid naf -> body in $tmp/zn, status echoed
    if [ "$1" = none ]; then set -- "" "$2" "$3"; else set -- "--cert $tmp/pki/$1.crt --key $tmp/pki/$1.key" "$2" "$3"; fi
    # shellcheck disable=SC2086 # $1 is two options or none
    curl -s -o "$tmp/zn" -w '%{http_code}' --cacert "$tmp/pki/ca.crt" $1 -X POST \
        -H 'Content-Type: application/json' \
        -d "{\"btid\":\"$2\",\"naf_fqdn\":\"$3\",\"ua_protocol_id\":\"0100000006\"}" \
        "https://localhost:$ZN/zn/v1/bootstrap-info"
}
ub_raw() { # Authorization value -> status
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $1" "http://localhost:$UB/"
}

bsfd_start
[ "$(curl -s "http://localhost:$UB/healthz")" = ok ] && ok || bad "healthz"

# ---- a bootstrap, then Zn ----
if bootstrap "$tmp/usim" "$tmp/ue1"; then ok; else bad "bootstrap: $(cat "$tmp/err")"; fi
BTID=$(field btid "$tmp/out")
[ "$(field resyncs "$tmp/out")" = 0 ] && ok || bad "first bootstrap needed a resync"
[ "$(stat -c %a "$tmp/ue1/bootstrap")" = 600 ] && ok || bad "UE state not 0600"
KS=$(field ks "$tmp/ue1/bootstrap")
RAND=$(field rand "$tmp/ue1/bootstrap")
WANT=$("$B" crypto ks-naf --ck "$(printf %s "$KS" | cut -c1-32)" --ik "$(printf %s "$KS" | cut -c33-64)" \
    --rand "$RAND" --impi "$IMPI" --naf-fqdn $NAF | sed -n 's/^ks_naf=//p')
[ "$(zn naf "$BTID" $NAF)" = 200 ] && ok || bad "zn with the NAF's certificate: $(cat "$tmp/zn")"
grep -q "\"ks_naf\":\"$WANT\"" "$tmp/zn" && ok || bad "zn Ks_NAF differs from the UE's own: $(cat "$tmp/zn")"
grep -q '"impus":\["sip:+15550001@ims.example.org","tel:+15550001"\]' "$tmp/zn" && ok || bad "zn impus: $(cat "$tmp/zn")"
[ "$(zn other "$BTID" $NAF)" = 403 ] && ok || bad "zn with another NAF's certificate"
[ "$(zn none "$BTID" $NAF)" = 403 ] && ok || bad "zn without a certificate"
grep -q '"error":"forbidden"' "$tmp/zn" && ok || bad "zn 403 body"
[ "$(zn naf "AAAAAAAAAAAAAAAAAAAAAA==@localhost" $NAF)" = 404 ] && ok || bad "zn unknown B-TID"
[ "$(zn naf 'not json' $NAF)" = 400 ] && ok || bad "zn malformed body"
# Another NAF's certificate cannot even learn whether a B-TID exists.
[ "$(zn other "AAAAAAAAAAAAAAAAAAAAAA==@localhost" $NAF)" = 403 ] && ok || bad "zn probe"

# ---- the library's Zn client: the same Ks_NAF, a cache that honours the key's expiry ----
if "$PROBE" "https://localhost:$ZN/zn/v1/bootstrap-info" "$tmp/pki/ca.crt" "$tmp/pki/naf.crt" \
    "$tmp/pki/naf.key" $NAF "$BTID" "$WANT" "$tmp/pki/other.crt" "$tmp/pki/other.key"; then
    ok
else
    bad "zn_client_probe"
fi

# ---- the answer of the first bootstrap, replayed ----
REPLAY=$(sed -n 's/^Authorization: //p' "$tmp/ue1/03-request.txt")
[ "$(ub_raw "$REPLAY")" = 401 ] && ok || bad "a replayed answer was not refused"

# ---- wrong K: the UE refuses the network (MAC-A), exit 1 ----
"$B" ue usim-init --usim "$tmp/usim-wrong" --impi "$IMPI" --impu sip:x@y --k 00112233445566778899aabbccddeeff \
    --op $OP >/dev/null || bad "usim-init (wrong K)"
bootstrap "$tmp/usim-wrong" "$tmp/ue-wrong"
st=$?
[ $st -eq 1 ] && ok || bad "wrong K: exit $st, expected 1 ($(cat "$tmp/err"))"

# ---- unknown IMPI: a challenge all the same ----
U=$(curl -s -D - -o /dev/null -H 'Authorization: Digest username="nobody@ims.example.org", realm="localhost", nonce="", uri="/", response=""' "http://localhost:$UB/")
printf '%s' "$U" | grep -q '^HTTP/1.1 401' && printf '%s' "$U" | grep -qi '^WWW-Authenticate: Digest realm="localhost", nonce="' &&
    ok || bad "unknown IMPI: no challenge: $U"

# ---- rate limit: a burst of challenges for one IMPI ----
codes=""
for i in 1 2 3 4 5 6 7; do
    codes="$codes $(ub_raw 'Digest username="flood@ims.example.org", realm="localhost", nonce="", uri="/", response=""')"
done
printf '%s' "$codes" | grep -q 429 && ok || bad "no 429 in a burst: $codes"

# ---- malformed Digest headers: 400, and the daemon keeps serving ----
for h in 'Basic dXNlcjpwYXNz' 'Digest' 'Digest username="a' 'Digest username="a", username="b", realm="localhost", nonce="", uri="/", response=""' \
    'Digest username=a realm=b' 'Digest username="a", realm="localhost", nonce="", uri="/", response="", algorithm=MD5' \
    "Digest username=\"$(head -c 400 /dev/zero | tr '\0' a)\", realm=\"localhost\", nonce=\"\", uri=\"/\", response=\"\""; do
    c=$(ub_raw "$h")
    [ "$c" = 400 ] && ok || bad "malformed Authorization '$h': $c"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://localhost:$UB/")" = 400 ] && ok || bad "no Authorization: not 400"
# An answer without algorithm (plain MD5 by RFC 2617) or with a nonce count other than 1.
NOALG=$(printf '%s' "$REPLAY" | sed 's/, algorithm=AKAv1-MD5//')
[ "$(ub_raw "$NOALG")" = 400 ] && ok || bad "an answer without algorithm: not 400"
NC2=$(printf '%s' "$REPLAY" | sed 's/nc=00000001/nc=00000002/')
[ "$(ub_raw "$NC2")" = 400 ] && ok || bad "an answer with nc=00000002: not 400"
[ "$(curl -s "http://localhost:$UB/healthz")" = ok ] && ok || bad "healthz after the malformed requests"

# ---- many UEs at once ----
N=8
i=1
while [ $i -le $N ]; do
    "$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "ue$i@ims.example.org" --impu "sip:ue$i@ims.example.org" \
        --k $K --op $OP >/dev/null || bad "add ue$i"
    "$B" ue usim-init --usim "$tmp/usim$i" --impi "ue$i@ims.example.org" --impu "sip:ue$i@ims.example.org" \
        --k $K --op $OP >/dev/null || bad "usim ue$i"
    i=$((i + 1))
done
i=1
while [ $i -le $N ]; do
    (mkdir -p "$tmp/many$i" && "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim$i" \
        --state "$tmp/many$i" >"$tmp/many$i.out" 2>&1; echo $? >"$tmp/many$i.rc") &
    i=$((i + 1))
done
wait_many() {
    j=0
    while [ "$(ls "$tmp"/many*.rc 2>/dev/null | wc -l)" -lt $N ] && [ $j -lt 400 ]; do
        sleep 0.05
        j=$((j + 1))
    done
}
wait_many
i=1
while [ $i -le $N ]; do
    [ "$(cat "$tmp/many$i.rc" 2>/dev/null)" = 0 ] && ok || bad "parallel UE $i: $(cat "$tmp/many$i.out")"
    i=$((i + 1))
done

# ---- the BSF's SQN store reset: the USIM is ahead, AUTS resynchronises ----
bsfd_stop
"$B" subscriber set-sqn --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI" --sqn 000000000000 >/dev/null ||
    bad "set-sqn"
bsfd_start
if bootstrap "$tmp/usim" "$tmp/ue2"; then ok; else bad "bootstrap after an SQN reset: $(cat "$tmp/err")"; fi
[ "$(field resyncs "$tmp/out")" = 1 ] && ok || bad "expected one resync, got: $(cat "$tmp/out")"
if bootstrap "$tmp/usim" "$tmp/ue3"; then ok; else bad "bootstrap after the resync"; fi
[ "$(field resyncs "$tmp/out")" = 0 ] && ok || bad "a second resync was needed"

# ---- no key in the log ----
grep -qi "$K\|$KS" "$tmp/bsfd.log" && bad "a key in the daemon's log" || ok
bsfd_stop
finish "test_bsfd.sh"
