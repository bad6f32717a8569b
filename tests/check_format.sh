#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every tracked C source follows .clang-format (the error table is an X-macro list, exempt); no
# file found to check is a failure.
# Usage: check_format.sh SOURCE_DIR
set -eu
cd "$1"
command -v clang-format >/dev/null || { echo "check_format: clang-format missing (run scripts/deps.sh)" >&2; exit 1; }
bad=0
checked=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find lib src include tests bench fuzz -name '*.[ch]'); do
    [ "$f" = include/imskms/err_table.h ] && continue
    checked=$((checked + 1))
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (clang-format -i $f)"
        bad=$((bad + 1))
    fi
done
# A run that found nothing to check (a wrong directory, no git, a broken pattern) proves nothing.
[ $checked -gt 0 ] || { echo "check_format: no C file found under $1" >&2; exit 1; }
[ $bad -eq 0 ] && echo "check_format: all $checked files formatted"
[ $bad -eq 0 ]
