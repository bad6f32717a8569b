#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A private SoftHSM2 token for the PKCS#11 tests.
#
# Sourced:   . tests/hsm/softhsm_env.sh; softhsm_env DIR
#            defines softhsm_env, which sets up DIR and exports SOFTHSM2_CONF and
#            IMSKMS_TEST_HSM_URI into the calling shell.
# Executed:  tests/hsm/softhsm_env.sh DIR
#            sets up DIR and prints the URI (export SOFTHSM2_CONF=DIR/softhsm2.conf to use it).
#
# DIR gets softhsm2.conf, tokens/ and pin (mode 0600, the user PIN 1234 of the token
# "imskms-test"; the SO PIN is 5678). These are throwaway test PINs, never real ones.

# The Debian 12 path of the module (package softhsm2; the multiarch file is its target).
: "${IMSKMS_SOFTHSM_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"

softhsm_env() {
    _se_dir=${1:?softhsm_env: directory required}
    case $_se_dir in
    /*) ;;
    *) _se_dir=$(pwd)/$_se_dir ;;
    esac
    # The directory goes into the URI unescaped: keep to characters RFC 7512 allows there.
    case $_se_dir in
    *[!A-Za-z0-9/._-]*)
        echo "softhsm_env: directory name needs URI escaping, use a plainer one: $_se_dir" >&2
        return 1
        ;;
    esac
    command -v softhsm2-util >/dev/null 2>&1 || {
        echo "softhsm_env: softhsm2-util missing (run scripts/deps.sh)" >&2
        return 1
    }
    [ -r "$IMSKMS_SOFTHSM_MODULE" ] || {
        echo "softhsm_env: no module at $IMSKMS_SOFTHSM_MODULE (run scripts/deps.sh)" >&2
        return 1
    }
    mkdir -p "$_se_dir/tokens" || return 1
    printf '%s\n' \
        "directories.tokendir = $_se_dir/tokens" \
        "objectstore.backend = file" \
        "log.level = ERROR" >"$_se_dir/softhsm2.conf" || return 1
    SOFTHSM2_CONF=$_se_dir/softhsm2.conf
    export SOFTHSM2_CONF
    softhsm2-util --init-token --free --label imskms-test --pin 1234 --so-pin 5678 \
        >/dev/null || {
        echo "softhsm_env: softhsm2-util --init-token failed" >&2
        return 1
    }
    (umask 077 && printf '1234\n' >"$_se_dir/pin") || return 1
    IMSKMS_TEST_HSM_URI="pkcs11:token=imskms-test?module-path=$IMSKMS_SOFTHSM_MODULE&pin-source=file:$_se_dir/pin"
    export IMSKMS_TEST_HSM_URI
}

case ${0##*/} in
softhsm_env.sh)
    set -eu
    [ $# -eq 1 ] || {
        echo "usage: softhsm_env.sh DIR" >&2
        exit 2
    }
    softhsm_env "$1"
    printf '%s\n' "$IMSKMS_TEST_HSM_URI"
    ;;
esac
