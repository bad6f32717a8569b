#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Wire interop with Wireshark: MIKEY messages built and sealed by the project (test_mkmikey)
# are put in a pcap on UDP port 2269 with text2pcap and decoded by Debian's tshark, which must
# show every field with the value test_mkmikey expects and no malformed or expert mark.
#   - RFC 3830 I_MESSAGE and R_MESSAGE (HMAC-SHA-1): every field tshark decodes;
#   - RFC 6043 REQUEST_INIT_PSK and REQUEST_RESP: tshark 4.0 stops at the first RFC 6043-only
#     payload (TR, RANDR, TP, TICKET; protocol-facts.md section 6), so the header, T and what
#     comes before that payload (the IDRkms of REQUEST_RESP), and the Next Payload octets up to
#     the stop; the payloads are not reordered for it, the rest is the unit tests' business.
# tshark and text2pcap are installed by scripts/deps.sh: their absence is a failure.
#
# usage: test_tshark.sh PATH/TO/test_mkmikey
set -u
MK=${1:?usage: test_tshark.sh PATH/TO/test_mkmikey}
LC_ALL=C
TZ=UTC
export LC_ALL TZ

passes=0
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { passes=$((passes + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }
finish() {
    echo "interop_tshark: $passes passed, $fails failed"
    [ "$fails" -eq 0 ]
    exit $?
}

for tool in tshark text2pcap; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        bad "$tool not found: run scripts/deps.sh (it installs tshark and wireshark-common)"
    fi
done
[ "$fails" -eq 0 ] || finish
echo "note: $(tshark --version 2>/dev/null | head -n 1)"

# NTP-UTC (RFC 3830 6.6, 32.32 fixed point since 1900) as tshark 4.0 prints an absolute UTC
# time: "May  6, 2024 07:08:09.250000000 UTC". The nanoseconds are the fraction truncated; the
# fixed timestamps test_mkmikey uses have fractions exact in nanoseconds (0.25, 0.5), so
# truncation and rounding agree and the comparison does not depend on tshark's choice.
ntp_to_tshark() { # 0xHHHHHHHHLLLLLLLL
    h=${1#0x}
    hi=$(printf '%s' "$h" | cut -c1-8)
    lo=$(printf '%s' "$h" | cut -c9-16)
    secs=$((0x$hi - 2208988800))
    ns=$(((0x$lo * 1000000000) >> 32))
    printf '%s.%09d UTC' "$(date -u -d "@$secs" '+%b %e, %Y %H:%M:%S')" "$ns"
}

check_msg() { # name
    w=$1
    if ! "$MK" "$w" --od >"$tmp/$w.od" 2>"$tmp/err" || ! "$MK" "$w" --expect >"$tmp/$w.raw" 2>>"$tmp/err"; then
        bad "$w: test_mkmikey failed: $(cat "$tmp/err")"
        return
    fi
    if ! text2pcap -q -u 40000,2269 "$tmp/$w.od" "$tmp/$w.pcap" >"$tmp/err" 2>&1; then
        bad "$w: text2pcap failed: $(cat "$tmp/err")"
        return
    fi
    # Notes (lines starting with '#'), then the expectations, the NTP value in tshark's form.
    sed -n 's/^# /note: '"$w"': /p' "$tmp/$w.raw"
    : >"$tmp/$w.exp"
    grep -v '^#' "$tmp/$w.raw" | while IFS= read -r line; do
        name=${line%%=*}
        val=${line#*=}
        if [ "$name" = mikey.t.ntp ]; then
            val=$(ntp_to_tshark "$val")
        fi
        printf '%s=%s\n' "$name" "$val"
    done >"$tmp/$w.exp"
    set --
    while IFS= read -r line; do
        set -- "$@" -e "${line%%=*}"
    done <"$tmp/$w.exp"
    if ! tshark -r "$tmp/$w.pcap" -T fields -E header=y -E separator=/t -E occurrence=a \
        -E aggregator=, -e frame.protocols -e _ws.malformed -e _ws.expert.severity \
        -e _ws.expert.message "$@" >"$tmp/$w.tsv" 2>"$tmp/err"; then
        bad "$w: tshark failed: $(cat "$tmp/err")"
        return
    fi
    # One packet: a header line and one value line.
    if [ "$(wc -l <"$tmp/$w.tsv")" -ne 2 ]; then
        bad "$w: tshark printed $(($(wc -l <"$tmp/$w.tsv") - 1)) packets, expected 1"
        return
    fi
    # name<TAB>value, one line per column, for lookups
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; n = NF; next }
                NR == 2 { for (i = 1; i <= n; i++) print h[i] "\t" $i }' "$tmp/$w.tsv" \
        >"$tmp/$w.got"
    got() { awk -F'\t' -v k="$1" '$1 == k { print $2; exit }' "$tmp/$w.got"; }

    protos=$(got frame.protocols)
    case "$protos" in
    *:udp:mikey) ok "$w: dissected as MIKEY on UDP 2269 ($protos)" ;;
    *) bad "$w: frame.protocols is '$protos', expected ...:udp:mikey" ;;
    esac
    m=$(got _ws.malformed)
    s=$(got _ws.expert.severity)
    e=$(got _ws.expert.message)
    if [ -z "$m" ] && [ -z "$s" ] && [ -z "$e" ]; then
        ok "$w: no malformed mark, no expert info"
    else
        bad "$w: tshark marks: malformed='$m' expert severity='$s' message='$e'"
    fi
    while IFS= read -r line; do
        name=${line%%=*}
        want=${line#*=}
        have=$(got "$name")
        if [ "$have" = "$want" ]; then
            ok "$w: $name = $want"
        else
            bad "$w: $name: tshark shows '$have', expected '$want'"
        fi
    done <"$tmp/$w.exp"
}

for w in i_message r_message request_init request_resp; do
    check_msg "$w"
done
finish
