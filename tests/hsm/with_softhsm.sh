#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs a command against a fresh SoftHSM2 token (CTest wrapper for the PKCS#11 tests).
# Usage: with_softhsm.sh COMMAND [ARG...]
# The command sees SOFTHSM2_CONF, IMSKMS_TEST_HSM_URI and IMSKMS_SOFTHSM_MODULE; the token
# directory is removed afterwards and the command's exit status is returned.
set -eu
[ $# -ge 1 ] || {
    echo "usage: with_softhsm.sh COMMAND [ARG...]" >&2
    exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/hsm/softhsm_env.sh
. "$here/softhsm_env.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/imskms-softhsm.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
softhsm_env "$dir"
export IMSKMS_SOFTHSM_MODULE
status=0
"$@" || status=$?
exit $status
