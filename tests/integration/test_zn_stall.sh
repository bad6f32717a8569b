#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 14 item 1: the BSF stopped (SIGSTOP) does not stall the KMS. With imskms-kmsd on 2 HTTP
# threads, --zn-timeout 4000 and the BSF frozen: 6 Kue issues for uncached B-TIDs (more Zn waits
# than server threads) each get 503 with `Imskms-Reason: zn-unavailable` within the Zn time-out
# plus a margin, and the UE prints the reason line (exit 3); meanwhile /healthz answers in under
# a second and 4 parallel mode-3 ticket requests from a UE that already holds its Kue succeed.
# After SIGCONT every one of them works again. The negative cache: a second Kue issue naming the
# same unknown B-TID within 10 s does not reach the BSF (its log has one Zn 404 line, not two),
# and one after that time does.
# Figures (the time to 503, healthz latency, requests served during the stall) are printed as
# "figure:" lines for docs/reliability.md.
# Usage: test_zn_stall.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
set -u
B=$1
D=$2
K=$3
SRC=$4
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
clock_init
# shellcheck source=bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
pid=""
kpid=""
trap '[ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null; [ -n "$kpid" ] && kill -9 "$kpid" 2>/dev/null; rm -rf "$tmp"' EXIT

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.mnc001.mcc001.3gppnetwork.org
IMPU=sip:+15550001@ims.example.org
FQDN=kms.example.org # the name in tests/http/mkca.sh's NAF certificate
bsfd_fixture "$SRC/tests/http/mkca.sh" "$IMPI" "$IMPU" $KEY $OP "$tmp/usim"
bsfd_start
SKEW=30
# shellcheck source=kmsd_env.sh
. "$SRC/tests/integration/kmsd_env.sh"
# A Zn time-out of 4 s, not 2: the slowest 503 is the time-out plus six ASan UE start-ups and
# exits, seconds on a loaded machine; a bound of twice the time-out leaves 4 s for them and
# still tells the KMS apart from one whose two threads wait out the Zn calls in turn (three
# time-outs, 12 s: past the UE's own 10 s).
ZN_MS=4000
kmsd_start --threads 2 --zn-timeout $ZN_MS --zn-threads 8 --modes 3
open_window

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
bootstrap() { # statedir (the clock moves on 2 s first: the BSF's per-IMPI challenge rate)
    clock_advance 2
    mkdir -p "$1"
    "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" --state "$1" \
        >"$tmp/out" 2>"$tmp/err" || bad "bootstrap $1: $(cat "$tmp/err")"
}
kue() { # statedir [options]: exit status
    _d=$1
    shift
    "$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN --mode 3 --state "$_d" "$@" \
        >"$_d.out" 2>"$_d.err"
}
request() { # n: A asks for a ticket, output in $tmp/req-n.*
    "$B" ue request --kms "http://localhost:$KMS" --peer sip:+15550002@ims.example.org \
        --state "$tmp/a" --out "$tmp/req-$1.xfer" >"$tmp/req-$1.out" 2>"$tmp/req-$1.err"
}

# A holds a Kue (its B-TID is in the KMS's Zn cache); s1..s6 hold fresh bootstraps the KMS
# has never asked the BSF about.
bootstrap "$tmp/a"
kue "$tmp/a" && ok || bad "A's Kue: $(cat "$tmp/a.err")"
for i in 1 2 3 4 5 6; do bootstrap "$tmp/s$i"; done

# ---- the BSF frozen ----
kill -STOP "$pid"
m=$(log_mark "$tmp/kmsd.log")
t0=$(now)
jobs_=""
for i in 1 2 3 4 5 6; do
    (
        kue "$tmp/s$i" --trace "$tmp/s$i"
        echo $? >"$tmp/s$i.st"
        now >"$tmp/s$i.t"
    ) &
    jobs_="$jobs_ $!"
done
sleep 0.3 # the six issues are in; all of them wait on Zn now
h0=$(now)
hz=$(curl -s -m 5 "http://localhost:$KMS/healthz")
h1=$(now)
[ "$hz" = ok ] && ok || bad "healthz during the stall: '$hz'"
below "$(secs "$h0" "$h1")" 1.0 && ok || bad "healthz took $(secs "$h0" "$h1") s during the stall"
echo "figure: healthz during the stall: $(secs "$h0" "$h1") s"
for n in 1 2 3 4; do
    (
        request $n
        echo $? >"$tmp/req-$n.st"
    ) &
    jobs_="$jobs_ $!"
