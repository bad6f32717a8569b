/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err/kms_err.h"
#include "gba/kms_bsf_ub.h"
#include "gba/kms_bsf_zn.h"
#include "http/kms_httpd.h"
#include "kms/kms_service.h"
#include "mikey/kms_mikey.h"

static void every_code_has_a_distinct_name_and_a_message(void **state)
{
    (void)state;
    for (int i = 1; i < KMS_ERR_COUNT_; i++) {
        const char *name = kms_err_name((enum kms_err)i);
        const char *msg = kms_strerror((enum kms_err)i);
        assert_true(strncmp(name, "KMS_ERR_", 8) == 0);
        assert_true(strlen(msg) > 0);
        assert_null(strchr(msg, '\n'));
        for (int j = 1; j < i; j++) {
            assert_string_not_equal(name, kms_err_name((enum kms_err)j));
            assert_string_not_equal(msg, kms_strerror((enum kms_err)j));
        }
    }
}

static void unknown_codes_are_handled(void **state)
{
    (void)state;
    assert_string_equal(kms_strerror((enum kms_err)9999), "unknown error");
    assert_string_equal(kms_err_name((enum kms_err) - 1), "KMS_ERR_UNKNOWN");
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, (enum kms_err)9999).status, 500);
    assert_int_equal(kms_err_exit_status((enum kms_err)9999), 3);
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, (enum kms_err)9999).mikey_err,
                     12); /* Unspecified */
    assert_int_equal(kms_wire_of(KMS_IFACE_UB, (enum kms_err)9999).status, 500);
    assert_string_equal(kms_wire_of(KMS_IFACE_ZN, (enum kms_err)9999).zn_code, "internal");
    assert_int_equal(kms_wire_of((enum kms_iface)7, KMS_ERR_AUTH).status, 500);
}

static void groups_map_to_exit_status_and_http(void **state)
{
    (void)state;
    assert_int_equal(kms_err_exit_status(KMS_OK), 0);
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, KMS_OK).status, 200);
    assert_int_equal(kms_wire_of(KMS_IFACE_UB, KMS_OK).status, 200);
    assert_int_equal(kms_wire_of(KMS_IFACE_ZN, KMS_OK).status, 200);
    assert_null(kms_wire_of(KMS_IFACE_ZN, KMS_OK).zn_code);
    assert_int_equal(kms_err_exit_status(KMS_ERR_MAC_S), 1);
    assert_int_equal(kms_err_exit_status(KMS_ERR_SQN_STALE), 1);
    assert_int_equal(kms_err_exit_status(KMS_ERR_BAD_HEX), 2);
    assert_int_equal(kms_err_exit_status(KMS_ERR_TRUNCATED), 2);
    assert_int_equal(kms_err_exit_status(KMS_ERR_NOMEM), 3);
    assert_int_equal(kms_err_exit_status(KMS_ERR_CRYPTO), 3);
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_MALFORMED).mikey_err, 12);
    /* A body of a media type not served: 415 (RFC 9110 15.5.16) everywhere, ERR 12 on the KMS. */
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_MEDIA_TYPE).status, 415);
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_MEDIA_TYPE).mikey_err, 12);
    assert_int_equal(kms_wire_of(KMS_IFACE_UB, KMS_ERR_MEDIA_TYPE).status, 415);
    assert_int_equal(kms_wire_of(KMS_IFACE_ZN, KMS_ERR_MEDIA_TYPE).status, 415);
    assert_string_equal(kms_wire_of(KMS_IFACE_ZN, KMS_ERR_MEDIA_TYPE).zn_code,
                        "unsupported_media_type");
}

/* ---- the table through each interface's reply builder ---- */

#define WIRE_MAX 512

/* The KMS's refusal for why (kms_service_refuse) as it goes on the wire, with the one
 * time-dependent field masked: the value of T. Checks the Error message against the table, and
 * that it carries IDRkms (the KMS's name, role 3) exactly when idrkms is set. */
