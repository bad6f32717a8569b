/* SPDX-License-Identifier: Apache-2.0 */
/* Observability: the log line formats (lib/util/kms_log: logfmt and JSON, quoting, escapes,
 * a cut line still well-formed), the Prometheus text exposition format 0.0.4 and the readiness
 * JSON (src/common/kms_metrics), and the request hook's counters and histogram. The expected
 * texts are written by hand from the formats' rules: logfmt (key=value, values with a space,
 * '=', '"' or '\' quoted with backslash escapes), JSON (RFC 8259 strings), and the exposition
 * format ("Prometheus text exposition format": label values escape \, " and newline; HELP
 * escapes \ and newline; histogram buckets are cumulative and end at le="+Inf"). */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms_metrics.h"
#include "util/kms_log.h"

static const char ts[] = "2026-01-02T03:04:05Z";

static void test_logfmt(void **state)
{
    (void)state;
    char line[512];
    struct kms_log_kv kv[] = {
        {"status", "403", true}, {"client", "127.0.0.1", false}, {"skipped", NULL, false},
        {"path", "", false},     {"id", "a b\"c\\d", false},
    };
    size_t n = kms_log_format_line(line, sizeof(line), KMS_LOG_LOGFMT, ts, "imskms-kmsd",
                                   KMS_LOG_WARN, "request", kv, 5, "x=y\nforged level=error");
    const char *want = "time=2026-01-02T03:04:05Z level=warn prog=imskms-kmsd event=request "
                       "status=403 client=127.0.0.1 path=\"\" id=\"a b\\\"c\\\\d\" "
                       "msg=\"x=y?forged level=error\"\n";
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));
}

static void test_json(void **state)
{
    (void)state;
    char line[512];
    struct kms_log_kv kv[] = {
        {"status", "403", true},
        {"client", "127.0.0.1", false},
        {"skipped", NULL, false},
        {"id", "a b\"c\\d\xc3\xa9", false},
    };
    kms_log_format_line(line, sizeof(line), KMS_LOG_JSON, ts, "imskms-bsfd", KMS_LOG_DEBUG, "log",
                        kv, 4, "tab\there");
    assert_string_equal(line, "{\"time\":\"2026-01-02T03:04:05Z\",\"level\":\"debug\","
                              "\"prog\":\"imskms-bsfd\",\"event\":\"log\",\"status\":403,"
                              "\"client\":\"127.0.0.1\",\"id\":\"a b\\\"c\\\\d??\","
                              "\"msg\":\"tab?here\"}\n");
}

/* Unescaped double quotes in a line: even when every quoted value is closed. */
static size_t quotes(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        if (*s == '\\') {
            s++;
            if (*s == '\0') {
                break;
            }
        } else if (*s == '"') {
            n++;
        }
    }
    return n;
}

/* A line too long for its buffer is cut inside a value (or drops the fields that do not fit)
 * and is still closed: a JSON object, a logfmt line whose quotes are closed. */
