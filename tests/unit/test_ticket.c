/* SPDX-License-Identifier: Apache-2.0 */
/* Sealed ticket format v1: payload codec, seal/open, every bit flip, truncation, times. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "keyring/kms_keyring.h"
#include "ticket/kms_ticket.h"

#define T0 1000000u

struct fx {
    char dir[64];
    char path[128];
    struct kms_keystore *ks;
    struct kms_keyring *kr;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    th_tmpdir(f->dir, sizeof(f->dir));
    th_path(f->path, sizeof(f->path), f->dir, "keyring");
    uint8_t kek[32];
    memset(kek, 0x42, sizeof(kek));
    expect_ok(kms_keystore_file_open_kek(kek, &f->ks));
    struct kms_keyring_policy pol = {.lifetime = 3600, .grace = 600, .max_seals = 1000000};
    expect_ok(kms_keyring_create(f->path, f->ks, &pol, T0, &f->kr));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    kms_keyring_close(f->kr);
    kms_keystore_close(f->ks);
    th_rmtree(f->dir);
    free(f);
    return 0;
}

static void kue_claims(struct kms_ticket_claims *c)
{
    memset(c, 0, sizeof(*c));
    c->kind = KMS_TICKET_KUE;
    c->expires = T0 + 600;
    memset(c->token_id, 0xa5, sizeof(c->token_id));
    c->kue_len = 32;
    for (size_t i = 0; i < c->kue_len; i++) {
        c->kue[i] = (uint8_t)i;
    }
    expect_ok(kms_ticket_ident_set(&c->impi, "user1@ims.example.org"));
    expect_ok(kms_ticket_ident_set(&c->impu[0], "sip:user1@ims.example.org"));
    expect_ok(kms_ticket_ident_set(&c->impu[1], "tel:+15551234567"));
    c->n_impu = 2;
    c->mode = 3;
    memcpy(c->naf_id, "kms.example.org\x01\x00\x00\x00\x06", 20);
    c->naf_id_len = 20;
    c->ks_naf_expires = T0 + 86400;
}

static void media_claims(struct kms_ticket_claims *c)
{
    memset(c, 0, sizeof(*c));
    c->kind = KMS_TICKET_MEDIA;
    c->expires = T0 + 60;
    memset(c->token_id, 0x3c, sizeof(c->token_id));
    c->tgk_len = 16;
    memset(c->tgk, 0x11, 16);
    c->mpk_len = 32;
    memset(c->mpk, 0x22, 32);
    expect_ok(kms_ticket_ident_set(&c->initiator, "sip:alice@example.org"));
    expect_ok(kms_ticket_ident_set(&c->responder[0], "sip:bob@example.org"));
    c->n_responder = 1;
}

static void claims_equal(const struct kms_ticket_claims *a, const struct kms_ticket_claims *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->key_id, b->key_id);
    assert_int_equal(a->issued, b->issued);
    assert_int_equal(a->expires, b->expires);
    expect_bytes_eq(a->token_id, b->token_id, KMS_TICKET_ID_LEN);
    assert_int_equal(a->kue_len, b->kue_len);
    expect_bytes_eq(a->kue, b->kue, a->kue_len);
    assert_string_equal(a->impi.s, b->impi.s);
    assert_int_equal(a->n_impu, b->n_impu);
    for (size_t i = 0; i < a->n_impu; i++) {
        assert_string_equal(a->impu[i].s, b->impu[i].s);
    }
    assert_int_equal(a->mode, b->mode);
    assert_int_equal(a->naf_id_len, b->naf_id_len);
    expect_bytes_eq(a->naf_id, b->naf_id, a->naf_id_len);
    assert_int_equal(a->ks_naf_expires, b->ks_naf_expires);
    assert_int_equal(a->tgk_len, b->tgk_len);
    expect_bytes_eq(a->tgk, b->tgk, a->tgk_len);
    assert_int_equal(a->mpk_len, b->mpk_len);
    expect_bytes_eq(a->mpk, b->mpk, a->mpk_len);
    assert_string_equal(a->initiator.s, b->initiator.s);
    assert_int_equal(a->n_responder, b->n_responder);
    for (size_t i = 0; i < a->n_responder; i++) {
        assert_string_equal(a->responder[i].s, b->responder[i].s);
    }
}

static void seal(struct fx *f, uint64_t now, struct kms_ticket_claims *c, uint8_t *t, size_t *n)
{
    struct kms_buf b;
    kms_buf_init_fixed(&b, t, KMS_TICKET_MAX, false);
    expect_ok(kms_ticket_seal(f->kr, now, c, &b));
    *n = kms_buf_len(&b);
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    struct kms_ticket_claims in, out;
    uint8_t t[KMS_TICKET_MAX];
    size_t n = 0;
    kue_claims(&in);
    seal(f, T0 + 5, &in, t, &n);
    assert_int_equal(in.issued, T0 + 5);
    assert_int_equal(in.key_id, 1);
    struct kms_ticket_header h;
    expect_ok(kms_ticket_header_parse(t, n, &h));
    assert_int_equal(h.version, 1);
    assert_int_equal(h.kind, KMS_TICKET_KUE);
    assert_int_equal(h.key_id, 1);
    assert_int_equal(h.ct_len, n - KMS_TICKET_OVERHEAD);
    expect_ok(kms_ticket_open(f->kr, T0 + 6, t, n, KMS_TICKET_KUE, &out));
    claims_equal(&in, &out);

    media_claims(&in);
    seal(f, T0 + 5, &in, t, &n);
    expect_ok(kms_ticket_open(f->kr, T0 + 6, t, n, KMS_TICKET_MEDIA, &out));
    claims_equal(&in, &out);
    /* A ticket of one kind is not accepted as the other. */
    expect_err(kms_ticket_open(f->kr, T0 + 6, t, n, KMS_TICKET_KUE, &out), KMS_ERR_TICKET_VERSION);
}

