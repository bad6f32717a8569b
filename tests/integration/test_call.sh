#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A call's keys through SDP (issue 18) with the real daemons on loopback: imskms ue offer ->
# answer -> accept for every mode pairing (caller 1/2/3 x callee 1/2/3) with equal TGK and SRTP
# fingerprints and mirrored session files; each SRTP policy, with a second of SRTP each way on
# the negotiated keys (imskms ue rtp-send / rtp-recv); the refusals, each with exit
# status, one line and nothing written (an SDP without a mikey key-mgmt attribute, two at one
# level, bad base64, crypto sessions that do not match the media lines, a policy we do not
# support, ticket flags we cannot honour, equal SSRCs in the answer); the INITIATOR check (a
# transfer MACed with the genuine MPK but naming another initiator); a transfer replayed, and
# ones outside the skew (late, and early); an SSRC of 0 from the peer accepted; `imskms mikey
# decode` of an offer.
# Usage: test_call.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR FORGE_TRANSFER
set -u
B=$1
D=$2
K=$3
SRC=$4
FORGE=$5
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
clock_init
# shellcheck source=bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
# shellcheck source=../cli/media_lib.sh
. "$SRC/tests/cli/media_lib.sh"
pid=""
kpid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$kpid" ] && kill -9 "$kpid" 2>/dev/null; rm -rf "$tmp"' EXIT

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI_A=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPU_A=sip:+15550001@ims.example.org
IMPI_B=001010000000002@ims.mnc001.mcc001.3gppnetwork.org
IMPU_B=sip:+15550002@ims.example.org
FQDN=kms.example.org # the name in tests/http/mkca.sh's NAF certificate
bsfd_fixture "$SRC/tests/http/mkca.sh" "$IMPI_A" "$IMPU_A" $KEY $OP "$tmp/usim-a"
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI_B" --impu "$IMPU_B" --k $KEY \
    --op $OP >/dev/null || bad "subscriber add B"
"$B" ue usim-init --usim "$tmp/usim-b" --impi "$IMPI_B" --impu "$IMPU_B" --k $KEY --op $OP \
    >/dev/null || bad "usim-init B"
bsfd_start
SKEW=30
# shellcheck source=kmsd_env.sh
. "$SRC/tests/integration/kmsd_env.sh"
kmsd_start
open_window
KU="http://localhost:$KMS"

# The UEs: a2/a3 and b2/b3 hold a Kue of mode 2/3 (the IMPU as identity); a1/b1 bootstrap afresh
# in every exchange (mode 1).
for who in a b; do
    if [ $who = a ]; then u="$tmp/usim-a" id=$IMPU_A; else u="$tmp/usim-b" id=$IMPU_B; fi
    mkdir -p "$tmp/${who}1"
    for md in 2 3; do
        run 0 "bootstrap $who$md" "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$u" \
            --state "$tmp/$who$md"
        run 0 "kue $who$md" "$B" ue kue --kms "$KU" --kms-fqdn $FQDN --mode $md \
            --state "$tmp/$who$md" --identity "$id"
    done
