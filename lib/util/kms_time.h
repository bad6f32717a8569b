/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTC timestamps as text: the one formatter and parser of "YYYY-MM-DDTHH:MM:SSZ" for every
 * protocol that carries one (the BootstrappingInfo <lifetime> of TS 24.109, an xs:dateTime;
 * the Zn JSON times, RFC 3339). Times are UNIX seconds (uint64_t), years 1970..9999.
 *
 * What the parser accepts (a strict subset that both RFC 3339 section 5.6 and XML Schema
 * xs:dateTime allow, and that is unambiguous as a UTC instant):
 *  - exactly 4-digit year, 2-digit month, day, hour, minute, second; a real calendar date
 *    (leap years included); hours 00..23, seconds 00..59 (no leap second 60, no 24:00:00);
 *  - upper-case 'T' and 'Z' only;
 *  - optional fractional seconds "." 1*9DIGIT, truncated (a time is never rounded later);
 *  - the zone "Z" or "+00:00" (the same instant); any other offset, "-00:00" (RFC 3339:
 *    "local offset unknown") and a missing zone are refused, because every peer of ours
 *    speaks UTC and a local time would be a silent misreading.
 * Formatting never writes a fraction and always writes "Z".
 * Calendar arithmetic is done here (proleptic Gregorian), not with gmtime/timegm, so the
 * result does not depend on the C library or the TZ variable.
 */
#ifndef KMS_UTIL_TIME_H
#define KMS_UTIL_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err/kms_err.h"

/* "YYYY-MM-DDTHH:MM:SSZ" plus the NUL. */
#define KMS_TIME_STR_LEN 21
/* 9999-12-31T23:59:59Z */
#define KMS_TIME_MAX UINT64_C(253402300799)
/* Longest text the parser accepts: 19 + "." + 9 digits + "+00:00". */
#define KMS_TIME_TEXT_MAX 35

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ" (NUL-terminated) into out.
 * KMS_ERR_ARG when t > KMS_TIME_MAX (out is then the empty string). */
KMS_MUST_CHECK kms_result kms_time_format(uint64_t t, char out[KMS_TIME_STR_LEN]);

/* Parses exactly n characters of s (no NUL needed, none allowed) as described above.
 * KMS_ERR_MALFORMED for anything else, KMS_ERR_UNSUPPORTED for a well-formed time with a
 * zone other than UTC; *t is 0 on failure. */
KMS_MUST_CHECK kms_result kms_time_parse(const char *s, size_t n, uint64_t *t);

/* The wall clock: every place the daemons and the CLI read the time of day goes through these
 * two (monotonic intervals, e.g. the keyring's recheck, do not). kms_now is UNIX seconds;
 * kms_now_ts the same instant with nanoseconds (the NTP timestamps of MIKEY).
 *
 * The test clock: only in builds configured with KMS_TEST_CLOCK=ON (the default and asan-ubsan
 * presets, which run the tests; a release build leaves it off and has no hook at all), and
 * only while the environment variable IMSKMS_TEST_NOW_FILE names a file, the clock is the real
 * one plus the signed number of seconds that file holds ("3600", "-5"). The file is read on
 * every call (a test moves time forward by rewriting it, and the next request sees the new
 * time); a missing or unreadable file counts as 0. The daemons log a warning at start while
 * it is active (kms_now_test_file). The variable itself is read once per process. */
uint64_t kms_now(void);
void kms_now_ts(struct timespec *ts);

/* The file named by IMSKMS_TEST_NOW_FILE when the test clock is built in and set; else NULL. */
const char *kms_now_test_file(void);

#endif