/* Every single-bit change of a ticket is refused, with the reason of the field it hits. */
static void test_every_bit_flip(void **state)
{
    struct fx *f = *state;
    struct kms_ticket_claims in, out;
    uint8_t t[KMS_TICKET_MAX];
    size_t n = 0;
    kue_claims(&in);
    seal(f, T0, &in, t, &n);
    for (size_t bit = 0; bit < n * 8; bit++) {
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        kms_result r = kms_ticket_open(f->kr, T0 + 1, t, n, KMS_TICKET_KUE, &out);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        size_t byte = bit / 8;
        enum kms_err want = byte < 2   ? KMS_ERR_TICKET_VERSION
                            : byte < 6 ? KMS_ERR_KEY_UNKNOWN
                                       : KMS_ERR_TICKET_TAG;
        if (r.err != want) {
            fail_msg("bit %zu: expected %s, got %s", bit, kms_err_name(want), kms_err_name(r.err));
        }
        assert_int_equal(kms_err_group(r.err), KMS_ERR_G_AUTH);
        assert_int_equal(kms_wire_of(KMS_IFACE_KMS, r.err).status, 403);
        assert_int_equal(out.kue_len, 0); /* nothing leaks out of a refused ticket */
    }
    expect_ok(kms_ticket_open(f->kr, T0 + 1, t, n, KMS_TICKET_KUE, &out));
}

static void test_truncation_and_extension(void **state)
{
    struct fx *f = *state;
    struct kms_ticket_claims in, out;
    uint8_t t[KMS_TICKET_MAX + 1];
    size_t n = 0;
    kue_claims(&in);
    seal(f, T0, &in, t, &n);
    for (size_t len = 0; len < n; len++) {
        kms_result r = kms_ticket_open(f->kr, T0 + 1, t, len, KMS_TICKET_KUE, &out);
        assert_int_equal(r.err, len < KMS_TICKET_OVERHEAD ? KMS_ERR_TRUNCATED : KMS_ERR_TICKET_TAG);
    }
    t[n] = 0;
    expect_err(kms_ticket_open(f->kr, T0 + 1, t, n + 1, KMS_TICKET_KUE, &out), KMS_ERR_TICKET_TAG);
    expect_err(kms_ticket_open(f->kr, T0 + 1, t, KMS_TICKET_MAX + 1, KMS_TICKET_KUE, &out),
               KMS_ERR_TOO_LONG);
    expect_err(kms_ticket_open(f->kr, T0 + 1, NULL, 0, KMS_TICKET_KUE, &out), KMS_ERR_TRUNCATED);
}

