#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `imskms mikey decode`: the foreign message of vectors/mikey_foreign.txt in every input form,
# a message with every payload type (written by mkmsg with the codec; its fields are checked
# against the values tests/testlib/mikey_samples.c sets, never against earlier output), and malformed input (one
# line on stderr, nothing on stdout, exit 2, with hand-computed offsets).
# Usage: test_cli_mikey.sh IMSKMS VECTOR_DIR MKMSG
set -u
B=$1
V=$2
MK=$3
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

# Reads "key = value" of block [name] from a vector file.
val() { # file block key
    awk -v blk="[$2]" -v key="$3" '
        $0 == blk { inb = 1; next }
        /^\[/ { inb = 0 }
        inb && $1 == key && $2 == "=" { print $3; exit }' "$V/$1"
}

# Writes the bytes of a hex string to stdout (POSIX printf with octal escapes).
hex2bin() {
    h=$1
    fmt=''
    while [ -n "$h" ]; do
        b=${h%"${h#??}"}
        h=${h#??}
        fmt="$fmt\\$(printf '%03o' "0x$b")"
    done
    # shellcheck disable=SC2059 # the format is the octal escapes built above
    printf "$fmt"
}

# Copies file $1 to $2 with the octet at offset $3 set to hex $4.
patch() {
    cp "$1" "$2"
    hex2bin "$4" | dd of="$2" bs=1 seek="$3" conv=notrunc 2>/dev/null
}

# n copies of a two-digit hex string
rep() {
    i=0
    r=''
    while [ $i -lt "$2" ]; do r="$r$1"; i=$((i + 1)); done
    printf '%s' "$r"
}

# Hex of the octets from $1 to $2 (decimal), counting up.
seqhex() {
    i=$1
    r=''
    while [ "$i" -le "$2" ]; do r="$r$(printf '%02x' "$i")"; i=$((i + 1)); done
    printf '%s' "$r"
}

# decode FILE OUT: runs `imskms mikey decode FILE` (stdin when FILE is '<FILE'), expects exit 0,
# nothing on stderr, and keeps stdout in OUT.
decode() {
    src=$1
    out=$2
    case $src in
    '<'*) "$B" mikey decode <"${src#<}" >"$out" 2>"$tmp/err" ;;
    *) "$B" mikey decode "$src" >"$out" 2>"$tmp/err" ;;
    esac
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$tmp/err" ]; then
        bad "decode $src exited $rc: $(cat "$tmp/err")"
        return 1
    fi
    ok
}

# has OUT LINE...: every LINE is a whole line of OUT (leading spaces included)
has() {
    f=$1
    shift
    for want in "$@"; do
        if grep -qxF -- "$want" "$f"; then ok; else bad "$f: no line '$want'"; fi
    done
}

# fails_with CODE WANT_STDERR CMD...: exit CODE, nothing on stdout, exactly one line on stderr,
# equal to WANT_STDERR (or, when WANT_STDERR is '*', any line).
fails_with() {
    code=$1
    want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne "$code" ]; then bad "$* exited $rc, expected $code: $(cat "$tmp/err")"; return; fi
    n=$(wc -l <"$tmp/err")
    if [ "$n" -ne 1 ]; then bad "$*: $n lines on stderr, expected 1: $(cat "$tmp/err")"; return; fi
    if [ -s "$tmp/out" ]; then bad "$*: printed on stdout: $(head -c 300 "$tmp/out")"; return; fi
    if [ "$want" != '*' ] && [ "$(cat "$tmp/err")" != "$want" ]; then
        bad "$*: stderr '$(cat "$tmp/err")', expected '$want'"
        return
    fi
    ok
}

# Same as fails_with, with the input on stdin from file $3.
fails_stdin() {
    code=$1
    want=$2
    in=$3
    shift 3
    # shellcheck disable=SC2016 # expanded by the inner shell
    fails_with "$code" "$want" sh -c '"$0" mikey decode <"$1"' "$B" "$in"
}

P="imskms mikey decode"

