/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the TS 33.220 B.3 string S of Ks_NAF (kms_gba_ks_naf_s), built from
 * untrusted IMPI and NAF FQDN. Input: RAND(16) || Ua id(5) || k(1) || IMPI(k) || FQDN(rest);
 * k is cut to what remains. Oracles: S is built iff both names pass their checks, and then
 * S = 0x01 || "gba-me" || 00 06 || RAND || 00 10 || IMPI || L(IMPI) || FQDN || Ua || L(NAF_Id).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_kdf.h"
#include "util/kms_ident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *put(uint8_t *w, const void *p, size_t n)
{
    if (n > 0) {
        memcpy(w, p, n);
    }
    return w + n;
}

static uint8_t *put_len(uint8_t *w, size_t n)
{
    w[0] = (uint8_t)(n >> 8);
    w[1] = (uint8_t)n;
    return w + 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < KMS_GBA_RAND_LEN + KMS_UA_ID_LEN + 1) {
        return 0;
    }
    const uint8_t *rand = data, *ua = data + KMS_GBA_RAND_LEN;
    size_t rest = size - (KMS_GBA_RAND_LEN + KMS_UA_ID_LEN + 1);
    size_t impi_len = data[KMS_GBA_RAND_LEN + KMS_UA_ID_LEN] < rest
                          ? data[KMS_GBA_RAND_LEN + KMS_UA_ID_LEN]
                          : rest;
    const char *impi = (const char *)data + KMS_GBA_RAND_LEN + KMS_UA_ID_LEN + 1;
    const char *fqdn = impi + impi_len;
    size_t fqdn_len = rest - impi_len;

    int names_ok = kms_ok(kms_ident_check_impi(impi, impi_len)) &&
                   kms_ok(kms_ident_check_fqdn(fqdn, fqdn_len));
    struct kms_buf s;
    kms_buf_init(&s, 4096, false);
    kms_result r = kms_gba_ks_naf_s(rand, impi, impi_len, fqdn, fqdn_len, ua, &s);
    if (kms_ok(r) != names_ok) {
        abort();
    }
    if (names_ok) {
        uint8_t *want = malloc(1 + 8 + 18 + impi_len + 2 + fqdn_len + KMS_UA_ID_LEN + 2);
        if (want == NULL) {
            abort();
        }
        uint8_t *w = want;
        w = put(w, "\x01gba-me\x00\x06", 9);
        w = put_len(put(w, rand, KMS_GBA_RAND_LEN), KMS_GBA_RAND_LEN);
        w = put_len(put(w, impi, impi_len), impi_len);
        w = put_len(put(put(w, fqdn, fqdn_len), ua, KMS_UA_ID_LEN), fqdn_len + KMS_UA_ID_LEN);
        if (kms_buf_len(&s) != (size_t)(w - want) ||
            memcmp(kms_buf_data(&s), want, kms_buf_len(&s)) != 0) {
            abort();
        }
        free(want);
    }
    kms_buf_cleanup(&s);
    return 0;
}
