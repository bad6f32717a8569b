/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file keystore: Kkms generated from the DRBG, kept in the keyring file wrapped under the
 * KEK, used through OpenSSL's AES-256-GCM.
 *
 * Subkeys come from the 32-byte KEK through the KEK registry (crypto/kms_kek.h), so it is never
 * used for two jobs:
 *   wrap key    = row KEYRING_WRAP, version 1 = HMAC-SHA-256(KEK, "imskms keyring wrap v1")
 *                 (wrap epoch 0)
 *   mac key     = row KEYRING_MAC, version 1 = HMAC-SHA-256(KEK, "imskms keyring mac v1")
 *                 (keyring file MAC)
 *   epoch base  = row KEYRING_EPOCH, version 1 (HKDF)
 *   anchor key  = row KEYRING_ANCHOR, version 1 (HKDF; PATH.anchor MAC)
 *   wrap key of epoch e >= 1 = HMAC-SHA-256(epoch base, e (8) || secret_e (32))
 * secret_e is random and lives in the keyring's anchor (PATH.anchor), not in the keyring file:
 * a revocation moves the surviving keys to a new epoch and the anchor forgets the old secret,
 * so an old copy of the keyring file no longer unwraps (docs/keyring.md).
 * A wrapped key (the reference kept in the file) is [epoch (4), when e >= 1] || nonce(12) ||
 * AES-256-GCM(wrap key of its epoch, Kkms) || tag(16) with associated data "imskms-kkms-v1" ||
 * ring id || key id (4 bytes), so a wrapped key moved to another record or keyring does not
 * unwrap.
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

#include "util/kms_file.h"

#define WRAPPED_LEN (KMS_GCM_NONCE_LEN + KMS_KKMS_LEN + KMS_GCM_TAG_LEN)
#define EPOCH_LEN   4 /* the epoch prefix of a reference wrapped in epoch >= 1 */
#define EPOCHS_MAX  4 /* wrap epochs remembered by one keystore */
#define ANCHOR_MAC  32

_Static_assert(EPOCH_LEN + WRAPPED_LEN <= KMS_KEYREF_MAX, "an epoch reference fits");

static const char wrap_ad[] = "imskms-kkms-v1";

