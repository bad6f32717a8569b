/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_log: one line per event on stderr, in one of two formats (docs/cli.md, "Logs"):
 *   logfmt (default): time=2026-01-02T03:04:05Z level=info prog=imskms-kmsd event=log msg="..."
 *   json:             {"time":"...","level":"info","prog":"imskms-kmsd","event":"log","msg":"..."}
 * with, between event and msg, the fields of kms_log_kv (a request's status, client address,
 * request id, ...). Daemons log through this only. Never pass key material, PINs, RES/XRES or
 * whole requests: log identities, codes and where an error was raised (kms_err_where).
 * IMPIs and IMPUs are personal data (docs/deploy.md, "Personal data"): they appear in request
 * lines, never in metrics.
 */
#ifndef KMS_UTIL_LOG_H
#define KMS_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum kms_log_level {
    KMS_LOG_ERROR = 0,
    KMS_LOG_WARN = 1,
    KMS_LOG_INFO = 2,
    KMS_LOG_DEBUG = 3,
};

enum kms_log_format {
    KMS_LOG_LOGFMT = 0,
    KMS_LOG_JSON = 1,
};

/* The program name on every line and the most verbose level written (default INFO). */
void kms_log_init(const char *prog, enum kms_log_level max);
/* Changes the most verbose level written, at any time from any thread (a SIGHUP reload). */
void kms_log_set_level(enum kms_log_level max);
enum kms_log_level kms_log_level(void);
/* Whether a line of level lvl is written now. */
bool kms_log_enabled(enum kms_log_level lvl);
/* "error", "warn", "info", "debug". */
const char *kms_log_level_name(enum kms_log_level l);
/* "error", "warn", "info", "debug" -> level; false for anything else. */
bool kms_log_level_parse(const char *s, enum kms_log_level *out);

/* Changes the line format, at any time from any thread (default logfmt). */
void kms_log_set_format(enum kms_log_format f);
enum kms_log_format kms_log_format(void);
/* "logfmt", "json". */
const char *kms_log_format_name(enum kms_log_format f);
/* "logfmt", "json" -> format; false for anything else. */
bool kms_log_format_parse(const char *s, enum kms_log_format *out);

/* One field of a line. A NULL val leaves the field out; num writes it unquoted in JSON (the
 * caller vouches that val is a decimal number). Keys are the caller's constants: lower-case
 * letters, digits and '_'. */
struct kms_log_kv {
    const char *key;
    const char *val;
    bool num;
};

/* A line with event `event` ("request", "keyring", "reload", ...), the n fields of kv and the
 * message. Control characters in any value become '?' (peer-supplied text cannot forge lines);
 * values are quoted and escaped as the format needs. A line is at most KMS_LOG_LINE_MAX bytes
 * (one write(2), kept whole by a pipe): longer values are cut. */
#define KMS_LOG_LINE_MAX 3072
void kms_log_kv(enum kms_log_level lvl, const char *event, const struct kms_log_kv *kv, size_t n,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* kms_log_kv with event "log" and no fields. */
void kms_log(enum kms_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats one line as kms_log_kv would write it, at time ts ("2026-01-02T03:04:05Z"), into
 * out (cap bytes, at least 64), NUL-terminated and ending in a newline; returns its length.
 * For tests. */
size_t kms_log_format_line(char *out, size_t cap, enum kms_log_format f, const char *ts,
                           const char *prog, enum kms_log_level lvl, const char *event,
                           const struct kms_log_kv *kv, size_t n, const char *msg);

#endif
