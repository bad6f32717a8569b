#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Makes a throwaway test PKI for the HTTP tests (ECDSA P-256, valid 2 days). Never for real use.
# Usage: mkca.sh DIR
#   ca.{crt,key}             the trusted test CA
#   server.{crt,key}         SAN DNS:localhost, IP:127.0.0.1, serverAuth
#   wrongname.{crt,key}      SAN DNS:elsewhere.example.org only (host-name mismatch), serverAuth
#   naf.{crt,key}            SAN DNS:kms.example.org, clientAuth
#   other.{crt,key}          SAN DNS:other-naf.example.org, clientAuth
#   cnonly.{crt,key}         CN=kms.example.org and no subjectAltName, clientAuth
#   serveronly.{crt,key}     SAN DNS:kms.example.org but serverAuth only (wrong purpose)
#   rogue-ca.{crt,key}       a second CA nobody trusts
#   rogue.{crt,key}          SAN DNS:kms.example.org, clientAuth, issued by rogue-ca
# Keys are mode 0600.
set -eu
[ $# -eq 1 ] || {
    echo "usage: mkca.sh DIR" >&2
    exit 2
}
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077
days=2

# ca NAME CN
ca() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
        -days $days -subj "/CN=$2" -keyout "$1.key" -out "$1.crt" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# leaf NAME ISSUER CN EXTENSIONS...
leaf() {
    name=$1 issuer=$2 cn=$3
    shift 3
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        for e in "$@"; do echo "$e"; done
    } >"$name.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
        -subj "/CN=$cn" -keyout "$name.key" -out "$name.csr" 2>/dev/null
    openssl x509 -req -in "$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days $days -sha256 \
        -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

ca ca "imskms test CA"
ca rogue-ca "imskms rogue test CA"
leaf server ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1" "extendedKeyUsage=serverAuth"
leaf wrongname ca elsewhere.example.org "subjectAltName=DNS:elsewhere.example.org" \
    "extendedKeyUsage=serverAuth"
leaf naf ca kms.example.org "subjectAltName=DNS:kms.example.org" "extendedKeyUsage=clientAuth"
leaf other ca other-naf.example.org "subjectAltName=DNS:other-naf.example.org" \
    "extendedKeyUsage=clientAuth"
leaf cnonly ca kms.example.org "extendedKeyUsage=clientAuth"
leaf serveronly ca kms.example.org "subjectAltName=DNS:kms.example.org" \
    "extendedKeyUsage=serverAuth"
leaf rogue rogue-ca kms.example.org "subjectAltName=DNS:kms.example.org" \
    "extendedKeyUsage=clientAuth"
chmod 600 ./*.key
chmod 644 ./*.crt
