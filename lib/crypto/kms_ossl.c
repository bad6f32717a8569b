/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/kms_ossl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "util/kms_mem.h"

static struct kms_ossl handles;
static int handles_ok;
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
    handles.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    handles.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    handles_ok = handles.aes128_ecb != NULL && handles.aes128_ctr != NULL &&
                 handles.aes256_ctr != NULL && handles.aes256_gcm != NULL &&
                 handles.aes256_siv != NULL && handles.hmac != NULL && handles.hkdf != NULL &&
                 handles.sha256 != NULL && handles.sha1 != NULL;
}

const struct kms_ossl *kms_ossl(void)
{
    if (pthread_once(&handles_once, fetch_all) != 0 || !handles_ok) {
        return NULL;
    }
    return &handles;
}

/* ---- HMAC over EVP_MD (RFC 2104) ---- */

/* Both digests we use hash 64-octet blocks. */
#define HMAC_BLOCK 64

/* The digest of a name, with its output size. */
static const EVP_MD *md_of(const char *digest, size_t *out_len)
{
    const struct kms_ossl *o = kms_ossl();
    if (o == NULL || digest == NULL) {
        return NULL;
    }
    if (strcmp(digest, "SHA256") == 0) {
        *out_len = 32;
        return o->sha256;
    }
    if (strcmp(digest, "SHA1") == 0) {
        *out_len = 20;
        return o->sha1;
    }
    return NULL;
}

/* One digest context per thread for the hashing itself: every EVP_DigestInit and
 * EVP_MD_CTX_copy_ex allocates the digest's state anyway (OpenSSL 3.0), but the context
 * around it need not be. It is reset (its state freed, cleansed) after every use, so it never
 * holds anything between two MACs; the thread's exit frees it. */
static pthread_key_t work_key;
static pthread_once_t work_once = PTHREAD_ONCE_INIT;
static int work_key_ok;
static _Thread_local EVP_MD_CTX *work_ctx;

static void work_free(void *p)
{
    EVP_MD_CTX_free(p);
}

static void work_key_make(void)
{
    work_key_ok = pthread_key_create(&work_key, work_free) == 0;
}

static EVP_MD_CTX *work(void)
{
    if (work_ctx == NULL) {
        if (pthread_once(&work_once, work_key_make) != 0 || !work_key_ok) {
            return NULL;
        }
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        if (c == NULL) {
            return NULL;
        }
        if (pthread_setspecific(work_key, c) != 0) {
            EVP_MD_CTX_free(c);
            return NULL;
        }
        work_ctx = c;
    }
    return work_ctx;
}

/* The key as HMAC pads it: itself, or its digest when longer than the block (RFC 2104 2). */
static kms_result block_key(EVP_MD_CTX *w, const EVP_MD *md, const uint8_t *key, size_t key_len,
                            uint8_t k0[HMAC_BLOCK], size_t *k0_len)
{
    if (key_len <= HMAC_BLOCK) {
        if (key_len > 0) {
            memcpy(k0, key, key_len);
        }
        *k0_len = key_len;
        return KMS_RESULT_OK;
    }
    unsigned int n = 0;
    KMS_TRY_OSSL(EVP_DigestInit_ex2(w, md, NULL));
    KMS_TRY_OSSL(EVP_DigestUpdate(w, key, key_len));
    KMS_TRY_OSSL(EVP_DigestFinal_ex(w, k0, &n));
    *k0_len = n;
    return KMS_RESULT_OK;
}

/* pad = k0 XOR the pad octet, zero-filled to the block. */
static void make_pad(const uint8_t *k0, size_t k0_len, uint8_t x, uint8_t pad[HMAC_BLOCK])
{
    for (size_t i = 0; i < HMAC_BLOCK; i++) {
        pad[i] = (uint8_t)((i < k0_len ? k0[i] : 0) ^ x);
    }
}

/* Feeds the parts to w (a state after a pad block) and finishes it into out. */
static kms_result hash_parts(EVP_MD_CTX *w, const struct kms_iov *parts, size_t n, uint8_t *out,
                             unsigned int *out_len)
{
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > 0) {
            KMS_TRY_OSSL(EVP_DigestUpdate(w, parts[i].p, parts[i].len));
        }
    }
    KMS_TRY_OSSL(EVP_DigestFinal_ex(w, out, out_len));
    return KMS_RESULT_OK;
}

