# SPDX-License-Identifier: Apache-2.0
# Sourced by the tests that run imskms-kmsd on loopback (POSIX sh), after lib.sh and bsfd_env.sh
# (the KMS asks the BSF's Zn at $ZN). Needs $tmp, $K (the daemon), the throwaway PKI in $tmp/pki,
# a keyring $tmp/keyring under the KEK $tmp/kek, and $FQDN (the name in the NAF certificate).
#   kmsd_start [OPTS]  starts the daemon on a fresh port (0) with --skew $SKEW and more options if
#                      given, waits up to 30 s, sets $kpid and $KMS; its log is appended to
#                      $tmp/kmsd.log (kept across restarts: the no-key check reads all of it)
#   kmsd_stop          SIGTERM, and the exit status must be 0 (counted with ok / bad)
#   open_window        moves the test clock past start + skew (the restart rule's window)

SKEW=${SKEW:-30}
kmsd_start() {
    echo "--- start" >>"$tmp/kmsd.log"
    _km=$(log_mark "$tmp/kmsd.log")
    "$K" --listen 127.0.0.1:0 --fqdn "$FQDN" --bsf-zn "https://localhost:$ZN" \
        --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
        --keyring "$tmp/keyring" --kek-file "$tmp/kek" --state-db "$tmp/state.db" --skew "$SKEW" \
        "$@" 2>>"$tmp/kmsd.log" &
    kpid=$!
    wait_log "$tmp/kmsd.log" "$_km" 'kms listening' "$kpid"
    KMS=$(log_since "$tmp/kmsd.log" "$_km" | sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p')
    [ -n "$KMS" ] || {
        echo "FAIL: kmsd did not start: $(log_since "$tmp/kmsd.log" "$_km")" >&2
        exit 1
    }
}
kmsd_stop() {
    kill -TERM "$kpid"
    wait "$kpid"
    _st=$?
    kpid=""
    [ $_st -eq 0 ] && ok || bad "kmsd SIGTERM: exit $_st"
}
# The restart rule refuses requests stamped before start + skew: move the clock past it.
open_window() { clock_advance $((SKEW + 1)); }
