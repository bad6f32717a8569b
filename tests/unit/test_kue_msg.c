/* SPDX-License-Identifier: Apache-2.0 */
/* The Kue-issue exchange (lib/kms/kms_kue_msg): both sides in one process. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "kms/kms_kreq.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_msgkit.h"

static const uint8_t KS_NAF[32] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a,
                                   0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55,
                                   0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f};

/* Kue = PRF-HMAC-SHA-256(Ks_NAF, "imskms Kue v1" || Kue-RAND). Expected value from the
 * independent Python model of the RFC 6043 6.1 PRF in tests/vectors/mk_mikey_prf.py (prf(
 * "hmac-sha256", bytes(range(0x40, 0x60)), b"imskms Kue v1" + RAND, 32)), not from this code. */
static void test_derive(void **state)
{
    (void)state;
    uint8_t r[16], kue[32], want[32];
    th_hex("00112233445566778899aabbccddeeff", r, sizeof(r));
    th_hex("2814b72b15e0e5c0c4050dcd9f4604dd6afab2bc791c9715f30cd730b8bd6e4f", want, sizeof(want));
    expect_ok(kms_kue_derive(KS_NAF, r, kue));
    expect_bytes_eq(kue, want, 32);
}

/* Mode 1: Kue1 = PRF-HMAC-SHA-256(Ks_NAF, "imskms Kue1 v1" || RAND), from the same Python model
 * (prf("hmac-sha256", bytes(range(0x40, 0x60)), b"imskms Kue1 v1" + RAND, 32)). */
static void test_derive_kue1(void **state)
{
    (void)state;
    uint8_t r[16], kue1[32], want[32], kue[32];
    th_hex("00112233445566778899aabbccddeeff", r, sizeof(r));
    th_hex("b8e6f4aa6021b8f5defd85cfc2b119714fc0151d946a7d6bd147e3c9e56b8743", want, sizeof(want));
    expect_ok(kms_kue1_derive(KS_NAF, r, kue1));
    expect_bytes_eq(kue1, want, 32);
    expect_ok(kms_kue_derive(KS_NAF, r, kue));
    assert_memory_not_equal(kue, kue1, 32); /* the two labels keep the keys apart */
}

/* IDRpsk classification: a B-TID (mode 1) against a Kue reference or a sealed Kue. */
static void test_psk_is_btid(void **state)
{
    (void)state;
    const char *btid = "n/RZJSs/D2H9zi4XbK153w==@bsf.example.org";
    assert_true(kms_kue_psk_is_btid((const uint8_t *)btid, strlen(btid)));
    const char *ref16 = "aaaaaaa@bbbbbbbb"; /* 16 octets: always a reference */
    assert_false(kms_kue_psk_is_btid((const uint8_t *)ref16, 16));
    const char *noat = "n/RZJSs/D2H9zi4XbK153w==.bsf.example.org";
    assert_false(kms_kue_psk_is_btid((const uint8_t *)noat, strlen(noat)));
    uint8_t sealed[64];
    memcpy(sealed, btid, 40);
    sealed[0] = 0x01; /* a sealed Kue starts with its version octet */
    assert_false(kms_kue_psk_is_btid(sealed, 40));
    uint8_t sp[40];
    memcpy(sp, btid, 40);
    sp[5] = ' ';
    assert_false(kms_kue_psk_is_btid(sp, 40));
    sp[5] = 0x80;
    assert_false(kms_kue_psk_is_btid(sp, 40));
    assert_false(kms_kue_psk_is_btid(NULL, 0));
    uint8_t longer[KMS_BTID_MAX];
    memset(longer, 'a', sizeof(longer));
    longer[3] = '@';
    assert_false(kms_kue_psk_is_btid(longer, sizeof(longer)));
    assert_true(kms_kue_psk_is_btid(longer, sizeof(longer) - 1));
}

static void make_request(struct kms_kue_request *r, uint8_t mode, struct kms_buf *out)
{
    memset(r, 0, sizeof(*r));
    r->mode = mode;
    strcpy(r->idri, "sip:+15550001@ims.example.org");
    strcpy(r->idrkms, "kms.example.org");
    strcpy(r->btid, "n/RZJSs/D2H9zi4XbK153w==@bsf.example.org");
    memset(r->randri, 0x77, sizeof(r->randri));
    r->ntp = kms_mikey_ntp_from_unix(1800000000, 0);
    kms_buf_init(out, 1 << 16, false);
    expect_ok(kms_kue_request_build(r, KS_NAF, out));
}

