/* SPDX-License-Identifier: Apache-2.0 */
/* The Zn request handler (lib/gba/kms_bsf_zn) over a real BSF core with an in-memory subscriber
 * store and a fixed clock: one subscriber bootstrapped through the core API, then requests as a
 * NAF would send them. Statuses and error names are the ones docs/api.md publishes. */
#include "testlib.h"

#include <stdio.h>
#include <string.h>

#include "gba/kms_bsf.h"
#include "gba/kms_bsf_zn.h"
#include "gba/kms_zn_json.h"
#include "util/kms_codec.h"
#include "util/kms_mem.h"

#define T0           1800000000u
#define IMPI         "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"
#define IMPU1        "sip:+15550001@ims.example.org"
#define IMPU2        "tel:+15550001"
#define REALM        "bsf.mnc001.mcc001.pub.3gppnetwork.org"
#define NAF          "kms.ims.mnc001.mcc001.3gppnetwork.org"
#define OTHER        "evil.example.org"
#define UNKNOWN_BTID "AAAAAAAAAAAAAAAAAAAAAA==@" REALM

/* TS 35.208 test set 1 K and OPc. */
static const uint8_t K[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                              0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
static const uint8_t OPC[16] = {0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e,
                                0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf};
static const uint8_t UA[5] = {0x01, 0x00, 0x00, 0x00, 0x06};

static kms_result st_get(void *ctx, const char *impi, struct kms_bsf_sub *out)
{
    (void)ctx;
    memset(out, 0, sizeof(*out));
    if (strcmp(impi, IMPI) != 0) {
        return (kms_result){KMS_ERR_NOT_FOUND};
    }
    memcpy(out->k, K, 16);
    memcpy(out->opc, OPC, 16);
    memcpy(out->impu[0], IMPU1, sizeof(IMPU1));
    memcpy(out->impu[1], IMPU2, sizeof(IMPU2));
    out->n_impu = 2;
    return (kms_result){KMS_OK};
}

static kms_result st_commit(void *ctx, const char *impi, uint64_t mark)
{
    (void)ctx;
    (void)impi;
    (void)mark;
    return (kms_result){KMS_OK};
}

/* One BSF with one bootstrap session, and what the UE knows of it. */
struct fx {
    struct kms_bsf_store bs;
    struct kms_bsf *b;
    struct kms_bsf_session s;
    uint8_t rand[16], ck[16], ik[16];
    uint8_t ks_naf[32]; /* the UE's own derivation for NAF and UA */
};

static int fx_setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof(f));
    f.bs = (struct kms_bsf_store){NULL, st_get, st_commit};
    struct kms_bsf_cfg cfg = {.realm = REALM, .lifetime = 3600};
    expect_ok(kms_bsf_new(&cfg, &f.bs, &f.b));
    struct kms_bsf_challenge c;
    expect_ok(kms_bsf_challenge(f.b, IMPI, T0, &c));
    /* The UE side: the USIM's CK and IK for this RAND (Milenage over K, OPc). */
    struct kms_milenage *m = NULL;
    struct kms_aka_vec v;
    uint8_t sqn[6];
    expect_ok(kms_milenage_new(&m));
    expect_ok(kms_milenage_set_key(m, K, OPC));
    expect_ok(kms_milenage_check_autn(m, c.rand, c.autn, sqn, &v));
    kms_milenage_free(m);
    memcpy(f.rand, c.rand, 16);
    memcpy(f.ck, v.ck, 16);
    memcpy(f.ik, v.ik, 16);
    struct kms_bsf_pending p;
    expect_ok(kms_bsf_open(f.b, IMPI, c.rand, c.autn, c.sd, T0 + 1, &p));
    expect_ok(kms_bsf_bootstrap(f.b, &p, T0 + 1, &f.s));
    expect_ok(
        kms_gba_ks_naf(f.ck, f.ik, f.rand, IMPI, strlen(IMPI), NAF, strlen(NAF), UA, f.ks_naf));
    *state = &f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    kms_bsf_free(f->b);
    return 0;
}

