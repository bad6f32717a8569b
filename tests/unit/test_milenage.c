/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <string.h>

#include <openssl/rand.h>

#include "crypto/kms_milenage.h"
#include "crypto/kms_sqn.h"

struct set {
    uint8_t k[16], rand[16], sqn[6], amf[2], op[16], opc[16];
    uint8_t f1[8], f1s[8], f2[8], f3[16], f4[16], f5[6], f5s[6];
};

static void load_set(const struct tv_block *b, struct set *s)
{
    tv_hex(b, "k", s->k, 16);
    tv_hex(b, "rand", s->rand, 16);
    tv_hex(b, "sqn", s->sqn, 6);
    tv_hex(b, "amf", s->amf, 2);
    tv_hex(b, "op", s->op, 16);
    tv_hex(b, "opc", s->opc, 16);
    tv_hex(b, "f1", s->f1, 8);
    tv_hex(b, "f1star", s->f1s, 8);
    tv_hex(b, "f2", s->f2, 8);
    tv_hex(b, "f3", s->f3, 16);
    tv_hex(b, "f4", s->f4, 16);
    tv_hex(b, "f5", s->f5, 6);
    tv_hex(b, "f5star", s->f5s, 6);
}

static void check_vec(const struct set *s, const struct kms_aka_vec *v)
{
    expect_bytes_eq(v->mac_a, s->f1, 8);
    expect_bytes_eq(v->mac_s, s->f1s, 8);
    expect_bytes_eq(v->res, s->f2, 8);
    expect_bytes_eq(v->ck, s->f3, 16);
    expect_bytes_eq(v->ik, s->f4, 16);
    expect_bytes_eq(v->ak, s->f5, 6);
    expect_bytes_eq(v->ak_star, s->f5s, 6);
    /* AUTN assembled from the published parts: (SQN xor AK) || AMF || MAC-A */
    uint8_t autn[16];
    for (size_t i = 0; i < 6; i++) {
        autn[i] = s->sqn[i] ^ s->f5[i];
    }
    memcpy(autn + 6, s->amf, 2);
    memcpy(autn + 8, s->f1, 8);
    expect_bytes_eq(v->autn, autn, 16);
}

/* TS 35.208 4.3 test sets 1-6, with OP (OPc derived) and with OPc given, in one reused context
 * (re-keyed per set, as a BSF does). */
static void ts35208_sets_1_to_6(void **state)
{
    (void)state;
    struct tv_file f;
    struct kms_milenage *m = NULL;
    tv_load("milenage_ts35208.txt", &f);
    expect_ok(kms_milenage_new(&m));
    size_t sets = 0;
    for (size_t i = 0; i < f.n; i++) {
        if (strncmp(f.blocks[i].name, "set ", 4) != 0) {
            continue;
        }
        struct set s;
        struct kms_aka_vec v;
        uint8_t opc[16];
        load_set(&f.blocks[i], &s);
        expect_ok(kms_milenage_set_key_op(m, s.k, s.op));
        expect_ok(kms_milenage_get_opc(m, opc));
        expect_bytes_eq(opc, s.opc, 16);
        expect_ok(kms_milenage_vector(m, s.rand, s.sqn, s.amf, &v));
        check_vec(&s, &v);
        expect_ok(kms_milenage_set_key(m, s.k, s.opc));
        expect_ok(kms_milenage_vector(m, s.rand, s.sqn, s.amf, &v));
        check_vec(&s, &v);
        /* The USIM side recovers the same SQN and keys from AUTN. */
        uint8_t sqn[6];
        struct kms_aka_vec u;
        expect_ok(kms_milenage_check_autn(m, s.rand, v.autn, sqn, &u));
        expect_bytes_eq(sqn, s.sqn, 6);
        expect_bytes_eq(u.res, s.f2, 8);
        expect_bytes_eq(u.ck, s.f3, 16);
        expect_bytes_eq(u.ik, s.f4, 16);
        sets++;
    }
    assert_int_equal(sets, 6);
    kms_milenage_free(m);
    tv_free(&f);
}

/* libosmocore's end-to-end vector with a resynchronisation (AMF* = 0000). */
static void osmocom_resync_vector(void **state)
{
    (void)state;
    struct tv_file f;
    struct kms_milenage *m = NULL;
    tv_load("milenage_ts35208.txt", &f);
    const struct tv_block *b = tv_find(&f, "resync osmocom");
    uint8_t k[16], opc[16], rand[16], amf[2], sqn[6], autn[16], res[8], ck[16], ik[16];
    uint8_t auts[14], sqn_ms[6], got_auts[14], got_sqn_ms[6];
    tv_hex(b, "k", k, 16);
    tv_hex(b, "opc", opc, 16);
    tv_hex(b, "rand", rand, 16);
    tv_hex(b, "amf", amf, 2);
    tv_hex(b, "sqn", sqn, 6);
    tv_hex(b, "autn", autn, 16);
    tv_hex(b, "res", res, 8);
    tv_hex(b, "ck", ck, 16);
    tv_hex(b, "ik", ik, 16);
    tv_hex(b, "auts", auts, 14);
    tv_hex(b, "sqn_ms", sqn_ms, 6);
    struct kms_aka_vec v;
    expect_ok(kms_milenage_new(&m));
    expect_ok(kms_milenage_set_key(m, k, opc));
    expect_ok(kms_milenage_vector(m, rand, sqn, amf, &v));
    expect_bytes_eq(v.autn, autn, 16);
    expect_bytes_eq(v.res, res, 8);
    expect_bytes_eq(v.ck, ck, 16);
    expect_bytes_eq(v.ik, ik, 16);
    expect_ok(kms_milenage_auts(m, rand, sqn_ms, got_auts));
    expect_bytes_eq(got_auts, auts, 14);
    expect_ok(kms_milenage_resync(m, rand, auts, got_sqn_ms));
    expect_bytes_eq(got_sqn_ms, sqn_ms, 6);
    kms_milenage_free(m);
    tv_free(&f);
}

