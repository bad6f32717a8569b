/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the RFC 3310 nonce and auts decoders (kms_digest_nonce_decode,
 * kms_digest_auts_decode in gba/kms_digest.h); input = the parameter value, given to both.
 * Oracles, against kms_base64_decode of the same input (n octets when it decodes):
 *  - the nonce decodes iff the input is valid base64 of 32..64 octets; then the input is
 *    exactly kms_digest_nonce_encode(RAND, AUTN, server data) and RAND, AUTN, server data are
 *    the decoded octets in that order; with room for one octet less of server data it is
 *    KMS_ERR_TOO_LONG, as it is with no room (sd = NULL, cap 0), outputs all zero;
 *  - a refused nonce is BAD_BASE64 (invalid base64), TRUNCATED (under 32 octets) or TOO_LONG,
 *    with every output zero;
 *  - auts decodes iff the input is valid base64 of exactly 14 octets; then it is exactly
 *    kms_digest_auts_encode of the result; a refusal is BAD_BASE64 or BAD_LENGTH, output zero.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "gba/kms_digest.h"
#include "util/kms_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAW_MAX 4096

static void check_nonce(const char *s, size_t size, const uint8_t *raw, size_t n, bool b64_ok)
{
    uint8_t rand[16], autn[16], sd[KMS_DIGEST_SERVER_DATA_MAX];
    size_t sd_len = 99;
    memset(rand, 0xa5, sizeof(rand));
    memset(sd, 0xa5, sizeof(sd));
    kms_result r = kms_digest_nonce_decode(s, size, rand, autn, sd, sizeof(sd), &sd_len);
    bool want = b64_ok && n >= 32 && n <= 32 + KMS_DIGEST_SERVER_DATA_MAX;
    KF_CHECK(kms_ok(r) == want);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(rand, 16) && kf_all_zero(autn, 16) && kf_all_zero(sd, sizeof(sd)));
        KF_CHECK(sd_len == 0);
        if (!b64_ok) {
            KF_CHECK(r.err == KMS_ERR_BAD_BASE64);
        } else {
            KF_CHECK(r.err == (n < 32 ? KMS_ERR_TRUNCATED : KMS_ERR_TOO_LONG));
        }
        return;
    }
    KF_CHECK(sd_len == n - 32);
    KF_CHECK(memcmp(rand, raw, 16) == 0 && memcmp(autn, raw + 16, 16) == 0);
    KF_CHECK(memcmp(sd, raw + 32, sd_len) == 0);
    char enc[KMS_DIGEST_NONCE_BUF];
    KF_CHECK(kms_ok(kms_digest_nonce_encode(rand, autn, sd, sd_len, enc, sizeof(enc))));
    KF_CHECK(strlen(enc) == size && memcmp(enc, s, size) == 0);
    if (sd_len > 0) {
        size_t got = 99;
        uint8_t *small = malloc(sd_len - 1 + 1);
        KF_CHECK(small != NULL);
        r = kms_digest_nonce_decode(s, size, rand, autn, small, sd_len - 1, &got);
        KF_CHECK(r.err == KMS_ERR_TOO_LONG && got == 0);
        KF_CHECK(kf_all_zero(rand, 16) && kf_all_zero(autn, 16) && kf_all_zero(small, sd_len - 1));
        free(small);
        r = kms_digest_nonce_decode(s, size, rand, autn, NULL, 0, &got);
        KF_CHECK(r.err == KMS_ERR_TOO_LONG && got == 0);
    }
}

static void check_auts(const char *s, size_t size, const uint8_t *raw, size_t n, bool b64_ok)
{
    uint8_t auts[KMS_DIGEST_AUTS_LEN];
    memset(auts, 0xa5, sizeof(auts));
    kms_result r = kms_digest_auts_decode(s, size, auts);
    KF_CHECK(kms_ok(r) == (b64_ok && n == KMS_DIGEST_AUTS_LEN));
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(auts, sizeof(auts)));
        KF_CHECK(r.err == (b64_ok ? KMS_ERR_BAD_LENGTH : KMS_ERR_BAD_BASE64));
        return;
    }
    KF_CHECK(memcmp(auts, raw, sizeof(auts)) == 0);
    char enc[KMS_DIGEST_AUTS_BUF];
    KF_CHECK(kms_ok(kms_digest_auts_encode(auts, enc)));
    KF_CHECK(strlen(enc) == size && memcmp(enc, s, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > RAW_MAX) {
        return 0;
    }
    const char *s = (const char *)data;
    static uint8_t raw[RAW_MAX];
    size_t n = 0;
    bool b64_ok = kms_ok(kms_base64_decode(s, size, raw, sizeof(raw), &n));
    check_nonce(s, size, raw, n, b64_ok);
    check_auts(s, size, raw, n, b64_ok);
    return 0;
}
