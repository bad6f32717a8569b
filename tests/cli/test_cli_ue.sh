#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `imskms ue usim-init` / `usim-show`: a USIM from Milenage test set 1 (OPc computed from OP
# must equal the published OPc), file mode 0600, no key on stdout, refusals and usage errors.
# Usage: test_cli_ue.sh IMSKMS
set -u
B=$1
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"


# TS 35.208 4.3.1 (test set 1)
K=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
OPC=cd63cb71954a9f4e48a5994e37a02baf
IMPI=001010123456789@ims.mnc001.mcc001.3gppnetwork.org
U="$tmp/usim"

run 0 "usim-init --op" "$B" ue usim-init --usim "$U" --impi "$IMPI" \
    --impu "sip:$IMPI" --impu tel:+15550100 --k "$K" --op "$OP" &&
    expect_field usim "$U" "usim-init" && expect_field impi "$IMPI" "usim-init"
if grep -qi -e "$K" -e "$OPC" "$tmp/out"; then bad "usim-init printed a key"; else ok; fi
mode=$(stat -c %a "$U")
[ "$mode" = 600 ] && ok || bad "usim file mode $mode, expected 600"
# OPc computed from OP is the published one (and K is stored as given)
grep -qx "opc=$OPC" "$U" && ok || bad "file lacks opc=$OPC"
grep -qx "k=$K" "$U" && ok || bad "file lacks k=$K"
grep -qx "amf=0000" "$U" && ok || bad "default AMF is not 0000"

run 0 "usim-show" "$B" ue usim-show --usim "$U" &&
    expect_field impi "$IMPI" "usim-show" && expect_field amf 0000 "usim-show" &&
    expect_field ind_bits 5 "usim-show" && expect_field sqn_ms 000000000000 "usim-show" &&
    expect_field delta 268435456 "usim-show"
[ "$(grep -c '^impu=' "$tmp/out")" -eq 2 ] && ok || bad "usim-show: expected 2 impu= lines"
if grep -qi -e "$K" -e "$OPC" "$tmp/out"; then bad "usim-show printed a key"; else ok; fi

# --opc, --amf and --ind-bits; upper-case hex in
run 0 "usim-init --opc" "$B" ue usim-init --usim "$tmp/u2" --impi a@b --impu sip:a@b \
    --k "$K" --opc "$(echo $OPC | tr a-f A-F)" --amf 8000 --ind-bits 0
run 0 "usim-show u2" "$B" ue usim-show --usim "$tmp/u2" &&
    expect_field amf 8000 "u2" && expect_field ind_bits 0 "u2"

# refusals
run 2 "existing file" "$B" ue usim-init --usim "$U" --impi a@b --impu sip:a@b --k "$K" \
    --opc "$OPC" && expect_err "already exists" "existing file"
chmod 640 "$U"
run 2 "group-readable file" "$B" ue usim-show --usim "$U" && expect_err "chmod 600" "loose"
chmod 600 "$U"
run 2 "missing file" "$B" ue usim-show --usim "$tmp/none" && expect_err "not found" "missing"
printf 'imskms-usim=1\nimpi=a@b\n' >"$tmp/bad" && chmod 600 "$tmp/bad"
run 2 "malformed file" "$B" ue usim-show --usim "$tmp/bad" && expect_err "malformed" "malformed"
sed 's/^amf=0000$/amf=8000/' "$U" >"$tmp/edited" && chmod 600 "$tmp/edited"
run 2 "edited file (checksum)" "$B" ue usim-show --usim "$tmp/edited"
expect_err "--usim: malformed input" "edited file (checksum)"

# usage errors (and nothing is created)
N="$tmp/new"
run 2 "no --usim" "$B" ue usim-init --impi a@b --impu sip:a@b --k "$K" --opc "$OPC"
expect_err "missing required option '--usim'" "no --usim"
run 2 "no --impi" "$B" ue usim-init --usim "$N" --impu sip:a@b --k "$K" --opc "$OPC"
expect_err "missing required option '--impi'" "no --impi"
run 2 "no --impu" "$B" ue usim-init --usim "$N" --impi a@b --k "$K" --opc "$OPC"
expect_err "missing required option '--impu'" "no --impu"
run 2 "both --op --opc" "$B" ue usim-init --usim "$N" --impi a@b --impu sip:a@b --k "$K" \
    --op "$OP" --opc "$OPC"
expect_err "exactly one of --op and --opc" "both --op --opc"
run 2 "neither --op --opc" "$B" ue usim-init --usim "$N" --impi a@b --impu sip:a@b --k "$K"
expect_err "exactly one of --op and --opc" "neither --op --opc"
run 2 "short K" "$B" ue usim-init --usim "$N" --impi a@b --impu sip:a@b --k 00 --opc "$OPC"
expect_err "--k: expected 16 bytes" "short K"
run 2 "bad AMF" "$B" ue usim-init --usim "$N" --impi a@b --impu sip:a@b --k "$K" \
    --opc "$OPC" --amf 800
expect_err "--amf: invalid hex" "bad AMF"
run 2 "ind-bits 9" "$B" ue usim-init --usim "$N" --impi a@b --impu sip:a@b --k "$K" \
    --opc "$OPC" --ind-bits 9
expect_err "--ind-bits: expected a decimal number from 0 to 8" "ind-bits 9"
run 2 "space in IMPI" "$B" ue usim-init --usim "$N" --impi "a b" --impu sip:a@b --k "$K" \
    --opc "$OPC"
expect_err "--impi: text must be printable ASCII" "space in IMPI"
run 2 "repeated IMPU" "$B" ue usim-init --usim "$N" --impi a@b --impu sip:a@b --impu sip:a@b \
    --k "$K" --opc "$OPC"
expect_err "--impu: the same identity twice" "repeated IMPU"
run 2 "nine IMPUs" "$B" ue usim-init --usim "$N" --impi a@b --impu 1 --impu 2 --impu 3 \
    --impu 4 --impu 5 --impu 6 --impu 7 --impu 8 --impu 9 --k "$K" --opc "$OPC"
expect_err "--impu: at most 8 public identities" "nine IMPUs"
run 2 "unknown option" "$B" ue usim-init --usim "$N" --colour blue
expect_err "unknown option '--colour'" "unknown option"
run 2 "unknown subcommand" "$B" ue usim-frob
expect_err "unknown command 'usim-frob'" "unknown subcommand"
[ ! -e "$N" ] && ok || bad "a failed usim-init left $N"
run 0 "--help" "$B" ue usim-init --help && grep -q "usage: imskms ue usim-init" "$tmp/out" &&
    ok || bad "usim-init --help"

finish cli_ue
