/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the Zn JSON decoders. Input: first octet % 3 selects the request (0), the
 * response (1) or the error object (2) decoder; the rest is the JSON text.
 * Oracles: a refusal leaves the output all zero; an accepted object re-encodes, and the
 * encoding decodes to exactly the same structure (the decoders zero everything first, so a
 * byte comparison of the structures is exact).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gba/kms_zn_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return 0;
        }
    }
    return 1;
}

/* An exact-size copy, so ASan sees any read past the end. */
static uint8_t *copy(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n > 0 ? n : 1);
    if (c == NULL) {
        abort();
    }
    if (n > 0) {
        memcpy(c, p, n);
    }
    return c;
}

static void req(const uint8_t *p, size_t n, struct kms_buf *b)
{
    struct kms_zn_req q, q2;
    memset(&q, 0x5a, sizeof(q));
    if (!kms_ok(kms_zn_req_decode(p, n, &q))) {
        if (!all_zero(&q, sizeof(q))) {
            abort();
        }
        return;
    }
    if (!kms_ok(kms_zn_req_encode(&q, b))) {
        abort();
    }
    uint8_t *e = copy(kms_buf_data(b), kms_buf_len(b));
    if (!kms_ok(kms_zn_req_decode(e, kms_buf_len(b), &q2)) || memcmp(&q, &q2, sizeof(q)) != 0) {
        abort();
    }
    free(e);
}

static void resp(const uint8_t *p, size_t n, struct kms_buf *b)
{
    struct kms_zn_resp r, r2;
    memset(&r, 0x5a, sizeof(r));
    if (!kms_ok(kms_zn_resp_decode(p, n, &r))) {
        if (!all_zero(&r, sizeof(r))) {
            abort();
        }
        return;
    }
    if (!kms_ok(kms_zn_resp_encode(&r, b))) {
        abort();
    }
    uint8_t *e = copy(kms_buf_data(b), kms_buf_len(b));
    if (!kms_ok(kms_zn_resp_decode(e, kms_buf_len(b), &r2)) || memcmp(&r, &r2, sizeof(r)) != 0) {
        abort();
    }
    free(e);
    kms_zn_resp_wipe(&r);
    kms_zn_resp_wipe(&r2);
}

static void error_obj(const uint8_t *p, size_t n, struct kms_buf *b)
{
    struct kms_zn_error x, x2;
    memset(&x, 0x5a, sizeof(x));
    if (!kms_ok(kms_zn_error_decode(p, n, &x))) {
        if (!all_zero(&x, sizeof(x))) {
            abort();
        }
        return;
    }
    if (!kms_ok(kms_zn_error_encode(x.code, x.detail, b))) {
        abort();
    }
    uint8_t *e = copy(kms_buf_data(b), kms_buf_len(b));
    if (!kms_ok(kms_zn_error_decode(e, kms_buf_len(b), &x2)) || memcmp(&x, &x2, sizeof(x)) != 0) {
        abort();
    }
    free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t *p = copy(data + 1, size - 1);
    struct kms_buf b;
    kms_buf_init(&b, KMS_ZN_JSON_MAX, true);
    switch (data[0] % 3) {
    case 0:
        req(p, size - 1, &b);
        break;
    case 1:
        resp(p, size - 1, &b);
        break;
    default:
        error_obj(p, size - 1, &b);
        break;
    }
    kms_buf_cleanup(&b);
    free(p);
    return 0;
}