# ---- The foreign message (an RTSP server's PSK I_MESSAGE), in every form ------------------
F="rtsp psk i_message null encr"
fv() { val mikey_foreign.txt "$F" "$1"; }
b64=$(fv b64)
printf '%s\n' "$b64" >"$tmp/f.b64"
# raw bytes from coreutils' base64, not from our decoder
base64 -d <"$tmp/f.b64" >"$tmp/f.bin" || bad "base64 -d of the vector"
printf 'a=key-mgmt:mikey %s\r\n' "$b64" >"$tmp/f.sdp"
printf '\n\t  a=key-mgmt:mikey    %s  \n\n' "$b64" >"$tmp/f2.sdp"
printf '  \r\n%s\r\n\t\n' "$b64" >"$tmp/f2.b64"
decode "$tmp/f.bin" "$tmp/o.raw"
decode "$tmp/f.b64" "$tmp/o.b64"
decode "$tmp/f.sdp" "$tmp/o.sdp"
decode "$tmp/f2.sdp" "$tmp/o.sdp2"
decode "$tmp/f2.b64" "$tmp/o.b642"
decode "<$tmp/f.bin" "$tmp/o.stdin"
decode "<$tmp/f.sdp" "$tmp/o.stdin2"
decode - "$tmp/o.dash" <"$tmp/f.b64"
for o in b64 sdp sdp2 b642 stdin stdin2 dash; do
    if cmp -s "$tmp/o.raw" "$tmp/o.$o"; then ok; else bad "output from $o differs from raw"; fi
done
# The fields the vector file lists (read from the message by hand when it was written).
ntp=$(fv t_ntp_utc)
has "$tmp/o.raw" "HDR" "  version: 1" "  data_type: 0 (PSK_INIT)" "  next_payload: 5 (T)" \
    "  v: 0" "  prf: 0 (MIKEY-1)" "  csb_id: 0x$(fv csb_id)" "  cs_count: 1" \
    "  cs_id_map_type: 0 (SRTP-ID)" "  cs[0]" "    policy_no: 0" "    ssrc: 0x$(fv ssrc)" \
    "    roc: 0" "T" "  ts_type: 0 (NTP-UTC)" "RAND" "  rand_len: 16" "  rand: $(fv rand)" \
    "SP" "  prot_type: 0 (SRTP)" "  param_len: 30" \
    "  param: type=0 (Encryption algorithm) len=1 value=01" \
    "  param: type=11 (Authentication tag length) len=1 value=0a" \
    "KEMAC" "  encr_alg: 0 (NULL)" "  encr_data_len: 39" "    KEYDATA" "      type: 2 (TEK)" \
    "      kv: 1 (SPI/MKI)" "      key_len: 30" "      key: $(fv tek)" "      spi: $(fv spi)" \
    "  mac_alg: 0 (NULL)" "  mac: (empty)"
has "$tmp/o.raw" "  csb_id: 0x496ae122" "    ssrc: 0x3acc2ceb"
# The payload lines, in order.
if [ "$(grep -v '^ ' "$tmp/o.raw" | tr '\n' ' ')" = "HDR T RAND SP KEMAC " ]; then ok; else
    bad "foreign: payload lines $(grep -v '^ ' "$tmp/o.raw" | tr '\n' ' ')"
fi
# The NTP-UTC date, rendered by coreutils' date (RFC 4330 era rule: MSB set, era 0).
secs=$(printf '%d' "0x$(printf '%s' "$ntp" | cut -c1-8)")
d=$(date -u -d "@$((secs - 2208988800))" +%Y-%m-%dT%H:%M:%S)
if grep -q "^  ts_value: $ntp ($d\.[0-9]\{6\}Z)\$" "$tmp/o.raw"; then ok; else
    bad "foreign: no ts_value $ntp ($d...Z)"
fi

