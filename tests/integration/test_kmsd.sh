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
# mutated bodies (400 or 403, never a crash). Every refusal is checked for its reason (the
# error code in the KMS log lines the step wrote, or the CLI's message).
# Time: the test clock (tests/integration/lib.sh, builds with KMS_TEST_CLOCK=ON) moves every
# program's clock forward instead of sleeping through lifetimes, grace periods and the restart
# window; lifetimes are hundreds of seconds and every jump lands well inside its window.
# Keys: at the end, every log and every output of the run is searched for every key it could
# obtain in hex: K, OPc (imskms crypto milenage), each Ks (the UE's bootstrap files), each
# Ks_NAF (imskms crypto ks-naf from Ks, RAND, IMPI) and each Kue of modes 2 and 3 (the UE's kue
# files). Not searched, because no tool gives them in hex: Kue1 of mode 1, MPK and TGK (the CLI
# prints only a fingerprint of TGK) and Kkms (inside the keystore).
# Usage: test_kmsd.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
set -u
B=$1
D=$2
K=$3
SRC=$4
FLOOD=$5
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
clock_init
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
key_add K $KEY
key_add OPc "$("$B" crypto milenage --k $KEY --op $OP --rand 00000000000000000000000000000000 \
    --sqn 000000000000 --amf 8000 | sed -n 's/^opc=//p')"

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

