/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Zn request and response between the KMS (a NAF) and the BSF, as JSON over HTTPS
 * (design.md section 2: the shape of the Rel-17 service-based Zn, not Diameter):
 *
 *   request   {"btid":"...","naf_fqdn":"...","ua_protocol_id":"0100000006"}
 *   response  {"impi":"...","impus":["...",...],"ks_naf":"<64 hex>",
 *              "bootstrap_time":"<RFC 3339>","key_expiry":"<RFC 3339>"}
 *   error     {"error":"<code>","detail":"..."}
 *
 * Encoders write exactly these keys in this order, compact (no white space), times as
 * "YYYY-MM-DDTHH:MM:SSZ", hex in lower case. Decoders (jansson, json_loadb) are strict about
 * what they use and tolerant of what they do not:
 *  - the input is at most KMS_ZN_JSON_MAX octets of one JSON object and nothing after it but
 *    white space; duplicate keys anywhere are refused (JSON_REJECT_DUPLICATES), as is "\u0000";
 *  - every required key must be present with the right JSON type (MALFORMED otherwise);
 *  - unknown keys are ignored, so that a newer peer can add fields (forward compatibility;
 *    the values we do read are never affected by them);
 *  - values are checked: B-TID (kms_ident_check_btid), NAF FQDN (kms_ident_check_fqdn),
 *    ua_protocol_id exactly 10 lower-case hex digits, IMPI and each IMPU printable ASCII without
 *    space (kms_ident_check_impi, _impu), at most KMS_ZN_MAX_IMPU IMPUs without repeats,
 *    ks_naf exactly 64 lower-case hex digits, times per kms_time_parse (UTC only) with
 *    key_expiry not before bootstrap_time; error codes [a-z0-9_]{1,64}, details printable
 *    ASCII of at most KMS_ZN_DETAIL_MAX octets.
 * On failure a decoder leaves its output all zero.
 *
 * Key material: Ks_NAF passes through jansson's memory while encoding and decoding. This module
 * installs (once, before main, and only if nobody replaced jansson's default allocator) an
 * allocator for jansson that wipes every block before freeing it, so no copy of a key is left
 * in freed heap memory. Callers put an encoded response in a secret kms_buf.
 */
#ifndef KMS_GBA_ZN_JSON_H
#define KMS_GBA_ZN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kms_kdf.h"
#include "err/kms_err.h"
#include "util/kms_buf.h"

#define KMS_ZN_JSON_MAX     65536
#define KMS_ZN_MAX_IMPU     8
#define KMS_ZN_ID_MAX       (KMS_IDENT_NAME_MAX + 1) /* an IMPI or IMPU and its NUL */
#define KMS_ZN_CODE_MAX     64
#define KMS_ZN_DETAIL_MAX   512
#define KMS_ZN_CONTENT_TYPE "application/json"

struct kms_zn_req {
    char btid[KMS_BTID_MAX];
    char naf_fqdn[256];
    uint8_t ua_id[KMS_UA_ID_LEN];
};

struct kms_zn_resp {
    char impi[KMS_ZN_ID_MAX];
    char impu[KMS_ZN_MAX_IMPU][KMS_ZN_ID_MAX];
    size_t n_impu;
    uint8_t ks_naf[KMS_KDF_OUT_LEN]; /* secret: kms_zn_resp_wipe */
    uint64_t bootstrap_time;         /* UNIX seconds */
    uint64_t key_expiry;
};

struct kms_zn_error {
    char code[KMS_ZN_CODE_MAX + 1];
    char detail[KMS_ZN_DETAIL_MAX + 1]; /* "" when the peer sent none */
};

/* Appends the request (fields NUL-terminated, checked as above) to out. KMS_ERR_TOO_LONG when
 * out is full (out is then as it was); the check's code for a bad field. */
KMS_MUST_CHECK kms_result kms_zn_req_encode(const struct kms_zn_req *q, struct kms_buf *out);
/* Decodes the n octets at p (borrowed) into *q. */
KMS_MUST_CHECK kms_result kms_zn_req_decode(const uint8_t *p, size_t n, struct kms_zn_req *q);

/* Appends the response to out (which should be a secret buffer: it receives Ks_NAF). */
KMS_MUST_CHECK kms_result kms_zn_resp_encode(const struct kms_zn_resp *r, struct kms_buf *out);
/* Decodes the n octets at p into *r; wiped on failure. */
KMS_MUST_CHECK kms_result kms_zn_resp_decode(const uint8_t *p, size_t n, struct kms_zn_resp *r);
/* Wipes the whole response (Ks_NAF included). */
void kms_zn_resp_wipe(struct kms_zn_resp *r);

/* Appends {"error":code,"detail":detail}; detail may be NULL for "". */
KMS_MUST_CHECK kms_result kms_zn_error_encode(const char *code, const char *detail,
                                              struct kms_buf *out);
/* Decodes an error object ("error" required, "detail" optional). */
KMS_MUST_CHECK kms_result kms_zn_error_decode(const uint8_t *p, size_t n, struct kms_zn_error *e);

#endif
