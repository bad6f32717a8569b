/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Oracles shared by the MIKEY harnesses (fuzz_mikey_decode.c, fuzz_mikey_ticket.c,
 * fuzz_mikey_keydata.c). Header-only (static inline) so each harness stays one source file.
 *
 * Every decoder runs on an exact-size heap copy of what it parses (also for a view into a
 * larger message, such as TP data or a KEMAC's encr_data), so ASan sees any read past it.
 *
 * On success (the codec promises encode(decode(x)) == x, lib/mikey/kms_mikey.h):
 *  - the payloads tile the input: the first starts right after the header (message) or the
 *    first-payload octet (chain), each starts where the previous ended, the last ends at the
 *    end, SIGN only last, no TP/TICKET inside a chain, only V inside TICKET initiator data;
 *  - the re-encoding is byte-identical, the encoder reports the same offsets and lengths,
 *    and decoding the re-encoding gives the same payload count, types, offsets and lengths;
 *  - TP data and initiator data decode on their own with kms_mikey_chain_decode (the message
 *    decoder validated them) and round-trip through kms_mikey_chain_encode;
 *  - a NULL-encrypted KEMAC's non-empty encr_data decodes alone as Key data (the message
 *    decoder checks it, kms_mikey.h) and round-trips through kms_mikey_keydata_encode;
 *  - the input minus its last octet (and one more proper prefix) is KMS_ERR_TRUNCATED: a
 *    decode is a deterministic walk that needs every octet, so no proper prefix can parse;
 *  - the input plus one octet is KMS_ERR_TRAILING with err_off == size.
 * On failure: err_off <= size and the code is a PROTO one (truncated, trailing, malformed...).
 * Any broken oracle prints what failed and aborts.
 */
#ifndef KMS_FUZZ_MIKEY_COMMON_H
#define KMS_FUZZ_MIKEY_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err/kms_err.h"
#include "mikey/kms_mikey.h"
#include "util/kms_buf.h"
#include "util/kms_cur.h"

#define MF_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            mf_fail(#cond, __LINE__);                                                              \
        }                                                                                          \
    } while (0)

static inline void mf_fail(const char *what, int line)
{
    fprintf(stderr, "MIKEY oracle failed (fuzz_mikey_common.h:%d): %s\n", line, what);
    abort();
}

/* An exact-size heap copy of p (malloc(0) still gives ASan a zero-byte block to guard). */
static inline uint8_t *mf_dup(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n);
    if (q == NULL && n > 0) {
        abort();
    }
    if (n > 0) {
        memcpy(q, p, n);
    }
    return q;
}

/* The same bytes with one octet appended. */
static inline uint8_t *mf_dup_plus(const uint8_t *p, size_t n, uint8_t extra)
{
    uint8_t *q = malloc(n + 1);
    if (q == NULL) {
        abort();
    }
    if (n > 0) {
        memcpy(q, p, n);
    }
    q[n] = extra;
    return q;
}

static inline void mf_check_failure(kms_result r, size_t err_off, size_t size)
{
    MF_CHECK(!kms_ok(r));
    MF_CHECK(err_off <= size);
    MF_CHECK(kms_err_group(r.err) == KMS_ERR_G_PROTO);
}

/* A second proper prefix length besides size - 1, picked from the input itself. */
static inline size_t mf_prefix_len(const uint8_t *p, size_t size)
{
    size_t h = 0;
    for (size_t i = 0; i < size; i++) {
        h = h * 31 + p[i];
    }
    return size > 0 ? h % size : 0;
}

/* Payload types, offsets and lengths of a list, to compare across encode and re-decode. */
struct mf_layout {
    size_t n;
    uint8_t type[KMS_MIKEY_MAX_PAYLOADS];
    size_t off[KMS_MIKEY_MAX_PAYLOADS];
    size_t len[KMS_MIKEY_MAX_PAYLOADS];
};

static inline void mf_layout_of(const struct kms_mikey_plist *l, struct mf_layout *o)
{
    MF_CHECK(l->n <= KMS_MIKEY_MAX_PAYLOADS);
    memset(o, 0, sizeof(*o));
    o->n = l->n;
    for (size_t i = 0; i < l->n; i++) {
        o->type[i] = l->pl[i].type;
        o->off[i] = l->pl[i].off;
        o->len[i] = l->pl[i].len;
    }
}

