/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"
#include "mikey_samples.h"

#include <stdlib.h>
#include <string.h>

#include "mikey/kms_mikey.h"
#include "util/kms_codec.h"

static struct kms_bytes B(const void *p, size_t n) {
    return (struct kms_bytes){(const uint8_t *)p, n};
}

static struct kms_mikey_payload *
add(struct kms_mikey_plist *l, uint8_t type)
{
    assert_true(l->n < KMS_MIKEY_MAX_PAYLOADS);
    struct kms_mikey_payload *pl = &l->pl[l->n++];
    memset(pl, 0, sizeof(*pl));
    pl->type = type;
    return pl;
}

static void every_payload_round_trips(void **state)
{
    (void)state;
    struct kms_mikey_msg *m = malloc(sizeof(*m)), *d = malloc(sizeof(*d));
    struct kms_buf a, b;
    size_t eo;
    kms_buf_init(&a, 1 << 16, false);
    kms_buf_init(&b, 1 << 16, false);
    expect_ok(kms_sample_everything(m, &a));
    expect_ok(kms_mikey_decode(kms_buf_data(&a), kms_buf_len(&a), d, &eo));
    assert_int_equal(d->body.n, m->body.n);
    for (size_t i = 0; i < d->body.n; i++) {
        assert_int_equal(d->body.pl[i].type, m->body.pl[i].type);
        assert_int_equal(d->body.pl[i].off, m->body.pl[i].off);
        assert_int_equal(d->body.pl[i].len, m->body.pl[i].len);
    }
    assert_int_equal(d->hdr.csb_id, 0x01020304);
    assert_true(d->hdr.v);
    assert_int_equal(d->hdr.cs[0].spi.len, 4);
    assert_true(d->hdr.cs[0].s);
    assert_false(d->hdr.cs[1].s);
    const struct kms_mikey_payload *t = kms_mikey_find(&d->body, KMS_MIKEY_PT_TICKET, NULL);
    assert_non_null(t);
    assert_int_equal(t->u.ticket.type, 0xf001);
    assert_int_equal(t->u.ticket.flags, KMS_MIKEY_TF_D | KMS_MIKEY_TF_E | KMS_MIKEY_TF_I |
                                            KMS_MIKEY_TF_K | KMS_MIKEY_TF_O);
    assert_int_equal(t->u.ticket.reserved, 5);
    assert_int_equal(t->u.ticket.ticket_data.len, 48);
    /* the TP data chain decodes into its six payloads */
    struct kms_mikey_plist tp;
    struct kms_cur c;
    kms_cur_init(&c, t->u.ticket.tp_data.p, t->u.ticket.tp_data.len);
    expect_ok(kms_mikey_chain_decode(&c, &tp, &eo));
    assert_int_equal(tp.n, 6);
    assert_int_equal(tp.pl[2].u.tr.value, 0xe9b1c0deu);
    assert_int_equal(tp.pl[5].u.id.role, 2);
    /* re-encoding the decoded message gives the same bytes */
    expect_ok(kms_mikey_encode(d, &b));
    assert_int_equal(kms_buf_len(&a), kms_buf_len(&b));
    expect_bytes_eq(kms_buf_data(&a), kms_buf_data(&b), kms_buf_len(&a));
    kms_buf_cleanup(&a);
    kms_buf_cleanup(&b);
    free(m);
    free(d);
}

/* Every proper prefix is truncated; one extra byte is trailing; the offsets stay in range. */
static void prefixes_truncated_and_trailing_refused(void **state)
{
    (void)state;
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    struct kms_buf a;
    size_t eo;
    kms_buf_init(&a, 1 << 16, false);
    expect_ok(kms_sample_everything(m, &a));
    size_t n = kms_buf_len(&a);
    uint8_t *copy = malloc(n + 1);
    memcpy(copy, kms_buf_data(&a), n);
    for (size_t len = 0; len < n; len++) {
        /* an exact-size heap copy, so that ASan sees any read past the prefix */
        uint8_t *p = malloc(len > 0 ? len : 1);
        memcpy(p, copy, len);
        kms_result r = kms_mikey_decode(p, len, m, &eo);
        if (r.err != KMS_ERR_TRUNCATED) {
            fail_msg("prefix of %zu/%zu bytes: %s", len, n, kms_err_name(r.err));
        }
        assert_true(eo <= len);
        free(p);
    }
    copy[n] = 0;
    expect_err(kms_mikey_decode(copy, n + 1, m, &eo), KMS_ERR_TRAILING);
    assert_int_equal(eo, n);
    free(copy);
    kms_buf_cleanup(&a);
    free(m);
}

