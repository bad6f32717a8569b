#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Banned calls, in the spirit of s2n-tls's grep_simple_mistakes.sh.
#
#   check_banned.sh SOURCE_DIR              check SOURCE_DIR/lib and SOURCE_DIR/src
#   check_banned.sh --self-test SOURCE_DIR  show that the check fails when it should
#
# Banned in lib/ and src/: strcpy strcat sprintf vsprintf gets atoi atol atof rand srand strtok
# alloca. Banned in lib/: memcmp, except at the call sites listed in tests/banned/memcmp_allow.txt
# (secrets are compared with kms_ct_eq). A call is the name as a whole identifier followed by
# optional blanks and '(': kms_str_copy( and snprintf( are not calls of strcpy or sprintf, nor
# is CRYPTO_memcmp( one of memcmp. Comments, string literals and character literals are blanked
# before matching (line numbers kept), so prose and messages may name a banned call.
#
# The allow-list has one line per call site: path TAB the call's source line, trimmed of leading
# and trailing blanks, TAB the reason the bytes compared are public. A line, not a line number,
# so entries survive edits elsewhere in the file; a new call, or an old call whose line changes
# (other operands, other bytes), is unlisted until someone reviews it again. An entry that
# matches no call is stale and fails the check too, so the list stays true.
#
# Findings, one per line:  path:line: banned call NAME
#                          path:line: memcmp not in the allow-list (tests/banned/memcmp_allow.txt)
# Exit status 0 when clean, 1 when anything was found or nothing could be checked.
set -eu

ALLOW=tests/banned/memcmp_allow.txt

