#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# imskms-kmsd on loopback with the real BSF (Zn over mutual TLS): Kue issue in modes 2 and 3;
# ticket request and resolve between two UEs with equal TGK fingerprints, in both modes; mode 1
# (a fresh bootstrap per exchange, Kue1, nothing left in the state store, mixed with mode 3);
# store and forward (a ticket resolved after the caller's Kue expired and Kkms rotated, while its
# key is in grace, and refused after); and the refusals: a replayed request (the same bytes posted again), another subscriber's identity, a
# tampered token, A's token with B's identity, a resolve by a UE the ticket does not name, an
# expired Kue, a revoked Kkms, a token after its key's grace period, a mode the KMS does not
# allow, the BSF down (a clear 503, then success once it is back), a restart (the keyring and
# mode-2 records survive; a request from before the restart is still refused), junk and
# mutated bodies (400 or 403, never a crash).
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
IMPI_B=001010000000002@ims.mnc001.mcc001.3gppnetwork.org
IMPU_B=sip:+15550002@ims.example.org
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI_B" --impu "$IMPU_B" --k $KEY \
    --op $OP >/dev/null || bad "subscriber add B"
"$B" ue usim-init --usim "$tmp/usim-b" --impi "$IMPI_B" --impu "$IMPU_B" --k $KEY --op $OP \
    >/dev/null || bad "usim-init B"
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 3600 --grace 3600 \
    >/dev/null || bad "keys init"
bsfd_start

