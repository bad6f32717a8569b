#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 15 on loopback: imskms-bsfd and imskms-kmsd started from configuration files (a flag
# overrides the file); each kind of bad file refused with its FILE:LINE; --check-config passing
# a good file while the daemons run on the same ports and refusing a bad one (exit 2); --version;
# SIGHUP with a new Zn certificate in place (openssl s_client sees the new one) while a client
# loop runs (no request fails); SIGHUP with a broken certificate (still the old one, and why
# logged); SIGHUP raising the log level (debug lines appear) and logging what needs a restart;
# SIGTERM with a request in flight (it is answered, exit 0).
# Usage: test_config.sh IMSKMS IMSKMS_BSFD IMSKMS_KMSD SOURCE_DIR
set -u
B=$1
D=$2
K=$3
SRC=$4
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=lib.sh
. "$SRC/tests/integration/lib.sh"
pid=""
kpid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$kpid" ] && kill -9 "$kpid" 2>/dev/null; rm -rf "$tmp"' EXIT

# shellcheck source=bsfd_env.sh
. "$SRC/tests/integration/bsfd_env.sh"
bsfd_fixture "$SRC/tests/http/mkca.sh" 001010000000001@ims.example.org \
    sip:+15550001@ims.example.org 465b5ce8b199b49faa5f0a2ee238a6bc cdc202d5123e20f62b6d676ac72cb318

# A second Zn server certificate from the same CA (as tests/http/mkca.sh makes them).
server2() {
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "subjectAltName=DNS:localhost,IP:127.0.0.1" "extendedKeyUsage=serverAuth" >"$tmp/s2.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
        -subj "/CN=localhost" -keyout "$tmp/pki/server2.key" -out "$tmp/s2.csr" 2>/dev/null &&
        openssl x509 -req -in "$tmp/s2.csr" -CA "$tmp/pki/ca.crt" -CAkey "$tmp/pki/ca.key" \
            -set_serial 0x1234 -days 2 -sha256 -extfile "$tmp/s2.ext" \
            -out "$tmp/pki/server2.crt" 2>/dev/null
}
server2 || bad "second server certificate"
fpr_file() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
# The fingerprint of the certificate the Zn listener serves now.
fpr_served() {
    openssl s_client -connect "127.0.0.1:$ZN" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null
}

# ---- --version: one string for the three programs ----
v=$("$B" --version | sed 's/^imskms //')
[ -n "$v" ] && [ "$("$D" --version)" = "imskms-bsfd $v" ] && [ "$("$K" --version)" = "imskms-kmsd $v" ] &&
    ok || bad "--version: '$v', '$("$D" --version)', '$("$K" --version)'"

# ---- bad files: FILE:LINE: what, one line, exit 2 ----
bad_file() { # line what content...: --check-config on the file must say FILE:LINE: what
    _line=$1
    _what=$2
    shift 2
    printf '%s\n' "$@" >"$tmp/bad.conf"
    "$D" --config "$tmp/bad.conf" --check-config >"$tmp/out" 2>"$tmp/err"
    _st=$?
    if [ $_st -eq 2 ] && [ "$(cat "$tmp/err")" = "$tmp/bad.conf:$_line: $_what" ]; then
        ok
    else
        bad "bad file ($_what): exit $_st, stderr: $(cat "$tmp/err")"
    fi
}
long=$(head -c 5120 /dev/zero | tr '\0' 'x')
bad_file 3 "'db' given twice (first on line 1)" "db = $DB" "# $long" "db = $DB"
bad_file 2 "leading white space: continuation lines are not allowed" "db = $DB" "   .more"
bad_file 2 "unknown key 'listen-ub'" "[bsfd]" "listen-ub = 127.0.0.1:0"
bad_file 1 "section [kmsd]: the only section allowed here is [bsfd]" "[kmsd]" "db = $DB"
bad_file 1 "'config' is a command-line option only" "config = $tmp/other.conf"
bad_file 2 "expected key = value" "# fine" "db $DB"

# ---- a daemon started from a file; a flag overrides it ----
cat >"$tmp/bsfd.conf" <<EOF
# imskms-bsfd for the test
[bsfd]
db = $DB
kek-file = $tmp/kek
listen = 127.0.0.1:0
realm = localhost
lifetime = 3600
zn-listen = 127.0.0.1:0
zn-cert = $tmp/pki/server.crt
zn-key = $tmp/pki/server.key
zn-client-ca = $tmp/pki/ca.crt
log-level = error
EOF
start_from_file() { # extra options
    echo "--- start" >>"$tmp/bsfd.log"
    _m=$(log_mark "$tmp/bsfd.log")
    "$D" --config "$tmp/bsfd.conf" "$@" 2>>"$tmp/bsfd.log" &
    pid=$!
    wait_log "$tmp/bsfd.log" "$_m" 'zn listening' "$pid"
    UB=$(log_since "$tmp/bsfd.log" "$_m" | sed -n 's/.*ub listening on port \([0-9]*\).*/\1/p')
    ZN=$(log_since "$tmp/bsfd.log" "$_m" | sed -n 's/.*zn listening on port \([0-9]*\).*/\1/p')
}
# log-level = error in the file would hide the "listening" lines: the flag must win.
start_from_file --log-level info
[ -n "$UB" ] && [ -n "$ZN" ] && ok || bad "bsfd from a file did not start: $(tail -n 3 "$tmp/bsfd.log")"
st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$UB/healthz")
[ "$st" = 200 ] && ok || bad "bsfd from a file: healthz $st"

