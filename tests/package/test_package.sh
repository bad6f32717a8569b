#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Install and package (issue 17), with what ships: the release preset (no test clock, prefix
# /usr) built in SRC/build-release.
#   1. cmake --install into a DESTDIR: every file where docs/deploy.md says;
#   2. docs/deploy.md followed in that DESTDIR: its `test:` blocks run as written (paths moved
#      into the DESTDIR, the service user replaced by nobody/nogroup, the BSF's name localhost
#      so that the KMS reaches it), the example configuration files filled in, --check-config,
#      both daemons started from the installed programs and files, and the loopback flow
#      (bootstrap, Kue, ticket request and resolve) run with the installed imskms;
#   3. systemd-analyze verify --man=no on copies of the units pointing into the DESTDIR;
#   4. cpack -G DEB: lintian reports no error, dpkg-deb lists what it should, the
#      dependencies come from shlibdeps.
# Usage: test_package.sh SRC
set -u
SRC=$1
REL="$SRC/build-release"
# shellcheck source=../cli/common.sh
. "$SRC/tests/cli/common.sh"
# shellcheck source=../integration/lib.sh
. "$SRC/tests/integration/lib.sh"
pids=""
trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

for tool in scdoc lintian systemd-analyze dpkg-deb cpack man; do
    command -v $tool >/dev/null || {
        echo "FAIL: $tool missing (scripts/deps.sh installs it)" >&2
        exit 1
    }
done

# ---- the release build ----
(cd "$SRC" && cmake --preset release >"$tmp/cmake.log" 2>&1 &&
    cmake --build --preset release -j2 >>"$tmp/cmake.log" 2>&1) || {
    echo "FAIL: the release build: $(tail -20 "$tmp/cmake.log")" >&2
    exit 1
}

# ---- 1. cmake --install into a DESTDIR ----
R="$tmp/root"
DESTDIR="$R" cmake --install "$REL" >"$tmp/install.log" 2>&1 || bad "cmake --install: $(tail -5 "$tmp/install.log")"
for f in usr/bin/imskms usr/sbin/imskms-bsfd usr/sbin/imskms-kmsd \
    lib/systemd/system/imskms-bsfd.service lib/systemd/system/imskms-kmsd.service \
    etc/imskms/bsfd.conf etc/imskms/kmsd.conf \
    usr/share/man/man1/imskms.1.gz usr/share/man/man8/imskms-bsfd.8.gz \
    usr/share/man/man8/imskms-kmsd.8.gz usr/share/man/man5/imskms.conf.5.gz \
    usr/share/doc/imskms/copyright usr/share/doc/imskms/changelog.gz \
    usr/share/doc/imskms/deploy.md usr/share/doc/imskms/README.md; do
    [ -f "$R/$f" ] && ok || bad "not installed: /$f"
done
[ -z "$(find "$R" -path '*/include/*' -o -name '*.a' -o -name 'test_*' -o -name 'bench_*')" ] && ok ||
    bad "installs what it should not: $(find "$R" -path '*/include/*' -o -name '*.a' -o -name 'test_*')"
# What ships has no test clock: the CLI does not even know its variable; the daemons (whose
# warning names it) are started below with it set and must neither warn nor move their clock.
if grep -q IMSKMS_TEST_NOW_FILE "$R/usr/bin/imskms"; then bad "imskms has the test clock"; else ok; fi
echo 1000000000 >"$tmp/now" # 2001: certificates would not be valid yet, Kues expired
ver=$("$R/usr/bin/imskms" --version)
for d in imskms-bsfd imskms-kmsd; do
    [ "$("$R/usr/sbin/$d" --version | sed 's/^[^ ]* //')" = "${ver#imskms }" ] && ok ||
        bad "$d --version is not imskms's ($ver)"