kmsd_start() { # [--modes LIST]: the log is appended to, across restarts
    echo "--- start" >>"$tmp/kmsd.log"
    "$K" --listen 127.0.0.1:0 --fqdn $FQDN --bsf-zn "https://localhost:$ZN" \
        --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
        --keyring "$tmp/keyring" --kek-file "$tmp/kek" --state-db "$tmp/state.db" --skew 1 \
        "$@" 2>>"$tmp/kmsd.log" &
    kpid=$!
    i=0
    while [ "$(tail -n 1 "$tmp/kmsd.log" | grep -c 'kms listening')" = 0 ] && [ $i -lt 100 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    KMS=$(sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p' "$tmp/kmsd.log" | tail -n 1)
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
    kue_in "$tmp/ue" "$m" "$@"
}
kue_in() { # statedir mode [extra options]
    d=$1
    m=$2
    shift 2
    "$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode "$m" --state "$d" \
        "$@" >"$tmp/out" 2>"$tmp/err"
}
request() { # statedir peer out -> output in $tmp/out, $tmp/err
    "$B" ue request --kms "http://localhost:$KMS" --peer "$2" --state "$1" --out "$3" \
        >"$tmp/out" 2>"$tmp/err"
}
resolve() { # statedir transfer -> output in $tmp/out, $tmp/err
    "$B" ue resolve --kms "http://localhost:$KMS" --ticket "$2" --state "$1" >"$tmp/out" 2>"$tmp/err"
}
request1() { # statedir usim peer out [extra options]: mode 1 (a fresh bootstrap per request)
    d=$1 u=$2 p=$3 o=$4
    shift 4
    "$B" ue request --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 1 \
        --bsf "http://localhost:$UB/" --usim "$u" --peer "$p" --state "$d" --out "$o" "$@" \
        >"$tmp/out" 2>"$tmp/err"
}
resolve1() { # statedir usim transfer [extra options]
    d=$1 u=$2 x=$3
    shift 3
    "$B" ue resolve --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 1 \
        --bsf "http://localhost:$UB/" --usim "$u" --ticket "$x" --state "$d" "$@" \
        >"$tmp/out" 2>"$tmp/err"
}
state_sum() { cat "$tmp/state.db"* 2>/dev/null | sha256sum; }
fp() { sed -n 's/^tgk_fingerprint=//p' "$tmp/out"; }
call() { # caller-state callee-state callee-identity: a ticket request and resolve
    if request "$1" "$3" "$tmp/xfer"; then ok; else bad "request: $(cat "$tmp/err")"; fi
    FA=$(fp)
    if resolve "$2" "$tmp/xfer"; then ok; else bad "resolve: $(cat "$tmp/err")"; fi
    FB=$(fp)
    printf '%s' "$FA" | grep -Eq '^[0-9a-f]{16}$' && [ "$FA" = "$FB" ] && ok ||
        bad "fingerprints differ: '$FA' '$FB'"
}
post() { # file -> HTTP status
    curl -s -o "$tmp/post.out" -w '%{http_code}' -H 'Content-Type: application/mikey' \
        --data-binary "@$1" "http://localhost:$KMS/mikey"
}

# Zn TLS files that cannot work are a start-up failure (exit 2, the option named), not a 503
# on every request.
badstart() { # expected-option, then the three files
    o=$1
    "$K" --listen 127.0.0.1:0 --fqdn $FQDN --bsf-zn "https://localhost:$ZN" --zn-cert "$2" \
        --zn-key "$3" --zn-ca "$4" --keyring "$tmp/keyring" --kek-file "$tmp/kek" \
        --state-db "$tmp/state.db" 2>"$tmp/bad.log" &
    bp=$!
    i=0
    while kill -0 $bp 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    if kill -0 $bp 2>/dev/null; then
        kill -9 $bp
        bad "kmsd started with a bad $o"
        return
    fi
    wait $bp
    st=$?
    [ $st -eq 2 ] && grep -q -- "$o" "$tmp/bad.log" && ok || bad "bad $o: exit $st, $(cat "$tmp/bad.log")"
}
P="$tmp/pki"
badstart --zn-cert "$tmp/nonexistent.crt" "$P/naf.key" "$P/ca.crt"
badstart --zn-key "$P/naf.crt" "$P/other.key" "$P/ca.crt"
badstart --zn-ca "$P/naf.crt" "$P/naf.key" "$tmp/kek"
badstart --zn-key "$P/naf.crt" "$P/naf.crt" "$P/ca.crt"
# Bad values of the other options: one line naming the option, exit 2.
for bad in "--modes 4" "--modes 2,2" "--modes ,3" "--modes 1,2,3," "--threads 0" "--threads 65" \
    "--threads x" "--threads -1" "--replay-entries 999" "--replay-entries 1e6"; do
    # shellcheck disable=SC2086 # two words on purpose
    "$K" --listen 127.0.0.1:0 --fqdn $FQDN --bsf-zn "https://localhost:$ZN" --zn-cert "$P/naf.crt" \
        --zn-key "$P/naf.key" --zn-ca "$P/ca.crt" --keyring "$tmp/keyring" --kek-file "$tmp/kek" \
        --state-db "$tmp/state.db" $bad 2>"$tmp/bad.log"
    st=$?
    opt=${bad%% *}
    [ $st -eq 2 ] && grep -q -- "$opt" "$tmp/bad.log" && [ "$(wc -l <"$tmp/bad.log")" -eq 1 ] && ok ||
        bad "kmsd $bad: exit $st, $(cat "$tmp/bad.log")"
done

mkdir -p "$tmp/ue" "$tmp/ue-b" "$tmp/tr3" "$tmp/tr2"
"$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" --state "$tmp/ue" >/dev/null ||
    bad "bootstrap"
"$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim-b" --state "$tmp/ue-b" >/dev/null ||
    bad "bootstrap B"
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

# ---- calls: A (mode 2 token now) to B (mode 3), then both mode 3, then both mode 2 ----
if kue_in "$tmp/ue-b" 3 --identity "$IMPU_B"; then ok; else bad "kue B: $(cat "$tmp/err")"; fi
call "$tmp/ue" "$tmp/ue-b" "$IMPU_B"
if kue 3 --identity "$IMPU"; then ok; else bad "kue A mode 3"; fi
call "$tmp/ue" "$tmp/ue-b" "$IMPU_B"
if kue_in "$tmp/ue-b" 2 --identity "$IMPU_B"; then ok; else bad "kue B mode 2"; fi
call "$tmp/ue-b" "$tmp/ue" "$IMPU"
# ---- mode 1: every exchange bootstraps afresh and is keyed by Kue1; the KMS keeps nothing ----
mkdir -p "$tmp/ue1" "$tmp/ue1-b" "$tmp/tr1"
S0=$(state_sum)
if request1 "$tmp/ue1" "$tmp/usim" "$IMPU_B" "$tmp/xfer1" --identity "$IMPU" --trace "$tmp/tr1"; then
    ok
else bad "mode-1 request: $(cat "$tmp/err")"; fi
FA=$(fp)
BT1=$(sed -n 's/^btid=//p' "$tmp/ue1/bootstrap")
"$B" mikey decode "$tmp/tr1/001-sent.mikey" | grep -q "$(printf '%s' "$BT1" | head -c 12)" && ok ||
    bad "the mode-1 request's IDRpsk is not the new B-TID"
if resolve1 "$tmp/ue1-b" "$tmp/usim-b" "$tmp/xfer1"; then ok; else bad "mode-1 resolve: $(cat "$tmp/err")"; fi
[ -n "$FA" ] && [ "$FA" = "$(fp)" ] && ok || bad "mode-1 fingerprints differ: '$FA' '$(fp)'"
[ "$S0" = "$(state_sum)" ] && ok || bad "a mode-1 exchange changed the KMS's state store"
# A second mode-1 request bootstraps again: a new B-TID.
if request1 "$tmp/ue1" "$tmp/usim" "$IMPU_B" "$tmp/xfer1b"; then ok; else bad "mode-1 again"; fi
[ "$(sed -n 's/^btid=//p' "$tmp/ue1/bootstrap")" != "$BT1" ] && ok || bad "no fresh bootstrap"
# A mode-1 caller and a mode-3 callee (B's Kue) meet on the same ticket.
FA=$(fp)
if resolve "$tmp/ue-b" "$tmp/xfer1b"; then ok; else bad "mode-3 resolve of a mode-1 ticket: $(cat "$tmp/err")"; fi
[ "$FA" = "$(fp)" ] && ok || bad "mode 1 to mode 3: fingerprints differ"
# The same mode-1 request bytes again: a replay.
[ "$(post "$tmp/tr1/001-sent.mikey")" = 403 ] && ok || bad "a replayed mode-1 request was not refused"
# Another subscriber's identity with A's bootstrap.
request1 "$tmp/ue1" "$tmp/usim" "$IMPU_B" "$tmp/xfer1c" --identity "$IMPU_B"
st=$?
[ $st -eq 1 ] && ok || bad "mode 1 with B's identity: exit $st"
"$B" ue request --kms "http://localhost:$KMS" --mode 1 --peer "$IMPU_B" --state "$tmp/ue1" \
    --out "$tmp/x" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- '--bsf and --usim' "$tmp/err" && ok || bad "mode 1 without --bsf"

# A resolving a ticket meant for B: refused by the KMS (B's identity is not in A's token)...
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-b"
resolve "$tmp/ue" "$tmp/xfer-b"
st=$?
[ $st -eq 1 ] && ok || bad "A resolved B's transfer: exit $st"
# ... and by the KMS when A claims B's identity with its own token.
cp -r "$tmp/ue" "$tmp/ue-fake"
sed -i "s|^identity=.*|identity=$IMPU_B|" "$tmp/ue-fake/kue"
resolve "$tmp/ue-fake" "$tmp/xfer-b"
st=$?
[ $st -eq 1 ] && ok || bad "A's token with B's identity resolved: exit $st"
request "$tmp/ue-fake" "$IMPU" "$tmp/xfer-x"
st=$?
[ $st -eq 1 ] && ok || bad "A's token with B's identity requested: exit $st"
# A tampered token: one hex digit of the token changed (0 <-> 1, anything else -> 0).
cp -r "$tmp/ue" "$tmp/ue-tamper"
c=$(sed -n 's/^token=.\{40\}\(.\).*/\1/p' "$tmp/ue-tamper/kue")
case "$c" in 0) r=1 ;; *) r=0 ;; esac
sed -i "s|^\(token=.\{40\}\).|\1$r|" "$tmp/ue-tamper/kue"
cmp -s "$tmp/ue/kue" "$tmp/ue-tamper/kue" && bad "tamper setup" || ok
request "$tmp/ue-tamper" "$IMPU_B" "$tmp/xfer-t"
st=$?
[ $st -eq 1 ] && ok || bad "a tampered token: exit $st"

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
"$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim-b" --state "$tmp/ue-b" >/dev/null ||
    bad "bootstrap B after the BSF restart" # its sessions were in the BSF's memory
