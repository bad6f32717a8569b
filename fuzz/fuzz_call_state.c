/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the call state files of ue/kms_call.h, kms_call_offer_decode (the caller's
 * DIR/offer) and kms_call_transfers_decode (the callee's replay record STATE/transfers), both
 * over kms_cur_get_kv_line.
 * Input: octet 0 bit 0 clear = the rest is a DIR/offer image, set = a STATE/transfers image.
 * Oracles: a refusal leaves the struct all zero; an accepted image is within the documented
 * limits (a policy, a TGK of 16 or 32 octets, a TRANSFER_INIT and entries within their caps,
 * local_addr NUL-terminated printable ASCII), encodes (kms_call_offer_encode /
 * kms_call_transfers_encode) to an image equal to the input octet for octet but for the case of
 * hex letters (the formats are canonical: one spelling per value), which decodes to the same
 * struct; the image without its last octet is refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "ue/kms_call.h"
#include "util/kms_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool hex_letter(uint8_t c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* a and b equal but where both are hex letters of one value in different case. */
static bool same_up_to_hex_case(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] &&
            !(hex_letter(a[i]) && hex_letter(b[i]) && (a[i] | 0x20) == (b[i] | 0x20))) {
            return false;
        }
    }
    return true;
}

static void check_offer(const uint8_t *p, size_t n)
{
    struct kms_call_offer *o = malloc(sizeof(*o)), *o2 = malloc(sizeof(*o2));
    KF_CHECK(o != NULL && o2 != NULL);
    memset(o, 0x5a, sizeof(*o));
    kms_result r = kms_call_offer_decode(p, n, o);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(o, sizeof(*o)));
        free(o2);
        free(o);
        return;
    }
    KF_CHECK(o->policy != NULL);
    KF_CHECK(o->tgk_len == 16 || o->tgk_len == 32);
    KF_CHECK(o->init_len <= sizeof(o->init));
    size_t al = strnlen(o->local_addr, sizeof(o->local_addr));
    KF_CHECK(al < sizeof(o->local_addr));
    for (size_t i = 0; i < al; i++) {
        KF_CHECK(o->local_addr[i] >= 0x20 && o->local_addr[i] < 0x7f);
    }
    struct kms_buf b;
    kms_buf_init(&b, KMS_CALL_OFFER_MAX, true);
    KF_CHECK(kms_ok(kms_call_offer_encode(o, &b)));
    KF_CHECK(kms_buf_len(&b) == n);
    KF_CHECK(same_up_to_hex_case(kms_buf_data(&b), p, n));
    KF_CHECK(kms_ok(kms_call_offer_decode(kms_buf_data(&b), kms_buf_len(&b), o2)));
    KF_CHECK(memcmp(o, o2, sizeof(*o)) == 0);
    KF_CHECK(!kms_ok(kms_call_offer_decode(p, n - 1, o2)));
    KF_CHECK(kf_all_zero(o2, sizeof(*o2)));
    kms_buf_cleanup(&b);
    free(o2);
    free(o);
}

static void check_transfers(const uint8_t *p, size_t n)
{
    struct kms_call_transfers *t = malloc(sizeof(*t)), *t2 = malloc(sizeof(*t2));
    KF_CHECK(t != NULL && t2 != NULL);
    memset(t, 0x5a, sizeof(*t));
    kms_result r = kms_call_transfers_decode(p, n, t);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(t, sizeof(*t)));
        free(t2);
        free(t);
        return;
    }
    KF_CHECK(t->n <= KMS_CALL_REPLAY_MAX);
    KF_CHECK(kf_all_zero(&t->e[t->n], (KMS_CALL_REPLAY_MAX - t->n) * sizeof(t->e[0])));
    struct kms_buf b;
    kms_buf_init(&b, KMS_CALL_TRANSFERS_MAX, false);
    KF_CHECK(kms_ok(kms_call_transfers_encode(t, &b)));
    KF_CHECK(kms_buf_len(&b) == n);
    KF_CHECK(same_up_to_hex_case(kms_buf_data(&b), p, n));
    KF_CHECK(kms_ok(kms_call_transfers_decode(kms_buf_data(&b), kms_buf_len(&b), t2)));
    KF_CHECK(memcmp(t, t2, sizeof(*t)) == 0);
    KF_CHECK(!kms_ok(kms_call_transfers_decode(p, n - 1, t2)));
    KF_CHECK(kf_all_zero(t2, sizeof(*t2)));
    kms_buf_cleanup(&b);
    free(t2);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    bool transfers = (data[0] & 1) != 0;
    if (size - 1 > (transfers ? KMS_CALL_TRANSFERS_MAX : KMS_CALL_OFFER_MAX)) {
        return 0;
    }
    /* An exact-size copy: the decoders get the length, ASan sees a read past it. */
    uint8_t *p = kf_dup(data + 1, size - 1, 0);
    if (transfers) {
        check_transfers(p, size - 1);
    } else {
        check_offer(p, size - 1);
    }
    free(p);
    return 0;
}
