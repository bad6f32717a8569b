/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: B's side of the ticket transfer, kms_transfer_peek and kms_transfer_open
 * (kms/kms_ticket_msg.h): a TRANSFER_INIT is bytes from the peer, read before its MAC can be
 * checked. The MPK is fixed (MPK), a second one (MPK2) differs in one bit.
 *
 * Input: octet 0 bit 0 clear = the rest is the message as is; set = the harness builds one
 * with kms_transfer_build under MPK: octets 1, 2, 3 give the lengths of IDRi (1..32), IDRr
 * (1..32) and the ticket (1..256), whose octets come next (identities mapped onto 0x21..0x7e),
 * and what remains are (16-bit offset, x) triples applied to the built message in turn: x
 * XORed into the octet at offset mod length, or x = 0 deletes it.
 *
 * Oracles, every message: a refused peek leaves the struct all zero with err_off <= length; an
 * accepted one gives identities of 1..255 printable octets, NUL-terminated within their
 * arrays, a ticket of 1..KMS_TICKET_MAX octets; open succeeds only when peek does, never under
 * MPK2, and never after one octet (chosen by the input) is flipped; a transfer built from what
 * peek read peeks to the same identities and ticket, and one built from it with its flags and
 * crypto session (kms_transfer_build_spec) to the same flags, crypto session and SP.
 * Built messages: the unmutated message peeks to exactly what was built and opens under MPK;
 * a message whose octets differ from the built one in any way never opens (a MAC forgery).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "kms/kms_ticket_msg.h"
#include "util/kms_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t MPK[KMS_TMSG_MPK_LEN] = {
    0x6d, 0x70, 0x6b, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};

static bool ident_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n < 1 || n >= cap) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if ((uint8_t)s[i] <= 0x20 || (uint8_t)s[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

static kms_result open_copy(const uint8_t *p, size_t n, const uint8_t mpk[KMS_TMSG_MPK_LEN])
{
    uint8_t *q = kf_dup(p, n, 0);
    kms_result r = kms_transfer_open(q, n, mpk);
    free(q);
    return r;
}

/* Peeks an exact-size copy of p and checks the result's limits; true when accepted. */
static bool peek_check(const uint8_t *p, size_t n, struct kms_transfer *t)
{
    uint8_t *q = kf_dup(p, n, 0);
    size_t eo = 99999;
    memset(t, 0x5a, sizeof(*t));
    kms_result r = kms_transfer_peek(q, n, t, &eo);
    free(q);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(t, sizeof(*t)));
        KF_CHECK(eo <= n);
        return false;
    }
    KF_CHECK(ident_ok(t->idri, sizeof(t->idri)) && ident_ok(t->idrr, sizeof(t->idrr)));
    KF_CHECK(t->ticket_len >= 1 && t->ticket_len <= KMS_TICKET_MAX);
    return true;
}