SKEW=30
# shellcheck source=kmsd_env.sh
. "$SRC/tests/integration/kmsd_env.sh"
kue() { # mode [extra options]: output in $tmp/out, $tmp/err
    kue_in "$tmp/ue" "$@"
}
# Every CLI run below keeps its output in $tmp/out and $tmp/err, and adds both to $tmp/all
# (searched for keys at the end); m is the KMS log's mark before the run.
kept() { # status: the last run's output kept, the status in st and passed on
    st=$1
    cat "$tmp/out" "$tmp/err" >>"$tmp/all"
    return "$1"
}
kue_in() { # statedir mode [extra options]
    d=$1
    md=$2
    shift 2
    m=$(log_mark "$tmp/kmsd.log")
    "$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode "$md" --state "$d" \
        "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    [ $st -eq 0 ] && key_add_kue "$d"
    kept $st
}
request() { # statedir peer out -> output in $tmp/out, $tmp/err
    m=$(log_mark "$tmp/kmsd.log")
    "$B" ue request --kms "http://localhost:$KMS" --peer "$2" --state "$1" --out "$3" \
        >"$tmp/out" 2>"$tmp/err"
    kept $?
}
resolve() { # statedir transfer -> output in $tmp/out, $tmp/err
    m=$(log_mark "$tmp/kmsd.log")
    "$B" ue resolve --kms "http://localhost:$KMS" --ticket "$2" --state "$1" >"$tmp/out" 2>"$tmp/err"
    kept $?
}
# refused WHAT CODE: the last run exited 1 and the KMS logged CODE for it.
refused() {
    [ "$st" -eq 1 ] && ok || bad "$1: exit $st, expected 1 ($(cat "$tmp/err"))"
    expect_log "$tmp/kmsd.log" "$m" "$2" "$1"
}
bootstrap() { # usim statedir
    "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$1" --state "$2" >"$tmp/out" 2>"$tmp/err"
    st=$?
    [ $st -eq 0 ] && key_add_bootstrap "$2" $FQDN
    kept $st
}
request1() { # statedir usim peer out [extra options]: mode 1 (a fresh bootstrap per request)
    d=$1 u=$2 p=$3 o=$4
    shift 4
    m=$(log_mark "$tmp/kmsd.log")
    "$B" ue request --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 1 \
        --bsf "http://localhost:$UB/" --usim "$u" --peer "$p" --state "$d" --out "$o" "$@" \
        >"$tmp/out" 2>"$tmp/err"
    st=$?
    [ -f "$d/bootstrap" ] && key_add_bootstrap "$d" $FQDN
    kept $st
}
resolve1() { # statedir usim transfer [extra options]
    d=$1 u=$2 x=$3
    shift 3
    m=$(log_mark "$tmp/kmsd.log")
    "$B" ue resolve --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 1 \
        --bsf "http://localhost:$UB/" --usim "$u" --ticket "$x" --state "$d" "$@" \
        >"$tmp/out" 2>"$tmp/err"
    st=$?
    [ -f "$d/bootstrap" ] && key_add_bootstrap "$d" $FQDN
    kept $st
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
post() { # file -> the HTTP status in $code, the body in $tmp/post.out, the log's mark in m
    m=$(log_mark "$tmp/kmsd.log")
    code=$(curl -s -o "$tmp/post.out" -D "$tmp/post.hdr" -w '%{http_code}' \
        -H 'Content-Type: application/mikey' --data-binary "@$1" "http://localhost:$KMS/mikey")
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
    # Up to 30 s: an ASan daemon on a loaded machine can take seconds to get to its TLS files.
    while kill -0 $bp 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
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
bootstrap "$tmp/usim" "$tmp/ue" || bad "bootstrap: $(cat "$tmp/err")"
bootstrap "$tmp/usim-b" "$tmp/ue-b" || bad "bootstrap B: $(cat "$tmp/err")"
kmsd_start
open_window

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
# The same mode-1 request bytes again, well inside the skew: a replay.
post "$tmp/tr1/001-sent.mikey"
[ "$code" = 403 ] && ok || bad "a replayed mode-1 request was not refused"
expect_log "$tmp/kmsd.log" "$m" 'KMS_ERR_REPLAY)' "a replayed mode-1 request"
# Another subscriber's identity with A's bootstrap.
request1 "$tmp/ue1" "$tmp/usim" "$IMPU_B" "$tmp/xfer1c" --identity "$IMPU_B"
refused "mode 1 with B's identity" 'mikey 403 .*(KMS_ERR_AUTH)'
"$B" ue request --kms "http://localhost:$KMS" --mode 1 --peer "$IMPU_B" --state "$tmp/ue1" \
    --out "$tmp/x" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- '--bsf and --usim' "$tmp/err" && ok || bad "mode 1 without --bsf"

# A resolving a ticket meant for B: refused by the KMS (B's identity is not in A's token)...
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-b" || bad "A's request to B: $(cat "$tmp/err")"
resolve "$tmp/ue" "$tmp/xfer-b"
refused "A resolved B's transfer" 'mikey 403 .*(KMS_ERR_AUTH)'
# ... and by the KMS when A claims B's identity with its own token.
cp -r "$tmp/ue" "$tmp/ue-fake"
sed -i "s|^identity=.*|identity=$IMPU_B|" "$tmp/ue-fake/kue"
resolve "$tmp/ue-fake" "$tmp/xfer-b"
refused "A's token with B's identity resolved" 'mikey 403 .*(KMS_ERR_AUTH)'
request "$tmp/ue-fake" "$IMPU" "$tmp/xfer-x"
refused "A's token with B's identity requested" 'mikey 403 .*(KMS_ERR_AUTH)'
# A tampered token: one hex digit of the token changed (0 <-> 1, anything else -> 0).
cp -r "$tmp/ue" "$tmp/ue-tamper"
c=$(sed -n 's/^token=.\{40\}\(.\).*/\1/p' "$tmp/ue-tamper/kue")
case "$c" in 0) r=1 ;; *) r=0 ;; esac
sed -i "s|^\(token=.\{40\}\).|\1$r|" "$tmp/ue-tamper/kue"
cmp -s "$tmp/ue/kue" "$tmp/ue-tamper/kue" && bad "tamper setup" || ok
request "$tmp/ue-tamper" "$IMPU_B" "$tmp/xfer-t"
refused "a tampered token" 'mikey 403 .*(KMS_ERR_TICKET_TAG)'

