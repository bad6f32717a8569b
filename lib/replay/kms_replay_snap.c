/* SPDX-License-Identifier: Apache-2.0 */
/* The replay cache's sealed snapshot: see kms_replay_snap.h. */
#include "replay/kms_replay_snap.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_kek.h"
#include "crypto/kms_ossl.h"
#include "util/kms_cur.h"
#include "util/kms_file.h"
#include "util/kms_mem.h"

static const uint8_t magic[8] = {'I', 'K', 'M', 'S', 'R', 'P', 'S', '1'};
#define KEK_VERSION 1
#define AAD_LEN     12
#define NONCE_LEN   12
#define TAG_LEN     16
/* The image of a guard of at most 100,000,000 entries (--replay-entries) is 2.4 GB: GCM and
 * OpenSSL's int lengths are driven in slices. */
#define SLICE ((size_t)1 << 30)

kms_result kms_replay_snap_key(const uint8_t kek[32], uint8_t key[KMS_REPLAY_SNAP_KEY_LEN])
{
    return kms_kek_derive(kek, KMS_KEK_REPLAY_SNAPSHOT, KEK_VERSION, key);
}

static void aad_of(uint8_t aad[AAD_LEN])
{
    memcpy(aad, magic, sizeof(magic));
    aad[8] = 0;
    aad[9] = 0;
    aad[10] = 0;
    aad[11] = KEK_VERSION;
}

/* GCM decryption of in[0..n) into out (same length), in slices. */
static kms_result gcm_dec(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t n, uint8_t *out)
{
    for (size_t off = 0; off < n;) {
        size_t k = n - off < SLICE ? n - off : SLICE;
        int outl = 0;
        KMS_TRY_OSSL(EVP_DecryptUpdate(ctx, out + off, &outl, in + off, (int)k));
        KMS_ENSURE(outl >= 0 && (size_t)outl == k, KMS_ERR_CRYPTO);
        off += k;
    }
    return KMS_RESULT_OK;
}

/* GCM encryption of in[0..n) appended to out, in slices. */
static kms_result gcm_enc(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t n, struct kms_buf *out)
{
    KMS_TRY(kms_buf_reserve(out, n + TAG_LEN));
    for (size_t off = 0; off < n;) {
        size_t k = n - off < SLICE ? n - off : SLICE;
        uint8_t *dst = NULL;
        int outl = 0;
        KMS_TRY(kms_buf_put_space(out, k, &dst));
        KMS_TRY_OSSL(EVP_EncryptUpdate(ctx, dst, &outl, in + off, (int)k));
        KMS_ENSURE(outl >= 0 && (size_t)outl == k, KMS_ERR_CRYPTO);
        off += k;
    }
    return KMS_RESULT_OK;
}

kms_result kms_replay_snap_seal(const uint8_t key[KMS_REPLAY_SNAP_KEY_LEN], struct kms_replay *rg,
                                uint64_t now, struct kms_buf *out)
{
    KMS_ENSURE(key != NULL && rg != NULL && out != NULL, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    EVP_CIPHER_CTX *ctx = NULL;
    struct kms_buf img;
    kms_buf_init(&img, SIZE_MAX / 2, true); /* the seed is in it */
    uint8_t aad[AAD_LEN], nonce[NONCE_LEN], tag[TAG_LEN];
    int finl = 0;
    const EVP_CIPHER *gcm = kms_ossl() != NULL ? kms_ossl()->aes256_gcm : NULL;
    KMS_ENSURE_OUT(rc, gcm != NULL, KMS_ERR_CRYPTO);
    KMS_TRY_OUT(rc, kms_replay_save(rg, now, &img));
    size_t n = kms_buf_len(&img);
    aad_of(aad);
    KMS_TRY_OUT(rc, kms_random(nonce, sizeof(nonce))); /* a fresh key use per stop: random */
    KMS_TRY_OUT(rc, kms_buf_put_bytes(out, aad, sizeof(aad)));
    KMS_TRY_OUT(rc, kms_buf_put_bytes(out, nonce, sizeof(nonce)));
    ctx = EVP_CIPHER_CTX_new();
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptInit_ex2(ctx, gcm, key, nonce, NULL));
    int outl = 0;
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)sizeof(aad)));
    KMS_TRY_OUT(rc, gcm_enc(ctx, kms_buf_data(&img), n, out));
    KMS_TRY_OSSL_OUT(rc, EVP_EncryptFinal_ex(ctx, tag, &finl));
    KMS_ENSURE_OUT(rc, finl == 0, KMS_ERR_CRYPTO);
    KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag));
    KMS_TRY_OUT(rc, kms_buf_put_bytes(out, tag, sizeof(tag)));
    rc = KMS_RESULT_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    kms_buf_cleanup(&img);
    return rc;
}

