#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 16 item 1 on loopback: imskms-kmsd with --tls-cert/--tls-key. The UE flow over https
# with the right CA (--kms-ca-file): Kue issue (mode 3), a ticket request and resolve with equal
# TGK fingerprints, and a mode-1 request whose --ca-file (the BSF's CA) is not the KMS's; the
# wrong CA refused with one line naming --kms-ca-file (exit 3); plain HTTP to the TLS port
# fails; openssl s_client: TLS 1.2 and 1.3 accepted, TLS 1.0 and 1.1 refused (a control
# s_server shows the same client does speak TLS 1.1); SIGHUP with a new certificate in place
# (s_client sees its fingerprint), then a broken one (still the new one, and why logged); the
# usage errors (--tls-cert without --tls-key, an unreadable --tls-key, --kms-ca-file for an
# http:// KMS or unreadable) before any traffic.
# Usage: test_kmsd_tls.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
set -u
B=$1
D=$2
K=$3
SRC=$4
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
clock_init
# shellcheck source=bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
pid=""
kpid=""
spid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$kpid" ] && kill -9 "$kpid" 2>/dev/null; [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; rm -rf "$tmp"' EXIT

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.example.org
IMPU=sip:+15550001@ims.example.org
IMPI_B=001010000000002@ims.example.org
IMPU_B=sip:+15550002@ims.example.org
FQDN=kms.example.org # the name in tests/http/mkca.sh's NAF certificate
bsfd_pki "$SRC/tests/http/mkca.sh"
DB="$tmp/db"
for s in "$IMPI $IMPU usim" "$IMPI_B $IMPU_B usim-b"; do
    set -- $s
    "$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$1" --impu "$2" --k $KEY \
        --op $OP >/dev/null || bad "subscriber add $1"
    "$B" ue usim-init --usim "$tmp/$3" --impi "$1" --impu "$2" --k $KEY --op $OP >/dev/null ||
        bad "usim-init $1"
done
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 3600 --grace 3600 \
    >/dev/null || bad "keys init"
bsfd_start
# shellcheck source=kmsd_env.sh
. "$SRC/tests/integration/kmsd_env.sh"

# The KMS's certificate is the test PKI's server certificate (SAN localhost, 127.0.0.1), copied
# so that a reload can find another one under the same names.
cp "$tmp/pki/server.crt" "$tmp/tls.crt"
cp "$tmp/pki/server.key" "$tmp/tls.key"
chmod 600 "$tmp/tls.key"

# ---- usage errors, before anything listens ----
run 2 "--tls-cert without --tls-key" env -u IMSKMS_TEST_NOW_FILE "$K" --listen 127.0.0.1:0 --fqdn $FQDN \
    --bsf-zn "https://localhost:$ZN" --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" \
    --zn-ca "$tmp/pki/ca.crt" --keyring "$tmp/keyring" --kek-file "$tmp/kek" \
    --state-db "$tmp/state.db" --tls-cert "$tmp/tls.crt"
expect_err "give both" "--tls-cert alone"
run 2 "unreadable --tls-key" env -u IMSKMS_TEST_NOW_FILE "$K" --listen 127.0.0.1:0 --fqdn $FQDN \
    --bsf-zn "https://localhost:$ZN" --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" \
    --zn-ca "$tmp/pki/ca.crt" --keyring "$tmp/keyring" --kek-file "$tmp/kek" \
    --state-db "$tmp/state.db" --tls-cert "$tmp/tls.crt" --tls-key "$tmp/nokey"
expect_err "tls-key $tmp/nokey: cannot be read: No such file or directory" "missing --tls-key"
run 2 "--tls-key of another certificate" "$K" --listen 127.0.0.1:0 --fqdn $FQDN \
    --bsf-zn "https://localhost:$ZN" --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" \
    --zn-ca "$tmp/pki/ca.crt" --keyring "$tmp/keyring" --kek-file "$tmp/kek" \
    --state-db "$tmp/state.db" --tls-cert "$tmp/tls.crt" --tls-key "$tmp/pki/naf.key" --check-config
