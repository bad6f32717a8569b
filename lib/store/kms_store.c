/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store front: records are sealed with AES-256-GCM under a key derived from the KEK before
 * a backend sees them.
 *
 * Row blob: kv (4 bytes, big-endian: the key version) || nonce(12, random) || ciphertext
 *           || tag(16), under key = kms_kek_derive(KEK, STATE_STORE, kv).
 * AAD:      "imskms-store-v2" || kind (1 byte, 'K' for a Kue record) || id (16 bytes)
 *           || expires (8 bytes, big-endian) || kv (4 bytes).
 * The id, kind and expiry in the AAD bind a blob to its row: a blob copied onto another id, an
 * expiry pushed back in the database, or any altered byte, fails the tag check.
 *
 * Before key versions (SQLite schema 1) a blob was nonce || ciphertext || tag under the raw KEK,
 * with AAD "imskms-store-v1" || kind || id || expires; kms_store_new re-seals such rows (the
 * backend's migrate) and nothing else reads that form.
 *
 * Random 96-bit nonces: the backend counts the seals under each version and refuses one past
 * the limit (2^30; NIST SP 800-38D 8.3 allows 2^32 with random nonces), and the front then
 * rotates to the next version. AES-GCM-SIV would not need the count, but it is in OpenSSL 3.2
 * and Debian 12 has 3.0 (docs/crypto.md).
 */
#include "store/kms_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/kms_kek.h"
#include "crypto/kms_ossl.h"
#include "util/kms_mem.h"

#define KEK_LEN   32
#define KV_LEN    4
#define NONCE_LEN 12
#define TAG_LEN   16
#define BLOB_MAX  (KV_LEN + NONCE_LEN + KMS_STORE_RECORD_MAX + TAG_LEN)

#define KIND_KUE ((uint8_t)'K')

static const char aad_label[] = "imskms-store-v2";
static const char aad_label_v0[] = "imskms-store-v1"; /* raw-KEK records of schema 1 */
#define AAD_LABEL_LEN (sizeof(aad_label) - 1)
#define AAD_LEN       (AAD_LABEL_LEN + 1 + KMS_STORE_ID_LEN + 8 + KV_LEN)
#define AAD_V0_LEN    (AAD_LABEL_LEN + 1 + KMS_STORE_ID_LEN + 8)

struct kms_store {
    struct kms_store_backend *be;
    struct kms_secret *kek;
    uint64_t seal_limit;
    pthread_mutex_t mu; /* guards kv and key */
    bool mu_ok;
    uint32_t kv;            /* the version new records are sealed under */
    struct kms_secret *key; /* its key */
};

static void put_be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* aad receives AAD_LEN bytes, or AAD_V0_LEN when v0 (the raw-KEK form, no version). */
static void make_aad(uint8_t *aad, bool v0, uint8_t kind, const uint8_t id[KMS_STORE_ID_LEN],
                     uint64_t expires, uint32_t kv)
{
    memcpy(aad, v0 ? aad_label_v0 : aad_label, AAD_LABEL_LEN);
    aad[AAD_LABEL_LEN] = kind;
    memcpy(aad + AAD_LABEL_LEN + 1, id, KMS_STORE_ID_LEN);
    for (size_t i = 0; i < 8; i++) {
        aad[AAD_LABEL_LEN + 1 + KMS_STORE_ID_LEN + i] = (uint8_t)(expires >> (56 - 8 * i));
    }
    if (!v0) {
        put_be32(aad + AAD_V0_LEN, kv);
    }
}

/* sealed receives nonce || ciphertext || tag (NONCE_LEN + len + TAG_LEN bytes). */
static kms_result gcm_seal(const uint8_t key[KEK_LEN], const uint8_t *aad, size_t aad_len,
                           const uint8_t *pt, size_t len, uint8_t *sealed)
{
    kms_result rc = KMS_RC_INIT;
    EVP_CIPHER_CTX *ctx = NULL;
    int outl = 0, finl = 0;
    const EVP_CIPHER *gcm = kms_ossl() != NULL ? kms_ossl()->aes256_gcm : NULL;
    KMS_ENSURE_OUT(rc, gcm != NULL, KMS_ERR_CRYPTO);
    KMS_ENSURE_OUT(rc, len <= KMS_STORE_RECORD_MAX, KMS_ERR_TOO_LONG);
    KMS_TRY_OUT(rc, kms_random(sealed, NONCE_LEN));
    ctx = EVP_CIPHER_CTX_new();
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    /* The default GCM IV length is 12 bytes, the length used here. */
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptInit_ex2(ctx, gcm, key, sealed, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aad_len));
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptUpdate(ctx, sealed + NONCE_LEN, &outl, pt, (int)len));
    KMS_ENSURE_OUT(rc, outl >= 0 && (size_t)outl == len, KMS_ERR_CRYPTO);
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptFinal_ex(ctx, sealed + NONCE_LEN + len, &finl));
    KMS_ENSURE_OUT(rc, finl == 0, KMS_ERR_CRYPTO);
    KMS_TRY_OSSL_OUT(
        rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, sealed + NONCE_LEN + len));
    rc = KMS_RESULT_OK;
