/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the strict (canonical, padded) base64 decoder. The input is the string (not
 * NUL-terminated). Oracles: every byte string has exactly one accepted encoding, so
 * encode(decode(x)) == x byte for byte; a buffer one byte short gives KMS_ERR_TOO_LONG; every
 * failure wipes the output (util/kms_codec.h). Buffers are exact-size heap blocks so ASan sees
 * any write past them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_codec_common.h"
#include "util/kms_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t cap = size / 4 * 3, n = 1; /* the most any size-character input can decode to */
    uint8_t *out = malloc(cap);
    if (out == NULL && cap > 0) {
        abort();
    }
    if (out != NULL) {
        memset(out, 0xa5, cap);
    }
    kms_result r = kms_base64_decode(s, size, out, cap, &n);
    if (!kms_ok(r)) {
        if (!failed_clean(r, KMS_ERR_BAD_BASE64, out, cap, n)) {
            abort();
        }
        free(out);
        return 0;
    }
    char *enc = malloc(KMS_BASE64_ENC_LEN(n));
    if (enc == NULL || n > cap || !kms_ok(kms_base64_encode(out, n, enc, KMS_BASE64_ENC_LEN(n))) ||
        strlen(enc) != size || memcmp(enc, s, size) != 0) {
        abort();
    }
    if (n > 0) {
        uint8_t *small = malloc(n - 1); /* n - 1 may be 0: still a block ASan guards */
        size_t m = 1;
        if (small == NULL && n > 1) {
            abort();
        }
        if (small != NULL) {
            memset(small, 0xa5, n - 1);
        }
        r = kms_base64_decode(s, size, small, n - 1, &m);
        if (!failed_clean(r, KMS_ERR_TOO_LONG, small, n - 1, m)) {
            abort();
        }
        free(small);
    }
    free(enc);
    free(out);
    return 0;
}
