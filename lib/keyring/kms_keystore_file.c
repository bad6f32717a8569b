/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file keystore: Kkms generated from the DRBG, kept in the keyring file wrapped under the
 * KEK, used through OpenSSL's AES-256-GCM.
 *
 * Two subkeys come from the 32-byte KEK, so it is never used for two jobs (crypto/kms_kek.h,
 * rows KEYRING_WRAP and KEYRING_MAC, version 1):
 *   wrap key = HMAC-SHA-256(KEK, "imskms keyring wrap v1")
 *   mac key  = HMAC-SHA-256(KEK, "imskms keyring mac v1")
 * A wrapped key (the reference kept in the file) is nonce(12) || AES-256-GCM(wrap key, Kkms)
 * || tag(16) with associated data "imskms-kkms-v1" || ring id || key id (4 bytes), so a
 * wrapped key moved to another record or keyring does not unwrap.
 *
 * A loaded key keeps two pre-keyed EVP contexts (seal, open), each behind its own mutex: the
 * key schedule is computed once, and each operation only sets the nonce.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "crypto/kms_kek.h"
#include "crypto/kms_ossl.h"
#include "keyring/kms_keystore.h"
#include "util/kms_mem.h"

#define WRAPPED_LEN (KMS_GCM_NONCE_LEN + KMS_KKMS_LEN + KMS_GCM_TAG_LEN)

static const char wrap_ad[] = "imskms-kkms-v1";

struct file_ks {
    struct kms_keystore base;
    struct kms_secret *wrap; /* 32 bytes */
    struct kms_secret *mac;  /* 32 bytes */
};

struct kms_keystore_key {
    pthread_mutex_t seal_mu;
    pthread_mutex_t open_mu;
    EVP_CIPHER_CTX *seal;
    EVP_CIPHER_CTX *open;
};

kms_result kms_kek_read(const char *path, uint8_t kek[32])
{
    KMS_ENSURE_REF(path);
    KMS_ENSURE_REF(kek);
    memset(kek, 0, 32);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    KMS_ENSURE(fd >= 0, errno == ELOOP ? KMS_ERR_KEK : KMS_ERR_IO);
    struct stat st;
    uint8_t tmp[33];
    ssize_t got = -1;
    kms_result rc = KMS_RC_INIT;
    KMS_ENSURE_OUT(rc, fstat(fd, &st) == 0, KMS_ERR_IO);
    KMS_ENSURE_OUT(rc, S_ISREG(st.st_mode) && (st.st_mode & 077) == 0 && st.st_size == 32,
                   KMS_ERR_KEK);
    got = read(fd, tmp, sizeof(tmp));
    KMS_ENSURE_OUT(rc, got == 32, got < 0 ? KMS_ERR_IO : KMS_ERR_KEK);
    memcpy(kek, tmp, 32);
    rc = KMS_RESULT_OK;
out:
    kms_wipe(tmp, sizeof(tmp));
    close(fd);
    return rc;
}

static kms_result derive(const uint8_t kek[32], enum kms_kek_use use, struct kms_secret **out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_secret *s = NULL;
    KMS_TRY_OUT(rc, kms_secret_new(32, &s));
    KMS_TRY_OUT(rc, kms_kek_derive(kek, use, 1, s->d));
    *out = s;
    s = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_secret_free(s);
    return rc;
}

static void wrap_aad(uint8_t *aad, const uint8_t ring_id[KMS_RING_ID_LEN], uint32_t key_id)
{
    size_t n = sizeof(wrap_ad) - 1;
    memcpy(aad, wrap_ad, n);
    memcpy(aad + n, ring_id, KMS_RING_ID_LEN);
    aad[n + 16] = (uint8_t)(key_id >> 24);
    aad[n + 17] = (uint8_t)(key_id >> 16);
    aad[n + 18] = (uint8_t)(key_id >> 8);
    aad[n + 19] = (uint8_t)key_id;
}
#define WRAP_AAD_LEN (sizeof(wrap_ad) - 1 + KMS_RING_ID_LEN + 4)

