#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A full disk under imskms-kmsd and imskms-bsfd (issue 14 item 4): the state store, the keyring
# and the subscriber store fail their writes with ENOSPC, and every request that needs a write
# is refused 503 store-unavailable (the KMS with a MIKEY Error), never 500; requests that need no
# write keep succeeding (a mode-3 Kue issue and ticket request within the keyring's reserved seal
# window, a mode-2 ticket request, a bootstrap from a reserved SQN range); everything recovers by
# itself once space returns.
# The disk: tests/integration/enospc_shim.c (LD_PRELOAD) on the daemons' files, switched on and
# off while they run by a flag file; then, where the sandbox allows mounting, a real 4 MiB tmpfs
# filled with a file: the state store refuses, a mode-3 Kue issue still succeeds (skipped, and
# said so, where mounting is not allowed).
# Usage: test_store_faults.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR ENOSPC_SHIM
set -u
B=$1
D_REAL=$2
K_REAL=$3
SRC=$4
SHIM=$5
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
clock_init
pid=""
kpid=""
mnt=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$kpid" ] && kill -9 "$kpid" 2>/dev/null;
    [ -n "$mnt" ] && umount "$mnt" 2>/dev/null; rm -rf "$tmp"' EXIT

# The daemons run under the shim: each disk has its own prefix and flag file.
mkdir -p "$tmp/bdisk" "$tmp/kdisk"
D="$tmp/bsfd-shim"
K="$tmp/kmsd-shim"
# In the ASan build the sanitizer's runtime must come first in the preload list (ASan checks).
asan=$(ldd "$K_REAL" 2>/dev/null | awk '/libasan/ {print $3; exit}')
PRE="${asan:+$asan }$SHIM"
printf '#!/bin/sh\nLD_PRELOAD="%s" IMSKMS_ENOSPC_PREFIX="%s" IMSKMS_ENOSPC_FLAG="%s" exec "%s" "$@"\n' \
    "$PRE" "$tmp/bdisk/" "$tmp/bsf-full" "$D_REAL" >"$D"
printf '#!/bin/sh\nLD_PRELOAD="%s" IMSKMS_ENOSPC_PREFIX="%s" IMSKMS_ENOSPC_FLAG="%s" exec "%s" "$@"\n' \
    "$PRE" "$tmp/kdisk/" "$tmp/kms-full" "$K_REAL" >"$K"
chmod 755 "$D" "$K"

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPU=sip:+15550001@ims.example.org
IMPI_B=001010000000002@ims.mnc001.mcc001.3gppnetwork.org
IMPU_B=sip:+15550002@ims.example.org
IMPI_C=001010000000003@ims.mnc001.mcc001.3gppnetwork.org
FQDN=kms.example.org
# shellcheck source=bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
bsfd_pki "$SRC/tests/http/mkca.sh"
DB="$tmp/bdisk/db"
for s in "$IMPI $IMPU usim" "$IMPI_B $IMPU_B usim-b"; do
    set -- $s
    "$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$1" --impu "$2" --k $KEY --op $OP \
        >/dev/null || bad "subscriber add $1"
    "$B" ue usim-init --usim "$tmp/$3" --impi "$1" --impu "$2" --k $KEY --op $OP >/dev/null ||
        bad "usim-init $1"
done
bsfd_start