static const char *const NAMES_RIGHT[] = {"other.example.org", NAF};
static const char *const NAMES_WRONG[] = {OTHER, "kms.example.org"};

static const struct kms_bsf_zn_cert CERT_NONE = {false, NULL, 0};
static const struct kms_bsf_zn_cert CERT_RIGHT = {true, NAMES_RIGHT, 2};
static const struct kms_bsf_zn_cert CERT_WRONG = {true, NAMES_WRONG, 2};
/* Names the FQDN but did not verify: the names count for nothing. */
static const struct kms_bsf_zn_cert CERT_UNVERIFIED = {false, NAMES_RIGHT, 2};

static void req_json(char *out, size_t cap, const char *btid, const char *naf, const char *ua)
{
    int n = snprintf(out, cap, "{\"btid\":\"%s\",\"naf_fqdn\":\"%s\",\"ua_protocol_id\":\"%s\"}",
                     btid, naf, ua);
    assert_true(n > 0 && (size_t)n < cap);
}

static bool contains(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; i + n <= hn; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Neither Ks_NAF, CK nor IK (Ks), raw or in lower or upper hex, nor half of any. */
static void assert_no_keys(const struct fx *f, const struct kms_buf *body)
{
    const uint8_t *keys[] = {f->ks_naf, f->ck, f->ik};
    const size_t lens[] = {32, 16, 16};
    for (size_t i = 0; i < 3; i++) {
        char hex[65];
        expect_ok(kms_hex_encode(keys[i], lens[i], hex, sizeof(hex)));
        size_t h = lens[i]; /* half the hex digits */
        assert_false(contains(kms_buf_data(body), kms_buf_len(body), keys[i], lens[i] / 2));
        assert_false(
            contains(kms_buf_data(body), kms_buf_len(body), keys[i] + lens[i] / 2, lens[i] / 2));
        assert_false(contains(kms_buf_data(body), kms_buf_len(body), (const uint8_t *)hex, h));
        assert_false(contains(kms_buf_data(body), kms_buf_len(body), (const uint8_t *)hex + h, h));
    }
}

/* Runs one request; the reply is the caller's to clean up. */
static void run(struct fx *f, const char *method, const char *path,
                const struct kms_bsf_zn_cert *cert, const char *body, uint64_t now,
                struct kms_bsf_zn_reply *r)
{
    kms_bsf_zn_reply_init(r);
    expect_ok(kms_bsf_zn_handle(f->b, method, path, cert, (const uint8_t *)body,
                                body != NULL ? strlen(body) : 0, now, r));
}

/* An error reply: its status, its JSON {"error": code, "detail": the table's message}, the
 * same on HTTP, and no key in it. */
static void expect_refusal(struct fx *f, const char *method, const char *path,
                           const struct kms_bsf_zn_cert *cert, const char *body, uint64_t now,
                           int status, const char *code, enum kms_err why)
{
    struct kms_bsf_zn_reply r;
    run(f, method, path, cert, body, now, &r);
    assert_int_equal(r.status, status);
    assert_int_equal(r.why, why);
    assert_string_equal(r.impi, "");
    struct kms_zn_error e;
    expect_ok(kms_zn_error_decode(kms_buf_data(&r.body), kms_buf_len(&r.body), &e));
    assert_string_equal(e.code, code);
    assert_string_equal(e.detail, kms_strerror(why));
    assert_no_keys(f, &r.body);
    struct kms_http_resp resp = {.status = 0};
    kms_buf_init(&resp.body, KMS_HTTP_MAX_RESP_BODY, false);
    expect_ok(kms_bsf_zn_http(&r, &resp));
    assert_int_equal(resp.status, status);
    assert_string_equal(resp.content_type, "application/json");
    assert_int_equal(kms_buf_len(&resp.body), kms_buf_len(&r.body));
    expect_bytes_eq(kms_buf_data(&resp.body), kms_buf_data(&r.body), kms_buf_len(&r.body));
    assert_int_equal(resp.n_hdrs, 0);
    kms_buf_cleanup(&resp.body);
    kms_bsf_zn_reply_cleanup(&r);
}

static void delivers_ks_naf_to_the_named_naf(void **state)
{
    struct fx *f = *state;
    char body[512];
    req_json(body, sizeof(body), f->s.btid, NAF, "0100000006");
    struct kms_bsf_zn_reply r;
    run(f, "POST", "/zn/v1/bootstrap-info", &CERT_RIGHT, body, T0 + 10, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.why, KMS_OK);
    assert_true(r.body.secret);
    assert_string_equal(r.naf_fqdn, NAF);
    assert_string_equal(r.impi, IMPI);
    struct kms_zn_resp z;
    expect_ok(kms_zn_resp_decode(kms_buf_data(&r.body), kms_buf_len(&r.body), &z));
    /* The key the UE derives itself from its CK and IK, and the core's own answer. */
    expect_bytes_eq(z.ks_naf, f->ks_naf, 32);
    struct kms_bsf_zn core;
    expect_ok(kms_bsf_zn(f->b, f->s.btid, NAF, UA, T0 + 10, &core));
    expect_bytes_eq(z.ks_naf, core.ks_naf, 32);
    assert_string_equal(z.impi, IMPI);
    assert_int_equal(z.n_impu, 2);
    assert_string_equal(z.impu[0], IMPU1);
    assert_string_equal(z.impu[1], IMPU2);
    assert_int_equal(z.bootstrap_time, T0 + 1);
    assert_int_equal(z.key_expiry, T0 + 1 + 3600);
    /* As HTTP: 200, JSON, the same bytes, in a body marked secret. */
    struct kms_http_resp resp = {.status = 0};
    kms_buf_init(&resp.body, KMS_HTTP_MAX_RESP_BODY, false);
    expect_ok(kms_bsf_zn_http(&r, &resp));
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, "application/json");
    assert_true(resp.body.secret);
    assert_int_equal(kms_buf_len(&resp.body), kms_buf_len(&r.body));
    expect_bytes_eq(kms_buf_data(&resp.body), kms_buf_data(&r.body), kms_buf_len(&r.body));
    kms_buf_cleanup(&resp.body);
    kms_zn_resp_wipe(&z);
    kms_wipe(&core, sizeof(core));
    kms_bsf_zn_reply_cleanup(&r);
    assert_null(r.body.d);
}