# ---- Every payload type --------------------------------------------------------------------
"$MK" >"$tmp/e.bin" || bad "mkmsg failed"
base64 -w0 <"$tmp/e.bin" >"$tmp/e.b64"
printf 'a=key-mgmt:mikey %s\n' "$(cat "$tmp/e.b64")" >"$tmp/e.sdp"
decode "$tmp/e.bin" "$tmp/e.out"
decode "$tmp/e.b64" "$tmp/e.out2"
decode "$tmp/e.sdp" "$tmp/e.out3"
if cmp -s "$tmp/e.out" "$tmp/e.out2" && cmp -s "$tmp/e.out" "$tmp/e.out3"; then ok; else
    bad "every-payload message: outputs differ between raw, base64 and SDP"
fi
# Each payload name, top level in message order, then the nested ones.
want="HDR T T RAND RANDR ID IDR CERT TR SP TP TICKET KEMAC PKE DH CHASH ERR GENEXT SAKKE V SIGN "
got=$(grep -v '^ ' "$tmp/e.out" | tr '\n' ' ')
if [ "$got" = "$want" ]; then ok; else bad "every payload: top-level lines '$got'"; fi
for name in IDR TR KEMAC KEYDATA V; do
    if grep -q "^    *$name\$" "$tmp/e.out"; then ok; else bad "every payload: no nested $name"; fi
done
s33_40=$(rep 33 40)
a0_af=$(seqhex 160 175)
a0_bf=$(seqhex 160 191)
e9=$(printf '%d' 0xe9b1c0de)
d_e9=$(date -u -d "@$((e9 - 2208988800))" +%Y-%m-%dT%H:%M:%S)
has "$tmp/e.out" \
    "  data_type: 14 (TRANSFER_INIT)" "  v: 1" "  prf: 1 (PRF-HMAC-SHA-256)" \
    "  csb_id: 0x01020304" "  cs_count: 2" "  cs_id_map_type: 2 (GENERIC-ID)" \
    "  cs[0]" "    cs_id: 1" "    prot_type: 0 (SRTP)" "    s: 1" "    policies: 0 1" \
    "    session_data: 11223344000000010002" "    spi: deadbeef" \
    "  cs[1]" "    cs_id: 2" "    s: 0" "    policies: 0" "    session_data: 11223344" \
    "    spi: (empty)" \
    "  ts_type: 0 (NTP-UTC)" "  ts_value: e9b1c0de12345678 ($d_e9.071111Z)" \
    "  ts_type: 2 (COUNTER)" "  ts_value: 7" \
    "  rand_len: 16" "  rand: $a0_af" "  role: 1 (RANDRi)" "  rand_len: 32" "  rand: $a0_bf" \
    "  id_type: 0 (NAI)" "  id_len: 17" "  id_data: alice@example.org" \
    "  role: 4 (IDRpsk)" "  id_type: 2 (byte string)" "  id_len: 20" \
    "  id_data: $(seqhex 160 179)" \
    "  cert_type: 0 (X.509v3)" "  cert_len: 40" "  cert_data: $s33_40" \
    "  role: 1 (TRi)" "  ts_type: 1 (NTP)" "  ts_value: 000000000000002a (2036-02-07T06:28:16.000000)" \
    "  param_len: 9" "  param: type=1 (Session Encr. key length) len=1 value=10" \
    "  ticket_type: 0xf000" "  flags: E J" "  tp_data_len: 118" \
    "      role: 3 (IDRkms)" "      id_type: 1 (URI)" "      id_data: sip:kms.example.org" \
    "      id_data: sip:alice@example.org" "      id_data: sip:bob@example.org" \
    "      role: 2 (TRs)" "      ts_type: 3 (NTP-UTC-32)" "      ts_value: e9b1c0de (${d_e9}Z)" \
    "      role: 3 (TRe)" "      ts_value: e9b1c0de00000000 (${d_e9}.000000Z)" \
    "      encr_alg: 0 (NULL)" "        KEYDATA" "          type: 6 (MPK)" "          kv: 0 (Null)" \
    "          key_len: 16" "          key: $(rep 00 16)" \
    "  ticket_type: 0xf001" "  flags: D E I K O" "  reserved: 5" "  ticket_data_len: 48" \
    "  ticket_data: $(rep 33 48)" "  init_data_len: 57" \
    "      auth_alg: 2 (HMAC-SHA-256-256)" "      ver_data: $(seqhex 0 31)" \
    "      auth_alg: 1 (HMAC-SHA-1-160)" "      ver_data: $(rep 5a 20)" \
    "  encr_alg: 1 (AES-CM-128)" "  encr_data_len: 30" "  encr_data: $(rep 33 30)" \
    "  mac_alg: 2 (HMAC-SHA-256-256)" "  mac: $(seqhex 0 31)" \
    "  c: 2 (Cache for CSB)" "  data_len: 64" "  data: $(rep 33 64)" \
    "  dh_group: 2 (OAKLEY 2)" "  dh_value: $(rep 77 128)" "  kv: 2 (Interval)" \
    "  valid_from: deadbeef" "  valid_to: dead" \
    "  hash_func: 2 (SHA-256)" "  hash: $a0_bf" \
    "  err_no: 14 (Invalid TICKET)" \
    "  type: 1 (SDP IDs)" "  data_len: 6" "  data: $(printf 'sdp-id' | od -An -tx1 | tr -d ' \n')" \
    "  sakke_params: 1 (Parameter Set 1)" "  id_scheme: 1 (tel URI with monthly keys)" \
    "  sakke_data_len: 33" "  sakke_data: $(rep 33 33)" \
    "  auth_alg: 1 (HMAC-SHA-1-160)" "  ver_data: $(rep 5a 20)" \
    "  s_type: 1 (RSA/PSS)" "  sig_len: 64" "  signature: $(rep 33 64)"