done
mode_opts() { # who mode: the mode options of the commands
    if [ "$2" = 1 ]; then
        if [ "$1" = a ]; then
            echo "--mode 1 --bsf http://localhost:$UB/ --usim $tmp/usim-a --kms-fqdn $FQDN --identity $IMPU_A"
        else
            echo "--mode 1 --bsf http://localhost:$UB/ --usim $tmp/usim-b --kms-fqdn $FQDN"
        fi
    else
        echo "--mode $2"
    fi
}
fp() { sed -n "s/^$1_fingerprint=//p" "$tmp/out"; }
sval() { sed -n "s/^$2=//p" "$1/srtp"; }
offer() { # mode dir [options]: the caller's offer to B in dir/offer.sdp, session dir/A
    _m=$1 _d=$2
    shift 2
    # shellcheck disable=SC2046 # the mode options are words
    run 0 "offer (mode $_m)" "$B" ue offer --kms "$KU" --state "$tmp/a$_m" --peer "$IMPU_B" \
        --session "$_d/A" --out "$_d/offer.sdp" $(mode_opts a "$_m") "$@"
}
answer() { # want mode dir offer-sdp [options]: B's answer in dir/answer.sdp, session dir/B
    _w=$1 _m=$2 _d=$3 _o=$4
    shift 4
    # shellcheck disable=SC2046
    run "$_w" "answer (mode $_m, $_o)" "$B" ue answer --kms "$KU" --state "$tmp/b$_m" \
        --offer "$_o" --session "$_d/B" --out "$_d/answer.sdp" $(mode_opts b "$_m") "$@"
}
accept() { # want dir answer-sdp
    run "$1" "accept ($3)" "$B" ue accept --session "$2/A" --answer "$3"
}
# The two session files mirror each other: A's local stream is B's remote one and back.
mirrored() { # dir policy
    a="$1/A" b="$1/B"
    for f in ssrc cs_id key salt roc seq; do
        [ "$(sval "$a" local_$f)" = "$(sval "$b" remote_$f)" ] &&
            [ "$(sval "$a" remote_$f)" = "$(sval "$b" local_$f)" ] && ok ||
            bad "$1: $f not mirrored"
    done
    [ "$(sval "$a" policy)" = "$2" ] && [ "$(sval "$b" policy)" = "$2" ] && ok || bad "$1: policy"
    [ "$(sval "$a" local_cs_id)" = 1 ] && [ "$(sval "$b" local_cs_id)" = 2 ] && ok || bad "$1: cs ids"
    [ "$(sval "$a" local_ssrc)" != "$(sval "$a" remote_ssrc)" ] && ok || bad "$1: equal SSRCs"
    [ "$(sval "$a" local_addr)" = "$(sval "$b" remote_addr)" ] &&
        [ "$(sval "$a" remote_addr)" = "$(sval "$b" local_addr)" ] && ok || bad "$1: addresses"
    [ "$(stat -c %a "$a")" = 700 ] && [ "$(stat -c %a "$b")" = 700 ] &&
        [ "$(stat -c %a "$a/srtp")" = 600 ] && [ "$(stat -c %a "$b/srtp")" = 600 ] && ok ||
        bad "$1: modes of the session directories and files"
    [ ! -e "$a/offer" ] && ok || bad "$1: DIR/offer left after accept"
}
call() { # caller-mode callee-mode dir [offer options]: the whole exchange, fingerprints equal
    _a=$1 _b=$2 _d=$3
    shift 3
    offer "$_a" "$_d" "$@" || return
    T0=$(fp tgk)
    [ -z "$(fp srtp)" ] && ok || bad "the offer printed an SRTP fingerprint"
    answer 0 "$_b" "$_d" "$_d/offer.sdp" || return
    T1=$(fp tgk) S1=$(fp srtp)
    accept 0 "$_d" "$_d/answer.sdp" || return
    T2=$(fp tgk) S2=$(fp srtp)
    printf '%s' "$S1" | grep -Eq '^[0-9a-f]{16}$' && [ "$S1" = "$S2" ] && ok ||
        bad "$_a->$_b: srtp fingerprints '$S1' '$S2'"
    printf '%s' "$T0" | grep -Eq '^[0-9a-f]{16}$' && [ "$T0" = "$T1" ] && [ "$T1" = "$T2" ] && ok ||
        bad "$_a->$_b: tgk fingerprints '$T0' '$T1' '$T2'"
}

# ---- every mode pairing, the default policy ----
for ma in 1 2 3; do
    for mb in 1 2 3; do
        d="$tmp/c$ma$mb"
        mkdir -p "$d"
        call $ma $mb "$d"
        mirrored "$d" aes128-hmac80
    done
done
# The offer: session-level key-mgmt, one m=audio on the default port, 127.0.0.1.
o="$tmp/c33/offer.sdp"
grep -q "^a=key-mgmt:mikey " "$o" && [ "$(grep -n '^a=key-mgmt' "$o" | cut -d: -f1)" -lt \
    "$(grep -n '^m=' "$o" | cut -d: -f1)" ] && ok || bad "key-mgmt not at session level"