expect_err "is not the private key of --tls-cert" "mismatched --tls-key"

kmsd_start --tls-cert "$tmp/tls.crt" --tls-key "$tmp/tls.key"
expect_log "$tmp/kmsd.log" 0 "kms listening on port $KMS (modes 1 2 3; TLS)" "TLS start line"
open_window
URL="https://localhost:$KMS"

# ---- the UE flow over https with the right CA ----
mkdir -p "$tmp/ue" "$tmp/ue-b" "$tmp/ue1"
run 0 "bootstrap A" "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" --state "$tmp/ue"
run 0 "bootstrap B" "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim-b" --state "$tmp/ue-b"
run 0 "kue A over https" "$B" ue kue --kms "$URL" --kms-fqdn $FQDN --mode 3 --state "$tmp/ue" \
    --kms-ca-file "$tmp/pki/ca.crt"
run 0 "kue B over https" "$B" ue kue --kms "$URL" --kms-fqdn $FQDN --mode 3 --state "$tmp/ue-b" \
    --kms-ca-file "$tmp/pki/ca.crt"
run 0 "request over https" "$B" ue request --kms "$URL" --peer "$IMPU_B" --state "$tmp/ue" \
    --out "$tmp/xfer" --kms-ca-file "$tmp/pki/ca.crt"
FA=$(field tgk_fingerprint)
run 0 "resolve over https" "$B" ue resolve --kms "$URL" --ticket "$tmp/xfer" --state "$tmp/ue-b" \
    --kms-ca-file "$tmp/pki/ca.crt"
FB=$(field tgk_fingerprint)
printf '%s' "$FA" | grep -Eq '^[0-9a-f]{16}$' && [ "$FA" = "$FB" ] && ok ||
    bad "https call: fingerprints '$FA' and '$FB'"
# Mode 1: --ca-file is the BSF's CA (here one that trusts nothing of ours), the KMS is verified
# with --kms-ca-file only.
run 0 "mode-1 request over https" "$B" ue request --kms "$URL" --kms-fqdn $FQDN --mode 1 \
    --bsf "http://localhost:$UB/" --usim "$tmp/usim" --ca-file "$tmp/pki/rogue-ca.crt" \
    --peer "$IMPU_B" --state "$tmp/ue1" --out "$tmp/xfer1" --kms-ca-file "$tmp/pki/ca.crt"

# ---- refused: the wrong CA, the system's CAs, plain HTTP to the TLS port ----
run 3 "kue with the wrong CA" "$B" ue kue --kms "$URL" --kms-fqdn $FQDN --mode 3 \
    --state "$tmp/ue" --kms-ca-file "$tmp/pki/rogue-ca.crt"
expect_err "the KMS's TLS certificate is not trusted by --kms-ca-file $tmp/pki/rogue-ca.crt or is not issued for localhost" "wrong CA"
run 3 "request without --kms-ca-file" "$B" ue request --kms "$URL" --peer "$IMPU_B" \
    --state "$tmp/ue" --out "$tmp/xfer"
expect_err "not trusted by the system's CAs (give --kms-ca-file)" "no CA"
run 3 "plain HTTP to the TLS port" "$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN \
    --mode 3 --state "$tmp/ue"
run 2 "--kms-ca-file for http://" "$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN \
    --mode 3 --state "$tmp/ue" --kms-ca-file "$tmp/pki/ca.crt"
expect_err "only for an https:// --kms" "--kms-ca-file with http"
run 2 "unreadable --kms-ca-file" "$B" ue resolve --kms "$URL" --ticket "$tmp/xfer" \
    --state "$tmp/ue-b" --kms-ca-file "$tmp/none.crt"
expect_err "kms-ca-file $tmp/none.crt: cannot be read: No such file or directory" "missing CA"