static void foreign_message_decodes(void **state)
{
    (void)state;
    struct tv_file f;
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    uint8_t raw[512], want[64];
    size_t n, eo;
    tv_load("mikey_foreign.txt", &f);
    const struct tv_block *b = tv_find(&f, "rtsp psk i_message null encr");
    const char *b64 = tv_get(b, "b64");
    expect_ok(kms_base64_decode(b64, strlen(b64), raw, sizeof(raw), &n));
    expect_ok(kms_mikey_decode(raw, n, m, &eo));
    assert_int_equal(m->hdr.data_type, KMS_MIKEY_DT_PSK_INIT);
    assert_int_equal(m->hdr.csb_id, 0x496ae122);
    assert_int_equal(m->hdr.map_type, KMS_MIKEY_MAP_SRTP_ID);
    assert_int_equal(m->hdr.n_cs, 1);
    assert_int_equal(m->hdr.cs[0].ssrc, 0x3acc2ceb);
    assert_int_equal(m->body.n, 4);
    assert_int_equal(m->body.pl[0].type, KMS_MIKEY_PT_T);
    assert_int_equal(m->body.pl[0].u.t.value, 0xedde661d5532a9cbULL);
    tv_hex(b, "rand", want, 16);
    assert_int_equal(m->body.pl[1].u.rand.rand.len, 16);
    expect_bytes_eq(m->body.pl[1].u.rand.rand.p, want, 16);
    assert_int_equal(m->body.pl[2].type, KMS_MIKEY_PT_SP);
    assert_int_equal(m->body.pl[2].u.sp.params.len, 30);
    const struct kms_mikey_kemac *k = &m->body.pl[3].u.kemac;
    assert_int_equal(k->encr_alg, 0);
    assert_int_equal(k->mac_alg, 0);
    struct kms_mikey_keydata_list kl;
    expect_ok(kms_mikey_keydata_decode(k->encr_data.p, k->encr_data.len, &kl, &eo));
    assert_int_equal(kl.n, 1);
    assert_int_equal(kl.kd[0].type, KMS_MIKEY_KD_TEK);
    assert_int_equal(kl.kd[0].kv, KMS_MIKEY_KV_SPI);
    tv_hex(b, "tek", want, 30);
    expect_bytes_eq(kl.kd[0].key.p, want, 30);
    tv_hex(b, "spi", want, 4);
    expect_bytes_eq(kl.kd[0].kv_a.p, want, 4);
    /* and it re-encodes to the same bytes */
    struct kms_buf out;
    kms_buf_init(&out, 4096, false);
    expect_ok(kms_mikey_encode(m, &out));
    assert_int_equal(kms_buf_len(&out), n);
    expect_bytes_eq(kms_buf_data(&out), raw, n);
    kms_buf_cleanup(&out);
    kms_buf_init(&out, 4096, false);
    expect_ok(kms_mikey_keydata_encode(&kl, &out));
    assert_int_equal(kms_buf_len(&out), k->encr_data.len);
    expect_bytes_eq(kms_buf_data(&out), k->encr_data.p, k->encr_data.len);
    kms_buf_cleanup(&out);
    /* NULL-encrypted key data is checked by the decoder: key type 7 at offset 87 */
    assert_int_equal(raw[87], 0x21);
    raw[87] = 0x71;
    expect_err(kms_mikey_decode(raw, n, m, &eo), KMS_ERR_MALFORMED);
    assert_int_equal(eo, 87);
    tv_free(&f);
    free(m);
}

/* A minimal message: HDR (Empty map) then the given payload bytes. */
static size_t msg_with(uint8_t *out, uint8_t first, const uint8_t *body, size_t n)
{
    const uint8_t hdr[] = {0x01, 0x0b, first, 0x01, 0xca, 0xfe, 0xba, 0xbe, 0x00, 0x01};
    memcpy(out, hdr, sizeof(hdr));
    memcpy(out + sizeof(hdr), body, n);
    return sizeof(hdr) + n;
}

