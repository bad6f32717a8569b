/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/kms_ossl.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/rand.h>

static struct kms_ossl handles;
static int handles_ok;
static pthread_once_t handles_once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
    handles.aes128_ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
    handles.aes128_ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
    handles.aes256_ctr = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
    handles.aes256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    handles.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    handles_ok = handles.aes128_ecb != NULL && handles.aes128_ctr != NULL &&
                 handles.aes256_ctr != NULL && handles.aes256_gcm != NULL && handles.hmac != NULL;
}

const struct kms_ossl *kms_ossl(void)
{
    if (pthread_once(&handles_once, fetch_all) != 0 || !handles_ok) {
        return NULL;
    }
    return &handles;
}

kms_result kms_hmac(const char *digest, const uint8_t *key, size_t key_len,
                    const struct kms_iov *parts, size_t n, uint8_t *out, size_t out_cap,
                    size_t *out_len)
{
    kms_result rc = KMS_RC_INIT;
    const struct kms_ossl *o = kms_ossl();
    EVP_MAC_CTX *ctx = NULL;
    *out_len = 0;
    KMS_ENSURE_OUT(rc, o != NULL, KMS_ERR_CRYPTO);
    ctx = EVP_MAC_CTX_new(o->hmac);
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)digest, 0),
        OSSL_PARAM_construct_end(),
    };
    KMS_TRY_OSSL_OUT(rc, EVP_MAC_init(ctx, key, key_len, params));
    for (size_t i = 0; i < n; i++) {
        KMS_TRY_OSSL_OUT(rc, EVP_MAC_update(ctx, parts[i].p, parts[i].len));
    }
    KMS_TRY_OSSL_OUT(rc, EVP_MAC_final(ctx, out, out_len, out_cap));
    rc = KMS_RESULT_OK;
out:
    EVP_MAC_CTX_free(ctx); /* cleanses the keyed state */
    return rc;
}

kms_result kms_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data,
                           size_t data_len, uint8_t out[32])
{
    struct kms_iov part = {data, data_len};
    size_t len;
    KMS_TRY(kms_hmac("SHA256", key, key_len, &part, 1, out, 32, &len));
    KMS_ENSURE(len == 32, KMS_ERR_CRYPTO);
    return KMS_RESULT_OK;
}

kms_result kms_random(uint8_t *out, size_t n)
{
    KMS_ENSURE(n <= (size_t)INT32_MAX, KMS_ERR_ARG);
    KMS_ENSURE(RAND_bytes(out, (int)n) == 1, KMS_ERR_RANDOM);
    return KMS_RESULT_OK;
}