out:
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return rc;
}

/* pt (KMS_STORE_RECORD_MAX bytes) receives the plaintext of sealed (nonce || ct || tag) when the
 * tag verifies; on any failure it holds nothing (wiped). Too short, too long or a failed tag is
 * KMS_ERR_STORE. */
static kms_result gcm_open(const uint8_t key[KEK_LEN], const uint8_t *aad, size_t aad_len,
                           const uint8_t *sealed, size_t sealed_len,
                           uint8_t pt[KMS_STORE_RECORD_MAX], size_t *pt_len)
{
    kms_result rc = KMS_RC_INIT;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t tag[TAG_LEN];
    int outl = 0, finl = 0;
    size_t len = 0;
    *pt_len = 0;
    const EVP_CIPHER *gcm = kms_ossl() != NULL ? kms_ossl()->aes256_gcm : NULL;
    KMS_ENSURE_OUT(rc, gcm != NULL, KMS_ERR_CRYPTO);
    KMS_ENSURE_OUT(rc,
                   sealed_len >= NONCE_LEN + TAG_LEN &&
                       sealed_len <= NONCE_LEN + KMS_STORE_RECORD_MAX + TAG_LEN,
                   KMS_ERR_STORE);
    len = sealed_len - NONCE_LEN - TAG_LEN;
    /* The tag is copied out: EVP_CTRL_GCM_SET_TAG takes a non-const pointer. */
    memcpy(tag, sealed + NONCE_LEN + len, TAG_LEN);
    ctx = EVP_CIPHER_CTX_new();
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptInit_ex2(ctx, gcm, key, sealed, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aad_len));
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptUpdate(ctx, pt, &outl, sealed + NONCE_LEN, (int)len));
    KMS_ENSURE_OUT(rc, outl >= 0 && (size_t)outl == len, KMS_ERR_CRYPTO);
    KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag));
    /* A wrong KEK, a moved row and an altered blob all end here. */
    KMS_ENSURE_OUT(rc, EVP_DecryptFinal_ex(ctx, pt + len, &finl) == 1, KMS_ERR_STORE);
    KMS_ENSURE_OUT(rc, finl == 0, KMS_ERR_CRYPTO);
    *pt_len = len;
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        kms_wipe(pt, KMS_STORE_RECORD_MAX);
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* The key of version kv: the cached current one, or derived afresh (older versions). */
static kms_result key_of(struct kms_store *st, uint32_t kv, uint8_t key[KEK_LEN])
{
    pthread_mutex_lock(&st->mu);
    bool cached = st->key != NULL && kv == st->kv;
    if (cached) {
        memcpy(key, st->key->d, KEK_LEN);
    }
    pthread_mutex_unlock(&st->mu);
    return cached ? KMS_RESULT_OK : kms_kek_derive(st->kek->d, KMS_KEK_STATE_STORE, kv, key);
}

/* Makes kv the current version (when it is newer than the one held). */
static kms_result use_version(struct kms_store *st, uint32_t kv)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_secret *key = NULL;
    KMS_TRY_OUT(rc, kms_secret_new(KEK_LEN, &key));
    KMS_TRY_OUT(rc, kms_kek_derive(st->kek->d, KMS_KEK_STATE_STORE, kv, key->d));
    pthread_mutex_lock(&st->mu);
    if (st->key == NULL || kv > st->kv) {
        struct kms_secret *old = st->key;
        st->key = key;
        st->kv = kv;
        key = old;
    }
    pthread_mutex_unlock(&st->mu);
    rc = KMS_RESULT_OK;
out:
    kms_secret_free(key);
    return rc;
}

