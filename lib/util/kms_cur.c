/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_cur.h"

#include <string.h>

void kms_cur_init(struct kms_cur *c, const uint8_t *p, size_t len)
{
    c->p = len > 0 ? p : NULL;
    c->len = p != NULL ? len : 0;
    c->off = 0;
}

/* The only place that advances a cursor; callers have checked c->len >= n. */
static void advance(struct kms_cur *c, size_t n)
{
    c->len -= n;
    c->off += n;
    c->p = c->len > 0 ? c->p + n : NULL;
}

static kms_result get_be(struct kms_cur *c, size_t n, uint64_t *out)
{
    *out = 0;
    KMS_ENSURE(c->len >= n, KMS_ERR_TRUNCATED);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | c->p[i];
    }
    advance(c, n);
    *out = v;
    return KMS_RESULT_OK;
}

kms_result kms_cur_get_u8(struct kms_cur *c, uint8_t *out)
{
    uint64_t v;
    kms_result r = get_be(c, 1, &v);
    *out = (uint8_t)v;
    return r;
}

kms_result kms_cur_get_u16(struct kms_cur *c, uint16_t *out)
{
    uint64_t v;
    kms_result r = get_be(c, 2, &v);
    *out = (uint16_t)v;
    return r;
}

kms_result kms_cur_get_u32(struct kms_cur *c, uint32_t *out)
{
    uint64_t v;
    kms_result r = get_be(c, 4, &v);
    *out = (uint32_t)v;
    return r;
}

kms_result kms_cur_get_u48(struct kms_cur *c, uint64_t *out)
{
    return get_be(c, 6, out);
}

kms_result kms_cur_get_u64(struct kms_cur *c, uint64_t *out)
{
    return get_be(c, 8, out);
}

kms_result kms_cur_peek_u8(const struct kms_cur *c, uint8_t *out)
{
    *out = 0;
    KMS_ENSURE(c->len >= 1, KMS_ERR_TRUNCATED);
    *out = c->p[0];
    return KMS_RESULT_OK;
}

kms_result kms_cur_get_bytes(struct kms_cur *c, uint8_t *dst, size_t n)
{
    if (c->len < n) {
        if (n > 0 && dst != NULL) {
            memset(dst, 0, n);
        }
        KMS_BAIL(KMS_ERR_TRUNCATED);
    }
    if (n > 0) {
        memcpy(dst, c->p, n);
    }
    advance(c, n);
    return KMS_RESULT_OK;
}

kms_result kms_cur_skip(struct kms_cur *c, size_t n)
{
    KMS_ENSURE(c->len >= n, KMS_ERR_TRUNCATED);
    advance(c, n);
    return KMS_RESULT_OK;
}

kms_result kms_cur_get_view(struct kms_cur *c, size_t n, struct kms_cur *sub)
{
    sub->p = NULL;
    sub->len = 0;
    sub->off = c->off;
    KMS_ENSURE(c->len >= n, KMS_ERR_TRUNCATED);
    sub->p = n > 0 ? c->p : NULL;
    sub->len = n;
    advance(c, n);
    return KMS_RESULT_OK;
}

/* Reads a length prefix and the block it announces, or nothing at all. */
static kms_result get_lv(struct kms_cur *c, size_t prefix, struct kms_cur *sub)
{
    struct kms_cur save = *c;
    uint64_t n;
    sub->p = NULL;
    sub->len = 0;
    sub->off = c->off;
    KMS_TRY(get_be(c, prefix, &n));
    kms_result r = kms_cur_get_view(c, (size_t)n, sub);
    if (!kms_ok(r)) {
        *c = save;
    }
    return r;
}

kms_result kms_cur_get_lv8(struct kms_cur *c, struct kms_cur *sub)
{
    return get_lv(c, 1, sub);
}

kms_result kms_cur_get_lv16(struct kms_cur *c, struct kms_cur *sub)
{
    return get_lv(c, 2, sub);
}

kms_result kms_cur_expect_end(const struct kms_cur *c)
{
    KMS_ENSURE(c->len == 0, KMS_ERR_TRAILING);
    return KMS_RESULT_OK;
}
