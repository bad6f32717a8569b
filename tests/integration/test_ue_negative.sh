#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The UE's own checks, each against a peer that lies in exactly one way:
#   - `imskms ue bootstrap` against a fake BSF (fake_bsf.py, a valid AKA challenge for the test
#     USIM made with `imskms crypto milenage`) that answers with a wrong rspauth, names another
#     realm in its challenge, or sends its 200 without Authentication-Info: exit 1 each time, and
#     no DIR/bootstrap; the same fake when honest bootstraps (the control);
#   - `imskms ue resolve` of a TRANSFER_INIT with one byte flipped in its MAC, and one with a
#     byte flipped inside its IDRi payload's data (the real BSF and KMS on loopback): exit 1 with
#     a one-line error that names the transfer; the untouched transfer resolves (the control).
# Usage: test_ue_negative.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
set -u
B=$1
D=$2
K=$3
SRC=$4
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
# shellcheck source=bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
clock_init
pid=""
kpid=""
fpid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$kpid" ] && kill -9 "$kpid" 2>/dev/null;
      [ -n "$fpid" ] && kill -9 "$fpid" 2>/dev/null; rm -rf "$tmp"' EXIT

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPU=sip:+15550001@ims.example.org
IMPI_B=001010000000002@ims.mnc001.mcc001.3gppnetwork.org
IMPU_B=sip:+15550002@ims.example.org
FQDN=kms.example.org # the name in tests/http/mkca.sh's NAF certificate

# wait_for FILE PATTERN: up to 30 s for a line to appear (a daemon's start-up report).
wait_for() {
    _j=0
    while ! grep -q -- "$2" "$1" 2>/dev/null && [ $_j -lt 600 ]; do
        sleep 0.05
        _j=$((_j + 1))
    done
    grep -q -- "$2" "$1"
}

# ==== part 1: a fake BSF ====
# One AKA vector for a fresh USIM: SQN 0x20 (SEQ 1, IND 0) is fresh for it.
RAND=23553cbe9637a89d218ae64dae47bf35
"$B" crypto milenage --k $KEY --op $OP --rand $RAND --sqn 000000000020 --amf 0000 >"$tmp/vec" ||
    bad "crypto milenage"
