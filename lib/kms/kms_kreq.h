/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_kreq: the KMS's one decoder of a request. It decodes the bytes once, checks the shape of
 * RFC 6043 4.2, tells which exchange they are (the data type, then the TP's ticket type) and
 * reads what selects the key; the handler then verifies that same decoded message against the
 * bytes received (kms_kue_request_open, kms_preq_open) and answers it (kms_kue_response_build,
 * kms_preq_resp_build) without decoding it again.
 *
 *   REQUEST_INIT_PSK, TP 0xF1A0 / 0xF1A1   Kue issue (modes 3 / 2)
 *   REQUEST_INIT_PSK, TP 0xF1A2            ticket request
 *   RESOLVE_INIT_PSK, TICKET 0xF1A2        ticket resolve
 */
#ifndef KMS_KMS_KREQ_H
#define KMS_KMS_KREQ_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_ticket_msg.h"
#include "mikey/kms_mikey_msg.h"

enum kms_kreq_kind {
    KMS_KREQ_KUE_ISSUE = 1,
    KMS_KREQ_TICKET = 2, /* a ticket request or a resolve: u.p, whose kind says which */
};

struct kms_kreq {
    enum kms_kreq_kind kind;
    struct kms_mikey_msg m; /* the decoded message: views into the bytes classified */
    union {
        struct kms_kue_request kue;
        struct kms_preq p;
    } u;
};

/* Decodes and classifies msg into out (which then views msg: keep msg alive). Errors:
 * KMS_ERR_TRUNCATED/TRAILING/MALFORMED/TOO_LONG/UNSUPPORTED with *err_off for bytes that are not
 * one of the requests above; KMS_ERR_NOMEM. out is zeroed on failure. */
KMS_MUST_CHECK kms_result kms_kreq_classify(const uint8_t *msg, size_t len, struct kms_kreq *out,
                                            size_t *err_off);

/* Wipes what out holds (identities, tokens, tickets): what kms_kreq_classify wrote into it, i.e.
 * the payloads decoded and the request read, up to their counts and lengths (kms_preq_wipe), so
 * that an out that was zero before the classification is zero again, without zeroing its 14 KB
 * whole (a failed classification wipes it whole). */
void kms_kreq_wipe(struct kms_kreq *out);

#endif
