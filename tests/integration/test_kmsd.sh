#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# imskms-kmsd on loopback with the real BSF (Zn over mutual TLS): Kue issue in modes 2 and 3,
# and its refusals: a replayed request (the same bytes posted again), a mode the KMS does not
# allow, the BSF down (a clear 503, then success once it is back), a restart (the keyring and
# mode-2 records survive; a request from before the restart is still refused), tampered and
# malformed bodies (400 or 403, never a crash), a token sealed under a key revoked meanwhile.
# Usage: test_kmsd.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
set -u
B=$1
D=$2
K=$3
SRC=$4
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
pid=""
kpid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$kpid" ] && kill -9 "$kpid" 2>/dev/null; rm -rf "$tmp"' EXIT

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPU=sip:+15550001@ims.example.org
FQDN=kms.example.org # the name in tests/http/mkca.sh's NAF certificate

bsfd_pki "$SRC/tests/http/mkca.sh"
DB="$tmp/db"
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI" --impu "$IMPU" --k $KEY --op $OP \
    >/dev/null || bad "subscriber add"
"$B" ue usim-init --usim "$tmp/usim" --impi "$IMPI" --impu "$IMPU" --k $KEY --op $OP >/dev/null ||
    bad "usim-init"
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 3600 --grace 3600 \
    >/dev/null || bad "keys init"
bsfd_start

