/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/kms_kdf.h"

#include <string.h>

#include "crypto/kms_ossl.h"
#include "util/kms_codec.h"
#include "util/kms_mem.h"

const uint8_t KMS_UA_ID_KMS[KMS_UA_ID_LEN] = {0x01, 0x00, 0x00, 0x00, 0x06};

/* Parts of S: FC, then (Pi, Li) for each parameter. */
#define MAX_PARTS (1 + 2 * KMS_KDF_MAX_PARAMS)

/*= 3GPP TS 33.220, B.2.0 / B.2.1 (paraphrased, see protocol-facts.md 1.2)
 *# S = FC || P0 || L0 || P1 || L1 || P2 || L2 || P3 || L3 ||... || Pn || Ln
 *# Li: length of Pi in octets, two octets, 0 to 65535
 *# derived key = HMAC-SHA-256 ( Key , S )
 */
static kms_result s_parts(const uint8_t *fc, size_t fc_len, const struct kms_kdf_param *params,
                          size_t n, uint8_t lens[][2], struct kms_iov *iov, size_t *n_iov)
{
    *n_iov = 0;
    KMS_ENSURE(fc != NULL, KMS_ERR_ARG);
    KMS_ENSURE((fc_len == 1 && fc[0] != 0xff) || (fc_len == 2 && fc[0] == 0xff), KMS_ERR_ARG);
    KMS_ENSURE(n <= KMS_KDF_MAX_PARAMS, KMS_ERR_ARG);
    KMS_ENSURE(n == 0 || params != NULL, KMS_ERR_ARG);
    size_t k = 0;
    iov[k++] = (struct kms_iov){fc, fc_len};
    for (size_t i = 0; i < n; i++) {
        KMS_ENSURE(params[i].len <= 0xffff, KMS_ERR_ARG);
        KMS_ENSURE(params[i].len == 0 || params[i].p != NULL, KMS_ERR_ARG);
        lens[i][0] = (uint8_t)(params[i].len >> 8);
        lens[i][1] = (uint8_t)params[i].len;
        iov[k++] = (struct kms_iov){params[i].p, params[i].len};
        iov[k++] = (struct kms_iov){lens[i], 2};
    }
    *n_iov = k;
    return KMS_RESULT_OK;
}

kms_result kms_kdf_build_s(const uint8_t *fc, size_t fc_len, const struct kms_kdf_param *params,
                           size_t n, struct kms_buf *s)
{
    uint8_t lens[KMS_KDF_MAX_PARAMS][2];
    struct kms_iov iov[MAX_PARTS];
    size_t n_iov;
    KMS_TRY(s_parts(fc, fc_len, params, n, lens, iov, &n_iov));
    for (size_t i = 0; i < n_iov; i++) {
        KMS_TRY(kms_buf_put_bytes(s, iov[i].p, iov[i].len));
    }
    return KMS_RESULT_OK;
}

kms_result kms_kdf(const uint8_t *key, size_t key_len, const uint8_t *fc, size_t fc_len,
                   const struct kms_kdf_param *params, size_t n, uint8_t out[KMS_KDF_OUT_LEN])
{
    uint8_t lens[KMS_KDF_MAX_PARAMS][2];
    struct kms_iov iov[MAX_PARTS];
    size_t n_iov, out_len;
    memset(out, 0, KMS_KDF_OUT_LEN);
    KMS_TRY(s_parts(fc, fc_len, params, n, lens, iov, &n_iov));
    KMS_TRY(kms_hmac("SHA256", key, key_len, iov, n_iov, out, KMS_KDF_OUT_LEN, &out_len));
    KMS_ENSURE(out_len == KMS_KDF_OUT_LEN, KMS_ERR_CRYPTO);
    return KMS_RESULT_OK;
}

/*= 3GPP TS 33.220, B.3 (paraphrased, see protocol-facts.md 1.3)
 *# FC = 0x01, P0 = "gba-me" (i.e. 0x67 0x62 0x61 0x2d 0x6d 0x65), L0 = 0x00 0x06,
 *# P1 = RAND, L1 = 0x00 0x10, P2 = IMPI, L2 = length of IMPI,
 *# P3 = NAF_ID, L3 = length of NAF_ID (NAF_Id = FQDN of the NAF || Ua security protocol id)
 */
static const uint8_t fc_ks_naf = 0x01;
static const uint8_t p0_gba_me[] = {'g', 'b', 'a', '-', 'm', 'e'};

