#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Wire interop with Wireshark for the SDP of issue 18: an SDP offer or answer carrying a MIKEY
# message in `a=key-mgmt:mikey <base64>` (RFC 4567) is put as the body of a SIP INVITE on UDP
# port 5060 (text2pcap) and decoded by Debian's tshark 4.0, which must show SIP carrying SDP,
# the key-mgmt attribute with prtcl id (kmpid) mikey, and in the MIKEY message it decodes from
# the attribute's base64 the common header (RFC 3830 6.1): version 1, the data type, the PRF
# func and the CSB ID expected.
#
# Only the header fields are checked: tshark 4.0 flags messages with a GENERIC-ID CS ID map and
# crypto sessions (RFC 6043) as malformed, and stops at the first RFC 6043-only payload
# (tests/interop/test_tshark.sh), so malformed marks are reported as notes, not failures.
# tshark and text2pcap are installed by scripts/deps.sh: their absence is a failure.
#
# usage: test_sdp_tshark.sh PATH/TO/test_mksdp
#            an offer test_mksdp writes with kms_sdp_write around a fresh TRANSFER_INIT from
#            kms_transfer_build; expected: data type 14 (TRANSFER_INIT, RFC 6043 6.1), PRF func 1
#            (PRF-HMAC-SHA-256, RFC 6043 6.1), the CSB ID read out of the SDP's base64 with
#            base64(1) and od(1) (octets 4-7 of the message, RFC 3830 6.1)
#        test_sdp_tshark.sh --sdp FILE CSB_ID DATA_TYPE [PRF_FUNC]
#            the SDP in FILE (an offer or answer from elsewhere, e.g. `imskms ue offer`); CSB_ID
#            as 0x and 8 hex digits or decimal, DATA_TYPE and PRF_FUNC decimal (PRF_FUNC 1 when
#            not given). The session-level attribute (or the first) is the one checked.
set -u
LC_ALL=C
TZ=UTC
export LC_ALL TZ

usage() {
    sed -n 's/^# usage: /usage: /p; s/^#        test_sdp/       test_sdp/p' "$0" >&2
    exit 2
}

passes=0
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { passes=$((passes + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }
finish() {
    echo "sdp_tshark: $passes passed, $fails failed"
    [ "$fails" -eq 0 ]
    exit $?
}

# The MIKEY message of the first a=key-mgmt:mikey line of an SDP file, binary, to stdout.
mikey_of() {
    tr -d '\r' <"$1" | sed -n 's/^a=key-mgmt: \{0,1\}mikey //p' | head -n 1 | base64 -d
}

case "${1:-}" in
--sdp)
    [ $# -eq 4 ] || [ $# -eq 5 ] || usage
    sdp=$2
    want_csb=$3
    want_type=$4
    want_prf=${5:-1}
    [ -r "$sdp" ] || { echo "test_sdp_tshark: cannot read $sdp" >&2; exit 2; }
    ;;
"" | -*) usage ;;
*)
    [ $# -eq 1 ] || usage
    sdp=$tmp/offer.sdp
    if ! "$1" >"$sdp" 2>"$tmp/err"; then
        bad "test_mksdp failed: $(cat "$tmp/err")"
        finish
    fi
    want_type=14
    want_prf=1
    want_csb=0x$(mikey_of "$sdp" | od -An -tx1 -j4 -N4 -v | tr -d ' \n')
    ;;
esac
# tshark prints the CSB ID as 0x and 8 lower-case hex digits (printf takes 0x... and decimal).
want_csb=$(printf '0x%08x' "$want_csb") || usage

for tool in tshark text2pcap base64 od; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        bad "$tool not found: run scripts/deps.sh (it installs tshark and wireshark-common)"
    fi
done
[ "$fails" -eq 0 ] || finish
echo "note: $(tshark --version 2>/dev/null | head -n 1)"
echo "note: expecting version 1, data type $want_type, PRF func $want_prf, CSB ID $want_csb"

# The SIP INVITE (RFC 3261 7, 20.15 and 20.14: Content-Type and an exact Content-Length).
len=$(wc -c <"$sdp" | tr -d ' ')
{
    printf 'INVITE sip:bob@example.org SIP/2.0\r\n'
    printf 'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9\r\n'
    printf 'Max-Forwards: 70\r\n'
    printf 'To: <sip:bob@example.org>\r\n'
    printf 'From: <sip:alice@example.org>;tag=9fxced76sl\r\n'
    printf 'Call-ID: 3848276298220188511@192.0.2.1\r\n'
    printf 'CSeq: 1 INVITE\r\n'
    printf 'Contact: <sip:alice@192.0.2.1:5060>\r\n'
    printf 'Content-Type: application/sdp\r\n'
    printf 'Content-Length: %s\r\n\r\n' "$len"
    cat "$sdp"
} >"$tmp/invite"
od -Ax -tx1 -v "$tmp/invite" >"$tmp/invite.od"
if ! text2pcap -q -u 5060,5060 "$tmp/invite.od" "$tmp/invite.pcap" >"$tmp/err" 2>&1; then
    bad "text2pcap failed: $(cat "$tmp/err")"
    finish
fi
if ! tshark -r "$tmp/invite.pcap" -T fields -E header=y -E separator=/t -E occurrence=f \
    -e frame.protocols -e sip.Method -e sip.Content-Length -e sip.Content-Type -e sdp.key_mgmt.kmpid \
    -e mikey.version -e mikey.type -e mikey.prf_func -e mikey.csb_id -e _ws.malformed \
    -e _ws.expert.message >"$tmp/tsv" 2>"$tmp/err"; then
    bad "tshark failed: $(cat "$tmp/err")"
    finish
fi
if [ "$(wc -l <"$tmp/tsv")" -ne 2 ]; then
    bad "tshark printed $(($(wc -l <"$tmp/tsv") - 1)) packets, expected 1"
    finish
fi
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; n = NF; next }
            NR == 2 { for (i = 1; i <= n; i++) print h[i] "\t" $i }' "$tmp/tsv" >"$tmp/got"
got() { awk -F'\t' -v k="$1" '$1 == k { print $2; exit }' "$tmp/got"; }

protos=$(got frame.protocols)
case "$protos" in
*:udp:sip:*sdp*) ok "SIP on UDP 5060 carries SDP ($protos)" ;;
*) bad "frame.protocols is '$protos', expected ...:udp:sip:...sdp..." ;;
esac
case "$protos" in
*sdp:mikey*) ok "tshark dissects the key-mgmt data as MIKEY" ;;
*) bad "frame.protocols '$protos' has no sdp:mikey" ;;
esac
expect() { # field want what
    have=$(got "$1")
    if [ "$have" = "$2" ]; then
        ok "$3: $1 = $2"
    else
        bad "$3: $1: tshark shows '$have', expected '$2'"
    fi
}
expect sip.Method INVITE "SIP request"
expect sip.Content-Length "$len" "SIP body"
expect sip.Content-Type application/sdp "SIP body"
expect sdp.key_mgmt.kmpid mikey "SDP a=key-mgmt prtcl id"
expect mikey.version 1 "MIKEY header"
expect mikey.type "$want_type" "MIKEY header"
expect mikey.prf_func "$want_prf" "MIKEY header"
expect mikey.csb_id "$want_csb" "MIKEY header"
m=$(got _ws.malformed)
e=$(got _ws.expert.message)
if [ -n "$m$e" ]; then
    echo "note: tshark marks (not checked, see the header): malformed='$m' expert='$e'"
fi
finish