static void refuses_without_a_verified_certificate(void **state)
{
    struct fx *f = *state;
    char body[512];
    req_json(body, sizeof(body), f->s.btid, NAF, "0100000006");
    expect_refusal(f, "POST", KMS_BSF_ZN_PATH, &CERT_NONE, body, T0 + 10, 403, "forbidden",
                   KMS_ERR_AUTH);
    expect_refusal(f, "POST", KMS_BSF_ZN_PATH, &CERT_UNVERIFIED, body, T0 + 10, 403, "forbidden",
                   KMS_ERR_AUTH);
    /* Checked before the body is even decoded. */
    expect_refusal(f, "POST", KMS_BSF_ZN_PATH, &CERT_NONE, "{", T0 + 10, 403, "forbidden",
                   KMS_ERR_AUTH);
}

static void refuses_a_certificate_naming_another_fqdn(void **state)
{
    struct fx *f = *state;
    char body[512];
    req_json(body, sizeof(body), f->s.btid, NAF, "0100000006");
    expect_refusal(f, "POST", KMS_BSF_ZN_PATH, &CERT_WRONG, body, T0 + 10, 403, "forbidden",
                   KMS_ERR_AUTH);
    /* A certificate for OTHER asking for OTHER's key is fine; asking for NAF's is not. */
    req_json(body, sizeof(body), f->s.btid, OTHER, "0100000006");
    struct kms_bsf_zn_reply r;
    run(f, "POST", KMS_BSF_ZN_PATH, &CERT_WRONG, body, T0 + 10, &r);
    assert_int_equal(r.status, 200);
    assert_no_keys(f, &r.body); /* OTHER's key is not NAF's */
    kms_bsf_zn_reply_cleanup(&r);
    /* No B-TID lookup before the name matched: unknown and expired B-TIDs also get 403. */
    req_json(body, sizeof(body), UNKNOWN_BTID, NAF, "0100000006");
    expect_refusal(f, "POST", KMS_BSF_ZN_PATH, &CERT_WRONG, body, T0 + 10, 403, "forbidden",
                   KMS_ERR_AUTH);
    req_json(body, sizeof(body), f->s.btid, NAF, "0100000006");
    expect_refusal(f, "POST", KMS_BSF_ZN_PATH, &CERT_WRONG, body, f->s.expires, 403, "forbidden",
                   KMS_ERR_AUTH);
    /* The refusals for "no certificate" and "another name" are the same bytes on the wire. */
    struct kms_bsf_zn_reply a, b;
    run(f, "POST", KMS_BSF_ZN_PATH, &CERT_NONE, body, T0 + 10, &a);
    run(f, "POST", KMS_BSF_ZN_PATH, &CERT_WRONG, body, T0 + 10, &b);
    assert_int_equal(a.status, b.status);
    assert_int_equal(kms_buf_len(&a.body), kms_buf_len(&b.body));
    expect_bytes_eq(kms_buf_data(&a.body), kms_buf_data(&b.body), kms_buf_len(&a.body));
    assert_string_not_equal(a.detail, b.detail); /* only the log tells them apart */
    kms_bsf_zn_reply_cleanup(&a);
    kms_bsf_zn_reply_cleanup(&b);
}

