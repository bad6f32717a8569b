#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The mutation check: every mutant of tests/mutation/mutants.txt must be killed by its tests.
#
# The tree is copied (tracked and untracked, not ignored files) to a scratch directory,
# build-mut/src, built there once (build-mut/build, the default preset's options), and the named
# tests run unmutated (they must pass, or a "kill" would mean nothing). Then for each mutant: its
# line is replaced in the scratch copy (the original line must match exactly one line of the
# file), an incremental build, `ctest -R` of its tests, the file restored. The working tree and
# build/ are never touched. Prints one line per mutant and the kill rate.
#
# usage: tests/mutation/run.sh [--only ID] [--list FILE] [--work DIR]
#        tests/mutation/run.sh --check-list   only check that every mutant still applies to the
#                                             working tree (no build; CTest mutation_list)
# Exit status: 0 every mutant killed; 1 a mutant survived, no longer applies, does not build,
# or names no test; 2 bad usage, or the unmutated scratch build or its tests fail.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
list=$root/tests/mutation/mutants.txt
work=$root/build-mut
only=""
check_list=0
while [ $# -gt 0 ]; do
    case "$1" in
    --only | --list | --work)
        [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
        case "$1" in --only) only=$2 ;; --list) list=$2 ;; --work) work=$2 ;; esac
        shift
        ;;
    --check-list) check_list=1 ;;
    --help | -h)
        sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run.sh: unknown option '$1' (see --help)" >&2
        exit 2
        ;;
    esac
    shift
done
[ -r "$list" ] || { echo "run.sh: cannot read $list" >&2; exit 2; }
jobs=${MUT_JOBS:-2}
src=$work/src
bld=$work/build
restore=""
trap '[ -n "$restore" ] && cp "$work/orig" "$src/$restore"' EXIT
trap 'exit 2' INT TERM
start=$(date +%s)

