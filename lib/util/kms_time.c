/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_time.h"

#include <stdbool.h>
#include <string.h>

#ifdef KMS_TEST_CLOCK
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#endif

static bool is_leap(uint64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(uint64_t y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d, y >= 1970 (H. Hinnant's days_from_civil, unsigned form:
 * the era arithmetic starts at year 0 of the proleptic Gregorian calendar). */
static uint64_t days_from_civil(uint64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    uint64_t era = y / 400;
    uint64_t yoe = y - era * 400;
    uint64_t doy = (153 * (uint64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(uint64_t z, uint64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    uint64_t era = z / 146097;
    uint64_t doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void put_digits(char *p, uint64_t v, size_t n)
{
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
}

kms_result kms_time_format(uint64_t t, char out[KMS_TIME_STR_LEN])
{
    KMS_ENSURE_REF(out);
    out[0] = '\0';
    KMS_ENSURE(t <= KMS_TIME_MAX, KMS_ERR_ARG);
    uint64_t y;
    unsigned mo, d;
    civil_from_days(t / 86400, &y, &mo, &d);
    uint64_t s = t % 86400;
    memcpy(out, "0000-00-00T00:00:00Z", KMS_TIME_STR_LEN);
    put_digits(out, y, 4);
    put_digits(out + 5, mo, 2);
    put_digits(out + 8, d, 2);
    put_digits(out + 11, s / 3600, 2);
    put_digits(out + 14, s / 60 % 60, 2);
    put_digits(out + 17, s % 60, 2);
    return KMS_RESULT_OK;
}

/* n decimal digits at s[*i], advancing *i; false on a non-digit. */
static bool get_digits(const char *s, size_t *i, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t k = 0; k < n; k++) {
        char ch = s[*i + k];
        if (ch < '0' || ch > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(ch - '0');
    }
    *i += n;
    *out = v;
    return true;
}

kms_result kms_time_parse(const char *s, size_t n, uint64_t *t)
{
    KMS_ENSURE_REF(t);
    *t = 0;
    KMS_ENSURE(s != NULL || n == 0, KMS_ERR_ARG);
    /* The fixed part "YYYY-MM-DDTHH:MM:SS" is 19 characters, then at least "Z". */
    KMS_ENSURE(n >= 20 && n <= KMS_TIME_TEXT_MAX, KMS_ERR_MALFORMED);
    unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0; /* set on every path get_digits takes */
    size_t i = 0;
    bool ok = get_digits(s, &i, 4, &y) && s[i++] == '-' && get_digits(s, &i, 2, &mo) &&
              s[i++] == '-' && get_digits(s, &i, 2, &d) && s[i++] == 'T' &&
              get_digits(s, &i, 2, &h) && s[i++] == ':' && get_digits(s, &i, 2, &mi) &&
              s[i++] == ':' && get_digits(s, &i, 2, &se);
    KMS_ENSURE(ok, KMS_ERR_MALFORMED);
    KMS_ENSURE(y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= month_days(y, mo),
               KMS_ERR_MALFORMED);
    KMS_ENSURE(h <= 23 && mi <= 59 && se <= 59, KMS_ERR_MALFORMED);
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        KMS_ENSURE(i > start && i - start <= 9, KMS_ERR_MALFORMED);
    }
    /* i < n here: n >= 20 covers the fixed part, and the fraction loop stops at n. */
    KMS_ENSURE(i < n, KMS_ERR_MALFORMED);
    size_t rest = n - i;
    if (rest == 1) {
        KMS_ENSURE(s[i] == 'Z', KMS_ERR_MALFORMED);
    } else {
        unsigned oh, om;
        size_t j = i + 1;
        KMS_ENSURE(rest == 6 && (s[i] == '+' || s[i] == '-') && get_digits(s, &j, 2, &oh) &&
                       s[j++] == ':' && get_digits(s, &j, 2, &om) && oh <= 23 && om <= 59,
                   KMS_ERR_MALFORMED);
        /* RFC 3339 4.3: "-00:00" means "UTC, local offset unknown"; we want UTC stated. */
        KMS_ENSURE(s[i] == '+' && oh == 0 && om == 0, KMS_ERR_UNSUPPORTED);
    }
    *t = days_from_civil(y, mo, d) * 86400 + (uint64_t)h * 3600 + (uint64_t)mi * 60 + se;
    return KMS_RESULT_OK;
}

/* ---- the wall clock ---- */

#ifdef KMS_TEST_CLOCK
/* The variable is read once per process (the tests set it before they start a program), not on
 * every clock reading: kms_now is on every request's path. */
static const char *test_file;
static pthread_once_t test_file_once = PTHREAD_ONCE_INIT;

static void read_test_file_name(void)
{
    const char *f = getenv("IMSKMS_TEST_NOW_FILE");
    test_file = f != NULL && f[0] != '\0' ? f : NULL;
}
#endif

const char *kms_now_test_file(void)
{
#ifdef KMS_TEST_CLOCK
    (void)pthread_once(&test_file_once, read_test_file_name);
    return test_file;
#else
    return NULL;
#endif
}

#ifdef KMS_TEST_CLOCK
/* The offset in the test clock's file: an optional '-', then decimal digits; 0 for anything
 * else (a missing file included). */
static int64_t test_offset(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    (void)close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    char *end = NULL;
    long long v = strtoll(buf, &end, 10);
    if (end == buf || (*end != '\0' && *end != '\n')) {
        return 0;
    }
    return (int64_t)v;
}
#endif

void kms_now_ts(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
#ifdef KMS_TEST_CLOCK
    const char *f = kms_now_test_file();
    if (f != NULL) {
        int64_t t = (int64_t)ts->tv_sec + test_offset(f);
        ts->tv_sec = (time_t)(t > 0 ? t : 0);
    }
#endif
}

uint64_t kms_now(void)
{
    struct timespec ts;
    kms_now_ts(&ts);
    return ts.tv_sec > 0 ? (uint64_t)ts.tv_sec : 0;
}
