/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSL algorithm handles, fetched once per process. Fetching (EVP_CIPHER_fetch,
 * EVP_MAC_fetch) costs far more than the operations we run, so every hot path takes its
 * algorithm from here instead of fetching by name each time.
 */
#ifndef KMS_CRYPTO_OSSL_H
#define KMS_CRYPTO_OSSL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "err/kms_err.h"

struct kms_ossl {
    EVP_CIPHER *aes128_ecb;
    EVP_CIPHER *aes128_ctr;
    EVP_CIPHER *aes256_ctr;
    EVP_CIPHER *aes256_gcm;
    EVP_CIPHER *aes256_siv; /* RFC 5297: the BSF's sealed challenges (kms_bsf) */
    EVP_MAC *hmac;
    EVP_KDF *hkdf; /* kms_kek */
};

/* The process-wide handles (fetched on first use, thread-safe). NULL if a fetch failed. */
const struct kms_ossl *kms_ossl(void);

/* A new, unkeyed HMAC context for "SHA256" or "SHA1" (a copy of a template with the digest set
 * once per process); NULL for another digest or on failure. The caller frees it. */
EVP_MAC_CTX *kms_hmac_ctx_new(const char *digest);

/* HMAC with the named digest ("SHA256", "SHA1") over the concatenation of n parts.
 * out must hold the digest size; *out_len receives it. */
struct kms_iov {
    const uint8_t *p;
    size_t len;
};
KMS_MUST_CHECK kms_result kms_hmac(const char *digest, const uint8_t *key, size_t key_len,
                                   const struct kms_iov *parts, size_t n, uint8_t *out,
                                   size_t out_cap, size_t *out_len);

KMS_MUST_CHECK kms_result kms_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data,
                                          size_t data_len, uint8_t out[32]);

/* Fills n bytes from the DRBG. */
KMS_MUST_CHECK kms_result kms_random(uint8_t *out, size_t n);

#endif