struct hook_counts {
    int checks, commits;
};

static kms_result h_check(void *ctx, const struct kms_mikey_msg *m)
{
    (void)m;
    ((struct hook_counts *)ctx)->checks++;
    return (kms_result){KMS_OK};
}

static kms_result h_commit(void *ctx, const struct kms_mikey_msg *m)
{
    (void)m;
    ((struct hook_counts *)ctx)->commits++;
    return (kms_result){KMS_OK};
}

/* The KMS's classifier, as the service calls it; the decoded message stays in kq for the open
 * and the response that follow. */
static struct kms_kreq kq;

static kms_result peek_kue(const uint8_t *msg, size_t len, struct kms_kue_request *p, size_t *eo)
{
    kms_result r = kms_kreq_classify(msg, len, &kq, eo);
    if (kms_ok(r) && kq.kind != KMS_KREQ_KUE_ISSUE) {
        r.err = KMS_ERR_MALFORMED;
    }
    memset(p, 0, sizeof(*p));
    if (kms_ok(r)) {
        *p = kq.u.kue;
    }
    return r;
}

static void test_exchange(void **state)
{
    (void)state;
    for (uint8_t mode = 2; mode <= 3; mode++) {
        struct kms_kue_request r, p;
        struct kms_buf req, resp;
        make_request(&r, mode, &req);
        size_t eo = 0;
        expect_ok(peek_kue(kms_buf_data(&req), kms_buf_len(&req), &p, &eo));
        assert_int_equal(p.mode, mode);
        assert_string_equal(p.idri, r.idri);
        assert_string_equal(p.idrkms, r.idrkms);
        assert_string_equal(p.btid, r.btid);
        expect_bytes_eq(p.randri, r.randri, 16);
        assert_int_equal(p.ntp, r.ntp);
        assert_int_equal(p.csb_id, r.csb_id);
        struct hook_counts hc = {0};
        struct kms_mikey_replay_hook hook = {h_check, h_commit, &hc};
        expect_ok(
            kms_kue_request_open(kms_buf_data(&req), kms_buf_len(&req), &kq.m, &p, KS_NAF, &hook));
        assert_int_equal(hc.checks, 1);
        assert_int_equal(hc.commits, 1);
        /* Another Ks_NAF, or another identity in the MAC coverage: refused. */
        uint8_t other[32];
        memcpy(other, KS_NAF, 32);
        other[0] ^= 1;
        expect_err(
            kms_kue_request_open(kms_buf_data(&req), kms_buf_len(&req), &kq.m, &p, other, NULL),
            KMS_ERR_AUTH);
        struct kms_kue_request q = p;
        strcpy(q.idri, "sip:mallory@ims.example.org");
        expect_err(
            kms_kue_request_open(kms_buf_data(&req), kms_buf_len(&req), &kq.m, &q, KS_NAF, NULL),
            KMS_ERR_AUTH);

        struct kms_kue_grant g = {.mode = mode, .valid_from = 1800000000, .valid_to = 1800003600};
        memset(g.kue, 0x5a, sizeof(g.kue));
        g.ticket_len = mode == 3 ? 200 : KMS_KUE_REF_LEN;
        memset(g.ticket, 0x33, g.ticket_len);
        kms_buf_init(&resp, 1 << 16, false);
        expect_ok(kms_kue_response_build(kms_buf_data(&req), kms_buf_len(&req), &kq.m, KS_NAF, &g,
                                         &resp));
        struct kms_kue_grant got;
        expect_ok(kms_kue_response_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&resp),
                                        kms_buf_len(&resp), KS_NAF, &got));
        assert_int_equal(got.mode, mode);
        expect_bytes_eq(got.kue, g.kue, 32);
        assert_int_equal(got.ticket_len, g.ticket_len);
        expect_bytes_eq(got.ticket, g.ticket, g.ticket_len);
        assert_int_equal(got.valid_from, g.valid_from);
        assert_int_equal(got.valid_to, g.valid_to);
        /* Kue is not in clear on the wire. */
        const uint8_t *w = kms_buf_data(&resp);
        for (size_t i = 0; i + 32 <= kms_buf_len(&resp); i++) {
            assert_memory_not_equal(w + i, g.kue, 32);
        }
        /* Every bit of the response flipped is refused. */
        uint8_t *bytes = resp.d;
        for (size_t bit = 0; bit < kms_buf_len(&resp) * 8; bit++) {
            bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            kms_result rr = kms_kue_response_open(kms_buf_data(&req), kms_buf_len(&req), bytes,
                                                  kms_buf_len(&resp), KS_NAF, &got);
            bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            if (kms_ok(rr)) {
                fail_msg("mode %u: response bit %zu flipped was accepted", mode, bit);
            }
        }
        /* A response to another request is refused. */
        struct kms_kue_request r2;
        struct kms_buf req2;
        make_request(&r2, mode, &req2);
        expect_err(kms_kue_response_open(kms_buf_data(&req2), kms_buf_len(&req2),
                                         kms_buf_data(&resp), kms_buf_len(&resp), KS_NAF, &got),
                   KMS_ERR_AUTH);
        /* Every bit of the request flipped: peek or open refuses it. */
        bytes = req.d;
        for (size_t bit = 0; bit < kms_buf_len(&req) * 8; bit++) {
            bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            struct kms_kue_request pp;
            kms_result rr = peek_kue(bytes, kms_buf_len(&req), &pp, &eo);
            if (kms_ok(rr)) {
                rr = kms_kue_request_open(bytes, kms_buf_len(&req), &kq.m, &pp, KS_NAF, NULL);
            }
            bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            if (kms_ok(rr)) {
                fail_msg("mode %u: request bit %zu flipped was accepted", mode, bit);
            }
        }
        kms_buf_cleanup(&req);
        kms_buf_cleanup(&req2);
        kms_buf_cleanup(&resp);
    }
}

