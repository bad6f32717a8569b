#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerates tests/vectors/digest_rfc2617.txt with tools independent of imskms: every
# RFC 2617 3.2.2.1 string (A1, A2, the KD input) is assembled with printf from its definition
# and hashed by `openssl dgst -md5`; RFC 3310 3.2 nonces are base64 from `openssl base64`.
# The RFC 2617 3.5 example must give the response printed in the RFC, or the script fails.
# Usage: mk_digest.sh [--check FILE]
set -eu

hex_of() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
bytes() { printf '%s' "$1" | perl -ne 'print pack("H*", $_)'; } # hex -> raw octets
md5() { bytes "$1" | openssl dgst -md5 -r | cut -d' ' -f1; }    # hex in, lower-case hex out
b64() { bytes "$1" | openssl base64 -A; }
C=$(hex_of :)

# response for: username realm password-hex nonce method uri qop nc cnonce body-hex
# (qop "" = the RFC 2069 form without qop, nc and cnonce)
response() {
    ha1=$(md5 "$(hex_of "$1")$C$(hex_of "$2")$C$3")
    a2="$(hex_of "$5")$C$(hex_of "$6")"
    if [ "$7" = auth-int ]; then a2="$a2$C$(hex_of "$(md5 "${10}")")"; fi
    ha2=$(md5 "$a2")
    if [ -z "$7" ]; then
        md5 "$(hex_of "$ha1")$C$(hex_of "$4")$C$(hex_of "$ha2")"
    else
        md5 "$(hex_of "$ha1")$C$(hex_of "$4")$C$(hex_of "$8")$C$(hex_of "$9")$C$(hex_of "$7")$C$(hex_of "$ha2")"
    fi
}

# RFC 2617 3.5 (the example; the method is GET, as in the RFC's request line).
rfc_user=Mufasa rfc_realm=testrealm@host.com rfc_pw=$(hex_of "Circle Of Life")
rfc_nonce=dcd98b7102dd2f0e8b11d0f600bfb0c093 rfc_uri=/dir/index.html
rfc_published=6629fae49393a05397450978507c4ef1
rfc_resp=$(response $rfc_user $rfc_realm "$rfc_pw" $rfc_nonce GET $rfc_uri auth 00000001 0a4f113b "")
[ "$rfc_resp" = "$rfc_published" ] || { echo "mk_digest.sh: openssl gives $rfc_resp for RFC 2617 3.5, the RFC prints $rfc_published" >&2; exit 1; }
# RFC 2069 2.4 (no qop): same user, realm, nonce and uri, password "CircleOfLife". The RFC
# prints e966c932a9242554e42c8ee200cec7f6, which RFC Editor erratum 749 corrects to this value.
rfc2069_pw=$(hex_of CircleOfLife)
rfc2069_published=1949323746fe6a43ef61f9606e7febea
rfc_2069=$(response $rfc_user $rfc_realm "$rfc2069_pw" $rfc_nonce GET $rfc_uri "" "" "" "")
[ "$rfc_2069" = "$rfc2069_published" ] || { echo "mk_digest.sh: openssl gives $rfc_2069 for RFC 2069 2.4, erratum 749 prints $rfc2069_published" >&2; exit 1; }