# ---- --check-config while it runs on the same ports ----
sed -e "s/^listen = .*/listen = 127.0.0.1:$UB/" -e "s/^zn-listen = .*/zn-listen = 127.0.0.1:$ZN/" \
    "$tmp/bsfd.conf" >"$tmp/same-ports.conf"
run 0 "check-config, the running daemon's ports" "$D" --config "$tmp/same-ports.conf" --check-config &&
    { [ "$(cat "$tmp/out")" = "imskms-bsfd: configuration ok" ] && ok || bad "check-config: $(cat "$tmp/out")"; }
"$D" --config "$tmp/same-ports.conf" --zn-key "$tmp/pki/naf.key" --check-config >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -eq 2 ] && grep -q "zn-key .*naf.key: is not the private key of --zn-cert" "$tmp/err" &&
    [ "$(wc -l <"$tmp/err")" -eq 1 ] && ok || bad "check-config, wrong key: exit $st: $(cat "$tmp/err")"
"$D" --config "$tmp/same-ports.conf" --kek-file "$tmp/nokek" --zn-cert "$tmp/nocert" \
    --check-config >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 2 ] && grep -q -- "--kek-file" "$tmp/err" &&
    grep -q -- "--zn-cert .*nocert: cannot be read" "$tmp/err" && ok ||
    bad "check-config, two problems: exit $st: $(cat "$tmp/err")"

# ---- SIGHUP: a new certificate while a client loop runs ----
old=$(fpr_served)
[ -n "$old" ] && [ "$old" = "$(fpr_file "$tmp/pki/server.crt")" ] && ok || bad "served before: $old"
loop() { # 60 requests over Zn, new connections each; every one must be answered (403 without
    # a client certificate) rather than fail
    _i=0
    while [ $_i -lt 60 ]; do
        curl -s -o /dev/null -w '%{http_code}\n' --cacert "$tmp/pki/ca.crt" \
            "https://localhost:$ZN/zn/v1/bootstrap-info" -X POST -d '{}' >>"$tmp/loop"
        _i=$((_i + 1))
    done
}
: >"$tmp/loop"
loop &
lpid=$!
# The reload while the loop runs: wait for its first answer (up to 30 s) rather than a fixed time.
i=0
while [ ! -s "$tmp/loop" ] && [ $i -lt 600 ]; do
    sleep 0.05
    i=$((i + 1))
done
cp "$tmp/pki/server2.crt" "$tmp/pki/server.crt"
cp "$tmp/pki/server2.key" "$tmp/pki/server.key"
m=$(log_mark "$tmp/bsfd.log")
kill -HUP "$pid"
wait_log "$tmp/bsfd.log" "$m" 'reload done' "$pid" && ok || bad "reload: $(log_since "$tmp/bsfd.log" "$m")"
wait "$lpid"
n=$(grep -c '^403$' "$tmp/loop")
[ "$n" -eq 60 ] && ok || bad "requests around the reload: $n of 60 answered: $(sort "$tmp/loop" | uniq -c)"
new=$(fpr_served)
[ "$new" = "$(fpr_file "$tmp/pki/server2.crt")" ] && [ "$new" != "$old" ] && ok ||
    bad "after SIGHUP: served $new, want $(fpr_file "$tmp/pki/server2.crt")"
kill -0 "$pid" 2>/dev/null && ok || bad "the daemon died on SIGHUP"

# ---- SIGHUP with a broken certificate: the old one serves on, and why is logged ----
echo "not a certificate" >"$tmp/pki/server.crt"
m=$(log_mark "$tmp/bsfd.log")
kill -HUP "$pid"
wait_log "$tmp/bsfd.log" "$m" 'reload failed' "$pid" && ok || bad "broken reload not logged"
expect_log "$tmp/bsfd.log" "$m" 'zn-cert .*server.crt: holds no PEM certificate or key' "broken reload"
[ "$(fpr_served)" = "$new" ] && ok || bad "after a failed reload: served $(fpr_served)"
cp "$tmp/pki/server2.crt" "$tmp/pki/server.crt"

