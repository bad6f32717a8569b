#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Type=notify protocol of the units (issue 17), with a stand-in for systemd
# (notify_listen.py on $NOTIFY_SOCKET): imskms-bsfd and imskms-kmsd say READY=1 once they
# serve, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM; without
# NOTIFY_SOCKET they run as before (every other test).
# Usage: test_notify.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
set -u
B=$1
D=$2
K=$3
SRC=$4
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
pid=""
kpid=""
lpid=""
trap 'for p in $pid $kpid $lpid; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
# shellcheck source=bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
bsfd_fixture "$SRC/tests/http/mkca.sh" 001010000000001@ims.example.org \
    sip:+15550001@ims.example.org 465b5ce8b199b49faa5f0a2ee238a6bc cdc202d5123e20f62b6d676ac72cb318

python3 "$SRC/tests/integration/notify_listen.py" "$tmp/notify.sock" "$tmp/notify" &
lpid=$!
i=0
while [ ! -e "$tmp/notify.ready" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
# wait_msg N PATTERN: the N-th message matching PATTERN arrived (within 10 s)
wait_msg() {
    _i=0
    while [ "$(grep -c -- "$2" "$tmp/notify" 2>/dev/null)" -lt "$1" ] && [ $_i -lt 100 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    [ "$(grep -c -- "$2" "$tmp/notify" 2>/dev/null)" -ge "$1" ]
}
export NOTIFY_SOCKET="$tmp/notify.sock"

# ---- the BSF ----
bsfd_start
wait_msg 1 '^READY=1' && ok || bad "bsfd: no READY=1: $(cat "$tmp/notify" 2>/dev/null)"
# READY=1 comes once it serves: Ub answers now.
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$UB/healthz" | grep -q 200 && ok ||
    bad "bsfd said READY=1 before serving"
kill -HUP "$pid"
wait_msg 1 '^RELOADING=1|MONOTONIC_USEC=[0-9]' && ok || bad "bsfd: no RELOADING=1 on SIGHUP"
wait_msg 2 '^READY=1' && ok || bad "bsfd: no READY=1 after the reload"
kill -TERM "$pid"
wait "$pid"
st=$?
pid=""
[ $st -eq 0 ] && ok || bad "bsfd SIGTERM: exit $st"
wait_msg 1 '^STOPPING=1' && ok || bad "bsfd: no STOPPING=1 on SIGTERM"
order=$(sed 's/|.*//' "$tmp/notify" | tr '\n' ' ')
[ "$order" = "READY=1 RELOADING=1 READY=1 STOPPING=1 " ] && ok || bad "bsfd's messages: $order"

# ---- the KMS (its own reload hook) ----
: >"$tmp/notify"
bsfd_start
FQDN=kms.example.org
# shellcheck source=kmsd_env.sh
. "$SRC/tests/integration/kmsd_env.sh"
kmsd_start
# The BSF's READY=1 is the first line; the KMS's the second.
wait_msg 2 '^READY=1' && ok || bad "kmsd: no READY=1: $(cat "$tmp/notify")"
kill -HUP "$kpid"
wait_msg 1 '^RELOADING=1' && wait_msg 3 '^READY=1' && ok || bad "kmsd: no RELOADING=1, READY=1"
kmsd_stop
wait_msg 1 '^STOPPING=1' && ok || bad "kmsd: no STOPPING=1"
bsfd_stop
finish "test_notify.sh"
