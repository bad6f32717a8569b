/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_media: what a call's media plane needs from the key exchange, in one place.
 *
 *  - The SRTP policies we offer (docs/media.md): their RFC 3830 6.10.1 security-policy
 *    parameters (with RFC 6188's 256-bit AES-CM and RFC 7714 14.3/15's AES-GCM), their master
 *    key and salt lengths, and their RFC 4568 crypto-suite names.
 *  - The session file `DIR/srtp` (mode 0600 in a 0700 directory) that `imskms ue answer` (the
 *    callee) and `imskms ue accept` (the caller) write and the RTP commands read: one
 *    "name=value\n" line each, in this order, nothing after:
 *      version=1
 *      policy=<policy name>
 *      local_ssrc=<decimal>      our sending stream
 *      remote_ssrc=<decimal>     the peer's stream, the one we receive
 *      local_addr=<ADDR>         where we receive RTP (the port of our m= line)
 *      remote_addr=<ADDR>        where the peer receives RTP
 *      local_cs_id=<1|2>         our stream's crypto session in the TRANSFER_INIT/RESP
 *      local_key=<hex>  local_salt=<hex>  local_roc=<decimal>  local_seq=<decimal>
 *      remote_cs_id=<1|2>
 *      remote_key=<hex> remote_salt=<hex> remote_roc=<decimal> remote_seq=<decimal>
 *    ADDR is IPV4:PORT or [IPV6]:PORT (numeric, PORT 1..65535). key and salt are the SRTP
 *    master key and master salt of the stream (the TEK and salt of RFC 6043 5.1.3 for its
 *    crypto session), roc and seq the initial rollover counter and sequence number of the
 *    crypto session's Session Data (RFC 3830 6.1.1), moved on by the RTP commands (local: the
 *    next index rtp-send will use; remote: the index after the highest rtp-recv authenticated,
 *    the first a later run accepts; docs/media.md). Decimals have one spelling each
 *    (kms_dec_decode_u64); the two cs ids differ, and so do the two SSRCs.
 *  - The session fingerprint both sides print (`srtp_fingerprint=`): the first 8 octets of
 *    SHA-256 over the master keys and salts in crypto-session order, key || salt of CS 1 then of
 *    CS 2, equal on both sides when the keys agree.
 *
 * The master keys are secrets: wipe a struct kms_media_session with kms_media_session_wipe.
 */
#ifndef KMS_UE_MEDIA_H
#define KMS_UE_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "util/kms_buf.h"

#define KMS_MEDIA_KEY_MAX     32 /* AES-256 master key */
#define KMS_MEDIA_SALT_MAX    14 /* AES-CM master salt (AES-GCM's is 12) */
#define KMS_MEDIA_ADDR_MAX    64 /* "[IPv6]:port" with NUL fits */
#define KMS_MEDIA_FP_LEN      8
#define KMS_MEDIA_SESSION_MAX 2048 /* the largest session file image we read */
/* The largest SRTP packet index, ROC || SEQ (RFC 3711 3.3.1: 48 bits). */
#define KMS_MEDIA_INDEX_MAX ((UINT64_C(1) << 48) - 1)

enum kms_srtp_policy_id {
    KMS_SRTP_AES128_HMAC80 = 1, /* the default */
    KMS_SRTP_AES256_HMAC80 = 2,
    KMS_SRTP_AES128_GCM = 3,
};

/* One SRTP policy. The RFC 3830 6.10.1 parameter values are those the SP payload carries. */
struct kms_srtp_policy {
    enum kms_srtp_policy_id id;
    const char *name;     /* our name: --policy and policy= */
    const char *suite;    /* RFC 4568 / RFC 6188 / RFC 7714 crypto-suite name */
    uint8_t enc_alg;      /* type 0: 1 AES-CM (RFC 3830 Table 6.10.1.b), 6 AES-GCM (RFC 7714) */
    uint8_t key_len;      /* type 1: session encryption key length = master key length */
    uint8_t auth_alg;     /* type 2: 1 HMAC-SHA-1 (Table 6.10.1.c), 0 NULL for AEAD */
    uint8_t auth_key_len; /* type 3: 20 for HMAC-SHA-1, 0 for AEAD */
    uint8_t salt_len;     /* type 4: session salt key length = master salt length */
    uint8_t auth_tag_len; /* type 11: 10 (80 bits); 0 for AEAD (not sent) */
    uint8_t aead_tag_len; /* type 20 (RFC 7714 14.3): 16 for AES-GCM; 0 otherwise */
};

/* The policy called name, or NULL. */
const struct kms_srtp_policy *kms_srtp_policy_by_name(const char *name);
/* The policy with this id, or NULL. */
const struct kms_srtp_policy *kms_srtp_policy_by_id(enum kms_srtp_policy_id id);
/* The default policy (aes128-hmac80). */
const struct kms_srtp_policy *kms_srtp_policy_default(void);

/* The SP payload parameters of policy p (RFC 3830 6.10.1 Type || Length || Value triples; SP
 * policy_no and Prot type SRTP are the caller's): types 0 (encryption algorithm), 1 (session
 * encryption key length), 2 (authentication algorithm), 3 (session authentication key length,
 * HMAC only), 4 (session salt key length), 11 (authentication tag length, HMAC only), 20 (AEAD
 * authentication tag length, RFC 7714 14.3; AES-GCM only). At most KMS_SRTP_SP_MAX octets. */
