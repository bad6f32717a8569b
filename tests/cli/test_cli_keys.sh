#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `imskms keys` and `imskms token` end to end, with lifetimes of 100 s passed by moving the test
# clock (tests/integration/lib.sh): a token accepted in its key's grace period and refused after
# it, count-forced rotation, revocation (and a keyring copied before it put back: refused),
# housekeeping, tampered and malformed tokens and keyring files, and the usage errors.
# Usage: test_cli_keys.sh IMSKMS file|hsm
#   file: the file keystore (a KEK made here); hsm: the PKCS#11 keystore at the URI in
#   $IMSKMS_TEST_HSM_URI (tests/hsm/with_softhsm.sh sets it up).
set -u
B=$1
MODE=$2
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
clock_init


case "$MODE" in
file)
    head -c 32 /dev/urandom >"$tmp/kek"
    chmod 600 "$tmp/kek"
    set -- --kek-file "$tmp/kek"
    ;;
hsm)
    if [ -z "${IMSKMS_TEST_HSM_URI:-}" ]; then
        echo "FAIL: IMSKMS_TEST_HSM_URI is not set (run through tests/hsm/with_softhsm.sh)" >&2
        exit 1
    fi
    set -- --hsm "$IMSKMS_TEST_HSM_URI"
    ;;
*)
    echo "usage: test_cli_keys.sh IMSKMS file|hsm" >&2
    exit 2
    ;;
esac
KR="$tmp/keyring"

# ---- help and usage errors ----
for c in "keys" "keys init" "keys list" "keys status" "keys rotate" "keys revoke" \
    "keys destroy-expired" "token" "token seal" "token inspect" "token open"; do
    # shellcheck disable=SC2086 # split the command words on purpose
    run 0 "$c --help" "$B" $c --help && grep -q '^usage:' "$tmp/out" || bad "$c --help prints no usage"
done
run 2 "init without --lifetime" "$B" keys init --keyring "$KR" "$@" --grace 2
expect_err "--lifetime" "init without --lifetime"
run 2 "init with --lifetime 0" "$B" keys init --keyring "$KR" "$@" --lifetime 0 --grace 2
expect_err "--lifetime: expected a decimal number from 1" "init with --lifetime 0"
run 2 "init with grace > 32 x lifetime" "$B" keys init --keyring "$KR" "$@" --lifetime 1 --grace 33
expect_err "--grace: at most 32 x --lifetime" "init with grace > 32 x lifetime"
run 2 "init with both keystores" "$B" keys init --keyring "$KR" --kek-file x --hsm y --lifetime 1 --grace 1
expect_err "exactly one of --kek-file FILE and --hsm URI" "init with both keystores"
run 2 "init with no keystore" "$B" keys init --keyring "$KR" --lifetime 1 --grace 1
expect_err "exactly one of --kek-file FILE and --hsm URI" "init with no keystore"
if [ "$MODE" = file ]; then
    head -c 32 /dev/urandom >"$tmp/kek644"
    chmod 644 "$tmp/kek644"
    run 2 "KEK readable by others" "$B" keys init --keyring "$KR" --kek-file "$tmp/kek644" --lifetime 1 --grace 1
    expect_err "0600" "KEK readable by others"
    head -c 31 /dev/urandom >"$tmp/kek31"
    chmod 600 "$tmp/kek31"
    run 2 "KEK of 31 bytes" "$B" keys init --keyring "$KR" --kek-file "$tmp/kek31" --lifetime 1 --grace 1
    expect_err "--kek-file: KEK file must hold exactly 32 bytes" "KEK of 31 bytes"
fi
[ ! -e "$KR" ] && ok || bad "a refused init left a keyring behind"
run 2 "list without a keyring file" "$B" keys list --keyring "$KR" "$@"
expect_err "no such keyring" "list without a keyring file"

# ---- grace: lifetime 100 s, grace 100 s, the clock moved to 150 s, then to 250 s ----
run 0 "init" "$B" keys init --keyring "$KR" "$@" --lifetime 100 --grace 100
expect_field key_id 1 "init"
[ "$(stat -c %a "$KR")" = 600 ] && ok || bad "keyring mode is not 0600"
run 2 "init over an existing keyring" "$B" keys init --keyring "$KR" "$@" --lifetime 100 --grace 100
expect_err "file exists" "init over an existing keyring"

run 0 "seal under key 1" "$B" token seal --keyring "$KR" "$@" --impi alice@ims.example.org \
    --impu sip:alice@ims.example.org --impu tel:+15550001 --lifetime 600
