#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Writes two mirrored SRTP session files (lib/ue/kms_media.h's format) with fresh random keys
# (openssl rand), for the media tests without a key exchange:
#   mk_media_session.sh POLICY DIR_A DIR_B [A_PORT B_PORT [A_SSRC B_SSRC [ROC]]]
# A's local stream is B's remote one and the other way round: A sends with cs 1 (SSRC A_SSRC,
# default 1111) and receives cs 2 (B_SSRC, default 2222). local_addr is 127.0.0.1:<own port>
# (default 5004 / 5006: the tests pass --listen / --remote themselves). Both directories are
# created 0700 and the files written 0600. ROC (default 0) is the initial ROC of both streams;
# A's stream starts at SEQ 1000, B's at SEQ 2000 (each side's remote_seq is the other's
# local_seq, as after a key exchange).
set -euo pipefail
pol=$1 a=$2 b=$3 pa=${4:-5004} pb=${5:-5006} sa=${6:-1111} sb=${7:-2222} roc=${8:-0}
case "$pol" in
  aes128-hmac80) kl=16 sl=14 ;;
  aes256-hmac80) kl=32 sl=14 ;;
  aes128-gcm) kl=16 sl=12 ;;
  *) echo "mk_media_session.sh: unknown policy '$pol'" >&2; exit 2 ;;
esac
hex() { openssl rand -hex "$1"; }
k1=$(hex $kl) s1=$(hex $sl) k2=$(hex $kl) s2=$(hex $sl)
# $1 dir, $2 local ssrc, $3 remote ssrc, $4 own port, $5 peer port, $6 local cs, then keys,
# then ${11} local seq and ${12} remote seq.
write() {
  local rcs=$(( $6 == 1 ? 2 : 1 ))
  mkdir -p -m 700 "$1"
  (umask 077; printf 'version=1\npolicy=%s\nlocal_ssrc=%s\nremote_ssrc=%s\nlocal_addr=127.0.0.1:%s\nremote_addr=127.0.0.1:%s\nlocal_cs_id=%s\nlocal_key=%s\nlocal_salt=%s\nlocal_roc=%s\nlocal_seq=%s\nremote_cs_id=%s\nremote_key=%s\nremote_salt=%s\nremote_roc=%s\nremote_seq=%s\n' \
    "$pol" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$roc" "${11}" "$rcs" "$9" "${10}" "$roc" "${12}" >"$1/srtp")
}
write "$a" "$sa" "$sb" "$pa" "$pb" 1 "$k1" "$s1" "$k2" "$s2" 1000 2000
write "$b" "$sb" "$sa" "$pb" "$pa" 2 "$k2" "$s2" "$k1" "$s1" 2000 1000