/* One-shot AES-256-GCM with a fresh context (wrapping is rare). */
static kms_result gcm_once(bool enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                           size_t aad_len, const uint8_t *in, size_t n, uint8_t *outp, uint8_t *tag)
{
    kms_result rc = KMS_RC_INIT;
    const struct kms_ossl *o = kms_ossl();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    KMS_ENSURE_OUT(rc, o != NULL && ctx != NULL, KMS_ERR_CRYPTO);
    KMS_ENSURE_OUT(rc, n <= INT32_MAX && aad_len <= INT32_MAX, KMS_ERR_TOO_LONG);
    KMS_TRY_OSSL_OUT(rc, EVP_CipherInit_ex2(ctx, o->aes256_gcm, key, nonce, enc ? 1 : 0, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len));
    KMS_TRY_OSSL_OUT(rc, EVP_CipherUpdate(ctx, outp, &len, in, (int)n));
    if (enc) {
        KMS_TRY_OSSL_OUT(rc, EVP_CipherFinal_ex(ctx, outp + len, &len));
        KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, KMS_GCM_TAG_LEN, tag));
    } else {
        KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, KMS_GCM_TAG_LEN, tag));
        KMS_ENSURE_OUT(rc, EVP_CipherFinal_ex(ctx, outp + len, &len) == 1, KMS_ERR_TICKET_TAG);
    }
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc) && !enc) {
        kms_wipe(outp, n);
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static kms_result fks_generate(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                               uint32_t key_id, uint8_t *ref, size_t *ref_len)
{
    struct file_ks *f = (struct file_ks *)ks;
    kms_result rc = KMS_RC_INIT;
    uint8_t kkms[KMS_KKMS_LEN];
    uint8_t aad[WRAP_AAD_LEN];
    KMS_ENSURE_OUT(rc, ref != NULL && ref_len != NULL, KMS_ERR_ARG);
    KMS_TRY_OUT(rc, kms_random(kkms, sizeof(kkms)));
    KMS_TRY_OUT(rc, kms_random(ref, KMS_GCM_NONCE_LEN));
    wrap_aad(aad, ring_id, key_id);
    KMS_TRY_OUT(rc, gcm_once(true, f->wrap->d, ref, aad, sizeof(aad), kkms, sizeof(kkms),
                             ref + KMS_GCM_NONCE_LEN, ref + KMS_GCM_NONCE_LEN + KMS_KKMS_LEN));
    *ref_len = WRAPPED_LEN;
    rc = KMS_RESULT_OK;
out:
    kms_wipe(kkms, sizeof(kkms));
    return rc;
}

static void fks_unload(struct kms_keystore_key *k)
{
    if (k == NULL) {
        return;
    }
    EVP_CIPHER_CTX_free(k->seal); /* frees (and cleanses) the key schedule */
    EVP_CIPHER_CTX_free(k->open);
    pthread_mutex_destroy(&k->seal_mu);
    pthread_mutex_destroy(&k->open_mu);
    kms_wipe(k, sizeof(*k));
    free(k);
}

static kms_result fks_load(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                           uint32_t key_id, const uint8_t *ref, size_t ref_len,
                           struct kms_keystore_key **out)
{
    struct file_ks *f = (struct file_ks *)ks;
    kms_result rc = KMS_RC_INIT;
    uint8_t kkms[KMS_KKMS_LEN];
    uint8_t aad[WRAP_AAD_LEN];
    struct kms_keystore_key *k = NULL;
    const struct kms_ossl *o = kms_ossl();
    KMS_ENSURE_OUT(rc, out != NULL && ref != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE_OUT(rc, ref_len == WRAPPED_LEN, KMS_ERR_KEYRING_MAC);
    KMS_ENSURE_OUT(rc, o != NULL, KMS_ERR_CRYPTO);
    wrap_aad(aad, ring_id, key_id);
    rc = gcm_once(false, f->wrap->d, ref, aad, sizeof(aad), ref + KMS_GCM_NONCE_LEN, KMS_KKMS_LEN,
                  kkms, (uint8_t *)(uintptr_t)(ref + KMS_GCM_NONCE_LEN + KMS_KKMS_LEN));
    if (rc.err == KMS_ERR_TICKET_TAG) {
        KMS_BAIL_OUT(rc, KMS_ERR_KEYRING_MAC);
    }
    KMS_TRY_OUT(rc, rc);
    k = calloc(1, sizeof(*k));
    KMS_ENSURE_OUT(rc, k != NULL, KMS_ERR_NOMEM);
    pthread_mutex_init(&k->seal_mu, NULL);
    pthread_mutex_init(&k->open_mu, NULL);
    k->seal = EVP_CIPHER_CTX_new();
    k->open = EVP_CIPHER_CTX_new();
    KMS_ENSURE_OUT(rc, k->seal != NULL && k->open != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptInit_ex2(k->seal, o->aes256_gcm, kkms, NULL, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptInit_ex2(k->open, o->aes256_gcm, kkms, NULL, NULL));
    *out = k;
    k = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_wipe(kkms, sizeof(kkms));
    fks_unload(k);
    return rc;
}

static kms_result fks_seal(struct kms_keystore_key *k, const uint8_t nonce[KMS_GCM_NONCE_LEN],
                           const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                           uint8_t *ct, uint8_t tag[KMS_GCM_TAG_LEN])
{
    KMS_ENSURE_REF(k);
    KMS_ENSURE(pt_len <= INT32_MAX && aad_len <= INT32_MAX, KMS_ERR_TOO_LONG);
    kms_result rc = KMS_RC_INIT;
    int len = 0;
    pthread_mutex_lock(&k->seal_mu);
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptInit_ex2(k->seal, NULL, NULL, nonce, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptUpdate(k->seal, NULL, &len, aad, (int)aad_len));
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptUpdate(k->seal, ct, &len, pt, (int)pt_len));
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptFinal_ex(k->seal, ct + len, &len));
    KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(k->seal, EVP_CTRL_AEAD_GET_TAG, KMS_GCM_TAG_LEN, tag));
    rc = KMS_RESULT_OK;
out:
    pthread_mutex_unlock(&k->seal_mu);
    return rc;
}

