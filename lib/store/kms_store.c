/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store front: records are sealed with AES-256-GCM under the KEK before a backend sees them.
 *
 * Row blob: nonce(12, random) || ciphertext || tag(16).
 * AAD:      "imskms-store-v1" || kind (1 byte, 'K' for a Kue record) || id (16 bytes)
 *           || expires (8 bytes, big-endian).
 * The id, kind and expiry in the AAD bind a blob to its row: a blob copied onto another id, an
 * expiry pushed back in the database, or any altered byte, fails the tag check. Counters carry no
 * secret and pass through unsealed.
 */
#include "store/kms_store.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/kms_ossl.h"
#include "util/kms_mem.h"

#define KEK_LEN   32
#define NONCE_LEN 12
#define TAG_LEN   16
#define BLOB_MAX  (NONCE_LEN + KMS_STORE_RECORD_MAX + TAG_LEN)

#define KIND_KUE ((uint8_t)'K')

static const char aad_label[] = "imskms-store-v1";
#define AAD_LABEL_LEN (sizeof(aad_label) - 1)
#define AAD_LEN       (AAD_LABEL_LEN + 1 + KMS_STORE_ID_LEN + 8)

struct kms_store {
    struct kms_store_backend *be;
    struct kms_secret *kek;
};

static void make_aad(uint8_t aad[AAD_LEN], uint8_t kind, const uint8_t id[KMS_STORE_ID_LEN],
                     uint64_t expires)
{
    for (size_t i = 0; i < 8; i++) {
        aad[AAD_LEN - 8 + i] = (uint8_t)(expires >> (56 - 8 * i));
    }
    memcpy(aad, aad_label, AAD_LABEL_LEN);
    aad[AAD_LABEL_LEN] = kind;
    memcpy(aad + AAD_LABEL_LEN + 1, id, KMS_STORE_ID_LEN);
}

/* blob (BLOB_MAX bytes) receives nonce || ciphertext || tag; *blob_len its length. */
static kms_result seal(const struct kms_store *st, uint8_t kind, const uint8_t id[KMS_STORE_ID_LEN],
                       uint64_t expires, const uint8_t *pt, size_t len, uint8_t blob[BLOB_MAX],
                       size_t *blob_len)
{
    kms_result rc = KMS_RC_INIT;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t aad[AAD_LEN];
    int outl = 0, finl = 0;
    *blob_len = 0;
    const EVP_CIPHER *gcm = kms_ossl() != NULL ? kms_ossl()->aes256_gcm : NULL;
    KMS_ENSURE_OUT(rc, gcm != NULL, KMS_ERR_CRYPTO);
    KMS_ENSURE_OUT(rc, len <= KMS_STORE_RECORD_MAX, KMS_ERR_TOO_LONG);
    make_aad(aad, kind, id, expires);
    KMS_TRY_OUT(rc, kms_random(blob, NONCE_LEN));
    ctx = EVP_CIPHER_CTX_new();
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    /* The default GCM IV length is 12 bytes, the length used here. */
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptInit_ex2(ctx, gcm, st->kek->d, blob, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)AAD_LEN));
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptUpdate(ctx, blob + NONCE_LEN, &outl, pt, (int)len));
    KMS_ENSURE_OUT(rc, outl >= 0 && (size_t)outl == len, KMS_ERR_CRYPTO);
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptFinal_ex(ctx, blob + NONCE_LEN + len, &finl));
    KMS_ENSURE_OUT(rc, finl == 0, KMS_ERR_CRYPTO);
    KMS_TRY_OSSL_OUT(
        rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, blob + NONCE_LEN + len));
    *blob_len = NONCE_LEN + len + TAG_LEN;
    rc = KMS_RESULT_OK;
out:
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return rc;
}

/* pt (KMS_STORE_RECORD_MAX bytes) receives the plaintext when the tag verifies; on any failure
 * it holds nothing (wiped). A blob that is too short or fails the tag is KMS_ERR_STORE. */
static kms_result open_blob(const struct kms_store *st, uint8_t kind,
                            const uint8_t id[KMS_STORE_ID_LEN], uint64_t expires,
                            const uint8_t *blob, size_t blob_len, uint8_t pt[KMS_STORE_RECORD_MAX],
                            size_t *pt_len)
{
    kms_result rc = KMS_RC_INIT;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t aad[AAD_LEN], tag[TAG_LEN];
    int outl = 0, finl = 0;
    size_t len = 0;
    *pt_len = 0;
    const EVP_CIPHER *gcm = kms_ossl() != NULL ? kms_ossl()->aes256_gcm : NULL;
    KMS_ENSURE_OUT(rc, gcm != NULL, KMS_ERR_CRYPTO);
    KMS_ENSURE_OUT(rc, blob_len >= NONCE_LEN + TAG_LEN && blob_len <= BLOB_MAX, KMS_ERR_STORE);
    len = blob_len - NONCE_LEN - TAG_LEN;
    make_aad(aad, kind, id, expires);
    /* The tag is copied out: EVP_CTRL_GCM_SET_TAG takes a non-const pointer. */
    memcpy(tag, blob + NONCE_LEN + len, TAG_LEN);
    ctx = EVP_CIPHER_CTX_new();
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptInit_ex2(ctx, gcm, st->kek->d, blob, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)AAD_LEN));
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptUpdate(ctx, pt, &outl, blob + NONCE_LEN, (int)len));
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

kms_result kms_store_new(struct kms_store_backend *be, const uint8_t kek[32],
                         struct kms_store **out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_store *st = NULL;
    if (out != NULL) {
        *out = NULL;
    }
    KMS_ENSURE_OUT(rc, be != NULL && be->ops != NULL && kek != NULL && out != NULL, KMS_ERR_ARG);
    st = calloc(1, sizeof(*st));
    KMS_ENSURE_OUT(rc, st != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_secret_from(kek, KEK_LEN, &st->kek));
    st->be = be;
    be = NULL;
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
    free(st);
}

kms_result kms_store_kue_put(struct kms_store *st, const uint8_t id[KMS_STORE_ID_LEN],
                             uint64_t expires, const uint8_t *rec, size_t len)
{
    uint8_t blob[BLOB_MAX];
    size_t blob_len;
    KMS_ENSURE(st != NULL && id != NULL && (rec != NULL || len == 0), KMS_ERR_ARG);
    KMS_ENSURE(len <= KMS_STORE_RECORD_MAX, KMS_ERR_TOO_LONG);
    /* blob is ciphertext only: nothing to wipe. */
    KMS_TRY(seal(st, KIND_KUE, id, expires, rec, len, blob, &blob_len));
    return st->be->ops->put(st->be, id, expires, blob, blob_len);
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

kms_result kms_store_counter_advance(struct kms_store *st, const uint8_t id[KMS_STORE_ID_LEN],
                                     uint64_t counter, uint64_t expires)
{
    KMS_ENSURE(st != NULL && id != NULL, KMS_ERR_ARG);
    return st->be->ops->counter_advance(st->be, id, counter, expires);
}

kms_result kms_store_purge(struct kms_store *st, uint64_t now, uint64_t *n)
{
    if (n != NULL) {
        *n = 0;
    }
    KMS_ENSURE(st != NULL, KMS_ERR_ARG);
    return st->be->ops->purge(st->be, now, n);
}
