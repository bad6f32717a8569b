# SPDX-License-Identifier: Apache-2.0
# Sourced by the tests that run imskms-bsfd on loopback (POSIX sh). Needs $tmp (from
# tests/cli/common.sh), tests/integration/lib.sh, $D (the daemon) and $DB (a subscriber store
# under the KEK $tmp/kek).
#   bsfd_pki MKCA_SH   a throwaway PKI in $tmp/pki and a KEK in $tmp/kek
#   bsfd_fixture MKCA_SH IMPI IMPU K OP [USIM]
#                      bsfd_pki, the subscriber IMPI (IMPU, K, OP) in DB=$tmp/db, a simulated
#                      USIM of it at USIM when given, and a Kkms keyring $tmp/keyring (1 h of
#                      lifetime and of grace) under the KEK; needs $B (the CLI)
#   bsfd_start [OPTS]  starts the daemon (ports 0, or $UB_LISTEN / $ZN_LISTEN when set, e.g. to
#                      come back on the same ports) with more options if given, waits up to 30 s
#                      for it, sets $pid, $UB, $ZN from what it reports; its log is appended to
#                      $tmp/bsfd.log (kept across restarts: the no-key check reads all of it)
#   bsfd_stop          SIGTERM, and the exit status must be 0 (counted with ok / bad)

bsfd_pki() {
    sh "$1" "$tmp/pki" >/dev/null 2>&1 || {
        echo "FAIL: mkca.sh" >&2
        exit 1
    }
    head -c 32 /dev/urandom >"$tmp/kek"
    chmod 600 "$tmp/kek"
}

bsfd_fixture() {
    bsfd_pki "$1"
    DB="$tmp/db"
    "$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$2" --impu "$3" --k "$4" \
        --op "$5" >/dev/null || bad "subscriber add"
    if [ -n "${6:-}" ]; then
        "$B" ue usim-init --usim "$6" --impi "$2" --impu "$3" --k "$4" --op "$5" >/dev/null ||
            bad "usim-init"
    fi
    "$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 3600 --grace 3600 \
        >/dev/null || bad "keys init"
}

bsfd_start() {
    echo "--- start" >>"$tmp/bsfd.log"
    _m=$(log_mark "$tmp/bsfd.log")
    "$D" --db "$DB" --kek-file "$tmp/kek" --listen "${UB_LISTEN:-127.0.0.1:0}" --realm localhost \
        --lifetime 3600 --zn-listen "${ZN_LISTEN:-127.0.0.1:0}" --zn-cert "$tmp/pki/server.crt" --zn-key "$tmp/pki/server.key" \
        --zn-client-ca "$tmp/pki/ca.crt" "$@" 2>>"$tmp/bsfd.log" &
    pid=$!
    wait_log "$tmp/bsfd.log" "$_m" 'zn listening' "$pid"
    UB=$(log_since "$tmp/bsfd.log" "$_m" | sed -n 's/.*ub listening on port \([0-9]*\).*/\1/p')
    ZN=$(log_since "$tmp/bsfd.log" "$_m" | sed -n 's/.*zn listening on port \([0-9]*\).*/\1/p')
    [ -n "$UB" ] && [ -n "$ZN" ] || {
        echo "FAIL: the daemon did not start: $(log_since "$tmp/bsfd.log" "$_m")" >&2
        exit 1
    }
}

bsfd_stop() {
    kill -TERM "$pid"
    wait "$pid"
    _st=$?
    pid=""
    [ $_st -eq 0 ] && ok || bad "SIGTERM: exit $_st"
}
