#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `imskms subscriber` end to end: every command, the usage errors, that no K, OP or OPc ever
# appears in any output nor in the database file, and that the stored OPc for --op is the one
# TS 35.208 publishes (read back through subprobe, a test-only helper that prints stored keys).
# Usage: test_cli_subscriber.sh IMSKMS SUBPROBE
set -u
B=$1
PROBE=$2
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

# TS 35.208 v17.0.0 4.3, test set 1.
K=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
OPC=cd63cb71954a9f4e48a5994e37a02baf
RAND=23553cbe9637a89d218ae64dae47bf35
SQN1=ff9bb4d0b607
AMF1=b9b9
MAC_A=4a9ffac354dfafb3
# A second subscriber (test set 2's K and OPc).
K2=fec86ba6eb707ed08905757b1bb44b8f
OPC2=1006020f0a478bf6b699f15c062e42b3
UPPER_K=$(echo "$K" | tr a-f A-F)

# run EXPECTED_STATUS DESCRIPTION CMD...: output in $tmp/out, $tmp/err; both also kept in
# $tmp/all, searched for keys at the end.
expect_out() { # exact-stdout what
    if [ "$(cat "$tmp/out")" = "$1" ]; then ok; else bad "$2: got '$(cat "$tmp/out")', expected '$1'"; fi
}
# probe IMPI: the stored keys, through the test-only helper (its output, keys and all, is kept
# out of $tmp/all).
probe() {
    if "$PROBE" "$DB" "$tmp/kek" "$1" >"$tmp/out" 2>"$tmp/err"; then ok; else bad "probe $1: $(cat "$tmp/err")"; fi
}
# hex_of FILE: the file's bytes as one line of lower-case hex.
hex_of() { od -An -tx1 -v "$1" | tr -d ' \n'; }

: >"$tmp/all"
head -c 32 /dev/urandom >"$tmp/kek"
chmod 600 "$tmp/kek"
DB="$tmp/subscribers.db"
set -- --db "$DB" --kek-file "$tmp/kek"
A=alice@ims.example.org

# ---- help ----
for c in "subscriber" "subscriber add" "subscriber list" "subscriber del" "subscriber set-sqn"; do
    # shellcheck disable=SC2086 # split the command words on purpose
    run 0 "$c --help" "$B" $c --help && grep -q '^usage:' "$tmp/out" || bad "$c --help prints no usage"
done
grep -q 'LOWER' "$tmp/out" && ok || bad "set-sqn --help does not say it may lower the mark"
# (without a subcommand the dispatcher prints the command list on stderr, as for every family)
"$B" subscriber >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "no subcommand: expected exit 2"
run 2 "unknown subcommand" "$B" subscriber frob
expect_err "unknown command 'frob'" "unknown subcommand"

# ---- usage errors of add (the database is not created by any of them) ----
run 2 "add without --impi" "$B" subscriber add "$@" --impu sip:a --k "$K" --opc "$OPC"
expect_err "--impi" "add without --impi"
run 2 "add without --impu" "$B" subscriber add "$@" --impi "$A" --k "$K" --opc "$OPC"
expect_err "--impu" "add without --impu"
run 2 "add without --k" "$B" subscriber add "$@" --impi "$A" --impu sip:a --opc "$OPC"
expect_err "--k" "add without --k"
run 2 "add with --op and --opc" "$B" subscriber add "$@" --impi "$A" --impu sip:a --k "$K" --op "$OP" --opc "$OPC"
expect_err "exactly one of --op and --opc" "add with --op and --opc"
run 2 "add with neither --op nor --opc" "$B" subscriber add "$@" --impi "$A" --impu sip:a --k "$K"
expect_err "exactly one of --op and --opc" "add with neither --op nor --opc"
run 2 "add with a short --k" "$B" subscriber add "$@" --impi "$A" --impu sip:a --k 465b5c --opc "$OPC"
expect_err "16 bytes" "add with a short --k"
run 2 "add with a non-hex --opc" "$B" subscriber add "$@" --impi "$A" --impu sip:a --k "$K" --opc "zz63cb71954a9f4e48a5994e37a02baf"
expect_err "--opc: invalid hex" "add with a non-hex --opc"
run 2 "add with an --amf of 3 bytes" "$B" subscriber add "$@" --impi "$A" --impu sip:a --k "$K" --opc "$OPC" --amf 800000
expect_err "--amf: expected 2 bytes" "add with an --amf of 3 bytes"
run 2 "add with an --sqn of 5 bytes" "$B" subscriber add "$@" --impi "$A" --impu sip:a --k "$K" --opc "$OPC" --sqn 0000000020
expect_err "--sqn: expected 6 bytes" "add with an --sqn of 5 bytes"
run 2 "add with a space in --impi" "$B" subscriber add "$@" --impi "al ice" --impu sip:a --k "$K" --opc "$OPC"
expect_err "--impi" "add with a space in --impi"
run 2 "add with a space in --impu" "$B" subscriber add "$@" --impi "$A" --impu "sip:a b" --k "$K" --opc "$OPC"
expect_err "--impu" "add with a space in --impu"
run 2 "add with an IMPU twice" "$B" subscriber add "$@" --impi "$A" --impu sip:a --impu sip:a --k "$K" --opc "$OPC"
expect_err "--impu: the same identity given twice" "add with an IMPU twice"
run 2 "add with 9 IMPUs" "$B" subscriber add "$@" --impi "$A" --impu s:1 --impu s:2 --impu s:3 \
    --impu s:4 --impu s:5 --impu s:6 --impu s:7 --impu s:8 --impu s:9 --k "$K" --opc "$OPC"
