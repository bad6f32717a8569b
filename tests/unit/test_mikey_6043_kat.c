/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Known answers for the RFC 6043 payloads (TR, RANDR, TP, TICKET, and the IDR and V payloads
 * inside them) from tests/vectors/mikey_rfc6043_payloads.txt, whose hex was assembled by hand
 * from the RFC's field figures. Each case is decoded with our codec, every field is checked
 * against the values the vector block lists, and the decoded form re-encodes to the same hex.
 */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "mikey/kms_mikey.h"
#include "util/kms_buf.h"

#define VEC "mikey_rfc6043_payloads.txt"

/* The idx-th space-separated token of s into tok (fails the test when absent). */
static void token(const char *s, size_t idx, char *tok, size_t cap)
{
    for (size_t i = 0;; i++) {
        while (*s == ' ') {
            s++;
        }
        size_t n = strcspn(s, " ");
        assert_true(n > 0);
        if (i == idx) {
            assert_true(n < cap);
            memcpy(tok, s, n);
            tok[n] = '\0';
            return;
        }
        s += n;
    }
}

static unsigned long dec_tok(const char *s, size_t idx)
{
    char tok[64];
    token(s, idx, tok, sizeof(tok));
    return strtoul(tok, NULL, 10);
}

static size_t hex_tok(const char *s, size_t idx, uint8_t *out, size_t cap)
{
    char tok[TV_MAX_VAL];
    token(s, idx, tok, sizeof(tok));
    return th_hex(tok, out, cap);
}

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* "D E H" -> KMS_MIKEY_TF_D | KMS_MIKEY_TF_E | KMS_MIKEY_TF_H (D..O are bits 0..11). */
static uint16_t flags_of(const char *s)
{
    uint16_t f = 0;
    for (; *s != '\0'; s++) {
        if (*s >= 'D' && *s <= 'O') {
            f |= (uint16_t)(1u << (*s - 'D'));
        }
    }
    return f;
}

static void expect_view(struct kms_bytes got, const char *want_hex)
{
    uint8_t want[TV_MAX_VAL / 2];
    size_t n = th_hex(want_hex, want, sizeof(want));
    assert_int_equal(got.len, n);
    expect_bytes_eq(got.p, want, n);
}

static void expect_text(struct kms_bytes got, const char *want)
{
    assert_int_equal(got.len, strlen(want));
    expect_bytes_eq(got.p, want, got.len);
}

/* Decodes the block's hex as a chain; re-encodes it to the same octets. */
static size_t chain(const struct tv_block *b, uint8_t *raw, size_t cap, struct kms_mikey_plist *l)
{
    size_t n = tv_hex_any(b, "hex", raw, cap), eo = 0;
    struct kms_cur c;
    kms_cur_init(&c, raw, n);
    memset(l, 0, sizeof(*l));
    expect_ok(kms_mikey_chain_decode(&c, l, &eo));
    assert_int_equal(kms_cur_remaining(&c), 0);
    struct kms_buf out;
    kms_buf_init(&out, 4096, false);
    expect_ok(kms_mikey_chain_encode(l, &out));
    assert_int_equal(kms_buf_len(&out), n);
    expect_bytes_eq(kms_buf_data(&out), raw, n);
    kms_buf_cleanup(&out);
    return n;
}

static void tr_roles(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load(VEC, &f);
    const struct tv_block *b = tv_find(&f, "chain tr roles");
    uint8_t raw[256];
    struct kms_mikey_plist *l = malloc(sizeof(*l));
    assert_non_null(l);
    chain(b, raw, sizeof(raw), l);
    assert_int_equal(l->n, dec_tok(tv_get(b, "n"), 0));
    for (size_t i = 0; i < l->n; i++) {
        const struct kms_mikey_payload *p = &l->pl[i];
        assert_int_equal(p->type, KMS_MIKEY_PT_TR);
        assert_int_equal(p->u.tr.role, dec_tok(tv_get(b, "role"), i));
        assert_int_equal(p->u.tr.ts_type, dec_tok(tv_get(b, "ts_type"), i));
        uint8_t v[8];
        size_t vn = hex_tok(tv_get(b, "value"), i, v, sizeof(v));
        assert_int_equal(vn, p->u.tr.ts_type == KMS_MIKEY_TS_NTP_UTC ? 8 : 4);
        assert_true(p->u.tr.value == be(v, vn));
    }
    free(l);
    tv_free(&f);
}