static inline bool mf_layout_eq(const struct mf_layout *a, const struct mf_layout *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->type[i] != b->type[i] || a->off[i] != b->off[i] || a->len[i] != b->len[i]) {
            return false;
        }
    }
    return true;
}

/* The payloads tile [start, end): contiguous, SIGN last, nested rules. */
static inline void mf_check_tiling(const struct kms_mikey_plist *l, size_t start, size_t end,
                                   bool nested, bool only_v)
{
    size_t at = start;
    MF_CHECK(l->n <= KMS_MIKEY_MAX_PAYLOADS);
    for (size_t i = 0; i < l->n; i++) {
        const struct kms_mikey_payload *pl = &l->pl[i];
        MF_CHECK(pl->off == at);
        MF_CHECK(pl->len >= 1 && pl->len <= end - at);
        MF_CHECK(pl->type != KMS_MIKEY_PT_KEYDATA && pl->type != KMS_MIKEY_PT_LAST);
        MF_CHECK(pl->type != KMS_MIKEY_PT_SIGN || i + 1 == l->n);
        MF_CHECK(!nested || (pl->type != KMS_MIKEY_PT_TP && pl->type != KMS_MIKEY_PT_TICKET));
        MF_CHECK(!only_v || pl->type == KMS_MIKEY_PT_V);
        at += pl->len;
    }
    MF_CHECK(at == end);
}

/* Key data sub-payloads: returns whether p decodes. must_ok: the caller knows it is valid.
 * The oracles are described above. */
static inline bool mf_keydata(const uint8_t *data, size_t size, bool must_ok)
{
    uint8_t *p = mf_dup(data, size);
    struct kms_mikey_keydata_list *l = malloc(sizeof(*l)), *l2 = malloc(sizeof(*l2));
    MF_CHECK(l != NULL && l2 != NULL);
    size_t eo = SIZE_MAX;
    kms_result r = kms_mikey_keydata_decode(p, size, l, &eo);
    bool ok = kms_ok(r);
    if (must_ok && !ok) {
        fprintf(stderr, "key data of %zu octets refused: %s at %zu\n", size, kms_err_name(r.err),
                eo);
        mf_fail("the Key data of a NULL KEMAC the decoder accepted decodes alone", __LINE__);
    }
    if (!ok) {
        mf_check_failure(r, eo, size);
    } else {
        MF_CHECK(eo == 0);
        MF_CHECK(l->n >= 1 && l->n <= KMS_MIKEY_MAX_KEYDATA);
        for (size_t i = 0; i < l->n; i++) {
            const struct kms_mikey_keydata *kd = &l->kd[i];
            MF_CHECK(kd->type <= KMS_MIKEY_KD_MPK && kd->kv <= KMS_MIKEY_KV_INTERVAL);
            MF_CHECK(kd->kv == KMS_MIKEY_KV_INTERVAL || kd->kv_b.len == 0);
            MF_CHECK(kd->kv != KMS_MIKEY_KV_NULL || kd->kv_a.len == 0);
        }
        struct kms_buf b;
        kms_buf_init(&b, KMS_MIKEY_MAX_MSG, false);
        MF_CHECK(kms_ok(kms_mikey_keydata_encode(l, &b)));
        MF_CHECK(kms_buf_len(&b) == size);
        MF_CHECK(memcmp(kms_buf_data(&b), p, size) == 0);
        uint8_t *q = mf_dup(kms_buf_data(&b), kms_buf_len(&b));
        MF_CHECK(kms_ok(kms_mikey_keydata_decode(q, size, l2, &eo)));
        MF_CHECK(l2->n == l->n);
        for (size_t i = 0; i < l->n; i++) {
            MF_CHECK(l2->kd[i].type == l->kd[i].type && l2->kd[i].kv == l->kd[i].kv);
            MF_CHECK(l2->kd[i].key.len == l->kd[i].key.len);
            MF_CHECK(l2->kd[i].salt.len == l->kd[i].salt.len);
            MF_CHECK(l2->kd[i].kv_a.len == l->kd[i].kv_a.len);
            MF_CHECK(l2->kd[i].kv_b.len == l->kd[i].kv_b.len);
        }
        free(q);
        kms_buf_cleanup(&b);
        /* proper prefixes are truncated, one more octet is trailing */
        size_t cuts[2] = {size - 1, mf_prefix_len(p, size)};
        for (size_t k = 0; k < 2; k++) {
            q = mf_dup(p, cuts[k]);
            r = kms_mikey_keydata_decode(q, cuts[k], l2, &eo);
            MF_CHECK(r.err == KMS_ERR_TRUNCATED && eo <= cuts[k]);
            free(q);
        }
        q = mf_dup_plus(p, size, 0x00);
        r = kms_mikey_keydata_decode(q, size + 1, l2, &eo);
        MF_CHECK(r.err == KMS_ERR_TRAILING && eo == size);
        free(q);
    }
    free(l2);
    free(l);
    free(p);
    return ok;
}