# Milenage test set 1 (TS 35.208 4.3.1, tests/vectors/milenage_ts35208.txt): RAND, RES, and
# AUTN = (SQN xor AK) || AMF || MAC-A assembled here from the set's sqn, f5, amf and f1.
V=$(dirname "$0")/milenage_ts35208.txt
set1() { awk -v key="$1" '$0 == "[set 1]" { inb = 1; next } /^\[/ { inb = 0 }
                          inb && $1 == key { print $3; exit }' "$V"; }
rand=$(set1 rand) res=$(set1 f2)
sqn_ak=$(printf '%012x' $((0x$(set1 sqn) ^ 0x$(set1 f5))))
autn=$sqn_ak$(set1 amf)$(set1 f1)
nonce=$(b64 "$rand$autn")
sd=00112233445566778899aabbccddeeff
nonce_sd=$(b64 "$rand$autn$sd")

impi=001010123456789@ims.mnc001.mcc001.3gppnetwork.org
bsf=bsf.ims.mnc001.mcc001.3gppnetwork.org
cnonce=6b8b4567327b23c6
body200=$(hex_of '<?xml version="1.0" encoding="UTF-8"?><BootstrappingInfo xmlns="uri:3gpp-gba"><btid>I1U8vpY3qJ0hiuZNrke/NQ==@bsf.ims.mnc001.mcc001.3gppnetwork.org</btid><lifetime>2024-03-29T22:36:14Z</lifetime></BootstrappingInfo>')
aka_resp=$(response $impi $bsf $res "$nonce" GET / auth-int 00000001 $cnonce "")
aka_rspauth=$(response $impi $bsf $res "$nonce" "" / auth-int 00000001 $cnonce "$body200")
auts_resp=$(response $impi $bsf "" "$nonce" GET / auth-int 00000001 $cnonce "")
post_pw=003a0a8000ff3a01
post_body=$(hex_of 'a=1&b="2"')
post_resp=$(response $impi $bsf $post_pw "$nonce_sd" POST /bsf/x auth-int 0000002a $cnonce "$post_body")
post_rspauth=$(response $impi $bsf $post_pw "$nonce_sd" "" /bsf/x auth-int 0000002a $cnonce "")

out=$(cat <<EOT
# HTTP Digest (RFC 2617) and Digest AKAv1-MD5 (RFC 3310) known-answer data.
# Sources: [rfc2617 3.5] is the example of RFC 2617 section 3.5 (response as printed in the
# RFC); [rfc2069 2.4 erratum 749] the no-qop example of RFC 2069 section 2.4 with the response
# of its erratum 749 (the RFC's own e966c932... is wrong). Every value is recomputed by
# tests/vectors/mk_digest.sh, which assembles A1, A2 and the KD input with printf from
# RFC 2617 3.2.2.1 and hashes with the openssl command line tool, independently of imskms
# (the script fails unless it reproduces both published responses).
# The AKA blocks use Milenage test set 1 (TS 35.208 4.3.1): RAND, RES as the password in raw
# octets (RFC 3310 3.1), AUTN = (SQN xor AK) || AMF || MAC-A; nonce per RFC 3310 3.2.
# password and bodies are hex; an empty qop means the RFC 2069 form (no qop, nc, cnonce).
# rspauth uses A2 = ":" uri ":" H(body of the 200 response) (RFC 2617 3.2.3).

[rfc2617 3.5]
username = $rfc_user
realm = $rfc_realm
password = $rfc_pw
nonce = $rfc_nonce
method = GET
uri = $rfc_uri
qop = auth
nc = 00000001
cnonce = 0a4f113b
body =
response = $rfc_resp

[rfc2069 2.4 erratum 749]
username = $rfc_user
realm = $rfc_realm
password = $rfc2069_pw
nonce = $rfc_nonce
method = GET
uri = $rfc_uri
qop =
nc =
cnonce =
body =
response = $rfc_2069

[aka set1 auth-int GET]
username = $impi
realm = $bsf
password = $res
nonce = $nonce
method = GET
uri = /
qop = auth-int
nc = 00000001
cnonce = $cnonce
body =
response = $aka_resp
response_body = $body200
rspauth = $aka_rspauth

[aka set1 auts empty password]
username = $impi
realm = $bsf
password =
nonce = $nonce
method = GET
uri = /
qop = auth-int
nc = 00000001
cnonce = $cnonce
body =
response = $auts_resp

[aka auth-int POST body, password with 00 and 3a octets]
username = $impi
realm = $bsf
password = $post_pw
nonce = $nonce_sd
method = POST
uri = /bsf/x
qop = auth-int
nc = 0000002a
cnonce = $cnonce
body = $post_body
response = $post_resp
response_body =
rspauth = $post_rspauth

[nonce set1]
rand = $rand
autn = $autn
server_data =
nonce = $nonce

[nonce set1 with server data]
rand = $rand
autn = $autn
server_data = $sd
nonce = $nonce_sd
EOT
)

if [ "${1:-}" = "--check" ]; then
    [ "$out" = "$(cat "$2")" ] || { echo "mk_digest.sh: $2 differs from what openssl computes" >&2; exit 1; }
    echo "mk_digest.sh: $2 matches openssl"
else
    printf '%s\n' "$out"
fi