static void refuses_bodies_that_do_not_decode(void **state)
{
    struct fx *f = *state;
    char body[512];
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"btid\":\"x\"}",
        "{\"naf_fqdn\":\"" NAF "\",\"ua_protocol_id\":\"0100000006\"}",
        "{\"btid\":1,\"naf_fqdn\":\"" NAF "\",\"ua_protocol_id\":\"0100000006\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kms_bsf_zn_reply r;
        run(f, "POST", KMS_BSF_ZN_PATH, &CERT_RIGHT, bad[i], T0 + 10, &r);
        enum kms_err why = r.why;
        kms_bsf_zn_reply_cleanup(&r);
        assert_true(kms_err_group(why) == KMS_ERR_G_PROTO || kms_err_group(why) == KMS_ERR_G_USAGE);
        expect_refusal(f, "POST", KMS_BSF_ZN_PATH, &CERT_RIGHT, bad[i], T0 + 10, 400, "bad_request",
                       why);
    }
    /* Bad Ua protocol ids: 4 octets, upper case, not hex; and a bad FQDN. */
    static const char *const ua[] = {"01000000", "010000000A", "01000000zz", "01000000066"};
    for (size_t i = 0; i < sizeof(ua) / sizeof(ua[0]); i++) {
        req_json(body, sizeof(body), f->s.btid, NAF, ua[i]);
        struct kms_bsf_zn_reply r;
        run(f, "POST", KMS_BSF_ZN_PATH, &CERT_RIGHT, body, T0 + 10, &r);
        enum kms_err why = r.why;
        kms_bsf_zn_reply_cleanup(&r);
        assert_int_not_equal(why, KMS_OK);
        expect_refusal(f, "POST", KMS_BSF_ZN_PATH, &CERT_RIGHT, body, T0 + 10, 400, "bad_request",
                       why);
    }
    req_json(body, sizeof(body), f->s.btid, "not an fqdn", "0100000006");
    struct kms_bsf_zn_reply r;
    run(f, "POST", KMS_BSF_ZN_PATH, &CERT_RIGHT, body, T0 + 10, &r);
    assert_int_equal(r.status, 400);
    kms_bsf_zn_reply_cleanup(&r);
}