done
for m in "$R"/usr/share/man/man*/*.gz; do
    # man's own checks (groff warnings) on what scdoc made.
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" >/dev/null 2>"$tmp/man.err"
    [ ! -s "$tmp/man.err" ] && ok || bad "man $m: $(head -3 "$tmp/man.err")"
done
# Every option of a daemon is in its man page and in its example configuration.
for d in bsfd kmsd; do
    "$R/usr/sbin/imskms-$d" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u >"$tmp/opts-$d"
    zcat "$R/usr/share/man/man8/imskms-$d.8.gz" >"$tmp/man-$d"
    while read -r o; do
        grep -q -- "\\\\-\\\\-${o#--}\\|${o}" "$tmp/man-$d" || bad "imskms-$d(8) lacks $o"
        case "$o" in --help | --config | --check-config | --version) continue ;; esac
        grep -Eq "^#?${o#--} =" "$R/etc/imskms/$d.conf" || bad "etc/imskms/$d.conf lacks ${o#--}"
    done <"$tmp/opts-$d"
done

# ---- 2. docs/deploy.md, followed in the DESTDIR ----
# block NAME: the sh block after "<!-- test: NAME -->", with the DESTDIR's paths.
block() {
    awk -v tag="<!-- test: $1 -->" '
        $0 == tag { want = 1; next }
        want && /^```sh$/ { on = 1; next }
        on && /^```$/ { exit }
        on { print }' "$SRC/docs/deploy.md" |
        sed -e "s#/var/lib/imskms#$R/var/lib/imskms#g" -e "s#/etc/imskms#$R/etc/imskms#g" \
            -e 's/_imskms:_imskms/nobody:nogroup/g' -e 's/chgrp _imskms/chgrp nogroup/g' \
            -e 's/^BSF_FQDN=.*/BSF_FQDN=localhost/'
}
export PATH="$R/usr/bin:$R/usr/sbin:$PATH"
E="$R/etc/imskms"
for b in kek pki stores; do
    block $b >"$tmp/step-$b.sh"
    [ -s "$tmp/step-$b.sh" ] || bad "docs/deploy.md has no test: $b block"
    (cd "$E" && umask 077 && set -e && . "$tmp/step-$b.sh") >"$tmp/step.log" 2>&1 ||
        bad "deploy.md step $b: $(tail -5 "$tmp/step.log")"
done
# As root, in a directory of the service user's: the files made there are the service user's.
if [ "$(id -u)" = 0 ]; then
    left=$(find "$R/var/lib/imskms" -type f ! -user nobody)
    [ -z "$left" ] && ok || bad "deploy.md's stores step left files of root: $left"
fi
IMPI_B=001010000000002@ims.mnc001.mcc001.3gppnetwork.org
imskms subscriber add --db "$R/var/lib/imskms/subscribers.db" --kek-file "$E/kek" \
    --impi $IMPI_B --impu sip:+15550002@ims.example.org \
    --k 0396eb317b6d1c36f19c1c84cd6ffd16 --opc 53c15671c60a4b731c55b4a441c0bde2 >/dev/null ||
    bad "a second subscriber"

# The example files, with the required options set (the lines stay where they are).
conf() { # file key value: uncomments and sets key
    sed -i "s#^\\#\\?$2 = .*#$2 = $3#" "$1"
    grep -q "^$2 = $3\$" "$1" || bad "$1 has no line for $2"
}
B="$E/bsfd.conf"
conf "$B" db "$R/var/lib/imskms/subscribers.db"
conf "$B" listen 127.0.0.1:0
conf "$B" realm localhost
conf "$B" lifetime 3600
conf "$B" zn-listen 127.0.0.1:0
conf "$B" zn-cert "$E/bsf-zn.crt"
conf "$B" zn-key "$E/bsf-zn.key"
conf "$B" zn-client-ca "$E/zn-ca.crt"
# As the unit runs it: the KEK on the command line (there, the systemd credential).
if imskms-bsfd --config "$B" --kek-file "$E/kek" --check-config >"$tmp/check.log" 2>&1; then ok; else
    bad "bsfd --check-config: $(cat "$tmp/check.log")"
