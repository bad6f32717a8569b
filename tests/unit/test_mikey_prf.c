/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MIKEY PRF, key derivations, AES-CM and MACs. Expected values come from two files:
 * mikey_prf.txt (Streamwide's published PRF-HMAC-SHA-256 values) and mikey_prf_model.txt
 * (computed by the independent model tests/vectors/mk_mikey_prf.py, re-checked by a CTest).
 */
#include "testlib.h"

#include <string.h>

#include "mikey/kms_mikey_prf.h"

static enum kms_mikey_prf_alg prf_of(const struct tv_block *b)
{
    const char *p = tv_get(b, "prf");
    if (strcmp(p, "hmac-sha1") == 0) {
        return KMS_MIKEY_PRF_MIKEY1;
    }
    if (strcmp(p, "hmac-sha256") == 0) {
        return KMS_MIKEY_PRF_HMAC_SHA256;
    }
    fail_msg("vector [%s]: unknown prf '%s'", b->name, p);
    return KMS_MIKEY_PRF_MIKEY1;
}

static uint32_t u32_of(const struct tv_block *b, const char *key)
{
    uint8_t v[4];
    tv_hex(b, key, v, 4);
    return (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
}

static uint8_t u8_of(const struct tv_block *b, const char *key)
{
    uint8_t v;
    tv_hex(b, key, &v, 1);
    return v;
}

/* A one-digit algorithm number. */
static unsigned digit_of(const struct tv_block *b, const char *key)
{
    const char *v = tv_get(b, key);
    if (v[0] < '0' || v[0] > '9' || v[1] != '\0') {
        fail_msg("vector [%s] '%s': not one digit", b->name, key);
    }
    return (unsigned)(v[0] - '0');
}

static void expect_label(const struct kms_mikey_label *l, const struct tv_block *b, const char *key)
{
    uint8_t want[KMS_MIKEY_LABEL_MAX];
    size_t n = tv_hex_any(b, key, want, sizeof(want));
    assert_int_equal(l->len, n);
    expect_bytes_eq(l->b, want, n);
}

/* Streamwide sw_mikey_sakke unit tests: PRF-HMAC-SHA-256 with RFC 3830 4.1.3 TGK labels. */
static void streamwide_tgk_vectors(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("mikey_prf.txt", &f);
    assert_int_equal(f.n, 3);
    for (size_t i = 0; i < f.n; i++) {
        const struct tv_block *b = &f.blocks[i];
        uint8_t inkey[16], rand[16], want[32], salt[32], out[32];
        struct kms_mikey_label l;
        size_t inkey_len = tv_hex_any(b, "inkey", inkey, sizeof(inkey));
        size_t rand_len = tv_hex_any(b, "rand", rand, sizeof(rand));
        uint8_t cs = u8_of(b, "cs_id");
        uint32_t csb = u32_of(b, "csb_id");
        bool tek = strstr(b->name, "tek") != NULL;
        size_t want_len = tv_hex_any(b, tek ? "tek" : "encr_key", want, sizeof(want));
        size_t salt_len = tv_hex_any(b, "salt", salt, sizeof(salt));
        expect_ok(kms_mikey_label_tgk(tek ? KMS_MIKEY_C_TGK_TEK : KMS_MIKEY_C_TGK_ENCR, cs, csb,
                                      rand, rand_len, &l));
        expect_ok(kms_mikey_derive(prf_of(b), inkey, inkey_len, &l, out, want_len));
        expect_bytes_eq(out, want, want_len);
        expect_ok(kms_mikey_label_tgk(KMS_MIKEY_C_TGK_SALT, cs, csb, rand, rand_len, &l));
        expect_ok(kms_mikey_derive(prf_of(b), inkey, inkey_len, &l, out, salt_len));
        expect_bytes_eq(out, salt, salt_len);
    }
    tv_free(&f);
}

/* The PRF alone: one, two and a short chunk of inkey; outputs shorter and longer than a block. */
static void prf_model_vectors(void **state)
{
    (void)state;
    struct tv_file f;
    size_t seen = 0;
    tv_load("mikey_prf_model.txt", &f);
    for (size_t i = 0; i < f.n; i++) {
        const struct tv_block *b = &f.blocks[i];
        if (strncmp(b->name, "prf ", 4) != 0) {
            continue;
        }
        uint8_t inkey[64], label[64], want[64], out[64];
        size_t kl = tv_hex_any(b, "inkey", inkey, sizeof(inkey));
        size_t ll = tv_hex_any(b, "label", label, sizeof(label));
        size_t ol = tv_hex_any(b, "out", want, sizeof(want));
        expect_ok(kms_mikey_prf(prf_of(b), inkey, kl, label, ll, out, ol));
        expect_bytes_eq(out, want, ol);
        seen++;
    }
    assert_int_equal(seen, 18);
    tv_free(&f);
}

/* The 40-octet inkey is two chunks: its output is the XOR of the PRF of each chunk alone. */
static void prf_xors_the_chunks(void **state)
{
    (void)state;
    uint8_t key[40], label[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, whole[40], c1[40], c2[40];
    for (size_t i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t)(0x80 + i);
    }
    enum kms_mikey_prf_alg algs[] = {KMS_MIKEY_PRF_MIKEY1, KMS_MIKEY_PRF_HMAC_SHA256};
    for (size_t a = 0; a < 2; a++) {
        expect_ok(kms_mikey_prf(algs[a], key, 40, label, sizeof(label), whole, 40));
        expect_ok(kms_mikey_prf(algs[a], key, 32, label, sizeof(label), c1, 40));
        expect_ok(kms_mikey_prf(algs[a], key + 32, 8, label, sizeof(label), c2, 40));
        for (size_t i = 0; i < 40; i++) {
            assert_int_equal(whole[i], c1[i] ^ c2[i]);
        }
        /* a shorter output is a prefix of a longer one */
        expect_ok(kms_mikey_prf(algs[a], key, 40, label, sizeof(label), c1, 7));
        expect_bytes_eq(c1, whole, 7);
    }
}

static void prf_refuses_bad_arguments(void **state)
{
    (void)state;
    uint8_t key[32] = {0}, label[4] = {0};
    static uint8_t out[KMS_MIKEY_PRF_OUT_MAX + 1];
    memset(out, 0xaa, sizeof(out));
    expect_err(kms_mikey_prf((enum kms_mikey_prf_alg)2, key, 32, label, 4, out, 16), KMS_ERR_ARG);
    /* a failed call leaves no output behind */
    for (size_t i = 0; i < 16; i++) {
        assert_int_equal(out[i], 0);
    }
    expect_err(kms_mikey_prf((enum kms_mikey_prf_alg)0x7f, key, 32, label, 4, out, 16),
               KMS_ERR_ARG);
    expect_err(kms_mikey_prf(KMS_MIKEY_PRF_MIKEY1, key, 32, label, 4, out, 0), KMS_ERR_ARG);
    expect_err(
        kms_mikey_prf(KMS_MIKEY_PRF_MIKEY1, key, 32, label, 4, out, KMS_MIKEY_PRF_OUT_MAX + 1),
        KMS_ERR_ARG);
    expect_ok(kms_mikey_prf(KMS_MIKEY_PRF_MIKEY1, key, 32, label, 4, out, KMS_MIKEY_PRF_OUT_MAX));
    expect_ok(
        kms_mikey_prf(KMS_MIKEY_PRF_HMAC_SHA256, key, 32, label, 4, out, KMS_MIKEY_PRF_OUT_MAX));
    expect_err(kms_mikey_prf(KMS_MIKEY_PRF_MIKEY1, key, 0, label, 4, out, 16), KMS_ERR_ARG);
    expect_err(kms_mikey_prf(KMS_MIKEY_PRF_MIKEY1, NULL, 32, label, 4, out, 16), KMS_ERR_ARG);
    expect_err(kms_mikey_prf(KMS_MIKEY_PRF_MIKEY1, key, 32, NULL, 4, out, 16), KMS_ERR_ARG);
    expect_err(kms_mikey_prf(KMS_MIKEY_PRF_MIKEY1, key, 32, label, 4, NULL, 16), KMS_ERR_ARG);
    expect_ok(kms_mikey_prf(KMS_MIKEY_PRF_MIKEY1, key, 32, NULL, 0, out, 16));
    expect_err(kms_mikey_derive(KMS_MIKEY_PRF_MIKEY1, key, 32, NULL, out, 16), KMS_ERR_ARG);
}

/* RFC 3830 4.1.4 keys of a PSK message: the example of protocol-facts.md 4.5 (its values and
 * source copied into tests/vectors/protocol_facts.txt [mikey1 psk message keys]). */
static void psk_message_keys(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("mikey_prf_model.txt", &f);
    const struct tv_block *b = tv_find(&f, "rfc3830 psk keys aes-cm-128 hmac-sha1-160");
    uint8_t psk[32], rand[16], encr[16], auth[20], salt[14];
    struct kms_mikey_msg_keys k;
    struct kms_mikey_label l;
    uint32_t csb = u32_of(b, "csb_id");
    tv_hex(b, "psk", psk, 32);
    tv_hex(b, "rand", rand, 16);
    tv_hex(b, "encr_key", encr, 16);
    tv_hex(b, "auth_key", auth, 20);
    tv_hex(b, "salt", salt, 14);
    expect_ok(kms_mikey_label_psk(KMS_MIKEY_C_MSG_ENCR, csb, rand, 16, &l));
    expect_label(&l, b, "encr_label");
    expect_ok(kms_mikey_label_psk(KMS_MIKEY_C_MSG_AUTH, csb, rand, 16, &l));
    expect_label(&l, b, "auth_label");
    expect_ok(kms_mikey_label_psk(KMS_MIKEY_C_MSG_SALT, csb, rand, 16, &l));
    expect_label(&l, b, "salt_label");
    expect_ok(kms_mikey_msg_keys_psk(prf_of(b), psk, 32, csb, rand, 16, KMS_MIKEY_ENCR_AES_CM_128,
                                     KMS_MIKEY_MAC_HMAC_SHA1_160, &k));
    assert_int_equal(k.encr_len, 16);
    assert_int_equal(k.auth_len, 20);
    assert_int_equal(k.salt_len, 14);
    expect_bytes_eq(k.encr, encr, 16);
    expect_bytes_eq(k.auth, auth, 20);
    expect_bytes_eq(k.salt, salt, 14);
    /* NULL algorithms derive nothing */
    expect_ok(kms_mikey_msg_keys_psk(prf_of(b), psk, 32, csb, rand, 16, KMS_MIKEY_ENCR_NULL,
                                     KMS_MIKEY_MAC_HMAC_SHA1_160, &k));
    assert_int_equal(k.encr_len, 0);
    assert_int_equal(k.salt_len, 0);
    expect_bytes_eq(k.auth, auth, 20);
    kms_mikey_msg_keys_cleanup(&k);
    tv_free(&f);
}

static void tgk_keys_mikey1(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("mikey_prf_model.txt", &f);
    const struct tv_block *b = tv_find(&f, "rfc3830 tgk keys mikey1");
    uint8_t tgk[32], rand[16], want[32], out[32];
    struct kms_mikey_label l;
    tv_hex(b, "tgk", tgk, 32);
    tv_hex(b, "rand", rand, 16);
    const struct {
        const char *name, *label;
        uint32_t c;
    } keys[] = {{"tek", "tek_label", KMS_MIKEY_C_TGK_TEK},
                {"auth", "auth_label", KMS_MIKEY_C_TGK_AUTH},
                {"encr", "encr_label", KMS_MIKEY_C_TGK_ENCR},
                {"salt", "salt_label", KMS_MIKEY_C_TGK_SALT}};
    for (size_t i = 0; i < 4; i++) {
        size_t n = tv_hex_any(b, keys[i].name, want, sizeof(want));
        expect_ok(
            kms_mikey_label_tgk(keys[i].c, u8_of(b, "cs_id"), u32_of(b, "csb_id"), rand, 16, &l));
        expect_label(&l, b, keys[i].label);
        expect_ok(kms_mikey_derive(prf_of(b), tgk, 32, &l, out, n));
        expect_bytes_eq(out, want, n);
    }
    tv_free(&f);
}

/* RFC 6043 5.1 message keys; the first block holds the auth_key of protocol-facts.md 5.6
 * (copied with its source into tests/vectors/protocol_facts.txt [rfc6043 initial auth_key]). */
static void ticket_message_keys(void **state)
{
    (void)state;
    struct tv_file f;
    size_t seen = 0;
    tv_load("mikey_prf_model.txt", &f);
    for (size_t i = 0; i < f.n; i++) {
        const struct tv_block *b = &f.blocks[i];
        if (strncmp(b->name, "rfc6043 initial", 15) != 0 &&
            strncmp(b->name, "rfc6043 response", 16) != 0) {
            continue;
        }
        uint8_t inkey[32], ri[32], rr[32], encr[32], auth[32], salt[14];
        struct kms_mikey_msg_keys k;
        struct kms_mikey_label l;
        tv_hex(b, "inkey", inkey, 32);
        struct kms_mikey_rands r = {ri, tv_hex_any(b, "randri", ri, sizeof(ri)), rr,
                                    tv_hex_any(b, "randrr", rr, sizeof(rr))};
        if (r.rr_len == 0) {
            r.rr = NULL; /* an absent RANDRr */
        }
        enum kms_mikey_ticket_dir dir = (enum kms_mikey_ticket_dir)u8_of(b, "msg");
        enum kms_mikey_encr_alg ea = (enum kms_mikey_encr_alg)digit_of(b, "encr_alg");
        enum kms_mikey_mac_alg ma = (enum kms_mikey_mac_alg)digit_of(b, "mac_alg");
        size_t el = tv_hex_any(b, "encr_key", encr, sizeof(encr));
        size_t al = tv_hex_any(b, "auth_key", auth, sizeof(auth));
        tv_hex(b, "salt", salt, 14);
        uint32_t csb = u32_of(b, "csb_id");
        expect_ok(kms_mikey_label_ticket(KMS_MIKEY_C_MSG_ENCR, csb, dir, &r, &l));
        expect_label(&l, b, "encr_label");
        expect_ok(kms_mikey_label_ticket(KMS_MIKEY_C_MSG_AUTH, csb, dir, &r, &l));
        expect_label(&l, b, "auth_label");
        expect_ok(kms_mikey_label_ticket(KMS_MIKEY_C_MSG_SALT, csb, dir, &r, &l));
        expect_label(&l, b, "salt_label");
        expect_ok(kms_mikey_msg_keys_ticket(prf_of(b), inkey, 32, csb, dir, &r, ea, ma, &k));
        assert_int_equal(k.encr_len, el);
        assert_int_equal(k.auth_len, al);
        assert_int_equal(k.salt_len, 14);
        expect_bytes_eq(k.encr, encr, el);
        expect_bytes_eq(k.auth, auth, al);
        expect_bytes_eq(k.salt, salt, 14);
        kms_mikey_msg_keys_cleanup(&k);
        seen++;
    }
    assert_int_equal(seen, 3);
    tv_free(&f);
}

/* The same vectors through a prepared inkey (kms_mikey_msg_keys_ticket_pk): prepared first for
 * another key, then given the vector's key (re-prepared), then reused; cleanup empties it. */
static void ticket_message_keys_prepared(void **state)
{
    (void)state;
    struct tv_file f;
    size_t seen = 0;
    tv_load("mikey_prf_model.txt", &f);
    for (size_t i = 0; i < f.n; i++) {
        const struct tv_block *b = &f.blocks[i];
        if (strncmp(b->name, "rfc6043 initial", 15) != 0 &&
            strncmp(b->name, "rfc6043 response", 16) != 0) {
            continue;
        }
        uint8_t inkey[32], other[32], ri[32], rr[32], encr[32], auth[32], salt[14];
        struct kms_mikey_msg_keys k;
        struct kms_mikey_prf_key pk;
        memset(&pk, 0, sizeof(pk));
        memset(other, 0x5a, sizeof(other));
        tv_hex(b, "inkey", inkey, 32);
        struct kms_mikey_rands r = {ri, tv_hex_any(b, "randri", ri, sizeof(ri)), rr,
                                    tv_hex_any(b, "randrr", rr, sizeof(rr))};
        if (r.rr_len == 0) {
            r.rr = NULL;
        }
        enum kms_mikey_ticket_dir dir = (enum kms_mikey_ticket_dir)u8_of(b, "msg");
        enum kms_mikey_encr_alg ea = (enum kms_mikey_encr_alg)digit_of(b, "encr_alg");
        enum kms_mikey_mac_alg ma = (enum kms_mikey_mac_alg)digit_of(b, "mac_alg");
        size_t el = tv_hex_any(b, "encr_key", encr, sizeof(encr));
        size_t al = tv_hex_any(b, "auth_key", auth, sizeof(auth));
        tv_hex(b, "salt", salt, 14);
        uint32_t csb = u32_of(b, "csb_id");
        expect_ok(
            kms_mikey_msg_keys_ticket_pk(prf_of(b), other, 32, &pk, csb, dir, &r, ea, ma, &k));
        assert_true(pk.ready);
        if (al > 0) {
            assert_memory_not_equal(k.auth, auth, al); /* another key, other keys */
        }
        for (int round = 0; round < 2; round++) {
            expect_ok(
                kms_mikey_msg_keys_ticket_pk(prf_of(b), inkey, 32, &pk, csb, dir, &r, ea, ma, &k));
            assert_int_equal(k.encr_len, el);
            assert_int_equal(k.auth_len, al);
            assert_int_equal(k.salt_len, 14);
            expect_bytes_eq(k.encr, encr, el);
            expect_bytes_eq(k.auth, auth, al);
            expect_bytes_eq(k.salt, salt, 14);
            expect_bytes_eq(pk.key, inkey, 32);
            kms_mikey_msg_keys_cleanup(&k);
        }
        kms_mikey_prf_key_cleanup(&pk);
        assert_false(pk.ready);
        assert_null(pk.s.inner);
        seen++;
    }
    assert_int_equal(seen, 3);
    tv_free(&f);
}

static void ticket_transfer_tgk_keys(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("mikey_prf_model.txt", &f);
    const struct tv_block *b = tv_find(&f, "rfc6043 transfer tgk keys");
    uint8_t tgk[32], ri[32], rr[32], tek[16], salt[14], out[16];
    struct kms_mikey_label l;
    tv_hex(b, "tgk", tgk, 32);
    tv_hex(b, "tek", tek, 16);
    tv_hex(b, "salt", salt, 14);
    struct kms_mikey_rands r = {ri, tv_hex_any(b, "randri", ri, sizeof(ri)), rr,
                                tv_hex_any(b, "randrr", rr, sizeof(rr))};
    expect_ok(kms_mikey_label_ticket_tgk(KMS_MIKEY_C_TGK_TEK, u8_of(b, "cs_id"), &r, &l));
    expect_label(&l, b, "tek_label");
    expect_ok(kms_mikey_derive(prf_of(b), tgk, 32, &l, out, 16));
    expect_bytes_eq(out, tek, 16);
    expect_ok(kms_mikey_label_ticket_tgk(KMS_MIKEY_C_TGK_SALT, u8_of(b, "cs_id"), &r, &l));
    expect_label(&l, b, "salt_label");
    expect_ok(kms_mikey_derive(prf_of(b), tgk, 32, &l, out, 14));
    expect_bytes_eq(out, salt, 14);
    tv_free(&f);
}

static void labels_and_keys_refuse_bad_arguments(void **state)
{
    (void)state;
    uint8_t rand[256] = {0}, key[32] = {0};
    struct kms_mikey_label l;
    struct kms_mikey_msg_keys k;
    struct kms_mikey_rands r = {rand, 16, NULL, 0};
    expect_ok(kms_mikey_label_psk(KMS_MIKEY_C_MSG_ENCR, 1, rand, 255, &l));
    assert_int_equal(l.len, 4 + 1 + 4 + 255);
    expect_err(kms_mikey_label_psk(KMS_MIKEY_C_MSG_ENCR, 1, rand, 256, &l), KMS_ERR_ARG);
    assert_int_equal(l.len, 0);
    expect_err(kms_mikey_label_psk(KMS_MIKEY_C_MSG_ENCR, 1, rand, 0, &l), KMS_ERR_ARG);
    expect_err(kms_mikey_label_tgk(KMS_MIKEY_C_TGK_TEK, 0, 1, NULL, 16, &l), KMS_ERR_ARG);
    expect_err(kms_mikey_label_tgk(KMS_MIKEY_C_TGK_TEK, 0, 1, rand, 16, NULL), KMS_ERR_ARG);
    expect_err(
        kms_mikey_label_ticket(KMS_MIKEY_C_MSG_ENCR, 1, (enum kms_mikey_ticket_dir)3, &r, &l),
        KMS_ERR_ARG);
    expect_err(kms_mikey_label_ticket(KMS_MIKEY_C_MSG_ENCR, 1, KMS_MIKEY_TICKET_INITIAL, NULL, &l),
               KMS_ERR_ARG);
    r.rr_len = 4; /* present length, NULL value */
    expect_err(kms_mikey_label_ticket(KMS_MIKEY_C_MSG_ENCR, 1, KMS_MIKEY_TICKET_INITIAL, &r, &l),
               KMS_ERR_ARG);
    r = (struct kms_mikey_rands){rand, 255, rand, 255};
    expect_ok(kms_mikey_label_ticket(KMS_MIKEY_C_MSG_ENCR, 1, KMS_MIKEY_TICKET_RESPONSE, &r, &l));
    assert_int_equal(l.len, KMS_MIKEY_LABEL_MAX);
    r.ri_len = 256;
    expect_err(kms_mikey_label_ticket_tgk(KMS_MIKEY_C_TGK_TEK, 1, &r, &l), KMS_ERR_ARG);
    /* both RANDs absent is a well-formed label */
    r = (struct kms_mikey_rands){NULL, 0, NULL, 0};
    expect_ok(kms_mikey_label_ticket_tgk(KMS_MIKEY_C_TGK_TEK, 1, &r, &l));
    assert_int_equal(l.len, 4 + 1 + 4 + 1 + 1 + 1);

    /* AES-KW-128, unknown algorithms and a bad PRF: k is left zeroed */
    memset(&k, 0xaa, sizeof(k));
    expect_err(kms_mikey_msg_keys_psk(KMS_MIKEY_PRF_MIKEY1, key, 32, 1, rand, 16,
                                      KMS_MIKEY_ENCR_AES_KW_128, KMS_MIKEY_MAC_HMAC_SHA1_160, &k),
               KMS_ERR_ARG);
    assert_int_equal(k.encr_len + k.auth_len + k.salt_len, 0);
    assert_int_equal(k.encr[0] | k.auth[0] | k.salt[0], 0);
    expect_err(kms_mikey_msg_keys_psk(KMS_MIKEY_PRF_MIKEY1, key, 32, 1, rand, 16,
                                      (enum kms_mikey_encr_alg)4, KMS_MIKEY_MAC_HMAC_SHA1_160, &k),
               KMS_ERR_ARG);
    expect_err(kms_mikey_msg_keys_psk(KMS_MIKEY_PRF_MIKEY1, key, 32, 1, rand, 16,
                                      KMS_MIKEY_ENCR_AES_CM_128, (enum kms_mikey_mac_alg)3, &k),
               KMS_ERR_ARG);
    expect_err(kms_mikey_msg_keys_psk((enum kms_mikey_prf_alg)2, key, 32, 1, rand, 16,
                                      KMS_MIKEY_ENCR_NULL, KMS_MIKEY_MAC_NULL, &k),
               KMS_ERR_ARG);
    expect_err(kms_mikey_msg_keys_psk(KMS_MIKEY_PRF_MIKEY1, key, 0, 1, rand, 16,
                                      KMS_MIKEY_ENCR_NULL, KMS_MIKEY_MAC_NULL, &k),
               KMS_ERR_ARG);
    r = (struct kms_mikey_rands){rand, 16, NULL, 0};
    expect_err(kms_mikey_msg_keys_ticket(
                   KMS_MIKEY_PRF_HMAC_SHA256, key, 32, 1, (enum kms_mikey_ticket_dir)0, &r,
                   KMS_MIKEY_ENCR_AES_CM_128, KMS_MIKEY_MAC_HMAC_SHA256_256, &k),
               KMS_ERR_ARG);
    expect_err(kms_mikey_msg_keys_ticket(KMS_MIKEY_PRF_HMAC_SHA256, key, 32, 1,
                                         KMS_MIKEY_TICKET_INITIAL, &r, KMS_MIKEY_ENCR_AES_CM_128,
                                         KMS_MIKEY_MAC_HMAC_SHA256_256, NULL),
               KMS_ERR_ARG);
}

static void algorithm_numbers(void **state)
{
    (void)state;
    size_t n = 99;
    assert_true(kms_mikey_mac_len(KMS_MIKEY_MAC_NULL, &n) && n == 0);
    assert_true(kms_mikey_mac_len(KMS_MIKEY_MAC_HMAC_SHA1_160, &n) && n == 20);
    assert_true(kms_mikey_mac_len(KMS_MIKEY_MAC_HMAC_SHA256_256, &n) && n == 32);
    n = 99;
    assert_false(kms_mikey_mac_len((enum kms_mikey_mac_alg)3, &n));
    assert_int_equal(n, 0);
    assert_true(kms_mikey_encr_key_len(KMS_MIKEY_ENCR_NULL, &n) && n == 0);
    assert_true(kms_mikey_encr_key_len(KMS_MIKEY_ENCR_AES_CM_128, &n) && n == 16);
    assert_true(kms_mikey_encr_key_len(KMS_MIKEY_ENCR_AES_KW_128, &n) && n == 16);
    assert_true(kms_mikey_encr_key_len(KMS_MIKEY_ENCR_AES_CM_256, &n) && n == 32);
    n = 99;
    assert_false(kms_mikey_encr_key_len((enum kms_mikey_encr_alg)4, &n));
    assert_int_equal(n, 0);
    assert_true(kms_mikey_encr_salt_len(KMS_MIKEY_ENCR_AES_CM_128, &n) && n == 14);
    assert_true(kms_mikey_encr_salt_len(KMS_MIKEY_ENCR_AES_CM_256, &n) && n == 14);
    assert_true(kms_mikey_encr_salt_len(KMS_MIKEY_ENCR_AES_KW_128, &n) && n == 8);
    assert_true(kms_mikey_encr_salt_len(KMS_MIKEY_ENCR_NULL, &n) && n == 0);
    assert_false(kms_mikey_encr_salt_len((enum kms_mikey_encr_alg)0xff, &n));
    /* the wire numbers themselves */
    assert_int_equal(KMS_MIKEY_PRF_MIKEY1, 0);
    assert_int_equal(KMS_MIKEY_PRF_HMAC_SHA256, 1);
    assert_int_equal(KMS_MIKEY_ENCR_AES_CM_256, 3);
    assert_int_equal(KMS_MIKEY_MAC_HMAC_SHA256_256, 2);
}

/* IV = (salt xor (0x0000 || CSB ID || T)) || 0x0000, laid out octet by octet here. */
static void aes_cm_iv_layout(void **state)
{
    (void)state;
    uint8_t salt[14] = {0}, iv[16], want[16];
    kms_mikey_aes_cm_iv(salt, 0x01020304, UINT64_C(0x1112131415161718), iv);
    th_hex("00000102030411121314151617180000", want, 16);
    expect_bytes_eq(iv, want, 16);
    memset(salt, 0xff, sizeof(salt));
    kms_mikey_aes_cm_iv(salt, 0, 0, iv);
    th_hex("ffffffffffffffffffffffffffff0000", want, 16);
    expect_bytes_eq(iv, want, 16);
    /* protocol-facts.md 4.7: the 4.5 example keys with T = e9b1c0de00000000, copied with its
     * source into tests/vectors/protocol_facts.txt */
    struct tv_file f;
    tv_load("protocol_facts.txt", &f);
    const struct tv_block *b = tv_find(&f, "aes-cm iv 4.5 keys");
    uint8_t t[8];
    tv_hex(b, "salt", salt, 14);
    tv_hex(b, "t", t, 8);
    uint64_t tv = 0;
    for (size_t i = 0; i < 8; i++) {
        tv = tv << 8 | t[i];
    }
    kms_mikey_aes_cm_iv(salt, u32_of(b, "csb_id"), tv, iv);
    tv_hex(b, "iv", want, 16);
    expect_bytes_eq(iv, want, 16);
    tv_free(&f);
    /* T padding: COUNTER keeps its value, NTP-UTC-32 is the seconds with a zero fraction */
    assert_true(kms_mikey_t_from_counter(0x01020304) == UINT64_C(0x0000000001020304));
    assert_true(kms_mikey_t_from_ntp_utc32(0xe9b1c0de) == UINT64_C(0xe9b1c0de00000000));
}

static void aes_cm_model_vectors(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("mikey_prf_model.txt", &f);
    const char *names[] = {"aes-cm-128", "aes-cm-256"};
    enum kms_mikey_encr_alg algs[] = {KMS_MIKEY_ENCR_AES_CM_128, KMS_MIKEY_ENCR_AES_CM_256};
    for (size_t i = 0; i < 2; i++) {
        const struct tv_block *b = tv_find(&f, names[i]);
        uint8_t key[32], salt[14], iv[16], want_iv[16], t[8], pt[64], ct[64], out[64];
        size_t kl = tv_hex_any(b, "key", key, sizeof(key));
        tv_hex(b, "salt", salt, 14);
        tv_hex(b, "iv", want_iv, 16);
        tv_hex(b, "t", t, 8);
        size_t n = tv_hex_any(b, "plaintext", pt, sizeof(pt));
        assert_int_equal(tv_hex_any(b, "ciphertext", ct, sizeof(ct)), n);
        uint64_t tv = 0;
        for (size_t j = 0; j < 8; j++) {
            tv = tv << 8 | t[j];
        }
        uint32_t csb = u32_of(b, "csb_id");
        assert_int_equal(kl, i == 0 ? 16 : 32);
        kms_mikey_aes_cm_iv(salt, csb, tv, iv);
        expect_bytes_eq(iv, want_iv, 16);
        expect_ok(kms_mikey_aes_cm(algs[i], key, salt, csb, tv, pt, n, out));
        expect_bytes_eq(out, ct, n);
        /* decryption is the same operation; in place works */
        expect_ok(kms_mikey_aes_cm(algs[i], key, salt, csb, tv, out, n, out));
        expect_bytes_eq(out, pt, n);
        /* a prefix of the data gives a prefix of the ciphertext */
        expect_ok(kms_mikey_aes_cm(algs[i], key, salt, csb, tv, pt, 17, out));
        expect_bytes_eq(out, ct, 17);
    }
    tv_free(&f);
}

/* Round trip over the whole allowed length, and the length limit itself. */
static void aes_cm_round_trip_and_limits(void **state)
{
    (void)state;
    static uint8_t buf[KMS_MIKEY_AES_CM_MAX + 16], copy[KMS_MIKEY_AES_CM_MAX + 16];
    uint8_t key[32], salt[14];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 7);
    }
    memcpy(copy, buf, sizeof(buf));
    memset(key, 0x42, sizeof(key));
    memset(salt, 0x17, sizeof(salt));
    expect_ok(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_CM_128, key, salt, 5, 6, buf,
                               KMS_MIKEY_AES_CM_MAX, buf));
    assert_memory_not_equal(buf, copy, 64);
    expect_ok(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_CM_128, key, salt, 5, 6, buf,
                               KMS_MIKEY_AES_CM_MAX, buf));
    expect_bytes_eq(buf, copy, KMS_MIKEY_AES_CM_MAX);
    expect_err(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_CM_128, key, salt, 5, 6, copy,
                                KMS_MIKEY_AES_CM_MAX + 1, buf),
               KMS_ERR_ARG);
    expect_ok(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_CM_256, key, salt, 5, 6, copy, 0, buf));
    uint8_t out[16];
    memset(out, 0xaa, sizeof(out));
    expect_err(kms_mikey_aes_cm(KMS_MIKEY_ENCR_NULL, key, salt, 5, 6, copy, 16, out), KMS_ERR_ARG);
    for (size_t i = 0; i < 16; i++) {
        assert_int_equal(out[i], 0); /* wiped on failure */
    }
    expect_err(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_KW_128, key, salt, 5, 6, copy, 16, out),
               KMS_ERR_ARG);
    expect_err(kms_mikey_aes_cm((enum kms_mikey_encr_alg)9, key, salt, 5, 6, copy, 16, out),
               KMS_ERR_ARG);
    expect_err(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_CM_128, NULL, salt, 5, 6, copy, 16, out),
               KMS_ERR_ARG);
    expect_err(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_CM_128, key, NULL, 5, 6, copy, 16, out),
               KMS_ERR_ARG);
    expect_err(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_CM_128, key, salt, 5, 6, NULL, 16, out),
               KMS_ERR_ARG);
}

