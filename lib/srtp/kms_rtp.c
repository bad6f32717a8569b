/* SPDX-License-Identifier: Apache-2.0 */
/* kms_rtp: the RTP fixed header (see kms_rtp.h). */
#include "srtp/kms_rtp.h"

#include <string.h>

#include "util/kms_cur.h"

static kms_result read_hdr(const uint8_t *p, size_t n, uint8_t want_pt, struct kms_rtp_hdr *h)
{
    struct kms_cur c;
    kms_cur_init(&c, p, n);
    uint8_t b0 = 0, b1 = 0;
    KMS_TRY(kms_cur_get_u8(&c, &b0));
    KMS_TRY(kms_cur_get_u8(&c, &b1));
    KMS_ENSURE((b0 >> 6) == 2, KMS_ERR_UNSUPPORTED);
    bool pad = (b0 & 0x20) != 0;
    h->has_ext = (b0 & 0x10) != 0;
    h->cc = b0 & 0x0f;
    h->marker = (b1 & 0x80) != 0;
    h->pt = b1 & 0x7f;
    KMS_ENSURE(h->pt == want_pt, KMS_ERR_UNSUPPORTED);
    KMS_TRY(kms_cur_get_u16(&c, &h->seq));
    KMS_TRY(kms_cur_get_u32(&c, &h->ts));
    KMS_TRY(kms_cur_get_u32(&c, &h->ssrc));
    KMS_TRY(kms_cur_skip(&c, (size_t)h->cc * 4));
    if (h->has_ext) {
        uint16_t profile = 0, words = 0;
        KMS_TRY(kms_cur_get_u16(&c, &profile));
        KMS_TRY(kms_cur_get_u16(&c, &words));
        KMS_TRY(kms_cur_skip(&c, (size_t)words * 4));
    }
    size_t rest = kms_cur_remaining(&c);
    if (pad) {
        /* The count is the last octet and counts itself: 1..rest. */
        KMS_ENSURE(rest >= 1, KMS_ERR_TRUNCATED);
        size_t count = kms_cur_peek_ptr(&c)[rest - 1];
        KMS_ENSURE(count >= 1 && count <= rest, KMS_ERR_MALFORMED);
        h->padding = count;
        rest -= count;
    }
    struct kms_cur payload;
    KMS_TRY(kms_cur_get_view(&c, rest, &payload));
    KMS_TRY(kms_cur_skip(&c, h->padding));
    KMS_TRY(kms_cur_expect_end(&c));
    h->payload = kms_cur_peek_ptr(&payload);
    h->payload_len = kms_cur_remaining(&payload);
    return KMS_RESULT_OK;
}

kms_result kms_rtp_read(const uint8_t *p, size_t n, uint8_t want_pt, struct kms_rtp_hdr *h)
{
    KMS_ENSURE(h != NULL && (p != NULL || n == 0), KMS_ERR_ARG);
    memset(h, 0, sizeof(*h));
    kms_result r = read_hdr(p, n, want_pt, h);
    if (!kms_ok(r)) {
        memset(h, 0, sizeof(*h));
    }
    return r;
}

void kms_rtp_write_hdr(uint8_t out[KMS_RTP_HDR_LEN], bool marker, uint8_t pt, uint16_t seq,
                       uint32_t ts, uint32_t ssrc)
{
    out[0] = 0x80;
    out[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
    out[2] = (uint8_t)(seq >> 8);
    out[3] = (uint8_t)seq;
    out[4] = (uint8_t)(ts >> 24);
    out[5] = (uint8_t)(ts >> 16);
    out[6] = (uint8_t)(ts >> 8);
    out[7] = (uint8_t)ts;
    out[8] = (uint8_t)(ssrc >> 24);
    out[9] = (uint8_t)(ssrc >> 16);
    out[10] = (uint8_t)(ssrc >> 8);
    out[11] = (uint8_t)ssrc;
}
