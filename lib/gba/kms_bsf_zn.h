/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_bsf_zn: one Zn request (a NAF asks the BSF for Ks_NAF, docs/api.md) to one reply,
 * independent of the HTTP library, beside its Ub twin kms_bsf_ub. The daemon passes the method,
 * the path, what the TLS layer verified of the client certificate and the body; it sends back
 * the status and the JSON body this fills in (kms_bsf_zn_http).
 *
 * The checks run in this order, and the first that fails decides the reply:
 *   path is not KMS_BSF_ZN_PATH                     -> KMS_ERR_NO_ROUTE
 *   method is not POST                              -> KMS_ERR_METHOD
 *   no verified client certificate                  -> KMS_ERR_AUTH
 *   body does not decode (kms_zn_req_decode)        -> the decoder's PROTO / USAGE code
 *   no dNSName of the certificate equals naf_fqdn   -> KMS_ERR_AUTH
 *   unknown or expired B-TID                        -> KMS_ERR_NOT_FOUND
 *   anything else that fails                        -> KMS_ERR_INTERNAL
 *   otherwise                                       -> KMS_OK: the Zn response with Ks_NAF
 * The certificate is checked before the B-TID is looked at, so no NAF learns anything about a
 * B-TID it may not ask for (not even whether it exists). The status and the JSON "error" name
 * are the error table's Zn column for the code (kms_wire_of(KMS_IFACE_ZN, why)), the JSON
 * "detail" its message (kms_strerror): nothing here chooses a status, and the two AUTH cases
 * answer identically. The more specific reason is in the reply's `detail`, for the log only.
 */
#ifndef KMS_GBA_BSF_ZN_H
#define KMS_GBA_BSF_ZN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "gba/kms_bsf.h"
#include "gba/kms_zn_json.h"
#include "http/kms_httpd.h"
#include "util/kms_buf.h"

/* The one Zn resource. */
#define KMS_BSF_ZN_PATH "/zn/v1/bootstrap-info"
/* Room for the log detail ("certificate does not name " and an FQDN). */
#define KMS_BSF_ZN_DETAIL_MAX 320

/* What the TLS layer verified of the client certificate. Borrowed for the call. */
struct kms_bsf_zn_cert {
    bool verified;          /* the chain verified against the Zn client CA */
    const char *const *dns; /* its subjectAltName dNSName entries (ignored unless verified) */
    size_t n_dns;
};

struct kms_bsf_zn_reply {
    int status;                         /* the table's Zn status for why */
    struct kms_buf body;                /* JSON: the Zn response (Ks_NAF) or an error object;
                                           secret, wiped by kms_bsf_zn_reply_cleanup */
    enum kms_err why;                   /* what decided the reply (KMS_OK on a 200) */
    char detail[KMS_BSF_ZN_DETAIL_MAX]; /* for the log: the specific reason; never a key */
    char naf_fqdn[256];                 /* once the body decoded and the certificate names it,
                                           or for the log when it does not (why AUTH) */
    char impi[KMS_BSF_NAME_MAX + 1];    /* 200: whose key went out (for the log) */
};

void kms_bsf_zn_reply_init(struct kms_bsf_zn_reply *r);
/* Wipes and frees the body. */
void kms_bsf_zn_reply_cleanup(struct kms_bsf_zn_reply *r);

/* The Zn reply builder for a refusal: the status and the JSON "error" name are the error
 * table's for why (kms_wire_of), the "detail" its message (one text for every authentication
 * failure); what and arg (may be NULL) say more, for the log only. Every refusal of
 * kms_bsf_zn_handle goes through it. */
void kms_bsf_zn_refuse(struct kms_bsf_zn_reply *r, enum kms_err why, const char *what,
                       const char *arg);

/* Handles one request; body may be NULL when body_len is 0. Every verdict on the request is in
 * r (status, body, why, detail); an error is returned only for bad arguments (KMS_ERR_ARG),
 * r is then unchanged. A failure to encode the reply itself becomes a KMS_ERR_INTERNAL reply. */
KMS_MUST_CHECK kms_result kms_bsf_zn_handle(struct kms_bsf *b, const char *method, const char *path,
                                            const struct kms_bsf_zn_cert *cert, const uint8_t *body,
                                            size_t body_len, uint64_t now,
                                            struct kms_bsf_zn_reply *r);

/* The reply as HTTP (the Zn reply builder): its status, Content-Type KMS_ZN_CONTENT_TYPE and a
 * copy of its JSON body (resp->body is emptied first and marked secret). An error only when the
 * body cannot be copied (the daemon then answers KMS_ERR_INTERNAL). */
KMS_MUST_CHECK kms_result kms_bsf_zn_http(const struct kms_bsf_zn_reply *r,
                                          struct kms_http_resp *resp);

#endif