static inline void mf_nested(const struct kms_mikey_plist *l);

/* A payload chain (first-payload octet, then payloads). must_ok: the caller knows it is valid.
 * only_v: initiator data. Returns whether it decodes. */
static inline bool mf_chain(const uint8_t *data, size_t size, bool must_ok, bool only_v)
{
    uint8_t *p = mf_dup(data, size);
    struct kms_mikey_plist *l = malloc(sizeof(*l)), *l2 = malloc(sizeof(*l2));
    MF_CHECK(l != NULL && l2 != NULL);
    struct kms_cur c;
    size_t eo = SIZE_MAX;
    kms_cur_init(&c, p, size);
    kms_result r = kms_mikey_chain_decode(&c, l, &eo);
    bool ok = kms_ok(r);
    if (must_ok && !ok) {
        fprintf(stderr, "chain of %zu octets refused: %s at %zu\n", size, kms_err_name(r.err), eo);
        mf_fail("a chain the message decoder accepted decodes alone", __LINE__);
    }
    if (!ok) {
        mf_check_failure(r, eo, size);
    } else {
        MF_CHECK(eo == 0 && kms_cur_remaining(&c) == 0);
        mf_check_tiling(l, 1, size, true, only_v);
        mf_nested(l);
        struct mf_layout before, enc, again;
        mf_layout_of(l, &before);
        struct kms_buf b;
        kms_buf_init(&b, KMS_MIKEY_MAX_MSG, false);
        MF_CHECK(kms_ok(kms_mikey_chain_encode(l, &b)));
        MF_CHECK(kms_buf_len(&b) == size);
        MF_CHECK(memcmp(kms_buf_data(&b), p, size) == 0);
        mf_layout_of(l, &enc);
        MF_CHECK(mf_layout_eq(&before, &enc));
        uint8_t *q = mf_dup(kms_buf_data(&b), kms_buf_len(&b));
        kms_cur_init(&c, q, size);
        MF_CHECK(kms_ok(kms_mikey_chain_decode(&c, l2, &eo)));
        mf_layout_of(l2, &again);
        MF_CHECK(mf_layout_eq(&before, &again));
        free(q);
        kms_buf_cleanup(&b);
        size_t cuts[2] = {size - 1, mf_prefix_len(p, size)};
        for (size_t k = 0; k < 2; k++) {
            q = mf_dup(p, cuts[k]);
            kms_cur_init(&c, q, cuts[k]);
            r = kms_mikey_chain_decode(&c, l2, &eo);
            MF_CHECK(r.err == KMS_ERR_TRUNCATED && eo <= cuts[k]);
            free(q);
        }
        q = mf_dup_plus(p, size, 0x00);
        kms_cur_init(&c, q, size + 1);
        r = kms_mikey_chain_decode(&c, l2, &eo);
        MF_CHECK(r.err == KMS_ERR_TRAILING && eo == size);
        free(q);
    }
    free(l2);
    free(l);
    free(p);
    return ok;
}

/* What a decoded list holds inside its payloads: Key data of NULL-encrypted KEMACs, and for
 * TP/TICKET (message level only) the TP data and initiator data chains. */
static inline void mf_nested(const struct kms_mikey_plist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct kms_mikey_payload *pl = &l->pl[i];
        if (pl->type == KMS_MIKEY_PT_KEMAC && pl->u.kemac.encr_alg == 0 &&
            pl->u.kemac.encr_data.len > 0) {
            (void)mf_keydata(pl->u.kemac.encr_data.p, pl->u.kemac.encr_data.len, true);
        }
        if (pl->type == KMS_MIKEY_PT_TP || pl->type == KMS_MIKEY_PT_TICKET) {
            const struct kms_mikey_ticket *t = &pl->u.ticket;
            if (pl->type == KMS_MIKEY_PT_TP) {
                MF_CHECK(t->ticket_data.len == 0 && t->init_data.len == 0);
            }
            if (t->tp_data.len > 0) {
                (void)mf_chain(t->tp_data.p, t->tp_data.len, true, false);
            }
            if (t->init_data.len > 0) {
                (void)mf_chain(t->init_data.p, t->init_data.len, true, true);
            }
        }
    }
}

