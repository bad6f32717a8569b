/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the MIKEY codec files only. */
#ifndef KMS_MIKEY_INTERNAL_H
#define KMS_MIKEY_INTERNAL_H

#include "mikey/kms_mikey.h"

/* A read through the cursor; on failure the error offset is where the field starts (a failed
 * cursor read does not move the cursor). */
#define RD(c, expr)                                                                                \
    do {                                                                                           \
        size_t rd_at_ = kms_cur_offset(c);                                                         \
        kms_result rd_r_ = (expr);                                                                 \
        if (!kms_ok(rd_r_)) {                                                                      \
            *eo = rd_at_;                                                                          \
            return rd_r_;                                                                          \
        }                                                                                          \
    } while (0)

#define BAD(eo_, at, code)                                                                         \
    do {                                                                                           \
        *(eo_) = (at);                                                                             \
        return KMS_ERR(code);                                                                      \
    } while (0)

#define CHECK(eo_, cond, at, code)                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            BAD(eo_, at, code);                                                                    \
        }                                                                                          \
    } while (0)

static inline kms_result view(struct kms_cur *c, size_t n, struct kms_bytes *out)
{
    struct kms_cur sub;
    KMS_TRY(kms_cur_get_view(c, n, &sub));
    *out = (struct kms_bytes){kms_cur_peek_ptr(&sub), kms_cur_remaining(&sub)};
    return KMS_RESULT_OK;
}

static inline kms_result lv8(struct kms_cur *c, struct kms_bytes *out)
{
    struct kms_cur sub;
    KMS_TRY(kms_cur_get_lv8(c, &sub));
    *out = (struct kms_bytes){kms_cur_peek_ptr(&sub), kms_cur_remaining(&sub)};
    return KMS_RESULT_OK;
}

static inline kms_result lv16(struct kms_cur *c, struct kms_bytes *out)
{
    struct kms_cur sub;
    KMS_TRY(kms_cur_get_lv16(c, &sub));
    *out = (struct kms_bytes){kms_cur_peek_ptr(&sub), kms_cur_remaining(&sub)};
    return KMS_RESULT_OK;
}

static inline kms_result put_lv8(struct kms_buf *b, struct kms_bytes v)
{
    KMS_ENSURE(v.len <= 0xff, KMS_ERR_ARG);
    KMS_TRY(kms_buf_put_u8(b, (uint8_t)v.len));
    return kms_buf_put_bytes(b, v.p, v.len);
}

static inline kms_result put_lv16(struct kms_buf *b, struct kms_bytes v)
{
    KMS_ENSURE(v.len <= 0xffff, KMS_ERR_ARG);
    KMS_TRY(kms_buf_put_u16(b, (uint16_t)v.len));
    return kms_buf_put_bytes(b, v.p, v.len);
}

/* Decoder (after the Next Payload octet) and encoder (without it) of one payload type. */
struct kms_mikey_codec {
    kms_result (*dec)(struct kms_cur *c, struct kms_mikey_payload *pl, size_t *eo);
    kms_result (*enc)(const struct kms_mikey_payload *pl, struct kms_buf *b);
};

const struct kms_mikey_codec *kms_mikey_codec_of(uint8_t type);

/* Walks a chain from `first`; TP/TICKET only when nested_ok; when allowed is not 0, only the
 * payload types whose bit is set. */
kms_result kms_mikey_walk(struct kms_cur *c, uint8_t first, bool nested_ok, uint32_t allowed,
                          struct kms_mikey_plist *l, size_t *eo);
/* Encodes a list's payloads; offsets counted from base. */
kms_result kms_mikey_plist_encode(struct kms_mikey_plist *l, size_t base, struct kms_buf *b);

#endif