T1=$(field token)
expect_field key_id 1 "seal under key 1"
grep -q '^kue=' "$tmp/out" && bad "seal printed kue= without --show-secrets" || ok
run 0 "inspect" "$B" token inspect "$T1"
expect_field version 1 "inspect"
expect_field kind sealed-kue "inspect"
expect_field key_id 1 "inspect"
run 0 "open in the active period" "$B" token open --keyring "$KR" "$@" "$T1"
expect_field impi alice@ims.example.org "open"
[ "$(grep -c '^impu=' "$tmp/out")" = 2 ] && ok || bad "open: expected two impu= lines"
expect_field mode 3 "open"
# exactly the keys docs/cli.md lists, in order (no counter_base= since COUNTER mode went)
keys=$(cut -d= -f1 "$tmp/out" | tr '\n' ' ')
[ "$keys" = "kind key_id token_id issued expires impi impu impu mode naf_id ks_naf_expires kue " ] &&
    ok || bad "open printed other keys: $keys"
grep -q '^kue=hidden' "$tmp/out" && ok || bad "open did not mask the Kue"
printf '%s\n' "$T1" | "$B" token open --keyring "$KR" "$@" - >"$tmp/out" 2>"$tmp/err" &&
    ok || bad "open from stdin"

clock_advance 150
run 0 "seal after key 1's lifetime" "$B" token seal --keyring "$KR" "$@" --impi bob@ims.example.org --lifetime 600 --mode 2
T2=$(field token)
expect_field key_id 2 "seal after key 1's lifetime rotates"
run 0 "open key 1's token in its grace period" "$B" token open --keyring "$KR" "$@" "$T1"
run 0 "list" "$B" keys list --keyring "$KR" "$@"
grep -q '^key_id=1 state=grace' "$tmp/out" && ok || bad "list: key 1 not in grace: $(cat "$tmp/out")"
grep -q '^key_id=2 state=active' "$tmp/out" && ok || bad "list: key 2 not active"
clock_advance 100
run 1 "open key 1's token after its grace" "$B" token open --keyring "$KR" "$@" "$T1"
expect_err "destroyed key" "open after grace"
run 0 "open key 2's token" "$B" token open --keyring "$KR" "$@" "$T2"
expect_field mode 2 "open key 2's token"
expect_field key_id 2 "open key 2's token"
run 0 "destroy-expired" "$B" keys destroy-expired --keyring "$KR" "$@"
expect_field destroyed 1 "destroy-expired"
run 1 "open after destroy-expired" "$B" token open --keyring "$KR" "$@" "$T1"
expect_err "destroyed key" "open after destroy-expired"
run 0 "status" "$B" keys status --keyring "$KR" "$@"
expect_field keys_destroyed 1 "status"

# ---- the rest on a keyring with long lifetimes (no timing in play) ----
KR="$tmp/keyring-long"
run 0 "init a long-lived keyring" "$B" keys init --keyring "$KR" "$@" --lifetime 3600 --grace 7200
run 0 "seal under it" "$B" token seal --keyring "$KR" "$@" --impi dave@example.org --lifetime 600 --mode 2
T2=$(field token)

