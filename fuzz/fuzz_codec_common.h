/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the hex and base64 harnesses: the codec's failure contract (util/kms_codec.h). */
#ifndef KMS_FUZZ_CODEC_COMMON_H
#define KMS_FUZZ_CODEC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "util/kms_codec.h"

/* 1 when r is the expected error, the reported length is 0 and the output is wiped. */
static inline int failed_clean(kms_result r, enum kms_err want, const uint8_t *out, size_t cap,
                               size_t out_len)
{
    if (r.err != want || out_len != 0) {
        return 0;
    }
    for (size_t i = 0; i < cap; i++) {
        if (out[i] != 0) {
            return 0;
        }
    }
    return 1;
}

#endif