static void test_times(void **state)
{
    struct fx *f = *state;
    struct kms_ticket_claims in, out;
    uint8_t t[KMS_TICKET_MAX];
    size_t n = 0;
    kue_claims(&in);
    in.expires = T0 + 10;
    seal(f, T0, &in, t, &n);
    expect_ok(kms_ticket_open(f->kr, T0 + 9, t, n, KMS_TICKET_KUE, &out));
    expect_err(kms_ticket_open(f->kr, T0 + 10, t, n, KMS_TICKET_KUE, &out), KMS_ERR_TICKET_EXPIRED);
    /* Issued in the future (a clock stepped back) beyond the allowed skew. */
    expect_ok(kms_ticket_open(f->kr, T0 - KMS_TICKET_ISSUE_SKEW, t, n, KMS_TICKET_KUE, &out));
    expect_err(kms_ticket_open(f->kr, T0 - KMS_TICKET_ISSUE_SKEW - 1, t, n, KMS_TICKET_KUE, &out),
               KMS_ERR_TICKET_EARLY);

    /* Seal refuses what cannot be valid. */
    struct kms_buf b;
    kms_buf_init_fixed(&b, t, sizeof(t), false);
    kue_claims(&in);
    in.expires = T0;
    expect_err(kms_ticket_seal(f->kr, T0, &in, &b), KMS_ERR_ARG);
    kue_claims(&in);
    in.ks_naf_expires = in.expires - 1; /* Kue must not outlive Ks_NAF */
    expect_err(kms_ticket_seal(f->kr, T0, &in, &b), KMS_ERR_ARG);
    assert_int_equal(kms_buf_len(&b), 0); /* nothing half-written */
    kue_claims(&in);
    in.mode = 1;
    expect_err(kms_ticket_seal(f->kr, T0, &in, &b), KMS_ERR_ARG);
    kue_claims(&in);
    in.kue_len = 8;
    expect_err(kms_ticket_seal(f->kr, T0, &in, &b), KMS_ERR_ARG);
    assert_int_equal(kms_buf_len(&b), 0);
}

/* ---- the payload codec on hand-made inputs ---- */

static size_t add(uint8_t *p, size_t off, uint8_t type, const void *v, size_t n)
{
    p[off] = type;
    p[off + 1] = (uint8_t)(n >> 8);
    p[off + 2] = (uint8_t)n;
    memcpy(p + off + 3, v, n);
    return off + 3 + n;
}

static size_t add_u64(uint8_t *p, size_t off, uint8_t type, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    return add(p, off, type, b, 8);
}

/* A minimal valid media payload, with an optional extra field inserted at position `at`. */
static size_t media_payload(uint8_t *p, int at, uint8_t xtype, const void *xv, size_t xn)
{
    static const uint8_t id[16] = {1};
    static const uint8_t key[16] = {2};
    size_t o = 0;
    int k = 0;
#define X_AT()                                                                                     \
    do {                                                                                           \
        if (at == k++) {                                                                           \
            o = add(p, o, xtype, xv, xn);                                                          \
        }                                                                                          \
    } while (0)
    X_AT();
    o = add_u64(p, o, KMS_TF_ISSUED, 10);
    X_AT();
    o = add_u64(p, o, KMS_TF_EXPIRES, 20);
    X_AT();
    o = add(p, o, KMS_TF_TOKEN_ID, id, 16);
    X_AT();
    o = add(p, o, KMS_TF_TGK, key, 16);
    X_AT();
    o = add(p, o, KMS_TF_INITIATOR, "sip:a@x", 7);
    X_AT();
    o = add(p, o, KMS_TF_RESPONDER, "sip:b@x", 7);
    X_AT();
#undef X_AT
    return o;
}

