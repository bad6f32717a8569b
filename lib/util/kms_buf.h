/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_buf: a write buffer with a hard size cap.
 *
 * A buffer either grows on the heap up to `max` bytes (kms_buf_init) or writes into caller
 * storage of fixed size (kms_buf_init_fixed). Every put checks the cap first, so a write that
 * does not fit fails with KMS_ERR_TOO_LONG and leaves the contents unchanged. A buffer marked
 * secret wipes every byte it ever held, on growth and on cleanup.
 *
 * Length prefixes are written by reservation: kms_buf_reserve_len16 writes a placeholder and
 * returns its position, kms_buf_fill_len16 patches in the number of bytes written since.
 */
#ifndef KMS_UTIL_BUF_H
#define KMS_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"

struct kms_buf {
    uint8_t *d;
    size_t len;
    size_t cap;
    size_t max;
    size_t hw;   /* high-water mark: bytes of d that ever held data (what a wipe covers) */
    bool secret; /* wipe on growth and cleanup */
    bool fixed;  /* d is caller storage: never reallocated or freed */
};

/* Heap buffer growing up to max bytes. Nothing is allocated until the first put. */
void kms_buf_init(struct kms_buf *b, size_t max, bool secret);
/* Buffer over caller storage of cap bytes (never grows). */
void kms_buf_init_fixed(struct kms_buf *b, uint8_t *storage, size_t cap, bool secret);
/* Wipes (when secret) and frees; the buffer is empty and reusable afterwards. */
void kms_buf_cleanup(struct kms_buf *b);
/* Drops the bytes from len on (wiping them, secret or not: this undoes a failed write).
 * A len beyond the current length does nothing. */
void kms_buf_truncate(struct kms_buf *b, size_t len);
/* Forgets the contents (wiping them when secret) but keeps the storage. */
void kms_buf_reset(struct kms_buf *b);
/* Makes room for n more bytes now (one allocation instead of several as the buffer grows),
 * never beyond max (then at most max); the contents stay. KMS_ERR_NOMEM. A fixed buffer, or
 * one already large enough, is left as it is. */
KMS_MUST_CHECK kms_result kms_buf_reserve(struct kms_buf *b, size_t n);

static inline const uint8_t *kms_buf_data(const struct kms_buf *b)
{
    return b->d;
}

static inline size_t kms_buf_len(const struct kms_buf *b)
{
    return b->len;
}

KMS_MUST_CHECK kms_result kms_buf_put_u8(struct kms_buf *b, uint8_t v);
KMS_MUST_CHECK kms_result kms_buf_put_u16(struct kms_buf *b, uint16_t v);
KMS_MUST_CHECK kms_result kms_buf_put_u32(struct kms_buf *b, uint32_t v);
KMS_MUST_CHECK kms_result kms_buf_put_u48(struct kms_buf *b, uint64_t v);
KMS_MUST_CHECK kms_result kms_buf_put_u64(struct kms_buf *b, uint64_t v);
KMS_MUST_CHECK kms_result kms_buf_put_bytes(struct kms_buf *b, const uint8_t *p, size_t n);
/* Appends n bytes and returns a pointer to them for the caller to fill (valid until the next put).
 */
KMS_MUST_CHECK kms_result kms_buf_put_space(struct kms_buf *b, size_t n, uint8_t **where);

/* Length-prefix reservations: a placeholder now, the real length later. */
KMS_MUST_CHECK kms_result kms_buf_reserve_len8(struct kms_buf *b, size_t *mark);
KMS_MUST_CHECK kms_result kms_buf_reserve_len16(struct kms_buf *b, size_t *mark);
/* KMS_ERR_TOO_LONG when the block written since the mark does not fit the prefix. */
KMS_MUST_CHECK kms_result kms_buf_fill_len8(struct kms_buf *b, size_t mark);
KMS_MUST_CHECK kms_result kms_buf_fill_len16(struct kms_buf *b, size_t mark);

#endif