# A KEMAC whose encr_alg is not NULL shows no key data: exactly the two NULL ones in TP data.
if [ "$(grep -c '^ *KEYDATA$' "$tmp/e.out")" -eq 2 ]; then ok; else bad "KEYDATA count"; fi

# Unknown enumeration values, an Empty map, non-printable identities: HDR (REQUEST_INIT_PSK,
# Empty map) || IDR (role 9, type 7, "abc") || IDR (role 6, 0x7f) || ERR 13 || SP prot 5.
hex2bin "010b0e01cafebabe0001""0e09070003616263""0c060100017f""0a0d0000""00000500020100" \
    >"$tmp/u.bin"
decode "$tmp/u.bin" "$tmp/u.out"
has "$tmp/u.out" "  data_type: 11 (REQUEST_INIT_PSK)" "  next_payload: 14 (IDR)" \
    "  csb_id: 0xcafebabe" "  cs_count: 0" "  cs_id_map_type: 1 (Empty)" \
    "  role: 9 (?)" "  id_type: 7 (?)" "  id_len: 3" "  id_data: abc" \
    "  role: 6 (IDRkmsi)" "  id_data: 7f" "  err_no: 13 (?)" \
    "  prot_type: 5 (?)" "  param: type=1 (?) len=0 value="
if [ "$(grep -v '^ ' "$tmp/u.out" | tr '\n' ' ')" = "HDR IDR IDR ERR SP " ]; then ok; else
    bad "unknown values: payload lines"
fi