static void test_peek_refusals(void **state)
{
    (void)state;
    struct kms_kue_request r, p;
    struct kms_buf req;
    make_request(&r, 3, &req);
    size_t eo = 0;
    for (size_t len = 0; len < kms_buf_len(&req); len++) {
        assert_false(kms_ok(peek_kue(kms_buf_data(&req), len, &p, &eo)));
    }
    kms_buf_cleanup(&req);
    struct kms_kue_request bad = r;
    bad.mode = 1;
    kms_buf_init(&req, 1 << 16, false);
    expect_err(kms_kue_request_build(&bad, KS_NAF, &req), KMS_ERR_ARG);
    kms_buf_cleanup(&req);
}

/* The KMS's response re-sealed under the right key with its KEMAC's encryption algorithm
 * replaced by encr (the keys themselves unchanged): what a KMS that wrapped Kue more weakly
 * would send. */
static void reseal_kemac(const struct kms_buf *req, const uint8_t randri[16],
                         const struct kms_buf *resp, uint8_t encr, struct kms_buf *out)
{
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    struct kms_buf keys;
    kms_buf_init(&keys, 4096, true);
    assert_non_null(m);
    struct kms_iov cov = {kms_buf_data(req), kms_buf_len(req)};
    struct kms_mikey_prot prot = {.keying = KMS_MIKEY_KEYING_RESPONSE,
                                  .rands = {randri, 16, NULL, 0},
                                  .mac_alg = KMS_MIKEY_MAC_HMAC_SHA256_256,
                                  .extra = &cov,
                                  .n_extra = 1};
    const struct kms_mk_open o = {
        .data_type = KMS_MIKEY_DT_REQUEST_RESP, .prot = prot, .key = KS_NAF};
    expect_ok(kms_mk_open(kms_buf_data(resp), kms_buf_len(resp), &o, m, &keys, NULL));
    static const uint8_t zero_mac[32];
    for (size_t i = 0; i < m->body.n; i++) {
        struct kms_mikey_payload *pl = &m->body.pl[i];
        if (pl->type == KMS_MIKEY_PT_KEMAC) {
            pl->u.kemac.encr_alg = encr;
            pl->u.kemac.encr_data = (struct kms_bytes){kms_buf_data(&keys), kms_buf_len(&keys)};
        } else if (pl->type == KMS_MIKEY_PT_V) {
            pl->u.v.mac = (struct kms_bytes){zero_mac, 32};
        }
    }
    kms_buf_init(out, 1 << 16, false);
    expect_ok(kms_mikey_seal(m, KS_NAF, 32, &prot, out));
    kms_buf_cleanup(&keys);
    free(m);
}

