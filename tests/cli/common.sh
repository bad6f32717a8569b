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
