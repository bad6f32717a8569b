/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the strict hex decoder. The input is the string (not NUL-terminated).
 * Oracles: accepted iff even length and all [0-9a-fA-F]; encode(decode(x)) == lower(x);
 * a buffer one byte short gives KMS_ERR_TOO_LONG; every failure wipes the output
 * (util/kms_codec.h). Buffers are exact-size heap blocks so ASan sees any write past them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_codec_common.h"
#include "util/kms_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_hex(uint8_t ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t cap = size / 2 + 1, n = 1;
    int valid = size % 2 == 0;
    for (size_t i = 0; i < size; i++) {
        valid = valid && is_hex(data[i]);
    }
    uint8_t *out = malloc(cap);
    char *enc = malloc(KMS_HEX_ENC_LEN(size / 2));
    if (out == NULL || enc == NULL) {
        abort();
    }
    memset(out, 0xa5, cap);
    kms_result r = kms_hex_decode(s, size, out, cap, &n);
    if (!valid) {
        if (!failed_clean(r, KMS_ERR_BAD_HEX, out, cap, n)) {
            abort();
        }
    } else {
        if (!kms_ok(r) || n != size / 2 ||
            !kms_ok(kms_hex_encode(out, n, enc, KMS_HEX_ENC_LEN(n))) || strlen(enc) != size) {
            abort();
        }
        for (size_t i = 0; i < size; i++) {
            uint8_t lower = (data[i] >= 'A' && data[i] <= 'F') ? (uint8_t)(data[i] + 32) : data[i];
            if ((uint8_t)enc[i] != lower) {
                abort();
            }
        }
        if (n > 0) {
            /* n - 1 may be 0: malloc(0) still gives ASan a zero-byte block to guard. */
            uint8_t *small = malloc(n - 1);
            if (small == NULL && n > 1) {
                abort();
            }
            if (small != NULL) {
                memset(small, 0xa5, n - 1);
            }
            size_t m = 1;
            r = kms_hex_decode(s, size, small, n - 1, &m);
            if (!failed_clean(r, KMS_ERR_TOO_LONG, small, n - 1, m)) {
                abort();
            }
            free(small);
        }
    }
    free(enc);
    free(out);
    return 0;
}
