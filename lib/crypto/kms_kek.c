/* SPDX-License-Identifier: Apache-2.0 */
/* KEK derivations: see kms_kek.h. */
#include "crypto/kms_kek.h"

#include <string.h>

#include "crypto/kms_ossl.h"
#include "util/kms_mem.h"

#define LABEL_MAX 64

struct row {
    const char *label;
    int v1;
};

static const struct row registry[KMS_KEK_USE_COUNT] = {
#define KMS_KEK_ROW(name, label, v1) [KMS_KEK_##name] = {label, v1},
    KMS_KEK_REGISTRY(KMS_KEK_ROW)
#undef KMS_KEK_ROW
};

const char *kms_kek_label(enum kms_kek_use use)
{
    return (unsigned)use < KMS_KEK_USE_COUNT ? registry[use].label : NULL;
}

kms_result kms_kek_derive(const uint8_t kek[KMS_KEK_LEN], enum kms_kek_use use, uint32_t version,
                          uint8_t out[KMS_KEK_LEN])
{
    KMS_ENSURE(out != NULL, KMS_ERR_ARG);
    memset(out, 0, KMS_KEK_LEN);
    KMS_ENSURE(kek != NULL && (unsigned)use < KMS_KEK_USE_COUNT && version > 0, KMS_ERR_ARG);
    const struct row *r = &registry[use];
    size_t n = strlen(r->label);
    KMS_ENSURE(n > 0 && n <= LABEL_MAX, KMS_ERR_INTERNAL);
    kms_result rc;
    if (version == 1 && r->v1 == KMS_KEK_V1_HMAC) {
        /* type=exception: the pre-registry derivation, which existing files depend on. */
        rc = kms_hmac_sha256(kek, KMS_KEK_LEN, (const uint8_t *)r->label, n, out);
    } else {
        uint8_t info[LABEL_MAX + 4];
        memcpy(info, r->label, n);
        info[n] = (uint8_t)(version >> 24);
        info[n + 1] = (uint8_t)(version >> 16);
        info[n + 2] = (uint8_t)(version >> 8);
        info[n + 3] = (uint8_t)version;
        rc = kms_hkdf_expand_sha256(kek, KMS_KEK_LEN, info, n + 4, out, KMS_KEK_LEN);
    }
    if (!kms_ok(rc)) {
        kms_wipe(out, KMS_KEK_LEN);
    }
    return rc;
}
