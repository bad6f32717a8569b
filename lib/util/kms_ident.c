/* SPDX-License-Identifier: Apache-2.0 */
/* Identity syntax: the rules are stated in kms_ident.h. */
#include "util/kms_ident.h"

#include <string.h>

/* In a word x, (x - 0x21..21) & ~x & 0x80..80 flags octets below 0x21 and (x + 0x01..01) | x
 * flags octets of 0x7f and above (each test is exact for octets below 0x80, and x's own top bit
 * catches the rest). */
bool kms_ident_chars_ok(const uint8_t *p, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101);
    const uint64_t high = UINT64_C(0x8080808080808080);
    uint64_t bad = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        bad |= ((x - 0x21 * ones) & ~x) | (x + ones) | x;
    }
    for (; i < n; i++) {
        bad |= (uint64_t)((uint8_t)(p[i] - 0x21u) > 0x5du) << 7;
    }
    return (bad & high) == 0;
}

/* 1..max octets of printable ASCII without space; len > max is KMS_ERR_TOO_LONG. */
static kms_result check_token(const char *s, size_t len, size_t max)
{
    KMS_ENSURE(s != NULL && len > 0, KMS_ERR_ARG);
    KMS_ENSURE(len <= max, KMS_ERR_TOO_LONG);
    KMS_ENSURE(kms_ident_chars_ok((const uint8_t *)s, len), KMS_ERR_NOT_ASCII);
    return KMS_RESULT_OK;
}

kms_result kms_ident_check_impi(const char *impi, size_t len)
{
    return check_token(impi, len, KMS_IDENT_NAME_MAX);
}

kms_result kms_ident_check_impu(const char *impu, size_t len)
{
    return check_token(impu, len, KMS_IDENT_NAME_MAX);
}

kms_result kms_ident_check_btid(const char *btid, size_t len)
{
    return check_token(btid, len, KMS_BTID_MAX - 1);
}

kms_result kms_ident_check_fqdn(const char *fqdn, size_t len)
{
    KMS_ENSURE(fqdn != NULL && len > 0, KMS_ERR_ARG);
    KMS_ENSURE(len <= KMS_IDENT_FQDN_MAX, KMS_ERR_TOO_LONG);
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)fqdn[i];
        if (ch == '.') {
            KMS_ENSURE(label > 0, KMS_ERR_ARG);
            label = 0;
            continue;
        }
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-';
        KMS_ENSURE(ok, (ch & 0x80) ? KMS_ERR_NOT_ASCII : KMS_ERR_ARG);
        KMS_ENSURE(++label <= KMS_IDENT_LABEL_MAX, KMS_ERR_ARG);
    }
    KMS_ENSURE(label > 0, KMS_ERR_ARG);
    return KMS_RESULT_OK;
}