static void header_fields_are_checked(void **state)
{
    (void)state;
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    uint8_t msg[64];
    size_t n, eo;
    const uint8_t rand[] = {0x00, 0x01, 0xaa};
    n = msg_with(msg, KMS_MIKEY_PT_RAND, rand, sizeof(rand));
    expect_ok(kms_mikey_decode(msg, n, m, &eo));
    struct {
        size_t off;
        uint8_t val;
        enum kms_err err;
    } cases[] = {
        {0, 0x02, KMS_ERR_MALFORMED}, /* version 2 */
        {1, 0x13, KMS_ERR_MALFORMED}, /* data type 19 */
        {2, 0x63, KMS_ERR_MALFORMED}, /* first payload type 99 */
        {2, 0x14, KMS_ERR_MALFORMED}, /* key data outside KEMAC */
        {3, 0x05, KMS_ERR_MALFORMED}, /* PRF 5 */
        {8, 0x21, KMS_ERR_TOO_LONG},  /* #CS 33 */
        {9, 0x03, KMS_ERR_MALFORMED}, /* map type 3 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t save = msg[cases[i].off];
        msg[cases[i].off] = cases[i].val;
        kms_result r = kms_mikey_decode(msg, n, m, &eo);
        if (r.err != cases[i].err) {
            fail_msg("octet %zu = %02x: %s", cases[i].off, cases[i].val, kms_err_name(r.err));
        }
        /* the offset names the bad field (the first payload for a bad type) */
        assert_int_equal(eo, cases[i].off == 2 ? 10 : cases[i].off);
        msg[cases[i].off] = save;
    }
    free(m);
}

/* Lengths 0, max and max + 1 of the 8- and 16-bit length fields. */
static void length_fields_zero_max_and_over(void **state)
{
    (void)state;
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    static uint8_t msg[16 + 5 + 0xffff + 1], body[5 + 0xffff + 1];
    size_t n, eo;
    /* RAND: 0 refused, 255 accepted, 255 announced with 254 present truncated */
    body[0] = 0;
    body[1] = 0;
    n = msg_with(msg, KMS_MIKEY_PT_RAND, body, 2);
    expect_err(kms_mikey_decode(msg, n, m, &eo), KMS_ERR_MALFORMED);
    assert_int_equal(eo, 11);
    body[1] = 0xff;
    n = msg_with(msg, KMS_MIKEY_PT_RAND, body, 2 + 255);
    expect_ok(kms_mikey_decode(msg, n, m, &eo));
    assert_int_equal(m->body.pl[0].u.rand.rand.len, 255);
    expect_err(kms_mikey_decode(msg, n - 1, m, &eo), KMS_ERR_TRUNCATED);
    expect_err(kms_mikey_decode(msg, n + 1, m, &eo), KMS_ERR_TRAILING);
    /* IDR data: 0 and 0xffff accepted, one byte short truncated */
    memset(body, 0, sizeof(body));
    body[1] = 1;
    body[2] = 1;
    n = msg_with(msg, KMS_MIKEY_PT_IDR, body, 5);
    expect_ok(kms_mikey_decode(msg, n, m, &eo));
    assert_int_equal(m->body.pl[0].u.id.data.len, 0);
    body[3] = 0xff;
    body[4] = 0xff;
    n = msg_with(msg, KMS_MIKEY_PT_IDR, body, 5 + 0xffff);
    expect_ok(kms_mikey_decode(msg, n, m, &eo));
    assert_int_equal(m->body.pl[0].u.id.data.len, 0xffff);
    expect_err(kms_mikey_decode(msg, n - 1, m, &eo), KMS_ERR_TRUNCATED);
    assert_int_equal(eo, 13); /* the ID len field */
    /* the encoder refuses what does not fit its field */
    struct kms_mikey_msg *e = calloc(1, sizeof(*e));
    struct kms_buf out;
    e->hdr.version = 1;
    e->hdr.data_type = KMS_MIKEY_DT_REQUEST_INIT_PSK;
    e->hdr.map_type = KMS_MIKEY_MAP_EMPTY;
    add(&e->body, KMS_MIKEY_PT_IDR)->u.id = (struct kms_mikey_id){1, 1, B(body, 0x10000)};
    kms_buf_init(&out, 1 << 20, false);
    expect_err(kms_mikey_encode(e, &out), KMS_ERR_ARG);
    e->body.n = 0;
    add(&e->body, KMS_MIKEY_PT_RAND)->u.rand.rand = B(body, 256);
    expect_err(kms_mikey_encode(e, &out), KMS_ERR_ARG);
    kms_buf_cleanup(&out);
    free(e);
    free(m);
}

