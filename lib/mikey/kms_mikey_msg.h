/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MIKEY message protection: building (sealing) and verifying (opening) the PSK messages of
 * RFC 3830 (I_MESSAGE, R_MESSAGE) and the MIKEY-TICKET messages of RFC 6043 section 4.2
 * (REQUEST_INIT_PSK, REQUEST_RESP, TRANSFER_INIT, TRANSFER_RESP, RESOLVE_INIT_PSK,
 * RESOLVE_RESP, Error).
 *
 * Sealing: the caller fills a kms_mikey_msg in the RFC's payload order, with the KEMAC's key
 * data in plaintext and the MAC field (of V, or of KEMAC for an I_MESSAGE) as a placeholder of
 * the algorithm's length; kms_mikey_seal encrypts the key data with AES-CM, encodes, and writes
 * the MAC computed over the encoded bytes plus the extra coverage of RFC 6043 Table 5.2.
 *
 * Opening follows the receiver order of RFC 3830 section 5.3: decode; check the message's
 * shape; timestamp and replay check (a hook); look up the key (a callback); verify the MAC
 * over the bytes as received (constant time); let the replay hook remember the message;
 * decrypt the key data. Every failure after decoding that concerns authenticity is
 * KMS_ERR_AUTH (or TS_SKEW / REPLAY from the hook), so that a daemon answers them alike.
 */
#ifndef KMS_MIKEY_MSG_H
#define KMS_MIKEY_MSG_H

#include "crypto/kms_ossl.h"
#include "mikey/kms_mikey.h"
#include "mikey/kms_mikey_prf.h"

/* Private-use ticket types (RFC 6043 6.10 reserves 0xF000-0xFFFE), fixed in docs/protocol.md
 * section 6, all with Subtype 0x01 and Version 0x01. */
#define KMS_TICKET_TYPE_SEALED_KUE 0xF1A0u /* mode 3: the encrypted Kue */
#define KMS_TICKET_TYPE_KUE_REF    0xF1A1u /* mode 2: a 128-bit reference to a stored Kue */
#define KMS_TICKET_TYPE_MEDIA      0xF1A2u /* media keys for a responder */
#define KMS_MIKEY_TICKET_SUBTYPE   0x01u
#define KMS_MIKEY_TICKET_VERSION   0x01u

/* How the message keys are derived. */
enum kms_mikey_keying {
    KMS_MIKEY_KEYING_PSK_3830 = 1, /* RFC 3830 4.1.4: label with the I_MESSAGE's RAND */
    KMS_MIKEY_KEYING_INITIAL = 2,  /* RFC 6043 5.1, 0x01: *_INIT messages */
    KMS_MIKEY_KEYING_RESPONSE = 3, /* RFC 6043 5.1, 0x02: *_RESP messages */
};

/* Protection parameters shared by seal and open. */
struct kms_mikey_prot {
    enum kms_mikey_keying keying;
    /* The RANDs of the labels: for RFC 3830, ri is the I_MESSAGE's RAND; for RFC 6043,
     * RANDRi for Request and Transfer, RANDRr for Resolve (the other absent), as RFC 6043 5.1
     * says. When opening an *_INIT message they may be left empty: they are taken from the
     * message's RANDR payload (or RAND for RFC 3830). */
    struct kms_mikey_rands rands;
    enum kms_mikey_mac_alg mac_alg; /* for V, or the KEMAC of an I_MESSAGE */
    /* Appended to the MAC input after the message (RFC 6043 Table 5.2, RFC 3830 5.2): the
     * identities, or the whole initial message for a response. Borrowed. */
    const struct kms_iov *extra;
    size_t n_extra;
    /* Optional, RFC 6043 keying only: the key (the one given to kms_mikey_seal, or the one the
     * key callback returns to kms_mikey_verify) prepared for the PRF, for a caller that
     * verifies and seals under one key (kms_mikey_msg_keys_ticket_pk: prepared on its first
     * use, which comes after the replay check; checked against the key on every use). The
     * caller owns it and releases it with kms_mikey_prf_key_cleanup. */
    struct kms_mikey_prf_key *prepared;
};

/* Called before any key is used (RFC 3830 5.3 step 1): KMS_OK, or KMS_ERR_TS_SKEW /
 * KMS_ERR_REPLAY. `commit` is called only after the MAC verified. Either may be NULL. */
