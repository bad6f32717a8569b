/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_log: one line per event on stderr: `<UTC time> <program> <level>: <message>`.
 * Daemons log through this only. Never pass key material, PINs, RES/XRES or whole requests:
 * log identities, codes and where an error was raised (kms_err_where).
 */
#ifndef KMS_UTIL_LOG_H
#define KMS_UTIL_LOG_H

#include <stdbool.h>

enum kms_log_level {
    KMS_LOG_ERROR = 0,
    KMS_LOG_WARN = 1,
    KMS_LOG_INFO = 2,
    KMS_LOG_DEBUG = 3,
};

/* The program name on every line and the most verbose level written (default INFO). */
void kms_log_init(const char *prog, enum kms_log_level max);
/* Changes the most verbose level written, at any time from any thread (a SIGHUP reload). */
void kms_log_set_level(enum kms_log_level max);
enum kms_log_level kms_log_level(void);
/* "error", "warn", "info", "debug". */
const char *kms_log_level_name(enum kms_log_level l);
/* "error", "warn", "info", "debug" -> level; false for anything else. */
bool kms_log_level_parse(const char *s, enum kms_log_level *out);

void kms_log(enum kms_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
