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
    EVP_MD *sha256;
    EVP_MD *sha1;
};

/* The process-wide handles (fetched on first use, thread-safe). NULL if a fetch failed. */
const struct kms_ossl *kms_ossl(void);

/* HMAC with the named digest ("SHA256", "SHA1") over the concatenation of n parts.
 * out must hold the digest size; *out_len receives it. */
struct kms_iov {
    const uint8_t *p;
    size_t len;
};
KMS_MUST_CHECK kms_result kms_hmac(const char *digest, const uint8_t *key, size_t key_len,
                                   const struct kms_iov *parts, size_t n, uint8_t *out,
                                   size_t out_cap, size_t *out_len);

/* HKDF-Expand-SHA-256 (RFC 5869 section 2.3): out_len octets (at most 255 x 32) of key material
 * from the pseudorandom key prk and info. out is wiped on failure. */
KMS_MUST_CHECK kms_result kms_hkdf_expand_sha256(const uint8_t *prk, size_t prk_len,
                                                 const uint8_t *info, size_t info_len, uint8_t *out,
                                                 size_t out_len);

KMS_MUST_CHECK kms_result kms_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data,
                                          size_t data_len, uint8_t out[32]);

/* An HMAC key prepared once for many MACs (RFC 2104): the digest's state after the key's inner
 * pad block and after its outer pad block, which every MAC under the key copies, so that a MAC
 * costs the hashing of its own data plus one block (a keyed EVP_MAC context costs several
 * context copies and parameter look-ups per MAC; docs/performance.md). The two states are
 * equivalent to the key: kms_hmac_key_cleanup frees them (EVP_MD_CTX_free cleanses them).
 * After init the key is only read, so several threads may MAC under one key at once. */
struct kms_hmac_key {
    const EVP_MD *md;
    size_t out_len; /* the digest size: 32 for SHA-256, 20 for SHA-1 */
    EVP_MD_CTX *inner, *outer;
};

/* Prepares k for HMAC with the named digest ("SHA256" or "SHA1") under key (any length; a key
 * longer than the block is hashed first). On failure k is left cleaned up (and cleanup is still
 * safe). KMS_ERR_ARG for another digest, KMS_ERR_NOMEM, KMS_ERR_CRYPTO. */
KMS_MUST_CHECK kms_result kms_hmac_key_init(struct kms_hmac_key *k, const char *digest,
                                            const uint8_t *key, size_t key_len);
/* out (k->out_len octets, out_cap at least that) = HMAC(key, parts[0] || ... || parts[n-1]). */
KMS_MUST_CHECK kms_result kms_hmac_key_mac(const struct kms_hmac_key *k,
                                           const struct kms_iov *parts, size_t n, uint8_t *out,
                                           size_t out_cap);
/* Frees the prepared states (cleansed); a zeroed or cleaned-up k does nothing. */
void kms_hmac_key_cleanup(struct kms_hmac_key *k);

/* Fills n bytes from the DRBG. */
KMS_MUST_CHECK kms_result kms_random(uint8_t *out, size_t n);

/* Fills n bytes (1..KMS_RANDOM_POOLED_MAX) from this thread's pool of DRBG output, drawn a
 * kilobyte at a time: a DRBG call costs about a microsecond whatever its length (OpenSSL 3.0),
 * several times the rest of a small draw, and a request handler draws a few dozen octets per
 * request. For the random values of the KMS's hot path (key material included). The pool is
 * the DRBG's output a little ahead of use, no more revealing than the DRBG's own state held in
 * the same memory: every octet is handed out once and wiped from the pool as it leaves; a pool
 * filled before a fork() is never used after it, in the child or the parent (a child reusing
 * its parent's bytes would repeat its keys); the thread's exit wipes and frees it. */
#define KMS_RANDOM_POOLED_MAX 64
KMS_MUST_CHECK kms_result kms_random_pooled(uint8_t *out, size_t n);

#endif
