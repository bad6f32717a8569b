#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs what building and testing imskms needs, from Debian 12 packages, when missing.
# Needs root (apt-get) only when something is missing. Usage: scripts/deps.sh [--fuzz]
set -eu

# tshark + wireshark-common (text2pcap): the MIKEY wire interop test (tests/interop).
# sqlite: the KMS state store; p11-kit (pkcs11.h), softhsm2 + opensc (pkcs11-tool): the PKCS#11 keystore and its tests.
# libmicrohttpd (its HTTPS backend is GnuTLS, whose API checks Zn client certificates) and libcurl
# (OpenSSL flavour): the HTTP server and client glue in lib/http.
# libjansson-dev: the Zn JSON codec (lib/gba/kms_zn_json.c; design.md 3 names jansson for JSON).
# libinih-dev: the daemons' configuration files (src/common/cli_conf.c; docs/cli.md says why).
# openssl (the command): also the SIGHUP certificate reload test (s_client).
# python3-prometheus-client: its parser reads the daemons' /metrics in tests/integration/test_obs.sh.
# libsystemd-dev: sd_notify for the Type=notify units; scdoc: the man pages; lintian, dpkg-dev,
# systemd (systemd-analyze), man-db: the package and install tests (tests/package).
# redis-server + libhiredis-dev: the KMS and BSF fleets (shared state in Redis; tests start their own
# redis-server). libsrtp2-dev: SRTP for the media commands (imskms ue rtp-send/rtp-recv).
pkgs="cmake make gcc libc6-dev clang-format pkg-config libssl-dev openssl libcmocka-dev perl python3 python3-prometheus-client tshark wireshark-common libsqlite3-dev sqlite3 libp11-kit-dev softhsm2 opensc libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libjansson-dev libinih-dev libsystemd-dev scdoc lintian dpkg-dev systemd man-db curl redis-server libhiredis-dev libsrtp2-dev"
case "${1:-}" in
--fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
--help | -h)
    echo "usage: scripts/deps.sh [--fuzz]   install build/test packages (and clang + libFuzzer)"
    exit 0
    ;;
"") ;;
*)
    echo "deps.sh: unknown option '$1'" >&2
    exit 2
    ;;
esac

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages and not root; install them with apt-get:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture: no (we only read pcap files).
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