static size_t kms_wire_bytes_as(enum kms_err why, uint32_t csb_id, const char *idrkms,
                                uint8_t out[WIRE_MAX])
{
    struct kms_service_reply r;
    kms_service_reply_init(&r);
    r.idrkms = idrkms;
    expect_ok(kms_service_refuse(&r, why, csb_id));
    struct kms_wire w = kms_wire_of(KMS_IFACE_KMS, why);
    assert_int_equal(r.status, w.status);
    assert_int_equal(r.why, why);
    size_t n = kms_buf_len(&r.body);
    assert_true(n > 0 && n <= WIRE_MAX);
    memcpy(out, kms_buf_data(&r.body), n);
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    size_t eo = 0;
    expect_ok(kms_mikey_decode(out, n, m, &eo));
    assert_int_equal(m->hdr.data_type, KMS_MIKEY_DT_ERROR);
    assert_int_equal(m->hdr.csb_id, csb_id);
    bool t = false, err = false;
    size_t idr = 0;
    for (size_t i = 0; i < m->body.n; i++) {
        const struct kms_mikey_payload *pl = &m->body.pl[i];
        assert_int_not_equal(pl->type, KMS_MIKEY_PT_V); /* a refusal authenticates nothing */
        if (pl->type == KMS_MIKEY_PT_IDR) {
            assert_non_null(idrkms);
            assert_int_equal(pl->u.id.role, 3); /* IDRkms (RFC 6043 6.6) */
            assert_int_equal(pl->u.id.data.len, strlen(idrkms));
            assert_memory_equal(pl->u.id.data.p, idrkms, strlen(idrkms));
            idr++;
        }
        if (pl->type == KMS_MIKEY_PT_T) {
            assert_true(pl->len >= 8);
            memset(out + pl->off + pl->len - 8, 0, 8); /* the NTP-UTC value */
            t = true;
        } else if (pl->type == KMS_MIKEY_PT_ERR) {
            assert_int_equal(pl->u.err.err_no, w.mikey_err);
            err = true;
        }
    }
    assert_true(t && err);
    assert_int_equal(idr, idrkms != NULL ? 1 : 0);
    free(m);
    kms_service_reply_cleanup(&r);
    return n;
}

static size_t kms_wire_bytes(enum kms_err why, uint32_t csb_id, uint8_t out[WIRE_MAX])
{
    return kms_wire_bytes_as(why, csb_id, NULL, out);
}

static void every_code_through_the_kms_reply_builder(void **state)
{
    (void)state;
    uint8_t auth[WIRE_MAX], got[WIRE_MAX];
    size_t auth_n = kms_wire_bytes(KMS_ERR_AUTH, 0x01020304, auth);
    for (int i = 1; i < KMS_ERR_COUNT_; i++) {
        enum kms_err e = (enum kms_err)i;
        size_t n = kms_wire_bytes(e, 0x01020304, got);
        int status = kms_wire_of(KMS_IFACE_KMS, e).status;
        assert_true(status == 400 || status == 403 || status == 404 || status == 405 ||
                    status == 413 || status == 415 || status == 500 || status == 503);
        if (kms_err_group(e) == KMS_ERR_G_AUTH) {
            /* Every authentication failure is one answer: 403, ERR 0, byte for byte. */
            assert_int_equal(status, 403);
            assert_int_equal(n, auth_n);
            assert_memory_equal(got, auth, n);
        } else if (e != KMS_ERR_NOT_FOUND) {
            /* ... and nothing else answers like one (an unknown token is one). */
            assert_false(n == auth_n && memcmp(got, auth, n) == 0);
        }
    }
    /* With the KMS's name in every Error (IDRkms): still one answer for every authentication
     * failure, byte for byte, and nothing else answers like one; the name is the same in each,
     * so it tells nothing about the check that failed. */
    auth_n = kms_wire_bytes_as(KMS_ERR_AUTH, 0x01020304, "kms.example.org", auth);
    for (int i = 1; i < KMS_ERR_COUNT_; i++) {
        enum kms_err e = (enum kms_err)i;
        size_t n = kms_wire_bytes_as(e, 0x01020304, "kms.example.org", got);
        if (kms_err_group(e) == KMS_ERR_G_AUTH) {
            assert_int_equal(n, auth_n);
            assert_memory_equal(got, auth, n);
        } else if (e != KMS_ERR_NOT_FOUND) {
            assert_false(n == auth_n && memcmp(got, auth, n) == 0);
        }
    }
    /* The policy refusal's number is RFC 6043's Invalid TPpar, its status a 403. */
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_POLICY).mikey_err, 15);
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_POLICY).status, 403);
}