struct naf_id {
    uint8_t b[KMS_IDENT_NAME_MAX + KMS_UA_ID_LEN];
    size_t len;
};

static kms_result ks_naf_params(const uint8_t *rand, const char *impi, size_t impi_len,
                                const char *naf_fqdn, size_t fqdn_len, const uint8_t *ua_id,
                                struct naf_id *nid, struct kms_kdf_param p[4])
{
    KMS_ENSURE(rand != NULL && ua_id != NULL, KMS_ERR_ARG);
    KMS_TRY(kms_ident_check_impi(impi, impi_len));
    KMS_TRY(kms_ident_check_fqdn(naf_fqdn, fqdn_len));
    memcpy(nid->b, naf_fqdn, fqdn_len);
    memcpy(nid->b + fqdn_len, ua_id, KMS_UA_ID_LEN);
    nid->len = fqdn_len + KMS_UA_ID_LEN;
    p[0] = (struct kms_kdf_param){p0_gba_me, sizeof(p0_gba_me)};
    p[1] = (struct kms_kdf_param){rand, KMS_GBA_RAND_LEN};
    p[2] = (struct kms_kdf_param){(const uint8_t *)impi, impi_len};
    p[3] = (struct kms_kdf_param){nid->b, nid->len};
    return KMS_RESULT_OK;
}

kms_result kms_gba_ks_naf(const uint8_t ck[16], const uint8_t ik[16],
                          const uint8_t rand[KMS_GBA_RAND_LEN], const char *impi, size_t impi_len,
                          const char *naf_fqdn, size_t fqdn_len, const uint8_t ua_id[KMS_UA_ID_LEN],
                          uint8_t ks_naf[KMS_KDF_OUT_LEN])
{
    struct naf_id nid;
    struct kms_kdf_param p[4];
    uint8_t ks[32];
    memset(ks_naf, 0, KMS_KDF_OUT_LEN);
    KMS_ENSURE(ck != NULL && ik != NULL, KMS_ERR_ARG);
    KMS_TRY(ks_naf_params(rand, impi, impi_len, naf_fqdn, fqdn_len, ua_id, &nid, p));
    /*= 3GPP TS 33.220, B.3
     *# Ks (i.e. CK || IK concatenated)
     */
    memcpy(ks, ck, 16);
    memcpy(ks + 16, ik, 16);
    kms_result r = kms_kdf(ks, sizeof(ks), &fc_ks_naf, 1, p, 4, ks_naf);
    kms_wipe(ks, sizeof(ks));
    return r;
}

kms_result kms_gba_ks_naf_s(const uint8_t rand[KMS_GBA_RAND_LEN], const char *impi, size_t impi_len,
                            const char *naf_fqdn, size_t fqdn_len,
                            const uint8_t ua_id[KMS_UA_ID_LEN], struct kms_buf *s)
{
    struct naf_id nid;
    struct kms_kdf_param p[4];
    KMS_TRY(ks_naf_params(rand, impi, impi_len, naf_fqdn, fqdn_len, ua_id, &nid, p));
    return kms_kdf_build_s(&fc_ks_naf, 1, p, 4, s);
}

kms_result kms_gba_btid(const uint8_t rand[KMS_GBA_RAND_LEN], const char *bsf_fqdn, size_t fqdn_len,
                        char *out, size_t cap)
{
    char b64[KMS_BASE64_ENC_LEN(KMS_GBA_RAND_LEN)];
    KMS_ENSURE(rand != NULL && out != NULL, KMS_ERR_ARG);
    KMS_TRY(kms_ident_check_fqdn(bsf_fqdn, fqdn_len));
    KMS_TRY(kms_base64_encode(rand, KMS_GBA_RAND_LEN, b64, sizeof(b64)));
    size_t b64_len = strlen(b64);
    KMS_ENSURE(cap > b64_len + 1 + fqdn_len, KMS_ERR_TOO_LONG);
    /*= 3GPP TS 33.220, 4.5.2 (paraphrased; clause text not read, see protocol-facts.md 1.5)
     *# B-TID ... base64 encoded RAND value and the BSF server name, i.e.
     *base64(RAND)@BSF_servers_domain_name
     */
    memcpy(out, b64, b64_len);
    out[b64_len] = '@';
    memcpy(out + b64_len + 1, bsf_fqdn, fqdn_len);
    out[b64_len + 1 + fqdn_len] = '\0';
    return KMS_RESULT_OK;
}
