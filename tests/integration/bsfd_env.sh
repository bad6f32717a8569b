# SPDX-License-Identifier: Apache-2.0
# Sourced by the tests that run imskms-bsfd on loopback (POSIX sh). Needs $tmp (from
# tests/cli/common.sh), $D (the daemon) and $DB (a subscriber store under the KEK $tmp/kek).
#   bsfd_pki MKCA_SH   a throwaway PKI in $tmp/pki and a KEK in $tmp/kek
#   bsfd_start         starts the daemon (ports 0, or $UB_LISTEN / $ZN_LISTEN when set, e.g. to
#                      come back on the same ports), sets $pid, $UB, $ZN; log in $tmp/bsfd.log
#   bsfd_stop          SIGTERM, and the exit status must be 0 (counted with ok / bad)

bsfd_pki() {
    sh "$1" "$tmp/pki" >/dev/null 2>&1 || {
        echo "FAIL: mkca.sh" >&2
        exit 1
    }
    head -c 32 /dev/urandom >"$tmp/kek"
    chmod 600 "$tmp/kek"
}

bsfd_start() {
    : >"$tmp/bsfd.log"
    "$D" --db "$DB" --kek-file "$tmp/kek" --listen "${UB_LISTEN:-127.0.0.1:0}" --realm localhost \
        --lifetime 3600 --zn-listen "${ZN_LISTEN:-127.0.0.1:0}" --zn-cert "$tmp/pki/server.crt" --zn-key "$tmp/pki/server.key" \
        --zn-client-ca "$tmp/pki/ca.crt" 2>>"$tmp/bsfd.log" &
    pid=$!
    _i=0
    while ! grep -q 'zn listening' "$tmp/bsfd.log" && [ $_i -lt 100 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
    UB=$(sed -n 's/.*ub listening on port //p' "$tmp/bsfd.log")
    ZN=$(sed -n 's/.*zn listening on port //p' "$tmp/bsfd.log")
    [ -n "$UB" ] && [ -n "$ZN" ] || {
        echo "FAIL: the daemon did not start: $(cat "$tmp/bsfd.log")" >&2
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
