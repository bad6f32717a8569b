/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_log.h"
#include "util/kms_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "imskms";
/* Changed by a reload (kms_log_set_level) while server threads log: an atomic. */
static atomic_int log_max = KMS_LOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

void kms_log_init(const char *prog, enum kms_log_level max)
{
    log_prog = prog;
    atomic_store_explicit(&log_max, (int)max, memory_order_relaxed);
}

void kms_log_set_level(enum kms_log_level max)
{
    atomic_store_explicit(&log_max, (int)max, memory_order_relaxed);
}

enum kms_log_level kms_log_level(void)
{
    return (enum kms_log_level)atomic_load_explicit(&log_max, memory_order_relaxed);
}

const char *kms_log_level_name(enum kms_log_level l)
{
    return (unsigned)l < sizeof(names) / sizeof(names[0]) ? names[l] : "?";
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

/* The line's UTC time, formatted once per second per thread (gmtime_r takes a process-wide
 * lock in glibc, which a daemon logging every request would contend on). */
static void stamp(char ts[32])
{
    static _Thread_local time_t last = (time_t)-1;
    static _Thread_local char cached[32];
    time_t now = (time_t)kms_now();
    if (now != last) {
        struct tm tm;
        cached[0] = '\0';
        if (gmtime_r(&now, &tm) != NULL) {
            strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        last = now;
    }
    memcpy(ts, cached, 32);
}

void kms_log(enum kms_log_level lvl, const char *fmt, ...)
{
    if ((int)lvl > atomic_load_explicit(&log_max, memory_order_relaxed)) {
        return;
    }
    char ts[32], line[1200];
    stamp(ts);
    int head = snprintf(line, sizeof(line), "%s %s %s: ", ts, log_prog, names[lvl]);
    if (head < 0 || (size_t)head >= sizeof(line) - 2) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + head, sizeof(line) - (size_t)head - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t len =
        (size_t)head +
        ((size_t)n < sizeof(line) - (size_t)head - 1 ? (size_t)n : sizeof(line) - (size_t)head - 2);
    /* Control characters from peer-supplied text must not forge log lines. */
    for (size_t i = (size_t)head; i < len; i++) {
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) {
            line[i] = '?';
        }
    }
    line[len++] = '\n';
    /* One write(2) per line and no lock: a line (at most 1200 bytes) is one write, which a
     * pipe keeps whole (PIPE_BUF 4096) and Linux serialises on a file (threads share the open
     * file description, whose offset it updates under a lock). */
    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return; /* nowhere to report a failing log */
        }
        off += (size_t)w;
    }
}
