#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 16 item 5 on loopback: errors that say what to fix, each checked for its words.
#  - a UE whose KMS name is not the KMS's --fqdn: "the KMS calls itself X; you used Y" (the KMS's
#    Error carries IDRkms whatever failed);
#  - a BSF realm other than the host of the Ub URL: "the BSF's realm X is not the host Y of
#    --bsf", and --realm X bootstraps;
#  - a Zn certificate for another name: the KMS logs that the BSF refused it and what it must name;
#  - start-up errors of both daemons: the option, the value and the system's reason (address in
#    use, no such file, a directory), a bad --listen exit 2;
#  - the UE's --state and --trace directories created 0700, or refused before any traffic;
#  - a second imskms-bsfd on a store a running one holds refuses to start, while
#    `imskms subscriber add` on it works.
# Usage: test_errors.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
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
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$kpid" ] && kill -9 "$kpid" 2>/dev/null; rm -rf "$tmp"' EXIT

KEY=465b5ce8b199b49faa5f0a2ee238a6bc
OP=cdc202d5123e20f62b6d676ac72cb318
IMPI=001010000000001@ims.example.org
IMPU=sip:+15550001@ims.example.org
FQDN=kms.example.org # the name in tests/http/mkca.sh's NAF certificate
bsfd_pki "$SRC/tests/http/mkca.sh"
DB="$tmp/db"
"$B" subscriber add --db "$DB" --kek-file "$tmp/kek" --impi "$IMPI" --impu "$IMPU" --k $KEY \
    --op $OP >/dev/null || bad "subscriber add"
"$B" ue usim-init --usim "$tmp/usim" --impi "$IMPI" --impu "$IMPU" --k $KEY --op $OP >/dev/null ||
    bad "usim-init"
"$B" keys init --keyring "$tmp/keyring" --kek-file "$tmp/kek" --lifetime 3600 --grace 3600 \
    >/dev/null || bad "keys init"
bsfd_start
# shellcheck source=kmsd_env.sh
. "$SRC/tests/integration/kmsd_env.sh"
kmsd_start
open_window
# The daemons below run without the test clock: their stderr is then exactly their error line.
noclock() { env -u IMSKMS_TEST_NOW_FILE "$@"; }
P="$tmp/pki"
kms_args() { # the KMS options of kmsd_start without --listen ($ZC, $KR, $KEK override)
    echo --fqdn $FQDN --bsf-zn "https://localhost:$ZN" --zn-cert "${ZC:-$P/naf.crt}" \
        --zn-key "$P/naf.key" --zn-ca "$P/ca.crt" --keyring "${KR:-$tmp/keyring}" \
        --kek-file "${KEK:-$tmp/kek}" --state-db "$tmp/state2.db"
}

# ---- the UE's --state and --trace: created 0700, or refused before any traffic ----
m=$(log_mark "$tmp/bsfd.log")
run 0 "bootstrap into a new --state" "$B" ue bootstrap --bsf "http://localhost:$UB/" \
    --usim "$tmp/usim" --state "$tmp/ue" --trace "$tmp/trace"
[ "$(stat -c %a "$tmp/ue")" = 700 ] && [ "$(stat -c %a "$tmp/trace")" = 700 ] &&
    [ -s "$tmp/ue/bootstrap" ] && ok || bad "new --state/--trace: $(ls -ld "$tmp/ue" "$tmp/trace")"
: >"$tmp/afile"
m=$(log_mark "$tmp/bsfd.log")
mk=$(log_mark "$tmp/kmsd.log")
run 2 "--state a file" "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" \
    --state "$tmp/afile"
expect_err "--state $tmp/afile: not a directory" "--state a file"
run 2 "--trace under a missing directory" "$B" ue kue --kms "http://localhost:$KMS" \
    --kms-fqdn $FQDN --mode 3 --state "$tmp/ue" --trace "$tmp/no/such/trace"
expect_err "--trace $tmp/no/such/trace: No such file or directory" "--trace missing parent"
run 2 "request: --state a file" "$B" ue request --kms "http://localhost:$KMS" --peer "$IMPU" \
    --state "$tmp/afile" --out "$tmp/x"
sleep 0.2
log_has "$tmp/bsfd.log" "$m" "ub " && bad "refused directories: the BSF was asked" || ok
log_has "$tmp/kmsd.log" "$mk" "mikey" && bad "refused directories: the KMS was asked" || ok

# ---- the KMS's name: IDRkms in its Error ----
run 1 "kue for another KMS name" "$B" ue kue --kms "http://localhost:$KMS" \
    --kms-fqdn other.example.org --mode 3 --state "$tmp/ue"
expect_err "the KMS calls itself $FQDN; you used other.example.org (give it as --kms-fqdn)" \
    "IDRkms in the Error"
run 0 "kue with the KMS's name" "$B" ue kue --kms "http://localhost:$KMS" --kms-fqdn $FQDN \
    --mode 3 --state "$tmp/ue"

# ---- the BSF's realm against the host of --bsf ----
run 1 "bootstrap by address" "$B" ue bootstrap --bsf "http://127.0.0.1:$UB/" --usim "$tmp/usim" \
    --state "$tmp/ue"
expect_err "the BSF's realm localhost is not the host 127.0.0.1 of --bsf" "realm message"
run 1 "bootstrap with the wrong --realm" "$B" ue bootstrap --bsf "http://localhost:$UB/" \
    --usim "$tmp/usim" --state "$tmp/ue" --realm bsf.example.org
