#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `imskms ue rtp-send` / `rtp-recv` / `srtp-export` over loopback UDP (ports from port 0) with
# mirrored session files of random keys (tests/integration/mk_media_session.sh): each policy end
# to end (equal payload_sha256 on both sides, and equal to sha256sum of a --file sent), the ROC
# across a SEQ wrap, a replayed packet dropped and a tampered one refused (udp_relay.py between
# them), another SSRC under the right key refused, the wrong session counting only
# authentication failures, and srtp-export's refusal and RFC 4568 line.
# Usage: test_cli_media.sh IMSKMS TESTS_DIR
set -u
B=$1
T=$2
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
MK="$T/integration/mk_media_session.sh"
RELAY="$T/integration/udp_relay.py"

# shellcheck source=media_lib.sh
. "$(dirname "$0")/media_lib.sh"

# A file of 40 payloads (and a short 41st): its sha256sum is the hash both sides must print.
openssl rand -out "$tmp/raw" $((40 * 160 + 77))
want_file=$(sha256sum "$tmp/raw" | cut -d' ' -f1)

for pol in aes128-hmac80 aes256-hmac80 aes128-gcm; do
    "$MK" "$pol" "$tmp/$pol.A" "$tmp/$pol.B"
    # The generated tone: 1 s, 50 packets.
    recv_start "$pol.rx" "$tmp/$pol.B" || continue
    send "$pol.tx" "$tmp/$pol.A" "$rport" --seconds 1
    recv_wait "$pol.rx"
    expect "$pol.tx" packets 50 "$pol tone sender"
    expect "$pol.rx" packets 50 "$pol tone receiver"
    expect "$pol.rx" bytes 8000 "$pol tone receiver"
    expect "$pol.rx" auth_failures 0 "$pol tone receiver"
    expect "$pol.rx" replays 0 "$pol tone receiver"
    h=$(val "$pol.tx" payload_sha256)
    [ ${#h} -eq 64 ] && ok || bad "$pol: sender payload_sha256 '$h'"
    expect "$pol.rx" payload_sha256 "$h" "$pol tone: receiver hash = sender hash"
    # A known file the other way (B sends with its own key): sha256sum of its bytes.
    recv_start "$pol.frx" "$tmp/$pol.A" --out "$tmp/$pol.got" || continue
    send "$pol.ftx" "$tmp/$pol.B" "$rport" --seconds 5 --file "$tmp/raw"
    recv_wait "$pol.frx"
    expect "$pol.ftx" packets 41 "$pol file sender"
    expect "$pol.ftx" payload_sha256 "$want_file" "$pol file sender = sha256sum"
    expect "$pol.frx" payload_sha256 "$want_file" "$pol file receiver = sha256sum"
    cmp -s "$tmp/raw" "$tmp/$pol.got" && ok || bad "$pol: --out differs from the file sent"
done

# The ROC across the wrap: 65500 + 50 packets crosses 65535 after 36; with an initial ROC of 7
# in the session too (libsrtp's pending ROC for the first packet).
for roc in 0 7; do
    "$MK" aes128-hmac80 "$tmp/w$roc.A" "$tmp/w$roc.B" 5004 5006 1111 2222 "$roc"
    recv_start "w$roc.rx" "$tmp/w$roc.B" || continue
    send "w$roc.tx" "$tmp/w$roc.A" "$rport" --seconds 1 --first-seq 65500
    recv_wait "w$roc.rx"
    expect "w$roc.rx" packets 50 "wrap (roc $roc): receiver decrypts all"
    expect "w$roc.rx" auth_failures 0 "wrap (roc $roc)"
    expect "w$roc.rx" payload_sha256 "$(val "w$roc.tx" payload_sha256)" "wrap (roc $roc) hash"
done

# rtp-recv keeps the receiving stream's position (RFC 3711 3.3.1's ROC and s_l): after a run
# across the wrap (65500 + 50: the highest index is ROC 1, SEQ 13) the session says
# remote_roc=1, remote_seq=14 (the next index it accepts), and a second sender run (rtp-send
# continues at ROC 1, SEQ 14) decrypts in a second rtp-recv on the same receiving session
# (from remote_roc=0 it would not). Then a run ending at SEQ 65535 exactly: the position is
# ROC 2, SEQ 0, where the next run's first packet is.
rs() { sed -n "s/^$2=//p" "$tmp/$1/srtp"; }
"$MK" aes128-hmac80 "$tmp/k.A" "$tmp/k.B"
recv_start k1.rx "$tmp/k.B" && send k1.tx "$tmp/k.A" "$rport" --seconds 1 --first-seq 65500 &&
    recv_wait k1.rx
expect k1.rx packets 50 "keep ROC, first run"
[ "$(rs k.B remote_roc)/$(rs k.B remote_seq)" = 1/14 ] && ok ||
    bad "after the wrap remote_roc/remote_seq=$(rs k.B remote_roc)/$(rs k.B remote_seq), expected 1/14"
[ "$(rs k.A local_roc)/$(rs k.A local_seq)" = 1/14 ] && ok ||
    bad "sender after the wrap: $(rs k.A local_roc)/$(rs k.A local_seq), expected 1/14"
recv_start k2.rx "$tmp/k.B" && send k2.tx "$tmp/k.A" "$rport" --seconds 1 && recv_wait k2.rx
expect k2.rx packets 50 "keep ROC, second run: receiver decrypts all"
expect k2.rx auth_failures 0 "keep ROC, second run"
expect k2.rx payload_sha256 "$(val k2.tx payload_sha256)" "keep ROC, second run hash"
[ "$(rs k.B remote_roc)/$(rs k.B remote_seq)" = 1/64 ] && ok ||
    bad "after the second run remote_roc/remote_seq=$(rs k.B remote_roc)/$(rs k.B remote_seq), expected 1/64"
recv_start k3.rx "$tmp/k.B" && send k3.tx "$tmp/k.A" "$rport" --seconds 1 --first-seq 65486 &&
    recv_wait k3.rx
expect k3.rx packets 50 "run ending at SEQ 65535"
[ "$(rs k.B remote_roc)/$(rs k.B remote_seq)" = 2/0 ] && ok ||
    bad "run ending at 65535: $(rs k.B remote_roc)/$(rs k.B remote_seq), expected 2/0"
recv_start k4.rx "$tmp/k.B" && send k4.tx "$tmp/k.A" "$rport" --seconds 1 && recv_wait k4.rx
expect k4.rx packets 50 "first packet at ROC 2, SEQ 0: receiver decrypts all"
expect k4.rx auth_failures 0 "first packet at ROC 2, SEQ 0"
[ "$(rs k.B remote_roc)/$(rs k.B remote_seq)" = 2/50 ] && ok ||
    bad "after ROC 2: $(rs k.B remote_roc)/$(rs k.B remote_seq), expected 2/50"

# A session file replaced during the run (another call's keys) keeps what the new call wrote.
"$MK" aes128-hmac80 "$tmp/n.A" "$tmp/n.B"
"$MK" aes128-hmac80 "$tmp/n2.A" "$tmp/n2.B"
recv_start n.rx "$tmp/n.B" && send n.tx "$tmp/n.A" "$rport" --seconds 1 &&
    cp "$tmp/n2.B/srtp" "$tmp/n.B/srtp.new" && mv "$tmp/n.B/srtp.new" "$tmp/n.B/srtp" &&
    recv_wait n.rx
expect n.rx packets 50 "session replaced during the run"
cmp -s "$tmp/n2.B/srtp" "$tmp/n.B/srtp" && ok ||
    bad "rtp-recv wrote its position into another call's session file"

# relay_start ARGS...: udp_relay.py to rtp-recv's $rport in the background (pid in relay);
# sets lport to the port it listens on.
relay_start() {
    python3 "$RELAY" --to "127.0.0.1:$rport" "$@" >"$tmp/relay.out" &
    relay=$!
    lport=""
    for _ in $(seq 600); do # up to 30 s: python3 on a loaded machine
        lport=$(sed -n 's/^port=//p' "$tmp/relay.out")
        [ -n "$lport" ] && return 0
        sleep 0.05
    done
    bad "udp_relay.py printed no port="
    return 1
}

# A replayed packet (the 5th sent twice) and a tampered one (the 10th, a flipped bit of its
# encrypted payload), through the relay.
for pol in aes128-hmac80 aes128-gcm; do
    recv_start "r.$pol.rx" "$tmp/$pol.B" || continue
    relay_start --dup 5 --flip 10 || continue
    send "r.$pol.tx" "$tmp/$pol.A" "$lport" --seconds 1
    recv_wait "r.$pol.rx"
    wait "$relay"
    expect "r.$pol.rx" packets 49 "$pol relay: 50 sent, the tampered one refused"
    expect "r.$pol.rx" replays 1 "$pol relay: the duplicate dropped"
    expect "r.$pol.rx" auth_failures 1 "$pol relay: the tampered packet"
    expect "r.$pol.rx" other_ssrc 0 "$pol relay"
done

# Replays across runs (RFC 3711 3.3.2): the packets a first rtp-recv accepted, recorded by the
# relay and played to a second rtp-recv on the same session, are all refused as replays
# (libsrtp's own replay list starts empty in each run: the session's remote position is the
# floor); the sender's next run still decrypts in full. Also a first run that receives
# nothing but old packets leaves the position where it was.
"$MK" aes128-hmac80 "$tmp/x.A" "$tmp/x.B"
rm -f "$tmp/x.rec"
recv_start x1.rx "$tmp/x.B" && relay_start --record "$tmp/x.rec" &&
    send x1.tx "$tmp/x.A" "$lport" --seconds 1 && recv_wait x1.rx
wait "$relay"
expect x1.rx packets 50 "replays across runs: first run"
[ "$(rs x.B remote_roc)/$(rs x.B remote_seq)" = 0/1050 ] && ok ||
    bad "replays across runs: remote position $(rs x.B remote_roc)/$(rs x.B remote_seq), expected 0/1050"
cp "$tmp/x.B/srtp" "$tmp/x.before"
recv_start x2.rx "$tmp/x.B" &&
    python3 "$RELAY" --to "127.0.0.1:$rport" --replay "$tmp/x.rec" >"$tmp/x.replay.out" &&
    recv_wait x2.rx
grep -qx "sent=50" "$tmp/x.replay.out" && ok || bad "replays across runs: $(cat "$tmp/x.replay.out")"
expect x2.rx replays 50 "replays across runs: every old packet refused"
expect x2.rx packets 0 "replays across runs: none accepted"
expect x2.rx auth_failures 0 "replays across runs"
cmp -s "$tmp/x.before" "$tmp/x.B/srtp" && ok ||
    bad "replays across runs: a run that accepted nothing moved the position"
recv_start x3.rx "$tmp/x.B" &&
    python3 "$RELAY" --to "127.0.0.1:$rport" --replay "$tmp/x.rec" >"$tmp/x.replay.out" &&
    send x3.tx "$tmp/x.A" "$rport" --seconds 1 && recv_wait x3.rx
expect x3.rx replays 50 "replays across runs, then new packets: the old refused"
expect x3.rx packets 50 "replays across runs, then new packets: the new accepted"
expect x3.rx payload_sha256 "$(val x3.tx payload_sha256)" "replays across runs: new packets hash"

# A run stopped by SIGTERM records what it accepted: N packets (the last few may still have
# been in its socket), remote_seq 1000 + N, and the recorded packets played to the next run
# are N replays and 50 - N new ones.
"$MK" aes128-hmac80 "$tmp/t.A" "$tmp/t.B"
rm -f "$tmp/t.rec"
if recv_start t1.rx "$tmp/t.B" && relay_start --record "$tmp/t.rec"; then
    send t1.tx "$tmp/t.A" "$lport" --seconds 1
    kill -TERM "$rpid"
    recv_wait t1.rx
    wait "$relay"
fi
n1=$(val t1.rx packets)
[ "${n1:-0}" -ge 1 ] && [ "$(rs t.B remote_seq)" = $((1000 + ${n1:-0})) ] && ok ||
    bad "SIGTERM: packets=$n1, remote_seq=$(rs t.B remote_seq)"
recv_start t2.rx "$tmp/t.B" &&
    python3 "$RELAY" --to "127.0.0.1:$rport" --replay "$tmp/t.rec" >/dev/null && recv_wait t2.rx
expect t2.rx replays "${n1:-0}" "after SIGTERM: what the stopped run accepted"
expect t2.rx packets $((50 - ${n1:-0})) "after SIGTERM: what it had not read"
# While packets come, rtp-recv saves its position every second: seen in the file while it still
# runs, and kept when it is then killed outright.
"$MK" aes128-hmac80 "$tmp/k9.A" "$tmp/k9.B"
if recv_start k9.rx "$tmp/k9.B"; then
    send k9.tx "$tmp/k9.A" "$rport" --seconds 5 &
    spid=$!
    for _ in $(seq 600); do # up to 30 s
        [ "$(rs k9.B remote_seq)" != 1000 ] && break
        sleep 0.05
    done
    seen=$(rs k9.B remote_seq)
    kill -0 "$rpid" 2>/dev/null && alive=1 || alive=0
    kill -KILL "$rpid" 2>/dev/null
    wait "$rpid" 2>/dev/null
    wait "$spid"
    [ "$seen" -gt 1000 ] && [ $alive = 1 ] && ok ||
        bad "no position saved while rtp-recv ran: remote_seq=$seen, running=$alive"
    [ "$(rs k9.B remote_seq)" -ge "$seen" ] && ok || bad "SIGKILL: remote_seq went back"
fi
# One receiver per session (two would share one floor): a second rtp-recv on it, even on
# another port, exits 2 in one line.
if recv_start one.rx "$tmp/k9.B"; then
    run 2 "a second rtp-recv on one session" "$B" ue rtp-recv --session "$tmp/k9.B" \
        --listen 127.0.0.1:0 --seconds 1 &&
        expect_err "another rtp-recv runs on this session" "a second rtp-recv on one session"
    kill -TERM "$rpid"
    recv_wait one.rx
fi

# Another SSRC under the right key: A's session with local_ssrc=3333.
mkdir -m 700 "$tmp/other"
sed 's/^local_ssrc=1111$/local_ssrc=3333/' "$tmp/aes128-hmac80.A/srtp" >"$tmp/other/srtp"
chmod 600 "$tmp/other/srtp"
recv_start ssrc.rx "$tmp/aes128-hmac80.B" &&
    send ssrc.tx "$tmp/other" "$rport" --seconds 1 && recv_wait ssrc.rx
expect ssrc.rx other_ssrc 50 "another SSRC refused"
expect ssrc.rx packets 0 "another SSRC"
expect ssrc.rx auth_failures 0 "another SSRC authenticates"

# The wrong session (another key pair, the same SSRCs): only authentication failures.
"$MK" aes128-hmac80 "$tmp/wrong.A" "$tmp/wrong.B"
cp "$tmp/wrong.B/srtp" "$tmp/wrong.before"
recv_start wrong.rx "$tmp/wrong.B" &&
    send wrong.tx "$tmp/aes128-hmac80.A" "$rport" --seconds 1 && recv_wait wrong.rx
cmp -s "$tmp/wrong.before" "$tmp/wrong.B/srtp" && ok ||
    bad "rtp-recv wrote the session file though no packet authenticated"
expect wrong.rx auth_failures 50 "wrong session"
expect wrong.rx packets 0 "wrong session"
expect wrong.rx replays 0 "wrong session"
expect wrong.rx other_ssrc 0 "wrong session"

# rtp-send moves the session's sending index past what it sent (RFC 3711 9.1: an index is never
# protected twice): mk_media_session starts A at SEQ 1000, and the aes128-gcm A session sent
# 50 tone packets and then the relay's 50: the next run starts at 1100.
got=$(sed -n 's/^local_seq=//p' "$tmp/aes128-gcm.A/srtp")
[ "$got" = 1100 ] && ok || bad "after two runs of 50 packets local_seq=$got, expected 1100"
got=$(sed -n 's/^local_roc=//p' "$tmp/w7.A/srtp")
[ "$got" = 8 ] && ok || bad "after the wrap from 65500 (ROC 7) local_roc=$got, expected 8"

# srtp-export: refused without --show-secrets; otherwise the RFC 4568 line, whose inline key
# decodes to local_key || local_salt of the file.
run 2 "srtp-export without --show-secrets" "$B" ue srtp-export --session "$tmp/aes128-gcm.A" &&
    expect_err "--show-secrets" "srtp-export refusal"
[ -s "$tmp/out" ] && bad "srtp-export printed something without --show-secrets" || ok
for pol in aes128-hmac80:AES_CM_128_HMAC_SHA1_80 aes256-hmac80:AES_256_CM_HMAC_SHA1_80 \
    aes128-gcm:AEAD_AES_128_GCM; do
    p=${pol%%:*} suite=${pol#*:}
    run 0 "srtp-export $p" "$B" ue srtp-export --session "$tmp/$p.A" --show-secrets || continue
    line=$(cat "$tmp/out")
    case "$line" in
        "crypto=1 $suite inline:"*) ok ;;
        *) bad "srtp-export $p: '$line'" ;;
    esac
    got=$(printf '%s' "${line##*inline:}" | base64 -d | od -An -tx1 | tr -d ' \n')
    want=$(sed -n 's/^local_key=//p;s/^local_salt=//p' "$tmp/$p.A/srtp" | tr -d '\n')
    [ "$got" = "$want" ] && ok || bad "srtp-export $p: inline key '$got', file '$want'"
done

# Usage errors: one line, exit 2.
run 2 "rtp-send --seconds 0" "$B" ue rtp-send --session "$tmp/aes128-gcm.A" --seconds 0
run 2 "rtp-send --first-seq 65536" "$B" ue rtp-send --session "$tmp/aes128-gcm.A" --seconds 1 \
    --first-seq 65536
run 2 "rtp-recv without --session" "$B" ue rtp-recv --seconds 1
run 2 "rtp-recv missing session" "$B" ue rtp-recv --session "$tmp/nothing" --seconds 1
run 2 "rtp-send bad --remote" "$B" ue rtp-send --session "$tmp/aes128-gcm.A" --seconds 1 \
    --remote localhost:5
chmod 644 "$tmp/aes128-gcm.A/srtp"
run 2 "srtp-export group-readable session" "$B" ue srtp-export --session "$tmp/aes128-gcm.A" \
    --show-secrets
for c in rtp-send rtp-recv srtp-export; do
    run 0 "$c --help" "$B" ue "$c" --help && grep -q "usage: imskms ue $c" "$tmp/out" && ok ||
        bad "$c --help"
done
grep -q "SECRET" <("$B" ue srtp-export --help) && ok || bad "srtp-export --help: no warning"

finish test_cli_media
