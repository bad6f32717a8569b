/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the BootstrappingInfo parser (TS 24.109 annex C), input = the document.
 * Oracles: a refusal leaves the B-TID buffer all zero and the lifetime 0; an accepted document
 * yields a B-TID that passes kms_ident_check_btid, format(parse(x)) is accepted and parses to
 * the same values, and parsing x again into a buffer one octet too small is KMS_ERR_TOO_LONG
 * (the document was fine up to the B-TID, so nothing else can fail first).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gba/kms_bsfinfo.h"
#include "util/kms_ident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char btid[KMS_BTID_MAX];
    uint64_t t = 1;
    memset(btid, 0x5a, sizeof(btid));
    kms_result r = kms_bsfinfo_parse(data, size, btid, sizeof(btid), &t);
    if (!kms_ok(r)) {
        if (!all_zero(btid, sizeof(btid)) || t != 0) {
            abort();
        }
        return 0;
    }
    size_t n = strnlen(btid, sizeof(btid));
    if (n == sizeof(btid) || !kms_ok(kms_ident_check_btid(btid, n))) {
        abort();
    }
    struct kms_buf b;
    kms_buf_init(&b, KMS_BSFINFO_MAX, false);
    if (!kms_ok(kms_bsfinfo_format(btid, t, &b))) {
        abort();
    }
    /* An exact-size copy, so ASan sees any read past the end. */
    uint8_t *doc = malloc(kms_buf_len(&b));
    if (doc == NULL) {
        abort();
    }
    memcpy(doc, kms_buf_data(&b), kms_buf_len(&b));
    char again[KMS_BTID_MAX];
    uint64_t t2 = 0;
    r = kms_bsfinfo_parse(doc, kms_buf_len(&b), again, sizeof(again), &t2);
    if (!kms_ok(r) || strcmp(again, btid) != 0 || t2 != t) {
        abort();
    }
    free(doc);
    kms_buf_cleanup(&b);
    char *small = malloc(n);
    if (small == NULL) {
        abort();
    }
    r = kms_bsfinfo_parse(data, size, small, n, &t2);
    if (r.err != KMS_ERR_TOO_LONG || t2 != 0 || !all_zero(small, n)) {
        abort();
    }
    free(small);
    return 0;
}