static void randr_roles(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load(VEC, &f);
    const struct tv_block *b = tv_find(&f, "chain randr roles");
    uint8_t raw[256];
    struct kms_mikey_plist *l = malloc(sizeof(*l));
    assert_non_null(l);
    chain(b, raw, sizeof(raw), l);
    assert_int_equal(l->n, dec_tok(tv_get(b, "n"), 0));
    for (size_t i = 0; i < l->n; i++) {
        const struct kms_mikey_payload *p = &l->pl[i];
        assert_int_equal(p->type, KMS_MIKEY_PT_RANDR);
        assert_int_equal(p->u.randr.role, dec_tok(tv_get(b, "role"), i));
        uint8_t want[255];
        size_t n = hex_tok(tv_get(b, "rand"), i, want, sizeof(want));
        assert_int_equal(p->u.randr.rand.len, n);
        expect_bytes_eq(p->u.randr.rand.p, want, n);
    }
    free(l);
    tv_free(&f);
}

/* Decodes a whole message, checks its header and its one TP/TICKET payload's fixed fields,
 * re-encodes it to the same octets; returns the payload. */
static const struct kms_mikey_ticket *msg_ticket(const struct tv_block *b, uint8_t type,
                                                 uint8_t *raw, size_t cap, struct kms_mikey_msg *m)
{
    size_t n = tv_hex_any(b, "hex", raw, cap), eo = 0;
    expect_ok(kms_mikey_decode(raw, n, m, &eo));
    assert_int_equal(m->hdr.version, 1);
    assert_int_equal(m->hdr.data_type, dec_tok(tv_get(b, "data_type"), 0));
    assert_false(m->hdr.v);
    assert_int_equal(m->hdr.prf, dec_tok(tv_get(b, "prf"), 0));
    uint8_t csb[4];
    tv_hex(b, "csb_id", csb, 4);
    assert_int_equal(m->hdr.csb_id, (uint32_t)be(csb, 4));
    assert_int_equal(m->hdr.n_cs, 0);
    assert_int_equal(m->hdr.map_type, dec_tok(tv_get(b, "map_type"), 0));
    assert_int_equal(m->body.n, 1);
    assert_int_equal(m->body.pl[0].type, type);
    const struct kms_mikey_ticket *t = &m->body.pl[0].u.ticket;
    assert_int_equal(t->type, dec_tok(tv_get(b, "ticket_type"), 0));
    assert_int_equal(t->subtype, dec_tok(tv_get(b, "subtype"), 0));
    assert_int_equal(t->version, dec_tok(tv_get(b, "version"), 0));
    assert_int_equal(t->prf, dec_tok(tv_get(b, "tprf"), 0));
    assert_int_equal(t->flags, flags_of(tv_get(b, "flags")));
    assert_int_equal(t->reserved, dec_tok(tv_get(b, "reserved"), 0));
    expect_view(t->tp_data, tv_get(b, "tp_data"));

    struct kms_buf out;
    kms_buf_init(&out, 4096, false);
    expect_ok(kms_mikey_encode(m, &out));
    assert_int_equal(kms_buf_len(&out), n);
    expect_bytes_eq(kms_buf_data(&out), raw, n);
    kms_buf_cleanup(&out);
    return t;
}

/* The TP data (or initiator data) of t decoded alone as a chain. */
static void sub_chain(struct kms_bytes v, struct kms_mikey_plist *l)
{
    struct kms_cur c;
    size_t eo = 0;
    kms_cur_init(&c, v.p, v.len);
    memset(l, 0, sizeof(*l));
    expect_ok(kms_mikey_chain_decode(&c, l, &eo));
    assert_int_equal(kms_cur_remaining(&c), 0);
}