static void test_cut(void **state)
{
    (void)state;
    char msg[3000];
    memset(msg, 'a', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    msg[100] = '"'; /* an escape pair near where lines get cut */
    char line[200];
    struct kms_log_kv kv[] = {{"status", "200", true}};
    for (size_t cap = 64; cap <= sizeof(line); cap++) {
        size_t n =
            kms_log_format_line(line, cap, KMS_LOG_JSON, ts, "p", KMS_LOG_INFO, "e", kv, 1, msg);
        assert_true(n < cap);
        assert_int_equal(strlen(line), n);
        assert_int_equal(line[0], '{');
        assert_string_equal(line + n - 2, "}\n");
        assert_int_equal(quotes(line) % 2, 0);
        n = kms_log_format_line(line, cap, KMS_LOG_LOGFMT, ts, "p", KMS_LOG_INFO, "e", kv, 1, msg);
        assert_true(n < cap);
        assert_int_equal(line[n - 1], '\n');
        assert_int_equal(quotes(line) % 2, 0);
        assert_true(strchr(line, '\n') == line + n - 1);
    }
    /* Room enough: the whole message. */
    char big[KMS_LOG_LINE_MAX];
    size_t n = kms_log_format_line(big, sizeof(big), KMS_LOG_LOGFMT, ts, "p", KMS_LOG_INFO, "e",
                                   NULL, 0, "short");
    assert_string_equal(big, "time=2026-01-02T03:04:05Z level=info prog=p event=e msg=short\n");
    assert_int_equal(n, strlen(big));
}

static void test_parse_names(void **state)
{
    (void)state;
    enum kms_log_format f = KMS_LOG_LOGFMT;
    assert_true(kms_log_format_parse("json", &f));
    assert_int_equal(f, KMS_LOG_JSON);
    assert_true(kms_log_format_parse("logfmt", &f));
    assert_int_equal(f, KMS_LOG_LOGFMT);
    assert_false(kms_log_format_parse("JSON", &f));
    assert_false(kms_log_format_parse("text", &f));
    assert_string_equal(kms_log_format_name(KMS_LOG_JSON), "json");
}

static void test_prom_text(void **state)
{
    (void)state;
    struct kms_buf b;
    kms_buf_init(&b, 4096, false);
    struct kms_prom p = {.out = &b};
    kms_prom_family(&p, "x_total", "counter", "a\\b\nc \"q\"");
    struct kms_prom_label l[] = {{"l", "a\"b\\c\nd"}, {"m", NULL}};
    kms_prom_u64(&p, "x_total", l, 2, 7);
    kms_prom_u64(&p, "y", NULL, 0, 18446744073709551615u);
    kms_prom_i64(&p, "z", NULL, 0, -3);
    kms_prom_us(&p, "s", l, 1, 1500001);
    assert_true(kms_ok(kms_prom_result(&p)));
    const char *want = "# HELP x_total a\\\\b\\nc \"q\"\n"
                       "# TYPE x_total counter\n"
                       "x_total{l=\"a\\\"b\\\\c\\nd\",m=\"\"} 7\n"
                       "y 18446744073709551615\n"
                       "z -3\n"
                       "s{l=\"a\\\"b\\\\c\\nd\"} 1.500001\n";
    assert_int_equal(kms_buf_len(&b), strlen(want));
    assert_memory_equal(kms_buf_data(&b), want, strlen(want));
    kms_buf_cleanup(&b);
    /* A full buffer is reported, not cut silently. */
    kms_buf_init(&b, 16, false);
    p = (struct kms_prom){.out = &b};
    kms_prom_family(&p, "a_long_metric_name", "gauge", "help");
    assert_int_equal(kms_prom_result(&p).err, KMS_ERR_TOO_LONG);
    kms_buf_cleanup(&b);
}

static void test_ready_json(void **state)
{
    (void)state;
    struct kms_ready r = {0};
    kms_ready_add(&r, "keyring", true, true, "key %d active", 3);
    kms_ready_add(&r, "bsf", false, false, "down \"x\"\n");
    assert_true(kms_ready_ok(&r));
    struct kms_buf b;
    kms_buf_init(&b, 4096, false);
    assert_true(kms_ok(kms_ready_json(&r, &b)));
    const char *want = "{\"ready\":true,\"checks\":["
                       "{\"name\":\"keyring\",\"ok\":true,\"required\":true,\"detail\":\"key 3 "
                       "active\"},"
                       "{\"name\":\"bsf\",\"ok\":false,\"required\":false,\"detail\":\"down "
                       "\\\"x\\\"\\u000a\"}]}\n";
    assert_int_equal(kms_buf_len(&b), strlen(want));
    assert_memory_equal(kms_buf_data(&b), want, strlen(want));
    kms_ready_add(&r, "restart_window", false, true, "open");
    assert_false(kms_ready_ok(&r));
    kms_buf_reset(&b);
    assert_true(kms_ok(kms_ready_json(&r, &b)));
    assert_memory_equal(kms_buf_data(&b), "{\"ready\":false,", 15);
    kms_buf_cleanup(&b);
}

static void done(struct kms_metrics *m, const struct kms_httpd_cfg *hc, int status,
                 enum kms_err code, uint64_t us, bool probe)
{
    struct kms_http_note note = {.code = code, .level = -1, .probe = probe};
    struct kms_http_done d = {.iface = KMS_IFACE_KMS,
                              .request_id = "0123456789abcdef",
                              .peer_addr = "127.0.0.1",
                              .method = "POST",
                              .path = "/mikey",
                              .status = status,
                              .duration_us = us,
                              .note = &note};
    (void)m;
    hc->done(hc->done_ctx, &d);
}

static bool has_line(const struct kms_buf *b, const char *line)
{
    char *text = strndup((const char *)kms_buf_data(b), kms_buf_len(b));
    assert_non_null(text);
    bool found = false;
    for (char *p = text; p != NULL && !found;) {
        char *nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        found = strcmp(p, line) == 0;
        p = nl != NULL ? nl + 1 : NULL;
    }
    free(text);
    return found;
}

static void test_counters(void **state)
{
    (void)state;
    kms_log_set_level(KMS_LOG_ERROR); /* the request lines are not under test here */
    struct kms_metrics *m = kms_metrics_new("imskms-test");
    assert_non_null(m);
    struct kms_httpd_cfg hc = {0};
    kms_metrics_hook(m, KMS_MIF_KMS, &hc);
    assert_non_null(hc.done);
    done(m, &hc, 200, KMS_OK, 90, false);              /* le 0.0001 */
    done(m, &hc, 403, KMS_ERR_REPLAY, 150, false);     /* le 0.00025 */
    done(m, &hc, 403, KMS_ERR_REPLAY, 2500000, false); /* le 2.5 */
    done(m, &hc, 503, KMS_OK, 20000000, false);        /* +Inf, code NONE */
    done(m, &hc, 200, KMS_OK, 10, true);               /* a probe: not counted */
    assert_int_equal(kms_metrics_code_count(m, KMS_MIF_KMS, KMS_ERR_REPLAY), 2);
    assert_int_equal(kms_metrics_code_count(m, KMS_MIF_KMS, KMS_OK), 1); /* the 503 is NONE */
    assert_int_equal(kms_metrics_code_count(m, KMS_MIF_UB, KMS_ERR_REPLAY), 0);
    struct kms_buf b;
    kms_buf_init(&b, 1u << 20, false);
    assert_true(kms_ok(kms_metrics_render(m, 0, &b)));
    assert_true(
        has_line(&b, "imskms_requests_total{interface=\"kms\",status=\"200\",code=\"OK\"} 1"));
    assert_true(has_line(
        &b, "imskms_requests_total{interface=\"kms\",status=\"403\",code=\"KMS_ERR_REPLAY\"} 2"));
    assert_true(
        has_line(&b, "imskms_requests_total{interface=\"kms\",status=\"503\",code=\"NONE\"} 1"));
    assert_true(has_line(
        &b, "imskms_request_duration_seconds_bucket{interface=\"kms\",le=\"0.000100\"} 1"));
    assert_true(has_line(
        &b, "imskms_request_duration_seconds_bucket{interface=\"kms\",le=\"0.000250\"} 2"));
    assert_true(has_line(
        &b, "imskms_request_duration_seconds_bucket{interface=\"kms\",le=\"1.000000\"} 2"));
    assert_true(has_line(
        &b, "imskms_request_duration_seconds_bucket{interface=\"kms\",le=\"2.500000\"} 3"));
    assert_true(
        has_line(&b, "imskms_request_duration_seconds_bucket{interface=\"kms\",le=\"+Inf\"} 4"));
    assert_true(has_line(&b, "imskms_request_duration_seconds_count{interface=\"kms\"} 4"));
    assert_true(has_line(&b, "imskms_request_duration_seconds_sum{interface=\"kms\"} 22.500240"));
    /* Only the interfaces the daemon serves. */
    char *text = strndup((const char *)kms_buf_data(&b), kms_buf_len(&b));
    assert_non_null(text);
    assert_null(strstr(text, "interface=\"ub\""));
    free(text);
    /* No source: ready (no check fails). */
    assert_true(has_line(&b, "imskms_ready 1"));
    kms_buf_cleanup(&b);
    kms_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logfmt),    cmocka_unit_test(test_json),
        cmocka_unit_test(test_cut),       cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_prom_text), cmocka_unit_test(test_ready_json),
        cmocka_unit_test(test_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
