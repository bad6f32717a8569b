/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_kue_msg: the Kue-issue exchange of design.md section 2 (modes 2 and 3), both sides.
 *
 * The UE asks with a REQUEST_INIT_PSK keyed by Ks_NAF:
 *   HDR (PRF-HMAC-SHA-256, random CSB ID, Empty map), T (NTP-UTC), RANDRi (16 octets),
 *   IDRi (the IMPI or one of the IMPUs), IDRkms (the KMS FQDN), TP (ticket type 0xF1A0 for a
 *   sealed Kue, 0xF1A1 for a Kue reference), IDRpsk (the B-TID), V (HMAC-SHA-256-256 over the
 *   message || Identity_i || Identity_kms, RFC 6043 Table 5.2).
 * The KMS answers with a REQUEST_RESP:
 *   HDR (copied), T (fresh), IDRkms, TICKET (the same type; the sealed Kue, or the reference),
 *   KEMAC (AES-CM-128; Key data MPK = Kue with a Key Validity interval Valid From / Valid To as
 *   NTP-UTC), V (over the response || the whole REQUEST_INIT).
 * Kue = PRF-HMAC-SHA-256(Ks_NAF, "imskms Kue v1" || Kue-RAND), 256 bits (RFC 6043 6.1 PRF).
 * Details and choices: docs/protocol.md.
 */
#ifndef KMS_KMS_KUE_MSG_H
#define KMS_KMS_KUE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/kms_kdf.h"
#include "err/kms_err.h"
#include "mikey/kms_mikey_msg.h"
#include "ticket/kms_ticket.h"
#include "util/kms_buf.h"

#define KMS_KUE_LEN      32
#define KMS_KUE_RAND_LEN 16
#define KMS_KUE_REF_LEN  16
#define KMS_KUE_ID_MAX   255

struct kms_kue_request {
    uint8_t mode; /* 2: Kue reference, 3: sealed Kue */
    char idri[KMS_KUE_ID_MAX + 1];
    char idrkms[KMS_KUE_ID_MAX + 1];
    char btid[KMS_BTID_MAX];
    uint8_t randri[16];
    uint64_t ntp;    /* T, NTP-UTC */
    uint32_t csb_id; /* set by build */
};

struct kms_kue_grant {
    uint8_t mode;
    uint8_t kue[KMS_KUE_LEN];
    uint8_t ticket[KMS_TICKET_MAX]; /* sealed Kue (mode 3) or the 16-octet reference (mode 2) */
    size_t ticket_len;
    uint64_t valid_from, valid_to; /* UNIX seconds */
};

/* Kue from Ks_NAF and a fresh Kue-RAND. */
KMS_MUST_CHECK kms_result kms_kue_derive(const uint8_t ks_naf[32],
                                         const uint8_t kue_rand[KMS_KUE_RAND_LEN],
                                         uint8_t kue[KMS_KUE_LEN]);

/* Mode 1 (design.md 2): Kue1 = PRF-HMAC-SHA-256(Ks_NAF, "imskms Kue1 v1" || RAND), RAND the
 * request's own 16 octets (RANDRi of a ticket request, RANDRr of a resolve). Both sides derive
 * it from a fresh bootstrap; nothing is issued or kept. */
KMS_MUST_CHECK kms_result kms_kue1_derive(const uint8_t ks_naf[32], const uint8_t rand[16],
                                          uint8_t kue1[KMS_KUE_LEN]);

/* Whether an IDRpsk names a bootstrap (mode 1: the B-TID) rather than a Kue token: more than
 * KMS_KUE_REF_LEN octets, shorter than KMS_BTID_MAX, printable ASCII without space, with an
 * '@' (base64(RAND) "@" BSF FQDN). A sealed Kue starts with its version octet (1) and a Kue
 * reference is 16 octets, so the three never overlap (docs/protocol.md 14). */
bool kms_kue_psk_is_btid(const uint8_t *psk_id, size_t len);

/* UE: builds the request (r->randri, r->ntp set by the caller; r->csb_id is drawn here). */
KMS_MUST_CHECK kms_result kms_kue_request_build(struct kms_kue_request *r, const uint8_t ks_naf[32],
                                                struct kms_buf *out);

/* KMS, before any key is known: reads what selects the key and the MAC coverage (IDRpsk, IDRi,
 * IDRkms, TP type) out of m, the REQUEST_INIT_PSK the classifier (kms_kreq_classify) decoded and
 * shape-checked. KMS_ERR_MALFORMED for what our profile does not allow, KMS_ERR_UNSUPPORTED for a
 * ticket type we do not issue. */
KMS_MUST_CHECK kms_result kms_kue_request_read(const struct kms_mikey_msg *m,
                                               struct kms_kue_request *out);

/* KMS: verifies the decoded request's V under Ks_NAF with the identities read, calling the
 * replay hook (check before the key is used, commit after the MAC) as kms_mikey_open does.
 * KMS_ERR_AUTH when the MAC does not verify. */
KMS_MUST_CHECK kms_result kms_kue_request_open(const uint8_t *msg, size_t len,
                                               const struct kms_mikey_msg *m,
                                               const struct kms_kue_request *peeked,
                                               const uint8_t ks_naf[32],
                                               const struct kms_mikey_replay_hook *replay);

/* KMS: the REQUEST_RESP carrying g, answering the request bytes req (decoded: req_m). */
KMS_MUST_CHECK kms_result kms_kue_response_build(const uint8_t *req, size_t req_len,
                                                 const struct kms_mikey_msg *req_m,
                                                 const uint8_t ks_naf[32],
                                                 const struct kms_kue_grant *g,
                                                 struct kms_buf *out);

/* kms_kue_request_open and kms_kue_response_build with Ks_NAF prepared for the PRF in ks_naf_pk
 * (optional, see kms_mikey_prot's `prepared`): the open prepares it (after the replay check),
 * the answer reuses it. The caller zeroes ks_naf_pk first and releases it with
 * kms_mikey_prf_key_cleanup. */
KMS_MUST_CHECK kms_result kms_kue_request_open_pk(const uint8_t *msg, size_t len,
                                                  const struct kms_mikey_msg *m,
                                                  const struct kms_kue_request *peeked,
                                                  const uint8_t ks_naf[32],
                                                  struct kms_mikey_prf_key *ks_naf_pk,
                                                  const struct kms_mikey_replay_hook *replay);
KMS_MUST_CHECK kms_result kms_kue_response_build_pk(
    const uint8_t *req, size_t req_len, const struct kms_mikey_msg *req_m, const uint8_t ks_naf[32],
    struct kms_mikey_prf_key *ks_naf_pk, const struct kms_kue_grant *g, struct kms_buf *out);

/* UE: opens the response to its request req under Ks_NAF: Kue, the ticket and its validity.
 * KMS_ERR_AUTH when it does not verify or does not answer req. */
KMS_MUST_CHECK kms_result kms_kue_response_open(const uint8_t *req, size_t req_len,
                                                const uint8_t *resp, size_t resp_len,
                                                const uint8_t ks_naf[32],
                                                struct kms_kue_grant *out);

/* NTP-UTC <-> UNIX seconds (the fraction dropped). */
uint64_t kms_kue_ntp_to_unix(uint64_t ntp);

#endif