/* Keystream block j = AES(key, IV with j in its last two octets), for j = 0, 1, 2 and the last
 * allowed block 0xffff: the counter is SRTP's 16-bit one and never carries into T. */
static void aes_cm_counter_is_in_the_last_two_octets(void **state)
{
    (void)state;
    static uint8_t zeros[KMS_MIKEY_AES_CM_MAX], ks[KMS_MIKEY_AES_CM_MAX];
    uint8_t key[16], salt[14], iv[16];
    const size_t blocks[] = {0, 1, 2, 0xffff};
    memset(key, 0x5a, sizeof(key));
    memset(salt, 0xc3, sizeof(salt));
    expect_ok(kms_mikey_aes_cm(KMS_MIKEY_ENCR_AES_CM_128, key, salt, 0x01020304,
                               UINT64_C(0xfedcba9876543210), zeros, sizeof(zeros), ks));
    kms_mikey_aes_cm_iv(salt, 0x01020304, UINT64_C(0xfedcba9876543210), iv);
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
        uint8_t blk[16];
        int n = 0;
        iv[14] = (uint8_t)(blocks[i] >> 8);
        iv[15] = (uint8_t)blocks[i];
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        assert_non_null(c);
        assert_int_equal(EVP_EncryptInit_ex2(c, EVP_aes_128_ecb(), key, NULL, NULL), 1);
        assert_int_equal(EVP_CIPHER_CTX_set_padding(c, 0), 1);
        assert_int_equal(EVP_EncryptUpdate(c, blk, &n, iv, 16), 1);
        EVP_CIPHER_CTX_free(c);
        assert_int_equal(n, 16);
        expect_bytes_eq(ks + 16 * blocks[i], blk, 16);
    }
}

