/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <string.h>
#include <time.h>

#include "util/kms_time.h"

static const struct {
    uint64_t t;
    const char *s;
} known[] = {
    {0, "1970-01-01T00:00:00Z"},
    {951782400, "2000-02-29T00:00:00Z"},
    {1711751774, "2024-03-29T22:36:14Z"}, /* protocol_facts.txt [bsfinfo go bsf] */
    {4107542400, "2100-03-01T00:00:00Z"}, /* 2100 is not a leap year (date -u -d) */
    {UINT64_C(253402300799), "9999-12-31T23:59:59Z"},
};

static void time_known_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        char buf[KMS_TIME_STR_LEN];
        uint64_t t = 1;
        expect_ok(kms_time_format(known[i].t, buf));
        assert_string_equal(buf, known[i].s);
        expect_ok(kms_time_parse(known[i].s, strlen(known[i].s), &t));
        assert_int_equal(t, known[i].t);
    }
}

/* gmtime_r (an independent implementation) agrees over a spread of times. */
static void time_agrees_with_gmtime(void **state)
{
    (void)state;
    for (uint64_t t = 0; t < UINT64_C(253402300799); t += UINT64_C(86399) * 367 + 12345) {
        time_t tt = (time_t)t;
        struct tm tm;
        char want[64], got[KMS_TIME_STR_LEN];
        assert_non_null(gmtime_r(&tt, &tm));
        assert_true(strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
        expect_ok(kms_time_format(t, got));
        assert_string_equal(got, want);
        uint64_t back = 0;
        expect_ok(kms_time_parse(got, strlen(got), &back));
        assert_int_equal(back, t);
    }
}

static void time_format_refuses_beyond_9999(void **state)
{
    (void)state;
    char buf[KMS_TIME_STR_LEN];
    expect_err(kms_time_format(UINT64_C(253402300800), buf), KMS_ERR_ARG);
    assert_string_equal(buf, "");
}

static void time_parse_accepts_fraction_and_plus_zero(void **state)
{
    (void)state;
    static const char *ok[] = {
        "2024-03-29T22:36:14.0Z",         "2024-03-29T22:36:14.999999999Z",
        "2024-03-29T22:36:14+00:00",      "2024-03-29T22:36:14.5+00:00",
        "2024-03-29T22:36:14.123456789Z",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t t = 0;
        expect_ok(kms_time_parse(ok[i], strlen(ok[i]), &t));
        assert_int_equal(t, 1711751774); /* fractions truncate */
    }
}

static void time_parse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        enum kms_err err;
    } bad[] = {
        {"", KMS_ERR_MALFORMED},
        {"2024-03-29T22:36:14", KMS_ERR_MALFORMED},             /* no zone */
        {"2024-03-29t22:36:14Z", KMS_ERR_MALFORMED},            /* lower-case t */
        {"2024-03-29T22:36:14z", KMS_ERR_MALFORMED},            /* lower-case z */
        {"2024-03-29 22:36:14Z", KMS_ERR_MALFORMED},            /* space */
        {"2024-02-30T00:00:00Z", KMS_ERR_MALFORMED},            /* no such day */
        {"2023-02-29T00:00:00Z", KMS_ERR_MALFORMED},            /* not a leap year */
        {"2100-02-29T00:00:00Z", KMS_ERR_MALFORMED},            /* not a leap year */
        {"2024-13-01T00:00:00Z", KMS_ERR_MALFORMED},            /* month 13 */
        {"2024-00-01T00:00:00Z", KMS_ERR_MALFORMED},            /* month 0 */
        {"2024-01-00T00:00:00Z", KMS_ERR_MALFORMED},            /* day 0 */
        {"2024-01-01T24:00:00Z", KMS_ERR_MALFORMED},            /* 24:00 */
        {"2024-01-01T00:60:00Z", KMS_ERR_MALFORMED},            /* minute 60 */
        {"2016-12-31T23:59:60Z", KMS_ERR_MALFORMED},            /* leap second */
        {"1969-12-31T23:59:59Z", KMS_ERR_MALFORMED},            /* before the epoch */
        {"12024-01-01T00:00:00Z", KMS_ERR_MALFORMED},           /* 5-digit year */
        {"2024-1-01T00:00:00Z", KMS_ERR_MALFORMED},             /* 1-digit month */
        {"2024-01-01T00:00:00.Z", KMS_ERR_MALFORMED},           /* empty fraction */
        {"2024-01-01T00:00:00.1234567890Z", KMS_ERR_MALFORMED}, /* 10 digits */
        {"2024-01-01T00:00:00ZZ", KMS_ERR_MALFORMED},
        {"2024-01-01T00:00:00Z ", KMS_ERR_MALFORMED},
        {" 2024-01-01T00:00:00Z", KMS_ERR_MALFORMED},
        {"2024-01-01T00:00:00+0000", KMS_ERR_MALFORMED},
        {"2024-01-01T00:00:00+24:00", KMS_ERR_MALFORMED},
        {"2024-01-01T00:00:00+01:00", KMS_ERR_UNSUPPORTED},
        {"2024-01-01T00:00:00-00:00", KMS_ERR_UNSUPPORTED},
        {"2024-01-01T00:00:00-05:30", KMS_ERR_UNSUPPORTED},
        {"+024-01-01T00:00:00Z", KMS_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t t = 7;
        kms_result r = kms_time_parse(bad[i].s, strlen(bad[i].s), &t);
        if (r.err != bad[i].err) {
            fail_msg("'%s': expected %s, got %s", bad[i].s, kms_err_name(bad[i].err),
                     kms_err_name(r.err));
        }
        assert_int_equal(t, 0);
    }
    /* An embedded NUL is just a bad character. */
    uint64_t t = 7;
    expect_err(kms_time_parse("2024-01-01T00:00:00\0", 20, &t), KMS_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_known_values),
        cmocka_unit_test(time_agrees_with_gmtime),
        cmocka_unit_test(time_format_refuses_beyond_9999),
        cmocka_unit_test(time_parse_accepts_fraction_and_plus_zero),
        cmocka_unit_test(time_parse_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