kmsd_start() { # [--modes LIST]
    : >"$tmp/kmsd.log"
    "$K" --listen 127.0.0.1:0 --fqdn $FQDN --bsf-zn "https://localhost:$ZN" \
        --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
        --keyring "$tmp/keyring" --kek-file "$tmp/kek" --state-db "$tmp/state.db" --skew 1 \
        "$@" 2>>"$tmp/kmsd.log" &
    kpid=$!
    i=0
    while ! grep -q 'kms listening' "$tmp/kmsd.log" && [ $i -lt 100 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    KMS=$(sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p' "$tmp/kmsd.log")
    [ -n "$KMS" ] || {
        echo "FAIL: kmsd did not start: $(cat "$tmp/kmsd.log")" >&2
        exit 1
    }
    # The restart rule refuses requests stamped before start + skew (1 s here).
    sleep 1.2
}
kmsd_stop() {
    kill -TERM "$kpid"
    wait "$kpid"
    st=$?
    kpid=""
    [ $st -eq 0 ] && ok || bad "kmsd SIGTERM: exit $st"
}
kue() { # mode [extra options]: output in $tmp/out, $tmp/err
    m=$1
    shift
    "$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode "$m" --state "$tmp/ue" \
        "$@" >"$tmp/out" 2>"$tmp/err"
}
post() { # file -> HTTP status
    curl -s -o "$tmp/post.out" -w '%{http_code}' -H 'Content-Type: application/mikey' \
        --data-binary "@$1" "http://localhost:$KMS/mikey"
}

mkdir -p "$tmp/ue" "$tmp/tr3" "$tmp/tr2"
"$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" --state "$tmp/ue" >/dev/null ||
    bad "bootstrap"
kmsd_start

# ---- Kue issue, both modes ----
if kue 3 --trace "$tmp/tr3"; then ok; else bad "kue mode 3: $(cat "$tmp/err")"; fi
grep -q '^mode=3$' "$tmp/out" && ok || bad "kue mode 3 output: $(cat "$tmp/out")"
grep -q '^kue_expiry=20[0-9-]*T[0-9:]*Z$' "$tmp/out" && ok || bad "kue_expiry: $(cat "$tmp/out")"
[ "$(stat -c %a "$tmp/ue/kue")" = 600 ] && ok || bad "the Kue state file is not 0600"
[ -s "$tmp/tr3/001-sent.mikey" ] && [ -s "$tmp/tr3/002-recv.mikey" ] && ok || bad "trace files"
"$B" mikey decode "$tmp/tr3/002-recv.mikey" | grep -q 'ticket_type: 0xf1a0' && ok ||
    bad "mode 3 answer is not a sealed-Kue TICKET"
if kue 2 --identity "$IMPU" --trace "$tmp/tr2"; then ok; else bad "kue mode 2 with an IMPU: $(cat "$tmp/err")"; fi
"$B" mikey decode "$tmp/tr2/002-recv.mikey" | grep -q 'ticket_data_len: 16' && ok ||
    bad "mode 2 answer does not carry a 16-octet reference"
grep -qi "$KEY" "$tmp/out" "$tmp/kmsd.log" && bad "a key in the output or the log" || ok

# ---- refusals ----
[ "$(post "$tmp/tr3/001-sent.mikey")" = 403 ] && ok || bad "a replayed request was not refused"
"$B" mikey decode "$tmp/post.out" | grep -q 'ERR' && ok || bad "403 without a MIKEY Error"
kue 3 --identity "sip:mallory@ims.example.org"
st=$?
[ $st -eq 1 ] && ok || bad "another subscriber's identity: exit $st ($(cat "$tmp/err"))"
head -c 40 /dev/urandom >"$tmp/junk"
c=$(post "$tmp/junk")
[ "$c" = 400 ] && ok || bad "junk body: $c"
: >"$tmp/empty"
c=$(post "$tmp/empty")
[ "$c" = 400 ] && ok || bad "empty body: $c"
# Every single-byte change of a real request: 400 or 403, and the daemon keeps serving.
n=$(wc -c <"$tmp/tr2/001-sent.mikey")
i=0
codes_ok=1
while [ $i -lt "$n" ]; do
    { head -c $i "$tmp/tr2/001-sent.mikey"; printf '\377'; tail -c +$((i + 2)) "$tmp/tr2/001-sent.mikey"; } >"$tmp/mut"
    c=$(post "$tmp/mut")
    if [ "$c" != 400 ] && [ "$c" != 403 ]; then
        codes_ok=0
        bad "byte $i changed: $c"
    fi
    i=$((i + 7))
done
[ $codes_ok -eq 1 ] && ok
[ "$(curl -s "http://localhost:$KMS/healthz")" = ok ] && ok || bad "healthz after the bad requests"

# ---- the BSF down: a clear error, and success once it is back (on the same ports) ----
UB_LISTEN=127.0.0.1:$UB
ZN_LISTEN=127.0.0.1:$ZN
bsfd_stop
# A fresh bootstrap is not needed: the KMS has Ks_NAF cached; a new UE state would be. Use a
# B-TID the KMS has not cached yet: bootstrap again after the BSF is back. First, with it down:
mkdir -p "$tmp/ue-down"
cp "$tmp/ue/bootstrap" "$tmp/ue-down/bootstrap"
sed -i 's/^btid=\(....\)/btid=AAAA/' "$tmp/ue-down/bootstrap" # uncached, so Zn must be asked
"$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 3 --state "$tmp/ue-down" \
    >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -eq 3 ] && ok || bad "BSF down: exit $st, expected 3 ($(cat "$tmp/err"))"
grep -q 'BSF\|Zn\|HTTP\|transport' "$tmp/kmsd.log" && ok || bad "no clear BSF error in the log"
bsfd_start
"$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" --state "$tmp/ue" >/dev/null ||
    bad "bootstrap after the BSF restart"
if kue 3; then ok; else bad "kue once the BSF is back: $(cat "$tmp/err")"; fi

# ---- a mode the KMS does not allow: a MACed refusal ----
kmsd_stop
kmsd_start --modes 3
kue 2
st=$?
[ $st -eq 1 ] && ok || bad "mode 2 on a mode-3 KMS: exit $st"
grep -q 'refused the mode' "$tmp/err" && ok || bad "the refusal does not name the mode: $(cat "$tmp/err")"

# ---- a restart: a request from before it is still refused ----
[ "$(post "$tmp/tr3/001-sent.mikey")" = 403 ] && ok || bad "a pre-restart request was accepted"
if kue 3; then ok; else bad "kue after a restart: $(cat "$tmp/err")"; fi

kmsd_stop
bsfd_stop
finish "test_kmsd.sh"