static void test_payload_rules(void **state)
{
    (void)state;
    uint8_t p[512];
    struct kms_ticket_claims c;
    size_t n = media_payload(p, -1, 0, NULL, 0);
    expect_ok(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c));
    assert_string_equal(c.responder[0].s, "sip:b@x");
    /* A non-critical unknown field is skipped, wherever the order allows it. */
    n = media_payload(p, 6, 0xf0, "xyz", 3);
    expect_ok(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c));
    /* ... a critical unknown one is refused. */
    n = media_payload(p, 6, 0x70, "xyz", 3);
    expect_err(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c), KMS_ERR_TICKET_FIELD);
    /* A field of the other kind is refused. */
    n = media_payload(p, 6, 0x7f & KMS_TF_NAF_ID, "n", 1);
    expect_err(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c), KMS_ERR_TICKET_FIELD);
    /* Out of order. */
    n = media_payload(p, 0, KMS_TF_MPK, "0123456789abcdef", 16);
    expect_err(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c), KMS_ERR_TICKET_FIELD);
    /* A repeated singleton. */
    n = media_payload(p, 4, KMS_TF_TGK, "0123456789abcdef", 16);
    expect_err(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c), KMS_ERR_TICKET_FIELD);
    /* A repeated responder is fine. */
    n = media_payload(p, 6, KMS_TF_RESPONDER, "sip:c@x", 7);
    expect_ok(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c));
    assert_int_equal(c.n_responder, 2);
    /* Identities: printable ASCII without spaces. */
    n = media_payload(p, 6, KMS_TF_RESPONDER, "sip:c @x", 8);
    expect_err(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c), KMS_ERR_TICKET_FIELD);
    n = media_payload(p, 6, KMS_TF_RESPONDER, "sip:\x01@x", 7);
    expect_err(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c), KMS_ERR_TICKET_FIELD);
    /* Every forbidden byte value, at every position of identities of 1 to 20 bytes (the check
     * runs eight bytes at a time, then byte by byte). */
    for (size_t len = 1; len <= 20; len++) {
        char id[32];
        memset(id, 'a', len);
        n = media_payload(p, 6, KMS_TF_RESPONDER, id, len);
        expect_ok(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c));
        for (size_t at = 0; at < len; at++) {
            for (unsigned v = 0; v < 256; v++) {
                if (v > 0x20 && v < 0x7f) {
                    continue;
                }
                id[at] = (char)v;
                n = media_payload(p, 6, KMS_TF_RESPONDER, id, len);
                kms_result r = kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c);
                if (r.err != KMS_ERR_TICKET_FIELD) {
                    fail_msg("byte %02x at %zu of %zu accepted", v, at, len);
                }
            }
            id[at] = 'a';
        }
        id[len - 1] = '~'; /* the extremes of the allowed range pass */
        id[0] = '!';
        n = media_payload(p, 6, KMS_TF_RESPONDER, id, len);
        expect_ok(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c));
    }
    /* Bad lengths: a key too short, a time of 7 bytes. */
    n = media_payload(p, 4, KMS_TF_MPK, "short", 5);
    expect_err(kms_ticket_payload_decode(p, n, KMS_TICKET_MEDIA, &c), KMS_ERR_TICKET_FIELD);
    /* Every truncation of a valid payload is refused. */
    n = media_payload(p, -1, 0, NULL, 0);
    for (size_t len = 0; len < n; len++) {
        expect_err(kms_ticket_payload_decode(p, len, KMS_TICKET_MEDIA, &c), KMS_ERR_TICKET_FIELD);
    }
    /* Nine responders: one too many. */
    size_t o = media_payload(p, -1, 0, NULL, 0);
    for (int i = 0; i < 8; i++) {
        o = add(p, o, KMS_TF_RESPONDER, "sip:z@x", 7);
    }
    expect_err(kms_ticket_payload_decode(p, o, KMS_TICKET_MEDIA, &c), KMS_ERR_TICKET_FIELD);
    /* Times must make sense: expires after issued. */
    o = 0;
    o = add_u64(p, o, KMS_TF_ISSUED, 20);
    o = add_u64(p, o, KMS_TF_EXPIRES, 20);
    o = add(p, o, KMS_TF_TOKEN_ID, "0123456789abcdef", 16);
    o = add(p, o, KMS_TF_TGK, "0123456789abcdef", 16);
    o = add(p, o, KMS_TF_INITIATOR, "a", 1);
    o = add(p, o, KMS_TF_RESPONDER, "b", 1);
    expect_err(kms_ticket_payload_decode(p, o, KMS_TICKET_MEDIA, &c), KMS_ERR_TICKET_FIELD);
}

/* Field 0x07 (COUNTER_BASE, removed with the COUNTER replay mode) is no longer written, and a
 * payload carrying it is refused like any unknown critical field; marked non-critical it is
 * skipped like one. */
