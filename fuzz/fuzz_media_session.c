/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: kms_media_session_decode (ue/kms_media.h), the session file DIR/srtp that the
 * RTP commands read. Oracles: a refusal leaves the struct all zero; an accepted image passes
 * kms_media_session_check, encodes (kms_media_session_encode) to an image equal to the input
 * but for the case of hex digits (one spelling per value), which decodes to the same struct;
 * the image without its last octet is refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_keyring_common.h"
#include "ue/kms_media.h"
#include "util/kms_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > KMS_MEDIA_SESSION_MAX) {
        return 0;
    }
    uint8_t *p = kf_dup(data, size, 1);
    p[size] = 0; /* one spare octet, never read by the decoder (size is passed) */
    struct kms_media_session s, s2;
    memset(&s, 0x5a, sizeof(s));
    kms_result r = kms_media_session_decode(p, size, &s);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(&s, sizeof(s)));
        free(p);
        return 0;
    }
    KF_CHECK(kms_ok(kms_media_session_check(&s)));
    struct kms_buf b;
    kms_buf_init(&b, KMS_MEDIA_SESSION_MAX, true);
    KF_CHECK(kms_ok(kms_media_session_encode(&s, &b)));
    KF_CHECK(kms_buf_len(&b) == size);
    KF_CHECK(strncasecmp((const char *)kms_buf_data(&b), (const char *)p, size) == 0);
    KF_CHECK(kms_ok(kms_media_session_decode(kms_buf_data(&b), kms_buf_len(&b), &s2)));
    KF_CHECK(memcmp(&s, &s2, sizeof(s)) == 0);
    KF_CHECK(!kms_ok(kms_media_session_decode(p, size - 1, &s2)));
    kms_buf_cleanup(&b);
    kms_media_session_wipe(&s);
    kms_media_session_wipe(&s2);
    free(p);
    return 0;
}