#define KMS_SRTP_SP_MAX 32
KMS_MUST_CHECK kms_result kms_srtp_policy_sp_encode(const struct kms_srtp_policy *p, uint8_t *out,
                                                    size_t cap, size_t *len);
/* The policy an SP payload's parameters (borrowed, untrusted) describe. Types not sent take
 * their RFC 3830 6.10.1 defaults (AES-CM, 16-octet key, HMAC-SHA-1, 20-octet auth key, 14-octet
 * salt, 10-octet tag; with AES-GCM: no HMAC, a 12-octet salt and a 16-octet AEAD tag, RFC 7714
 * 14.3/15); types 5 (SRTP PRF), 6 (key derivation rate), 9 (FEC order) and 12 (prefix length)
 * must be 0 and 7, 8, 10 (SRTP/SRTCP encryption, SRTP authentication) 1 when sent. Each type at
 * most once, each value one octet. KMS_ERR_UNSUPPORTED when the result is none of our policies
 * (or an unknown type appears); KMS_ERR_MALFORMED / KMS_ERR_TRUNCATED for bytes that do not
 * parse. */
KMS_MUST_CHECK kms_result kms_srtp_policy_sp_decode(const uint8_t *params, size_t len,
                                                    const struct kms_srtp_policy **p);

/* One direction of a session. */
struct kms_media_stream {
    uint8_t cs_id; /* 1 or 2 */
    uint32_t ssrc;
    uint8_t key[KMS_MEDIA_KEY_MAX];   /* master key, policy->key_len octets */
    uint8_t salt[KMS_MEDIA_SALT_MAX]; /* master salt, policy->salt_len octets */
    uint32_t roc;
    uint16_t seq;
};

struct kms_media_session {
    const struct kms_srtp_policy *policy;
    char local_addr[KMS_MEDIA_ADDR_MAX];
    char remote_addr[KMS_MEDIA_ADDR_MAX];
    struct kms_media_stream local;  /* what we send */
    struct kms_media_stream remote; /* what we receive */
};

/* Splits ADDR (IPV4:PORT or [IPV6]:PORT, numeric, PORT from min_port to 65535: 1 for a session
 * file's addresses, 0 for a listen address taking any free port) into host (without brackets)
 * and port. KMS_ERR_MALFORMED for anything else. */
KMS_MUST_CHECK kms_result kms_media_addr_split(const char *addr, uint16_t min_port, char *host,
                                               size_t host_cap, uint16_t *port);

/* Checks s as the session file rules above require (policy set, cs ids 1 and 2 in some order,
 * distinct SSRCs, addresses well formed). KMS_ERR_ARG when they do not hold. */
KMS_MUST_CHECK kms_result kms_media_session_check(const struct kms_media_session *s);

/* Appends the session file image of s to out (create out secret). */
KMS_MUST_CHECK kms_result kms_media_session_encode(const struct kms_media_session *s,
                                                   struct kms_buf *out);
/* Parses a session file image (borrowed), exactly the lines above. KMS_ERR_UNSUPPORTED for
 * another version or an unknown policy; KMS_ERR_MALFORMED, KMS_ERR_TRUNCATED, KMS_ERR_TOO_LONG,
 * KMS_ERR_TRAILING, KMS_ERR_BAD_HEX or KMS_ERR_BAD_LENGTH for anything else (a key or salt not
 * of the policy's length, a rule above broken). s is wiped on failure. */
KMS_MUST_CHECK kms_result kms_media_session_decode(const uint8_t *p, size_t n,
                                                   struct kms_media_session *s);

/* Writes DIR/srtp atomically (0600); DIR exists (the CLI creates it 0700, ue_dir). s must pass
 * kms_media_session_check. */
KMS_MUST_CHECK kms_result kms_media_session_save(const char *dir,
                                                 const struct kms_media_session *s);
/* Reads DIR/srtp (it must be owner-only). KMS_ERR_NOT_FOUND when there is none. */
KMS_MUST_CHECK kms_result kms_media_session_load(const char *dir, struct kms_media_session *s);

/* The session fingerprint (see above). */
KMS_MUST_CHECK kms_result kms_media_fingerprint(const struct kms_media_session *s,
                                                uint8_t fp[KMS_MEDIA_FP_LEN]);

/* The SRTP master key (TEK) and master salt of crypto session cs_id from the TGK (RFC 6043
 * 5.1.3, PRF-HMAC-SHA-256 of the HDR): PRF(TGK, constant || CS ID || 0xFFFFFFFF || 0x03 ||
 * len RANDRi || RANDRi || len RANDRr || RANDRr), the constants of RFC 3830 4.1.3 (TEK
 * 0x2AD01C64, salt 0x39A2C14B), of p's key_len and salt_len octets, into st->key and st->salt
 * (st->cs_id set; the rest of st untouched). Both RANDs are used (ticket flags H = 1, G = 1):
 * each 1..255 octets. The key data of our KMS carries no salt (a TGK sub-payload, type 0), so
 * the salt is always derived. Wiped on failure. */
KMS_MUST_CHECK kms_result kms_media_derive(const uint8_t *tgk, size_t tgk_len,
                                           const struct kms_srtp_policy *p, uint8_t cs_id,
                                           const uint8_t *randri, size_t randri_len,
                                           const uint8_t *randrr, size_t randrr_len,
                                           struct kms_media_stream *st);

void kms_media_session_wipe(struct kms_media_session *s);

#endif
