#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 13's challenge flood against Ub: A_NAMES challenge requests, each under a new made-up
# IMPI, from 8 keep-alive connections on source addresses 127.0.0.2 to 127.0.0.5, as fast as
# the BSF answers, and again with new names until stopped; meanwhile A_SUBS real subscribers
# bootstrap from 127.0.0.1 (imskms ue bootstrap), A_ROUNDS rounds 2 s apart (within their rate
# buckets). The flood is stopped once the rounds are over and it has sent A_NAMES names.
# Before issue 13 such a flood filled the challenge table in under 4 s and every subscriber got
# 503 for 30 s. Now: every made-up name gets a 401 with a challenge (the BSF keeps nothing for
# it), every bootstrap succeeds (none 503), at least one finishes while the flood is still
# running, the BSF's log grows by a summary per second rather than a line per name, and every
# subscriber bootstraps again after the flood.
# Numbers and the time cap: tests/attack/attack_env.sh (IMSKMS_ATTACK_SCALE=small|long).
# Usage: test_attack_names.sh IMSKMS IMSKMS_BSFD SOURCE_DIR MKCA_SH
set -u
B=$1
D=$2
SRC=$3
MKCA=$4
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=../integration/lib.sh
. "$SRC/tests/integration/lib.sh"
# shellcheck source=../integration/bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
# shellcheck source=attack_env.sh
. "$SRC/tests/attack/attack_env.sh"
attack_guard

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
bsfd_pki "$MKCA"
DB="$tmp/db"
i=1
while [ $i -le "$A_SUBS" ]; do
    n=$(printf '%09d' $i)
    "$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "001010$n@ims.mnc001.mcc001.3gppnetwork.org" \
        --impu "sip:+1555$n@ims.example.org" --k $KEY --op $OP >/dev/null || bad "subscriber add $i"
    "$B" ue usim-init --usim "$tmp/usim$i" --impi "001010$n@ims.mnc001.mcc001.3gppnetwork.org" \
        --impu "sip:+1555$n@ims.example.org" --k $KEY --op $OP >/dev/null || bad "usim-init $i"
    mkdir -p "$tmp/ue$i"
    i=$((i + 1))
done
bsfd_start

flood_done() { ! kill -0 "$fpid" 2>/dev/null || grep -q '"done": true' "$tmp/names.json" 2>/dev/null; }
boots=0
during=0
bootstrap_all() { # what
    _i=1
    while [ $_i -le "$A_SUBS" ]; do
        # timed for the record; only success is required here (no 503, no 429)
        python3 "$ATTACK" timed --label "$1 subscriber $_i bootstrap" --limit 1000 \
            --record "$tmp/results" -- "$B" ue bootstrap --bsf "http://localhost:$UB/" \
            --usim "$tmp/usim$_i" --state "$tmp/ue$_i" >"$tmp/out" 2>"$tmp/err"
        _st=$?
        if [ $_st -eq 0 ]; then ok; else bad "$1: subscriber $_i: exit $_st: $(cat "$tmp/err")"; fi
        boots=$((boots + 1))
        flood_done || during=$((during + 1))
        _i=$((_i + 1))
    done
}

m=$(log_mark "$tmp/bsfd.log")
python3 "$ATTACK" names --port "$UB" --count "$A_NAMES" --passes 0 --conns 8 --source 127.0.0.2 \
    --source-count 4 --seconds $((A_CAP - 30)) --status "$tmp/names.json" \
    >"$tmp/names.out" 2>"$tmp/names.err" &
fpid=$!
sent() { sed -E 's/.*"sent": ([0-9]+).*/\1/' "$tmp/names.json" 2>/dev/null || echo 0; }
until_sent() { # N: waits (up to the cap) until the flood has sent N names
    while [ "$(sent)" -lt "$1" ]; do
        kill -0 "$fpid" 2>/dev/null || return 1
        sleep 0.05
    done
}
# Bootstrap rounds 2 s apart once the flood is going, then let it finish its first pass of
# A_NAMES names (it goes on with new names until stopped).
until_sent $((A_NAMES / 10)) || bad "the flood did not start: $(cat "$tmp/names.err")"
round=1
while [ $round -le "$A_ROUNDS" ]; do
    t0=$(date +%s)
    bootstrap_all "during the flood, round $round"
    [ $round -lt "$A_ROUNDS" ] && while [ "$(date +%s)" -lt $((t0 + 2)) ]; do sleep 0.1; done
    round=$((round + 1))
done
until_sent "$A_NAMES"
kill -TERM "$fpid" 2>/dev/null
wait "$fpid"
st=$?
fpid=""
[ $st -eq 0 ] && ok || bad "the flood: exit $st: $(cat "$tmp/names.err")"
[ $during -eq $boots ] && ok || bad "only $during of $boots bootstraps finished while the flood ran"
lines=$(log_since "$tmp/bsfd.log" "$m" | wc -l)
names=$(sed -E 's/.*"names": ([0-9]+).*/\1/' "$tmp/names.out")
# Per second: up to 10 challenge lines and a summary; and each bootstrap's lines.
[ "$lines" -le $((names / 10 + 10 * boots)) ] && ok ||
    bad "the BSF logged $lines lines for $names names and $boots bootstraps"
echo "flood: $(cat "$tmp/names.out"); $boots bootstraps, $during while it ran; $lines log lines" \
    >>"$tmp/results"
if log_since "$tmp/bsfd.log" "$m" | grep -q ' 503 '; then
    bad "a 503 in the BSF log during the flood: $(log_since "$tmp/bsfd.log" "$m" | grep ' 503 ' | head -n 3)"
else ok; fi
bootstrap_all "after the flood"
[ "$(curl -s "http://127.0.0.1:$UB/healthz")" = ok ] && ok || bad "healthz after the flood"
bsfd_stop

echo "results (bootstrap times on the monotonic clock):"
cat "$tmp/results"
finish attack_names