static void payload_count_is_capped(void **state)
{
    (void)state;
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    uint8_t msg[16 + 33 * 3], body[33 * 3];
    size_t n, eo;
    for (size_t k = 32; k <= 33; k++) {
        for (size_t i = 0; i < k; i++) {
            body[3 * i] = i + 1 < k ? KMS_MIKEY_PT_RAND : 0;
            body[3 * i + 1] = 1;
            body[3 * i + 2] = (uint8_t)i;
        }
        n = msg_with(msg, KMS_MIKEY_PT_RAND, body, 3 * k);
        kms_result r = kms_mikey_decode(msg, n, m, &eo);
        assert_int_equal(r.err, k == 32 ? KMS_OK : KMS_ERR_TOO_LONG);
    }
    free(m);
}

static void enumerations_that_fix_lengths_must_be_known(void **state)
{
    (void)state;
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    uint8_t msg[128];
    size_t n, eo;
    struct {
        uint8_t type;
        uint8_t body[8];
        size_t len;
        size_t bad_off; /* offset in the message of the field that is refused */
    } cases[] = {
        {KMS_MIKEY_PT_T, {0, 4, 0, 0, 0, 0, 0, 0}, 8, 11},  /* TS type 4 */
        {KMS_MIKEY_PT_V, {0, 3}, 2, 11},                    /* MAC alg 3 */
        {KMS_MIKEY_PT_KEMAC, {0, 4, 0, 0, 0}, 5, 11},       /* encr alg 4 */
        {KMS_MIKEY_PT_KEMAC, {0, 1, 0, 0, 7}, 5, 14},       /* MAC alg 7 */
        {KMS_MIKEY_PT_CHASH, {0, 3}, 2, 11},                /* hash func 3 */
        {KMS_MIKEY_PT_DH, {0, 9}, 2, 11},                   /* DH group 9 */
        {KMS_MIKEY_PT_TR, {0, 1, 9, 0, 0, 0, 0}, 7, 12},    /* TS type 9 */
        {KMS_MIKEY_PT_RANDR, {0, 1, 0}, 3, 12},             /* RAND len 0 */
        {KMS_MIKEY_PT_SP, {0, 0, 0, 0, 3, 1, 5, 0}, 8, 16}, /* param length past its block */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = msg_with(msg, cases[i].type, cases[i].body, cases[i].len);
        kms_result r = kms_mikey_decode(msg, n, m, &eo);
        if (kms_ok(r) || eo != cases[i].bad_off) {
            fail_msg("case %zu (%s): %s at %zu, expected offset %zu", i,
                     kms_mikey_pt_name(cases[i].type), kms_err_name(r.err), eo, cases[i].bad_off);
        }
    }
    free(m);
}

static void nested_chains_are_restricted(void **state)
{
    (void)state;
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    uint8_t msg[128];
    size_t n, eo;
    /* TP whose TP data holds a TP */
    const uint8_t tp_in_tp[] = {0x00, 0xf0, 0x00, 1, 1, 2, 0, 0, 0x00, 0x0b, KMS_MIKEY_PT_TP,
                                0x00, 0xf0, 0x00, 1, 1, 2, 0, 0, 0x00, 0x00};
    n = msg_with(msg, KMS_MIKEY_PT_TP, tp_in_tp, sizeof(tp_in_tp));
    expect_err(kms_mikey_decode(msg, n, m, &eo), KMS_ERR_MALFORMED);
    assert_int_equal(eo, 21);
    /* TICKET whose initiator data holds a RAND instead of V payloads */
    const uint8_t bad_init[] = {
        0x00, 0xf0, 0x00, 1, 1, 2, 0, 0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, KMS_MIKEY_PT_RAND,
        0x00, 0x01, 0x55};
    n = msg_with(msg, KMS_MIKEY_PT_TICKET, bad_init, sizeof(bad_init));
    expect_err(kms_mikey_decode(msg, n, m, &eo), KMS_ERR_MALFORMED);
    /* TP data with a byte after its chain */
    const uint8_t trailing[] = {0x00, 0xf0, 0x00, 1,   1, 2, 0, 0, 0x00, 0x05, KMS_MIKEY_PT_RAND,
                                0x00, 0x01, 0x55, 0x99};
    n = msg_with(msg, KMS_MIKEY_PT_TP, trailing, sizeof(trailing));
    expect_err(kms_mikey_decode(msg, n, m, &eo), KMS_ERR_TRAILING);
    assert_int_equal(eo, 24);
    free(m);
}