if kue 3; then ok; else bad "kue once the BSF is back: $(cat "$tmp/err")"; fi

# ---- a mode the KMS does not allow: a MACed refusal ----
kmsd_stop
kmsd_start --modes 3
kue 2
st=$?
[ $st -eq 1 ] && ok || bad "mode 2 on a mode-3 KMS: exit $st"
grep -q 'refused the mode' "$tmp/err" && ok || bad "the refusal does not name the mode: $(cat "$tmp/err")"
request1 "$tmp/ue1" "$tmp/usim" "$IMPU_B" "$tmp/xfer1d"
st=$?
[ $st -eq 1 ] && grep -q 'refused the mode' "$tmp/err" && ok || bad "mode 1 on a mode-3 KMS: exit $st"

# ---- a restart: a request from before it is still refused; the keyring and mode-2 Kues survive ----
[ "$(post "$tmp/tr3/001-sent.mikey")" = 403 ] && ok || bad "a pre-restart request was accepted"
if kue 3; then ok; else bad "kue after a restart: $(cat "$tmp/err")"; fi
kmsd_stop
kmsd_start
call "$tmp/ue-b" "$tmp/ue" "$IMPU" # B's mode-2 Kue record from before the restarts

# ---- a revoked Kkms: the daemon picks up imskms keys revoke without a restart ----
if kue 3; then ok; else bad "kue before the revoke"; fi
KID=$("$B" keys status --keyring "$tmp/keyring" --kek-file "$tmp/kek" | sed -n 's/^active_key=//p')
"$B" keys revoke --keyring "$tmp/keyring" --kek-file "$tmp/kek" "$KID" >/dev/null || bad "revoke"
sleep 1.2
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-r"
st=$?
[ $st -eq 1 ] && ok || bad "a token under a revoked key: exit $st"
if kue 3; then ok; else bad "kue after the revoke: $(cat "$tmp/err")"; fi
call "$tmp/ue" "$tmp/ue-b" "$IMPU_B" # the new active key serves