static void mac_model_vectors(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("mikey_prf_model.txt", &f);
    const char *names[] = {"mac hmac-sha1-160", "mac hmac-sha256-256"};
    enum kms_mikey_mac_alg algs[] = {KMS_MIKEY_MAC_HMAC_SHA1_160, KMS_MIKEY_MAC_HMAC_SHA256_256};
    for (size_t i = 0; i < 2; i++) {
        const struct tv_block *b = tv_find(&f, names[i]);
        uint8_t key[32], p1[64], p2[8], want[32], out[32];
        size_t kl = tv_hex_any(b, "key", key, sizeof(key));
        struct kms_iov parts[2] = {{p1, tv_hex_any(b, "part1", p1, sizeof(p1))},
                                   {p2, tv_hex_any(b, "part2", p2, sizeof(p2))}};
        size_t ml = tv_hex_any(b, "mac", want, sizeof(want)), got = 0;
        expect_ok(kms_mikey_mac(algs[i], key, kl, parts, 2, out, sizeof(out), &got));
        assert_int_equal(got, ml);
        expect_bytes_eq(out, want, ml);
        expect_ok(kms_mikey_mac_verify(algs[i], key, kl, parts, 2, want, ml));
        /* every single-bit flip of the tag is refused */
        for (size_t bit = 0; bit < ml * 8; bit++) {
            want[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            expect_err(kms_mikey_mac_verify(algs[i], key, kl, parts, 2, want, ml), KMS_ERR_AUTH);
            want[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* a truncated or extended tag is refused too */
        expect_err(kms_mikey_mac_verify(algs[i], key, kl, parts, 2, want, ml - 1), KMS_ERR_AUTH);
        expect_err(kms_mikey_mac_verify(algs[i], key, kl, parts, 2, want, 0), KMS_ERR_AUTH);
        /* so is a changed message */
        p2[3] ^= 1;
        expect_err(kms_mikey_mac_verify(algs[i], key, kl, parts, 2, want, ml), KMS_ERR_AUTH);
        p2[3] ^= 1;
        /* argument errors */
        expect_err(kms_mikey_mac(algs[i], key, kl - 1, parts, 2, out, sizeof(out), &got),
                   KMS_ERR_ARG);
        assert_int_equal(got, 0);
        expect_err(kms_mikey_mac(algs[i], key, kl, parts, 2, out, ml - 1, &got), KMS_ERR_ARG);
        expect_err(kms_mikey_mac(algs[i], key, kl, NULL, 2, out, sizeof(out), &got), KMS_ERR_ARG);
        expect_err(kms_mikey_mac_verify(algs[i], key, kl, parts, 2, NULL, ml), KMS_ERR_ARG);
    }
    /* NULL and unknown MAC algorithms never verify */
    uint8_t key[20] = {0}, tag[20] = {0}, out[32];
    size_t got;
    expect_err(kms_mikey_mac(KMS_MIKEY_MAC_NULL, key, 0, NULL, 0, out, sizeof(out), &got),
               KMS_ERR_ARG);
    expect_err(kms_mikey_mac_verify(KMS_MIKEY_MAC_NULL, key, 0, NULL, 0, tag, 0), KMS_ERR_ARG);
    expect_err(kms_mikey_mac_verify((enum kms_mikey_mac_alg)7, key, 20, NULL, 0, tag, 20),
               KMS_ERR_ARG);
    tv_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(streamwide_tgk_vectors),
        cmocka_unit_test(prf_model_vectors),
        cmocka_unit_test(prf_xors_the_chunks),
        cmocka_unit_test(prf_refuses_bad_arguments),
        cmocka_unit_test(psk_message_keys),
        cmocka_unit_test(tgk_keys_mikey1),
        cmocka_unit_test(ticket_message_keys),
        cmocka_unit_test(ticket_message_keys_prepared),
        cmocka_unit_test(ticket_transfer_tgk_keys),
        cmocka_unit_test(labels_and_keys_refuse_bad_arguments),
        cmocka_unit_test(algorithm_numbers),
        cmocka_unit_test(aes_cm_iv_layout),
        cmocka_unit_test(aes_cm_model_vectors),
        cmocka_unit_test(aes_cm_round_trip_and_limits),
        cmocka_unit_test(aes_cm_counter_is_in_the_last_two_octets),
        cmocka_unit_test(mac_model_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