static void test_former_counter_base_is_refused(void **state)
{
    (void)state;
    struct kms_ticket_claims in, out;
    uint8_t p[KMS_TICKET_MAX], q[KMS_TICKET_MAX];
    struct kms_buf b;
    kue_claims(&in);
    kms_buf_init_fixed(&b, p, sizeof(p), false);
    expect_ok(kms_ticket_payload_encode(&in, &b));
    size_t n = kms_buf_len(&b);
    expect_ok(kms_ticket_payload_decode(p, n, KMS_TICKET_KUE, &out));
    /* Walk the fields: no 0x07, and find where one would go (before the first type above it). */
    size_t at = n;
    for (size_t o = 0; o < n; o += 3 + (((size_t)p[o + 1] << 8) | p[o + 2])) {
        assert_true(o + 3 <= n);
        assert_int_not_equal(p[o], 0x07);
        if (at == n && p[o] > 0x07) {
            at = o;
        }
    }
    assert_int_equal(p[at], KMS_TF_MODE);
    memcpy(q, p, at);
    size_t m = add_u64(q, at, 0x07, 77);
    memcpy(q + m, p + at, n - at);
    m += n - at;
    expect_err(kms_ticket_payload_decode(q, m, KMS_TICKET_KUE, &out), KMS_ERR_TICKET_FIELD);
    assert_int_equal(out.kue_len, 0);
    /* The same value as a non-critical field (last: types ascend) is skipped. */
    memcpy(q, p, n);
    m = add_u64(q, n, 0x80 | 0x07, 77);
    expect_ok(kms_ticket_payload_decode(q, m, KMS_TICKET_KUE, &out));
    claims_equal(&in, &out);
}

static void test_ident_set(void **state)
{
    (void)state;
    struct kms_ticket_ident id;
    expect_ok(kms_ticket_ident_set(&id, "sip:a@b"));
    assert_int_equal(id.len, 7);
    expect_err(kms_ticket_ident_set(&id, ""), KMS_ERR_BAD_LENGTH);
    expect_err(kms_ticket_ident_set(&id, "a b"), KMS_ERR_NOT_ASCII);
    expect_err(kms_ticket_ident_set(&id, "caf\xc3\xa9"), KMS_ERR_NOT_ASCII);
    char big[300];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_err(kms_ticket_ident_set(&id, big), KMS_ERR_BAD_LENGTH);
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

/* kms_ticket_claims_wipe_used leaves claims that were zero before they were filled zero again:
 * filled by the caller (kms_ticket_ident_set and plain writes), and by the decoder. */
static void test_wipe_used_leaves_zero(void **state)
{
    (void)state;
    void (*fill[2])(struct kms_ticket_claims *) = {kue_claims, media_claims};
    const enum kms_ticket_kind kinds[2] = {KMS_TICKET_KUE, KMS_TICKET_MEDIA};
    struct kms_ticket_claims *c = calloc(1, sizeof(*c));
    struct kms_ticket_claims *d = calloc(1, sizeof(*d));
    assert_non_null(c);
    assert_non_null(d);
    for (size_t k = 0; k < 2; k++) {
        fill[k](c);
        c->issued = T0;
        struct kms_buf b;
        kms_buf_init(&b, KMS_TICKET_MAX, true);
        expect_ok(kms_ticket_payload_encode(c, &b));
        expect_ok(kms_ticket_payload_decode(kms_buf_data(&b), kms_buf_len(&b), kinds[k], d));
        kms_buf_cleanup(&b);
        assert_false(all_zero(c, sizeof(*c)));
        assert_false(all_zero(d, sizeof(*d)));
        kms_ticket_claims_wipe_used(c);
        kms_ticket_claims_wipe_used(d);
        assert_true(all_zero(c, sizeof(*c)));
        assert_true(all_zero(d, sizeof(*d)));
    }
    free(c);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_and_extension, setup, teardown),
        cmocka_unit_test_setup_teardown(test_times, setup, teardown),
        cmocka_unit_test(test_payload_rules),
        cmocka_unit_test(test_former_counter_base_is_refused),
        cmocka_unit_test(test_ident_set),
        cmocka_unit_test(test_wipe_used_leaves_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