expect_err "--impu: at most 8 public identities" "add with 9 IMPUs"
run 2 "add with a 256-octet --impi" "$B" subscriber add "$@" --impi "$(head -c 256 /dev/zero | tr '\0' a)" --impu sip:a --k "$K" --opc "$OPC"
expect_err "--impi: value exceeds its size limit" "add with a 256-octet --impi"
run 2 "add with an unknown option" "$B" subscriber add "$@" --impi "$A" --impu sip:a --k "$K" --opc "$OPC" --show-secrets
expect_err "unknown option '--show-secrets'" "add with an unknown option"
run 2 "add without --db" "$B" subscriber add --kek-file "$tmp/kek" --impi "$A" --impu sip:a --k "$K" --opc "$OPC"
expect_err "missing required option '--db'" "add without --db"
run 2 "add without --kek-file" "$B" subscriber add --db "$DB" --impi "$A" --impu sip:a --k "$K" --opc "$OPC"
expect_err "missing required option '--kek-file'" "add without --kek-file"
head -c 32 /dev/urandom >"$tmp/kek644"
chmod 644 "$tmp/kek644"
run 2 "KEK readable by others" "$B" subscriber add --db "$DB" --kek-file "$tmp/kek644" --impi "$A" --impu sip:a --k "$K" --opc "$OPC"
expect_err "0600" "KEK readable by others"
head -c 31 /dev/urandom >"$tmp/kek31"
chmod 600 "$tmp/kek31"
run 2 "KEK of 31 bytes" "$B" subscriber add --db "$DB" --kek-file "$tmp/kek31" --impi "$A" --impu sip:a --k "$K" --opc "$OPC"
expect_err "--kek-file: KEK file must hold exactly 32 bytes" "KEK of 31 bytes"
run 3 "KEK file missing" "$B" subscriber add --db "$DB" --kek-file "$tmp/nokek" --impi "$A" --impu sip:a --k "$K" --opc "$OPC"
expect_err "--kek-file: file system error: No such file" "KEK file missing"
[ -e "$DB" ] && bad "a failed add created the database" || ok

# ---- commands on a missing database ----
run 2 "list without a database" "$B" subscriber list "$@"
expect_err "no such database" "list without a database"
run 2 "del without a database" "$B" subscriber del "$@" --impi "$A"
expect_err "no such database" "del without a database"
run 2 "set-sqn without a database" "$B" subscriber set-sqn "$@" --impi "$A" --sqn 000000000001
expect_err "no such database" "set-sqn without a database"
[ -e "$DB" ] && bad "list/del/set-sqn created the database" || ok

# ---- add, with --op: the stored OPc is the published one ----
run 0 "add with --op" "$B" subscriber add "$@" --impi "$A" --impu "sip:$A" --impu tel:+15551234567 \
    --k "$K" --op "$OP" --amf "$AMF1"
expect_field impi "$A" "add"
expect_field sqn 000000000000 "add"
mode=$(stat -c %a "$DB")
[ "$mode" = 600 ] && ok || bad "database mode $mode, expected 600"
probe "$A"
expect_field k "$K" "stored K"
expect_field opc "$OPC" "stored OPc derived from OP (TS 35.208 set 1)"
expect_field amf "$AMF1" "stored AMF"
# The stored keys give the published f1 (MAC-A) through Milenage.
opc=$(field opc)
"$B" crypto milenage --k "$K" --opc "$opc" --rand "$RAND" --sqn "$SQN1" --amf "$AMF1" >"$tmp/mil" 2>&1
mac=$(sed -n 's/^mac_a=//p' "$tmp/mil")
[ "$mac" = "$MAC_A" ] && ok || bad "MAC-A from the stored keys: '$mac', expected $MAC_A"