/* The KEMAC of a Kue is AES-CM-256 (a 256-bit key under a 128-bit wrap would be the weakest
 * link); the UE refuses the same response re-sealed with AES-CM-128. */
static void test_kemac_is_aes_cm_256(void **state)
{
    (void)state;
    struct kms_kue_request r, p;
    struct kms_buf req, resp, weak, same;
    make_request(&r, 3, &req);
    size_t eo = 0;
    expect_ok(peek_kue(kms_buf_data(&req), kms_buf_len(&req), &p, &eo));
    struct kms_kue_grant g = {.mode = 3, .valid_from = 1800000000, .valid_to = 1800003600};
    memset(g.kue, 0x5a, sizeof(g.kue));
    g.ticket_len = 100;
    memset(g.ticket, 0x33, g.ticket_len);
    kms_buf_init(&resp, 1 << 16, false);
    expect_ok(
        kms_kue_response_build(kms_buf_data(&req), kms_buf_len(&req), &kq.m, KS_NAF, &g, &resp));
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    expect_ok(kms_mikey_decode(kms_buf_data(&resp), kms_buf_len(&resp), m, &eo));
    const struct kms_mikey_payload *kem = kms_mikey_find(&m->body, KMS_MIKEY_PT_KEMAC, NULL);
    assert_non_null(kem);
    assert_int_equal(kem->u.kemac.encr_alg, KMS_MIKEY_ENCR_AES_CM_256);
    free(m);
    struct kms_kue_grant got;
    reseal_kemac(&req, r.randri, &resp, KMS_MIKEY_ENCR_AES_CM_256, &same);
    expect_ok(kms_kue_response_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&same),
                                    kms_buf_len(&same), KS_NAF, &got));
    expect_bytes_eq(got.kue, g.kue, 32);
    reseal_kemac(&req, r.randri, &resp, KMS_MIKEY_ENCR_AES_CM_128, &weak);
    expect_err(kms_kue_response_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&weak),
                                     kms_buf_len(&weak), KS_NAF, &got),
               KMS_ERR_UNSUPPORTED);
    kms_buf_cleanup(&req);
    kms_buf_cleanup(&resp);
    kms_buf_cleanup(&weak);
    kms_buf_cleanup(&same);
}

/* The KMS serves the timestamp replay mode only: a Kue issue whose T is COUNTER (or any type
 * but NTP-UTC) is refused by the classifier, before any key is looked up. The same request
 * re-encoded with its NTP-UTC T passes, so the re-encoding is not what is refused. */
static void test_only_ntp_utc_timestamps(void **state)
{
    (void)state;
    const struct th_ts *others = th_ts_not_ntp_utc;
    for (uint8_t mode = 2; mode <= 3; mode++) {
        struct kms_kue_request r, p;
        struct kms_buf req, same;
        size_t eo = 0;
        make_request(&r, mode, &req);
        th_mikey_set_t(kms_buf_data(&req), kms_buf_len(&req), KMS_MIKEY_TS_NTP_UTC, r.ntp, &same);
        expect_bytes_eq(kms_buf_data(&same), kms_buf_data(&req), kms_buf_len(&req));
        expect_ok(peek_kue(kms_buf_data(&same), kms_buf_len(&same), &p, &eo));
        assert_true(p.ntp == r.ntp);
        kms_buf_cleanup(&same);
        for (size_t i = 0; i < TH_TS_NOT_NTP_UTC_N; i++) {
            struct kms_buf other;
            th_mikey_set_t(kms_buf_data(&req), kms_buf_len(&req), others[i].type, others[i].value,
                           &other);
            expect_err(peek_kue(kms_buf_data(&other), kms_buf_len(&other), &p, &eo),
                       KMS_ERR_UNSUPPORTED);
            assert_int_equal(p.mode, 0);
            kms_buf_cleanup(&other);
        }
        kms_buf_cleanup(&req);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derive),
        cmocka_unit_test(test_derive_kue1),
        cmocka_unit_test(test_psk_is_btid),
        cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_peek_refusals),
        cmocka_unit_test(test_kemac_is_aes_cm_256),
        cmocka_unit_test(test_only_ntp_utc_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