static void check_any(const uint8_t *p, size_t n, uint16_t flip_at)
{
    struct kms_transfer *t = malloc(sizeof(*t)), *t2 = malloc(sizeof(*t2));
    KF_CHECK(t != NULL && t2 != NULL);
    uint8_t mpk2[KMS_TMSG_MPK_LEN];
    memcpy(mpk2, MPK, sizeof(mpk2));
    mpk2[KMS_TMSG_MPK_LEN - 1] ^= 1;
    bool peeked = peek_check(p, n, t);
    bool opened = kms_ok(open_copy(p, n, MPK));
    KF_CHECK(!opened || peeked);
    KF_CHECK(!kms_ok(open_copy(p, n, mpk2)));
    if (opened && n > 0) { /* an opened message is never empty; says so to the compiler */
        uint8_t *q = kf_dup(p, n, 0);
        q[flip_at % n] ^= 0x01;
        KF_CHECK(!kms_ok(open_copy(q, n, MPK)));
        free(q);
    }
    if (peeked) {
        struct kms_buf b;
        kms_buf_init(&b, 4 * KMS_TICKET_MAX, false);
        KF_CHECK(kms_ok(kms_transfer_build(t->idri, t->idrr, MPK, t->ticket, t->ticket_len, &b)));
        KF_CHECK(peek_check(kms_buf_data(&b), kms_buf_len(&b), t2));
        KF_CHECK(strcmp(t->idri, t2->idri) == 0 && strcmp(t->idrr, t2->idrr) == 0);
        KF_CHECK(t->ticket_len == t2->ticket_len);
        KF_CHECK(memcmp(t->ticket, t2->ticket, t->ticket_len) == 0);
        KF_CHECK(t->media.n_cs <= 1 && t->media.sp_len <= sizeof(t->media.sp));
        if (t->media.n_cs == 1 && t->media.sp_len > 0) {
            const struct kms_transfer_spec sp = {.idri = t->idri,
                                                 .idrr = t->idrr,
                                                 .mpk = MPK,
                                                 .ticket = t->ticket,
                                                 .ticket_len = t->ticket_len,
                                                 .ticket_flags = t->ticket_flags,
                                                 .media = &t->media};
            kms_buf_reset(&b);
            KF_CHECK(kms_ok(kms_transfer_build_spec(&sp, &b)));
            KF_CHECK(peek_check(kms_buf_data(&b), kms_buf_len(&b), t2));
            KF_CHECK(t2->ticket_flags == t->ticket_flags && t2->media.n_cs == 1);
            KF_CHECK(memcmp(&t2->media.cs[0], &t->media.cs[0], sizeof(t->media.cs[0])) == 0);
            KF_CHECK(t2->media.sp_len == t->media.sp_len &&
                     memcmp(t2->media.sp, t->media.sp, t->media.sp_len) == 0);
        }
        kms_buf_cleanup(&b);
    }
    free(t2);
    free(t);
}

static void built(const uint8_t *data, size_t size)
{
    if (size < 3) {
        return;
    }
    size_t li = (size_t)(data[0] % 32) + 1, lr = (size_t)(data[1] % 32) + 1;
    size_t lt = (size_t)data[2] + 1;
    data += 3;
    size -= 3;
    if (size < li + lr + lt) {
        return;
    }
    char idri[33], idrr[33];
    for (size_t i = 0; i < li; i++) {
        idri[i] = (char)(0x21 + data[i] % 94);
    }
    idri[li] = '\0';
    for (size_t i = 0; i < lr; i++) {
        idrr[i] = (char)(0x21 + data[li + i] % 94);
    }
    idrr[lr] = '\0';
    const uint8_t *ticket = data + li + lr;
    data += li + lr + lt;
    size -= li + lr + lt;

    struct kms_buf b;
    kms_buf_init(&b, 4 * KMS_TICKET_MAX, false);
    KF_CHECK(kms_ok(kms_transfer_build(idri, idrr, MPK, ticket, lt, &b)));
    const size_t n0 = kms_buf_len(&b);
    size_t n = n0;
    uint8_t *m = kf_dup(kms_buf_data(&b), n0, 0);
    for (; size >= 3 && n > 1; data += 3, size -= 3) {
        size_t at = (((size_t)data[0] << 8) | data[1]) % n;
        if (data[2] != 0) {
            m[at] ^= data[2];
        } else {
            memmove(m + at, m + at + 1, n - at - 1);
            n--;
        }
    }
    const bool same = n == n0 && memcmp(m, kms_buf_data(&b), n0) == 0;
    struct kms_transfer *t = malloc(sizeof(*t));
    KF_CHECK(t != NULL);
    if (same) {
        KF_CHECK(peek_check(m, n, t));
        KF_CHECK(strcmp(t->idri, idri) == 0 && strcmp(t->idrr, idrr) == 0);
        KF_CHECK(t->ticket_len == lt && memcmp(t->ticket, ticket, lt) == 0);
        KF_CHECK(kms_ok(open_copy(m, n, MPK)));
    } else {
        /* Any change to a MACed message: the MAC covers every octet before it and is the
         * rest, so an open would be a forgery. */
        KF_CHECK(!kms_ok(open_copy(m, n, MPK)));
    }
    check_any(m, n, (uint16_t)(n * 31u + lt));
    free(t);
    free(m);
    kms_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4 * KMS_TICKET_MAX) {
        return 0;
    }
    if ((data[0] & 1) == 0) {
        if (size > 1) {
            check_any(data + 1, size - 1, (uint16_t)(size * 31u + data[size - 1]));
        }
        return 0;
    }
    built(data + 1, size - 1);
    return 0;
}
