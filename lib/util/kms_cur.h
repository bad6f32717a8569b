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

#include "err/kms_err.h"

struct kms_cur {
    const uint8_t *p; /* next unread byte (NULL only when len == 0) */
    size_t len;       /* bytes left */
    size_t off;       /* absolute offset of p within the outermost input */
};

/* A cursor over [p, p+len). p may be NULL when len is 0. */
void kms_cur_init(struct kms_cur *c, const uint8_t *p, size_t len);

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

/* Big-endian integer reads. KMS_ERR_TRUNCATED when too few bytes remain. */
KMS_MUST_CHECK kms_result kms_cur_get_u8(struct kms_cur *c, uint8_t *out);
KMS_MUST_CHECK kms_result kms_cur_get_u16(struct kms_cur *c, uint16_t *out);
KMS_MUST_CHECK kms_result kms_cur_get_u32(struct kms_cur *c, uint32_t *out);
KMS_MUST_CHECK kms_result kms_cur_get_u48(struct kms_cur *c, uint64_t *out);
KMS_MUST_CHECK kms_result kms_cur_get_u64(struct kms_cur *c, uint64_t *out);
/* Next byte without consuming it. */
KMS_MUST_CHECK kms_result kms_cur_peek_u8(const struct kms_cur *c, uint8_t *out);

/* Copies n bytes to dst (dst is zeroed on failure). */
KMS_MUST_CHECK kms_result kms_cur_get_bytes(struct kms_cur *c, uint8_t *dst, size_t n);
/* Skips n bytes. */
KMS_MUST_CHECK kms_result kms_cur_skip(struct kms_cur *c, size_t n);
/* Zero-copy slice of the next n bytes as a sub-cursor; the parent moves past them. */
KMS_MUST_CHECK kms_result kms_cur_get_view(struct kms_cur *c, size_t n, struct kms_cur *sub);
/* A block prefixed by a 1- or 2-octet big-endian length, as a sub-cursor. */
KMS_MUST_CHECK kms_result kms_cur_get_lv8(struct kms_cur *c, struct kms_cur *sub);
KMS_MUST_CHECK kms_result kms_cur_get_lv16(struct kms_cur *c, struct kms_cur *sub);
/* KMS_OK when nothing remains, KMS_ERR_TRAILING otherwise. */
KMS_MUST_CHECK kms_result kms_cur_expect_end(const struct kms_cur *c);

#endif