static kms_result fks_open(struct kms_keystore_key *k, const uint8_t nonce[KMS_GCM_NONCE_LEN],
                           const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                           const uint8_t tag[KMS_GCM_TAG_LEN], uint8_t *pt)
{
    KMS_ENSURE_REF(k);
    KMS_ENSURE(ct_len <= INT32_MAX && aad_len <= INT32_MAX, KMS_ERR_TOO_LONG);
    kms_result rc = KMS_RC_INIT;
    int len = 0;
    pthread_mutex_lock(&k->open_mu);
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptInit_ex2(k->open, NULL, NULL, nonce, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptUpdate(k->open, NULL, &len, aad, (int)aad_len));
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptUpdate(k->open, pt, &len, ct, (int)ct_len));
    KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(k->open, EVP_CTRL_AEAD_SET_TAG, KMS_GCM_TAG_LEN,
                                             (void *)(uintptr_t)tag));
    KMS_ENSURE_OUT(rc, EVP_DecryptFinal_ex(k->open, pt + len, &len) == 1, KMS_ERR_TICKET_TAG);
    rc = KMS_RESULT_OK;
out:
    pthread_mutex_unlock(&k->open_mu);
    if (!kms_ok(rc)) {
        kms_wipe(pt, ct_len);
    }
    return rc;
}

static kms_result fks_destroy(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                              uint32_t key_id, const uint8_t *ref, size_t ref_len)
{
    (void)ks;
    (void)ring_id;
    (void)key_id;
    (void)ref;
    (void)ref_len;
    return KMS_RESULT_OK; /* the material lives only in the keyring file */
}

static kms_result fks_sweep(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                            const uint32_t *keep, size_t n_keep, size_t *n_destroyed)
{
    (void)ks;
    (void)ring_id;
    (void)keep;
    (void)n_keep;
    if (n_destroyed != NULL) {
        *n_destroyed = 0;
    }
    return KMS_RESULT_OK;
}

static kms_result fks_file_mac(struct kms_keystore *ks, const uint8_t *p, size_t n, uint8_t out[32])
{
    struct file_ks *f = (struct file_ks *)ks;
    return kms_hmac_sha256(f->mac->d, f->mac->len, p, n, out);
}

static void fks_close(struct kms_keystore *ks)
{
    struct file_ks *f = (struct file_ks *)ks;
    if (f == NULL) {
        return;
    }
    kms_secret_free(f->wrap);
    kms_secret_free(f->mac);
    free(f);
}

static const struct kms_keystore_ops file_ops = {
    .name = "file",
    .kind = KMS_KEYSTORE_FILE,
    .generate = fks_generate,
    .load = fks_load,
    .unload = fks_unload,
    .seal = fks_seal,
    .open = fks_open,
    .destroy = fks_destroy,
    .sweep = fks_sweep,
    .file_mac = fks_file_mac,
    .close = fks_close,
};

kms_result kms_keystore_file_open_kek(const uint8_t kek[32], struct kms_keystore **out)
{
    KMS_ENSURE_REF(kek);
    KMS_ENSURE_REF(out);
    *out = NULL;
    kms_result rc = KMS_RC_INIT;
    struct file_ks *f = calloc(1, sizeof(*f));
    KMS_ENSURE_OUT(rc, f != NULL, KMS_ERR_NOMEM);
    f->base.ops = &file_ops;
    KMS_TRY_OUT(rc, derive(kek, KMS_KEK_KEYRING_WRAP, &f->wrap));
    KMS_TRY_OUT(rc, derive(kek, KMS_KEK_KEYRING_MAC, &f->mac));
    *out = &f->base;
    f = NULL;
    rc = KMS_RESULT_OK;
out:
    fks_close(f ? &f->base : NULL);
    return rc;
}

kms_result kms_keystore_file_open(const char *kek_path, struct kms_keystore **out)
{
    uint8_t kek[32];
    kms_result rc = kms_kek_read(kek_path, kek);
    if (kms_ok(rc)) {
        rc = kms_keystore_file_open_kek(kek, out);
    }
    kms_wipe(kek, sizeof(kek));
    return rc;
}

void kms_keystore_close(struct kms_keystore *ks)
{
    if (ks != NULL) {
        ks->ops->close(ks);
    }
}