expect_err "the BSF's realm localhost is not --realm bsf.example.org" "wrong --realm"
run 0 "bootstrap by address with --realm" "$B" ue bootstrap --bsf "http://127.0.0.1:$UB/" \
    --usim "$tmp/usim" --state "$tmp/ue" --realm localhost
run 2 "--realm not an FQDN" "$B" ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/usim" \
    --state "$tmp/ue" --realm "not a name"

# ---- a Zn certificate for another name: the KMS says what the BSF wants ----
kmsd_stop
# kmsd_start's certificate files hold, for this start, the certificate for another name.
cp "$P/naf.crt" "$P/naf.crt.keep" && cp "$P/naf.key" "$P/naf.key.keep"
cp "$P/other.crt" "$P/naf.crt" && cp "$P/other.key" "$P/naf.key"
kmsd_start
open_window
m=$(log_mark "$tmp/kmsd.log")
run 3 "kue through a KMS with a wrong Zn certificate" "$B" ue kue --kms "http://localhost:$KMS" \
    --kms-fqdn $FQDN --mode 3 --state "$tmp/ue"
expect_log "$tmp/kmsd.log" "$m" \
    "Zn: the BSF refused our certificate (403): its subjectAltName must name $FQDN (--fqdn)" \
    "Zn certificate name"
kmsd_stop
mv "$P/naf.crt.keep" "$P/naf.crt" && mv "$P/naf.key.keep" "$P/naf.key"

# ---- start-up errors: option, value, the system's reason ----
# shellcheck disable=SC2046 # kms_args: words on purpose
run 3 "kmsd: --listen in use" noclock "$K" --listen "127.0.0.1:$UB" $(kms_args)
expect_err "--listen 127.0.0.1:$UB: cannot listen: Address already in use" "kmsd address in use"
# shellcheck disable=SC2046
run 2 "kmsd: --listen a name" noclock "$K" --listen "localhost:8090" $(kms_args)
expect_err "--listen localhost:8090: not a numeric ADDR:PORT" "kmsd bad --listen"
# shellcheck disable=SC2046
run 2 "kmsd: --listen no port" noclock "$K" --listen "127.0.0.1" $(kms_args)
# shellcheck disable=SC2046
run 3 "kmsd: --keyring missing" noclock "$K" --listen 127.0.0.1:0 $(KR=$tmp/nokeyring kms_args)
expect_err "--keyring $tmp/nokeyring: .*No such file or directory" "kmsd missing keyring"
# shellcheck disable=SC2046
run 2 "kmsd: --zn-cert a directory" noclock "$K" --listen 127.0.0.1:0 $(ZC=$tmp kms_args)
expect_err "--zn-cert $tmp: cannot be read: is a directory" "kmsd directory"
# shellcheck disable=SC2046
run 2 "kmsd: --kek-file missing" noclock "$K" --listen 127.0.0.1:0 $(KEK=$tmp/nokek kms_args)
expect_err "--kek-file $tmp/nokek: cannot be read: No such file or directory" "kmsd missing KEK"
"$B" subscriber add --db "$tmp/db2" --kek-file "$tmp/kek" --impi "$IMPI" --impu "$IMPU" --k $KEY \
    --op $OP >/dev/null || bad "subscriber add db2"
bsfd_args() { # the BSF options without the listeners ($ZC overrides --zn-cert, $DBX --db)
    echo --db "${DBX:-$tmp/db2}" --kek-file "$tmp/kek" --realm localhost --lifetime 3600 \
        --max-connections 1000 --log-level warn \
        --zn-cert "${ZC:-$P/server.crt}" --zn-key "$P/server.key" --zn-client-ca "$P/ca.crt"
}
# shellcheck disable=SC2046
run 2 "bsfd: --listen a name" noclock "$D" $(bsfd_args) --listen "localhost:8080" \
    --zn-listen 127.0.0.1:0
expect_err "--listen localhost:8080: not a numeric ADDR:PORT" "bsfd bad --listen"
# shellcheck disable=SC2046
run 2 "bsfd: --zn-cert missing" noclock "$D" $(ZC=$tmp/nocert bsfd_args) --listen 127.0.0.1:0 \
    --zn-listen 127.0.0.1:0
expect_err "--zn-cert $tmp/nocert: cannot be read: No such file or directory" "bsfd missing cert"

# ---- one BSF per subscriber store ----
# shellcheck disable=SC2046
run 3 "a second BSF on the store" noclock "$D" $(DBX=$DB bsfd_args) --listen 127.0.0.1:0 \
    --zn-listen 127.0.0.1:0
expect_err "--db $DB: another imskms-bsfd holds this subscriber store" "second BSF"
run 0 "subscriber add while the BSF runs" "$B" subscriber add --db "$DB" --kek-file "$tmp/kek" \
    --impi 001010000000009@ims.example.org --impu sip:+15550009@ims.example.org --k $KEY --op $OP
# shellcheck disable=SC2046
run 0 "--check-config while the BSF runs" noclock "$D" $(DBX=$DB bsfd_args) --listen 127.0.0.1:0 \
    --zn-listen 127.0.0.1:0 --check-config
bsfd_stop
bsfd_start # the lock went with the first one
run 0 "bootstrap after the restart" "$B" ue bootstrap --bsf "http://localhost:$UB/" \
    --usim "$tmp/usim" --state "$tmp/ue"
bsfd_stop
finish errors