AUTN=$(sed -n 's/^autn=//p' "$tmp/vec")
RAND_B64=$(python3 -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' $RAND)
XRES=$(sed -n 's/^res=//p' "$tmp/vec")
python3 "$SRC/tests/integration/fake_bsf.py" --rand $RAND --autn "$AUTN" --xres "$XRES" \
    --log "$tmp/fake.log" >"$tmp/fake.out" 2>"$tmp/fake.err" &
fpid=$!
wait_for "$tmp/fake.out" '^port=' || {
    echo "FAIL: the fake BSF did not start: $(cat "$tmp/fake.err")" >&2
    exit 1
}
FAKE=$(sed -n 's/^port=//p' "$tmp/fake.out")

# fake_boot MODE: a fresh USIM and state directory; exit status in $st, stderr in $tmp/err.
fake_boot() {
    rm -f "$tmp/usim-$1"
    "$B" ue usim-init --usim "$tmp/usim-$1" --impi "$IMPI" --impu "$IMPU" --k $KEY --op $OP \
        >/dev/null || bad "usim-init ($1)"
    mkdir -p "$tmp/fake-$1"
    : >"$tmp/fake.log"
    "$B" ue bootstrap --bsf "http://localhost:$FAKE/$1/" --usim "$tmp/usim-$1" \
        --state "$tmp/fake-$1" >"$tmp/out" 2>"$tmp/err"
    st=$?
}
# refused MODE WHAT: exit 1, one line on stderr, no DIR/bootstrap.
refused() {
    [ $st -eq 1 ] && ok || bad "$2: exit $st, expected 1: $(cat "$tmp/err")"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q 'authentication failed' "$tmp/err" && ok ||
        bad "$2: not one line saying authentication failed: $(cat "$tmp/err")"
    [ ! -e "$tmp/fake-$1/bootstrap" ] && ok || bad "$2: DIR/bootstrap written"
    grep -qF "$RAND_B64" "$tmp/out" && bad "$2: a B-TID printed" || ok
}

fake_boot good
[ $st -eq 0 ] && ok || bad "the honest fake BSF: exit $st: $(cat "$tmp/err")"
[ -s "$tmp/fake-good/bootstrap" ] && ok || bad "the honest fake BSF: no DIR/bootstrap"
grep -qxF "btid=$RAND_B64@localhost" "$tmp/out" && ok ||
    bad "the honest fake BSF: btid: $(cat "$tmp/out")"

# A wrong rspauth: the UE answered right (the fake says so) and refuses the 200.
fake_boot rspauth
refused rspauth "a wrong rspauth"
grep -q '^/rspauth/ answer response=ok$' "$tmp/fake.log" && ok ||
    bad "a wrong rspauth: the UE's answer did not reach the fake or was wrong: $(cat "$tmp/fake.log")"

# A challenge for another realm: the UE must not even answer it.
fake_boot realm
refused realm "a wrong realm"
grep -q 'challenge' "$tmp/fake.log" && ! grep -q 'answer' "$tmp/fake.log" && ok ||
    bad "a wrong realm: the UE answered the challenge: $(cat "$tmp/fake.log")"

# No Authentication-Info on the 200.
fake_boot noinfo
refused noinfo "no Authentication-Info"
grep -q '^/noinfo/ answer response=ok$' "$tmp/fake.log" && ok ||
    bad "no Authentication-Info: the UE's answer did not reach the fake: $(cat "$tmp/fake.log")"

kill "$fpid"
wait "$fpid" 2>/dev/null
fpid=""

# ==== part 2: tampered transfers, against the real BSF and KMS ====
bsfd_pki "$SRC/tests/http/mkca.sh"
DB="$tmp/db"
for who in A B; do
    if [ $who = A ]; then i=$IMPI u=$IMPU; else i=$IMPI_B u=$IMPU_B; fi
    "$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$i" --impu "$u" --k $KEY --op $OP \
        >/dev/null || bad "subscriber add $who"
    "$B" ue usim-init --usim "$tmp/usim$who" --impi "$i" --impu "$u" --k $KEY --op $OP >/dev/null ||
        bad "usim-init $who"
    mkdir -p "$tmp/ue$who"
done
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 3600 --grace 3600 \
    >/dev/null || bad "keys init"
bsfd_start
"$K" --listen 127.0.0.1:0 --fqdn $FQDN --bsf-zn "https://localhost:$ZN" \
    --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
    --keyring "$tmp/keyring" --kek-file "$tmp/kek" --state-db "$tmp/state.db" --skew 30 \
    2>"$tmp/kmsd.log" &
kpid=$!
wait_for "$tmp/kmsd.log" 'kms listening' || {
    echo "FAIL: kmsd did not start: $(cat "$tmp/kmsd.log")" >&2
    exit 1
}
KMS=$(sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p' "$tmp/kmsd.log")
for who in A B; do
    "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim$who" --state "$tmp/ue$who" \
        >/dev/null 2>"$tmp/err" || bad "bootstrap $who: $(cat "$tmp/err")"
done
# The restart rule refuses requests stamped before start + skew: move the test clock past it.
# (A skew of 30 s, not 3: every request's T must still be within it when the KMS reads it, and a
# loaded ASan run can take seconds between the UE stamping it and the KMS checking it.)
clock_advance 31
"$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 3 --state "$tmp/ueA" \
    --identity "$IMPU" >/dev/null 2>"$tmp/err" || bad "kue A: $(cat "$tmp/err")"
"$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 3 --state "$tmp/ueB" \
    --identity "$IMPU_B" >/dev/null 2>"$tmp/err" || bad "kue B: $(cat "$tmp/err")"
"$B" ue request --kms "http://localhost:$KMS" --peer "$IMPU_B" --state "$tmp/ueA" \
    --out "$tmp/xfer" >"$tmp/out" 2>"$tmp/err" || bad "request: $(cat "$tmp/err")"
FA=$(sed -n 's/^tgk_fingerprint=//p' "$tmp/out")

resolve() { # transfer: exit status in $st
    "$B" ue resolve --kms "http://localhost:$KMS" --ticket "$1" --state "$tmp/ueB" \
        >"$tmp/out" 2>"$tmp/err"
    st=$?
}
# flip FILE OFFSET OUT: OUT is FILE with the byte at OFFSET xor 0x01.
flip() {
    python3 -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[int(sys.argv[2])] ^= 1
open(sys.argv[3], "wb").write(d)' "$1" "$2" "$3"
}
# refused_transfer WHAT: exit 1, one line naming the transfer; the KMS resolved the ticket (it
# logged no refusal), so the failure is the UE's own check of the transfer.
refused_transfer() {
    [ $st -eq 1 ] && ok || bad "$1: exit $st, expected 1: $(cat "$tmp/err")"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q 'transfer (TRANSFER_INIT' "$tmp/err" &&
        grep -q 'authentication failed' "$tmp/err" && ok ||
        bad "$1: the error does not name the transfer: $(cat "$tmp/err")"
    [ -z "$(sed -n 's/^tgk_fingerprint=//p' "$tmp/out")" ] && ok || bad "$1: a fingerprint printed"
}
# kms_resolved WHAT: the KMS's log lines since $mark say it resolved the ticket (it logs after
# answering: wait up to 30 s for the line).
kms_resolved() {
    _j=0
    while ! tail -n +$((mark + 1)) "$tmp/kmsd.log" | grep -q 'mikey 200 ticket-resolve .*(ok)' &&
        [ $_j -lt 600 ]; do
        sleep 0.05
        _j=$((_j + 1))
    done
    tail -n +$((mark + 1)) "$tmp/kmsd.log" | grep -q 'mikey 200 ticket-resolve .*(ok)' && ok ||
        bad "$1: the KMS did not resolve the ticket: $(tail -n +$((mark + 1)) "$tmp/kmsd.log")"
}

N=$(wc -c <"$tmp/xfer")
# The MAC is the V payload's, the message's last 32 octets (HMAC-SHA-256-256, RFC 6043 6.1,
# RFC 3830 6.9): flip its last.
flip "$tmp/xfer" $((N - 1)) "$tmp/xfer-mac"
mark=$(wc -l <"$tmp/kmsd.log")
resolve "$tmp/xfer-mac"
refused_transfer "a flipped MAC byte"
kms_resolved "a flipped MAC byte"

# IDRi (RFC 6043 6.6, IDR payload: next, type, role, id type, id length (2), data): A's IMPU is
# its data; flip a byte inside it (the first occurrence of the identity in the message).
OFF=$(grep -obUa -- "$IMPU" "$tmp/xfer" | head -n 1 | cut -d: -f1)
[ -n "$OFF" ] && ok || bad "IDRi: A's identity not found in the transfer"
flip "$tmp/xfer" $((OFF + 5)) "$tmp/xfer-idri" # sip:+1... -> sip:+0...
"$B" mikey decode "$tmp/xfer-idri" >"$tmp/dec" 2>&1
grep -A3 'role: 1 (IDRi)' "$tmp/dec" | grep -q "id_data: sip:+05550001@ims.example.org" && ok ||
    bad "IDRi: the flipped byte is not in IDRi's data: $(cat "$tmp/dec")"
mark=$(wc -l <"$tmp/kmsd.log")
resolve "$tmp/xfer-idri"
refused_transfer "a flipped IDRi byte"
kms_resolved "a flipped IDRi byte"

# The control: the untouched transfer resolves to the caller's fingerprint.
resolve "$tmp/xfer"
[ $st -eq 0 ] && ok || bad "the untouched transfer: exit $st: $(cat "$tmp/err")"
[ -n "$FA" ] && [ "$(sed -n 's/^tgk_fingerprint=//p' "$tmp/out")" = "$FA" ] && ok ||
    bad "the untouched transfer: fingerprints differ"

kill -TERM "$kpid"
wait "$kpid"
st=$?
kpid=""
[ $st -eq 0 ] && ok || bad "kmsd SIGTERM: exit $st"
bsfd_stop
finish test_ue_negative
