#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Ub answers that must not bootstrap, over HTTP against a live imskms-bsfd: a challenge fetched
# with curl, the answer computed outside the UE client (RES from `imskms crypto check-autn`, the
# Digest response from `imskms crypto digest-aka`, both written from the published algorithms).
#   - a response computed with a wrong RES: 401 without WWW-Authenticate, no body;
#   - the right RES of A's challenge answered under B's username (the response computed for B,
#     so that only the username check can refuse it): the same plain 401;
#   - then the right answer to a fresh challenge: 200 with Authentication-Info.
# Each refusal is also asserted in the daemon's log lines written by that step (the reason).
# Usage: test_ub_negative.sh IMSKMS IMSKMS_BSFD MKCA_SH
set -u
B=$1
D=$2
MKCA=$3
# shellcheck source=../cli/common.sh
. "$(dirname "$0")/../cli/common.sh"
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

K=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI_A=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPI_B=001010000000002@ims.mnc001.mcc001.3gppnetwork.org
CNONCE=6629fae49393a05397450978507c4ef1

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=bsfd_env.sh
. "$(dirname "$0")/bsfd_env.sh"
bsfd_pki "$MKCA"
DB="$tmp/db"
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI_A" --impu sip:+15550001@ims.example.org \
    --k $K --op $OP >/dev/null || bad "subscriber add A"
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI_B" --impu sip:+15550002@ims.example.org \
    --k 00112233445566778899aabbccddeeff --op $OP >/dev/null || bad "subscriber add B"
bsfd_start

# Log lines written since the last mark.
mark() { _mark=$(wc -l <"$tmp/bsfd.log"); }
since_mark() { tail -n +$((_mark + 1)) "$tmp/bsfd.log"; }
wait_new() { # pattern: the daemon logs after it answers, so wait (up to 30 s) for the line
    wait_log "$tmp/bsfd.log" "$_mark" "$1" "$pid"
}

# challenge IMPI: a 401 with WWW-Authenticate; sets NONCE, RAND, AUTN.
challenge() {
    st=$(curl -s -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' \
        -H "Authorization: Digest username=\"$1\", realm=\"localhost\", nonce=\"\", uri=\"/\", response=\"\"" \
        "http://localhost:$UB/")
    [ "$st" = 401 ] || bad "challenge for $1: status $st"
    NONCE=$(sed -n 's/^WWW-Authenticate: Digest .*nonce="\([^"]*\)".*/\1/p' "$tmp/h" | tr -d '\r')
    [ -n "$NONCE" ] || bad "challenge for $1: no nonce: $(cat "$tmp/h")"
    hex=$(printf '%s' "$NONCE" | base64 -d | od -An -tx1 -v | tr -d ' \n')
    RAND=$(printf '%s' "$hex" | cut -c1-32)
    AUTN=$(printf '%s' "$hex" | cut -c33-64)
}
# res K: the USIM's RES for RAND/AUTN (MAC-A must verify).
res() {
    "$B" crypto check-autn --k "$1" --op $OP --rand "$RAND" --autn "$AUTN" | sed -n 's/^res=//p'
}
# answer USERNAME RES: sends the Digest answer; status in $st, headers in $tmp/h, body in $tmp/b.
answer() {
    resp=$("$B" crypto digest-aka --username "$1" --realm localhost --nonce "$NONCE" --uri / \
        --nc 00000001 --cnonce $CNONCE --res "$2" | sed -n 's/^response=//p')
    [ -n "$resp" ] || bad "digest-aka gave no response"
    st=$(curl -s -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' \
        -H "Authorization: Digest username=\"$1\", realm=\"localhost\", nonce=\"$NONCE\", uri=\"/\", response=\"$resp\", algorithm=AKAv1-MD5, qop=auth-int, nc=00000001, cnonce=\"$CNONCE\"" \
        "http://localhost:$UB/")
}
# plain_401 WHAT: the last answer was a 401 with no challenge and no body, logged as refused.
plain_401() {
    if [ "$st" != 401 ]; then
        bad "$1: status $st, expected 401"
        return
    fi
    ok
    if grep -qi '^WWW-Authenticate' "$tmp/h"; then bad "$1: a 401 with a new challenge"; else ok; fi
    [ ! -s "$tmp/b" ] && ok || bad "$1: a body: $(cat "$tmp/b")"
    wait_new "ub 401 impi=$2 refused (KMS_ERR_AUTH)" && ok ||
        bad "$1: the log does not say why: $(since_mark)"
}

# plain_401_as WHAT IMPI REASON: as plain_401, logged with REASON.
plain_401_as() {
    [ "$st" = 401 ] && ok || bad "$1: status $st, expected 401"
    if grep -qi '^WWW-Authenticate' "$tmp/h"; then bad "$1: a 401 with a new challenge"; else ok; fi
    wait_new "ub 401 impi=$2 refused ($3)" && ok || bad "$1: the log does not say why: $(since_mark)"
}

# ---- the control: the right RES bootstraps (so the refusals below are the checks' doing) ----
challenge "$IMPI_A"
RES=$(res $K)
printf '%s' "$RES" | grep -Eq '^[0-9a-f]{16}$' && ok || bad "check-autn: RES '$RES'"
answer "$IMPI_A" "$RES"
[ "$st" = 200 ] && ok || bad "the right answer: status $st"
grep -qi '^Authentication-Info: .*rspauth="[0-9a-f]\{32\}"' "$tmp/h" && ok ||
    bad "200 without Authentication-Info: $(cat "$tmp/h")"
grep -q '<btid>' "$tmp/b" && ok || bad "200 without a B-TID: $(cat "$tmp/b")"

# ---- a wrong RES ----
challenge "$IMPI_A"
RES=$(res $K)
WRONG=$(printf '%s' "$RES" | cut -c1-15)$(printf '%s' "$RES" | cut -c16 | tr '0-9a-f' '123456789abcdef0')
[ "$WRONG" != "$RES" ] && ok || bad "the wrong RES is the right one"
mark
answer "$IMPI_A" "$WRONG"
plain_401 "a wrong RES" "$IMPI_A"
# A refused answer records nothing (issue 13: no state for an answer that does not verify), so
# the right RES to the same challenge still bootstraps, once: then the challenge is spent.
mark
answer "$IMPI_A" "$RES"
[ "$st" = 200 ] && ok || bad "the right RES after a wrong one: status $st"
mark
answer "$IMPI_A" "$RES"
plain_401_as "the right RES to an answered challenge" "$IMPI_A" KMS_ERR_REPLAY

# ---- another IMPI's username on A's challenge, with A's right RES ----
challenge "$IMPI_A"
RES=$(res $K)
mark
answer "$IMPI_B" "$RES"
plain_401 "B's username on A's challenge" "$IMPI_B"

# ---- and still: the right answer to a fresh challenge ----
challenge "$IMPI_A"
RES=$(res $K)
mark
answer "$IMPI_A" "$RES"
[ "$st" = 200 ] && ok || bad "the right answer after the refusals: status $st"
grep -qi '^Authentication-Info: ' "$tmp/h" && ok || bad "200 without Authentication-Info"
wait_new "ub bootstrap impi=$IMPI_A" && ok || bad "no bootstrap in the log: $(since_mark)"

bsfd_stop
finish test_ub_negative