static void rnd(void *p, size_t n)
{
    assert_int_equal(RAND_bytes(p, (int)n), 1);
}

/* Property: for random K, OPc, RAND and SQN_MS, resync(auts(SQN_MS)) == SQN_MS; a wrong RAND,
 * a wrong key or any flipped bit of AUTS is refused with KMS_ERR_MAC_S and no SQN. */
static void auts_round_trip_and_mac_s_refusals(void **state)
{
    (void)state;
    struct kms_milenage *m = NULL, *other = NULL;
    expect_ok(kms_milenage_new(&m));
    expect_ok(kms_milenage_new(&other));
    for (int iter = 0; iter < 64; iter++) {
        uint8_t k[16], opc[16], rand[16], sqn_ms[6], auts[14], got[6];
        rnd(k, 16);
        rnd(opc, 16);
        rnd(rand, 16);
        rnd(sqn_ms, 6);
        expect_ok(kms_milenage_set_key(m, k, opc));
        expect_ok(kms_milenage_auts(m, rand, sqn_ms, auts));
        expect_ok(kms_milenage_resync(m, rand, auts, got));
        expect_bytes_eq(got, sqn_ms, 6);
        for (size_t bit = 0; bit < 14 * 8; bit++) {
            auts[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            memset(got, 0xaa, sizeof(got));
            expect_err(kms_milenage_resync(m, rand, auts, got), KMS_ERR_MAC_S);
            for (size_t i = 0; i < 6; i++) {
                assert_int_equal(got[i], 0);
            }
            auts[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        rand[0] ^= 1;
        expect_err(kms_milenage_resync(m, rand, auts, got), KMS_ERR_MAC_S);
        rand[0] ^= 1;
        k[15] ^= 0x80;
        expect_ok(kms_milenage_set_key(other, k, opc));
        expect_err(kms_milenage_resync(other, rand, auts, got), KMS_ERR_MAC_S);
    }
    kms_milenage_free(m);
    kms_milenage_free(other);
}

/* AUTS is computed with AMF* = 0000, not with the AMF of the failed challenge: MAC-S of the
 * published set 1 (computed with AMF b9b9) must not verify as an AUTS. */
static void auts_uses_amf_star_zero(void **state)
{
    (void)state;
    struct tv_file f;
    struct kms_milenage *m = NULL;
    struct set s;
    tv_load("milenage_ts35208.txt", &f);
    load_set(tv_find(&f, "set 1"), &s);
    expect_ok(kms_milenage_new(&m));
    expect_ok(kms_milenage_set_key(m, s.k, s.opc));
    uint8_t auts[14], got[6];
    for (size_t i = 0; i < 6; i++) {
        auts[i] = s.sqn[i] ^ s.f5s[i];
    }
    memcpy(auts + 6, s.f1s, 8);
    expect_err(kms_milenage_resync(m, s.rand, auts, got), KMS_ERR_MAC_S);
    /* and the AUTS we build carries the published AK* in its first 6 octets */
    expect_ok(kms_milenage_auts(m, s.rand, s.sqn, auts));
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(auts[i] ^ s.sqn[i], s.f5s[i]);
    }
    kms_milenage_free(m);
    tv_free(&f);
}

static void check_autn_refuses_any_flipped_bit(void **state)
{
    (void)state;
    struct tv_file f;
    struct kms_milenage *m = NULL;
    struct set s;
    struct kms_aka_vec v, u;
    uint8_t sqn[6];
    tv_load("milenage_ts35208.txt", &f);
    load_set(tv_find(&f, "set 3"), &s);
    expect_ok(kms_milenage_new(&m));
    expect_ok(kms_milenage_set_key(m, s.k, s.opc));
    expect_ok(kms_milenage_vector(m, s.rand, s.sqn, s.amf, &v));
    for (size_t bit = 0; bit < 128; bit++) {
        v.autn[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        memset(sqn, 0xaa, sizeof(sqn));
        expect_err(kms_milenage_check_autn(m, s.rand, v.autn, sqn, &u), KMS_ERR_MAC_A);
        assert_int_equal(sqn[0], 0);
        assert_int_equal(u.res[0] | u.ck[0] | u.ik[0], 0);
        v.autn[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    kms_milenage_free(m);
    tv_free(&f);
}

static void unkeyed_context_is_refused(void **state)
{
    (void)state;
    struct kms_milenage *m = NULL;
    uint8_t z[16] = {0}, opc[16];
    struct kms_aka_vec v;
    expect_ok(kms_milenage_new(&m));
    expect_err(kms_milenage_vector(m, z, z, z, &v), KMS_ERR_ARG);
    expect_err(kms_milenage_get_opc(m, opc), KMS_ERR_ARG);
    kms_milenage_free(m);
    kms_milenage_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ts35208_sets_1_to_6),
        cmocka_unit_test(osmocom_resync_vector),
        cmocka_unit_test(auts_round_trip_and_mac_s_refusals),
        cmocka_unit_test(auts_uses_amf_star_zero),
        cmocka_unit_test(check_autn_refuses_any_flipped_bit),
        cmocka_unit_test(unkeyed_context_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
