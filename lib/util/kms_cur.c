/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_cur.h"

#include <string.h>

void kms_cur_init(struct kms_cur *c, const uint8_t *p, size_t len)
{
    c->p = len > 0 ? p : NULL;
    c->len = p != NULL ? len : 0;
    c->off = 0;
}

kms_result kms_cur_expect_end(const struct kms_cur *c)
{
    KMS_ENSURE(c->len == 0, KMS_ERR_TRAILING);
    return KMS_RESULT_OK;
}
