#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The end-to-end demo. Until the daemons exist (BSF, KMS), it walks one subscriber through the
# GBA bootstrap maths with the imskms CLI, each step on both sides, and checks that the two
# sides agree: Milenage -> AUTN -> RES -> (resync) -> Ks -> Ks_NAF -> B-TID; then seals an
# encrypted Kue under a Kkms with a 2 s lifetime and shows it opening in the grace period and
# refused after it; finally starts the BSF daemon on loopback, bootstraps a UE over Ub (HTTP
# Digest AKA) and fetches the KMS's Ks_NAF over Zn (mutual TLS).
# Exits 0 when every step behaved as shown, 1 otherwise. Installs and builds what it needs.
#
# usage: scripts/demo.sh [--no-build]
set -eu
cd "$(dirname "$0")/.."

build=1
case "${1:-}" in
--no-build) build=0 ;;
--help | -h) sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) echo "demo.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

if [ $build -eq 1 ]; then
    ./scripts/deps.sh
    cmake --preset default >/dev/null
    cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target imskms_cli imskms_bsfd >/dev/null
fi
B=./build/bin/imskms

failures=0
if [ -t 1 ]; then bold=$(printf '\033[1m'); plain=$(printf '\033[0m'); else bold=; plain=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
say() { printf '   %s\n' "$*"; }
check() { # description, then a command that must succeed
    d=$1; shift
    if "$@"; then say "ok: $d"; else say "FAILED: $d"; failures=$((failures + 1)); fi
}
get() { printf '%s\n' "$2" | sed -n "s/^$1=//p"; } # name, output
# The same hex string with its last digit's lowest bit flipped (a one-bit forgery).
flip_last() { printf '%s%s' "${1%?}" "$(printf '%s' "${1#"${1%?}"}" | tr '0123456789abcdef' '1032547698badcfe')"; }
random_hex() { od -An -v -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# The demo subscriber (embedded defaults; keys of a test USIM, not of anybody's SIM).
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
K=8baf473f2f8fd09487cccbd7097c6862
OP=1006020f0a478bf6b699f15c062e42b3
AMF=8000
BSF=bsf.mnc001.mcc001.pub.3gppnetwork.org
KMS=kms.ims.mnc001.mcc001.3gppnetwork.org

step "0. Provisioning: the subscriber's K and OP live in the USIM and in the network"
say "IMPI $IMPI"
say "OPc is derived once from OP; the store keeps OPc, never OP."
OUT=$($B crypto milenage --k $K --op $OP --rand 00000000000000000000000000000000 --sqn 000000000000 --amf 0000)
OPC=$(get opc "$OUT")
say "OPc = OP xor AES_K(OP) = $OPC"

step "1. BSF: a fresh challenge (TS 33.102 6.3.2) from Milenage"
RAND=$(random_hex 16)
SQN=000000000021 # SEQ 1, IND 1 of a 5-bit IND (TS 33.102 Annex C)
NET=$($B crypto milenage --k $K --opc "$OPC" --rand "$RAND" --sqn $SQN --amf $AMF)
AUTN=$(get autn "$NET"); XRES=$(get res "$NET"); CK=$(get ck "$NET"); IK=$(get ik "$NET")
say "RAND = $RAND   (fresh random)"
say "AUTN = (SQN xor AK) || AMF || MAC-A = $AUTN"
say "XRES = $XRES   (kept by the BSF; the UE must prove it can compute it)"
say "The 401 challenge carries nonce = base64(RAND || AUTN)."

step "2. UE (USIM): authenticate the network, answer the challenge"
UE=$($B crypto check-autn --k $K --opc "$OPC" --rand "$RAND" --autn "$AUTN")
RES=$(get res "$UE")
say "MAC-A verified: only the home network (holder of K) can have made this AUTN."
say "SQN recovered from AUTN = $(get sqn "$UE"); the USIM checks it is fresh (Annex C)."
check "USIM recovers the SQN the BSF used" [ "$(get sqn "$UE")" = "$SQN" ]
check "RES computed by the USIM equals the BSF's XRES (the UE is authenticated)" [ "$RES" = "$XRES" ]
check "both sides hold the same CK and IK" [ "$(get ck "$UE")$(get ik "$UE")" = "$CK$IK" ]

step "2b. A forged challenge is refused by the USIM"
BAD_AUTN=$(flip_last "$AUTN")
rc=0; $B crypto check-autn --k $K --opc "$OPC" --rand "$RAND" --autn "$BAD_AUTN" >/dev/null 2>&1 || rc=$?
check "an AUTN with one flipped bit fails MAC-A (exit 1)" [ $rc -eq 1 ]

step "3. Resynchronisation: the USIM has seen a higher SQN than the BSF offers"
SQN_MS=000000000a41 # the USIM's highest accepted SQN (SEQ 82, IND 1)
AUTS=$(get auts "$($B crypto auts --k $K --opc "$OPC" --rand "$RAND" --sqn-ms $SQN_MS)")
say "UE sends AUTS = (SQN_MS xor AK*) || MAC-S = $AUTS (MAC-S over AMF* = 0000)"
REC=$(get sqn_ms "$($B crypto resync --k $K --opc "$OPC" --rand "$RAND" --auts "$AUTS")")
check "the BSF recovers SQN_MS from AUTS with MAC-S verified" [ "$REC" = "$SQN_MS" ]
rc=0; $B crypto resync --k $K --opc "$OPC" --rand "$RAND" --auts "$(flip_last "$AUTS")" >/dev/null 2>&1 || rc=$?
check "a tampered AUTS is refused (exit 1): nobody else can move the SQN" [ $rc -eq 1 ]

step "4. Ks = CK || IK on both sides; Ks_NAF for the KMS (TS 33.220 Annex B.3)"
say "NAF_Id = $KMS || 01 00 00 00 06 (Ua id of IMS UE <-> KMS, TS 33.220 H.3)"
UE_NAF=$($B crypto ks-naf --ck "$(get ck "$UE")" --ik "$(get ik "$UE")" --rand "$RAND" --impi $IMPI --naf-fqdn $KMS --show-s)
BSF_NAF=$($B crypto ks-naf --ck "$CK" --ik "$IK" --rand "$RAND" --impi $IMPI --naf-fqdn $KMS)
say "S = FC || \"gba-me\" || L0 || RAND || L1 || IMPI || L2 || NAF_Id || L3"
say "  = $(get s "$UE_NAF")"
say "Ks_NAF = HMAC-SHA-256(Ks, S) = $(get ks_naf "$BSF_NAF")"
check "UE and BSF derive the same Ks_NAF" [ "$(get ks_naf "$UE_NAF")" = "$(get ks_naf "$BSF_NAF")" ]
OTHER=$($B crypto ks-naf --ck "$CK" --ik "$IK" --rand "$RAND" --impi $IMPI --naf-fqdn other-naf.example.org)
check "another NAF gets an unrelated key from the same bootstrap" [ "$(get ks_naf "$OTHER")" != "$(get ks_naf "$BSF_NAF")" ]

step "5. B-TID: the name under which the KMS asks the BSF for Ks_NAF (Zn)"
BTID=$(get btid "$($B crypto btid --rand "$RAND" --bsf-fqdn $BSF)")
say "B-TID = base64(RAND)@BSF = $BTID"
check "B-TID has the form base64(RAND)@$BSF" sh -c "printf '%s' '$BTID' | grep -Eq '^[A-Za-z0-9+/]{22}==@$BSF\$'"

step "6. The KMS's own key Kkms: a sealed Kue token, rotation and the grace period"
KD=$(mktemp -d)
trap 'rm -rf "$KD"' EXIT
head -c 32 /dev/urandom >"$KD/kek"
chmod 600 "$KD/kek"
KEYS="--keyring $KD/keyring --kek-file $KD/kek"
# shellcheck disable=SC2086 # $KEYS is two options on purpose
$B keys init $KEYS --lifetime 2 --grace 2 >/dev/null
say "keyring: Kkms seals for 2 s, then opens its tokens for 2 s more (short, to watch it live)"
# shellcheck disable=SC2086
TOK=$($B token seal $KEYS --impi $IMPI --impu sip:+15550001@ims.example.org --lifetime 3600)
T1=$(get token "$TOK")
say "encrypted Kue for $IMPI under key $(get key_id "$TOK"): $(printf '%.48s' "$T1")..."
say "its expiry is capped at the key's end of grace: $(get expires "$TOK")"
# shellcheck disable=SC2086
check "the KMS opens it and reads the identity back" sh -c "$B token open $KEYS $T1 | grep -q '^impi=$IMPI\$'"
sleep 2.2
# shellcheck disable=SC2086
NEW=$($B token seal $KEYS --impi $IMPI --lifetime 3600)
check "after 2 s a new Kkms seals new tokens (key $(get key_id "$NEW"))" [ "$(get key_id "$NEW")" = 2 ]
# shellcheck disable=SC2086
check "the old token still opens: key 1 is in its grace period" sh -c "$B token open $KEYS $T1 >/dev/null"
sleep 2.2
rc=0
# shellcheck disable=SC2086
$B token open $KEYS "$T1" >/dev/null 2>"$KD/err" || rc=$?
check "after the grace period it is refused (exit 1): $(cat "$KD/err")" [ $rc -eq 1 ]

step "7. A real bootstrap: the BSF daemon on loopback, a UE over Ub, the KMS's Ks_NAF over Zn"
# A throwaway PKI for Zn's mutual TLS (the KMS's client certificate names kms.example.org).
sh tests/http/mkca.sh "$KD/pki" >/dev/null 2>&1
DB="$KD/subscribers.db"
$B subscriber add --db "$DB" --kek-file "$KD/kek" --impi $IMPI --impu sip:+15550001@ims.example.org \
    --k $K --op $OP >/dev/null
$B ue usim-init --usim "$KD/usim" --impi $IMPI --impu sip:+15550001@ims.example.org --k $K --op $OP >/dev/null
say "subscriber $IMPI in the BSF's store (K, OPc sealed under the KEK) and in a simulated USIM"
./build/bin/imskms-bsfd --db "$DB" --kek-file "$KD/kek" --listen 127.0.0.1:0 --realm localhost \
    --lifetime 3600 --zn-listen 127.0.0.1:0 --zn-cert "$KD/pki/server.crt" --zn-key "$KD/pki/server.key" \
    --zn-client-ca "$KD/pki/ca.crt" 2>"$KD/bsfd.log" &
BSFD=$!
trap 'kill "$BSFD" 2>/dev/null; rm -rf "$KD"' EXIT
i=0
while ! grep -q 'zn listening' "$KD/bsfd.log" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
UB=$(sed -n 's/.*ub listening on port //p' "$KD/bsfd.log")
ZN=$(sed -n 's/.*zn listening on port //p' "$KD/bsfd.log")
say "imskms-bsfd: Ub on http://localhost:$UB/, Zn on https://localhost:$ZN/"
mkdir -p "$KD/ue"
BOOT=$($B ue bootstrap --bsf "http://localhost:$UB/" --usim "$KD/usim" --state "$KD/ue" --trace "$KD/ue")
BT=$(get btid "$BOOT")
check "the UE bootstraps (AUTN verified, RES accepted, rspauth verified): B-TID $BT" [ -n "$BT" ]
say "Ub exchange: GET / -> 401 Digest AKAv1-MD5 challenge -> GET / with the response -> 200"
KS=$(sed -n 's/^ks=//p' "$KD/ue/bootstrap")
RND=$(sed -n 's/^rand=//p' "$KD/ue/bootstrap")
UE_KSNAF=$(get ks_naf "$($B crypto ks-naf --ck "$(printf %s "$KS" | cut -c1-32)" --ik "$(printf %s "$KS" | cut -c33-64)" \
    --rand "$RND" --impi $IMPI --naf-fqdn kms.example.org)")
ZNOUT=$(curl -s --cacert "$KD/pki/ca.crt" --cert "$KD/pki/naf.crt" --key "$KD/pki/naf.key" -X POST \
    -H 'Content-Type: application/json' \
    -d "{\"btid\":\"$BT\",\"naf_fqdn\":\"kms.example.org\",\"ua_protocol_id\":\"0100000006\"}" \
    "https://localhost:$ZN/zn/v1/bootstrap-info")
say "Zn answer: $(printf '%s' "$ZNOUT" | sed 's/"ks_naf":"[0-9a-f]*"/"ks_naf":"(64 hex digits)"/')"
check "the KMS's Ks_NAF over Zn equals the UE's own derivation" sh -c "printf '%s' '$ZNOUT' | grep -q '\"ks_naf\":\"$UE_KSNAF\"'"
ZC=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$KD/pki/ca.crt" --cert "$KD/pki/other.crt" \
    --key "$KD/pki/other.key" -X POST -d "{\"btid\":\"$BT\",\"naf_fqdn\":\"kms.example.org\",\"ua_protocol_id\":\"0100000006\"}" \
    "https://localhost:$ZN/zn/v1/bootstrap-info")
check "a NAF whose certificate names another FQDN is refused (HTTP $ZC)" [ "$ZC" = 403 ]
kill -TERM "$BSFD"
wait "$BSFD" 2>/dev/null
BSFD=""

step "Result"
if [ $failures -eq 0 ]; then
    say "every step behaved as shown"
    exit 0
fi
say "$failures step(s) did not behave as shown"
exit 1
