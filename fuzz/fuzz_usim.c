/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the simulated USIM file reader (kms_usim_decode, ue/kms_usim.h).
 * Input: octet 0 bit 0 clear = the rest is the whole file as is; set = the rest is the file
 * body and the harness appends its checksum line "sha256=<hex>\n" (so mutations reach the
 * field checks behind the checksum).
 * Oracles: a refusal is MALFORMED, UNSUPPORTED, TRAILING (after the checksum line) or (only
 * over KMS_USIM_FILE_MAX) TOO_LONG, and
 * leaves the struct all zero; an accepted file passes kms_usim_check, and kms_usim_encode of
 * it has the same length and the same lines (the reader takes the lines in any order, but
 * every value has one spelling), so each of its lines but the checksum is a line of the input;
 * the encoding decodes to the very same struct; the file without its last octet is refused.
 */
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "ue/kms_usim.h"
#include "util/kms_buf.h"
#include "util/kms_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether line (with its '\n') occurs in p[0..n) at the start of a line. */
static bool has_line(const uint8_t *p, size_t n, const uint8_t *line, size_t len)
{
    for (size_t at = 0; at + len <= n;) {
        if (memcmp(p + at, line, len) == 0) {
            return true;
        }
        const uint8_t *nl = memchr(p + at, '\n', n - at);
        if (nl == NULL) {
            break;
        }
        at = (size_t)(nl - p) + 1;
    }
    return false;
}

static void check(const uint8_t *p, size_t n)
{
    struct kms_usim *u = malloc(sizeof(*u)), *u2 = malloc(sizeof(*u2));
    KF_CHECK(u != NULL && u2 != NULL);
    memset(u, 0x5a, sizeof(*u));
    kms_result r = kms_usim_decode(p, n, u);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(u, sizeof(*u)));
        KF_CHECK(r.err == KMS_ERR_MALFORMED || r.err == KMS_ERR_UNSUPPORTED ||
                 r.err == KMS_ERR_TRAILING || (r.err == KMS_ERR_TOO_LONG && n > KMS_USIM_FILE_MAX));
        free(u2);
        free(u);
        return;
    }
    KF_CHECK(kms_ok(kms_usim_check(u)));
    struct kms_buf b;
    kms_buf_init(&b, 2 * KMS_USIM_FILE_MAX, true);
    KF_CHECK(kms_ok(kms_usim_encode(u, &b)));
    const uint8_t *e = kms_buf_data(&b);
    size_t en = kms_buf_len(&b);
    KF_CHECK(en == n);
    for (size_t at = 0; at < en;) {
        const uint8_t *nl = memchr(e + at, '\n', en - at);
        KF_CHECK(nl != NULL);
        size_t len = (size_t)(nl - e) + 1 - at;
        if (!(len > 7 && memcmp(e + at, "sha256=", 7) == 0)) {
            KF_CHECK(has_line(p, n, e + at, len));
        }
        at += len;
    }
    uint8_t *q = kf_dup(e, en, 0);
    KF_CHECK(kms_ok(kms_usim_decode(q, en, u2)));
    KF_CHECK(memcmp(u, u2, sizeof(*u)) == 0);
    kms_usim_wipe(u2);
    KF_CHECK(!kms_ok(kms_usim_decode(q, en - 1, u2)));
    free(q);
    kms_buf_cleanup(&b);
    kms_usim_wipe(u);
    free(u2);
    free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 2 * KMS_USIM_FILE_MAX) {
        return 0;
    }
    if ((data[0] & 1) == 0) {
        check(data + 1, size - 1);
        return 0;
    }
    /* body || "sha256=" || hex(SHA-256(body)) || "\n" */
    size_t body = size - 1, n = body + 7 + 64 + 1;
    uint8_t *p = kf_dup(data + 1, body, n - body);
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(data + 1, body, md);
    memcpy(p + body, "sha256=", 7);
    char hex[65];
    KF_CHECK(kms_ok(kms_hex_encode(md, sizeof(md), hex, sizeof(hex))));
    memcpy(p + body + 7, hex, 64);
    p[n - 1] = '\n';
    check(p, n);
    free(p);
    return 0;
}
