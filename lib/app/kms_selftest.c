/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power-on self-tests, run by the daemons before they serve (design.md section 6). They test
 * crypto/ and mikey/, so they sit in app/, above both.
 * The expected values are published ones: TS 35.208 4.3 test set 1 and RFC 4231 test case 1.
 */
#define IMSKMS_NO_VERSION /* kms_version() at most: no rebuild per commit */
#include "imskms/imskms.h"

#include <string.h>

#include "crypto/kms_milenage.h"
#include "crypto/kms_ossl.h"
#include "mikey/kms_mikey_prf.h"
#include "util/kms_mem.h"

static kms_result selftest_milenage(void)
{
    static const uint8_t k[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                                  0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
    static const uint8_t op[16] = {0xcd, 0xc2, 0x02, 0xd5, 0x12, 0x3e, 0x20, 0xf6,
                                   0x2b, 0x6d, 0x67, 0x6a, 0xc7, 0x2c, 0xb3, 0x18};
    static const uint8_t rand[16] = {0x23, 0x55, 0x3c, 0xbe, 0x96, 0x37, 0xa8, 0x9d,
                                     0x21, 0x8a, 0xe6, 0x4d, 0xae, 0x47, 0xbf, 0x35};
    static const uint8_t sqn[6] = {0xff, 0x9b, 0xb4, 0xd0, 0xb6, 0x07};
    static const uint8_t amf[2] = {0xb9, 0xb9};
    static const uint8_t mac_a[8] = {0x4a, 0x9f, 0xfa, 0xc3, 0x54, 0xdf, 0xaf, 0xb3};
    static const uint8_t res[8] = {0xa5, 0x42, 0x11, 0xd5, 0xe3, 0xba, 0x50, 0xbf};
    static const uint8_t ck[16] = {0xb4, 0x0b, 0xa9, 0xa3, 0xc5, 0x8b, 0x2a, 0x05,
                                   0xbb, 0xf0, 0xd9, 0x87, 0xb2, 0x1b, 0xf8, 0xcb};
    struct kms_milenage *m = NULL;
    struct kms_aka_vec v;
    kms_result rc = KMS_RC_INIT;
    KMS_TRY_OUT(rc, kms_milenage_new(&m));
    KMS_TRY_OUT(rc, kms_milenage_set_key_op(m, k, op));
    KMS_TRY_OUT(rc, kms_milenage_vector(m, rand, sqn, amf, &v));
    KMS_ENSURE_OUT(
        rc, kms_ct_eq(v.mac_a, mac_a, 8) && kms_ct_eq(v.res, res, 8) && kms_ct_eq(v.ck, ck, 16),
        KMS_ERR_SELFTEST);
    rc = KMS_RESULT_OK;
out:
    kms_wipe(&v, sizeof(v));
    kms_milenage_free(m);
    return rc;
}

static kms_result selftest_hmac(void)
{
    static const uint8_t key[20] = {0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
                                    0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b};
    static const uint8_t data[8] = {'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'};
    static const uint8_t mac[32] = {0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53,
                                    0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b,
                                    0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7,
                                    0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7};
    uint8_t out[32];
    KMS_TRY(kms_hmac_sha256(key, sizeof(key), data, sizeof(data), out));
    KMS_ENSURE(kms_ct_eq(out, mac, sizeof(mac)), KMS_ERR_SELFTEST);
    return KMS_RESULT_OK;
}

/* PRF-HMAC-SHA-256 with the RFC 3830 4.1.3 TGK encryption-key label: Streamwide
 * sw_mikey_sakke's published unit-test value (tests/vectors/mikey_prf.txt, first block). */
static kms_result selftest_mikey_prf(void)
{
    static const uint8_t inkey[16] = {0xa2, 0x7b, 0x7d, 0x57, 0x8e, 0xeb, 0x9b, 0x1e,
                                      0xe7, 0x70, 0x5e, 0x38, 0x59, 0x96, 0xd3, 0x00};
    static const uint8_t rand[16] = {0x43, 0x39, 0xf6, 0x2f, 0x55, 0xaa, 0xc8, 0x63,
                                     0x48, 0x84, 0x6a, 0x48, 0x2c, 0x89, 0x38, 0x02};
    static const uint8_t want[16] = {0x39, 0x24, 0x93, 0x59, 0x40, 0xc1, 0x54, 0xcc,
                                     0xbc, 0x3c, 0x2a, 0xd0, 0x5c, 0x8f, 0x51, 0x81};
    struct kms_mikey_label l;
    uint8_t out[16];
    KMS_TRY(kms_mikey_label_tgk(KMS_MIKEY_C_TGK_ENCR, 0x04, 0x05a85c16, rand, sizeof(rand), &l));
    KMS_TRY(
        kms_mikey_derive(KMS_MIKEY_PRF_HMAC_SHA256, inkey, sizeof(inkey), &l, out, sizeof(out)));
    bool ok = kms_ct_eq(out, want, sizeof(want));
    kms_wipe(out, sizeof(out));
    KMS_ENSURE(ok, KMS_ERR_SELFTEST);
    return KMS_RESULT_OK;
}

kms_result kms_selftest(void)
{
    kms_result r = selftest_milenage();
    KMS_ENSURE(kms_ok(r), KMS_ERR_SELFTEST);
    r = selftest_hmac();
    KMS_ENSURE(kms_ok(r), KMS_ERR_SELFTEST);
    r = selftest_mikey_prf();
    KMS_ENSURE(kms_ok(r), KMS_ERR_SELFTEST);
    return KMS_RESULT_OK;
}