SKEW=30
# kmsd_up DIR [OPTS]: imskms-kmsd with its keyring and state store in DIR (kmsd_env.sh's
# kmsd_start, with the files where the test's disk is).
kmsd_up() {
    _dir=$1
    shift
    echo "--- start" >>"$tmp/kmsd.log"
    _km=$(log_mark "$tmp/kmsd.log")
    "$K" --listen 127.0.0.1:0 --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" \
        --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
        --keyring "$_dir/keyring" --kek-file "$tmp/kek" --state-db "$_dir/state.db" \
        --skew "$SKEW" "$@" 2>>"$tmp/kmsd.log" &
    kpid=$!
    wait_log "$tmp/kmsd.log" "$_km" 'kms listening' "$kpid"
    KMS=$(log_since "$tmp/kmsd.log" "$_km" | sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p')
    [ -n "$KMS" ] || {
        echo "FAIL: kmsd did not start: $(log_since "$tmp/kmsd.log" "$_km")" >&2
        exit 1
    }
}
kmsd_down() {
    kill -TERM "$kpid"
    wait "$kpid"
    _st=$?
    kpid=""
    [ $_st -eq 0 ] && ok || bad "kmsd SIGTERM: exit $_st"
}
kue() { # statedir mode [options]
    _d=$1
    _md=$2
    shift 2
    m=$(log_mark "$tmp/kmsd.log")
    "$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode "$_md" --state "$_d" \
        "$@" >"$tmp/out" 2>"$tmp/err"
}
request() { # statedir peer out [options]
    _d=$1 _p=$2 _o=$3
    shift 3
    m=$(log_mark "$tmp/kmsd.log")
    "$B" ue request --kms "http://localhost:$KMS" --peer "$_p" --state "$_d" --out "$_o" "$@" \
        >"$tmp/out" 2>"$tmp/err"
}
resolve() { # statedir transfer
    m=$(log_mark "$tmp/kmsd.log")
    "$B" ue resolve --kms "http://localhost:$KMS" --ticket "$2" --state "$1" >"$tmp/out" 2>"$tmp/err"
}
served() { # status WHAT
    [ "$1" -eq 0 ] && ok || bad "$2: $(cat "$tmp/err")"
}
# store_refused WHAT CODE TRACE: the last run failed, the KMS logged a 503 for CODE, and its
# answer (TRACE/002-recv.mikey) is a MIKEY Error message.
store_refused() {
    [ "$st" -ne 0 ] && ok || bad "$1: succeeded on a full disk"
    expect_log "$tmp/kmsd.log" "$m" "mikey 503 .*($2)" "$1"
    log_has "$tmp/kmsd.log" "$m" 'internal error\|mikey from' && bad "$1: a 500 on a full disk" || ok
    "$B" mikey decode "$3/002-recv.mikey" >"$tmp/dec" 2>&1 && grep -qi 'error' "$tmp/dec" &&
        ok || bad "$1: the 503 carries no MIKEY Error: $(head -c 300 "$tmp/dec")"
}
full_kms() { touch "$tmp/kms-full"; }
free_kms() { rm -f "$tmp/kms-full"; }

mkdir -p "$tmp/ue" "$tmp/ue-b"
"$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" --state "$tmp/ue" >/dev/null \
    2>"$tmp/err" || bad "bootstrap A: $(cat "$tmp/err")"
"$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim-b" --state "$tmp/ue-b" \
    >/dev/null 2>"$tmp/err" || bad "bootstrap B: $(cat "$tmp/err")"

# ==== the KMS on the shim's disk ====
"$B" keys init --keyring "$tmp/kdisk/keyring" --kek-file "$tmp/kek" --lifetime 3600 --grace 3600 \
    >/dev/null || bad "keys init"
kmsd_up "$tmp/kdisk"
clock_advance $((SKEW + 1))
kue "$tmp/ue" 3
served $? "kue mode 3 before the disk fills"
kue "$tmp/ue-b" 2
served $? "kue mode 2 (B) before the disk fills"

full_kms
# A mode-2 Kue issue stores a record: 503 store-unavailable.
mkdir -p "$tmp/tr-s"
kue "$tmp/ue" 2 --trace "$tmp/tr-s"
st=$?
store_refused "mode-2 Kue issue on a full disk" KMS_ERR_STORE "$tmp/tr-s"
# No write per request: within the keyring's seal window a mode-3 Kue issue, a ticket request
# (mode 3 and mode 2: a store read) and a resolve all succeed.
kue "$tmp/ue" 3
served $? "kue mode 3 on a full disk (a reserved seal)"
request "$tmp/ue" "$IMPU_B" "$tmp/xfer"
served $? "ticket request (mode 3) on a full disk"
resolve "$tmp/ue-b" "$tmp/xfer"
served $? "resolve (mode-2 Kue, a store read) on a full disk"
request "$tmp/ue-b" "$IMPU" "$tmp/xfer-b"
served $? "ticket request (mode-2 Kue) on a full disk"
# The window runs out: a rotation by hand (the CLI writes; only the daemon's disk is full) makes
# the next seal reserve a window of the new key, a write: 503 store-unavailable.
"$B" keys rotate --keyring "$tmp/kdisk/keyring" --kek-file "$tmp/kek" >/dev/null ||
    bad "keys rotate"
sleep 1.2 # the daemon's keyring refresh (every second) sees the new key
mkdir -p "$tmp/tr-k"
kue "$tmp/ue" 3 --trace "$tmp/tr-k"
st=$?
store_refused "mode-3 Kue issue when the seal window runs out on a full disk" KMS_ERR_IO \
    "$tmp/tr-k"
mkdir -p "$tmp/tr-r"
request "$tmp/ue-b" "$IMPU" "$tmp/xfer-c" --trace "$tmp/tr-r"
st=$?
[ "$st" -ne 0 ] && ok || bad "a ticket request sealed without a reserved window"
expect_log "$tmp/kmsd.log" "$m" "mikey 503 .*(KMS_ERR_IO)" "ticket request on a full disk"
[ "$(curl -s "http://localhost:$KMS/healthz")" = ok ] && ok || bad "healthz on a full disk"

# Space returns: everything recovers by itself.
free_kms
kue "$tmp/ue" 3
served $? "kue mode 3 once space returned"
kue "$tmp/ue" 2
served $? "kue mode 2 once space returned"
request "$tmp/ue" "$IMPU_B" "$tmp/xfer"
served $? "ticket request once space returned"
resolve "$tmp/ue-b" "$tmp/xfer"
served $? "resolve once space returned"
kmsd_down

# ==== the BSF on the shim's disk ====
# A subscriber added while the BSF runs has no reserved SQN range: its first challenge reserves
# one (a write), refused 503 store-unavailable on a full disk; a subscriber with a range still
# bootstraps.
touch "$tmp/bsf-full"
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI_C" --impu sip:c@ims.example.org \
    --k $KEY --op $OP >/dev/null || bad "subscriber add C (the CLI writes; only the BSF's disk is full)"
challenge_c() {
    bm=$(log_mark "$tmp/bsfd.log")
    code=$(curl -s -o /dev/null -D "$tmp/ub.hdr" -w '%{http_code}' -H \
        "Authorization: Digest username=\"$IMPI_C\", realm=\"localhost\", nonce=\"\", uri=\"/\", response=\"\"" \
        "http://localhost:$UB/")
}
challenge_c
[ "$code" = 503 ] && ok || bad "a challenge needing an SQN reservation on a full disk: $code"
grep -qi '^Imskms-Reason: store-unavailable' "$tmp/ub.hdr" && ok ||
    bad "Ub 503 without Imskms-Reason: store-unavailable: $(cat "$tmp/ub.hdr")"
grep -qi '^Retry-After: [0-9]' "$tmp/ub.hdr" && ok || bad "Ub 503 without Retry-After"
log_has "$tmp/bsfd.log" "$bm" 'KMS_ERR_INTERNAL\|ub from' && bad "a 500 on Ub" || ok
"$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" --state "$tmp/ue" >/dev/null \
    2>"$tmp/err" && ok || bad "bootstrap from a reserved range on a full disk: $(cat "$tmp/err")"
rm -f "$tmp/bsf-full"
challenge_c
[ "$code" = 401 ] && ok || bad "the challenge once space returned: $code"

# ==== a real full file system: a 4 MiB tmpfs ====
mnt="$tmp/tmpfs"
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=4m,mode=0700 tmpfs "$mnt" 2>"$tmp/mount.err"; then
    echo "SKIP: tmpfs part: mounting is not allowed here ($(cat "$tmp/mount.err"))"
    mnt=""
else
    K="$K_REAL"
    "$B" keys init --keyring "$mnt/keyring" --kek-file "$tmp/kek" --lifetime 3600 --grace 3600 \
        >/dev/null || bad "keys init on tmpfs"
    kmsd_up "$mnt"
    clock_advance $((SKEW + 1))
    kue "$tmp/ue" 3
    served $? "kue mode 3 on tmpfs"
    dd if=/dev/zero of="$mnt/filler" bs=4096 2>/dev/null # until ENOSPC
    dd if=/dev/zero of="$mnt/filler2" bs=512 2>/dev/null # the last partial block
    mkdir -p "$tmp/tr-t2"
    kue "$tmp/ue" 2 --trace "$tmp/tr-t2"
    st=$?
    store_refused "mode-2 Kue issue on a full tmpfs" KMS_ERR_STORE "$tmp/tr-t2"
    kue "$tmp/ue" 3
    served $? "kue mode 3 on a full tmpfs (a seal of the window reserved ahead)"
    # (A seal window running out on a full disk: the shim's part above. On a real file system
    # the keyring's last write may still find the page the rename of its previous file freed.)
    rm -f "$mnt/filler" "$mnt/filler2"
    kue "$tmp/ue" 2
    served $? "kue mode 2 once the tmpfs has room"
    kue "$tmp/ue" 3
    served $? "kue mode 3 once the tmpfs has room"
    kmsd_down
    umount "$mnt" && mnt=""
fi

bsfd_stop
finish test_store_faults