fi
IMSKMS_TEST_NOW_FILE="$tmp/now" imskms-bsfd --config "$B" --kek-file "$E/kek" 2>"$tmp/bsfd.log" &
bpid=$!
pids="$pids $bpid"
wait_log "$tmp/bsfd.log" 0 'zn listening' "$bpid"
UB=$(sed -n 's/.*ub listening on port \([0-9]*\).*/\1/p' "$tmp/bsfd.log")
ZN=$(sed -n 's/.*zn listening on port \([0-9]*\).*/\1/p' "$tmp/bsfd.log")
[ -n "$UB" ] && [ -n "$ZN" ] || {
    echo "FAIL: the installed BSF did not start: $(cat "$tmp/bsfd.log")" >&2
    exit 1
}
K="$E/kmsd.conf"
conf "$K" listen 127.0.0.1:0
conf "$K" fqdn kms.example.org
conf "$K" bsf-zn "https://localhost:$ZN"
conf "$K" zn-cert "$E/kms-zn.crt"
conf "$K" zn-key "$E/kms-zn.key"
conf "$K" zn-ca "$E/zn-ca.crt"
conf "$K" keyring "$R/var/lib/imskms/keyring"
conf "$K" state-db "$R/var/lib/imskms/state.db"
conf "$K" skew 2 # the release build has no test clock: wait out the restart window instead
if imskms-kmsd --config "$K" --kek-file "$E/kek" --check-config >"$tmp/check.log" 2>&1; then ok; else
    bad "kmsd --check-config: $(cat "$tmp/check.log")"