/* The headers a refusal carries: none, or for a 503 of the server's own state exactly
 * Imskms-Reason (the table's) and Retry-After (its default seconds). */
static void expect_busy_headers(const struct kms_http_resp *resp, struct kms_wire w)
{
    if (w.reason == NULL) {
        assert_int_equal(resp->n_hdrs, 0);
        return;
    }
    assert_int_equal(w.status, 503);
    assert_int_equal(resp->n_hdrs, 2);
    assert_string_equal(resp->hdrs[0].name, "Imskms-Reason");
    assert_string_equal(resp->hdrs[0].value, w.reason);
    assert_string_equal(resp->hdrs[1].name, "Retry-After");
    char v[16];
    snprintf(v, sizeof(v), "%u", w.retry_after);
    assert_string_equal(resp->hdrs[1].value, v);
}

/* docs/api.md: the reasons a 503 may name, and which code names which. No authentication
 * failure names one, on any interface (a reason would tell which check failed). */
static void busy_reasons_follow_the_table(void **state)
{
    (void)state;
    static const char *const allowed[] = {"zn-unavailable", "store-unavailable", "starting",
                                          "overloaded"};
    for (int i = 0; i < KMS_ERR_COUNT_; i++) {
        enum kms_err e = (enum kms_err)i;
        for (int f = KMS_IFACE_KMS; f <= KMS_IFACE_ZN; f++) {
            struct kms_wire w = kms_wire_of((enum kms_iface)f, e);
            if (w.reason == NULL) {
                assert_int_equal(w.retry_after, 0);
                continue;
            }
            assert_int_equal(w.status, 503);
            assert_true(w.retry_after >= 1 && w.retry_after <= 60);
            assert_int_not_equal(kms_err_group(e), KMS_ERR_G_AUTH);
            bool known = false;
            for (size_t j = 0; j < sizeof allowed / sizeof allowed[0]; j++) {
                known = known || strcmp(w.reason, allowed[j]) == 0;
            }
            assert_true(known);
        }
    }
    assert_string_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_ZN_UNAVAILABLE).reason,
                        "zn-unavailable");
    assert_string_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_STORE).reason, "store-unavailable");
    assert_string_equal(kms_wire_of(KMS_IFACE_UB, KMS_ERR_STORE).reason, "store-unavailable");
    assert_string_equal(kms_wire_of(KMS_IFACE_ZN, KMS_ERR_STORE).reason, "store-unavailable");
    assert_string_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_REPLAY_RESTART).reason, "starting");
    assert_string_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_REPLAY_FULL).reason, "overloaded");
    /* The Ub rate limit is the client's own doing: 429 with its Retry-After, no reason. */
    assert_int_equal(kms_wire_of(KMS_IFACE_UB, KMS_ERR_RATE).status, 429);
    assert_null(kms_wire_of(KMS_IFACE_UB, KMS_ERR_RATE).reason);
    assert_null(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_INTERNAL).reason);

    /* The HTTP layer's adapter: a given Retry-After wins over the table's. */
    struct kms_http_resp resp;
    memset(&resp, 0, sizeof(resp));
    expect_ok(kms_http_resp_busy(&resp, KMS_IFACE_KMS, KMS_ERR_REPLAY_RESTART, 17));
    assert_int_equal(resp.n_hdrs, 2);
    assert_string_equal(resp.hdrs[0].value, "starting");
    assert_string_equal(resp.hdrs[1].value, "17");
    memset(&resp, 0, sizeof(resp));
    expect_ok(kms_http_resp_busy(&resp, KMS_IFACE_KMS, KMS_ERR_AUTH, 17));
    assert_int_equal(resp.n_hdrs, 0);
}

/* The Ub reply for a verdict of why, as HTTP. */
static void ub_wire(enum kms_err why, struct kms_http_resp *resp)
{
    struct kms_bsf_ub_reply r;
    kms_bsf_ub_reply_init(&r);
    kms_bsf_ub_verdict(&r, why);
    memset(resp, 0, sizeof(*resp));
    kms_buf_init(&resp->body, 4096, false);
    expect_ok(kms_bsf_ub_http(&r, resp));
    kms_bsf_ub_reply_cleanup(&r);
}