# ---- SIGHUP: the log level (from the file), a setting that needs a restart ----
kill -TERM "$pid"
wait "$pid" && ok || bad "SIGTERM after the reloads"
sed -i 's/^log-level = .*/log-level = info/' "$tmp/bsfd.conf"
echo "max-sessions = 5000" >>"$tmp/bsfd.conf"
start_from_file
m=$(log_mark "$tmp/bsfd.log")
sed -i -e 's/^log-level = .*/log-level = debug/' -e 's/^max-sessions = .*/max-sessions = 6000/' \
    "$tmp/bsfd.conf"
kill -HUP "$pid"
wait_log "$tmp/bsfd.log" "$m" 'reload done' "$pid" && ok || bad "reload: $(log_since "$tmp/bsfd.log" "$m")"
expect_log "$tmp/bsfd.log" "$m" 'reload: log-level: info -> debug' "log level reload"
expect_log "$tmp/bsfd.log" "$m" 'reload: max-sessions: needs a restart (keeps 5000)' "restart note"
log_has "$tmp/bsfd.log" "$m" 'level=debug .*event=request' && bad "a debug line before any request" || ok
m=$(log_mark "$tmp/bsfd.log")
# A Zn request that names no NAF is logged at debug level only.
curl -s -o /dev/null --cacert "$tmp/pki/ca.crt" "https://localhost:$ZN/nowhere"
wait_log "$tmp/bsfd.log" "$m" 'level=debug .*zn from' "$pid" && ok ||
    bad "no debug line after the reload: $(log_since "$tmp/bsfd.log" "$m")"

# ---- SIGTERM with a request in flight: answered, then exit 0 ----
python3 - "$UB" "$tmp/inflight" <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\n")
open(sys.argv[2] + ".sent", "w").close()
time.sleep(1.5)  # the daemon gets SIGTERM meanwhile
s.sendall(b"abcd")
status = s.recv(4096).split(b"\r\n")[0].decode()
open(sys.argv[2], "w").write(status + "\n")
EOF
ppid=$!
i=0
while [ ! -f "$tmp/inflight.sent" ] && [ $i -lt 600 ]; do # up to 30 s (python3 under load)
    sleep 0.05
    i=$((i + 1))
done
sleep 0.2
kill -TERM "$pid"
wait "$pid"
st=$?
pid=""
wait "$ppid"
[ $st -eq 0 ] && ok || bad "SIGTERM with a request in flight: exit $st"
grep -q '^HTTP/1.1 [1-5][0-9][0-9]' "$tmp/inflight" && ok ||
    bad "the request in flight got no answer: $(cat "$tmp/inflight" 2>/dev/null)"

# ---- imskms-kmsd from a file: --check-config beside it, a reload ----
ZN_LISTEN=127.0.0.1:0
bsfd_start
cat >"$tmp/kmsd.conf" <<EOF
[kmsd]
listen = 127.0.0.1:0
fqdn = kms.example.org
bsf-zn = https://localhost:$ZN
zn-cert = $tmp/pki/naf.crt
zn-key = $tmp/pki/naf.key
zn-ca = $tmp/pki/ca.crt
keyring = $tmp/keyring
kek-file = $tmp/kek
state-db = $tmp/state.db
modes = 2,3
threads = 2
EOF
"$K" --config "$tmp/kmsd.conf" 2>>"$tmp/kmsd.log" &
kpid=$!
wait_log "$tmp/kmsd.log" 0 'kms listening' "$kpid"
KMS=$(sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p' "$tmp/kmsd.log")
[ -n "$KMS" ] && ok || bad "kmsd from a file: $(cat "$tmp/kmsd.log")"
sed "s/^listen = .*/listen = 127.0.0.1:$KMS/" "$tmp/kmsd.conf" >"$tmp/kmsd-same.conf"
run 0 "kmsd check-config beside it" "$K" --config "$tmp/kmsd-same.conf" --check-config
printf 'modes = 1,2,3\n' >>"$tmp/kmsd-same.conf"
run 2 "kmsd check-config, duplicate key" "$K" --config "$tmp/kmsd-same.conf" --check-config
grep -q "kmsd-same.conf:13: 'modes' given twice (first on line 11)" "$tmp/err" && ok ||
    bad "kmsd duplicate: $(cat "$tmp/err")"
m=$(log_mark "$tmp/kmsd.log")
sed -i -e 's/^modes = .*/modes = 3/' -e 's/^threads = .*/threads = 3/' "$tmp/kmsd.conf"
kill -HUP "$kpid"
wait_log "$tmp/kmsd.log" "$m" 'reload done' "$kpid" && ok || bad "kmsd reload: $(log_since "$tmp/kmsd.log" "$m")"
expect_log "$tmp/kmsd.log" "$m" 'reload: modes: 2,3 -> 3' "kmsd modes reload"
expect_log "$tmp/kmsd.log" "$m" 'reload: threads: needs a restart (keeps 2)' "kmsd restart note"
st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$KMS/healthz")
[ "$st" = 200 ] && ok || bad "kmsd after reload: healthz $st"
kill -TERM "$kpid"
wait "$kpid" && ok || bad "kmsd SIGTERM"
kpid=""
bsfd_stop

finish config