fi
IMSKMS_TEST_NOW_FILE="$tmp/now" imskms-kmsd --config "$K" --kek-file "$E/kek" 2>"$tmp/kmsd.log" &
kpid=$!
pids="$pids $kpid"
wait_log "$tmp/kmsd.log" 0 'kms listening' "$kpid"
KMS=$(sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p' "$tmp/kmsd.log")
[ -n "$KMS" ] || {
    echo "FAIL: the installed KMS did not start: $(cat "$tmp/kmsd.log")" >&2
    exit 1
}
sleep 3 # past start + skew
grep -q 'TEST CLOCK' "$tmp/bsfd.log" "$tmp/kmsd.log" && bad "a shipped daemon has the test clock" || ok

# The loopback flow with the installed CLI: two UEs (TS 35.208 test sets 1 and 2).
ue() { # name impi impu k opc
    imskms ue usim-init --usim "$tmp/$1.usim" --impi "$2" --impu "$3" --k "$4" --opc "$5" \
        >/dev/null && mkdir -p "$tmp/$1" &&
        imskms ue bootstrap --bsf "http://localhost:$UB/" --usim "$tmp/$1.usim" --state "$tmp/$1" \
            >"$tmp/out" 2>"$tmp/err" &&
        imskms ue kue --kms "http://127.0.0.1:$KMS" --kms-fqdn kms.example.org --mode 3 \
            --state "$tmp/$1" >"$tmp/out" 2>"$tmp/err"
}
if ue a 001010000000001@ims.mnc001.mcc001.3gppnetwork.org sip:+15550001@ims.example.org \
    465b5ce8b199b49faa5f0a2ee238a6bc cd63cb71954a9f4e48a5994e37a02baf; then ok; else
    bad "UE A: bootstrap and Kue: $(cat "$tmp/err")"
fi
if ue b $IMPI_B sip:+15550002@ims.example.org 0396eb317b6d1c36f19c1c84cd6ffd16 \
    53c15671c60a4b731c55b4a441c0bde2; then ok; else bad "UE B: bootstrap and Kue: $(cat "$tmp/err")"; fi
fa=$(imskms ue request --kms "http://127.0.0.1:$KMS" --peer sip:+15550002@ims.example.org \
    --state "$tmp/a" --out "$tmp/xfer" 2>"$tmp/err" | sed -n 's/^tgk_fingerprint=//p')
fb=$(imskms ue resolve --kms "http://127.0.0.1:$KMS" --ticket "$tmp/xfer" --state "$tmp/b" \
    2>>"$tmp/err" | sed -n 's/^tgk_fingerprint=//p')
[ -n "$fa" ] && [ "$fa" = "$fb" ] && ok || bad "request/resolve: '$fa' '$fb' $(cat "$tmp/err")"
for p in $kpid $bpid; do
    kill -TERM "$p"
    wait "$p"
    st=$?
    [ $st -eq 0 ] && ok || bad "SIGTERM: exit $st"
done
pids=""

# ---- 3. the units, verified by systemd ----
mkdir -p "$tmp/units"
for u in imskms-bsfd imskms-kmsd; do
    sed -e "s#/usr/sbin/#$R/usr/sbin/#" -e "s#/etc/imskms/#$E/#g" \
        "$R/lib/systemd/system/$u.service" >"$tmp/units/$u.service"
    grep -q "^ExecStart=$R/usr/sbin/$u --config $E/" "$tmp/units/$u.service" && ok ||
        bad "$u.service: ExecStart is not the installed program"
    grep -q '^Type=notify$' "$tmp/units/$u.service" && ok || bad "$u.service is not Type=notify"
done
if systemd-analyze verify --man=no "$tmp/units/imskms-bsfd.service" \
    "$tmp/units/imskms-kmsd.service" >"$tmp/verify.log" 2>&1; then ok; else
    bad "systemd-analyze verify: $(cat "$tmp/verify.log")"
fi
# verify passes with warnings too; it must have said nothing.
[ ! -s "$tmp/verify.log" ] && ok || bad "systemd-analyze verify warns: $(cat "$tmp/verify.log")"

# ---- 4. the .deb ----
(cd "$REL" && cpack -G DEB -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1) || bad "cpack: $(tail -5 "$tmp/cpack.log")"
deb=$(ls "$tmp"/pkg/imskms_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || {
    echo "FAIL: no .deb: $(tail -5 "$tmp/cpack.log")" >&2
    exit 1
}
lintian --fail-on error --no-tag-display-limit "$deb" >"$tmp/lintian.log" 2>&1
st=$?
[ $st -eq 0 ] && ok || bad "lintian (exit $st): $(grep '^E:' "$tmp/lintian.log" | head -10)"
grep '^[WI]:' "$tmp/lintian.log" | sed 's/^/lintian: /' # for the log, not a failure
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$tmp/contents"
for f in /usr/bin/imskms /usr/sbin/imskms-bsfd /usr/sbin/imskms-kmsd /etc/imskms/bsfd.conf \
    /etc/imskms/kmsd.conf /lib/systemd/system/imskms-bsfd.service \
    /lib/systemd/system/imskms-kmsd.service /usr/share/man/man8/imskms-kmsd.8.gz \
    /usr/share/man/man5/imskms.conf.5.gz /usr/share/doc/imskms/copyright \
    /usr/share/doc/imskms/changelog.gz; do
    grep -qx "$f" "$tmp/contents" && ok || bad "the .deb lacks $f"
done
grep -q '^/usr/etc' "$tmp/contents" && bad "the .deb has /usr/etc" || ok
dpkg-deb -f "$deb" Depends >"$tmp/depends"
for d in adduser libssl3 libmicrohttpd12 libsqlite3-0 libc6; do
    grep -q "$d" "$tmp/depends" && ok || bad "Depends lacks $d: $(cat "$tmp/depends")"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -tf - >"$tmp/control"
grep -q conffiles "$tmp/control" && grep -q postinst "$tmp/control" && ok ||
    bad "control files: $(cat "$tmp/control")"

finish "test_package.sh"
