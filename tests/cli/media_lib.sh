# SPDX-License-Identifier: Apache-2.0
# Sourced after common.sh (needs $B and $tmp, ok and bad): imskms ue rtp-recv / rtp-send on
# loopback for the media tests (cli_media, ue_call).
# recv_start NAME DIR [args...]: rtp-recv in the background, its stdout in $tmp/NAME.out;
# sets rport to the port it printed.
recv_start() {
    local name=$1 dir=$2
    shift 2
    "$B" ue rtp-recv --session "$dir" --listen 127.0.0.1:0 --seconds 20 "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    rpid=$!
    rport=""
    for _ in $(seq 600); do # up to 30 s: an ASan start on a loaded machine
        rport=$(sed -n 's/^port=//p' "$tmp/$name.out")
        [ -n "$rport" ] && return 0
        sleep 0.05
    done
    bad "$name: rtp-recv printed no port=: $(cat "$tmp/$name.err")"
    return 1
}
recv_wait() { wait "$rpid" || bad "rtp-recv exited $?: $(cat "$tmp/$1.err")"; }
val() { sed -n "s/^$2=//p" "$tmp/$1.out" | head -n 1; }
expect() { # name field value what
    local got
    got=$(val "$1" "$2")
    if [ "$got" = "$3" ]; then ok; else bad "$4: $2='$got', expected '$3'"; fi
}
# send NAME DIR PORT [args...]: rtp-send, stdout in $tmp/NAME.out
send() {
    local name=$1 dir=$2 port=$3
    shift 3
    "$B" ue rtp-send --session "$dir" --remote "127.0.0.1:$port" "$@" >"$tmp/$name.out" \
        2>"$tmp/$name.err" || bad "$name: rtp-send exited $?: $(cat "$tmp/$name.err")"
}