# ---- Malformed messages: hand-computed offsets in the foreign message ---------------------
# 0 HDR (10) | 10 SRTP-ID map: policy 10, SSRC 11-14, ROC 15-18 | 19 T: next 19, type 20,
# value 21-28 | 29 RAND: next 29, len 30, 31-46 | 47 SP: next 47, policy 48, prot 49,
# length 50-51, params 52-81 (first: type 52, len 53) | 82 KEMAC: next 82, encr alg 83,
# length 84-85, encr data 86-124 (key data: next 86, type/KV 87, key len 88-89, key 90-119,
# SPI len 120, SPI 121-124), MAC alg 125 | 126 bytes.
T="error at offset"
head -c 12 "$tmp/f.bin" >"$tmp/t12"
fails_with 2 "$P: $T 11: input truncated" "$B" mikey decode "$tmp/t12"
head -c 25 "$tmp/f.bin" >"$tmp/t25"
fails_with 2 "$P: $T 21: input truncated" "$B" mikey decode "$tmp/t25"
head -c 40 "$tmp/f.bin" >"$tmp/t40"
fails_with 2 "$P: $T 30: input truncated" "$B" mikey decode "$tmp/t40"
head -c 125 "$tmp/f.bin" >"$tmp/t125"
fails_with 2 "$P: $T 125: input truncated" "$B" mikey decode "$tmp/t125"
# the same truncation as base64 and as an SDP line: offsets in the message, not the text
base64 -w0 <"$tmp/t25" >"$tmp/t25.b64"
fails_with 2 "$P: $T 21: input truncated" "$B" mikey decode "$tmp/t25.b64"
printf 'a=key-mgmt:mikey %s\n' "$(cat "$tmp/t25.b64")" >"$tmp/t25.sdp"
fails_stdin 2 "$P: $T 21: input truncated" "$tmp/t25.sdp"
# a trailing byte
{ cat "$tmp/f.bin"; printf '\000'; } >"$tmp/trail"
fails_with 2 "$P: $T 126: unexpected trailing bytes" "$B" mikey decode "$tmp/trail"
# unknown payload types: the first (header octet 2) and the one after T (octet 19)
patch "$tmp/f.bin" "$tmp/u2" 2 63
fails_with 2 "$P: $T 19: malformed input" "$B" mikey decode "$tmp/u2"
patch "$tmp/f.bin" "$tmp/u19" 19 63
fails_with 2 "$P: $T 29: malformed input" "$B" mikey decode "$tmp/u19"
# version 2
patch "$tmp/f.bin" "$tmp/v2" 0 02
# (as raw bytes its first octet 0x02 is not the version: not a message, not base64 either)
fails_with 2 "$P: error: input is neither a MIKEY message, base64, nor an a=key-mgmt:mikey line" \
    "$B" mikey decode "$tmp/v2"
base64 -w0 <"$tmp/v2" >"$tmp/v2.b64"
fails_with 2 "$P: $T 0: malformed input" "$B" mikey decode "$tmp/v2.b64"
# an SP parameter whose length runs past the parameter block
patch "$tmp/f.bin" "$tmp/sp" 53 20
fails_with 2 "$P: $T 53: input truncated" "$B" mikey decode "$tmp/sp"
# key data type 7 inside the NULL-encrypted KEMAC (offset of the Type/KV octet)
patch "$tmp/f.bin" "$tmp/kd" 87 71
fails_with 2 "$P: $T 87: malformed input" "$B" mikey decode "$tmp/kd"
# key data next payload 5 (neither 20 nor 0)
patch "$tmp/f.bin" "$tmp/kdn" 86 05
fails_with 2 "$P: $T 86: malformed input" "$B" mikey decode "$tmp/kdn"
# every 7th prefix of the every-payload message: nothing on stdout, one line, exit 2
msglen=$(wc -c <"$tmp/e.bin")
len=1
while [ $len -lt "$msglen" ]; do
    head -c $len "$tmp/e.bin" >"$tmp/pre"
    fails_with 2 '*' "$B" mikey decode "$tmp/pre"
    expect_err "^$P: $T [0-9]*: input truncated\$" "prefix of $len octets"
    len=$((len + 7))
done
# a byte after the every-payload message (SIGN is last; its length is fixed by its header)
{ cat "$tmp/e.bin"; printf '\000'; } >"$tmp/etrail"
fails_with 2 "$P: $T $msglen: unexpected trailing bytes" "$B" mikey decode "$tmp/etrail"

