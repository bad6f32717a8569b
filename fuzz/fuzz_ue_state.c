/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the UE state-file readers, kms_ue_state_decode (`bootstrap`, ue/kms_ue_boot.h)
 * and kms_ue_kue_state_decode (`kue`, ue/kms_ue_kms.h), both over kms_cur_get_kv_line.
 * Input: octet 0 bit 0 clear = the rest is a `bootstrap` image, set = a `kue` image.
 * Oracles: a refusal leaves the struct all zero; an accepted image has NUL-terminated
 * identities within their arrays, and the harness writes it again in the documented format
 * (the writers' format strings) from what was read, which must give an image of the same
 * length, equal to the input but for the case of hex digits (one spelling per value: a
 * decimal with a sign, leading zeros or spaces would read as something else), that reads back
 * to the same struct; the image without its last octet is refused.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_keyring_common.h"
#include "ue/kms_ue_boot.h"
#include "ue/kms_ue_kms.h"
#include "util/kms_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMG_MAX (4 * KMS_TICKET_MAX + 1024)

static bool ident_ok(const char *s, size_t cap)
{
    return strnlen(s, cap) < cap;
}

/* The image again, equal up to hex case, decoding to the same struct. */
static void same_image(const uint8_t *p, size_t n, const char *img, int len)
{
    KF_CHECK(len > 0 && (size_t)len == n);
    KF_CHECK(strncasecmp(img, (const char *)p, n) == 0);
}

static void check_boot(const uint8_t *p, size_t n)
{
    struct kms_ue_state st, st2;
    memset(&st, 0x5a, sizeof(st));
    kms_result r = kms_ue_state_decode(p, n, &st);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(&st, sizeof(st)));
        return;
    }
    KF_CHECK(ident_ok(st.impi, sizeof(st.impi)) && ident_ok(st.btid, sizeof(st.btid)));
    char rh[33], kh[65];
    KF_CHECK(kms_ok(kms_hex_encode(st.rand, sizeof(st.rand), rh, sizeof(rh))));
    KF_CHECK(kms_ok(kms_hex_encode(st.ks, sizeof(st.ks), kh, sizeof(kh))));
    char *img = malloc(IMG_MAX);
    KF_CHECK(img != NULL);
    int len = snprintf(img, IMG_MAX, "version=1\nimpi=%s\nbtid=%s\nrand=%s\nks=%s\nlifetime=%llu\n",
                       st.impi, st.btid, rh, kh, (unsigned long long)st.lifetime);
    same_image(p, n, img, len);
    KF_CHECK(kms_ok(kms_ue_state_decode((const uint8_t *)img, (size_t)len, &st2)));
    KF_CHECK(memcmp(&st, &st2, sizeof(st)) == 0);
    KF_CHECK(!kms_ok(kms_ue_state_decode(p, n - 1, &st2)));
    free(img);
}

static void check_kue(const uint8_t *p, size_t n, uint64_t *valid_from_seen)
{
    struct kms_ue_kue_state *st = malloc(sizeof(*st)), *st2 = malloc(sizeof(*st2));
    KF_CHECK(st != NULL && st2 != NULL);
    memset(st, 0x5a, sizeof(*st));
    kms_result r = kms_ue_kue_state_decode(p, n, st);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(st, sizeof(*st)));
        free(st2);
        free(st);
        return;
    }
    KF_CHECK(st->mode == 2 || st->mode == 3);
    KF_CHECK(ident_ok(st->kms, sizeof(st->kms)) && ident_ok(st->identity, sizeof(st->identity)));
    KF_CHECK(st->token_len <= sizeof(st->token));
    char kh[65];
    char *th = malloc(2 * KMS_TICKET_MAX + 1), *img = malloc(IMG_MAX);
    KF_CHECK(th != NULL && img != NULL);
    KF_CHECK(kms_ok(kms_hex_encode(st->kue, sizeof(st->kue), kh, sizeof(kh))));
    KF_CHECK(kms_ok(kms_hex_encode(st->token, st->token_len, th, 2 * KMS_TICKET_MAX + 1)));
    /* valid_from is read but not kept: the harness takes the input's line as it is. */
    const char *vf = strstr((const char *)p, "\nvalid_from=");
    (void)valid_from_seen;
    KF_CHECK(vf != NULL);
    vf += strlen("\nvalid_from=");
    int vfl = (int)strcspn(vf, "\n");
    int len = snprintf(
        img, IMG_MAX,
        "version=1\nmode=%u\nkms=%s\nidentity=%s\nkue=%s\ntoken=%s\nvalid_from=%.*s\n"
        "valid_to=%llu\n",
        st->mode, st->kms, st->identity, kh, th, vfl, vf, (unsigned long long)st->valid_to);
    same_image(p, n, img, len);
    KF_CHECK(kms_ok(kms_ue_kue_state_decode((const uint8_t *)img, (size_t)len, st2)));
    KF_CHECK(memcmp(st, st2, sizeof(*st)) == 0);
    KF_CHECK(!kms_ok(kms_ue_kue_state_decode(p, n - 1, st2)));
    free(img);
    free(th);
    free(st2);
    free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > IMG_MAX) {
        return 0;
    }
    /* A NUL-terminated exact-size copy (the harness's strstr needs the NUL; the decoders get
     * the length without it). */
    uint8_t *p = kf_dup(data + 1, size - 1, 1);
    p[size - 1] = '\0';
    if ((data[0] & 1) == 0) {
        check_boot(p, size - 1);
    } else {
        check_kue(p, size - 1, NULL);
    }
    free(p);
    return 0;
}