# The list as one tab-separated record per mutant: id, file, from, to, tests.
records=$(awk '
    function flush() {
        if (id != "") { print id "\t" file "\t" from "\t" to "\t" tests }
        id = file = from = to = tests = ""
    }
    /^#/ { next }
    /^[ \t]*$/ { flush(); next }
    {
        k = $0; sub(/:.*/, "", k)
        v = $0; sub(/^[a-z]+: ?/, "", v)
        if (k == "id") id = v; else if (k == "file") file = v; else if (k == "from") from = v
        else if (k == "to") to = v; else if (k == "tests") tests = v
        else if (k != "why") { print "run.sh: unknown key " k > "/dev/stderr"; exit 2 }
    }
    END { flush() }' "$list") || exit 2
all_files=$(printf '%s\n' "$records" | cut -f2 | sort -u)
if [ -n "$only" ]; then
    records=$(printf '%s\n' "$records" | awk -F '\t' -v id="$only" '$1 == id')
    [ -n "$records" ] || { echo "run.sh: no mutant '$only' in $list" >&2; exit 2; }
fi

# apply FILE FROM TO: replaces the one line whose trimmed text is FROM (exit 3 unless exactly one).
apply() {
    FROM=$2 TO=$3 awk '
        BEGIN { from = ENVIRON["FROM"]; to = ENVIRON["TO"]; n = 0 }
        {
            t = $0; sub(/^[ \t]+/, "", t); sub(/[ \t]+$/, "", t)
            if (t == from) {
                n++
                match($0, /^[ \t]*/)
                $0 = substr($0, 1, RLENGTH) to
            }
            print
        }
        END { if (n != 1) { exit 3 } }' "$1" >"$work/mutated" || return 1
    cat "$work/mutated" >"$1" # a new mtime: the next build recompiles it
}

tab=$(printf '\t')
if [ $check_list -eq 1 ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    n=0
    stale=0
    while IFS="$tab" read -r id file from to tests; do
        n=$((n + 1))
        if [ -z "$id" ] || [ -z "$file" ] || [ -z "$from" ] || [ -z "$to" ] || [ -z "$tests" ]; then
            echo "INCOMPLETE $id: every mutant needs id, file, from, to and tests"
            stale=$((stale + 1))
        elif [ "$from" = "$to" ]; then
            echo "NO-CHANGE $id: 'to' is the original line"
            stale=$((stale + 1))
        elif ! cp "$root/$file" "$work/copy" 2>/dev/null || ! apply "$work/copy" "$from" "$to"; then
            echo "STALE     $id: '$from' does not match exactly one line of $file"
            stale=$((stale + 1))
        fi
    done <<EOF
$records
EOF
    echo "mutation list: $n mutants, $stale that no longer apply"
    [ $n -gt 0 ] && [ $stale -eq 0 ]
    exit
fi

# ---- the scratch copy, built and tested unmutated ----
mkdir -p "$src" "$bld"
echo "== mutation: scratch copy in $src"
(cd "$root" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xpf - -C "$src" ||
    { echo "run.sh: copying the tree failed" >&2; exit 2; }
# Files a previous run mutated were restored with a new mtime, then overwritten by tar with the
# original one: touch every file the list names (whatever --only says) and any file a mutant
# was ever applied to, so that no object built from a mutant survives into this run.
{
    printf '%s\n' "$all_files"
    cat "$work/mutated-files" 2>/dev/null
} | sort -u | while read -r f; do [ -f "$src/$f" ] && touch "$src/$f"; done
if ! cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKMS_WERROR=ON -DKMS_BENCH=OFF -DKMS_TEST_CLOCK=ON \
    >"$work/configure.log" 2>&1; then
    echo "run.sh: configure failed (see $work/configure.log)" >&2
    exit 2
fi
echo "== mutation: build ($bld)"
if ! cmake --build "$bld" -j "$jobs" >"$work/build.log" 2>&1; then
    echo "run.sh: the unmutated build failed (see $work/build.log)" >&2
    exit 2
fi
all_tests=$(printf '%s\n' "$records" | cut -f5 | paste -sd '|' -)
echo "== mutation: the named tests, unmutated"
if ! ctest --test-dir "$bld" -R "$all_tests" -j "$jobs" --no-tests=error --output-on-failure \
    >"$work/baseline.log" 2>&1; then
    echo "run.sh: the tests fail without any mutant (see $work/baseline.log)" >&2
    exit 2
fi

# ---- one mutant at a time ----
total=0
killed=0
problems=0
while IFS="$tab" read -r id file from to tests; do
    total=$((total + 1))
    t0=$(date +%s)
    f=$src/$file
    if [ ! -f "$f" ]; then
        echo "NO-FILE   $id: $file is gone"
        problems=$((problems + 1))
        continue
    fi
    cp "$f" "$work/orig"
    restore=$file
    echo "$file" >>"$work/mutated-files"
    if ! apply "$f" "$from" "$to"; then
        cp "$work/orig" "$f"
        restore=""
        echo "STALE     $id: '$from' does not match exactly one line of $file"
        problems=$((problems + 1))
        continue
    fi
    if ! cmake --build "$bld" -j "$jobs" >"$work/$id.build.log" 2>&1; then
        verdict="NO-BUILD  $id: the mutant does not compile (see $work/$id.build.log)"
        problems=$((problems + 1))
    elif ctest --test-dir "$bld" -R "$tests" -j "$jobs" --no-tests=error --output-on-failure \
        >"$work/$id.test.log" 2>&1; then
        verdict="SURVIVED  $id: $tests all pass (see $work/$id.test.log)"
        problems=$((problems + 1))
    elif grep -q 'No tests were found' "$work/$id.test.log"; then
        verdict="NO-TESTS  $id: '$tests' names no test"
        problems=$((problems + 1))
    else
        by=$(sed -n 's/^[[:space:]]*[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .*\*\*\*Failed.*/\1/p; s/^[[:space:]]*[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .*\*\*\*Timeout.*/\1/p' \
            "$work/$id.test.log" | paste -sd ',' -)
        verdict="killed    $id by ${by:-$tests}"
        killed=$((killed + 1))
    fi
    cp "$work/orig" "$f"
    restore=""
    echo "$verdict ($(($(date +%s) - t0)) s)"
done <<EOF
$records
EOF

secs=$(($(date +%s) - start))
echo "mutation: $killed of $total mutants killed ($((killed * 100 / total))%), $problems problem(s), $secs s"
[ "$problems" -eq 0 ] && [ "$killed" -eq "$total" ]