# ---- protocol versions ----
# s_client at security level 0 offers TLS 1.0 / 1.1 suites; a handshake that completes prints
# the cipher, a refused one "Cipher is (NONE)".
proto() { # version port: status 0 when the handshake completed
    openssl s_client -connect "127.0.0.1:$2" "-$1" -cipher 'DEFAULT:@SECLEVEL=0' \
        </dev/null 2>/dev/null | grep -q 'Cipher is [A-Z]'
}
# Control: the same client against an OpenSSL server that allows TLS 1.1.
sleep 20 | openssl s_server -accept 127.0.0.1:0 -cert "$tmp/pki/server.crt" \
    -key "$tmp/pki/server.key" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -naccept 1 \
    >"$tmp/s_server.out" 2>&1 &
spid=$!
wait_log "$tmp/s_server.out" 0 '^ACCEPT'
SP=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$tmp/s_server.out")
proto tls1_1 "$SP" && ok || bad "control: s_client cannot do TLS 1.1 with s_server"
kill "$spid" 2>/dev/null
spid=""
proto tls1_2 "$KMS" && ok || bad "TLS 1.2 refused"
proto tls1_3 "$KMS" && ok || bad "TLS 1.3 refused"
proto tls1_1 "$KMS" && bad "TLS 1.1 accepted" || ok
proto tls1 "$KMS" && bad "TLS 1.0 accepted" || ok

# ---- SIGHUP: a new certificate in place, then a broken one ----
fpr_file() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
fpr_served() {
    openssl s_client -connect "127.0.0.1:$KMS" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
[ "$(fpr_served)" = "$(fpr_file "$tmp/pki/server.crt")" ] && ok || bad "first certificate"
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "subjectAltName=DNS:localhost,IP:127.0.0.1" "extendedKeyUsage=serverAuth" >"$tmp/s2.ext"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -subj "/CN=localhost" \
    -keyout "$tmp/s2.key" -out "$tmp/s2.csr" 2>/dev/null &&
    openssl x509 -req -in "$tmp/s2.csr" -CA "$tmp/pki/ca.crt" -CAkey "$tmp/pki/ca.key" \
        -set_serial 0x4242 -days 2 -sha256 -extfile "$tmp/s2.ext" -out "$tmp/s2.crt" 2>/dev/null ||
    bad "second certificate"
cp "$tmp/s2.key" "$tmp/tls.key.new" && mv "$tmp/tls.key.new" "$tmp/tls.key"
cp "$tmp/s2.crt" "$tmp/tls.crt.new" && mv "$tmp/tls.crt.new" "$tmp/tls.crt"
m=$(log_mark "$tmp/kmsd.log")
kill -HUP "$kpid"
wait_log "$tmp/kmsd.log" "$m" 'reload done' "$kpid"
expect_log "$tmp/kmsd.log" "$m" "TLS certificate and key read again" "reload line"
[ "$(fpr_served)" = "$(fpr_file "$tmp/s2.crt")" ] && ok || bad "SIGHUP: new certificate not served"
run 0 "kue after the reload" "$B" ue kue --kms "$URL" --kms-fqdn $FQDN --mode 3 --state "$tmp/ue" \
    --kms-ca-file "$tmp/pki/ca.crt"
echo "not a certificate" >"$tmp/tls.crt"
m=$(log_mark "$tmp/kmsd.log")
kill -HUP "$kpid"
wait_log "$tmp/kmsd.log" "$m" 'reload failed' "$kpid"
expect_log "$tmp/kmsd.log" "$m" "tls-cert $tmp/tls.crt: holds no PEM certificate or key" "broken reload: why"
expect_log "$tmp/kmsd.log" "$m" "serves with the old certificate" "broken reload"
[ "$(fpr_served)" = "$(fpr_file "$tmp/s2.crt")" ] && ok || bad "broken reload: certificate changed"
run 0 "kue after the broken reload" "$B" ue kue --kms "$URL" --kms-fqdn $FQDN --mode 3 \
    --state "$tmp/ue" --kms-ca-file "$tmp/pki/ca.crt"

kmsd_stop
bsfd_stop
finish kmsd_tls