kms_result kms_hmac(const char *digest, const uint8_t *key, size_t key_len,
                    const struct kms_iov *parts, size_t n, uint8_t *out, size_t out_cap,
                    size_t *out_len)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t k0[HMAC_BLOCK], pad[HMAC_BLOCK], inner[EVP_MAX_MD_SIZE];
    size_t k0_len = 0, want = 0;
    unsigned int got = 0;
    EVP_MD_CTX *w = NULL;
    KMS_ENSURE_REF(out_len);
    *out_len = 0;
    const EVP_MD *md = md_of(digest, &want);
    KMS_ENSURE(md != NULL, KMS_ERR_CRYPTO);
    KMS_ENSURE(out != NULL && out_cap >= want && (key != NULL || key_len == 0) &&
                   (parts != NULL || n == 0),
               KMS_ERR_ARG);
    w = work();
    KMS_ENSURE(w != NULL, KMS_ERR_NOMEM);
    /* One pass each over ipad || data and opad || inner: the pads are hashed per call, which
     * costs less than preparing both states and copying them for a single MAC. */
    KMS_TRY_OUT(rc, block_key(w, md, key, key_len, k0, &k0_len));
    make_pad(k0, k0_len, 0x36, pad);
    KMS_TRY_OSSL_OUT(rc, EVP_DigestInit_ex2(w, md, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_DigestUpdate(w, pad, HMAC_BLOCK));
    KMS_TRY_OUT(rc, hash_parts(w, parts, n, inner, &got));
    KMS_ENSURE_OUT(rc, got == want, KMS_ERR_CRYPTO);
    make_pad(k0, k0_len, 0x5c, pad);
    KMS_TRY_OSSL_OUT(rc, EVP_DigestInit_ex2(w, md, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_DigestUpdate(w, pad, HMAC_BLOCK));
    const struct kms_iov in = {inner, want};
    KMS_TRY_OUT(rc, hash_parts(w, &in, 1, out, &got));
    KMS_ENSURE_OUT(rc, got == want, KMS_ERR_CRYPTO);
    *out_len = want;
    rc = KMS_RESULT_OK;
out:
    if (w != NULL) {
        (void)EVP_MD_CTX_reset(w); /* frees (cleanses) the state: nothing stays between calls */
    }
    kms_wipe(k0, sizeof(k0));
    kms_wipe(pad, sizeof(pad));
    kms_wipe(inner, sizeof(inner));
    if (!kms_ok(rc)) {
        kms_wipe(out, out_cap);
    }
    return rc;
}

kms_result kms_hmac_key_init(struct kms_hmac_key *k, const char *digest, const uint8_t *key,
                             size_t key_len)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t k0[HMAC_BLOCK], pad[HMAC_BLOCK];
    size_t k0_len = 0;
    KMS_ENSURE_REF(k);
    memset(k, 0, sizeof(*k));
    KMS_ENSURE(key != NULL || key_len == 0, KMS_ERR_ARG);
    k->md = md_of(digest, &k->out_len);
    KMS_ENSURE(k->md != NULL, KMS_ERR_ARG);
    EVP_MD_CTX *w = work();
    KMS_ENSURE(w != NULL, KMS_ERR_NOMEM);
    k->inner = EVP_MD_CTX_new();
    k->outer = EVP_MD_CTX_new();
    KMS_ENSURE_OUT(rc, k->inner != NULL && k->outer != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, block_key(w, k->md, key, key_len, k0, &k0_len));
    make_pad(k0, k0_len, 0x36, pad);
    KMS_TRY_OSSL_OUT(rc, EVP_DigestInit_ex2(k->inner, k->md, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_DigestUpdate(k->inner, pad, HMAC_BLOCK));
    make_pad(k0, k0_len, 0x5c, pad);
    KMS_TRY_OSSL_OUT(rc, EVP_DigestInit_ex2(k->outer, k->md, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_DigestUpdate(k->outer, pad, HMAC_BLOCK));
    rc = KMS_RESULT_OK;
out:
    (void)EVP_MD_CTX_reset(w);
    kms_wipe(k0, sizeof(k0));
    kms_wipe(pad, sizeof(pad));
    if (!kms_ok(rc)) {
        kms_hmac_key_cleanup(k);
    }
    return rc;
}

kms_result kms_hmac_key_mac(const struct kms_hmac_key *k, const struct kms_iov *parts, size_t n,
                            uint8_t *out, size_t out_cap)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t inner[EVP_MAX_MD_SIZE];
    unsigned int got = 0;
    KMS_ENSURE(k != NULL && k->inner != NULL && k->outer != NULL, KMS_ERR_ARG);
    KMS_ENSURE(out != NULL && out_cap >= k->out_len && (parts != NULL || n == 0), KMS_ERR_ARG);
    EVP_MD_CTX *w = work();
    KMS_ENSURE(w != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OSSL_OUT(rc, EVP_MD_CTX_copy_ex(w, k->inner));
    KMS_TRY_OUT(rc, hash_parts(w, parts, n, inner, &got));
    KMS_ENSURE_OUT(rc, got == k->out_len, KMS_ERR_CRYPTO);
    KMS_TRY_OSSL_OUT(rc, EVP_MD_CTX_copy_ex(w, k->outer));
    const struct kms_iov in = {inner, k->out_len};
    KMS_TRY_OUT(rc, hash_parts(w, &in, 1, out, &got));
    KMS_ENSURE_OUT(rc, got == k->out_len, KMS_ERR_CRYPTO);
    rc = KMS_RESULT_OK;
out:
    (void)EVP_MD_CTX_reset(w); /* the copied keyed state does not outlive the call */
    kms_wipe(inner, sizeof(inner));
    if (!kms_ok(rc)) {
        kms_wipe(out, out_cap);
    }
    return rc;
}

void kms_hmac_key_cleanup(struct kms_hmac_key *k)
{
    if (k != NULL) {
        EVP_MD_CTX_free(k->inner); /* cleanses the keyed states */
        EVP_MD_CTX_free(k->outer);
        k->inner = NULL;
        k->outer = NULL;
    }
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

/* ---- the per-thread random pool ---- */

#define POOL_LEN 1024

struct rand_pool {
    uint8_t b[POOL_LEN];
    size_t left;    /* unused octets: b[0..left) */
    unsigned forks; /* fork_count when filled */
};

/* Forks made by this process, counted before each fork (so the child inherits the new count):
 * a pool filled before a fork is thrown away in the child (which would repeat the parent's
 * values) and in the parent too (the child holds a copy of it). */
static atomic_uint fork_count;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int pool_key_ok;
static _Thread_local struct rand_pool *tls_pool;

static void before_fork(void)
{
    atomic_fetch_add(&fork_count, 1u);
}

static void pool_free(void *p)
{
    if (p != NULL) {
        kms_wipe(p, sizeof(struct rand_pool));
        free(p);
    }
}

static void pool_init_once(void)
{
    pool_key_ok = pthread_key_create(&pool_key, pool_free) == 0 &&
                  pthread_atfork(before_fork, NULL, NULL) == 0;
}

static struct rand_pool *pool(void)
{
    if (tls_pool == NULL) {
        if (pthread_once(&pool_once, pool_init_once) != 0 || !pool_key_ok) {
            return NULL;
        }
        struct rand_pool *p = calloc(1, sizeof(*p));
        if (p == NULL) {
            return NULL;
        }
        if (pthread_setspecific(pool_key, p) != 0) {
            free(p);
            return NULL;
        }
        tls_pool = p;
    }
    return tls_pool;
}

kms_result kms_random_pooled(uint8_t *out, size_t n)
{
    KMS_ENSURE(out != NULL && n >= 1 && n <= KMS_RANDOM_POOLED_MAX, KMS_ERR_ARG);
    struct rand_pool *p = pool();
    KMS_ENSURE(p != NULL, KMS_ERR_NOMEM);
    unsigned forks = atomic_load(&fork_count);
    if (p->left < n || p->forks != forks) {
        kms_wipe(p->b, sizeof(p->b));
        p->left = 0;
        KMS_TRY(kms_random(p->b, sizeof(p->b)));
        p->left = sizeof(p->b);
        p->forks = forks;
    }
    p->left -= n;
    memcpy(out, p->b + p->left, n);
    kms_wipe(p->b + p->left, n); /* each octet handed out once */
    return KMS_RESULT_OK;
}

/*= RFC 5869, section 2.3
 *# OKM = first L octets of T, T(1) = HMAC-Hash(PRK, T(0) | info | 0x01)
 */
kms_result kms_hkdf_expand_sha256(const uint8_t *prk, size_t prk_len, const uint8_t *info,
                                  size_t info_len, uint8_t *out, size_t out_len)
{
    KMS_ENSURE(out != NULL && out_len > 0 && out_len <= 255 * 32, KMS_ERR_ARG);
    KMS_ENSURE(prk != NULL && prk_len > 0 && (info != NULL || info_len == 0), KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    EVP_KDF_CTX *ctx = NULL;
    const struct kms_ossl *o = kms_ossl();
    KMS_ENSURE_OUT(rc, o != NULL && o->hkdf != NULL, KMS_ERR_CRYPTO);
    ctx = EVP_KDF_CTX_new(o->hkdf);
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)(uintptr_t) "SHA256", 0),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)prk, prk_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info, info_len),
        OSSL_PARAM_construct_end(),
    };
    KMS_TRY_OSSL_OUT(rc, EVP_KDF_derive(ctx, out, out_len, params));
    rc = KMS_RESULT_OK;
out:
    EVP_KDF_CTX_free(ctx); /* cleanses its copy of the key */
    if (!kms_ok(rc)) {
        kms_wipe(out, out_len);
    }
    return rc;
}