struct file_ks {
    struct kms_keystore base;
    struct kms_secret *wrap;   /* 32 bytes: epoch 0 */
    struct kms_secret *mac;    /* 32 bytes */
    struct kms_secret *epoch;  /* 32 bytes: derives the wrap keys of epochs >= 1 */
    struct kms_secret *anchor; /* 32 bytes */
    pthread_mutex_t mu;        /* guards ep */
    struct {
        uint64_t e;              /* 0: free slot */
        struct kms_secret *wrap; /* 32 bytes */
    } ep[EPOCHS_MAX];
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

/* Wraps kkms for (ring_id, key_id) under key (epoch e: 0 writes no epoch prefix). */
static kms_result wrap_key(const uint8_t *key, uint64_t e, const uint8_t ring_id[KMS_RING_ID_LEN],
                           uint32_t key_id, const uint8_t kkms[KMS_KKMS_LEN], uint8_t *ref,
                           size_t *ref_len)
{
    uint8_t aad[WRAP_AAD_LEN];
    size_t off = 0;
    KMS_ENSURE(e <= UINT32_MAX, KMS_ERR_KEYRING_FULL);
    if (e != 0) {
        ref[0] = (uint8_t)(e >> 24);
        ref[1] = (uint8_t)(e >> 16);
        ref[2] = (uint8_t)(e >> 8);
        ref[3] = (uint8_t)e;
        off = EPOCH_LEN;
    }
    KMS_TRY(kms_random(ref + off, KMS_GCM_NONCE_LEN));
    wrap_aad(aad, ring_id, key_id);
    KMS_TRY(gcm_once(true, key, ref + off, aad, sizeof(aad), kkms, KMS_KKMS_LEN,
                     ref + off + KMS_GCM_NONCE_LEN, ref + off + KMS_GCM_NONCE_LEN + KMS_KKMS_LEN));
    *ref_len = off + WRAPPED_LEN;
    return KMS_RESULT_OK;
}

/* Unwraps a reference of any epoch this keystore knows (KMS_ERR_KEYRING_MAC otherwise). */
static kms_result unwrap_key(struct file_ks *f, const uint8_t ring_id[KMS_RING_ID_LEN],
                             uint32_t key_id, const uint8_t *ref, size_t ref_len,
                             uint8_t kkms[KMS_KKMS_LEN])
{
    kms_result rc = KMS_RC_INIT;
    uint8_t aad[WRAP_AAD_LEN], key[32];
    size_t off = 0;
    bool found = false;
    if (ref_len == EPOCH_LEN + WRAPPED_LEN) {
        uint64_t e = (uint64_t)ref[0] << 24 | (uint64_t)ref[1] << 16 | (uint64_t)ref[2] << 8 |
                     (uint64_t)ref[3];
        (void)pthread_mutex_lock(&f->mu);
        for (size_t i = 0; i < EPOCHS_MAX && e != 0; i++) {
            if (f->ep[i].e == e) {
                memcpy(key, f->ep[i].wrap->d, sizeof(key));
                found = true;
            }
        }
        (void)pthread_mutex_unlock(&f->mu);
        off = EPOCH_LEN;
    } else if (ref_len == WRAPPED_LEN) {
        memcpy(key, f->wrap->d, sizeof(key));
        found = true;
    }
    KMS_ENSURE_OUT(rc, found, KMS_ERR_KEYRING_MAC); /* malformed, or an epoch we do not hold */
    wrap_aad(aad, ring_id, key_id);
    rc = gcm_once(false, key, ref + off, aad, sizeof(aad), ref + off + KMS_GCM_NONCE_LEN,
                  KMS_KKMS_LEN, kkms,
                  (uint8_t *)(uintptr_t)(ref + off + KMS_GCM_NONCE_LEN + KMS_KKMS_LEN));
    if (rc.err == KMS_ERR_TICKET_TAG) {
        KMS_BAIL_OUT(rc, KMS_ERR_KEYRING_MAC);
    }
out:
    kms_wipe(key, sizeof(key));
    return rc;
}

static kms_result fks_generate(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                               uint32_t key_id, uint8_t *ref, size_t *ref_len)
{
    struct file_ks *f = (struct file_ks *)ks;
    kms_result rc = KMS_RC_INIT;
    uint8_t kkms[KMS_KKMS_LEN];
    KMS_ENSURE_OUT(rc, ref != NULL && ref_len != NULL, KMS_ERR_ARG);
    KMS_TRY_OUT(rc, kms_random(kkms, sizeof(kkms)));
    /* Epoch 0; the keyring re-wraps it into its file's epoch before writing (rewrap). */
    KMS_TRY_OUT(rc, wrap_key(f->wrap->d, 0, ring_id, key_id, kkms, ref, ref_len));
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
    struct kms_keystore_key *k = NULL;
    const struct kms_ossl *o = kms_ossl();
    KMS_ENSURE_OUT(rc, out != NULL && ref != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE_OUT(rc, o != NULL, KMS_ERR_CRYPTO);
    KMS_TRY_OUT(rc, unwrap_key(f, ring_id, key_id, ref, ref_len, kkms));
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

/* The wrap key of epoch e >= 1, remembered (replacing the lowest epoch when full). */
static kms_result fks_set_epoch(struct kms_keystore *ks, uint64_t e,
                                const uint8_t secret[KMS_EPOCH_SECRET])
{
    struct file_ks *f = (struct file_ks *)ks;
    kms_result rc = KMS_RC_INIT;
    uint8_t in[8 + KMS_EPOCH_SECRET];
    struct kms_secret *w = NULL;
    KMS_ENSURE(f != NULL && secret != NULL && e >= 1 && e <= UINT32_MAX, KMS_ERR_ARG);
    for (size_t i = 0; i < 8; i++) {
        in[i] = (uint8_t)(e >> (56 - 8 * i));
    }
    memcpy(in + 8, secret, KMS_EPOCH_SECRET);
    KMS_TRY_OUT(rc, kms_secret_new(32, &w));
    KMS_TRY_OUT(rc, kms_hmac_sha256(f->epoch->d, f->epoch->len, in, sizeof(in), w->d));
    (void)pthread_mutex_lock(&f->mu);
    size_t slot = 0;
    for (size_t i = 0; i < EPOCHS_MAX; i++) {
        if (f->ep[i].e == e) {
            slot = i;
            break;
        }
        if (f->ep[i].e < f->ep[slot].e) {
            slot = i;
        }
    }
    kms_secret_free(f->ep[slot].wrap);
    f->ep[slot].e = e;
    f->ep[slot].wrap = w;
    w = NULL;
    (void)pthread_mutex_unlock(&f->mu);
    rc = KMS_RESULT_OK;
out:
    kms_wipe(in, sizeof(in));
    kms_secret_free(w);
    return rc;
}

static kms_result fks_rewrap(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                             uint32_t key_id, const uint8_t *ref, size_t ref_len, uint64_t e,
                             const uint8_t secret[KMS_EPOCH_SECRET], uint8_t *out, size_t *out_len)
{
    struct file_ks *f = (struct file_ks *)ks;
    kms_result rc = KMS_RC_INIT;
    uint8_t kkms[KMS_KKMS_LEN], key[32];
    bool found = false;
    KMS_ENSURE(f != NULL && ref != NULL && out != NULL && out_len != NULL, KMS_ERR_ARG);
    KMS_TRY_OUT(rc, unwrap_key(f, ring_id, key_id, ref, ref_len, kkms));
    if (e == 0) {
        memcpy(key, f->wrap->d, sizeof(key));
        found = true;
    } else {
        KMS_TRY_OUT(rc, fks_set_epoch(ks, e, secret));
        (void)pthread_mutex_lock(&f->mu);
        for (size_t i = 0; i < EPOCHS_MAX; i++) {
            if (f->ep[i].e == e) {
                memcpy(key, f->ep[i].wrap->d, sizeof(key));
                found = true;
            }
        }
        (void)pthread_mutex_unlock(&f->mu);
    }
    KMS_ENSURE_OUT(rc, found, KMS_ERR_INTERNAL);
    KMS_TRY_OUT(rc, wrap_key(key, e, ring_id, key_id, kkms, out, out_len));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(kkms, sizeof(kkms));
    kms_wipe(key, sizeof(key));
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

static kms_result fks_file_mac(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                               unsigned format, const uint8_t *p, size_t n, uint8_t out[32])
{
    struct file_ks *f = (struct file_ks *)ks;
    (void)ring_id; /* the file carries it, under the MAC */
    (void)format;  /* both formats: the same HMAC */
    return kms_hmac_sha256(f->mac->d, f->mac->len, p, n, out);
}

static char *anchor_path(const char *path)
{
    static const char suffix[] = ".anchor";
    size_t n = strlen(path);
    char *s = malloc(n + sizeof(suffix));
    if (s != NULL) {
        memcpy(s, path, n);
        memcpy(s + n, suffix, sizeof(suffix));
    }
    return s;
}

/* The sealed anchor: the record followed by HMAC-SHA-256(anchor key, record). */
static kms_result fks_anchor_seal(struct kms_keystore *ks, const uint8_t *rec, size_t len,
                                  uint8_t *out, size_t cap, size_t *out_len)
{
    struct file_ks *f = (struct file_ks *)ks;
    KMS_ENSURE(rec != NULL && out != NULL && out_len != NULL, KMS_ERR_ARG);
    KMS_ENSURE(len <= KMS_ANCHOR_MAX && cap >= len + ANCHOR_MAC, KMS_ERR_ARG);
    memmove(out, rec, len);
    KMS_TRY(kms_hmac_sha256(f->anchor->d, f->anchor->len, out, len, out + len));
    *out_len = len + ANCHOR_MAC;
    return KMS_RESULT_OK;
}

static kms_result fks_anchor_unseal(struct kms_keystore *ks, const uint8_t *img, size_t n,
                                    uint8_t *rec, size_t cap, size_t *len)
{
    struct file_ks *f = (struct file_ks *)ks;
    uint8_t mac[ANCHOR_MAC];
    KMS_ENSURE(img != NULL && rec != NULL && len != NULL, KMS_ERR_ARG);
    KMS_ENSURE(n > ANCHOR_MAC && n - ANCHOR_MAC <= cap && n - ANCHOR_MAC <= KMS_ANCHOR_MAX,
               KMS_ERR_KEYRING_ANCHOR);
    KMS_TRY(kms_hmac_sha256(f->anchor->d, f->anchor->len, img, n - ANCHOR_MAC, mac));
    KMS_ENSURE(kms_ct_eq(mac, img + n - ANCHOR_MAC, ANCHOR_MAC), KMS_ERR_KEYRING_ANCHOR);
    memcpy(rec, img, n - ANCHOR_MAC);
    *len = n - ANCHOR_MAC;
    return KMS_RESULT_OK;
}

/* PATH.anchor: the sealed anchor. */
static kms_result fks_anchor_get(struct kms_keystore *ks, const char *path,
                                 const uint8_t ring_id[KMS_RING_ID_LEN], uint8_t *rec, size_t cap,
                                 size_t *len)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t *img = NULL;
    size_t n = 0;
    (void)ring_id; /* the record carries it */
    char *ap = anchor_path(path);
    KMS_ENSURE_OUT(rc, ap != NULL, KMS_ERR_NOMEM);
    rc = kms_file_read(ap, KMS_ANCHOR_MAX + ANCHOR_MAC, false, &img, &n);
    if (rc.err == KMS_ERR_TOO_LONG) {
        KMS_BAIL_OUT(rc, KMS_ERR_KEYRING_ANCHOR);
    }
    KMS_TRY_OUT(rc, rc);
    KMS_TRY_OUT(rc, fks_anchor_unseal(ks, img, n, rec, cap, len));
    rc = KMS_RESULT_OK;
out:
    kms_file_free(img, n);
    free(ap);
    return rc;
}

static kms_result fks_anchor_put(struct kms_keystore *ks, const char *path,
                                 const uint8_t ring_id[KMS_RING_ID_LEN], const uint8_t *rec,
                                 size_t len)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t img[KMS_ANCHOR_MAX + ANCHOR_MAC];
    size_t n = 0;
    (void)ring_id;
    char *ap = NULL;
    KMS_ENSURE(rec != NULL && len <= KMS_ANCHOR_MAX, KMS_ERR_ARG);
    ap = anchor_path(path);
    KMS_ENSURE_OUT(rc, ap != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, fks_anchor_seal(ks, rec, len, img, sizeof(img), &n));
    KMS_TRY_OUT(rc, kms_file_write_atomic(ap, img, n));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(img, sizeof(img));
    free(ap);
    return rc;
}

static kms_result fks_ring_init(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN])
{
    (void)ks;
    (void)ring_id;
    return KMS_RESULT_OK; /* the file MAC key comes from the KEK */
}

static void fks_close(struct kms_keystore *ks)
{
    struct file_ks *f = (struct file_ks *)ks;
    if (f == NULL) {
        return;
    }
    kms_secret_free(f->wrap);
    kms_secret_free(f->mac);
    kms_secret_free(f->epoch);
    kms_secret_free(f->anchor);
    for (size_t i = 0; i < EPOCHS_MAX; i++) {
        kms_secret_free(f->ep[i].wrap);
    }
    pthread_mutex_destroy(&f->mu);
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
    .anchor_get = fks_anchor_get,
    .anchor_put = fks_anchor_put,
    .anchor_seal = fks_anchor_seal,
    .anchor_unseal = fks_anchor_unseal,
    .ring_init = fks_ring_init,
    .set_epoch = fks_set_epoch,
    .rewrap = fks_rewrap,
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
    pthread_mutex_init(&f->mu, NULL);
    KMS_TRY_OUT(rc, derive(kek, KMS_KEK_KEYRING_WRAP, &f->wrap));
    KMS_TRY_OUT(rc, derive(kek, KMS_KEK_KEYRING_MAC, &f->mac));
    KMS_TRY_OUT(rc, derive(kek, KMS_KEK_KEYRING_EPOCH, &f->epoch));
    KMS_TRY_OUT(rc, derive(kek, KMS_KEK_KEYRING_ANCHOR, &f->anchor));
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
