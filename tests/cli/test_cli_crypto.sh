#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The `imskms crypto` commands against every published vector in tests/vectors, and their
# usage errors (one line on stderr, exit 2). Usage: test_cli_crypto.sh IMSKMS VECTOR_DIR
set -u
B=$1
V=$2
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

# expect_out NAME WANT -- CMD...: stdout contains the line NAME=WANT and exit 0
expect_line() {
    want=$1; shift
    out=$("$@" 2>"$tmp/err"); rc=$?
    if [ $rc -ne 0 ]; then bad "$* exited $rc: $(cat "$tmp/err")"; return; fi
    if printf '%s\n' "$out" | grep -qx -- "$want"; then ok; else bad "$*: no line '$want' in: $out"; fi
}

# expect_exit CODE CMD...: exit status CODE, exactly one line on stderr, nothing on stdout
expect_exit() {
    code=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [ $rc -ne "$code" ]; then bad "$* exited $rc, expected $code"; return; fi
    n=$(wc -l <"$tmp/err")
    if [ "$n" -ne 1 ]; then bad "$*: $n lines on stderr, expected 1: $(cat "$tmp/err")"; return; fi
    if [ -s "$tmp/out" ]; then bad "$*: printed on stdout: $(cat "$tmp/out")"; return; fi
    ok
}

