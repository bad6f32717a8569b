/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_bsf_ub: one Ub request (TS 24.109 over RFC 3310) to one reply, independent of the HTTP
 * library: the daemon passes the Authorization header, the method, the request URI and the
 * body, and sends back the status, the headers and the body this fills in.
 *
 *   no nonce yet (nonce="")        -> 401 with a challenge for the username (IMPI)
 *   a verified response            -> 200, BootstrappingInfo XML, Authentication-Info
 *   a verified auts                -> 401 with a new challenge (SQN resynchronised)
 *   anything that fails to verify  -> 401 without a challenge (start again)
 *   a malformed header, no header  -> 400
 *   rate limit for the IMPI        -> 429 (retry_after seconds)
 *   capacity, SQN space            -> 503
 * The failure reasons are distinct in *why (for the log), never in the reply.
 */
#ifndef KMS_GBA_BSF_UB_H
#define KMS_GBA_BSF_UB_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "gba/kms_bsf.h"
#include "gba/kms_bsfinfo.h"
#include "http/kms_httpd.h"
#include "util/kms_buf.h"

struct kms_bsf_ub_reply {
    int status;
    struct kms_buf www_authenticate;    /* 401 with a challenge */
    struct kms_buf authentication_info; /* 200 */
    struct kms_buf body;                /* 200: BootstrappingInfo */
    unsigned retry_after;               /* 429 */
    enum kms_err why;                   /* what decided a non-200 reply, for the log */
    char impi[KMS_BSF_NAME_MAX + 1];    /* the username, when one was read (for the log) */
    char btid[KMS_BTID_MAX];            /* 200 */
    const char *realm;                  /* 400 for another realm: the BSF's own, sent in an
                                           `Imskms-Realm` header (public: every challenge
                                           names it) so that the UE can say what to fix */
};

void kms_bsf_ub_reply_init(struct kms_bsf_ub_reply *r);
void kms_bsf_ub_reply_cleanup(struct kms_bsf_ub_reply *r);

/* Sets the reply's verdict: why, and the status the error table's Ub column gives it
 * (kms_wire_of). Every verdict of kms_bsf_ub goes through it. */
void kms_bsf_ub_verdict(struct kms_bsf_ub_reply *r, enum kms_err why);

/* authorization may be NULL (no header). Returns an error only for internal failures (the
 * reply is then a 500); every verdict on the request is in r->status. */
KMS_MUST_CHECK kms_result kms_bsf_ub(struct kms_bsf *b, const char *authorization,
                                     const char *method, const char *uri, const uint8_t *body,
                                     size_t body_len, uint64_t now, struct kms_bsf_ub_reply *r);

/* The reply as HTTP (the Ub reply builder): the status as decided, WWW-Authenticate on a
 * challenge, the BootstrappingInfo body and Authentication-Info on a 200, Retry-After on a 429;
 * every other reply has no body and no header of its own. resp->body must be empty. An error
 * only when the answer cannot be assembled (the daemon then answers KMS_ERR_INTERNAL). */
KMS_MUST_CHECK kms_result kms_bsf_ub_http(const struct kms_bsf_ub_reply *r,
                                          struct kms_http_resp *resp);

#endif