static void sign_is_last(void **state)
{
    (void)state;
    struct kms_mikey_msg *m = malloc(sizeof(*m));
    uint8_t msg[64];
    size_t n, eo;
    const uint8_t sign[] = {0x10, 0x02, 0xab, 0xcd};
    n = msg_with(msg, KMS_MIKEY_PT_SIGN, sign, sizeof(sign));
    expect_ok(kms_mikey_decode(msg, n, m, &eo));
    assert_int_equal(m->body.pl[0].u.sign.s_type, 1);
    assert_int_equal(m->body.pl[0].u.sign.sig.len, 2);
    const uint8_t after[] = {0x10, 0x02, 0xab, 0xcd, 0x00};
    n = msg_with(msg, KMS_MIKEY_PT_SIGN, after, sizeof(after));
    expect_err(kms_mikey_decode(msg, n, m, &eo), KMS_ERR_TRAILING);
    /* the encoder refuses a SIGN that is not last */
    struct kms_mikey_msg *e = calloc(1, sizeof(*e));
    struct kms_buf out;
    e->hdr.version = 1;
    add(&e->body, KMS_MIKEY_PT_SIGN)->u.sign.sig = B(sign, 2);
    add(&e->body, KMS_MIKEY_PT_RAND)->u.rand.rand = B(sign, 2);
    kms_buf_init(&out, 1024, false);
    expect_err(kms_mikey_encode(e, &out), KMS_ERR_ARG);
    kms_buf_cleanup(&out);
    free(e);
    free(m);
}

static void keydata_is_strict(void **state)
{
    (void)state;
    struct kms_mikey_keydata_list l;
    size_t eo;
    /* MPK (type 6), then TGK+SALT with KV interval */
    const uint8_t ok[] = {0x14, 0x60, 0x00, 0x02, 0xaa, 0xbb, 0x00, 0x12, 0x00, 0x01,
                          0x11, 0x00, 0x02, 0x22, 0x33, 0x01, 0x44, 0x02, 0x55, 0x66};
    expect_ok(kms_mikey_keydata_decode(ok, sizeof(ok), &l, &eo));
    assert_int_equal(l.n, 2);
    assert_int_equal(l.kd[0].type, KMS_MIKEY_KD_MPK);
    assert_int_equal(l.kd[1].type, KMS_MIKEY_KD_TGK_SALT);
    assert_int_equal(l.kd[1].salt.len, 2);
    assert_int_equal(l.kd[1].kv_b.len, 2);
    for (size_t len = 0; len < sizeof(ok); len++) {
        expect_err(kms_mikey_keydata_decode(ok, len, &l, &eo), KMS_ERR_TRUNCATED);
    }
    uint8_t bad[sizeof(ok) + 1];
    memcpy(bad, ok, sizeof(ok));
    bad[sizeof(ok)] = 0;
    expect_err(kms_mikey_keydata_decode(bad, sizeof(ok) + 1, &l, &eo), KMS_ERR_TRAILING);
    memcpy(bad, ok, sizeof(ok));
    bad[0] = 0x05; /* next is neither 20 nor 0 */
    expect_err(kms_mikey_keydata_decode(bad, sizeof(ok), &l, &eo), KMS_ERR_MALFORMED);
    memcpy(bad, ok, sizeof(ok));
    bad[1] = 0x70; /* key type 7 */
    expect_err(kms_mikey_keydata_decode(bad, sizeof(ok), &l, &eo), KMS_ERR_MALFORMED);
    assert_int_equal(eo, 1);
    memcpy(bad, ok, sizeof(ok));
    bad[7] = 0x13; /* KV 3 */
    expect_err(kms_mikey_keydata_decode(bad, sizeof(ok), &l, &eo), KMS_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_payload_round_trips),
        cmocka_unit_test(prefixes_truncated_and_trailing_refused),
        cmocka_unit_test(foreign_message_decodes),
        cmocka_unit_test(header_fields_are_checked),
        cmocka_unit_test(length_fields_zero_max_and_over),
        cmocka_unit_test(payload_count_is_capped),
        cmocka_unit_test(enumerations_that_fix_lengths_must_be_known),
        cmocka_unit_test(nested_chains_are_restricted),
        cmocka_unit_test(sign_is_last),
        cmocka_unit_test(keydata_is_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
