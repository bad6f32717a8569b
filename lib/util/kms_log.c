/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "imskms";
static enum kms_log_level log_max = KMS_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *const names[] = {"error", "warn", "info", "debug"};

void kms_log_init(const char *prog, enum kms_log_level max)
{
    log_prog = prog;
    log_max = max;
}

bool kms_log_level_parse(const char *s, enum kms_log_level *out)
{
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum kms_log_level)i;
            return true;
        }
    }
    return false;
}

void kms_log(enum kms_log_level lvl, const char *fmt, ...)
{
    if (lvl > log_max) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Control characters from peer-supplied text must not forge log lines. */
    for (char *p = msg; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    char ts[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) != NULL) {
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "%s %s %s: %s\n", ts, log_prog, names[lvl], msg);
    pthread_mutex_unlock(&log_mu);
}
