/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_mem.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

kms_result kms_secret_new(size_t len, struct kms_secret **out)
{
    *out = NULL;
    KMS_ENSURE(len > 0, KMS_ERR_ARG);
    struct kms_secret *s = calloc(1, sizeof(*s));
    KMS_ENSURE(s != NULL, KMS_ERR_NOMEM);
    /* OPENSSL_secure_zalloc falls back to the ordinary heap when no secure heap exists. */
    s->d = OPENSSL_secure_zalloc(len);
    if (s->d == NULL) {
        free(s);
        KMS_BAIL(KMS_ERR_NOMEM);
    }
    s->len = len;
    *out = s;
    return KMS_RESULT_OK;
}

kms_result kms_secret_from(const uint8_t *p, size_t len, struct kms_secret **out)
{
    KMS_TRY(kms_secret_new(len, out));
    memcpy((*out)->d, p, len);
    return KMS_RESULT_OK;
}

void kms_secret_free(struct kms_secret *s)
{
    if (s == NULL) {
        return;
    }
    OPENSSL_secure_clear_free(s->d, s->len);
    free(s);
}

kms_result kms_mem_secure_init(size_t size)
{
    if (CRYPTO_secure_malloc_initialized()) {
        return KMS_RESULT_OK;
    }
    /* minsize 32: every key we hold is at least 16 bytes and most are 32. */
    KMS_ENSURE(CRYPTO_secure_malloc_init(size, 32) != 0, KMS_ERR_NOMEM);
    return KMS_RESULT_OK;
}

void kms_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0) {
#if defined(__GNUC__)
        /* memset, then a barrier that claims to read the memory: the compiler must assume the
         * zeros are observed, so it cannot drop the store (the technique of glibc's
         * explicit_bzero). A plain inlined memset is several times cheaper than OPENSSL_cleanse
         * for the short buffers wiped on every ticket. */
        memset(p, 0, n);
        __asm__ __volatile__("" : : "r"(p) : "memory");
#else
        OPENSSL_cleanse(p, n);
#endif
    }
}

bool kms_ct_eq(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

kms_result kms_str_copy(char *dst, size_t cap, const char *src)
{
    KMS_ENSURE(dst != NULL && src != NULL && cap > 0, KMS_ERR_ARG);
    size_t n = strnlen(src, cap);
    if (n == cap) {
        dst[0] = '\0';
        KMS_BAIL(KMS_ERR_TOO_LONG);
    }
    memcpy(dst, src, n + 1);
    return KMS_RESULT_OK;
}