# ---- Input that is not a message ----------------------------------------------------------
NEITHER="$P: error: input is neither a MIKEY message, base64, nor an a=key-mgmt:mikey line"
printf 'hello world\n' >"$tmp/g1"
fails_with 2 "$NEITHER" "$B" mikey decode "$tmp/g1"
printf '%s' "$b64" | cut -c2- >"$tmp/g2" # base64 of the wrong length
fails_with 2 "$NEITHER" "$B" mikey decode "$tmp/g2"
printf '%s' "$b64" | tr 'A' '-' >"$tmp/g3" # URL-safe alphabet is not standard base64
fails_with 2 "$NEITHER" "$B" mikey decode "$tmp/g3"
for line in "a=key-mgmt:mikey" "a=key-mgmt:mikey " "a=key-mgmt:mikeyX $b64" \
    "a=key-mgmt:mikey$b64" "a=key-mgmt:kerberos $b64" "A=KEY-MGMT:mikey $b64" \
    "a=key-mgmt: mikey $b64" "a=key-mgmt:mikey $b64 extra" "a=key-mgmt:mikey	$b64"; do
    printf '%s\n' "$line" >"$tmp/g4"
    fails_with 2 "$NEITHER" "$B" mikey decode "$tmp/g4"
done
printf 'a=key-mgmt:mikey %s\r\na=foo\r\n' "$b64" >"$tmp/g5" # another line after it
fails_with 2 "$NEITHER" "$B" mikey decode "$tmp/g5"
printf 'v=0\r\na=key-mgmt:mikey %s\r\n' "$b64" >"$tmp/g6" # a whole SDP is not one line
fails_with 2 "$NEITHER" "$B" mikey decode "$tmp/g6"
hex2bin "0201020304" >"$tmp/g7"
fails_with 2 "$NEITHER" "$B" mikey decode "$tmp/g7"
: >"$tmp/empty"
fails_with 2 "$P: error: empty input" "$B" mikey decode "$tmp/empty"
fails_stdin 2 "$P: error: empty input" "$tmp/empty"
printf ' \r\n\t\n' >"$tmp/blank"
fails_with 2 "$P: error: empty input" "$B" mikey decode "$tmp/blank"
# over 1 MiB: refused before anything else; exactly 1 MiB is read (and then is too long a
# message: 768 KiB of zeros from base64, over the codec's 256 KiB)
head -c 1048577 /dev/zero >"$tmp/big"
fails_with 2 "$P: input larger than 1 MiB (1048576 bytes)" "$B" mikey decode "$tmp/big"
fails_stdin 2 "$P: input larger than 1 MiB (1048576 bytes)" "$tmp/big"
head -c 1048576 /dev/zero | tr '\000' 'A' >"$tmp/mib"
fails_with 2 "$P: $T 0: value exceeds its size limit" "$B" mikey decode "$tmp/mib"
# unreadable files
fails_with 2 "$P: $tmp/nosuch: No such file or directory" "$B" mikey decode "$tmp/nosuch"
fails_with 2 "$P: $tmp: Is a directory" "$B" mikey decode "$tmp"

# ---- Usage --------------------------------------------------------------------------------
fails_with 2 '*' "$B" mikey decode --bogus "$tmp/f.bin"
expect_err "unknown option '--bogus'" "decode with an unknown option"
fails_with 2 '*' "$B" mikey decode "$tmp/f.bin" "$tmp/f.b64"
expect_err "unexpected argument '$tmp/f.b64'" "decode with two files"
fails_with 2 '*' "$B" mikey nosuch
expect_err "imskms mikey: unknown command 'nosuch'" "mikey nosuch"
# without a command: the command list on stderr (as for `imskms crypto`), exit 2
"$B" mikey >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q '^  decode ' "$tmp/err"; then ok; else
    bad "imskms mikey without a command"
fi
if "$B" mikey decode --help >"$tmp/h" 2>"$tmp/err" && [ ! -s "$tmp/err" ] &&
    grep -q '^usage: imskms mikey decode \[FILE\]' "$tmp/h"; then ok; else
    bad "mikey decode --help"
fi
if "$B" mikey --help | grep -q '^  decode '; then ok; else bad "mikey --help lists decode"; fi
if "$B" --help | grep -q '^  mikey '; then ok; else bad "imskms --help lists mikey"; fi

finish test_cli_mikey.sh
