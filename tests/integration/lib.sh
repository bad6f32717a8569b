# SPDX-License-Identifier: Apache-2.0
# Sourced by the test scripts that read logs, move the clock or wait for a daemon (POSIX sh).
# Needs $tmp (tests/cli/common.sh) and its ok / bad.
#
# Logs: a check looks only at the lines the step under test wrote.
#   m=$(log_mark FILE)              the number of lines FILE has now (0 when it does not exist)
#   log_since FILE MARK             the lines written after the mark
#   log_has FILE MARK PATTERN       grep -q PATTERN in those lines (a basic regular expression)
#   expect_log FILE MARK PATTERN WHAT   the same, counted with ok / bad
#   wait_log FILE MARK PATTERN [PID]    waits up to 30 s for PATTERN in the new lines (and
#                                   gives up early when PID exits); status 0 when it came
#
# The test clock (builds with KMS_TEST_CLOCK=ON, lib/util/kms_time.h): every imskms program
# started after clock_init adds the offset in $IMSKMS_TEST_NOW_FILE to the real clock.
#   clock_init                      offset 0, and exports IMSKMS_TEST_NOW_FILE
#   clock_advance SECONDS           moves the clock of every program forward, at once
#
# Metrics: prom_init SRC_DIR sets PROM to tests/integration/prom_value.py under a python3 that
# has Debian's python3-prometheus-client (/usr/bin/python3 has it; a python3 earlier on PATH, a
# pyenv, may not); status 1 when none has it.

log_mark() {
    if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}
log_since() {
    [ -f "$1" ] && tail -n "+$(($2 + 1))" "$1"
}
log_has() {
    log_since "$1" "$2" | grep -q -- "$3"
}
expect_log() {
    if log_has "$1" "$2" "$3"; then
        ok
    else
        bad "$4: no '$3' in the new lines of $(basename "$1"): $(log_since "$1" "$2" | tail -n 5)"
    fi
}
wait_log() {
    _w=0
    while ! log_has "$1" "$2" "$3"; do
        if [ $_w -ge 600 ] || { [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; }; then
            log_has "$1" "$2" "$3"
            return
        fi
        sleep 0.05
        _w=$((_w + 1))
    done
}

clock_init() {
    IMSKMS_TEST_NOW_FILE="$tmp/clock-offset"
    export IMSKMS_TEST_NOW_FILE
    echo 0 >"$IMSKMS_TEST_NOW_FILE"
}
clock_advance() {
    _o=$(($(cat "$IMSKMS_TEST_NOW_FILE") + $1))
    echo "$_o" >"$IMSKMS_TEST_NOW_FILE.new"
    mv "$IMSKMS_TEST_NOW_FILE.new" "$IMSKMS_TEST_NOW_FILE" # a reader sees the old or the new
}

# Keys for the no-key-in-any-output check: every key the run created or used, in hex.
#   key_add NAME HEX                remembers one (case does not matter)
#   key_add_bootstrap DIR NAF       Ks (= CK || IK) of DIR/bootstrap and its Ks_NAF for NAF,
#                                   derived with `imskms crypto ks-naf` ($B is the CLI)
#   key_add_kue DIR                 Kue of DIR/kue
#   expect_no_keys WHAT FILE...     none of them in any of the files (counted with ok / bad)
key_add() {
    [ -n "$2" ] && echo "$1 $2" >>"$tmp/keys"
}
key_add_bootstrap() {
    _ks=$(sed -n 's/^ks=//p' "$1/bootstrap")
    key_add "Ks($1)" "$_ks"
    key_add "Ks_NAF($1)" "$("$B" crypto ks-naf --ck "$(printf %s "$_ks" | cut -c1-32)" \
        --ik "$(printf %s "$_ks" | cut -c33-64)" --rand "$(sed -n 's/^rand=//p' "$1/bootstrap")" \
        --impi "$(sed -n 's/^impi=//p' "$1/bootstrap")" --naf-fqdn "$2" | sed -n 's/^ks_naf=//p')"
}
key_add_kue() {
    key_add "Kue($1)" "$(sed -n 's/^kue=//p' "$1/kue")"
}
expect_no_keys() {
    _what=$1
    shift
    _n=$(wc -l <"$tmp/keys")
    _found=""
    while read -r _name _hex; do
        for _f in "$@"; do
            [ -f "$_f" ] && grep -qi -- "$_hex" "$_f" && _found="$_found $_name in $(basename "$_f");"
        done
    done <"$tmp/keys"
    if [ -z "$_found" ]; then ok; else bad "$_what: a key in the output:$_found"; fi
    [ "$_n" -gt 0 ] && ok || bad "$_what: no keys collected"
}

prom_init() {
    for _py in python3 /usr/bin/python3; do
        if "$_py" -c 'import prometheus_client' 2>/dev/null; then
            PROM="$_py $1/tests/integration/prom_value.py"
            return 0
        fi
    done
    PROM="python3 $1/tests/integration/prom_value.py"
    return 1
}