static void unknown_and_expired_btids_are_not_found(void **state)
{
    struct fx *f = *state;
    char body[512];
    req_json(body, sizeof(body), UNKNOWN_BTID, NAF, "0100000006");
    expect_refusal(f, "POST", KMS_BSF_ZN_PATH, &CERT_RIGHT, body, T0 + 10, 404, "not_found",
                   KMS_ERR_NOT_FOUND);
    req_json(body, sizeof(body), f->s.btid, NAF, "0100000006");
    expect_refusal(f, "POST", KMS_BSF_ZN_PATH, &CERT_RIGHT, body, f->s.expires, 404, "not_found",
                   KMS_ERR_NOT_FOUND);
    /* One second before expiry it is still there. */
    struct kms_bsf_zn_reply r;
    run(f, "POST", KMS_BSF_ZN_PATH, &CERT_RIGHT, body, f->s.expires - 1, &r);
    assert_int_equal(r.status, 200);
    kms_bsf_zn_reply_cleanup(&r);
}

static void wrong_path_and_method(void **state)
{
    struct fx *f = *state;
    char body[512];
    req_json(body, sizeof(body), f->s.btid, NAF, "0100000006");
    expect_refusal(f, "POST", "/zn/v1/bootstrap-inf", &CERT_RIGHT, body, T0 + 10, 404, "not_found",
                   KMS_ERR_NO_ROUTE);
    expect_refusal(f, "POST", "/", &CERT_NONE, body, T0 + 10, 404, "not_found", KMS_ERR_NO_ROUTE);
    expect_refusal(f, "GET", KMS_BSF_ZN_PATH, &CERT_RIGHT, body, T0 + 10, 405, "method_not_allowed",
                   KMS_ERR_METHOD);
    expect_refusal(f, "post", KMS_BSF_ZN_PATH, &CERT_RIGHT, body, T0 + 10, 405,
                   "method_not_allowed", KMS_ERR_METHOD);
    /* The path before the method, the method before the certificate. */
    expect_refusal(f, "GET", "/x", &CERT_NONE, NULL, T0 + 10, 404, "not_found", KMS_ERR_NO_ROUTE);
    expect_refusal(f, "GET", KMS_BSF_ZN_PATH, &CERT_NONE, NULL, T0 + 10, 405, "method_not_allowed",
                   KMS_ERR_METHOD);
}

static void bad_arguments(void **state)
{
    struct fx *f = *state;
    struct kms_bsf_zn_reply r;
    kms_bsf_zn_reply_init(&r);
    expect_err(kms_bsf_zn_handle(NULL, "POST", KMS_BSF_ZN_PATH, &CERT_RIGHT, NULL, 0, T0, &r),
               KMS_ERR_ARG);
    expect_err(kms_bsf_zn_handle(f->b, "POST", KMS_BSF_ZN_PATH, &CERT_RIGHT, NULL, 3, T0, &r),
               KMS_ERR_ARG);
    expect_err(kms_bsf_zn_handle(f->b, "POST", KMS_BSF_ZN_PATH, NULL, NULL, 0, T0, &r),
               KMS_ERR_ARG);
    expect_err(kms_bsf_zn_http(&r, NULL), KMS_ERR_ARG);
    kms_bsf_zn_reply_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(delivers_ks_naf_to_the_named_naf, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(refuses_without_a_verified_certificate, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(refuses_a_certificate_naming_another_fqdn, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(refuses_bodies_that_do_not_decode, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(unknown_and_expired_btids_are_not_found, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(wrong_path_and_method, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(bad_arguments, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