struct kms_mikey_replay_hook {
    kms_result (*check)(void *ctx, const struct kms_mikey_msg *m);
    kms_result (*commit)(void *ctx, const struct kms_mikey_msg *m);
    void *ctx;
};

/* Returns the key that protects m (PSK, or MPKi for a Transfer), found from what m carries
 * (IDRpsk, IDRi, ...). The key stays owned by the callback's owner and must live until
 * kms_mikey_open returns. KMS_ERR_AUTH when there is none. */
typedef kms_result (*kms_mikey_key_cb)(void *ctx, const struct kms_mikey_msg *m,
                                       const uint8_t **key, size_t *key_len);

struct kms_mikey_open_params {
    uint8_t data_type; /* the message expected */
    struct kms_mikey_prot prot;
    kms_mikey_key_cb get_key;
    void *key_ctx;
    const struct kms_mikey_replay_hook *replay; /* optional */
    /* For a response: the header of the request it answers; version, PRF and CSB ID must be
     * copied, and #CS and the map type too except in TRANSFER_RESP (RFC 6043 4.2). */
    const struct kms_mikey_hdr *request_hdr;
};

/* Seals m into out (appended). key/key_len: the PSK or MPKi. The KEMAC's encr_data must hold
 * the plaintext key data; it is encrypted with the KEMAC's encr_alg (NULL, AES-CM-128 or
 * AES-CM-256) under IV = f(salt, CSB ID, T of this message). m is left pointing at the
 * caller's plaintext again. KMS_ERR_ARG for a message whose last payload cannot carry the MAC
 * or whose MAC placeholder has the wrong length. */
KMS_MUST_CHECK kms_result kms_mikey_seal(struct kms_mikey_msg *m, const uint8_t *key,
                                         size_t key_len, const struct kms_mikey_prot *p,
                                         struct kms_buf *out);

/* Opens the message in [msg, msg+len). On success m is decoded (views into msg) and, when it
 * carries a KEMAC, keydata holds the decrypted key data (a secret buffer the caller
 * initialised with kms_buf_init(.., true)) and kd its decoded sub-payloads (views into
 * keydata). kd may be NULL, and keydata too for a message without KEMAC. Errors:
 * KMS_ERR_TRUNCATED/TRAILING/MALFORMED/TOO_LONG (with *err_off) for bytes that do not decode or a
 * message of the wrong shape; the hook's error; KMS_ERR_AUTH for an unknown key or a MAC that does
 * not verify; KMS_ERR_UNSUPPORTED for AES-KW. */
KMS_MUST_CHECK kms_result kms_mikey_open(const uint8_t *msg, size_t len,
                                         const struct kms_mikey_open_params *op,
                                         struct kms_mikey_msg *m, struct kms_buf *keydata,
                                         struct kms_mikey_keydata_list *kd, size_t *err_off);

/* kms_mikey_open after its first step: verifies m, which the caller decoded from exactly
 * [msg, msg+len) with kms_mikey_decode and checked with kms_mikey_check_shape (a server decodes a
 * request once, classifies it, then verifies it here). Same errors and outputs as
 * kms_mikey_open; KMS_ERR_ARG when m is not of op->data_type. */
KMS_MUST_CHECK kms_result kms_mikey_verify(const uint8_t *msg, size_t len,
                                           const struct kms_mikey_msg *m,
                                           const struct kms_mikey_open_params *op,
                                           struct kms_buf *keydata,
                                           struct kms_mikey_keydata_list *kd, size_t *err_off);

/* Checks that m has the payloads RFC 6043 4.2 (or RFC 3830 3.1) lists for its data type, in
 * that order, with the counts allowed; other known payloads are ignored, as RFC 6043 asks.
 * The payload carrying the MAC must be the last one. */
KMS_MUST_CHECK kms_result kms_mikey_check_shape(const struct kms_mikey_msg *m, size_t *err_off);

/* The ID data of the first IDR payload with the given role (1 IDRi, 2 IDRr, 3 IDRkms,
 * 4 IDRpsk), or an empty view. */
struct kms_bytes kms_mikey_idr(const struct kms_mikey_plist *l, uint8_t role);

/* NTP-UTC (RFC 3830 6.6: 32.32 fixed point seconds since 1900) for a Unix time. */
uint64_t kms_mikey_ntp_from_unix(int64_t sec, uint32_t nsec);
/* The current NTP-UTC time from the system clock. */
uint64_t kms_mikey_ntp_now(void);

#endif