# ---- add, with --opc, --amf and --sqn ----
run 0 "add with --opc" "$B" subscriber add "$@" --impi bob@ims.example.org --impu sip:bob@ims.example.org \
    --k "$K2" --opc "$OPC2" --amf 8000 --sqn 000000000020
expect_field sqn 000000000020 "add --sqn"
probe bob@ims.example.org
expect_field opc "$OPC2" "stored OPc given with --opc"
expect_field k "$K2" "stored K of bob"
expect_field sqn 000000000020 "stored SQN of bob"
run 2 "add of a taken IMPI" "$B" subscriber add "$@" --impi "$A" --impu sip:x --k "$K2" --opc "$OPC2"
expect_err "exists" "add of a taken IMPI"
head -c 32 /dev/urandom >"$tmp/kek2"
chmod 600 "$tmp/kek2"
run 1 "add with another KEK" "$B" subscriber add --db "$DB" --kek-file "$tmp/kek2" --impi carol --impu sip:c --k "$K2" --opc "$OPC2"
expect_err "KEK" "add with another KEK"

# ---- list ----
run 0 "list" "$B" subscriber list "$@"
expect_out "impi=$A impus=sip:$A,tel:+15551234567 amf=$AMF1 sqn=000000000000
impi=bob@ims.example.org impus=sip:bob@ims.example.org amf=8000 sqn=000000000020" "list"
run 1 "list with another KEK" "$B" subscriber list --db "$DB" --kek-file "$tmp/kek2"
expect_err "KEK" "list with another KEK"
run 2 "list with an unexpected argument" "$B" subscriber list "$@" extra
expect_err "unexpected argument 'extra'" "list with an unexpected argument"

# ---- set-sqn ----
run 0 "set-sqn up" "$B" subscriber set-sqn "$@" --impi bob@ims.example.org --sqn 00000000ffff
expect_field sqn 00000000ffff "set-sqn up"
run 0 "set-sqn down" "$B" subscriber set-sqn "$@" --impi bob@ims.example.org --sqn 000000000010
run 0 "list after set-sqn" "$B" subscriber list "$@"
grep -q '^impi=bob@ims.example.org .* sqn=000000000010$' "$tmp/out" && ok || bad "set-sqn did not lower the mark: $(cat "$tmp/out")"
run 0 "set-sqn to the top" "$B" subscriber set-sqn "$@" --impi bob@ims.example.org --sqn FFFFFFFFFFFF
expect_field sqn ffffffffffff "set-sqn to the top"
run 2 "set-sqn without --sqn" "$B" subscriber set-sqn "$@" --impi bob@ims.example.org
expect_err "missing required option '--sqn'" "set-sqn without --sqn"
run 2 "set-sqn with 7 bytes" "$B" subscriber set-sqn "$@" --impi bob@ims.example.org --sqn 01000000000000
expect_err "--sqn: expected 6 bytes" "set-sqn with 7 bytes"
run 2 "set-sqn of an unknown IMPI" "$B" subscriber set-sqn "$@" --impi carol --sqn 000000000001
expect_err "no such subscriber" "set-sqn of an unknown IMPI"

# ---- del ----
run 0 "del" "$B" subscriber del "$@" --impi bob@ims.example.org
expect_field deleted bob@ims.example.org "del"
run 2 "del again" "$B" subscriber del "$@" --impi bob@ims.example.org
expect_err "no such subscriber" "del again"
run 2 "del without --impi" "$B" subscriber del "$@"
expect_err "missing required option '--impi'" "del without --impi"
run 0 "list after del" "$B" subscriber list "$@"
[ "$(wc -l <"$tmp/out")" -eq 1 ] && ok || bad "list after del: $(cat "$tmp/out")"

# ---- the file ----
chmod 644 "$DB"
run 2 "database readable by others" "$B" subscriber list "$@"
expect_err "0600" "database readable by others"
chmod 600 "$DB"
echo "not a database, not at all; long enough to fill a header of one hundred bytes......" >"$tmp/junk"
chmod 600 "$tmp/junk"
run 3 "list of a file that is no database" "$B" subscriber list --db "$tmp/junk" --kek-file "$tmp/kek"
expect_err "not a subscriber database" "list of a file that is no database"
for f in "$DB" "$DB-wal"; do
    [ -e "$f" ] || continue
    h=$(hex_of "$f")
    for key in "$K" "$OP" "$OPC" "$K2" "$OPC2"; do
        case "$h" in *"$key"*) bad "$f holds a key in clear ($key)" ;; *) ok ;; esac
    done
done

# ---- no key in any output ----
for key in "$K" "$OP" "$OPC" "$K2" "$OPC2" "$UPPER_K"; do
    if grep -qi -- "$key" "$tmp/all"; then bad "a key appeared in the output: $key"; else ok; fi
done

finish test_cli_subscriber
