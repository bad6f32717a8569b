/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_srtp: SRTP (RFC 3711; RTP only, no SRTCP) for one call's two streams, keyed from the
 * session file DIR/srtp (ue/kms_media.h), over libsrtp2.
 *
 * Why libsrtp2 rather than our own SRTP (design.md section 3 style: take the mature, audited,
 * interoperable implementation): it is the SRTP of most SIP and WebRTC stacks, so what we send
 * is what the rest of the world decrypts; its replay database, ROC estimation and AES-GCM
 * packet layout (RFC 7714) are exercised by every one of those users; and a media plane is
 * where a home-made cipher mode would be both slowest and least reviewed. Debian's
 * libsrtp2-dev 2.5.0 is built with NSS as its crypto backend; all three of our policies work
 * with it (AES-CM-128 and -256 with HMAC-SHA1-80, AES-GCM-128 with a 16-octet tag).
 *
 * Policies: aes128-hmac80 -> srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80, aes256-hmac80 ->
 * srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, aes128-gcm ->
 * srtp_crypto_policy_set_aes_gcm_128_16_auth. The master key is the stream's key || salt
 * (16 + 14, 32 + 14 and 16 + 12 octets), the initial ROC is set with srtp_set_stream_roc (libsrtp
 * applies it to the first packet of the stream) and the initial SEQ is the sender's to use (the
 * receiver's replay window starts at the first packet it accepts).
 *
 * A receiver's session remote ROC || SEQ is its floor: the first index it accepts. An index
 * below is a replay (an earlier receiver on the session authenticated it, or it precedes the
 * stream), refused before libsrtp sees it: libsrtp's replay list starts empty in every process.
 * The first packet's index is estimated from there (RFC 3711 3.3.1, forward only: see
 * kms_srtp_unprotect); kms_srtp_rx_position then gives the index after the highest one
 * authenticated, the next receiver's floor.
 *
 * A sender holds one stream, the session's local SSRC. A receiver holds the session's remote
 * key twice: for remote_ssrc (with its initial ROC) and for any other inbound SSRC
 * (ssrc_any_inbound), so that a packet under another key is an authentication failure whatever
 * its SSRC; a packet that authenticates under our key but carries another SSRC than
 * remote_ssrc is then refused (KMS_ERR_POLICY, counted in other_ssrc) and the stream libsrtp
 * cloned for it removed at once (so a peer cycling SSRCs cannot grow our memory).
 *
 * Refusals of kms_srtp_unprotect and the libsrtp status codes behind them:
 *   replays        srtp_err_status_replay_fail (index already seen in the window) and
 *                  srtp_err_status_replay_old (index older than the window), and an index
 *                  of remote_ssrc below the floor: KMS_ERR_REPLAY
 *   auth_failures  every other status: auth_fail (HMAC or GCM tag), bad_param (shorter than a
 *                  header, CSRC or extension beyond the end), cipher_fail, pkt_idx_old /
 *                  pkt_idx_adv, no_ctx, key_expired, ...; and a packet that authenticates but
 *                  whose RTP header kms_rtp_read refuses (another payload type, bad padding):
 *                  KMS_ERR_AUTH
 *   other_ssrc     authenticated under our key, SSRC other than remote_ssrc: KMS_ERR_POLICY
 * libsrtp checks the replay window before the tag, and adds an index to it only after the tag
 * verified: a forged packet never moves the window, and a packet under another key counts as an
 * authentication failure, never as a replay.
 *
 * Secrets. The key || salt buffer we build for srtp_create is wiped (kms_wipe) before
 * kms_srtp_new returns. libsrtp 2.5.0 (srtp/srtp.c, srtp_stream_init_keys) copies the master
 * key into its key-derivation context, derives the session keys into the cipher and HMAC
 * contexts (NSS PK11SymKey objects and context structs) and the session salt into the stream,
 * then zeroes the derivation context and every temporary key (octet_string_set_to_zero). It
 * keeps the session keys and salts, not the master key. srtp_dealloc (kms_srtp_free) frees the
 * NSS key objects (PK11_FreeSymKey) and zeroes the cipher and HMAC contexts and the salts
 * (aes_icm_nss.c, aes_gcm_nss.c, hmac_nss.c, srtp_stream_dealloc) before freeing them.
 *
 * Processing is in place in the caller's buffer: no allocation per packet.
 */
