/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The 3GPP generic key derivation function (TS 33.220 Annex B.2) and the GBA keys built on it
 * (Annex B.3): Ks = CK || IK, Ks_(ext)_NAF, and the B-TID of clause 4.5.2.
 */
#ifndef KMS_CRYPTO_KDF_H
#define KMS_CRYPTO_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "util/kms_buf.h"
#include "util/kms_ident.h"

#define KMS_KDF_OUT_LEN    32
#define KMS_KDF_MAX_PARAMS 16
#define KMS_UA_ID_LEN      5
#define KMS_GBA_RAND_LEN   16
/* IMPI, FQDN and B-TID syntax and their limits (KMS_IDENT_NAME_MAX, KMS_BTID_MAX):
 * util/kms_ident.h. */

/* Ua security protocol id of "IMS UE to KMS HTTP based message exchanges" (TS 33.220 H.3). */
extern const uint8_t KMS_UA_ID_KMS[KMS_UA_ID_LEN];

struct kms_kdf_param {
    const uint8_t *p;
    size_t len; /* 0..65535 */
};

/* Writes the string S = FC || P0 || L0 || ... || Pn || Ln into s.
 * fc is one octet, or two octets starting 0xFF. KMS_ERR_ARG for a bad FC, more than
 * KMS_KDF_MAX_PARAMS parameters or a parameter longer than 65535 octets. */
KMS_MUST_CHECK kms_result kms_kdf_build_s(const uint8_t *fc, size_t fc_len,
                                          const struct kms_kdf_param *params, size_t n,
                                          struct kms_buf *s);

/* out = HMAC-SHA-256(key, S), 32 octets. Same argument rules as kms_kdf_build_s. */
KMS_MUST_CHECK kms_result kms_kdf(const uint8_t *key, size_t key_len, const uint8_t *fc,
                                  size_t fc_len, const struct kms_kdf_param *params, size_t n,
                                  uint8_t out[KMS_KDF_OUT_LEN]);

/* Ks_NAF (GBA_ME) = KDF(Ks, FC=0x01, "gba-me", RAND, IMPI, NAF_Id) with Ks = CK || IK and
 * NAF_Id = naf_fqdn || ua_id. Ks_ext_NAF (GBA_U) takes the same inputs. The IMPI and the FQDN
 * must pass kms_ident_check_impi and kms_ident_check_fqdn (their codes on failure). */
KMS_MUST_CHECK kms_result kms_gba_ks_naf(const uint8_t ck[16], const uint8_t ik[16],
                                         const uint8_t rand[KMS_GBA_RAND_LEN], const char *impi,
                                         size_t impi_len, const char *naf_fqdn, size_t fqdn_len,
                                         const uint8_t ua_id[KMS_UA_ID_LEN],
                                         uint8_t ks_naf[KMS_KDF_OUT_LEN]);

/* The string S of that derivation (for tests and tracing; it holds no secret). */
KMS_MUST_CHECK kms_result kms_gba_ks_naf_s(const uint8_t rand[KMS_GBA_RAND_LEN], const char *impi,
                                           size_t impi_len, const char *naf_fqdn, size_t fqdn_len,
                                           const uint8_t ua_id[KMS_UA_ID_LEN], struct kms_buf *s);

/* B-TID = base64(RAND) "@" BSF FQDN, NUL-terminated into out (cap >= KMS_BTID_MAX is enough). */
KMS_MUST_CHECK kms_result kms_gba_btid(const uint8_t rand[KMS_GBA_RAND_LEN], const char *bsf_fqdn,
                                       size_t fqdn_len, char *out, size_t cap);

#endif
