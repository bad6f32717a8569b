/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_msgkit: the building blocks the KMS's message modules (kms_kue_msg, kms_ticket_msg) share
 * to assemble and read MIKEY-TICKET messages. Internal to lib/kms.
 */
#ifndef KMS_KMS_MSGKIT_H
#define KMS_KMS_MSGKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "mikey/kms_mikey_msg.h"

static inline struct kms_bytes kms_mk_bytes(const void *p, size_t n)
{
    return (struct kms_bytes){(const uint8_t *)p, n};
}

/* Big-endian 64-bit fields (NTP-UTC timestamps in Key Validity intervals). */
static inline void kms_mk_put_be64(uint8_t b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static inline uint64_t kms_mk_get_be64(const uint8_t b[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

/* Appends a zeroed payload of `type` to m's body (the caller keeps within the body's cap). */
struct kms_mikey_payload *kms_mk_add(struct kms_mikey_msg *m, uint8_t type);

/* ID type: a URI for sip:/sips:/tel: identities (RFC 3830 6.7 type 1), an NAI otherwise (0). */
uint8_t kms_mk_id_type(const char *id);

/* Appends an IDR payload (RFC 6043 6.6) of `role` and `type` naming id (borrowed). */
void kms_mk_idr(struct kms_mikey_msg *m, uint8_t role, uint8_t type, const char *id);

/* Copies an identity out of an IDR payload into out (cap bytes, NUL-terminated): 1 to cap - 1
 * octets of printable ASCII without space, else KMS_ERR_MALFORMED. */
KMS_MUST_CHECK kms_result kms_mk_copy_id(struct kms_bytes b, char *out, size_t cap);

/* Decodes msg into m and checks that it is of data type dt and has its RFC 6043 shape (the
 * first steps of every peek; err_off as kms_mikey_decode sets it). */
KMS_MUST_CHECK kms_result kms_mk_decode(const uint8_t *msg, size_t len, uint8_t dt,
                                        struct kms_mikey_msg *m, size_t *err_off);

/* The protection of the KMS's answer to a request carrying rand (RFC 6043 5.1: the response
 * label 0x02 with RANDRi of a ticket request or Kue issue, RANDRr of a resolve), with
 * HMAC-SHA-256-256 and no extra coverage: its responses add the request as coverage, its policy
 * refusals (an Error with V) do not. */
struct kms_mikey_prot kms_mk_answer_prot(const uint8_t *rand, size_t rand_len, bool resolve);

/* The KEMAC of every KMS answer encrypts 256-bit keys (Kue, MPK, TGK) with AES-CM-256 (RFC 6043
 * 6.2, RFC 3830 6.2): KMS_ERR_UNSUPPORTED for an opened message whose KEMAC uses another
 * algorithm (a UE accepts no weaker wrapping than the KMS sends). */
KMS_MUST_CHECK kms_result kms_mk_check_kemac(const struct kms_mikey_msg *m);

/* How a message under a fixed 32-octet key (PSK, Ks_NAF, Kue, MPK) is opened. */
struct kms_mk_open {
    uint8_t data_type;
    struct kms_mikey_prot prot;
    const uint8_t *key;                         /* 32 octets */
    const struct kms_mikey_replay_hook *replay; /* optional */
    const struct kms_mikey_hdr *request_hdr;    /* a response: the request's header */
};

/* The one fixed-key open of lib/kms: decodes msg into m, then verifies it (kms_mk_verify). For
 * the messages a UE reads (responses, Errors). keydata and kd as kms_mikey_open takes them (NULL
 * for a message without KEMAC). */
KMS_MUST_CHECK kms_result kms_mk_open(const uint8_t *msg, size_t len, const struct kms_mk_open *o,
                                      struct kms_mikey_msg *m, struct kms_buf *keydata,
                                      struct kms_mikey_keydata_list *kd);

/* Verifies m, msg as the KMS's classifier (or kms_mk_decode) already decoded and shape-checked
 * it, under o's fixed key: nothing is decoded again. */
KMS_MUST_CHECK kms_result kms_mk_verify(const uint8_t *msg, size_t len, const struct kms_mk_open *o,
                                        const struct kms_mikey_msg *m, struct kms_buf *keydata,
                                        struct kms_mikey_keydata_list *kd);

/* Verifies a decoded initial message without KEMAC (REQUEST_INIT_PSK, RESOLVE_INIT_PSK,
 * TRANSFER_INIT): the initial label with the RAND it carries (RFC 6043 5.1), V under key over
 * the message || id1 || id2 (RFC 6043 Table 5.2), the replay hook (may be NULL) as
 * kms_mikey_open calls it. pk (optional): key prepared for the PRF, as kms_mikey_prot's
 * `prepared` (the answer's seal then reuses it). */
KMS_MUST_CHECK kms_result kms_mk_verify_init(const uint8_t *msg, size_t len,
                                             const struct kms_mikey_msg *m, const char *id1,
                                             const char *id2, const uint8_t key[32],
                                             struct kms_mikey_prf_key *pk,
                                             const struct kms_mikey_replay_hook *replay);

#endif