# ---- refusals ----
# A request accepted a moment ago, posted again well inside the skew: refused as a replay.
mkdir -p "$tmp/tr-rp"
if kue 3 --trace "$tmp/tr-rp"; then ok; else bad "kue (replay): $(cat "$tmp/err")"; fi
post "$tmp/tr-rp/001-sent.mikey"
[ "$code" = 403 ] && ok || bad "a replayed request was not refused"
expect_log "$tmp/kmsd.log" "$m" 'mikey 403 .*(KMS_ERR_REPLAY)' "a replayed request"
"$B" mikey decode "$tmp/post.out" >"$tmp/dec" && ok || bad "the 403 body does not decode"
grep -q '^ERR' "$tmp/dec" && grep -q 'err_no: 0 ' "$tmp/dec" && ! grep -q '^V$' "$tmp/dec" && ok ||
    bad "403 without a MIKEY Error ERR 0 and no V: $(cat "$tmp/dec")"
kue 3 --identity "sip:mallory@ims.example.org"
refused "another subscriber's identity" 'mikey 403 .*(KMS_ERR_AUTH)'
head -c 40 /dev/urandom >"$tmp/junk"
post "$tmp/junk"
c=$code
[ "$c" = 400 ] && ok || bad "junk body: $c"
expect_log "$tmp/kmsd.log" "$m" 'mikey 400 ' "junk body"
# A 400's body: a MIKEY Error message, ERR 12 (Unspecified), no V (docs/api.md).
"$B" mikey decode "$tmp/post.out" >"$tmp/dec" && ok || bad "the 400 body does not decode"
grep -q '^ERR' "$tmp/dec" && grep -q 'err_no: 12 ' "$tmp/dec" && ! grep -q '^V$' "$tmp/dec" && ok ||
    bad "400 without a MIKEY Error ERR 12 and no V: $(cat "$tmp/dec")"
: >"$tmp/empty"
post "$tmp/empty"
c=$code
[ "$c" = 400 ] && ok || bad "empty body: $c"
# Every single-byte change of a request never sent before (its trace written, the KMS at a port
# where nothing listens): 400 or 403, never a replay, and the daemon keeps serving.
mkdir -p "$tmp/tr-mut"
"$B" ue kue --kms "http://127.0.0.1:1" --kms-fqdn $FQDN --mode 2 --state "$tmp/ue" \
    --trace "$tmp/tr-mut" >/dev/null 2>&1
R="$tmp/tr-mut/001-sent.mikey"
[ -s "$R" ] && ok || bad "no fresh request for the mutation sweep"
n=$(wc -c <"$R")
i=0
codes_ok=1
m0=$(log_mark "$tmp/kmsd.log")
while [ $i -lt "$n" ]; do
    # 0xff, or 0x00 where the byte is 0xff already (a mutant must differ from the request)
    if [ "$(od -An -tu1 -j $i -N1 "$R" | tr -d ' ')" = 255 ]; then x='\000'; else x='\377'; fi
    { head -c $i "$R"; printf "$x"; tail -c +$((i + 2)) "$R"; } >"$tmp/mut"
    post "$tmp/mut"
    c=$code
    if [ "$c" != 400 ] && [ "$c" != 403 ]; then
        codes_ok=0
        bad "byte $i changed: $c"
    fi
    i=$((i + 7))
done
[ $codes_ok -eq 1 ] && ok
log_has "$tmp/kmsd.log" "$m0" 'KMS_ERR_REPLAY' && bad "a mutant of a new request refused as a replay" || ok
[ "$(log_since "$tmp/kmsd.log" "$m0" | grep -c 'mikey 40[03] ')" -eq $(((n + 6) / 7)) ] && ok ||
    bad "not one refusal logged per mutant: $(log_since "$tmp/kmsd.log" "$m0" | tail -n 3)"
