# SPDX-License-Identifier: Apache-2.0
# Sourced by the CLI test scripts (POSIX sh): pass/fail counters, a private temporary
# directory $tmp removed on exit, and the closing line.
fails=0
passes=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { passes=$((passes + 1)); }
bad() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
# finish NAME: prints the counts and returns non-zero when anything failed.
finish() {
    echo "$1: $passes passed, $fails failed"
    [ "$fails" -eq 0 ]
}

# run EXPECTED_STATUS DESCRIPTION CMD...: stdout in $tmp/out, stderr in $tmp/err (both also
# appended to $tmp/all, for "no key in any output" checks); a failure must be one stderr line.
run() {
    want=$1
    what=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    cat "$tmp/out" "$tmp/err" >>"$tmp/all"
    if [ "$st" -ne "$want" ]; then
        bad "$what: exit $st, expected $want: $(head -c 300 "$tmp/err")"
        return 1
    fi
    if [ "$want" -ne 0 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
        bad "$what: expected one line on stderr, got: $(cat "$tmp/err")"
        return 1
    fi
    ok
    return 0
}
# The value of the first NAME= line of the last run's stdout.
field() { sed -n "s/^$1=//p" "$tmp/out" | head -n 1; }
expect_field() { # name value what
    got=$(field "$1")
    if [ "$got" = "$2" ]; then ok; else bad "$3: $1='$got', expected '$2'"; fi
}
expect_err() { # substring what
    if grep -q -- "$1" "$tmp/err"; then ok; else bad "$2: stderr lacks '$1': $(cat "$tmp/err")"; fi
}
