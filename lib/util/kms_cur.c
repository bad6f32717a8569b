/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_cur.h"

#include <string.h>

kms_result kms_cur_expect_end(const struct kms_cur *c)
{
    KMS_ENSURE(c->len == 0, KMS_ERR_TRAILING);
    return KMS_RESULT_OK;
}
