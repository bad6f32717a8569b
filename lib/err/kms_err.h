/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal error helpers: the result macros every library function uses.
 *
 * Two styles, no others (style.md section 3):
 *  - functions that own no resources return early: KMS_TRY, KMS_ENSURE, KMS_BAIL;
 *  - functions that own resources set `kms_result rc` and jump to `out:` with
 *    KMS_TRY_OUT / KMS_ENSURE_OUT / KMS_BAIL_OUT, where every local is wiped and freed.
 */
#ifndef KMS_ERR_INTERNAL_H
#define KMS_ERR_INTERNAL_H

#include "imskms/err.h"

#define KMS_RESULT_OK ((kms_result){KMS_OK})
/* The initial value of `rc` in functions that end at `out:` (records no failure location:
 * every path to `out` sets rc through a KMS_*_OUT macro). */
#define KMS_RC_INIT ((kms_result){KMS_ERR_INTERNAL})

static inline bool kms_ok(kms_result r)
{
    return r.err == KMS_OK;
}

/* Records file:line of the failure in a thread-local (for logs) and returns the code. */
kms_result kms_err_at(enum kms_err err, const char *file, int line);
/* The file and line of the last failure raised on this thread. */
const char *kms_err_where(int *line);

#define KMS_ERR(e) kms_err_at((e), __FILE__, __LINE__)

#define KMS_TRY(expr)                                                                              \
    do {                                                                                           \
        kms_result kms_r_ = (expr);                                                                \
        if (!kms_ok(kms_r_)) {                                                                     \
            return kms_r_;                                                                         \
        }                                                                                          \
    } while (0)

#define KMS_BAIL(e) return KMS_ERR(e)

#define KMS_ENSURE(cond, e)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            return KMS_ERR(e);                                                                     \
        }                                                                                          \
    } while (0)

#define KMS_ENSURE_REF(p) KMS_ENSURE((p) != NULL, KMS_ERR_ARG)

/* OpenSSL calls succeed only on exactly 1. */
#define KMS_TRY_OSSL(call) KMS_ENSURE((call) == 1, KMS_ERR_CRYPTO)

#define KMS_TRY_OUT(rc, expr)                                                                      \
    do {                                                                                           \
        (rc) = (expr);                                                                             \
        if (!kms_ok(rc)) {                                                                         \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define KMS_BAIL_OUT(rc, e)                                                                        \
    do {                                                                                           \
        (rc) = KMS_ERR(e);                                                                         \
        goto out;                                                                                  \
    } while (0)

#define KMS_ENSURE_OUT(rc, cond, e)                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            KMS_BAIL_OUT(rc, e);                                                                   \
        }                                                                                          \
    } while (0)

#define KMS_TRY_OSSL_OUT(rc, call) KMS_ENSURE_OUT(rc, (call) == 1, KMS_ERR_CRYPTO)

#endif
