#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs a command with a fresh test PKI (CTest wrapper for the HTTP tests).
# Usage: with_pki.sh COMMAND [ARG...]
# The command sees IMSKMS_TEST_PKI_DIR (made by mkca.sh); the directory is removed afterwards
# and the command's exit status is returned.
set -eu
[ $# -ge 1 ] || {
    echo "usage: with_pki.sh COMMAND [ARG...]" >&2
    exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/imskms-pki.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
"$here/mkca.sh" "$dir"
IMSKMS_TEST_PKI_DIR=$dir
export IMSKMS_TEST_PKI_DIR
status=0
"$@" || status=$?
exit $status