/* blob (BLOB_MAX bytes) receives kv || nonce || ciphertext || tag; *blob_len its length. */
static kms_result seal(struct kms_store *st, uint32_t *kv_used, uint8_t kind,
                       const uint8_t id[KMS_STORE_ID_LEN], uint64_t expires, const uint8_t *pt,
                       size_t len, uint8_t blob[BLOB_MAX], size_t *blob_len)
{
    uint8_t key[KEK_LEN], aad[AAD_LEN];
    *blob_len = 0;
    pthread_mutex_lock(&st->mu);
    uint32_t kv = st->kv;
    memcpy(key, st->key->d, KEK_LEN);
    pthread_mutex_unlock(&st->mu);
    make_aad(aad, false, kind, id, expires, kv);
    put_be32(blob, kv);
    kms_result r = gcm_seal(key, aad, AAD_LEN, pt, len, blob + KV_LEN);
    kms_wipe(key, sizeof(key));
    KMS_TRY(r);
    *kv_used = kv;
    *blob_len = KV_LEN + NONCE_LEN + len + TAG_LEN;
    return KMS_RESULT_OK;
}

static kms_result open_blob(struct kms_store *st, uint8_t kind, const uint8_t id[KMS_STORE_ID_LEN],
                            uint64_t expires, const uint8_t *blob, size_t blob_len,
                            uint8_t pt[KMS_STORE_RECORD_MAX], size_t *pt_len)
{
    uint8_t key[KEK_LEN], aad[AAD_LEN];
    *pt_len = 0;
    KMS_ENSURE(blob_len >= KV_LEN, KMS_ERR_STORE);
    uint32_t kv = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 |
                  (uint32_t)blob[3];
    KMS_ENSURE(kv > 0, KMS_ERR_STORE);
    KMS_TRY(key_of(st, kv, key));
    make_aad(aad, false, kind, id, expires, kv);
    kms_result r = gcm_open(key, aad, AAD_LEN, blob + KV_LEN, blob_len - KV_LEN, pt, pt_len);
    kms_wipe(key, sizeof(key));
    return r;
}

/* The backend's migrate callback: a raw-KEK blob of schema 1 re-sealed under version 1. */
static kms_result reseal_v0(void *ctx, const uint8_t id[16], uint64_t expires, const uint8_t *blob,
                            size_t len, struct kms_buf *out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_store *st = ctx;
    uint8_t aad[AAD_LEN], key[KEK_LEN], pt[KMS_STORE_RECORD_MAX], nb[BLOB_MAX];
    size_t pt_len = 0;
    make_aad(aad, true, KIND_KUE, id, expires, 0);
    KMS_TRY_OUT(rc, gcm_open(st->kek->d, aad, AAD_V0_LEN, blob, len, pt, &pt_len));
    KMS_TRY_OUT(rc, kms_kek_derive(st->kek->d, KMS_KEK_STATE_STORE, 1, key));
    make_aad(aad, false, KIND_KUE, id, expires, 1);
    put_be32(nb, 1);
    KMS_TRY_OUT(rc, gcm_seal(key, aad, AAD_LEN, pt, pt_len, nb + KV_LEN));
    KMS_TRY_OUT(rc, kms_buf_put_bytes(out, nb, KV_LEN + NONCE_LEN + pt_len + TAG_LEN));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(pt, sizeof(pt));
    kms_wipe(key, sizeof(key));
    return rc;
}

kms_result kms_store_new(struct kms_store_backend *be, const uint8_t kek[32],
                         struct kms_store **out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_store *st = NULL;
    uint32_t kv = 0;
    uint64_t seals = 0;
    if (out != NULL) {
        *out = NULL;
    }
    KMS_ENSURE_OUT(rc, be != NULL && be->ops != NULL && kek != NULL && out != NULL, KMS_ERR_ARG);
    st = calloc(1, sizeof(*st));
    KMS_ENSURE_OUT(rc, st != NULL, KMS_ERR_NOMEM);
    st->be = be;
    be = NULL;
    KMS_ENSURE_OUT(rc, pthread_mutex_init(&st->mu, NULL) == 0, KMS_ERR_NOMEM);
    st->mu_ok = true;
    st->seal_limit = KMS_STORE_SEAL_LIMIT;
    KMS_TRY_OUT(rc, kms_secret_from(kek, KEK_LEN, &st->kek));
    KMS_TRY_OUT(rc, st->be->ops->migrate(st->be, reseal_v0, st, NULL));
    KMS_TRY_OUT(rc, st->be->ops->key_current(st->be, &kv, &seals));
    KMS_TRY_OUT(rc, use_version(st, kv));
    *out = st;
    st = NULL;
    rc = KMS_RESULT_OK;
out:
    /* The store owns be from the call on: it is closed here when the store was not made. */
    if (be != NULL && be->ops != NULL) {
        be->ops->close(be);
    }
    kms_store_close(st);
    return rc;
}