# ---- malformed and tampered tokens ----
run 2 "open a token that is not base64" "$B" token open --keyring "$KR" "$@" 'not*base64'
expect_err "TOKEN: invalid base64" "open a token that is not base64"
run 2 "open a token too short for a header" "$B" token open --keyring "$KR" "$@" AAAA
expect_err "TOKEN: input truncated" "open a token too short"
# 33 bytes: one short of the smallest ticket (18-byte header + 16-byte tag).
run 2 "inspect a token too short for a header" "$B" token inspect AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g
expect_err "truncated" "inspect a token too short"
run 1 "inspect a 34-byte token of version 0" "$B" token inspect AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==
expect_err "version" "inspect version 0"
run 2 "open with no token" "$B" token open --keyring "$KR" "$@"
expect_err "missing TOKEN" "open with no token"
# Flip one character in the middle of the ciphertext: refused (1), with the tag as the reason.
mid=$((${#T2} / 2))
c=$(printf '%s' "$T2" | cut -c $((mid + 1)))
[ "$c" = A ] && r=B || r=A
T2X="$(printf '%s' "$T2" | cut -c 1-$mid)$r$(printf '%s' "$T2" | cut -c $((mid + 2))-)"
run 1 "open a tampered token" "$B" token open --keyring "$KR" "$@" "$T2X"
expect_err "tag" "open a tampered token"
if [ "$MODE" = file ]; then
    head -c 32 /dev/urandom >"$tmp/kek2"
    chmod 600 "$tmp/kek2"
    run 1 "open with the wrong KEK" "$B" token open --keyring "$KR" --kek-file "$tmp/kek2" "$T2"
    expect_err "integrity" "open with the wrong KEK"
fi

# ---- rotation by hand, revocation ----
run 0 "rotate" "$B" keys rotate --keyring "$KR" "$@"
expect_field key_id 2 "rotate"
run 0 "open key 1's token after a manual rotation" "$B" token open --keyring "$KR" "$@" "$T2"
cp -p "$KR" "$tmp/keyring-before-revoke"
run 0 "revoke key 1" "$B" keys revoke --keyring "$KR" "$@" 1
expect_field revoked 1 "revoke"
run 1 "open a token of a revoked key" "$B" token open --keyring "$KR" "$@" "$T2"
expect_err "destroyed key" "open a token of a revoked key"

# ---- anti-rollback (issue 23): the keyring file copied before the revocation, put back ----
cp -p "$KR" "$tmp/keyring-current"
cp -p "$tmp/keyring-before-revoke" "$KR"
run 3 "open a token of a revoked key, old keyring put back" "$B" token open --keyring "$KR" "$@" "$T2"
expect_err "rolled back" "old keyring put back: token open"
[ "$(wc -l <"$tmp/err")" = 1 ] && ok || bad "rollback: expected a one-line error: $(cat "$tmp/err")"
run 3 "seal, old keyring put back" "$B" token seal --keyring "$KR" "$@" --impi dave@example.org --lifetime 60
expect_err "rolled back" "old keyring put back: seal"
grep -q '^key_id=1' "$tmp/out" && bad "a seal used the revoked key 1" || ok
run 3 "status, old keyring put back" "$B" keys status --keyring "$KR" "$@"
expect_err "rolled back" "old keyring put back: status"
grep -q '^active_key=1' "$tmp/out" && bad "status shows the revoked key 1 active" || ok
cp -p "$tmp/keyring-current" "$KR"
run 1 "the revoked key stays revoked" "$B" token open --keyring "$KR" "$@" "$T2"
expect_err "destroyed key" "the revoked key stays revoked"
run 0 "status after the current keyring is back" "$B" keys status --keyring "$KR" "$@"
expect_field active_key 2 "status after the current keyring is back"

# ---- a keyring file edited by hand (a policy field: the lifetime) is refused ----
printf '\377' | dd of="$KR" bs=1 seek=40 conv=notrunc 2>/dev/null
run 1 "a keyring edited by hand" "$B" keys status --keyring "$KR" "$@"
expect_err "integrity" "a keyring edited by hand"
cp -p "$tmp/keyring-current" "$KR"
run 2 "revoke a revoked key" "$B" keys revoke --keyring "$KR" "$@" 1
expect_err "already destroyed: key 1" "revoke a revoked key"
run 2 "revoke an unknown key" "$B" keys revoke --keyring "$KR" "$@" 99
expect_err "no such key in this keyring: 99" "revoke an unknown key"
run 2 "revoke without an id" "$B" keys revoke --keyring "$KR" "$@"
expect_err "missing KEYID" "revoke without an id"
run 0 "revoke the active key" "$B" keys revoke --keyring "$KR" "$@" 2
expect_field key_id 3 "revoking the active key makes the next one"

# ---- run as root on a daemon's files (issue 17: systemd runs the daemon as _imskms): files
# replaced or created by a command keep the owner and group of what they replace, or take the
# directory's, so root never locks the daemon out of its keyring, anchor or lock file ----
if [ "$(id -u)" = 0 ]; then
    OD="$tmp/owned"
    mkdir "$OD" && chown 65534:65534 "$OD"
    owners() { find "$OD" -type f ! -user 65534 -o -type f ! -group 65534; }
    run 0 "init as root in the daemon's directory" "$B" keys init --keyring "$OD/kr" "$@" \
        --lifetime 3600 --grace 3600
    [ -s "$OD/kr" ] && [ -z "$(owners)" ] && ok || bad "root's init left files of root: $(owners)"
    run 0 "rotate as root" "$B" keys rotate --keyring "$OD/kr" "$@"
    [ -z "$(owners)" ] && ok || bad "root's rotate left files of root: $(owners)"
    chown 65534:65534 "$OD/kr" 2>/dev/null
    chown 1234:4321 "$OD/kr"
    run 0 "revoke as root a keyring of another owner" "$B" keys revoke --keyring "$OD/kr" "$@" 2
    [ "$(stat -c %u:%g "$OD/kr")" = 1234:4321 ] && ok ||
        bad "the replaced keyring is $(stat -c %u:%g "$OD/kr"), not 1234:4321"
else
    echo "SKIP: not root: the owner checks need chown"
fi
if [ "$MODE" = file ]; then
    # A systemd credential is mode 0400: owner-only either way.
    cp -p "$tmp/kek" "$tmp/kek400" && chmod 400 "$tmp/kek400"
    run 0 "a KEK file of mode 0400" "$B" keys status --keyring "$KR" --kek-file "$tmp/kek400"
    chmod 440 "$tmp/kek400"
    run 2 "a KEK file the group may read" "$B" keys status --keyring "$KR" --kek-file "$tmp/kek400"
    expect_err "owner-only" "a KEK file the group may read"
fi

# ---- count-forced rotation ----
KR2="$tmp/keyring2"
run 0 "init with --max-seals 2" "$B" keys init --keyring "$KR2" "$@" --lifetime 3600 --grace 3600 --max-seals 2
for i in 1 2 3; do
    run 0 "seal $i" "$B" token seal --keyring "$KR2" "$@" --impi carol@example.org --lifetime 60
    ids="${ids:-}$(field key_id)"
done
[ "$ids" = 112 ] && ok || bad "count-forced rotation: key ids $ids, expected 1 1 2"

finish "test_cli_keys.sh ($MODE)"
