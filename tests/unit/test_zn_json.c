/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gba/kms_zn_json.h"

#define BTID  "I1U8vpY3qJ0hiuZNrke/NQ==@bsf.mnc001.mcc001.pub.3gppnetwork.org"
#define IMPI  "001010123456789@ims.mnc001.mcc001.3gppnetwork.org"
#define KSNAF "46f9d0b4884f27f615cda6d9403d9c7f60fbff0755bf04e0094ee1088ccba48c"
#define REQ                                                                                        \
    "{\"btid\":\"" BTID "\",\"naf_fqdn\":\"kms.ims.mnc001.mcc001.3gppnetwork.org\","               \
    "\"ua_protocol_id\":\"0100000006\"}"
#define RESP                                                                                       \
    "{\"impi\":\"" IMPI "\",\"impus\":[\"sip:alice@ims.example.org\",\"tel:+15550100\"],"          \
    "\"ks_naf\":\"" KSNAF "\",\"bootstrap_time\":\"2024-03-29T21:36:14Z\","                        \
    "\"key_expiry\":\"2024-03-29T22:36:14Z\"}"

static kms_result dec_req(const char *s, struct kms_zn_req *q)
{
    size_t n = strlen(s);
    uint8_t *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    kms_result r = kms_zn_req_decode(p, n, q);
    free(p);
    return r;
}

static kms_result dec_resp(const char *s, struct kms_zn_resp *q)
{
    size_t n = strlen(s);
    uint8_t *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    kms_result r = kms_zn_resp_decode(p, n, q);
    free(p);
    return r;
}

static void assert_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(b[i], 0);
    }
}

static void zn_req_round_trip_exact(void **state)
{
    (void)state;
    struct kms_zn_req q;
    expect_ok(dec_req(REQ, &q));
    assert_string_equal(q.btid, BTID);
    assert_string_equal(q.naf_fqdn, "kms.ims.mnc001.mcc001.3gppnetwork.org");
    expect_bytes_eq(q.ua_id, KMS_UA_ID_KMS, KMS_UA_ID_LEN);
    struct kms_buf b;
    kms_buf_init(&b, 4096, false);
    expect_ok(kms_zn_req_encode(&q, &b));
    assert_int_equal(kms_buf_len(&b), strlen(REQ));
    expect_bytes_eq(kms_buf_data(&b), REQ, strlen(REQ));
    kms_buf_cleanup(&b);
}

static void zn_resp_round_trip_exact(void **state)
{
    (void)state;
    struct kms_zn_resp r;
    expect_ok(dec_resp(RESP, &r));
    assert_string_equal(r.impi, IMPI);
    assert_int_equal(r.n_impu, 2);
    assert_string_equal(r.impu[0], "sip:alice@ims.example.org");
    assert_string_equal(r.impu[1], "tel:+15550100");
    uint8_t k[32];
    th_hex(KSNAF, k, sizeof(k));
    expect_bytes_eq(r.ks_naf, k, 32);
    assert_int_equal(r.bootstrap_time, 1711751774 - 3600);
    assert_int_equal(r.key_expiry, 1711751774);
    struct kms_buf b;
    kms_buf_init(&b, 4096, true);
    expect_ok(kms_zn_resp_encode(&r, &b));
    assert_int_equal(kms_buf_len(&b), strlen(RESP));
    expect_bytes_eq(kms_buf_data(&b), RESP, strlen(RESP));
    kms_buf_cleanup(&b);
    kms_zn_resp_wipe(&r);
    assert_zero(&r, sizeof(r));
    /* no IMPU at all is a valid shape */
    expect_ok(dec_resp("{\"impi\":\"a@b\",\"impus\":[],\"ks_naf\":\"" KSNAF
                       "\",\"bootstrap_time\":\"2024-03-29T22:36:14Z\","
                       "\"key_expiry\":\"2024-03-29T22:36:14Z\"}",
                       &r));
    assert_int_equal(r.n_impu, 0);
}

static void zn_decode_tolerates(void **state)
{
    (void)state;
    struct kms_zn_req q;
    /* white space, other key order, unknown keys of any type, +00:00 and fractions */
    expect_ok(dec_req(" {\n \"ua_protocol_id\" : \"0100000006\", \"x\": {\"y\": [1, null]},\n"
                      "\"naf_fqdn\":\"kms.example.org\", \"btid\":\"a\\u0040b\"} \n",
                      &q));
    assert_string_equal(q.btid, "a@b");
    struct kms_zn_resp r;
    expect_ok(dec_resp("{\"key_expiry\":\"2024-03-29T22:36:14.9+00:00\",\"impus\":[\"sip:a@b\"],"
                       "\"bootstrap_time\":\"2024-03-29T22:36:14Z\",\"impi\":\"a@b\","
                       "\"future\":true,\"ks_naf\":\"" KSNAF "\"}",
                       &r));
    assert_int_equal(r.key_expiry, 1711751774);
}