void kms_store_close(struct kms_store *st)
{
    if (st == NULL) {
        return;
    }
    if (st->be != NULL) {
        st->be->ops->close(st->be);
    }
    kms_secret_free(st->kek);
    kms_secret_free(st->key);
    if (st->mu_ok) {
        pthread_mutex_destroy(&st->mu);
    }
    free(st);
}

kms_result kms_store_key_info(struct kms_store *st, uint32_t *kv, uint64_t *seals)
{
    KMS_ENSURE(st != NULL && kv != NULL && seals != NULL, KMS_ERR_ARG);
    return st->be->ops->key_current(st->be, kv, seals);
}

void kms_store_set_seal_limit(struct kms_store *st, uint64_t limit)
{
    if (st != NULL && limit > 0) {
        st->seal_limit = limit;
    }
}

kms_result kms_store_kue_put(struct kms_store *st, const uint8_t id[KMS_STORE_ID_LEN],
                             uint64_t expires, const uint8_t *rec, size_t len)
{
    uint8_t blob[BLOB_MAX];
    size_t blob_len;
    KMS_ENSURE(st != NULL && id != NULL && (rec != NULL || len == 0), KMS_ERR_ARG);
    KMS_ENSURE(len <= KMS_STORE_RECORD_MAX, KMS_ERR_TOO_LONG);
    /* Twice at most: a spent version moves the store to the next one (another process may have
     * moved it already), and the record is sealed again under that one. */
    for (int tries = 0;; tries++) {
        uint32_t kv = 0, next = 0;
        /* blob is ciphertext only: nothing to wipe. */
        KMS_TRY(seal(st, &kv, KIND_KUE, id, expires, rec, len, blob, &blob_len));
        kms_result r = st->be->ops->put(st->be, id, expires, blob, blob_len, kv, st->seal_limit);
        if (r.err != KMS_ERR_KEY_SPENT || tries == 1) {
            return r;
        }
        KMS_TRY(st->be->ops->key_rotate(st->be, kv, &next));
        KMS_TRY(use_version(st, next));
    }
}

kms_result kms_store_kue_get(struct kms_store *st, const uint8_t id[KMS_STORE_ID_LEN], uint64_t now,
                             struct kms_buf *out, uint64_t *expires)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_buf blob;
    uint8_t pt[KMS_STORE_RECORD_MAX];
    size_t pt_len = 0;
    uint64_t exp = 0;
    kms_buf_init(&blob, BLOB_MAX, false);
    if (expires != NULL) {
        *expires = 0;
    }
    KMS_ENSURE_OUT(rc, st != NULL && id != NULL && out != NULL, KMS_ERR_ARG);
    rc = st->be->ops->get(st->be, id, now, &blob, &exp);
    if (!kms_ok(rc)) {
        /* TOO_LONG: a blob longer than any the front writes is not ours. */
        if (rc.err == KMS_ERR_TOO_LONG) {
            rc = KMS_ERR(KMS_ERR_STORE);
        }
        goto out;
    }
    KMS_TRY_OUT(
        rc, open_blob(st, KIND_KUE, id, exp, kms_buf_data(&blob), kms_buf_len(&blob), pt, &pt_len));
    /* kms_buf_put_bytes leaves out unchanged when the record does not fit. */
    KMS_TRY_OUT(rc, kms_buf_put_bytes(out, pt, pt_len));
    if (expires != NULL) {
        *expires = exp;
    }
    rc = KMS_RESULT_OK;
out:
    kms_wipe(pt, sizeof(pt));
    kms_buf_cleanup(&blob);
    return rc;
}

kms_result kms_store_kue_del(struct kms_store *st, const uint8_t id[KMS_STORE_ID_LEN])
{
    KMS_ENSURE(st != NULL && id != NULL, KMS_ERR_ARG);
    return st->be->ops->del(st->be, id);
}

kms_result kms_store_kue_scan(struct kms_store *st, uint64_t now,
                              const uint8_t after[KMS_STORE_ID_LEN],
                              uint8_t (*ids)[KMS_STORE_ID_LEN], size_t cap, size_t *n)
{
    KMS_ENSURE(st != NULL && ids != NULL && cap > 0 && n != NULL, KMS_ERR_ARG);
    *n = 0;
    return st->be->ops->scan(st->be, now, after, ids, cap, n);
}

kms_result kms_store_purge(struct kms_store *st, uint64_t now, uint64_t *n)
{
    if (n != NULL) {
        *n = 0;
    }
    KMS_ENSURE(st != NULL, KMS_ERR_ARG);
    return st->be->ops->purge(st->be, now, n);
}
