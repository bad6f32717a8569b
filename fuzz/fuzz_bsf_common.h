/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fixtures shared by the whole-handler BSF harnesses (fuzz_bsf_ub.c, fuzz_bsf_zn.c): one
 * subscriber (TS 35.208 test set 1 K and OPc) in a fake store, a BSF core over it with small
 * tables, the fixed clock, and the "no key in these bytes" oracle. Header-only (static inline)
 * so each harness stays one source file.
 */
#ifndef KMS_FUZZ_BSF_COMMON_H
#define KMS_FUZZ_BSF_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gba/kms_bsf.h"
#include "util/kms_codec.h"

#define FB_NOW   UINT64_C(1700000000)
#define FB_REALM "bsf.example.org"
#define FB_IMPI  "alice@ims.example.org"
#define FB_IMPU1 "sip:+15550001@ims.example.org"
#define FB_IMPU2 "tel:+15550001"

#define FB_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "oracle failed (%s:%d): %s\n", __FILE__, __LINE__, #cond);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const uint8_t FB_K[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                                 0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
static const uint8_t FB_OPC[16] = {0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e,
                                   0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf};

static inline kms_result fb_get(void *ctx, const char *impi, struct kms_bsf_sub *out)
{
    (void)ctx;
    memset(out, 0, sizeof(*out));
    if (strcmp(impi, FB_IMPI) != 0) {
        return (kms_result){KMS_ERR_NOT_FOUND};
    }
    memcpy(out->k, FB_K, 16);
    memcpy(out->opc, FB_OPC, 16);
    out->amf[0] = 0x80;
    memcpy(out->impu[0], FB_IMPU1, sizeof(FB_IMPU1));
    memcpy(out->impu[1], FB_IMPU2, sizeof(FB_IMPU2));
    out->n_impu = 2;
    return (kms_result){KMS_OK};
}

static inline kms_result fb_commit(void *ctx, const char *impi, uint64_t mark)
{
    (void)ctx;
    (void)impi;
    (void)mark;
    return (kms_result){KMS_OK};
}

static const struct kms_bsf_store FB_STORE = {NULL, fb_get, fb_commit};

/* A fresh BSF with small tables (so a fresh one per input stays cheap). */
static inline struct kms_bsf *fb_bsf_new(void)
{
    struct kms_bsf_cfg cfg = {.realm = FB_REALM,
                              .lifetime = 3600,
                              .max_answered = 8,
                              .max_sessions = 8,
                              .max_identities = 8};
    struct kms_bsf *b = NULL;
    if (!kms_ok(kms_bsf_new(&cfg, &FB_STORE, &b))) {
        fprintf(stderr, "fuzz set-up: kms_bsf_new failed\n");
        exit(2);
    }
    return b;
}

static inline bool fb_contains(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; n > 0 && i + n <= hn; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Neither half of key (raw octets, or lower- or upper-case hex) occurs in the n bytes at p. */
static inline void fb_check_no_key(const uint8_t *p, size_t n, const uint8_t *key, size_t len)
{
    char hex[2 * 32 + 1];
    FB_CHECK(len >= 8 && len <= 32);
    FB_CHECK(kms_ok(kms_hex_encode(key, len, hex, sizeof(hex))));
    size_t h = len / 2;
    FB_CHECK(!fb_contains(p, n, key, h) && !fb_contains(p, n, key + h, len - h));
    for (int upper = 0; upper < 2; upper++) {
        if (upper) {
            for (size_t i = 0; hex[i] != '\0'; i++) {
                hex[i] = (char)(hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 'a' + 'A' : hex[i]);
            }
        }
        FB_CHECK(!fb_contains(p, n, (const uint8_t *)hex, len));
        FB_CHECK(!fb_contains(p, n, (const uint8_t *)hex + len, len));
    }
}

/* An exact-size heap copy (ASan sees reads past the end); with nul, one more octet 0. */
static inline uint8_t *fb_dup(const uint8_t *p, size_t n, bool nul)
{
    uint8_t *q = malloc(n + (nul ? 1 : 0) + (n == 0 && !nul ? 1 : 0));
    FB_CHECK(q != NULL);
    if (n > 0) {
        memcpy(q, p, n);
    }
    if (nul) {
        q[n] = 0;
    }
    return q;
}

#endif