# Reads "key = value" of block [name] from a vector file.
val() { # file block key
    awk -v blk="[$2]" -v key="$3" '
        $0 == blk { inb = 1; next }
        /^\[/ { inb = 0 }
        inb && $1 == key && $2 == "=" { print $3; exit }' "$V/$1"
}

# Milenage test sets 1-6 (TS 35.208 4.3): with --op and with --opc.
for n in 1 2 3 4 5 6; do
    g() { val milenage_ts35208.txt "set $n" "$1"; }
    k=$(g k); op=$(g op); opc=$(g opc); rand=$(g rand); sqn=$(g sqn); amf=$(g amf)
    for keyopt in "--op $op" "--opc $opc"; do
        # shellcheck disable=SC2086
        out=$("$B" crypto milenage --k "$k" $keyopt --rand "$rand" --sqn "$sqn" --amf "$amf")
        for pair in "opc=$opc" "mac_a=$(g f1)" "mac_s=$(g f1star)" "res=$(g f2)" "ck=$(g f3)" \
                    "ik=$(g f4)" "ak=$(g f5)" "ak_star=$(g f5star)"; do
            if printf '%s\n' "$out" | grep -qx "$pair"; then ok; else bad "set $n $keyopt: no $pair"; fi
        done
    done
done
# Upper-case hex is accepted; output is lower case.
expect_line "res=a54211d5e3ba50bf" "$B" crypto milenage --k 465B5CE8B199B49FAA5F0A2EE238A6BC \
    --op CDC202D5123E20F62B6D676AC72CB318 --rand 23553CBE9637A89D218AE64DAE47BF35 --sqn FF9BB4D0B607 --amf B9B9

# libosmocore resync vector: AUTN, AUTS, SQN_MS; check-autn recovers the SQN.
r() { val milenage_ts35208.txt "resync osmocom" "$1"; }
K="--k $(r k) --opc $(r opc) --rand $(r rand)"
# shellcheck disable=SC2086
expect_line "autn=$(r autn)" "$B" crypto milenage $K --sqn "$(r sqn)" --amf "$(r amf)"
# shellcheck disable=SC2086
expect_line "auts=$(r auts)" "$B" crypto auts $K --sqn-ms "$(r sqn_ms)"
# shellcheck disable=SC2086
expect_line "sqn_ms=$(r sqn_ms)" "$B" crypto resync $K --auts "$(r auts)"
# shellcheck disable=SC2086
expect_line "sqn=$(r sqn)" "$B" crypto check-autn $K --autn "$(r autn)"
# shellcheck disable=SC2086
expect_line "res=$(r res)" "$B" crypto check-autn $K --autn "$(r autn)"
# A wrong MAC-S / MAC-A is a failed check: exit 1 with one line.
# shellcheck disable=SC2086
expect_exit 1 "$B" crypto resync $K --auts 8711a0ec9e1637df17f80b384ee5
expect_err "resynchronisation token (MAC-S) failed" "resync with a wrong MAC-S"
# shellcheck disable=SC2086
expect_exit 1 "$B" crypto check-autn $K --autn ec9320c2c2120000c8b7de2a3449f1be
expect_err "network authentication (MAC-A) failed" "check-autn with a wrong MAC-A"

# TS 33.220 KDF: Ks_NAF (values from an independent tool, see vectors/mk_kdf_ts33220.sh).
kv() { val kdf_ts33220.txt "ks_naf gba-me set1" "$1"; }
expect_line "ks_naf=$(kv ks_naf)" "$B" crypto ks-naf --ck "$(kv ck)" --ik "$(kv ik)" \
    --rand "$(kv rand)" --impi "$(kv impi)" --naf-fqdn "$(kv naf_fqdn)"
expect_line "s=$(kv s)" "$B" crypto ks-naf --ck "$(kv ck)" --ik "$(kv ik)" \
    --rand "$(kv rand)" --impi "$(kv impi)" --naf-fqdn "$(kv naf_fqdn)" --ua-id 0100000006 --show-s
# Generic KDF with a two-octet FC and an empty parameter.
g2() { val kdf_ts33220.txt "kdf fc ff01, one text parameter, one empty parameter" "$1"; }
expect_line "out=$(g2 out)" "$B" crypto kdf --key "$(g2 key)" --fc ff01 --param "$(g2 p0)" --param ''
# B-TID (the base64 of RAND checked with coreutils' base64 when this was written).
expect_line "btid=I1U8vpY3qJ0hiuZNrke/NQ==@bsf.mnc001.mcc001.pub.3gppnetwork.org" \
    "$B" crypto btid --rand "$(kv rand)" --bsf-fqdn bsf.mnc001.mcc001.pub.3gppnetwork.org

# MIKEY PRF: the independent model's values (vectors/mk_mikey_prf.py) with a two-chunk inkey,
# and a published Streamwide PRF-HMAC-SHA-256 value (label = 15798cef || cs_id || csb_id || RAND).
for blk in "prf sha1 inkey40 out40" "prf sha256 inkey40 out40" "prf sha1 inkey32 out20"; do
    mp() { val mikey_prf_model.txt "$blk" "$1"; }
    p=$(mp prf); o=$(mp out)
    expect_line "out=$o" "$B" crypto mikey-prf --prf "$p" --inkey "$(mp inkey)" --label "$(mp label)" \
        --len $((${#o} / 2))
done
sw() { val mikey_prf.txt "tgk sha256 encr+salt cs4" "$1"; }
expect_line "out=$(sw encr_key)" "$B" crypto mikey-prf --prf=hmac-sha256 --inkey "$(sw inkey)" \
    --label "15798cef$(sw cs_id)$(sw csb_id)$(sw rand)" --len 16

# Usage errors: one line, exit 2.
S1="--k 465b5ce8b199b49faa5f0a2ee238a6bc --op cdc202d5123e20f62b6d676ac72cb318"
R1="--rand 23553cbe9637a89d218ae64dae47bf35"
# shellcheck disable=SC2086
{
expect_exit 2 "$B" crypto milenage $S1 $R1 --sqn ff9bb4d0b607            # missing --amf
expect_err "missing required option '--amf'" "milenage without --amf"
expect_exit 2 "$B" crypto milenage $S1 $R1 --sqn ff9bb4d0b6 --amf b9b9   # short SQN
expect_err "--sqn: expected 6 bytes" "milenage with a short SQN"
expect_exit 2 "$B" crypto milenage $S1 $R1 --sqn ff9bb4d0b607 --amf b9b9b9
expect_err "--amf: expected 2 bytes" "milenage with a 3-byte AMF"
expect_exit 2 "$B" crypto milenage $S1 $R1 --sqn ff9bb4d0b60 --amf b9b9  # odd length
expect_err "--sqn: invalid hex" "milenage with an odd-length SQN"
expect_exit 2 "$B" crypto milenage $S1 $R1 --sqn xx9bb4d0b607 --amf b9b9 # bad hex
expect_err "--sqn: invalid hex" "milenage with a non-hex SQN"
expect_exit 2 "$B" crypto milenage $S1 $R1 --sqn ff9bb4d0b607 --amf b9b9 --bogus 1
expect_err "unknown option '--bogus'" "milenage with an unknown option"
expect_exit 2 "$B" crypto milenage $S1 $R1 --sqn ff9bb4d0b607 --amf b9b9 --amf b9b9
expect_err "option '--amf' given twice" "milenage with --amf twice"
expect_exit 2 "$B" crypto milenage $S1 --opc cd63cb71954a9f4e48a5994e37a02baf $R1 --sqn ff9bb4d0b607 --amf b9b9
expect_err "exactly one of --op and --opc" "milenage with --op and --opc"
expect_exit 2 "$B" crypto milenage --k 465b5ce8b199b49faa5f0a2ee238a6bc $R1 --sqn ff9bb4d0b607 --amf b9b9
expect_err "exactly one of --op and --opc" "milenage with neither --op nor --opc"
expect_exit 2 "$B" crypto milenage $S1 $R1 --sqn ff9bb4d0b607 --amf
expect_err "option '--amf' needs a value" "milenage with --amf last"
expect_exit 2 "$B" crypto milenage $S1 $R1 --sqn ff9bb4d0b607 --amf b9b9 extra
expect_err "unexpected argument 'extra'" "milenage with an extra argument"
expect_exit 2 "$B" crypto auts $S1 $R1
expect_err "missing required option '--sqn-ms'" "auts without --sqn-ms"
expect_exit 2 "$B" crypto resync $S1 $R1 --auts 00
expect_err "--auts: expected 14 bytes" "resync with a 1-byte AUTS"
expect_exit 2 "$B" crypto kdf --key 00 --fc ff --param 00
expect_err "--fc: must be one byte other than ff" "kdf with --fc ff"
expect_exit 2 "$B" crypto kdf --key 00 --fc 0102
expect_err "--fc: must be one byte other than ff" "kdf with --fc 0102"
expect_exit 2 "$B" crypto kdf --key '' --fc 01
expect_err "--key: must not be empty" "kdf with an empty --key"
expect_exit 2 "$B" crypto kdf --fc 01
expect_err "missing required option '--key'" "kdf without --key"
expect_exit 2 "$B" crypto kdf --key 00 --fc 01 --param 0g
expect_err "--param: invalid hex" "kdf with a non-hex --param"
expect_exit 2 "$B" crypto ks-naf --ck 00 --ik 00 --rand 00 --impi a --naf-fqdn b
expect_err "--ck: expected 16 bytes" "ks-naf with a 1-byte CK"
expect_exit 2 "$B" crypto ks-naf --ck "$(kv ck)" --ik "$(kv ik)" --rand "$(kv rand)" --naf-fqdn kms.example.org
expect_err "missing required option '--impi'" "ks-naf without --impi"
expect_exit 2 "$B" crypto ks-naf --ck "$(kv ck)" --ik "$(kv ik)" --rand "$(kv rand)" --impi 'a b' --naf-fqdn kms.example.org
expect_err "--impi: text must be printable ASCII" "ks-naf with a space in --impi"
expect_exit 2 "$B" crypto ks-naf --ck "$(kv ck)" --ik "$(kv ik)" --rand "$(kv rand)" --impi a@b --naf-fqdn 'kms..org'
expect_err "--naf-fqdn: not a valid FQDN" "ks-naf with an empty label in --naf-fqdn"
expect_exit 2 "$B" crypto ks-naf --ck "$(kv ck)" --ik "$(kv ik)" --rand "$(kv rand)" --impi a@b --naf-fqdn k --ua-id 01
expect_err "--ua-id: expected 5 bytes" "ks-naf with a 1-byte --ua-id"
expect_exit 2 "$B" crypto btid --rand 00 --bsf-fqdn bsf.example.org
expect_err "--rand: expected 16 bytes" "btid with a 1-byte RAND"
M1="--inkey 000102 --label 0a0b"
expect_exit 2 "$B" crypto mikey-prf --prf hmac-md5 $M1 --len 16           # unknown PRF
expect_err "--prf: expected hmac-sha1 or hmac-sha256" "mikey-prf with hmac-md5"
expect_exit 2 "$B" crypto mikey-prf --prf hmac-sha1 --inkey 0g --label 0a0b --len 16
expect_err "--inkey: invalid hex" "mikey-prf with a non-hex --inkey"
expect_exit 2 "$B" crypto mikey-prf --prf hmac-sha1 $M1 --len 1025         # over 1024
expect_err "--len: expected a decimal number from 1 to 1024" "mikey-prf --len 1025"
expect_exit 2 "$B" crypto mikey-prf --prf hmac-sha1 $M1 --len 0
expect_err "--len: expected a decimal number from 1 to 1024" "mikey-prf --len 0"
expect_exit 2 "$B" crypto mikey-prf --prf hmac-sha1 $M1 --len 16x
expect_err "--len: expected a decimal number from 1 to 1024" "mikey-prf --len 16x"
expect_exit 2 "$B" crypto mikey-prf --prf hmac-sha1 $M1 --len -16
expect_err "--len: expected a decimal number from 1 to 1024" "mikey-prf --len -16"
expect_exit 2 "$B" crypto mikey-prf --prf hmac-sha1 $M1 --len 18446744073709551632
expect_err "--len: expected a decimal number from 1 to 1024" "mikey-prf --len 2^64 + 16"
expect_exit 2 "$B" crypto mikey-prf --prf hmac-sha1 $M1
expect_err "missing required option '--len'" "mikey-prf without --len"
expect_exit 2 "$B" crypto mikey-prf --prf hmac-sha1 --inkey '' --label 0a0b --len 16
expect_err "--inkey: must not be empty" "mikey-prf with an empty --inkey"
expect_exit 2 "$B" crypto nosuch
expect_err "imskms crypto: unknown command 'nosuch'" "crypto nosuch"
expect_exit 2 "$B" nosuch
expect_err "imskms: unknown command 'nosuch'" "imskms nosuch"
expect_exit 2 "$B" crypto kdf --key=00 --fc=01 --show-s
expect_err "unknown option '--show-s'" "kdf --show-s"
}
# The 17th --param is refused.
set -- ; i=0; while [ $i -lt 17 ]; do set -- "$@" --param 00; i=$((i + 1)); done
expect_exit 2 "$B" crypto kdf --key 00 --fc 01 "$@"
expect_err "option '--param' given more than 16 times" "kdf with 17 --param"

# HTTP Digest AKAv1-MD5: every response/rspauth of vectors/digest_rfc2617.txt (values from
# openssl, see vectors/mk_digest.sh; RFC 2617 3.5 and RFC 2069 2.4 erratum 749 as published).
unhex() { printf '%s' "$1" | perl -ne 'print pack("H*", $_)'; }
for blk in "rfc2617 3.5" "aka set1 auth-int GET" "aka set1 auts empty password" \
           "aka auth-int POST body, password with 00 and 3a octets"; do
    d() { val digest_rfc2617.txt "$blk" "$1"; }
    unhex "$(d body)" >"$tmp/body"
    unhex "$(d response_body)" >"$tmp/rbody"
    pw=$(d password)
    if [ -n "$pw" ]; then pwopt="--res $pw"; else pwopt=--empty-password; fi
    # shellcheck disable=SC2086
    set -- "$B" crypto digest-aka --username "$(d username)" --realm "$(d realm)" \
        --nonce "$(d nonce)" --uri "$(d uri)" --nc "$(d nc)" --cnonce "$(d cnonce)" \
        --qop "$(d qop)" --method "$(d method)" $pwopt --body-file "$tmp/body" \
        --response-body-file "$tmp/rbody"
    expect_line "response=$(d response)" "$@"
    if [ -n "$(d rspauth)" ]; then expect_line "rspauth=$(d rspauth)" "$@"; fi
done
# Defaults: qop auth-int, method GET, empty bodies.
dv() { val digest_rfc2617.txt "aka set1 auth-int GET" "$1"; }
DA="--username $(dv username) --realm $(dv realm) --nonce $(dv nonce) --uri / --nc 00000001 --cnonce $(dv cnonce)"
# shellcheck disable=SC2086
expect_line "response=$(dv response)" "$B" crypto digest-aka $DA --res "$(dv password)"
# Upper-case hex for --res is accepted (the octets are what count).
# shellcheck disable=SC2086
expect_line "response=$(dv response)" "$B" crypto digest-aka $DA --res A54211D5E3BA50BF
# shellcheck disable=SC2086
{
expect_exit 2 "$B" crypto digest-aka $DA                                   # no password
expect_err "exactly one of --res and --empty-password" "digest-aka without a password"
expect_exit 2 "$B" crypto digest-aka $DA --res a54211d5e3ba50bf --empty-password
expect_err "exactly one of --res and --empty-password" "digest-aka with --res and --empty-password"
expect_exit 2 "$B" crypto digest-aka $DA --res a54211                       # 3 bytes
expect_err "--res: expected 4 to 16 bytes" "digest-aka with a 3-byte RES"
expect_exit 2 "$B" crypto digest-aka $DA --res 00112233445566778899aabbccddeeff00
expect_err "--res: value exceeds its size limit" "digest-aka with a 17-byte RES"
expect_exit 2 "$B" crypto digest-aka $DA --res a54211d5e3ba50bg
expect_err "--res: invalid hex" "digest-aka with a non-hex RES"
expect_exit 2 "$B" crypto digest-aka $DA --res a54211d5e3ba50bf --qop auth-conf
expect_err "--qop: expected auth-int or auth" "digest-aka --qop auth-conf"
expect_exit 2 "$B" crypto digest-aka $DA --res a54211d5e3ba50bf --method ''
expect_err "--method: expected a non-empty printable name" "digest-aka with an empty --method"
expect_exit 2 "$B" crypto digest-aka $DA --res a54211d5e3ba50bf --body-file "$tmp/nosuch"
expect_err "--body-file: $tmp/nosuch: No such file" "digest-aka with a missing --body-file"
expect_exit 2 "$B" crypto digest-aka --username u --realm r --nonce n --uri / --nc 0000000A --cnonce c --res 00000000
expect_err "--nc: expected exactly 8 lower-case hex digits" "digest-aka with an upper-case --nc"
expect_exit 2 "$B" crypto digest-aka --username u --realm r --nonce n --uri / --nc 0000001 --cnonce c --res 00000000
expect_err "--nc: expected exactly 8 lower-case hex digits" "digest-aka with a 7-digit --nc"
expect_exit 2 "$B" crypto digest-aka --username u --realm r --nonce n --uri / --cnonce c --res 00000000
expect_err "missing required option '--nc'" "digest-aka without --nc"
expect_exit 2 "$B" crypto digest-aka --username "$(printf 'a\tb')" --realm r --nonce n --uri / --nc 00000001 --cnonce c --res 00000000
expect_err "--username: text must be printable ASCII" "digest-aka with a tab in --username"
}
head -c 1048577 /dev/zero >"$tmp/big"
# shellcheck disable=SC2086
expect_exit 2 "$B" crypto digest-aka $DA --res a54211d5e3ba50bf --body-file "$tmp/big"
expect_err "--body-file: $tmp/big: larger than 1 MiB" "digest-aka with a body over 1 MiB"
head -c 1048576 /dev/zero >"$tmp/big" # exactly 1 MiB is accepted
# shellcheck disable=SC2086
expect_line 'rspauth=[0-9a-f]\{32\}' "$B" crypto digest-aka $DA --res a54211d5e3ba50bf \
    --response-body-file "$tmp/big"

# --help on every command: exit 0, usage on stdout.
for c in milenage check-autn auts resync kdf ks-naf btid mikey-prf digest-aka; do
    if "$B" crypto "$c" --help | grep -q "^usage: imskms crypto $c"; then ok; else bad "$c --help"; fi
done
"$B" --help | grep -q '^usage: imskms' && ok || bad "imskms --help"
"$B" crypto --help | grep -q '^usage: imskms crypto' && ok || bad "imskms crypto --help"
"$B" --version | grep -q '^imskms ' && ok || bad "imskms --version"

finish test_cli_crypto.sh