static void zn_req_rejects(void **state)
{
    (void)state;
#define F "\"naf_fqdn\":\"kms.example.org\""
#define U "\"ua_protocol_id\":\"0100000006\""
    static const struct {
        const char *s;
        enum kms_err err;
    } bad[] = {
        {"", KMS_ERR_MALFORMED},
        {"[]", KMS_ERR_MALFORMED},
        {"\"x\"", KMS_ERR_MALFORMED},
        {"{\"btid\":\"a@b\"," F "," U "}x", KMS_ERR_MALFORMED},                 /* trailing */
        {"{\"btid\":\"a@b\"," F "," U "}{}", KMS_ERR_MALFORMED},                /* two objects */
        {"{\"btid\":\"a@b\"," F "," U ",\"btid\":\"a@b\"}", KMS_ERR_MALFORMED}, /* duplicate */
        {"{\"btid\":\"a@b\"," F "," U ",\"x\":{\"k\":1,\"k\":2}}", KMS_ERR_MALFORMED},
        {"{" F "," U "}", KMS_ERR_MALFORMED},            /* missing btid */
        {"{\"btid\":\"a@b\"," U "}", KMS_ERR_MALFORMED}, /* missing naf_fqdn */
        {"{\"btid\":\"a@b\"," F "}", KMS_ERR_MALFORMED}, /* missing ua id */
        {"{\"btid\":1," F "," U "}", KMS_ERR_MALFORMED}, /* not a string */
        {"{\"btid\":null," F "," U "}", KMS_ERR_MALFORMED},
        {"{\"btid\":[\"a@b\"]," F "," U "}", KMS_ERR_MALFORMED},
        {"{\"btid\":\"a\\u0000b\"," F "," U "}", KMS_ERR_MALFORMED}, /* NUL */
        {"{\"btid\":\"\"," F "," U "}", KMS_ERR_ARG},
        {"{\"btid\":\"a b\"," F "," U "}", KMS_ERR_NOT_ASCII},
        {"{\"btid\":\"a\\u00e9\"," F "," U "}", KMS_ERR_NOT_ASCII},
        {"{\"btid\":\"a@b\",\"naf_fqdn\":\"kms..org\"," U "}", KMS_ERR_ARG},
        {"{\"btid\":\"a@b\"," F ",\"ua_protocol_id\":\"0100000006ff\"}", KMS_ERR_MALFORMED},
        {"{\"btid\":\"a@b\"," F ",\"ua_protocol_id\":\"01000000\"}", KMS_ERR_MALFORMED},
        {"{\"btid\":\"a@b\"," F ",\"ua_protocol_id\":\"010000000A\"}", KMS_ERR_MALFORMED},
        {"{\"btid\":\"a@b\"," F ",\"ua_protocol_id\":256}", KMS_ERR_MALFORMED},
        {"{\"btid\":\"a@b\"," F "," U, KMS_ERR_MALFORMED}, /* truncated */
        {"{\"btid\":\"a@b\"," F "," U "\xff}", KMS_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kms_zn_req q;
        memset(&q, 0x55, sizeof(q));
        kms_result r = dec_req(bad[i].s, &q);
        if (r.err != bad[i].err) {
            fail_msg("#%zu: expected %s, got %s: %s", i, kms_err_name(bad[i].err),
                     kms_err_name(r.err), bad[i].s);
        }
        assert_zero(&q, sizeof(q));
    }
}

static void zn_resp_rejects(void **state)
{
    (void)state;
#define I  "\"impi\":\"a@b\""
#define IS "\"impus\":[\"sip:a@b\"]"
#define K  "\"ks_naf\":\"" KSNAF "\""
#define T  "\"bootstrap_time\":\"2024-03-29T22:36:14Z\",\"key_expiry\":\"2024-03-29T22:36:14Z\""
    static const struct {
        const char *s;
        enum kms_err err;
    } bad[] = {
        {"{" IS "," K "," T "}", KMS_ERR_MALFORMED},
        {"{" I "," K "," T "}", KMS_ERR_MALFORMED},
        {"{" I "," IS "," T "}", KMS_ERR_MALFORMED},
        {"{" I "," IS "," K "}", KMS_ERR_MALFORMED},
        {"{" I ",\"impus\":\"sip:a@b\"," K "," T "}", KMS_ERR_MALFORMED},
        {"{" I ",\"impus\":[1]," K "," T "}", KMS_ERR_MALFORMED},
        {"{" I ",\"impus\":[[\"sip:a@b\"]]," K "," T "}", KMS_ERR_MALFORMED},
        {"{" I ",\"impus\":[\"sip:a@b\",\"sip:a@b\"]," K "," T "}", KMS_ERR_MALFORMED},
        {"{" I ",\"impus\":[\"sip:a b\"]," K "," T "}", KMS_ERR_NOT_ASCII},
        {"{" I ",\"impus\":[\"\"]," K "," T "}", KMS_ERR_ARG},
        {"{" I ",\"impus\":[\"a\\u0000\"]," K "," T "}", KMS_ERR_MALFORMED},
        {"{" I ",\"impus\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]," K "," T "}",
         KMS_ERR_TOO_LONG},
        {"{\"impi\":\"\"," IS "," K "," T "}", KMS_ERR_ARG},
        {"{\"impi\":7," IS "," K "," T "}", KMS_ERR_MALFORMED},
        {"{" I "," IS ",\"ks_naf\":\"" KSNAF "00\"," T "}", KMS_ERR_MALFORMED},
        {"{" I "," IS ",\"ks_naf\":\"46f9\"," T "}", KMS_ERR_MALFORMED},
        {"{" I "," IS
         ",\"ks_naf\":\"46F9D0B4884F27F615CDA6D9403D9C7F60FBFF0755BF04E0094EE1088CCBA48C\"," T "}",
         KMS_ERR_MALFORMED},
        {"{" I "," IS
         ",\"ks_naf\":\"46f9d0b4884f27f615cda6d9403d9c7f60fbff0755bf04e0094ee1088ccba48g\"," T "}",
         KMS_ERR_MALFORMED},
        {"{" I "," IS "," K ",\"bootstrap_time\":\"2024-03-29T22:36:14\","
         "\"key_expiry\":\"2024-03-29T22:36:14Z\"}",
         KMS_ERR_MALFORMED},
        {"{" I "," IS "," K ",\"bootstrap_time\":\"2024-03-29T22:36:14Z\","
         "\"key_expiry\":\"2024-03-29T23:36:14+01:00\"}",
         KMS_ERR_UNSUPPORTED},
        {"{" I "," IS "," K ",\"bootstrap_time\":1711751774,"
         "\"key_expiry\":\"2024-03-29T22:36:14Z\"}",
         KMS_ERR_MALFORMED},
        {"{" I "," IS "," K ",\"bootstrap_time\":\"2024-03-29T22:36:14Z\","
         "\"key_expiry\":\"2024-03-29T22:36:13Z\"}",
         KMS_ERR_MALFORMED}, /* expires before it began */
        {"{" I "," IS "," K ",\"bootstrap_time\":\"2024-03-29T22:36:14Z and more text\","
         "\"key_expiry\":\"2024-03-29T22:36:14Z\"}",
         KMS_ERR_MALFORMED},
        {"{" I "," IS "," K "," T ",\"ks_naf\":\"" KSNAF "\"}", KMS_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kms_zn_resp r;
        memset(&r, 0x55, sizeof(r));
        kms_result rr = dec_resp(bad[i].s, &r);
        if (rr.err != bad[i].err) {
            fail_msg("#%zu: expected %s, got %s: %s", i, kms_err_name(bad[i].err),
                     kms_err_name(rr.err), bad[i].s);
        }
        assert_zero(&r, sizeof(r));
    }
}

static void zn_size_limit(void **state)
{
    (void)state;
    /* exactly 64 KiB of valid JSON passes; one octet more does not (white space padding) */
    size_t n = KMS_ZN_JSON_MAX;
    char *s = malloc(n + 2);
    assert_non_null(s);
    memset(s, ' ', n + 1);
    memcpy(s, REQ, strlen(REQ));
    s[n] = '\0';
    struct kms_zn_req q;
    expect_ok(kms_zn_req_decode((const uint8_t *)s, n, &q));
    expect_err(kms_zn_req_decode((const uint8_t *)s, n + 1, &q), KMS_ERR_TOO_LONG);
    /* deep nesting in an ignored key is jansson's to refuse, without recursion trouble */
    memset(s, '[', n);
    memcpy(s, "{\"x\":", 5);
    expect_err(kms_zn_req_decode((const uint8_t *)s, n, &q), KMS_ERR_MALFORMED);
    free(s);
}

static void zn_every_prefix_refused(void **state)
{
    (void)state;
    const char *docs[] = {REQ, RESP};
    for (size_t d = 0; d < 2; d++) {
        size_t n = strlen(docs[d]);
        for (size_t k = 0; k < n; k++) {
            uint8_t *p = malloc(k > 0 ? k : 1);
            assert_non_null(p);
            memcpy(p, docs[d], k);
            struct kms_zn_req q;
            struct kms_zn_resp r;
            kms_result e = d == 0 ? kms_zn_req_decode(p, k, &q) : kms_zn_resp_decode(p, k, &r);
            free(p);
            if (e.err != KMS_ERR_MALFORMED) {
                fail_msg("doc %zu prefix %zu: %s", d, k, kms_err_name(e.err));
            }
        }
    }
}

static void zn_encode_checks(void **state)
{
    (void)state;
    struct kms_buf b;
    kms_buf_init(&b, 4096, true);
    struct kms_zn_req q;
    memset(&q, 0, sizeof(q));
    expect_err(kms_zn_req_encode(&q, &b), KMS_ERR_ARG);
    strcpy(q.btid, "a@b");
    strcpy(q.naf_fqdn, "kms example");
    expect_err(kms_zn_req_encode(&q, &b), KMS_ERR_ARG);
    struct kms_zn_resp r;
    memset(&r, 0, sizeof(r));
    strcpy(r.impi, "a@b");
    r.n_impu = 9;
    expect_err(kms_zn_resp_encode(&r, &b), KMS_ERR_TOO_LONG);
    r.n_impu = 0;
    r.bootstrap_time = 10;
    r.key_expiry = 9;
    expect_err(kms_zn_resp_encode(&r, &b), KMS_ERR_ARG);
    assert_int_equal(kms_buf_len(&b), 0);
    /* a full buffer is left as it was */
    uint8_t small[40];
    struct kms_buf f;
    kms_buf_init_fixed(&f, small, sizeof(small), false);
    expect_ok(kms_buf_put_u8(&f, 'x'));
    strcpy(q.naf_fqdn, "kms.example.org");
    expect_err(kms_zn_req_encode(&q, &f), KMS_ERR_TOO_LONG);
    assert_int_equal(kms_buf_len(&f), 1);
    kms_buf_cleanup(&b);
}

static void zn_error_object(void **state)
{
    (void)state;
    struct kms_buf b;
    kms_buf_init(&b, 4096, false);
    expect_ok(kms_zn_error_encode("unknown_btid", "no bootstrap \"session\" for it", &b));
    const char *want = "{\"error\":\"unknown_btid\",\"detail\":\"no bootstrap \\\"session\\\" "
                       "for it\"}";
    assert_int_equal(kms_buf_len(&b), strlen(want));
    expect_bytes_eq(kms_buf_data(&b), want, strlen(want));
    struct kms_zn_error e;
    expect_ok(kms_zn_error_decode(kms_buf_data(&b), kms_buf_len(&b), &e));
    assert_string_equal(e.code, "unknown_btid");
    assert_string_equal(e.detail, "no bootstrap \"session\" for it");
    expect_ok(kms_zn_error_decode((const uint8_t *)"{\"error\":\"x\"}", 13, &e));
    assert_string_equal(e.detail, "");
    expect_err(kms_zn_error_encode("Bad", NULL, &b), KMS_ERR_ARG);
    expect_err(kms_zn_error_encode("", NULL, &b), KMS_ERR_ARG);
    expect_err(kms_zn_error_encode("x", "line\nbreak", &b), KMS_ERR_ARG);
    expect_err(kms_zn_error_decode((const uint8_t *)"{\"error\":\"X\"}", 13, &e),
               KMS_ERR_MALFORMED);
    expect_err(kms_zn_error_decode((const uint8_t *)"{\"detail\":\"x\"}", 14, &e),
               KMS_ERR_MALFORMED);
    expect_err(kms_zn_error_decode((const uint8_t *)"{\"error\":\"x\",\"detail\":1}", 24, &e),
               KMS_ERR_MALFORMED);
    kms_buf_cleanup(&b);
}

/* Ks_NAF passes through jansson: its allocator is the module's wiping one. */
static void zn_jansson_allocator_wipes(void **state)
{
    (void)state;
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    assert_true(m != malloc && f != free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zn_req_round_trip_exact), cmocka_unit_test(zn_resp_round_trip_exact),
        cmocka_unit_test(zn_decode_tolerates),     cmocka_unit_test(zn_req_rejects),
        cmocka_unit_test(zn_resp_rejects),         cmocka_unit_test(zn_size_limit),
        cmocka_unit_test(zn_every_prefix_refused), cmocka_unit_test(zn_encode_checks),
        cmocka_unit_test(zn_error_object),         cmocka_unit_test(zn_jansson_allocator_wipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
