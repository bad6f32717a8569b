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

/* Ticket request (REQUEST_INIT_PSK) as built by A and peeked by the KMS. */
struct kms_treq {
    char idri[KMS_TMSG_ID_MAX + 1];      /* A, as in its Kue token */
    char idrkms[KMS_TMSG_ID_MAX + 1];    /* the KMS FQDN */
    char idrr[KMS_TMSG_ID_MAX + 1];      /* the responder B, from the TP data */
    uint8_t psk_id[KMS_TMSG_PSK_ID_MAX]; /* IDRpsk: A's Kue token */
    size_t psk_id_len;
    uint8_t randri[KMS_TMSG_RAND_LEN];
    uint64_t ntp;    /* T, NTP-UTC */
    uint32_t csb_id; /* set by build */
};

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

/* Ticket resolve (RESOLVE_INIT_PSK) as built by B and peeked by the KMS. */
struct kms_tres {
    char idrr[KMS_TMSG_ID_MAX + 1];      /* B, as in its Kue token */
    char idrkms[KMS_TMSG_ID_MAX + 1];    /* the KMS FQDN */
    uint8_t psk_id[KMS_TMSG_PSK_ID_MAX]; /* IDRpsk: B's Kue token */
    size_t psk_id_len;
    uint8_t ticket[KMS_TICKET_MAX]; /* the media ticket from the transfer */
    size_t ticket_len;
    uint8_t randrr[KMS_TMSG_RAND_LEN];
    uint64_t ntp;
    uint32_t csb_id; /* set by build */
};

/* ---- ticket request (A <-> KMS) ---------------------------------------------------------- */

/* A: builds the request (r->randri, r->ntp set by the caller; r->csb_id is drawn here). */
KMS_MUST_CHECK kms_result kms_treq_build(struct kms_treq *r, const uint8_t kue[KMS_TMSG_KUE_LEN],
                                         struct kms_buf *out);

/* KMS, before any key is known: decodes the request and reads what selects the key and the MAC
 * coverage (IDRpsk, IDRi, IDRkms), the responder, T and RANDRi. KMS_ERR_TRUNCATED/MALFORMED/...
 * for bytes that are not such a request (err_off set), KMS_ERR_UNSUPPORTED for a ticket type
 * other than the media ticket. */
KMS_MUST_CHECK kms_result kms_treq_peek(const uint8_t *msg, size_t len, struct kms_treq *out,
                                        size_t *err_off);

/* KMS: verifies the request's V under A's Kue with the identities peek read, calling the replay
 * hook as kms_mikey_open does. KMS_ERR_AUTH when the MAC does not verify. */
KMS_MUST_CHECK kms_result kms_treq_open(const uint8_t *msg, size_t len,
                                        const struct kms_treq *peeked,
                                        const uint8_t kue[KMS_TMSG_KUE_LEN],
                                        const struct kms_mikey_replay_hook *replay);

/* KMS: the REQUEST_RESP carrying g (keys and ticket), answering the request bytes req. */
KMS_MUST_CHECK kms_result kms_tresp_build(const uint8_t *req, size_t req_len,
                                          const uint8_t kue[KMS_TMSG_KUE_LEN],
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

/* B, after the resolve: verifies the transfer's V under the resolved MPK. KMS_ERR_AUTH when it
 * does not verify. */
KMS_MUST_CHECK kms_result kms_transfer_open(const uint8_t *msg, size_t len,
                                            const uint8_t mpk[KMS_TMSG_MPK_LEN]);

/* ---- ticket resolve (B <-> KMS) ---------------------------------------------------------- */

/* B: builds the resolve (r->randrr, r->ntp set by the caller; r->csb_id is drawn here). */
KMS_MUST_CHECK kms_result kms_tres_build(struct kms_tres *r, const uint8_t kue[KMS_TMSG_KUE_LEN],
                                         struct kms_buf *out);

/* KMS, before any key is known: as kms_treq_peek, for a resolve. */
KMS_MUST_CHECK kms_result kms_tres_peek(const uint8_t *msg, size_t len, struct kms_tres *out,
                                        size_t *err_off);

/* KMS: verifies the resolve's V under B's Kue with the identities peek read. */
KMS_MUST_CHECK kms_result kms_tres_open(const uint8_t *msg, size_t len,
                                        const struct kms_tres *peeked,
                                        const uint8_t kue[KMS_TMSG_KUE_LEN],
                                        const struct kms_mikey_replay_hook *replay);

/* KMS: the RESOLVE_RESP carrying the keys of g (its ticket fields unused), answering req. */
KMS_MUST_CHECK kms_result kms_rresp_build(const uint8_t *req, size_t req_len,
                                          const uint8_t kue[KMS_TMSG_KUE_LEN],
                                          const struct kms_tgrant *g, struct kms_buf *out);

/* B: opens the response to its resolve req: MPK, TGK and validity (out's ticket stays empty).
 * KMS_ERR_AUTH when it does not verify or does not answer req. */
KMS_MUST_CHECK kms_result kms_rresp_open(const uint8_t *req, size_t req_len, const uint8_t *resp,
                                         size_t resp_len, const uint8_t kue[KMS_TMSG_KUE_LEN],
                                         struct kms_tgrant *out);

#endif
