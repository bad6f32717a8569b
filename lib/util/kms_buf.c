/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_buf.h"

#include <stdlib.h>
#include <string.h>

#include "util/kms_mem.h"

void kms_buf_init(struct kms_buf *b, size_t max, bool secret)
{
    *b = (struct kms_buf){.max = max, .secret = secret};
}

void kms_buf_init_fixed(struct kms_buf *b, uint8_t *storage, size_t cap, bool secret)
{
    *b = (struct kms_buf){.d = storage, .cap = cap, .max = cap, .secret = secret, .fixed = true};
}

/* Only bytes below the high-water mark ever held data: wiping them is enough (a 4 KiB fixed
 * buffer holding a 200-byte ticket payload costs a 200-byte wipe, not 4 KiB). */
void kms_buf_reset(struct kms_buf *b)
{
    if (b->secret && b->d != NULL) {
        kms_wipe(b->d, b->hw);
    }
    b->len = 0;
    b->hw = 0;
}

void kms_buf_truncate(struct kms_buf *b, size_t len)
{
    if (len >= b->len) {
        return;
    }
    kms_wipe(b->d + len, b->len - len);
    b->len = len;
}

void kms_buf_cleanup(struct kms_buf *b)
{
    kms_buf_reset(b);
    if (!b->fixed) {
        free(b->d);
        b->d = NULL;
        b->cap = 0;
    }
}

/* Makes room for n more bytes without exceeding max. */
static kms_result ensure(struct kms_buf *b, size_t n)
{
    KMS_ENSURE(n <= b->max && b->len <= b->max - n, KMS_ERR_TOO_LONG);
    size_t need = b->len + n;
    if (need <= b->cap) {
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(!b->fixed, KMS_ERR_TOO_LONG);
    size_t cap = b->cap > 0 ? b->cap : 64;
    while (cap < need) {
        cap = cap > b->max / 2 ? b->max : cap * 2;
    }
    if (cap > b->max) {
        cap = b->max;
    }
    uint8_t *d = malloc(cap);
    KMS_ENSURE(d != NULL, KMS_ERR_NOMEM);
    if (b->len > 0) {
        memcpy(d, b->d, b->len);
    }
    if (b->d != NULL) {
        /* realloc could leave a copy of secret bytes behind: copy, wipe, free instead. */
        if (b->secret) {
            kms_wipe(b->d, b->hw);
        }
        free(b->d);
    }
    b->d = d;
    b->cap = cap;
    return KMS_RESULT_OK;
}

kms_result kms_buf_reserve(struct kms_buf *b, size_t n)
{
    if (b->fixed) {
        return KMS_RESULT_OK;
    }
    size_t room = b->max - b->len; /* len <= max always */
    return ensure(b, n < room ? n : room);
}

kms_result kms_buf_put_space(struct kms_buf *b, size_t n, uint8_t **where)
{
    *where = NULL;
    KMS_TRY(ensure(b, n));
    /* No arithmetic on the NULL storage of a heap buffer that never grew (n == 0). */
    *where = b->d != NULL ? b->d + b->len : NULL;
    b->len += n;
    if (b->len > b->hw) {
        b->hw = b->len;
    }
    return KMS_RESULT_OK;
}

kms_result kms_buf_put_bytes(struct kms_buf *b, const uint8_t *p, size_t n)
{
    uint8_t *w;
    KMS_TRY(kms_buf_put_space(b, n, &w));
    if (n > 0) {
        memcpy(w, p, n);
    }
    return KMS_RESULT_OK;
}

static kms_result put_be(struct kms_buf *b, uint64_t v, size_t n)
{
    uint8_t *w;
    KMS_TRY(kms_buf_put_space(b, n, &w));
    for (size_t i = 0; i < n; i++) {
        w[n - 1 - i] = (uint8_t)(v >> (8 * i));
    }
    return KMS_RESULT_OK;
}

kms_result kms_buf_put_u8(struct kms_buf *b, uint8_t v)
{
    return put_be(b, v, 1);
}

kms_result kms_buf_put_u16(struct kms_buf *b, uint16_t v)
{
    return put_be(b, v, 2);
}

kms_result kms_buf_put_u32(struct kms_buf *b, uint32_t v)
{
    return put_be(b, v, 4);
}

kms_result kms_buf_put_u48(struct kms_buf *b, uint64_t v)
{
    KMS_ENSURE(v <= 0xffffffffffffULL, KMS_ERR_TOO_LONG);
    return put_be(b, v, 6);
}

kms_result kms_buf_put_u64(struct kms_buf *b, uint64_t v)
{
    return put_be(b, v, 8);
}

kms_result kms_buf_reserve_len8(struct kms_buf *b, size_t *mark)
{
    *mark = b->len;
    return put_be(b, 0, 1);
}

kms_result kms_buf_reserve_len16(struct kms_buf *b, size_t *mark)
{
    *mark = b->len;
    return put_be(b, 0, 2);
}

static kms_result fill(struct kms_buf *b, size_t mark, size_t prefix, size_t limit)
{
    KMS_ENSURE(mark <= b->len && b->len - mark >= prefix, KMS_ERR_INTERNAL);
    size_t n = b->len - mark - prefix;
    KMS_ENSURE(n <= limit, KMS_ERR_TOO_LONG);
    for (size_t i = 0; i < prefix; i++) {
        b->d[mark + prefix - 1 - i] = (uint8_t)(n >> (8 * i));
    }
    return KMS_RESULT_OK;
}

kms_result kms_buf_fill_len8(struct kms_buf *b, size_t mark)
{
    return fill(b, mark, 1, 0xff);
}

kms_result kms_buf_fill_len16(struct kms_buf *b, size_t mark)
{
    return fill(b, mark, 2, 0xffff);
}