#ifndef KMS_SRTP_SRTP_H
#define KMS_SRTP_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "srtp/kms_rtp.h"
#include "ue/kms_media.h"

/* Room a protected packet needs after the RTP packet: the largest tag of our policies (16,
 * AES-GCM; HMAC-SHA1-80's is 10). No MKI. */
#define KMS_SRTP_TRAILER_MAX 16

enum kms_srtp_dir {
    KMS_SRTP_SEND = 1, /* protect with the session's local stream */
    KMS_SRTP_RECV = 2, /* unprotect with the session's remote stream */
};

struct kms_srtp_counters {
    uint64_t packets;       /* protected, or unprotected and accepted */
    uint64_t bytes;         /* RTP payload octets of those packets */
    uint64_t auth_failures; /* see above */
    uint64_t replays;
    uint64_t other_ssrc;
};

struct kms_srtp;

/* srtp_init, once per process (later calls do nothing); KMS_ERR_CRYPTO when it fails (the
 * backend's self-tests included). */
KMS_MUST_CHECK kms_result kms_srtp_init(void);
/* srtp_shutdown, once kms_srtp_init succeeded and every context is freed (at exit). */
void kms_srtp_shutdown(void);
/* libsrtp's version string, e.g. "libsrtp2 2.5.0". */
const char *kms_srtp_version(void);

/* A sender or receiver context from a session (kms_media_session_check must hold).
 * KMS_ERR_UNSUPPORTED when libsrtp refuses the policy, KMS_ERR_CRYPTO for another failure. */
KMS_MUST_CHECK kms_result kms_srtp_new(const struct kms_media_session *s, enum kms_srtp_dir dir,
                                       struct kms_srtp **out);
/* srtp_dealloc (see Secrets above). NULL does nothing. */
void kms_srtp_free(struct kms_srtp *c);

/* Protects the RTP packet pkt[0..len) in place (a sender; its SSRC must be the session's local
 * one) into pkt[0..*out_len); cap is the buffer's size, at least len + KMS_SRTP_TRAILER_MAX.
 * KMS_ERR_ARG for a short buffer, another SSRC or a receiver context; KMS_ERR_MALFORMED for a
 * packet kms_rtp_read refuses; KMS_ERR_CRYPTO when libsrtp fails. */
KMS_MUST_CHECK kms_result kms_srtp_protect(struct kms_srtp *c, uint8_t *pkt, size_t len, size_t cap,
                                           size_t *out_len);

/* Unprotects the SRTP packet pkt[0..len) in place (a receiver) and reads its RTP header, which
 * must carry payload type want_pt: h views the payload inside pkt. KMS_ERR_AUTH, KMS_ERR_REPLAY
 * or KMS_ERR_POLICY as above (each counted); KMS_ERR_ARG for a sender context. */
KMS_MUST_CHECK kms_result kms_srtp_unprotect(struct kms_srtp *c, uint8_t *pkt, size_t len,
                                             uint8_t want_pt, struct kms_rtp_hdr *h);

const struct kms_srtp_counters *kms_srtp_counters(const struct kms_srtp *c);

/* A receiver: the packet index (ROC || SEQ, RFC 3711 3.3.1's estimate, the one libsrtp
 * authenticated it under) of the packet the last successful kms_srtp_unprotect accepted; 0
 * before any. For putting received payloads in sequence order. */
uint64_t kms_srtp_last_index(const struct kms_srtp *c);

/* A receiver's position for the next one: the ROC and SEQ of the index after the highest
 * packet index of remote_ssrc that authenticated under this context (whose ROC is checked
 * against libsrtp's srtp_get_stream_roc). Saved as the session's remote_roc / remote_seq, it
 * is the next receiver's floor and where it estimates its first packet from (RFC 3711 3.3.1's
 * ROC and s_l; kms_srtp_unprotect). KMS_ERR_NOT_FOUND when no packet authenticated yet,
 * KMS_ERR_ARG for a sender context, KMS_ERR_INTERNAL when libsrtp's ROC differs,
 * KMS_ERR_KEY_SPENT when the highest index is KMS_MEDIA_INDEX_MAX. */
KMS_MUST_CHECK kms_result kms_srtp_rx_position(const struct kms_srtp *c, uint32_t *roc,
                                               uint16_t *seq);

#endif
