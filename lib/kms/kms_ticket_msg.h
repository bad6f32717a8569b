/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_ticket_msg: the MIKEY-TICKET media ticket exchanges of design.md section 2, both sides.
 *
 * Ticket request, the initiator A asks with a REQUEST_INIT_PSK keyed by PSK = A's Kue:
 *   HDR (PRF-HMAC-SHA-256, V = 1, random CSB ID, #CS 0, Empty map), T (NTP-UTC), RANDRi (16),
 *   IDRi (A), IDRkms (the KMS FQDN), TP (ticket type 0xF1A2 media; TP data = one IDRr naming the
 *   responder B), IDRpsk (A's Kue token: the sealed Kue or the 16-octet Kue reference, byte
 *   string), V (HMAC-SHA-256-256 over the message || Identity_i || Identity_kms).
 * The KMS answers with a REQUEST_RESP keyed by the same Kue (label 0x02 with RANDRi):
 *   HDR (copied), T (fresh), IDRkms, TICKET (0xF1A2; the sealed media ticket), KEMAC (AES-CM-128;
 *   Key data MPK, then TGK with a Key Validity interval), V (over the response || the request).
 * Ticket transfer, A to B out of band, a TRANSFER_INIT keyed by MPKi = the MPK of the grant:
 *   HDR (V = 0, random CSB ID, #CS 0, GENERIC-ID map), T, RANDRi (16), IDRi (A), IDRr (B),
 *   TICKET (0xF1A2, no Initiator Data), V (over the message || Identity_i || Identity_r).
 * Ticket resolve, B asks with a RESOLVE_INIT_PSK keyed by PSK = B's Kue (label 0x01, RANDRr):
 *   HDR (V = 1, random CSB ID, #CS 0, Empty map), T, RANDRr (16), IDRr (B), IDRkms, TICKET (the
 *   one of the transfer), IDRpsk (B's Kue token), V (over the message || Identity_r ||
 *   Identity_kms).
 * The KMS answers with a RESOLVE_RESP keyed by B's Kue (label 0x02 with RANDRr):
 *   HDR (copied), T (fresh), IDRkms, KEMAC (MPK, TGK as in the REQUEST_RESP), IDRr, V (over the
 *   response || the request).
 * B cannot check the transfer's MAC until the resolve has given it MPK: it peeks the transfer,
 * resolves the ticket, then opens the transfer with the MPK. Details: docs/protocol.md 13.
 */
#ifndef KMS_KMS_TICKET_MSG_H
#define KMS_KMS_TICKET_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "mikey/kms_mikey_msg.h"
#include "ticket/kms_ticket.h"
#include "util/kms_buf.h"

#define KMS_TMSG_KUE_LEN    32
#define KMS_TMSG_MPK_LEN    32
#define KMS_TMSG_TGK_MAX    32 /* the TGK is 16 or 32 octets: the KMS's choice */
#define KMS_TMSG_RAND_LEN   16
#define KMS_TMSG_ID_MAX     255
#define KMS_TMSG_PSK_ID_MAX KMS_TICKET_MAX /* a sealed Kue, or the 16-octet Kue reference */

/* A Kue-protected request to the KMS, one structure for both exchanges: a ticket request
 * (REQUEST_INIT_PSK, sent by A) or a ticket resolve (RESOLVE_INIT_PSK, sent by B). The UE fills
 * it to build; the KMS reads it out of the decoded message. */
enum kms_preq_kind {
    KMS_PREQ_REQUEST = 1, /* ticket request: A asks for a media ticket for B */
    KMS_PREQ_RESOLVE = 2, /* ticket resolve: B asks for the keys of the ticket A sent it */
};

struct kms_preq {
    enum kms_preq_kind kind;
    char idri[KMS_TMSG_ID_MAX + 1];      /* request: A, the sender (as in its Kue token) */
    char idrr[KMS_TMSG_ID_MAX + 1];      /* request: B from the TP data; resolve: B, the sender */
    char idrkms[KMS_TMSG_ID_MAX + 1];    /* the KMS FQDN */
    uint8_t psk_id[KMS_TMSG_PSK_ID_MAX]; /* IDRpsk: the sender's Kue token */
    size_t psk_id_len;
    uint8_t ticket[KMS_TICKET_MAX]; /* resolve: the media ticket from the transfer */
    size_t ticket_len;
    uint8_t rand[KMS_TMSG_RAND_LEN]; /* RANDRi of a request, RANDRr of a resolve */
    uint64_t ntp;                    /* T, NTP-UTC */
    uint32_t csb_id;                 /* set by build */
};

/* The sender's identity: IDRi of a request, IDRr of a resolve (the MAC coverage's first
 * identity, and the one the Kue token must name). */
const char *kms_preq_sender(const struct kms_preq *p);

/* What the KMS grants: the keys (both exchanges) and the sealed media ticket (the request
 * exchange only). */
struct kms_tgrant {
    uint8_t mpk[KMS_TMSG_MPK_LEN];
    uint8_t tgk[KMS_TMSG_TGK_MAX];
    size_t tgk_len;                 /* 16 or 32 */
    uint8_t ticket[KMS_TICKET_MAX]; /* the sealed media ticket; unused in the resolve */
    size_t ticket_len;
    uint64_t valid_from, valid_to; /* UNIX seconds; the TGK's Key Validity, NTP-UTC on the wire */
};

/* Ticket transfer (TRANSFER_INIT) as B peeks it. */
struct kms_transfer {
    char idri[KMS_TMSG_ID_MAX + 1];
    char idrr[KMS_TMSG_ID_MAX + 1];
    uint8_t ticket[KMS_TICKET_MAX];
    size_t ticket_len;
    uint8_t randri[KMS_TMSG_RAND_LEN];
    uint64_t ntp;
    uint32_t csb_id;
};

/* ---- ticket request and resolve (UE <-> KMS) ---------------------------------------------- */

/* UE: builds the request or resolve of r->kind (r->rand, r->ntp set by the caller; r->csb_id is
 * drawn here). */
KMS_MUST_CHECK kms_result kms_preq_build(struct kms_preq *r, const uint8_t kue[KMS_TMSG_KUE_LEN],
                                         struct kms_buf *out);

/* KMS, before any key is known: reads what selects the key and the MAC coverage (IDRpsk, the
 * sender's identity, IDRkms), the responder or the ticket, T and the RAND out of m, the message
 * the classifier (kms_kreq_classify) decoded from msg and shape-checked: a REQUEST_INIT_PSK whose
 * TP is the media ticket's, or a RESOLVE_INIT_PSK. KMS_ERR_MALFORMED/... with err_off for what
 * our profile does not allow, KMS_ERR_UNSUPPORTED for another ticket type. Every field of out
 * is set (the strings NUL-terminated, the token and ticket through their lengths; storage past
 * them is left as it was); a failure zeroes the whole of out. */
KMS_MUST_CHECK kms_result kms_preq_read(const uint8_t *msg, const struct kms_mikey_msg *m,
                                        struct kms_preq *out, size_t *err_off);
/* Wipes what kms_preq_read (or a caller keeping to the same lengths) wrote into p: the
 * identities up to their NUL, the token and the ticket up to their lengths, every other field
 * whole. A p that was zero before it was read is zero again. */
void kms_preq_wipe(struct kms_preq *p);

/* KMS: verifies the decoded request's V under the sender's Kue with the identities read, calling
 * the replay hook as kms_mikey_open does. KMS_ERR_AUTH when the MAC does not verify. */
KMS_MUST_CHECK kms_result kms_preq_open(const uint8_t *msg, size_t len,
                                        const struct kms_mikey_msg *m, const struct kms_preq *p,
                                        const uint8_t kue[KMS_TMSG_KUE_LEN],
                                        const struct kms_mikey_replay_hook *replay);

/* KMS: the answer to the decoded request m (bytes msg): a REQUEST_RESP carrying g's keys and
 * ticket, or a RESOLVE_RESP carrying its keys (g's ticket unused). */
KMS_MUST_CHECK kms_result kms_preq_resp_build(const uint8_t *msg, size_t len,
                                              const struct kms_mikey_msg *m,
                                              const uint8_t kue[KMS_TMSG_KUE_LEN],
                                              const struct kms_tgrant *g, struct kms_buf *out);

/* kms_preq_open and kms_preq_resp_build with the Kue prepared for the PRF in kue_pk (optional,
 * see kms_mikey_prot's `prepared`): the open prepares it (after the replay check), the answer
 * derives its keys from it instead of preparing the Kue again. The caller zeroes kue_pk before
 * the open and releases it with kms_mikey_prf_key_cleanup after the answer. */
KMS_MUST_CHECK kms_result kms_preq_open_pk(const uint8_t *msg, size_t len,
                                           const struct kms_mikey_msg *m, const struct kms_preq *p,
                                           const uint8_t kue[KMS_TMSG_KUE_LEN],
                                           struct kms_mikey_prf_key *kue_pk,
                                           const struct kms_mikey_replay_hook *replay);
KMS_MUST_CHECK kms_result kms_preq_resp_build_pk(const uint8_t *msg, size_t len,
                                                 const struct kms_mikey_msg *m,
                                                 const uint8_t kue[KMS_TMSG_KUE_LEN],
                                                 struct kms_mikey_prf_key *kue_pk,
                                                 const struct kms_tgrant *g, struct kms_buf *out);

/* A: opens the response to its request req under its Kue: MPK, TGK, validity and ticket.
 * KMS_ERR_AUTH when it does not verify or does not answer req. */
KMS_MUST_CHECK kms_result kms_tresp_open(const uint8_t *req, size_t req_len, const uint8_t *resp,
                                         size_t resp_len, const uint8_t kue[KMS_TMSG_KUE_LEN],
                                         struct kms_tgrant *out);

/* ---- ticket transfer (A -> B) ------------------------------------------------------------ */

/* A: the TRANSFER_INIT carrying the media ticket, keyed by the MPK of the grant (CSB ID, RANDRi
 * and T drawn here). */
KMS_MUST_CHECK kms_result kms_transfer_build(const char *idri, const char *idrr,
                                             const uint8_t mpk[KMS_TMSG_MPK_LEN],
                                             const uint8_t *ticket, size_t ticket_len,
                                             struct kms_buf *out);

/* B, before it knows MPK: decodes the transfer and reads the identities and the ticket. Nothing
 * it returns is authenticated until kms_transfer_open succeeds. KMS_ERR_UNSUPPORTED for another
 * ticket type, Initiator Data (key forking) or a KEMAC. */
KMS_MUST_CHECK kms_result kms_transfer_peek(const uint8_t *msg, size_t len,
                                            struct kms_transfer *out, size_t *err_off);

/* B: what kms_transfer_peek reads, out of m decoded from msg with kms_mk_decode. */
KMS_MUST_CHECK kms_result kms_transfer_read(const uint8_t *msg, const struct kms_mikey_msg *m,
                                            struct kms_transfer *out, size_t *err_off);

/* B, after the resolve: verifies the transfer's V under the resolved MPK. KMS_ERR_AUTH when it
 * does not verify. */
KMS_MUST_CHECK kms_result kms_transfer_open(const uint8_t *msg, size_t len,
                                            const uint8_t mpk[KMS_TMSG_MPK_LEN]);

/* ---- ticket resolve: B reads the KMS's answer ----------------------------------------- */

/* B: opens the response to its resolve req: MPK, TGK and validity (out's ticket stays empty).
 * KMS_ERR_AUTH when it does not verify or does not answer req. */
KMS_MUST_CHECK kms_result kms_rresp_open(const uint8_t *req, size_t req_len, const uint8_t *resp,
                                         size_t resp_len, const uint8_t kue[KMS_TMSG_KUE_LEN],
                                         struct kms_tgrant *out);

#endif
