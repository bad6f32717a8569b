/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Oracles for the sealed-ticket payload codec (kms_ticket_payload_decode / _encode), shared by
 * fuzz_ticket_payload.c and fuzz_ticket_open.c. Header-only (static inline).
 *
 * tp_check(x, kind) decodes an exact-size heap copy of x and checks:
 *  - on failure: the code is KMS_ERR_TICKET_FIELD and every byte of the claims is zero;
 *  - on success: the claims are of the requested kind and within the documented limits
 *    (issued < expires, a Kue's expiry <= ks_naf_expires, key lengths 16..64, identities
 *    1..255 printable octets and NUL-terminated, at most 8 IMPUs / responders, mode 2 or 3,
 *    nothing of the other kind set);
 *  - encode(decode(x)) succeeds; it equals x byte for byte when x has no non-critical field
 *    (type bit 0x80: skipped by the decoder, so not re-encoded); in every case it decodes to
 *    the very same claims, and encoding those again gives the same bytes;
 *  - x minus its last octet is refused (the last field's value comes up short), and so is x
 *    plus one octet (a field header cut short) or plus a critical unknown field (7f 0000);
 *  - x plus an empty non-critical unknown field (ff 0000) decodes to the same claims.
 */
#ifndef KMS_FUZZ_TICKET_COMMON_H
#define KMS_FUZZ_TICKET_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err/kms_err.h"
#include "fuzz_keyring_common.h"
#include "ticket/kms_ticket.h"
#include "util/kms_buf.h"

/* Whether the (well-formed) field list p has a field with the non-critical bit. */
static inline bool tp_has_noncritical(const uint8_t *p, size_t n)
{
    size_t at = 0;
    while (n - at >= 3) {
        if ((p[at] & KMS_TF_NONCRITICAL) != 0) {
            return true;
        }
        at += 3 + (((size_t)p[at + 1] << 8) | p[at + 2]);
        if (at > n) {
            break;
        }
    }
    return false;
}

static inline bool tp_ident_ok(const struct kms_ticket_ident *id)
{
    if (id->len < 1 || id->len > KMS_TICKET_IDENT_MAX || id->s[id->len] != '\0') {
        return false;
    }
    for (size_t i = 0; i < id->len; i++) {
        if (id->s[i] <= 0x20 || id->s[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

static inline bool tp_key_len_ok(size_t n)
{
    return n >= KMS_TICKET_KEY_MIN && n <= KMS_TICKET_KEY_MAX;
}

/* The documented limits of decoded claims of kind `kind`. */
static inline void tp_check_limits(const struct kms_ticket_claims *c, enum kms_ticket_kind kind)
{
    KF_CHECK(c->kind == kind);
    KF_CHECK(c->key_id == 0);
    KF_CHECK(c->issued < c->expires);
    if (kind == KMS_TICKET_KUE) {
        KF_CHECK(tp_key_len_ok(c->kue_len));
        KF_CHECK(tp_ident_ok(&c->impi));
        KF_CHECK(c->n_impu <= KMS_TICKET_MAX_IDENTS);
        for (size_t i = 0; i < c->n_impu; i++) {
            KF_CHECK(tp_ident_ok(&c->impu[i]));
        }
        KF_CHECK(c->mode == 2 || c->mode == 3);
        KF_CHECK(c->naf_id_len >= 1 && c->naf_id_len <= KMS_TICKET_NAF_ID_MAX);
        KF_CHECK(c->expires <= c->ks_naf_expires);
        KF_CHECK(c->tgk_len == 0 && c->mpk_len == 0 && c->initiator.len == 0);
        KF_CHECK(c->n_responder == 0);
    } else {
        KF_CHECK(tp_key_len_ok(c->tgk_len));
        KF_CHECK(c->mpk_len == 0 || tp_key_len_ok(c->mpk_len));
        KF_CHECK(tp_ident_ok(&c->initiator));
        KF_CHECK(c->n_responder >= 1 && c->n_responder <= KMS_TICKET_MAX_IDENTS);
        for (size_t i = 0; i < c->n_responder; i++) {
            KF_CHECK(tp_ident_ok(&c->responder[i]));
        }
        KF_CHECK(c->kue_len == 0 && c->impi.len == 0 && c->n_impu == 0 && c->mode == 0);
        KF_CHECK(c->naf_id_len == 0 && c->ks_naf_expires == 0);
    }
}

static inline bool tp_ident_eq(const struct kms_ticket_ident *a, const struct kms_ticket_ident *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len + 1) == 0;
}

/* Claims equal in every field a reader can see (lengths and counts bound what is compared: a
 * decode leaves the storage beyond them as it found it). */
static inline bool tp_claims_eq(const struct kms_ticket_claims *a,
                                const struct kms_ticket_claims *b)
{
    bool eq = a->kind == b->kind && a->key_id == b->key_id && a->issued == b->issued &&
              a->expires == b->expires &&
              memcmp(a->token_id, b->token_id, sizeof(a->token_id)) == 0 &&
              a->kue_len == b->kue_len && memcmp(a->kue, b->kue, a->kue_len) == 0 &&
              tp_ident_eq(&a->impi, &b->impi) && a->n_impu == b->n_impu && a->mode == b->mode &&
              a->naf_id_len == b->naf_id_len && memcmp(a->naf_id, b->naf_id, a->naf_id_len) == 0 &&
              a->ks_naf_expires == b->ks_naf_expires && a->tgk_len == b->tgk_len &&
              memcmp(a->tgk, b->tgk, a->tgk_len) == 0 && a->mpk_len == b->mpk_len &&
              memcmp(a->mpk, b->mpk, a->mpk_len) == 0 &&
              tp_ident_eq(&a->initiator, &b->initiator) && a->n_responder == b->n_responder;
    for (size_t i = 0; eq && i < a->n_impu && i < KMS_TICKET_MAX_IDENTS; i++) {
        eq = tp_ident_eq(&a->impu[i], &b->impu[i]);
    }
    for (size_t i = 0; eq && i < a->n_responder && i < KMS_TICKET_MAX_IDENTS; i++) {
        eq = tp_ident_eq(&a->responder[i], &b->responder[i]);
    }
    return eq;
}

/* Decodes p[0..n) + tail[0..tn) from one exact-size heap block. */
static inline kms_result tp_decode_with(const uint8_t *p, size_t n, const uint8_t *tail, size_t tn,
                                        enum kms_ticket_kind kind, struct kms_ticket_claims *c)
{
    uint8_t *q = kf_dup(p, n, tn);
    if (tn > 0) {
        memcpy(q + n, tail, tn);
    }
    kms_result r = kms_ticket_payload_decode(q, n + tn, kind, c);
    free(q);
    if (!kms_ok(r)) {
        KF_CHECK(r.err == KMS_ERR_TICKET_FIELD);
        KF_CHECK(kf_all_zero(c, sizeof(*c)));
    }
    return r;
}

/* The oracles above. On success *out (if not NULL) receives the decoded claims. */
static inline bool tp_check(const uint8_t *p, size_t n, enum kms_ticket_kind kind,
                            struct kms_ticket_claims *out)
{
    struct kms_ticket_claims *c = malloc(sizeof(*c)), *c2 = malloc(sizeof(*c2));
    KF_CHECK(c != NULL && c2 != NULL);
    bool ok = kms_ok(tp_decode_with(p, n, NULL, 0, kind, c));
    if (ok) {
        tp_check_limits(c, kind);
        struct kms_buf b1, b2;
        kms_buf_init(&b1, 2 * KMS_TICKET_MAX, true);
        kms_buf_init(&b2, 2 * KMS_TICKET_MAX, true);
        KF_CHECK(kms_ok(kms_ticket_payload_encode(c, &b1)));
        if (!tp_has_noncritical(p, n)) {
            KF_CHECK(kms_buf_len(&b1) == n);
            KF_CHECK(memcmp(kms_buf_data(&b1), p, n) == 0);
        }
        KF_CHECK(kms_ok(tp_decode_with(kms_buf_data(&b1), kms_buf_len(&b1), NULL, 0, kind, c2)));
        KF_CHECK(tp_claims_eq(c, c2));
        KF_CHECK(kms_ok(kms_ticket_payload_encode(c2, &b2)));
        KF_CHECK(kms_buf_len(&b1) == kms_buf_len(&b2));
        KF_CHECK(memcmp(kms_buf_data(&b1), kms_buf_data(&b2), kms_buf_len(&b1)) == 0);
        kms_buf_cleanup(&b2);
        kms_buf_cleanup(&b1);

        static const uint8_t nc_empty[] = {0xff, 0x00, 0x00};
        static const uint8_t crit_unknown[] = {0x7f, 0x00, 0x00};
        KF_CHECK(!kms_ok(tp_decode_with(p, n - 1, NULL, 0, kind, c2)));
        KF_CHECK(!kms_ok(tp_decode_with(p, n, nc_empty, 1, kind, c2)));
        KF_CHECK(!kms_ok(tp_decode_with(p, n, crit_unknown, 3, kind, c2)));
        KF_CHECK(kms_ok(tp_decode_with(p, n, nc_empty, 3, kind, c2)));
        KF_CHECK(tp_claims_eq(c, c2));
        if (out != NULL) {
            memcpy(out, c, sizeof(*c));
        }
    }
    kms_ticket_claims_wipe(c2);
    kms_ticket_claims_wipe(c);
    free(c2);
    free(c);
    return ok;
}

#endif
