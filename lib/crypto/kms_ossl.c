/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/kms_ossl.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/rand.h>

static struct kms_ossl handles;
static int handles_ok;
/* Unkeyed HMAC contexts with their digest set, copied for every MAC: setting the digest by
 * name costs more than the hashing of a short message (docs/performance.md). */
static EVP_MAC_CTX *tmpl_sha256, *tmpl_sha1;

static EVP_MAC_CTX *hmac_template(const char *digest)
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(handles.hmac);
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (ctx != NULL && EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}
static pthread_once_t handles_once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
    handles.aes128_ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
    handles.aes128_ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
    handles.aes256_ctr = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
    handles.aes256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    handles.aes256_siv = EVP_CIPHER_fetch(NULL, "AES-256-SIV", NULL);
    handles.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    handles.hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (handles.hmac != NULL) {
        tmpl_sha256 = hmac_template("SHA256");
        tmpl_sha1 = hmac_template("SHA1");
    }
    handles_ok = handles.aes128_ecb != NULL && handles.aes128_ctr != NULL &&
                 handles.aes256_ctr != NULL && handles.aes256_gcm != NULL &&
                 handles.aes256_siv != NULL && handles.hmac != NULL && handles.hkdf != NULL &&
                 tmpl_sha256 != NULL && tmpl_sha1 != NULL;
}

EVP_MAC_CTX *kms_hmac_ctx_new(const char *digest)
{
    if (kms_ossl() == NULL || digest == NULL) {
        return NULL;
    }
    if (strcmp(digest, "SHA256") == 0) {
        return EVP_MAC_CTX_dup(tmpl_sha256);
    }
    if (strcmp(digest, "SHA1") == 0) {
        return EVP_MAC_CTX_dup(tmpl_sha1);
    }
    return NULL;
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
    EVP_MAC_CTX *ctx = NULL;
    *out_len = 0;
    ctx = kms_hmac_ctx_new(digest);
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_CRYPTO);
    KMS_TRY_OSSL_OUT(rc, EVP_MAC_init(ctx, key, key_len, NULL));
    for (size_t i = 0; i < n; i++) {
        KMS_TRY_OSSL_OUT(rc, EVP_MAC_update(ctx, parts[i].p, parts[i].len));
    }
    KMS_TRY_OSSL_OUT(rc, EVP_MAC_final(ctx, out, out_len, out_cap));
    rc = KMS_RESULT_OK;
out:
    EVP_MAC_CTX_free(ctx); /* cleanses the keyed state */
    return rc;
}

kms_result kms_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len,
                           uint8_t out[32])
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