static void tp_with_tp_data(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load(VEC, &f);
    const struct tv_block *b = tv_find(&f, "msg tp with tp data");
    uint8_t raw[512];
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    struct kms_mikey_plist *l = malloc(sizeof(*l));
    assert_true(m != NULL && l != NULL);
    const struct kms_mikey_ticket *t = msg_ticket(b, KMS_MIKEY_PT_TP, raw, sizeof(raw), m);
    /* A TP has neither Ticket Data nor Initiator Data. */
    assert_int_equal(t->ticket_data.len, 0);
    assert_int_equal(t->init_data.len, 0);
    assert_int_equal(t->flags & KMS_MIKEY_TF_K, 0);
    sub_chain(t->tp_data, l);
    assert_int_equal(l->n, 3);
    assert_int_equal(l->pl[0].type, KMS_MIKEY_PT_IDR);
    assert_int_equal(l->pl[0].u.id.role, 3); /* IDRkms */
    assert_int_equal(l->pl[0].u.id.type, 1); /* URI */
    expect_text(l->pl[0].u.id.data, tv_get(b, "tp_idr_kms"));
    assert_int_equal(l->pl[1].type, KMS_MIKEY_PT_TR);
    assert_int_equal(l->pl[1].u.tr.role, 3); /* TRe */
    assert_int_equal(l->pl[1].u.tr.ts_type, KMS_MIKEY_TS_NTP_UTC_32);
    uint8_t v[4];
    tv_hex(b, "tp_tre", v, 4);
    assert_true(l->pl[1].u.tr.value == be(v, 4));
    assert_int_equal(l->pl[2].type, KMS_MIKEY_PT_IDR);
    assert_int_equal(l->pl[2].u.id.role, 2); /* IDRr */
    assert_int_equal(l->pl[2].u.id.type, 1);
    expect_text(l->pl[2].u.id.data, tv_get(b, "tp_idr_r"));
    free(l);
    free(m);
    tv_free(&f);
}

static void ticket_with_ticket_and_initiator_data(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load(VEC, &f);
    const struct tv_block *b = tv_find(&f, "msg ticket with ticket and initiator data");
    uint8_t raw[512];
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    struct kms_mikey_plist *l = malloc(sizeof(*l));
    assert_true(m != NULL && l != NULL);
    const struct kms_mikey_ticket *t = msg_ticket(b, KMS_MIKEY_PT_TICKET, raw, sizeof(raw), m);
    expect_view(t->ticket_data, tv_get(b, "ticket_data"));
    expect_view(t->init_data, tv_get(b, "init_data"));
    sub_chain(t->tp_data, l);
    assert_int_equal(l->n, 1);
    assert_int_equal(l->pl[0].type, KMS_MIKEY_PT_IDR);
    assert_int_equal(l->pl[0].u.id.role, 1); /* IDRi */
    assert_int_equal(l->pl[0].u.id.type, 2); /* byte string */
    expect_text(l->pl[0].u.id.data, tv_get(b, "tp_idr_i"));
    /* Initiator Data = First Payload, Vi, Vr. */
    sub_chain(t->init_data, l);
    assert_int_equal(l->n, 2);
    for (size_t i = 0; i < 2; i++) {
        uint8_t want[32];
        memset(want, i == 0 ? 0x11 : 0x22, sizeof(want));
        assert_int_equal(l->pl[i].type, KMS_MIKEY_PT_V);
        assert_int_equal(l->pl[i].u.v.alg, dec_tok(tv_get(b, "mac_alg"), 0));
        assert_int_equal(l->pl[i].u.v.mac.len, 32);
        expect_bytes_eq(l->pl[i].u.v.mac.p, want, 32);
    }
    free(l);
    free(m);
    tv_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tr_roles),
        cmocka_unit_test(randr_roles),
        cmocka_unit_test(tp_with_tp_data),
        cmocka_unit_test(ticket_with_ticket_and_initiator_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