check() {
    root=$1
    cd "$root"
    files=$(find lib src -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | LC_ALL=C sort)
    if [ -z "$files" ]; then
        echo "check_banned: no C source found under $root/lib or $root/src" >&2
        return 1
    fi
    [ -f "$ALLOW" ] || { echo "check_banned: $ALLOW missing" >&2; return 1; }
    # shellcheck disable=SC2086 # one word per path: the tree has no blanks in file names
    LC_ALL=C awk -v allow_file="$ALLOW" '
        BEGIN {
            banned = "strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atof|rand|srand|strtok|alloca"
            re_banned = "(^|[^A-Za-z0-9_])(" banned ")[ \t]*[(]"
            re_memcmp = "(^|[^A-Za-z0-9_])memcmp[ \t]*[(]"
            bad = 0
            n = 0
            while ((getline line < allow_file) > 0) {
                n++
                if (line ~ /^[ \t]*(#|$)/) continue
                k = split(line, f, "\t")
                if (k != 3 || f[1] == "" || f[2] == "" || f[3] !~ /[^ ]/) {
                    printf "%s:%d: malformed entry (path TAB source line TAB reason)\n", allow_file, n
                    bad++
                    continue
                }
                key = f[1] SUBSEP f[2]
                allowed[key] = n
                used[key] = 0
            }
        }
        FNR == 1 { inc = 0 }
        {
            # Blank comments and literals, keeping every other character where it was.
            src = $0; out = ""; i = 1; len = length(src)
            while (i <= len) {
                c = substr(src, i, 1); d = substr(src, i, 2)
                if (inc) {
                    if (d == "*/") { inc = 0; out = out "  "; i += 2 } else { out = out " "; i++ }
                    continue
                }
                if (d == "/*") { inc = 1; out = out "  "; i += 2; continue }
                if (d == "//") break
                if (c == "\"" || c == "\047") {
                    q = c; out = out c; i++
                    while (i <= len) {
                        c = substr(src, i, 1)
                        if (c == "\\") { out = out "  "; i += 2; continue }
                        out = out (c == q ? c : " "); i++
                        if (c == q) break
                    }
                    continue
                }
                out = out c; i++
            }
            s = out
            while (match(s, re_banned)) {
                name = substr(s, RSTART, RLENGTH)
                sub(/^[^A-Za-z_]/, "", name); sub(/[ \t]*[(]$/, "", name)
                printf "%s:%d: banned call %s\n", FILENAME, FNR, name
                bad++
                s = substr(s, RSTART + RLENGTH)
            }
            if (FILENAME ~ /^lib\// && out ~ re_memcmp) {
                t = $0; sub(/^[ \t]+/, "", t); sub(/[ \t]+$/, "", t)
                key = FILENAME SUBSEP t
                if (key in allowed) {
                    used[key]++
                } else {
                    printf "%s:%d: memcmp not in the allow-list (%s)\n", FILENAME, FNR, allow_file
                    bad++
                }
            }
        }
        END {
            for (key in used) {
                if (used[key] == 0) {
                    split(key, f, SUBSEP)
                    printf "%s:%d: stale entry: no such memcmp call in %s\n", allow_file, allowed[key], f[1]
                    bad++
                }
            }
            exit (bad > 0 ? 1 : 0)
        }
    ' $files
}

# Plants a banned call and an unlisted memcmp in a copy of the tree and expects exactly those
# two findings; also expects a clean copy to pass, harmless look-alikes to pass, and an empty
# tree and a stale allow-list entry to fail.
self_test() {
    root=$(cd "$1" && pwd)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    fail() { echo "check_banned self-test: $*" >&2; exit 1; }
    mkdir -p "$tmp/tree/tests" "$tmp/empty/lib" "$tmp/empty/tests/banned"
    cp -R "$root/lib" "$root/src" "$tmp/tree/"
    cp -R "$root/tests/banned" "$tmp/tree/tests/"
    cp "$root/$ALLOW" "$tmp/empty/$ALLOW"

    (check "$tmp/tree") >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "the unchanged tree fails"; }

    # Look-alikes that must not be reported.
    cat >"$tmp/tree/src/lookalike.c" <<'EOF'
/* strcpy(a, b) and memcmp(a, b, n) in a comment; atoi( too */
static const char *s = "sprintf(x) rand()"; // strtok( gets(
int kms_str_copy_rand(void);
int f(void) { return snprintf(0, 0, "%d", 1) + kms_str_copy_rand() + CRYPTO_memcmp(0, 0, 0); }
EOF
    cp "$tmp/tree/src/lookalike.c" "$tmp/tree/lib/lookalike.c"
    (check "$tmp/tree") >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "a look-alike was reported"; }

    # The planted calls: line 3 of lib/planted.c and line 2 of src/planted.c.
    printf '#include <string.h>\nint g(char *d, const char *s)\n{ strcpy (d, s); return memcmp(d, s, 1); }\n' \
        >"$tmp/tree/lib/planted.c"
    printf 'int h(const char *s);\nint h(const char *s) { return atoi(s); }\n' >"$tmp/tree/src/planted.c"
    if (check "$tmp/tree") >"$tmp/out" 2>&1; then
        fail "planted calls were not found"
    fi
    cat >"$tmp/want" <<EOF
lib/planted.c:3: banned call strcpy
lib/planted.c:3: memcmp not in the allow-list ($ALLOW)
src/planted.c:2: banned call atoi
EOF
    diff "$tmp/want" "$tmp/out" >&2 || fail "findings differ from the planted calls (- wanted, + got)"

    # Listing the planted memcmp clears that finding only.
    printf 'lib/planted.c\t{ strcpy (d, s); return memcmp(d, s, 1); }\ttest\n' >>"$tmp/tree/$ALLOW"
    (check "$tmp/tree") >"$tmp/out" 2>&1 && fail "still clean with strcpy and atoi planted"
    grep -q 'memcmp' "$tmp/out" && { cat "$tmp/out"; fail "a listed memcmp was reported"; }

    # A stale entry fails.
    rm "$tmp/tree/lib/planted.c" "$tmp/tree/src/planted.c"
    (check "$tmp/tree") >"$tmp/out" 2>&1 && fail "a stale allow-list entry passed"
    grep -q "stale entry: no such memcmp call in lib/planted.c" "$tmp/out" ||
        { cat "$tmp/out"; fail "the stale entry was not named"; }

    # No source at all fails.
    (check "$tmp/empty") >"$tmp/out" 2>&1 && fail "a tree without sources passed"
    grep -q "no C source" "$tmp/out" || { cat "$tmp/out"; fail "no message for an empty tree"; }

    echo "check_banned self-test: planted calls found, look-alikes ignored, stale and empty refused"
}

case "${1:-}" in
--self-test)
    [ $# -eq 2 ] || { echo "usage: check_banned.sh --self-test SOURCE_DIR" >&2; exit 2; }
    self_test "$2"
    ;;
-* | "")
    echo "usage: check_banned.sh [--self-test] SOURCE_DIR" >&2
    exit 2
    ;;
*)
    if check "$1"; then
        echo "check_banned: no banned call in lib/ or src/"
    else
        exit 1
    fi
    ;;
esac