/* Octets of the common header with its CS ID map. */
static inline size_t mf_hdr_len(const struct kms_mikey_hdr *h)
{
    size_t n = 10;
    for (size_t i = 0; i < h->n_cs; i++) {
        const struct kms_mikey_cs *cs = &h->cs[i];
        switch (h->map_type) {
        case KMS_MIKEY_MAP_SRTP_ID:
            n += 9;
            break;
        case KMS_MIKEY_MAP_GENERIC_ID:
            n += 3 + cs->ps.len + 2 + cs->session_data.len + 1 + cs->spi.len;
            break;
        default:
            break;
        }
    }
    return n;
}

/* A whole message. Returns whether it decodes. */
static inline bool mf_message(const uint8_t *data, size_t size)
{
    uint8_t *p = mf_dup(data, size);
    struct kms_mikey_msg *m = malloc(sizeof(*m)), *m2 = malloc(sizeof(*m2));
    MF_CHECK(m != NULL && m2 != NULL);
    size_t eo = SIZE_MAX;
    kms_result r = kms_mikey_decode(p, size, m, &eo);
    bool ok = kms_ok(r);
    if (!ok) {
        mf_check_failure(r, eo, size);
    } else {
        MF_CHECK(eo == 0);
        MF_CHECK(m->raw.p == p && m->raw.len == size);
        MF_CHECK(m->hdr.version == KMS_MIKEY_VERSION && m->hdr.n_cs <= KMS_MIKEY_MAX_CS);
        MF_CHECK(m->hdr.next_payload == (m->body.n > 0 ? m->body.pl[0].type : KMS_MIKEY_PT_LAST));
        size_t hl = mf_hdr_len(&m->hdr);
        MF_CHECK(hl <= size);
        mf_check_tiling(&m->body, hl, size, false, false);
        mf_nested(&m->body);
        struct mf_layout before, enc, again;
        mf_layout_of(&m->body, &before);
        struct kms_buf b;
        kms_buf_init(&b, KMS_MIKEY_MAX_MSG, false);
        r = kms_mikey_encode(m, &b);
        if (!kms_ok(r)) {
            fprintf(stderr, "re-encoding a decoded message: %s\n", kms_err_name(r.err));
            mf_fail("kms_mikey_encode(kms_mikey_decode(x)) succeeds", __LINE__);
        }
        MF_CHECK(kms_buf_len(&b) == size);
        MF_CHECK(memcmp(kms_buf_data(&b), p, size) == 0);
        mf_layout_of(&m->body, &enc);
        MF_CHECK(mf_layout_eq(&before, &enc));
        uint8_t *q = mf_dup(kms_buf_data(&b), kms_buf_len(&b));
        MF_CHECK(kms_ok(kms_mikey_decode(q, size, m2, &eo)));
        mf_layout_of(&m2->body, &again);
        MF_CHECK(mf_layout_eq(&before, &again));
        MF_CHECK(m2->hdr.data_type == m->hdr.data_type && m2->hdr.csb_id == m->hdr.csb_id &&
                 m2->hdr.n_cs == m->hdr.n_cs && m2->hdr.map_type == m->hdr.map_type);
        free(q);
        kms_buf_cleanup(&b);
        size_t cuts[2] = {size - 1, mf_prefix_len(p, size)};
        for (size_t k = 0; k < 2; k++) {
            q = mf_dup(p, cuts[k]);
            r = kms_mikey_decode(q, cuts[k], m2, &eo);
            MF_CHECK(r.err == KMS_ERR_TRUNCATED && eo <= cuts[k]);
            free(q);
        }
        if (size < KMS_MIKEY_MAX_MSG) {
            q = mf_dup_plus(p, size, 0x00);
            r = kms_mikey_decode(q, size + 1, m2, &eo);
            MF_CHECK(r.err == KMS_ERR_TRAILING && eo == size);
            free(q);
        }
    }
    free(m2);
    free(m);
    free(p);
    return ok;
}

#endif
