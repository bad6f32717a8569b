/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_cur: a bounded, borrowed read cursor over untrusted bytes.
 *
 * Every read checks what remains first (`if (c->len < n)`), never computes a pointer past the
 * end, and on failure leaves the cursor unchanged and zeroes the output. A length-prefixed
 * block is read into a sub-cursor which the inner parser must consume exactly
 * (kms_cur_expect_end). Each cursor remembers the absolute offset of its next byte within the
 * outermost input, so a parser can report where it failed.
 *
 * A cursor never owns memory; the bytes it views must outlive it.
 */
#ifndef KMS_UTIL_CUR_H
#define KMS_UTIL_CUR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err/kms_err.h"

struct kms_cur {
    const uint8_t *p; /* next unread byte (NULL only when len == 0) */
    size_t len;       /* bytes left */
    size_t off;       /* absolute offset of p within the outermost input */
};

/* A cursor over [p, p+len). p may be NULL when len is 0. */
static inline void kms_cur_init(struct kms_cur *c, const uint8_t *p, size_t len)
{
    c->p = len > 0 ? p : NULL;
    c->len = p != NULL ? len : 0;
    c->off = 0;
}

static inline size_t kms_cur_remaining(const struct kms_cur *c)
{
    return c->len;
}

/* Absolute offset of the next byte to be read. */
static inline size_t kms_cur_offset(const struct kms_cur *c)
{
    return c->off;
}

/* Borrowed pointer to the next unread byte (valid for kms_cur_remaining bytes). */
static inline const uint8_t *kms_cur_peek_ptr(const struct kms_cur *c)
{
    return c->p;
}

/* The reads below are inline: every parser of the project runs through them, and a call per
 * field costs as much as the check it makes (ticket opening is on the KMS's hot path). */

static inline void kms_cur_advance_(struct kms_cur *c, size_t n)
{
    c->len -= n;
    c->off += n;
    c->p = c->len > 0 ? c->p + n : NULL;
}

static inline kms_result kms_cur_get_be_(struct kms_cur *c, size_t n, uint64_t *out)
{
    *out = 0;
    KMS_ENSURE(c->len >= n, KMS_ERR_TRUNCATED);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | c->p[i];
    }
    kms_cur_advance_(c, n);
    *out = v;
    return KMS_RESULT_OK;
}

/* Big-endian integer reads. KMS_ERR_TRUNCATED when too few bytes remain (*out is then 0). */
KMS_MUST_CHECK static inline kms_result kms_cur_get_u8(struct kms_cur *c, uint8_t *out)
{
    uint64_t v;
    kms_result r = kms_cur_get_be_(c, 1, &v);
    *out = (uint8_t)v;
    return r;
}

KMS_MUST_CHECK static inline kms_result kms_cur_get_u16(struct kms_cur *c, uint16_t *out)
{
    uint64_t v;
    kms_result r = kms_cur_get_be_(c, 2, &v);
    *out = (uint16_t)v;
    return r;
}

KMS_MUST_CHECK static inline kms_result kms_cur_get_u32(struct kms_cur *c, uint32_t *out)
{
    uint64_t v;
    kms_result r = kms_cur_get_be_(c, 4, &v);
    *out = (uint32_t)v;
    return r;
}

KMS_MUST_CHECK static inline kms_result kms_cur_get_u48(struct kms_cur *c, uint64_t *out)
{
    return kms_cur_get_be_(c, 6, out);
}

KMS_MUST_CHECK static inline kms_result kms_cur_get_u64(struct kms_cur *c, uint64_t *out)
{
    *out = 0;
    KMS_ENSURE(c->len >= 8, KMS_ERR_TRUNCATED);
    uint64_t v;
    memcpy(&v, c->p, 8);
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#elif !defined(__GNUC__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
#error "kms_cur_get_u64: unknown byte order"
#endif
    kms_cur_advance_(c, 8);
    *out = v;
    return KMS_RESULT_OK;
}