kms_result kms_replay_snap_open(const uint8_t key[KMS_REPLAY_SNAP_KEY_LEN], const uint8_t *p,
                                size_t len, const struct kms_replay_cfg *cfg, uint64_t start_time,
                                uint64_t now, struct kms_replay **out,
                                struct kms_replay_loaded *info)
{
    KMS_ENSURE(key != NULL && cfg != NULL && out != NULL && (p != NULL || len == 0), KMS_ERR_ARG);
    *out = NULL;
    kms_result rc = KMS_RC_INIT;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *img = NULL;
    size_t n = 0;
    uint8_t m[sizeof(magic)], nonce[NONCE_LEN], tag[TAG_LEN], aad[AAD_LEN];
    uint32_t version = 0;
    int finl = 0, outl = 0;
    struct kms_cur c, body;
    kms_cur_init(&c, p, len);
    KMS_TRY_OUT(rc, kms_cur_get_bytes(&c, m, sizeof(m)));
    KMS_ENSURE_OUT(rc, kms_ct_eq(m, magic, sizeof(m)), KMS_ERR_MALFORMED);
    KMS_TRY_OUT(rc, kms_cur_get_u32(&c, &version));
    KMS_ENSURE_OUT(rc, version == KEK_VERSION, KMS_ERR_UNSUPPORTED);
    KMS_TRY_OUT(rc, kms_cur_get_bytes(&c, nonce, sizeof(nonce)));
    KMS_ENSURE_OUT(rc, kms_cur_remaining(&c) >= TAG_LEN, KMS_ERR_TRUNCATED);
    n = kms_cur_remaining(&c) - TAG_LEN;
    KMS_ENSURE_OUT(rc, n <= kms_replay_image_max(cfg), KMS_ERR_TOO_LONG);
    KMS_TRY_OUT(rc, kms_cur_get_view(&c, n, &body));
    KMS_TRY_OUT(rc, kms_cur_get_bytes(&c, tag, sizeof(tag)));
    KMS_TRY_OUT(rc, kms_cur_expect_end(&c));
    const EVP_CIPHER *gcm = kms_ossl() != NULL ? kms_ossl()->aes256_gcm : NULL;
    KMS_ENSURE_OUT(rc, gcm != NULL, KMS_ERR_CRYPTO);
    img = malloc(n > 0 ? n : 1);
    KMS_ENSURE_OUT(rc, img != NULL, KMS_ERR_NOMEM);
    aad_of(aad);
    ctx = EVP_CIPHER_CTX_new();
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptInit_ex2(ctx, gcm, key, nonce, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)sizeof(aad)));
    KMS_TRY_OUT(rc, gcm_dec(ctx, kms_cur_peek_ptr(&body), n, img));
    KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag));
    /* Another KEK, an altered byte, a file cut short and padded: all end here. */
    KMS_ENSURE_OUT(rc, EVP_DecryptFinal_ex(ctx, img + n, &finl) == 1, KMS_ERR_AUTH);
    KMS_ENSURE_OUT(rc, finl == 0, KMS_ERR_CRYPTO);
    KMS_TRY_OUT(rc, kms_replay_load(cfg, start_time, img, n, now, out, info));
    rc = KMS_RESULT_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (img != NULL) {
        kms_wipe(img, n);
        free(img);
    }
    return rc;
}

kms_result kms_replay_snap_write(const char *path, const uint8_t key[KMS_REPLAY_SNAP_KEY_LEN],
                                 struct kms_replay *rg, uint64_t now)
{
    KMS_ENSURE_REF(path);
    struct kms_buf b;
    kms_buf_init(&b, SIZE_MAX / 2, false);
    kms_result rc = kms_replay_snap_seal(key, rg, now, &b);
    if (kms_ok(rc)) {
        rc = kms_file_write_atomic(path, kms_buf_data(&b), kms_buf_len(&b));
    }
    kms_buf_cleanup(&b);
    return rc;
}

kms_result kms_replay_snap_read(const char *path, const uint8_t key[KMS_REPLAY_SNAP_KEY_LEN],
                                const struct kms_replay_cfg *cfg, uint64_t start_time, uint64_t now,
                                struct kms_replay **out, struct kms_replay_loaded *info)
{
    KMS_ENSURE(path != NULL && cfg != NULL && out != NULL, KMS_ERR_ARG);
    *out = NULL;
    size_t max = kms_replay_image_max(cfg);
    KMS_ENSURE(max > 0 && max <= SIZE_MAX - KMS_REPLAY_SNAP_OVERHEAD, KMS_ERR_ARG);
    uint8_t *p = NULL;
    size_t len = 0;
    KMS_TRY(kms_file_read(path, max + KMS_REPLAY_SNAP_OVERHEAD, true, &p, &len));
    kms_result rc = kms_replay_snap_open(key, p, len, cfg, start_time, now, out, info);
    kms_file_free(p, len);
    return rc;
}
