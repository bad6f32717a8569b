# SPDX-License-Identifier: Apache-2.0
# Sourced by the attack scripts (POSIX sh), after tests/cli/common.sh, tests/integration/lib.sh
# and tests/integration/bsfd_env.sh. Needs $SRC (the source tree), $B (the CLI).
#
# The numbers: IMSKMS_ATTACK_SCALE=small (default, what ./scripts/test.sh and CI run) or long
# (issue 13's numbers, ./scripts/test.sh --long). Per listener: A_IDLE idle and A_SLOW slowloris
# connections from A_SOURCES source addresses (127.0.0.2 and up); A_NAMES made-up names in the
# challenge flood while A_SUBS subscribers bootstrap; A_ROUNDS rounds of real operations under
# the connection attack; A_CAP, the script's hard time cap in seconds. The daemons run with
# --max-connections A_CONN1 against the many-address flood; against one address with
# --max-connections A_CONN2 and --max-connections-per-ip A_PERIP, while that address opens
# A_SINGLE (more than both) per listener.
#   attack_guard          the cap: the script is stopped (SIGTERM, counted as a failure) when
#                         it runs longer; every process the script started is killed on exit
#   timed LABEL CMD...    CMD timed with the monotonic clock (attack.py timed): exit 0 only if it
#                         succeeded within A_OP_LIMIT seconds ($IMSKMS_ATTACK_OP_LIMIT, default
#                         1; CTest sets 2.5 in the ASan build); its stdout in $tmp/out, stderr
#                         in $tmp/err, the result line appended to $tmp/results
#   kmsd_start [OPTS]     imskms-kmsd against the BSF's Zn (sets $kpid, $KMS)
#   kmsd_stop, open_window  as in tests/integration/test_kmsd.sh
#   fd_hard               the hard file descriptor limit (ulimit -Hn)
ATTACK=$SRC/tests/attack/attack.py
# A real operation's bound under the flood: 1 s (issue 13). The ASan build's programs are 2-3
# times slower, and on a loaded machine an ASan Kue issue took 1.04 s under the flood (0.33 s
# without it), so its tests get 2.5 s: still half the header deadline (5 s), which an operation
# blocked behind the flood's connections would have to wait out.
A_OP_LIMIT=${IMSKMS_ATTACK_OP_LIMIT:-1}
case "${IMSKMS_ATTACK_SCALE:-small}" in
small)
    A_IDLE=200 A_SLOW=20 A_SOURCES=4 A_NAMES=2000 A_SUBS=3 A_ROUNDS=2 A_CAP=150
    A_CONN1=400 A_CONN2=100 A_PERIP=50 A_SINGLE=150
    ;;
long)
    A_IDLE=5000 A_SLOW=200 A_SOURCES=10 A_NAMES=17000 A_SUBS=10 A_ROUNDS=3 A_CAP=600
    A_CONN1=9000 A_CONN2=1500 A_PERIP=1000 A_SINGLE=2000
    ;;
*)
    echo "FAIL: IMSKMS_ATTACK_SCALE='$IMSKMS_ATTACK_SCALE': small or long" >&2
    exit 2
    ;;
esac
echo "scale ${IMSKMS_ATTACK_SCALE:-small}: $A_IDLE idle + $A_SLOW slowloris per listener from" \
    "$A_SOURCES addresses; $A_NAMES names, $A_SUBS subscribers; cap $A_CAP s"

pid=""
kpid=""
fpid=""
wd=""
attack_cleanup() {
    for _p in $fpid $pid $kpid; do kill -9 "$_p" 2>/dev/null; done
    [ -n "$wd" ] && kill "$wd" 2>/dev/null
    rm -rf "$tmp"
}
attack_guard() {
    trap attack_cleanup EXIT
    trap 'echo "FAIL: stopped (time cap of $A_CAP s, or a signal)" >&2; exit 1' TERM INT
    python3 "$ATTACK" watchdog --seconds "$A_CAP" --pid $$ </dev/null >/dev/null 2>&1 &
    wd=$!
}

timed() { # label cmd...
    _l=$1
    shift
    python3 "$ATTACK" timed --label "$_l" --limit "$A_OP_LIMIT" --record "$tmp/results" -- "$@" \
        >"$tmp/out" 2>"$tmp/err"
}

fd_hard() { # "unlimited" or a number
    python3 -c 'import resource; h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
print("unlimited" if h == resource.RLIM_INFINITY else h)'
}

SKEW=30
FQDN=kms.example.org # the name in tests/http/mkca.sh's NAF certificate
# kmsd_start, kmsd_stop, open_window
# shellcheck source=../integration/kmsd_env.sh
. "$SRC/tests/integration/kmsd_env.sh"