# ---- an expired Kue ----
kmsd_stop
kmsd_start --kue-lifetime 2
if kue 3; then ok; else bad "kue with a 2 s lifetime"; fi
sleep 2.2
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-e"
st=$?
[ $st -eq 1 ] && ok || bad "an expired Kue: exit $st"

# ---- a token after its key's grace period (a keyring of 3 s keys, 3 s grace) ----
kmsd_stop
rm -f "$tmp/keyring" "$tmp/keyring.lock"
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 3 --grace 3 >/dev/null ||
    bad "keys init (short)"
kmsd_start # about 1.3 s of the key's 3 s
if kue 3; then ok; else bad "kue under a short-lived key"; fi
sleep 2
# In the key's grace period (its 3 s are over, its grace is not): the token still works.
call "$tmp/ue" "$tmp/ue-b" "$IMPU_B"
sleep 3
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-g"
st=$?
[ $st -eq 1 ] && ok || bad "a token after its key's grace: exit $st"
grep -q 'KEY_DESTROYED\|TICKET_EXPIRED' "$tmp/kmsd.log" && ok || bad "no reason in the KMS log"

# ---- store and forward: a ticket resolved after the caller's Kue expired and Kkms rotated ----
# Keys of 4 s with 4 s of grace; Kues of 2 s. The ticket is sealed under key 1 at about 1.5 s;
# at about 5 s A's Kue has expired and key 2 is active, key 1 in grace: B (a fresh Kue under
# key 2) still resolves it. After about 8.5 s key 1 is destroyed: refused.
kmsd_stop
rm -f "$tmp/keyring" "$tmp/keyring.lock"
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 4 --grace 4 >/dev/null ||
    bad "keys init (store and forward)"
kmsd_start --kue-lifetime 2 --ticket-lifetime 3600
if kue 3; then ok; else bad "kue (store and forward)"; fi
if request "$tmp/ue" "$IMPU_B" "$tmp/xfer-sf"; then ok; else bad "request (store and forward)"; fi
FA=$(fp)
sleep 3.5
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-sf2"
st=$?
[ $st -eq 1 ] && ok || bad "A's Kue should have expired: exit $st"
if kue_in "$tmp/ue-b" 3 --identity "$IMPU_B"; then ok; else bad "kue B (store and forward): $(cat "$tmp/err")"; fi
if resolve "$tmp/ue-b" "$tmp/xfer-sf"; then ok; else bad "deferred resolve in grace: $(cat "$tmp/err")"; fi
[ "$FA" = "$(fp)" ] && ok || bad "deferred resolve: fingerprints differ"
"$B" keys list --keyring "$tmp/keyring" --kek-file "$tmp/kek" | grep -q '^key_id=1 .*effective=grace' && ok ||
    bad "key 1 is not in its grace period: $("$B" keys list --keyring "$tmp/keyring" --kek-file "$tmp/kek")"
sleep 4
if kue_in "$tmp/ue-b" 3 --identity "$IMPU_B"; then ok; else bad "kue B after the grace"; fi
resolve "$tmp/ue-b" "$tmp/xfer-sf"
st=$?
[ $st -eq 1 ] && ok || bad "a deferred resolve after the key's grace: exit $st"

kmsd_stop
bsfd_stop
finish "test_kmsd.sh"