done
for j in $jobs_; do wait "$j"; done # the requests and the issues (not the daemons)
served=0
for n in 1 2 3 4; do
    if [ "$(cat "$tmp/req-$n.st")" = 0 ]; then
        served=$((served + 1))
    else
        bad "ticket request $n during the stall: $(cat "$tmp/req-$n.err")"
    fi
done
[ $served -eq 4 ] && ok
echo "figure: mode-3 ticket requests served during the stall: $served of 4"
slowest=0
for i in 1 2 3 4 5 6; do
    st=$(cat "$tmp/s$i.st")
    [ "$st" = 3 ] && ok || bad "issue $i with the BSF frozen: exit $st, expected 3"
    grep -q 'the KMS could not reach the BSF (zn-unavailable); retry in 5 s' "$tmp/s$i.err" && ok ||
        bad "issue $i: no reason line: $(cat "$tmp/s$i.err")"
    d=$(secs "$t0" "$(cat "$tmp/s$i.t")")
    below "$slowest" "$d" && slowest=$d
done
# The Zn time-out, plus the UE's own start and the thread hand-over: under the UE's 10 s.
below "$slowest" $((2 * ZN_MS / 1000)) && ok || bad "slowest 503 after $slowest s (Zn time-out ${ZN_MS} ms)"
echo "figure: Kue issues during the stall: 6 answered 503 zn-unavailable, the slowest after $slowest s"
expect_log "$tmp/kmsd.log" "$m" 'mikey 503 .*(KMS_ERR_ZN_UNAVAILABLE)' "issue with the BSF frozen"
# The header on the wire, as the UE saw it: the same message again (Zn comes before the replay
# cache, so it is answered alike).
curl -s -o /dev/null -D "$tmp/hdrs" -m $((ZN_MS / 1000 + 10)) -H 'Content-Type: application/mikey' \
    --data-binary "@$tmp/s1/001-sent.mikey" "http://localhost:$KMS/mikey"
grep -qi '^HTTP/1.1 503' "$tmp/hdrs" && grep -qi '^Imskms-Reason: zn-unavailable' "$tmp/hdrs" &&
    grep -qi '^Retry-After: 5' "$tmp/hdrs" && ok || bad "503 headers: $(cat "$tmp/hdrs")"

# ---- the BSF back ----
kill -CONT "$pid"
for i in 1 2 3; do
    kue "$tmp/s$i" && ok || bad "issue $i after SIGCONT: $(cat "$tmp/s$i.err")"
done
request 5 && ok || bad "ticket request after SIGCONT: $(cat "$tmp/req-5.err")"
[ "$(curl -s "http://localhost:$KMS/healthz")" = ok ] && ok || bad "healthz after SIGCONT"

# ---- the negative cache ----
# A made-up B-TID (valid syntax; the BSF never issued it): the BSF answers Zn 404, the KMS 403.
mkdir -p "$tmp/u"
sed 's/^btid=\(....\)/btid=AAAA/' "$tmp/s4/bootstrap" >"$tmp/u/bootstrap"
chmod 600 "$tmp/u/bootstrap"
zn404() { grep -c 'zn naf=[^ :]*: ' "$tmp/bsfd.log"; } # the BSF's line for a Zn refusal
n0=$(zn404)
kue "$tmp/u"
st=$?
[ $st -eq 1 ] && ok || bad "unknown B-TID: exit $st, expected 1 ($(cat "$tmp/u.err"))"
n1=$(zn404)
[ "$n1" -eq $((n0 + 1)) ] && ok || bad "unknown B-TID: $((n1 - n0)) Zn 404 lines, expected 1"
clock_advance 5
kue "$tmp/u"
st=$?
[ $st -eq 1 ] && ok || bad "unknown B-TID again: exit $st, expected 1"
n2=$(zn404)
[ "$n2" -eq "$n1" ] && ok || bad "unknown B-TID within 10 s reached the BSF ($((n2 - n1)) lines)"
clock_advance 6
kue "$tmp/u"
n3=$(zn404)
[ "$n3" -eq $((n2 + 1)) ] && ok || bad "unknown B-TID after 10 s: $((n3 - n2)) Zn 404 lines, expected 1"

kmsd_stop
bsfd_stop
finish zn_stall
