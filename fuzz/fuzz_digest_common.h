/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the three Digest harnesses: one header value of the given kind per input.
 * Oracles (gba/kms_digest.h): a refusal is MALFORMED, UNSUPPORTED or TOO_LONG with the output
 * all zero; an accepted value holds only parameters of its kind, each NUL-terminated printable
 * ASCII within KMS_DIGEST_VALUE_MAX; format(parse(x)) succeeds and parses back to exactly the
 * same set; parsing is deterministic. The input is an exact-size heap copy, so ASan sees any
 * read past it.
 */
#ifndef KMS_FUZZ_DIGEST_COMMON_H
#define KMS_FUZZ_DIGEST_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gba/kms_digest.h"
#include "util/kms_buf.h"

static inline void digest_check_params(const struct kms_digest_params *p)
{
    if ((p->present >> KMS_DIGEST_N_PARAMS) != 0) {
        abort();
    }
    for (int i = 0; i < KMS_DIGEST_N_PARAMS; i++) {
        const char *v = p->v[i];
        size_t n = strnlen(v, KMS_DIGEST_VALUE_MAX + 1);
        bool held = ((p->present >> i) & 1u) != 0;
        if (n > KMS_DIGEST_VALUE_MAX || (!held && n != 0)) {
            abort(); /* absent parameters stay all zero */
        }
        for (size_t k = 0; k < n; k++) {
            if ((uint8_t)v[k] < 0x20 || (uint8_t)v[k] > 0x7e) {
                abort();
            }
        }
    }
}

static inline void digest_fuzz_one(enum kms_digest_kind kind, const uint8_t *data, size_t size)
{
    struct kms_digest_params p, p2, q;
    struct kms_buf b;
    char *s = malloc(size > 0 ? size : 1);
    if (s == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(s, data, size);
    }
    memset(&p, 0xa5, sizeof(p));
    kms_result r = kms_digest_parse(kind, s, size, &p);
    memset(&p2, 0x5a, sizeof(p2));
    kms_result r2 = kms_digest_parse(kind, s, size, &p2);
    if (r.err != r2.err || memcmp(&p, &p2, sizeof(p)) != 0) {
        abort();
    }
    if (!kms_ok(r)) {
        const uint8_t *z = (const uint8_t *)&p;
        if (r.err != KMS_ERR_MALFORMED && r.err != KMS_ERR_UNSUPPORTED &&
            r.err != KMS_ERR_TOO_LONG) {
            abort();
        }
        for (size_t i = 0; i < sizeof(p); i++) {
            if (z[i] != 0) {
                abort();
            }
        }
        free(s);
        return;
    }
    if (size > KMS_DIGEST_HEADER_MAX) {
        abort();
    }
    digest_check_params(&p);
    kms_buf_init(&b, 4 * KMS_DIGEST_HEADER_MAX, false);
    if (!kms_ok(kms_digest_format(kind, &p, &b))) {
        abort();
    }
    /* the canonical form is an exact-size copy too */
    size_t n = kms_buf_len(&b);
    char *t = malloc(n > 0 ? n : 1);
    if (t == NULL) {
        abort();
    }
    if (n > 0) {
        memcpy(t, kms_buf_data(&b), n);
    }
    if (!kms_ok(kms_digest_parse(kind, t, n, &q)) || memcmp(&p, &q, sizeof(p)) != 0) {
        abort();
    }
    free(t);
    kms_buf_cleanup(&b);
    free(s);
}

#endif