/* Next byte without consuming it. */
KMS_MUST_CHECK static inline kms_result kms_cur_peek_u8(const struct kms_cur *c, uint8_t *out)
{
    *out = 0;
    KMS_ENSURE(c->len >= 1, KMS_ERR_TRUNCATED);
    *out = c->p[0];
    return KMS_RESULT_OK;
}

/* Copies n bytes to dst (dst is zeroed on failure). */
KMS_MUST_CHECK static inline kms_result kms_cur_get_bytes(struct kms_cur *c, uint8_t *dst, size_t n)
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
    kms_cur_advance_(c, n);
    return KMS_RESULT_OK;
}

/* Skips n bytes. */
KMS_MUST_CHECK static inline kms_result kms_cur_skip(struct kms_cur *c, size_t n)
{
    KMS_ENSURE(c->len >= n, KMS_ERR_TRUNCATED);
    kms_cur_advance_(c, n);
    return KMS_RESULT_OK;
}

/* Zero-copy slice of the next n bytes as a sub-cursor; the parent moves past them. */
KMS_MUST_CHECK static inline kms_result kms_cur_get_view(struct kms_cur *c, size_t n,
                                                         struct kms_cur *sub)
{
    sub->p = NULL;
    sub->len = 0;
    sub->off = c->off;
    KMS_ENSURE(c->len >= n, KMS_ERR_TRUNCATED);
    sub->p = n > 0 ? c->p : NULL;
    sub->len = n;
    kms_cur_advance_(c, n);
    return KMS_RESULT_OK;
}

/* A block prefixed by a 1- or 2-octet big-endian length, as a sub-cursor (the parent is left
 * unmoved when the block does not fit). */
static inline kms_result kms_cur_get_lv_(struct kms_cur *c, size_t prefix, struct kms_cur *sub)
{
    struct kms_cur save = *c;
    uint64_t n;
    sub->p = NULL;
    sub->len = 0;
    sub->off = c->off;
    KMS_TRY(kms_cur_get_be_(c, prefix, &n));
    kms_result r = kms_cur_get_view(c, (size_t)n, sub);
    if (!kms_ok(r)) {
        *c = save;
    }
    return r;
}

KMS_MUST_CHECK static inline kms_result kms_cur_get_lv8(struct kms_cur *c, struct kms_cur *sub)
{
    return kms_cur_get_lv_(c, 1, sub);
}

KMS_MUST_CHECK static inline kms_result kms_cur_get_lv16(struct kms_cur *c, struct kms_cur *sub)
{
    return kms_cur_get_lv_(c, 2, sub);
}

/* A type-length-value item: a 1-octet type, then a block with a 2-octet length (the cursor is
 * left unmoved when it does not fit). */
KMS_MUST_CHECK static inline kms_result kms_cur_get_tlv8_16(struct kms_cur *c, uint8_t *type,
                                                            struct kms_cur *val)
{
    *type = 0;
    val->p = NULL;
    val->len = 0;
    val->off = c->off;
    KMS_ENSURE(c->len >= 3, KMS_ERR_TRUNCATED);
    size_t n = (size_t)c->p[1] << 8 | c->p[2];
    KMS_ENSURE(c->len - 3 >= n, KMS_ERR_TRUNCATED);
    *type = c->p[0];
    kms_cur_advance_(c, 3);
    return kms_cur_get_view(c, n, val);
}

/* KMS_OK when nothing remains, KMS_ERR_TRAILING otherwise. */
KMS_MUST_CHECK kms_result kms_cur_expect_end(const struct kms_cur *c);

/* One text line `name=value\n` whose name is exactly `name`: the value (without the newline)
 * into val, NUL-terminated, and the cursor past the line. KMS_ERR_MALFORMED for another name
 * or a value octet outside 0x20-0x7e (a NUL would cut the value short), KMS_ERR_TRUNCATED
 * without a newline, KMS_ERR_TOO_LONG when the value does not fit cap - 1.
 * On failure the cursor is unmoved. (The state files of lib/ue.) */
KMS_MUST_CHECK kms_result kms_cur_get_kv_line(struct kms_cur *c, const char *name, char *val,
                                              size_t cap);

#endif