grep -q '^m=audio 40000 RTP/SAVP 0' "$o" && grep -q '^c=IN IP4 127.0.0.1' "$o" && ok ||
    bad "offer's m= or c=: $(cat "$o")"
grep -q '^m=audio 40002 RTP/SAVP 0' "$tmp/c33/answer.sdp" && ok || bad "answer's default port"
[ "$(sval "$tmp/c33/A" local_addr)" = 127.0.0.1:40000 ] &&
    [ "$(sval "$tmp/c33/A" remote_addr)" = 127.0.0.1:40002 ] && ok || bad "addresses"

# ---- each policy (keys and salts of its lengths), and chosen ports ----
for pol in aes128-hmac80 aes256-hmac80 aes128-gcm; do
    d="$tmp/p-$pol"
    mkdir -p "$d"
    call 3 2 "$d" --policy $pol --port 41000
    mirrored "$d" $pol
    case $pol in aes256-hmac80) kl=64 sl=28 ;; aes128-gcm) kl=32 sl=24 ;; *) kl=32 sl=28 ;; esac
    [ "$(sval "$d/A" local_key | tr -d '\n' | wc -c)" = $kl ] &&
        [ "$(sval "$d/A" local_salt | tr -d '\n' | wc -c)" = $sl ] && ok || bad "$pol: key lengths"
    [ "$(sval "$d/B" remote_addr)" = 127.0.0.1:41000 ] && ok || bad "$pol: --port"
    # SRTP on the negotiated keys, one second each way (CS 1 is A's stream, CS 2 B's): the
    # payload hashes agree, every packet authenticates.
    for dir in A:B B:A; do
        tx=${dir%:*} rx=${dir#*:}
        recv_start "$pol.$rx.rx" "$d/$rx" || continue
        send "$pol.$tx.tx" "$d/$tx" "$rport" --seconds 1
        recv_wait "$pol.$rx.rx"
        expect "$pol.$rx.rx" packets 50 "$pol $tx->$rx receiver"
        expect "$pol.$rx.rx" auth_failures 0 "$pol $tx->$rx receiver"
        h=$(val "$pol.$tx.tx" payload_sha256)
        [ ${#h} -eq 64 ] && ok || bad "$pol $tx->$rx: sender payload_sha256 '$h'"
        expect "$pol.$rx.rx" payload_sha256 "$h" "$pol $tx->$rx: receiver hash = sender hash"
    done
done
d="$tmp/p-bad"
run 2 "an unknown --policy" "$B" ue offer --kms "$KU" --state "$tmp/a3" --peer "$IMPU_B" \
    --session "$d/A" --out "$d/offer.sdp" --policy aes128-hmac32
[ ! -e "$d" ] && ok || bad "an unknown --policy wrote something"

# ---- mikey decode: an offer's SDP file (and its base64) shows the crypto session ----
run 0 "mikey decode of an offer" "$B" mikey decode --sdp "$o"
for want in "  cs_id_map_type: 2 (GENERIC-ID)" "  cs_count: 1" "    cs_id: 1" \
    "    prot_type: 0 (SRTP)" "    policies: 0" "    spi: 01" \
    "    srtp_ssrc: $(printf '0x%08x' "$(sval "$tmp/c33/A" local_ssrc)")" "    srtp_roc: 0" \
    "  flags: D F G H" "  data_type: 14 (TRANSFER_INIT)" "  v: 1"; do
    grep -qxF -- "$want" "$tmp/out" && ok || bad "mikey decode of an offer: no line '$want'"
done
grep -q 'param: type=0 (Encryption algorithm) len=1 value=01' "$tmp/out" && ok ||
    bad "mikey decode: the SP payload"
run 0 "mikey decode of an answer" "$B" mikey decode --sdp "$tmp/c33/answer.sdp"
grep -qxF "  data_type: 15 (TRANSFER_RESP)" "$tmp/out" && grep -qxF "  cs_count: 2" "$tmp/out" && ok ||
    bad "mikey decode of an answer: $(head -n 12 "$tmp/out")"

# ---- bad offers: exit 2, one line, nothing written, the KMS not asked ----
b64() { sed -n 's/^a=key-mgmt:mikey \([A-Za-z0-9+/=]*\).*$/\1/p' "$1"; }
b64 "$tmp/c33/offer.sdp" | base64 -d >"$tmp/init.raw"
[ -s "$tmp/init.raw" ] && ok || bad "no MIKEY in the offer"
with_mikey() { # sdp raw-file out: the SDP with its key-mgmt data replaced by raw's
    sed "s|^a=key-mgmt:mikey [A-Za-z0-9+/=]*|a=key-mgmt:mikey $(base64 -w0 "$2")|" "$1" >"$3"
}
state_before=$(cat "$tmp/b3/transfers" | sha256sum)
refuse_offer() { # what sdp words-of-the-error
    d="$tmp/r-$(printf %s "$1" | tr -c 'a-z0-9' -)"
    m=$(log_mark "$tmp/kmsd.log")
    answer 2 3 "$d" "$2" && { grep -q -- "$3" "$tmp/err" && ok || bad "$1: $(cat "$tmp/err")"; }
    [ ! -e "$d/B" ] && [ ! -e "$d/answer.sdp" ] && ok || bad "$1: something written"
    [ "$(cat "$tmp/b3/transfers" | sha256sum)" = "$state_before" ] && ok ||
        bad "$1: the replay record changed"
    log_has "$tmp/kmsd.log" "$m" 'mikey ' && bad "$1: the KMS was asked" || ok
}
grep -v '^a=key-mgmt' "$o" >"$tmp/o-none.sdp"
refuse_offer "no key-mgmt" "$tmp/o-none.sdp" "no a=key-mgmt:mikey"
sed 's/^a=key-mgmt:mikey .*$/&\n&/' "$o" >"$tmp/o-two.sdp"
refuse_offer "two key-mgmt" "$tmp/o-two.sdp" "not an SDP we read"
sed 's/^\(a=key-mgmt:mikey [A-Za-z0-9+/]\{8\}\)/\1!/' "$o" >"$tmp/o-b64.sdp"
refuse_offer "bad base64" "$tmp/o-b64.sdp" "invalid base64"
# Other protocols' key-mgmt lines are ignored; the media level's mikey overrides the session's.
sed 's/^a=key-mgmt:mikey .*$/a=key-mgmt:other AAAA\r\n&/' "$o" >"$tmp/o-other.sdp"
sed 's/^a=key-mgmt:mikey .*$/a=key-mgmt:mikey AAAA\r/' "$o" >"$tmp/o-lvl.sdp"
printf 'a=key-mgmt:mikey %s\r\n' "$(base64 -w0 "$tmp/init.raw")" >>"$tmp/o-lvl.sdp"
# A second media line for the one crypto session.
cat "$o" >"$tmp/o-2m.sdp"
printf 'm=audio 40010 RTP/SAVP 0\r\n' >>"$tmp/o-2m.sdp"
refuse_offer "two media lines" "$tmp/o-2m.sdp" "one m=audio line"
# A TRANSFER_INIT without a crypso session ('ue request') for the one media line.
run 0 "ue request" "$B" ue request --kms "$KU" --state "$tmp/a3" --peer "$IMPU_B" --out "$tmp/req.raw"
with_mikey "$o" "$tmp/req.raw" "$tmp/o-0cs.sdp"
refuse_offer "no crypto session" "$tmp/o-0cs.sdp" "crypto sessions do not match the media lines"
# The policy and the ticket flags are checked before the MAC can be (RFC 6043 4.2.2.2).
python3 - "$tmp/init.raw" "$tmp/init-pol.raw" "$tmp/init-flags.raw" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
sp = b.index(bytes([1, 1, 16, 2, 1, 1]))          # SP params: key length 16, then auth alg
open(sys.argv[2], "wb").write(b[:sp] + bytes([1, 1, 24]) + b[sp + 3:])   # a 24-octet key
tk = b.index(bytes([0xF1, 0xA2, 1, 1, 3, 0x70]))  # TICKET: type, subtype, version, PRF|D, E..L
open(sys.argv[3], "wb").write(b[:tk + 5] + bytes([0x30]) + b[tk + 6:])  # F cleared
EOF
with_mikey "$o" "$tmp/init-pol.raw" "$tmp/o-pol.sdp"
refuse_offer "a policy we do not support" "$tmp/o-pol.sdp" "SRTP policy we do not support"
with_mikey "$o" "$tmp/init-flags.raw" "$tmp/o-flags.sdp"
refuse_offer "F cleared" "$tmp/o-flags.sdp" "ticket flags we cannot honour"

# ---- freshness: the same transfer again (any session directory) is a replay ----
d="$tmp/replay"
answer 1 3 "$d" "$tmp/c33/offer.sdp" && grep -q "accepted before" "$tmp/err" && ok ||
    bad "a replayed transfer: $(cat "$tmp/err")"
[ ! -e "$d/B" ] && ok || bad "a replayed transfer wrote a session"
# Three entries, from the calls to b3 (c13, c23, c33), and the refusals changed nothing.
grep -c '^entry=' "$tmp/b3/transfers" | grep -qx 3 && ok || bad "three record entries expected"
[ "$(cat "$tmp/b3/transfers" | sha256sum)" = "$state_before" ] && ok || bad "a replay changed the record"
[ "$(stat -c %a "$tmp/b3/transfers")" = 600 ] && ok || bad "transfers is not 0600"
# The media-level mikey (the genuine offer) overrides the session-level junk, and a key-mgmt of
# another protocol is ignored: both reach the freshness check (a replay), not a parse error.
answer 1 3 "$tmp/lvl" "$tmp/o-lvl.sdp" && grep -q "accepted before" "$tmp/err" && ok ||
    bad "media level over session level: $(cat "$tmp/err")"
answer 1 3 "$tmp/oth" "$tmp/o-other.sdp" && grep -q "accepted before" "$tmp/err" && ok ||
    bad "another protocol's key-mgmt: $(cat "$tmp/err")"
# A fresh offer answered after more than the skew (60 s by default): refused; --skew allows it.
d="$tmp/late"
mkdir -p "$d"
offer 3 "$d"
clock_advance 61
answer 1 3 "$d" "$d/offer.sdp" && grep -q "timestamp outside" "$tmp/err" && ok ||
    bad "a late transfer: $(cat "$tmp/err")"
answer 0 3 "$d" "$d/offer.sdp" --skew 120
# One stamped more than the skew ahead of the callee's clock (moved back 90 s for the answer:
# the real time between offer and answer, seconds on a loaded ASan build, eats into the
# margin): refused too, before the KMS is asked and with nothing written.
d="$tmp/early"
mkdir -p "$d"
offer 3 "$d"
clock_advance -90
m=$(log_mark "$tmp/kmsd.log")
answer 1 3 "$d" "$d/offer.sdp" && grep -q "timestamp outside" "$tmp/err" && ok ||
    bad "a transfer from the future: $(cat "$tmp/err")"
clock_advance 90
[ ! -e "$d/B" ] && ok || bad "a transfer from the future wrote a session"
log_has "$tmp/kmsd.log" "$m" 'mikey ' && bad "a transfer from the future: the KMS was asked" || ok
# Expired entries are pruned: 121 s later only the last one is left.
clock_advance 121
d="$tmp/prune"
mkdir -p "$d"
call 3 3 "$d"
grep -c '^entry=' "$tmp/b3/transfers" | grep -qx 1 && ok ||
    bad "expired entries not pruned: $(cat "$tmp/b3/transfers")"

# ---- the INITIATOR check: MACed with the genuine MPK, naming another initiator ----
d="$tmp/init-check"
mkdir -p "$d"
offer 2 "$d"
b64 "$d/offer.sdp" | base64 -d >"$d/init.raw"
MPK=$(sed -n 's/^mpk=//p' "$d/A/offer")
"$FORGE" init "$d/init.raw" "$MPK" "sip:+15550003@ims.example.org" 0x01020304 "$d/forged.raw" &&
    ok || bad "forge init"
with_mikey "$d/offer.sdp" "$d/forged.raw" "$d/forged.sdp"
answer 1 3 "$d" "$d/forged.sdp" && grep -q "the transfer (TRANSFER_INIT in --offer): auth" \
    "$tmp/err" && ok || bad "another initiator: $(cat "$tmp/err")"
[ ! -e "$d/B" ] && ok || bad "another initiator: a session written"
# The same forgery naming the true initiator and SSRC 0: accepted (0 is no special value).
"$FORGE" init "$d/init.raw" "$MPK" "$IMPU_A" 0 "$d/ssrc0.raw" && ok || bad "forge init ssrc 0"
with_mikey "$d/offer.sdp" "$d/ssrc0.raw" "$d/ssrc0.sdp"
answer 0 3 "$d" "$d/ssrc0.sdp"
[ "$(sval "$d/B" remote_ssrc)" = 0 ] && [ "$(sval "$d/B" local_ssrc)" != 0 ] && ok ||
    bad "SSRC 0 from the peer"

# ---- accept: equal SSRCs, a tampered answer, an answer accepted twice ----
d="$tmp/acc"
mkdir -p "$d"
offer 3 "$d"
answer 0 3 "$d" "$d/offer.sdp"
b64 "$d/offer.sdp" | base64 -d >"$d/init.raw"
MPK=$(sed -n 's/^mpk=//p' "$d/A/offer")
"$FORGE" resp "$d/init.raw" "$MPK" "$IMPU_B" "$(sval "$d/B" remote_ssrc)" "$d/eq.raw" && ok ||
    bad "forge resp"
with_mikey "$d/answer.sdp" "$d/eq.raw" "$d/eq.sdp"
accept 2 "$d" "$d/eq.sdp" && grep -q "SSRC equals ours" "$tmp/err" && ok ||
    bad "equal SSRCs: $(cat "$tmp/err")"
[ ! -e "$d/A/srtp" ] && [ -e "$d/A/offer" ] && ok || bad "equal SSRCs: something written"
b64 "$d/answer.sdp" | base64 -d >"$d/resp.raw"
python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[-1]^=1; open(sys.argv[2],"wb").write(b)' \
    "$d/resp.raw" "$d/resp-bad.raw"
with_mikey "$d/answer.sdp" "$d/resp-bad.raw" "$d/bad.sdp"
accept 1 "$d" "$d/bad.sdp"
accept 0 "$d" "$d/answer.sdp"
accept 3 "$d" "$d/answer.sdp" && grep -q "no offer" "$tmp/err" && ok || bad "accepted twice"

# ---- tshark reads the offer and the answer as SDP with a MIKEY key-mgmt attribute ----
# (tests/interop/test_sdp_tshark.sh: the SDP fields and the MIKEY header; tshark 4.0 calls a
# GENERIC-ID map malformed, docs/media.md, so mikey decode --sdp above checks the content.)
for f in "$o:14" "$tmp/c33/answer.sdp:15"; do
    sdp=${f%:*} dt=${f##*:}
    csb=$("$B" mikey decode --sdp "$sdp" | sed -n 's/^  csb_id: //p')
    if sh "$SRC/tests/interop/test_sdp_tshark.sh" --sdp "$sdp" "$csb" "$dt" 1 >"$tmp/ts.out" 2>&1
    then ok; else bad "tshark on $(basename "$sdp"): $(grep FAIL "$tmp/ts.out" | head -n 5)"; fi
done

kmsd_stop
bsfd_stop
finish test_call
