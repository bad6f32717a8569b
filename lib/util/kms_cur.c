/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_cur.h"

#include <string.h>

kms_result kms_cur_expect_end(const struct kms_cur *c)
{
    KMS_ENSURE(c->len == 0, KMS_ERR_TRAILING);
    return KMS_RESULT_OK;
}

kms_result kms_cur_get_kv_line(struct kms_cur *c, const char *name, char *val, size_t cap)
{
    KMS_ENSURE(c != NULL && name != NULL && val != NULL && cap > 0, KMS_ERR_ARG);
    size_t nl = strlen(name);
    const uint8_t *p = kms_cur_peek_ptr(c);
    size_t left = kms_cur_remaining(c);
    KMS_ENSURE(left > nl && memcmp(p, name, nl) == 0 && p[nl] == '=', KMS_ERR_MALFORMED);
    size_t end = nl + 1;
    while (end < left && p[end] != '\n') {
        end++;
    }
    KMS_ENSURE(end < left, KMS_ERR_TRUNCATED);
    size_t vlen = end - nl - 1;
    /* A NUL would cut the C string short of the value (and a control byte has no business in
     * these files): refused, so that what is read is the whole line. */
    for (size_t i = nl + 1; i < end; i++) {
        KMS_ENSURE(p[i] >= 0x20 && p[i] < 0x7f, KMS_ERR_MALFORMED);
    }
    KMS_ENSURE(vlen < cap, KMS_ERR_TOO_LONG);
    memcpy(val, p + nl + 1, vlen);
    val[vlen] = '\0';
    kms_cur_advance_(c, end + 1);
    return KMS_RESULT_OK;
}