static void every_code_through_the_ub_reply_builder(void **state)
{
    (void)state;
    for (int i = 1; i < KMS_ERR_COUNT_; i++) {
        enum kms_err e = (enum kms_err)i;
        struct kms_http_resp resp;
        ub_wire(e, &resp);
        int status = kms_wire_of(KMS_IFACE_UB, e).status;
        assert_int_equal(resp.status, status);
        assert_true(status == 400 || status == 401 || status == 404 || status == 405 ||
                    status == 413 || status == 415 || status == 429 || status == 500 ||
                    status == 503);
        /* A refusal carries nothing of its own: no header (no new challenge), no body; a 503
         * of the server's own state only its reason and Retry-After. */
        expect_busy_headers(&resp, kms_wire_of(KMS_IFACE_UB, e));
        assert_int_equal(kms_buf_len(&resp.body), 0);
        assert_null(resp.content_type);
        if (kms_err_group(e) == KMS_ERR_G_AUTH) {
            assert_int_equal(status, 401); /* RFC 2617: every failed authentication */
        }
        kms_buf_cleanup(&resp.body);
    }
}

/* The Zn reply for a refusal of why, as HTTP: status, Content-Type and the JSON body. */
static void zn_wire(enum kms_err why, struct kms_http_resp *resp)
{
    struct kms_bsf_zn_reply r;
    kms_bsf_zn_reply_init(&r);
    kms_bsf_zn_refuse(&r, why, "test", NULL);
    memset(resp, 0, sizeof(*resp));
    kms_buf_init(&resp->body, 4096, false);
    expect_ok(kms_bsf_zn_http(&r, resp));
    kms_bsf_zn_reply_cleanup(&r);
}

static void every_code_through_the_zn_reply_builder(void **state)
{
    (void)state;
    struct kms_http_resp auth;
    zn_wire(KMS_ERR_AUTH, &auth);
    for (int i = 1; i < KMS_ERR_COUNT_; i++) {
        enum kms_err e = (enum kms_err)i;
        struct kms_wire w = kms_wire_of(KMS_IFACE_ZN, e);
        struct kms_http_resp resp;
        zn_wire(e, &resp);
        assert_int_equal(resp.status, w.status);
        assert_true(w.status == 400 || w.status == 403 || w.status == 404 || w.status == 405 ||
                    w.status == 413 || w.status == 415 || w.status == 500 || w.status == 503);
        assert_non_null(resp.content_type);
        expect_busy_headers(&resp, w);
        /* docs/api.md: always {"error": "<code>", "detail": "<text>"} with the table's code. */
        char want[64];
        snprintf(want, sizeof(want), "{\"error\":\"%s\"", w.zn_code);
        assert_true(kms_buf_len(&resp.body) > strlen(want));
        assert_memory_equal(kms_buf_data(&resp.body), want, strlen(want));
        if (kms_err_group(e) == KMS_ERR_G_AUTH) {
            assert_int_equal(resp.status, 403);
            assert_int_equal(kms_buf_len(&resp.body), kms_buf_len(&auth.body));
            assert_memory_equal(kms_buf_data(&resp.body), kms_buf_data(&auth.body),
                                kms_buf_len(&auth.body));
            assert_int_equal(resp.n_hdrs, auth.n_hdrs);
        }
        kms_buf_cleanup(&resp.body);
    }
    kms_buf_cleanup(&auth.body);
}

static void kms_err_records_where(void **state)
{
    (void)state;
    int line = 0;
    kms_result r = KMS_ERR(KMS_ERR_TRAILING);
    int expect = __LINE__ - 1;
    assert_int_equal(r.err, KMS_ERR_TRAILING);
    assert_non_null(strstr(kms_err_where(&line), "test_err.c"));
    assert_int_equal(line, expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_distinct_name_and_a_message),
        cmocka_unit_test(unknown_codes_are_handled),
        cmocka_unit_test(groups_map_to_exit_status_and_http),
        cmocka_unit_test(every_code_through_the_kms_reply_builder),
        cmocka_unit_test(every_code_through_the_ub_reply_builder),
        cmocka_unit_test(every_code_through_the_zn_reply_builder),
        cmocka_unit_test(busy_reasons_follow_the_table),
        cmocka_unit_test(kms_err_records_where),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