[ "$(curl -s "http://localhost:$KMS/healthz")" = ok ] && ok || bad "healthz after the bad requests"
# The listener's own answers (docs/api.md): 404 off /mikey, 405 for a GET, 413 over 64 KiB.
c=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/mikey' \
    --data-binary "@$tmp/junk" "http://localhost:$KMS/nothing")
[ "$c" = 404 ] && ok || bad "POST /nothing: $c"
c=$(curl -s -o /dev/null -w '%{http_code}' "http://localhost:$KMS/mikey")
[ "$c" = 405 ] && ok || bad "GET /mikey: $c"
head -c 65536 /dev/zero >"$tmp/64k"
post "$tmp/64k"
c=$code
[ "$c" = 400 ] && ok || bad "a body of exactly 64 KiB: $c, expected 400 (read, then refused as MIKEY)"
head -c 65537 /dev/zero >"$tmp/64k1"
post "$tmp/64k1"
c=$code
[ "$c" = 413 ] && ok || bad "a body of 64 KiB + 1: $c, expected 413"
# 415 for a POST /mikey not labelled application/mikey (none, another type, a longer one): a
# MIKEY Error ERR 12 without V in the body, like a 400's. Case and parameters do not matter.
for ct in 'Content-Type:' 'Content-Type: application/octet-stream' 'Content-Type: application/mikeyx'; do
    m=$(log_mark "$tmp/kmsd.log")
    c=$(curl -s -o "$tmp/post.out" -w '%{http_code}' -H "$ct" --data-binary "@$tmp/junk" \
        "http://localhost:$KMS/mikey")
    [ "$c" = 415 ] && ok || bad "'$ct': $c, expected 415"
    "$B" mikey decode "$tmp/post.out" >"$tmp/dec" && grep -q '^ERR' "$tmp/dec" &&
        grep -q 'err_no: 12 ' "$tmp/dec" && ! grep -q '^V$' "$tmp/dec" && ok ||
        bad "415 ('$ct') without a MIKEY Error ERR 12 and no V: $(cat "$tmp/dec")"
    expect_log "$tmp/kmsd.log" "$m" 'mikey 415 .*(KMS_ERR_MEDIA_TYPE)' "'$ct'"
done
c=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: Application/MIKEY; charset=x' \
    --data-binary "@$tmp/junk" "http://localhost:$KMS/mikey")
[ "$c" = 400 ] && ok || bad "junk labelled 'Application/MIKEY; charset=x': $c, expected 400"
[ "$(curl -s "http://localhost:$KMS/healthz")" = ok ] && ok || bad "healthz after the 4xx"
# The request itself, never sent, is still good: the mutants did not burn it.
post "$R"
[ "$code" = 200 ] && ok || bad "the sweep's original request: $(log_since "$tmp/kmsd.log" "$m")"

# ---- the BSF down: a clear error, and success once it is back ----
# kmsd keeps running and knows the BSF's Zn by its port, so the BSF must come back on the same
# ports (the only restart in the tests that does not take fresh ones from port 0).
UB_LISTEN=127.0.0.1:$UB
ZN_LISTEN=127.0.0.1:$ZN
bsfd_stop
# A fresh bootstrap is not needed: the KMS has Ks_NAF cached; a new UE state would be. Use a
# B-TID the KMS has not cached yet: bootstrap again after the BSF is back. First, with it down:
mkdir -p "$tmp/ue-down"
cp "$tmp/ue/bootstrap" "$tmp/ue-down/bootstrap"
sed -i 's/^btid=\(....\)/btid=AAAA/' "$tmp/ue-down/bootstrap" # uncached, so Zn must be asked
kue_in "$tmp/ue-down" 3
st=$?
[ $st -eq 3 ] && ok || bad "BSF down: exit $st, expected 3 ($(cat "$tmp/err"))"
expect_log "$tmp/kmsd.log" "$m" 'mikey 503 .*(KMS_ERR_ZN_UNAVAILABLE)' "BSF down"
bsfd_start
unset UB_LISTEN ZN_LISTEN
bootstrap "$tmp/usim" "$tmp/ue" || bad "bootstrap after the BSF restart"
bootstrap "$tmp/usim-b" "$tmp/ue-b" || bad "bootstrap B after the BSF restart" # its sessions were in the BSF's memory
if kue 3; then ok; else bad "kue once the BSF is back: $(cat "$tmp/err")"; fi

# ---- the state store failing: 503 (another process holds SQLite's write lock) ----
if command -v python3 >/dev/null; then
    mkdir -p "$tmp/tr-st"
    "$B" ue kue --kms "http://127.0.0.1:1" --kms-fqdn $FQDN --mode 2 --state "$tmp/ue" \
        --trace "$tmp/tr-st" >/dev/null 2>&1 # a request never sent (nothing listens on port 1)
    R2="$tmp/tr-st/001-sent.mikey"
    mkfifo "$tmp/lockctl"
    python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()' "$tmp/state.db" <"$tmp/lockctl" >"$tmp/lock.out" 2>&1 &
    lockpid=$!
    exec 9>"$tmp/lockctl"
    wait_log "$tmp/lock.out" 0 locked "$lockpid"
    # A mode-2 Kue is a store write: it waits out SQLite's busy timeout (5 s), then fails.
    post "$R2"
    c=$code
    [ "$c" = 503 ] && ok || bad "store locked: $c, expected 503"
    expect_log "$tmp/kmsd.log" "$m" 'mikey 503 .*(KMS_ERR_STORE)' "store locked"
    "$B" mikey decode "$tmp/post.out" >"$tmp/dec" 2>&1 && grep -q 'err_no: 12 ' "$tmp/dec" &&
        ! grep -q '^V$' "$tmp/dec" && ok || bad "store locked: not an Error ERR 12 without V: $(cat "$tmp/dec")"
    exec 9>&-
    wait $lockpid
    if kue 2; then ok; else bad "kue mode 2 once the store is free: $(cat "$tmp/err")"; fi
else
    bad "python3 missing: the store-failure check did not run"
fi

# ---- a mode the KMS does not allow: a MACed refusal ----
kmsd_stop
kmsd_start --modes 3
open_window
kue 2
refused "mode 2 on a mode-3 KMS" 'mikey 403 .*(KMS_ERR_POLICY)'
grep -q 'refused the mode' "$tmp/err" && ok || bad "the refusal does not name the mode: $(cat "$tmp/err")"
request1 "$tmp/ue1" "$tmp/usim" "$IMPU_B" "$tmp/xfer1d"
refused "mode 1 on a mode-3 KMS" 'mikey 403 .*(KMS_ERR_POLICY)'
grep -q 'refused the mode' "$tmp/err" && ok || bad "mode 1: the refusal does not name the mode"

# ---- a restart after a crash (kill -9: no replay snapshot; a clean stop's snapshot is
# test_kmsd_restart.sh's): a request from before it is still refused (the restart rule, not the
# skew: the request is a second old and the skew is 30 s), as the server's state (503 starting
# with the seconds until the window opens), not as an authentication failure; the keyring and
# mode-2 Kues survive ----
mkdir -p "$tmp/tr-rs"
if kue 3 --trace "$tmp/tr-rs"; then ok; else bad "kue before a restart: $(cat "$tmp/err")"; fi
kill -9 "$kpid"
wait "$kpid" 2>/dev/null
kpid=""
kmsd_start
post "$tmp/tr-rs/001-sent.mikey"
[ "$code" = 503 ] && ok || bad "a pre-restart request: $code, not 503"
expect_log "$tmp/kmsd.log" "$m" 'mikey 503 .*(KMS_ERR_REPLAY_RESTART)' "a pre-restart request"
grep -qi '^Imskms-Reason: starting' "$tmp/post.hdr" && ok || bad "no Imskms-Reason: starting"
# The window's remainder: the test clock has not moved since the start, so about SKEW seconds
# (not the table's default of 5, which a refusal decided later, by the replay hook, would give).
ra=$(sed -n 's/^[Rr]etry-[Aa]fter: \([0-9]*\).*/\1/p' "$tmp/post.hdr")
[ -n "$ra" ] && [ "$ra" -ge $((SKEW - 10)) ] && [ "$ra" -le "$SKEW" ] && ok ||
    bad "Retry-After '$ra' is not the window's remainder ($((SKEW - 10))..$SKEW)"
open_window
# Now older than the skew: the one authentication failure again, naming no reason.
post "$tmp/tr-rs/001-sent.mikey"
[ "$code" = 403 ] && ok || bad "a request older than the skew: $code, not 403"
grep -qi '^Imskms-Reason' "$tmp/post.hdr" && bad "a 403 names a reason" || ok
if kue 3; then ok; else bad "kue after a restart: $(cat "$tmp/err")"; fi
call "$tmp/ue-b" "$tmp/ue" "$IMPU" # B's mode-2 Kue record from before the restarts

# ---- a revoked Kkms: the daemon picks up imskms keys revoke without a restart ----
if kue 3; then ok; else bad "kue before the revoke"; fi
KID=$("$B" keys status --keyring "$tmp/keyring" --kek-file "$tmp/kek" | sed -n 's/^active_key=//p')
"$B" keys revoke --keyring "$tmp/keyring" --kek-file "$tmp/kek" "$KID" >/dev/null || bad "revoke"
# Picked up on the next refresh (every second, or on use after 200 ms): try for up to 30 s.
j=0
while request "$tmp/ue" "$IMPU_B" "$tmp/xfer-r" && [ $j -lt 150 ]; do
    sleep 0.2
    j=$((j + 1))
done
refused "a token under a revoked key" 'mikey 403 .*(KMS_ERR_KEY_DESTROYED)'
if kue 3; then ok; else bad "kue after the revoke: $(cat "$tmp/err")"; fi
call "$tmp/ue" "$tmp/ue-b" "$IMPU_B" # the new active key serves

# ---- an expired Kue (a lifetime of 100 s, the clock moved 150 s) ----
kmsd_stop
kmsd_start --kue-lifetime 100
open_window
if kue 3; then ok; else bad "kue with a 100 s lifetime"; fi
clock_advance 150
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-e"
refused "an expired Kue" 'mikey 403 .*(KMS_ERR_TICKET_EXPIRED)'

# ---- imskms kue list and revoke: a lost phone's mode-2 Kue is withdrawn at once, while the
# KMS runs (it reads the record on every request) ----
if kue 2; then ok; else bad "kue mode 2 (revoke): $(cat "$tmp/err")"; fi
REF=$(sed -n 's/^token=//p' "$tmp/ue/kue")
klist() { "$B" kue list --state-db "$tmp/state.db" --kek-file "$tmp/kek" >"$tmp/kl" 2>&1; }
klist && ok || bad "kue list: $(cat "$tmp/kl")"
grep -Eq "^ref=$REF identity=$IMPI valid_from=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z valid_to=[0-9]{4}-" \
    "$tmp/kl" && ok || bad "kue list does not show the Kue $REF of $IMPI: $(cat "$tmp/kl")"
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-rv"
[ "$st" -eq 0 ] && ok || bad "a request before the revoke: $(cat "$tmp/err")"
"$B" kue revoke --state-db "$tmp/state.db" --kek-file "$tmp/kek" --identity "$IMPU" \
    >"$tmp/kr" 2>&1 && grep -Eq '^revoked=[1-9]' "$tmp/kr" && ok ||
    bad "kue revoke --identity: $(cat "$tmp/kr")"
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-rv"
refused "a revoked mode-2 Kue" 'mikey 403 .*(KMS_ERR_KEY_UNKNOWN)'
klist && ! grep -q "^ref=$REF " "$tmp/kl" && ok || bad "the revoked Kue is still listed"
"$B" kue revoke --state-db "$tmp/state.db" --kek-file "$tmp/kek" --ref "$REF" >"$tmp/kr" 2>&1
[ $? -eq 1 ] && grep -q '^revoked=0' "$tmp/kr" && grep -q 'no stored Kue' "$tmp/kr" && ok ||
    bad "revoking it again: $(cat "$tmp/kr")"
"$B" kue revoke --state-db "$tmp/state.db" --kek-file "$tmp/kek" --ref 00zz >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "kue revoke --ref with bad hex is not a usage error"
"$B" kue revoke --state-db "$tmp/state.db" --kek-file "$tmp/kek" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "kue revoke without --ref or --identity is not a usage error"
if kue 2; then ok; else bad "kue mode 2 (after the revoke): $(cat "$tmp/err")"; fi
head -c 32 /dev/urandom >"$tmp/kek-other" && chmod 600 "$tmp/kek-other"
"$B" kue list --state-db "$tmp/state.db" --kek-file "$tmp/kek-other" >"$tmp/kl" 2>&1
[ $? -eq 1 ] && grep -q 'not the KEK' "$tmp/kl" && ok || bad "kue list, wrong KEK: $(cat "$tmp/kl")"
"$B" kue list --state-db "$tmp/nope.db" --kek-file "$tmp/kek" >"$tmp/kl" 2>&1
[ $? -eq 2 ] && grep -q 'nope.db' "$tmp/kl" && [ ! -e "$tmp/nope.db" ] && ok ||
    bad "kue list of a missing store: $(cat "$tmp/kl")"

# ---- the minute purge: a mode-2 Kue record is gone from the store within a minute of its
# expiry (the purge runs every minute by the daemon's clock) ----
if kue 2; then ok; else bad "kue mode 2 (purge): $(cat "$tmp/err")"; fi
REF=$(sed -n 's/^token=//p' "$tmp/ue/kue" | tr a-f A-F)
rows() { sqlite3 "$tmp/state.db" "SELECT count(*) FROM kue WHERE hex(id) = '$REF'" 2>&1; }
[ "$(rows)" = 1 ] && ok || bad "the mode-2 record is not in the store: $(rows)"
clock_advance 161 # past its expiry (100 s) and the next purge (60 s after the last)
j=0
while [ "$(rows)" != 0 ] && [ $j -lt 300 ]; do
    sleep 0.1
    j=$((j + 1))
done
[ "$(rows)" = 0 ] && ok || bad "the expired mode-2 record was not purged: $(rows)"
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-p"
refused "a purged mode-2 Kue" 'mikey 403 .*(KMS_ERR_KEY_UNKNOWN)'

# ---- a token after its key's grace period (keys of 200 s with 200 s of grace) ----
kmsd_stop
rm -f "$tmp/keyring" "$tmp/keyring.lock"
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 200 --grace 200 >/dev/null ||
    bad "keys init (short)"
kmsd_start
open_window # 31 s of the key's 200
if kue 3; then ok; else bad "kue under a short-lived key"; fi
clock_advance 250 # 281 s: the key's active period is over, its grace is not
call "$tmp/ue" "$tmp/ue-b" "$IMPU_B"
clock_advance 200 # 481 s: past its grace
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-g"
refused "a token after its key's grace" 'mikey 403 .*(KMS_ERR_KEY_DESTROYED)'

# ---- store and forward: a ticket resolved after the caller's Kue expired and Kkms rotated ----
# Keys of 200 s with 200 s of grace; Kues of 100 s. The ticket is sealed under key 1 at 31 s;
# at 281 s A's Kue has expired and key 2 is active, key 1 in grace: B (a fresh Kue under key 2)
# still resolves it. At 481 s key 1 is destroyed: refused.
kmsd_stop
rm -f "$tmp/keyring" "$tmp/keyring.lock"
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 200 --grace 200 >/dev/null ||
    bad "keys init (store and forward)"
kmsd_start --kue-lifetime 100 --ticket-lifetime 3600
open_window
if kue 3; then ok; else bad "kue (store and forward)"; fi
if request "$tmp/ue" "$IMPU_B" "$tmp/xfer-sf"; then ok; else bad "request (store and forward)"; fi
FA=$(fp)
clock_advance 250
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-sf2"
refused "A's Kue should have expired" 'mikey 403 .*(KMS_ERR_TICKET_EXPIRED)'
if kue_in "$tmp/ue-b" 3 --identity "$IMPU_B"; then ok; else bad "kue B (store and forward): $(cat "$tmp/err")"; fi
if resolve "$tmp/ue-b" "$tmp/xfer-sf"; then ok; else bad "deferred resolve in grace: $(cat "$tmp/err")"; fi
[ "$FA" = "$(fp)" ] && ok || bad "deferred resolve: fingerprints differ"
"$B" keys list --keyring "$tmp/keyring" --kek-file "$tmp/kek" | grep -q '^key_id=1 .*effective=grace' && ok ||
    bad "key 1 is not in its grace period: $("$B" keys list --keyring "$tmp/keyring" --kek-file "$tmp/kek")"
clock_advance 200
if kue_in "$tmp/ue-b" 3 --identity "$IMPU_B"; then ok; else bad "kue B after the grace"; fi
resolve "$tmp/ue-b" "$tmp/xfer-sf"
refused "a deferred resolve after the key's grace" 'mikey 403 .*(KMS_ERR_KEY_DESTROYED)'

# ---- a full replay cache: 503 (and the documented Error), never an entry dropped early ----
# --replay-entries 1000 (the least allowed): the Kue issue and 999 ticket requests fill it within
# the skew; later requests are refused with 503 until entries expire (KMS_ERR_REPLAY_FULL).
# A skew of 300 s for this part: the flood must be over before the first entries (the Kue
# issue's) expire, and 1,100 requests to an ASan KMS on a loaded machine can take longer than
# the 30 s of the rest of the test.
kmsd_stop
SKEW=300
kmsd_start --replay-entries 1000
open_window
if kue 3; then ok; else bad "kue (replay cache)"; fi
m=$(log_mark "$tmp/kmsd.log")
"$FLOOD" "$tmp/ue" "http://localhost:$KMS/mikey" "$IMPU_B" 1100 >"$tmp/flood" 2>"$tmp/err" ||
    bad "kms_flood: $(cat "$tmp/err")"
res=$(cat "$tmp/flood")
okn=$(echo "$res" | sed -n 's/^ok=\([0-9]*\) .*/\1/p')
fulln=$(echo "$res" | sed -n 's/.* full=\([0-9]*\) .*/\1/p')
othern=$(echo "$res" | sed -n 's/.* other=\([0-9]*\) .*/\1/p')
firstf=$(echo "$res" | sed -n 's/.* first_full=\([0-9-]*\)$/\1/p')
# 1000 entries, one of them the Kue issue's: 999 requests at most, and at least 900 (the cache
# is never full early); every later one refused, none answered otherwise.
[ "${okn:-0}" -ge 900 ] && [ "${okn:-0}" -le 999 ] && ok || bad "replay cache: $res"
[ "${fulln:-0}" -eq $((1100 - ${okn:-0})) ] && [ "${othern:-1}" -eq 0 ] && ok || bad "replay cache: $res"
[ "${firstf:--1}" = "${okn:-x}" ] && ok || bad "replay cache: a 503 before the cache was full: $res"
expect_log "$tmp/kmsd.log" "$m" 'mikey 503 .*(KMS_ERR_REPLAY_FULL)' "replay cache full"
request "$tmp/ue" "$IMPU_B" "$tmp/xfer-full"
[ "$st" -ne 0 ] && ok || bad "a request into a full replay cache was served"

kmsd_stop
bsfd_stop
# ---- no key in any log or output of the whole run ----
expect_no_keys "kmsd and bsfd logs, every CLI output" "$tmp/kmsd.log" "$tmp/bsfd.log" "$tmp/all" \
    "$tmp/bad.log" "$tmp/lock.out"
finish "test_kmsd.sh"
