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
/* Changed by a reload (kms_log_set_level, kms_log_set_format) while server threads log:
 * atomics. */
static atomic_int log_max = KMS_LOG_INFO;
static atomic_int log_fmt = KMS_LOG_LOGFMT;
static const char *const names[] = {"error", "warn", "info", "debug"};
static const char *const format_names[] = {"logfmt", "json"};

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

bool kms_log_enabled(enum kms_log_level lvl)
{
    return (int)lvl <= atomic_load_explicit(&log_max, memory_order_relaxed);
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

void kms_log_set_format(enum kms_log_format f)
{
    atomic_store_explicit(&log_fmt, (int)f, memory_order_relaxed);
}

enum kms_log_format kms_log_format(void)
{
    return (enum kms_log_format)atomic_load_explicit(&log_fmt, memory_order_relaxed);
}

const char *kms_log_format_name(enum kms_log_format f)
{
    return (unsigned)f < sizeof(format_names) / sizeof(format_names[0]) ? format_names[f] : "?";
}

bool kms_log_format_parse(const char *s, enum kms_log_format *out)
{
    for (unsigned i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
        if (strcmp(s, format_names[i]) == 0) {
            *out = (enum kms_log_format)i;
            return true;
        }
    }
    return false;
}

/* ---- one line ---- */

/* A line being written into a fixed buffer. Room for the closing `"}` and the newline is kept
 * back (RESERVE): once anything does not fit, the rest is dropped (full), and the line is still
 * closed properly. */
#define RESERVE 4u
struct line {
    char *p;
    size_t len, cap;
    bool full;
    bool json;
    bool in_str; /* inside a JSON string or a quoted logfmt value */
};

static void put_raw(struct line *l, const char *s, size_t n)
{
    if (l->full || l->len + n + RESERVE > l->cap) {
        l->full = true;
        return;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void put_str(struct line *l, const char *s)
{
    put_raw(l, s, strlen(s));
}

/* A logfmt value needs quotes when empty or holding a space, '=', '"' or '\'. */
static bool needs_quotes(const char *v)
{
    if (*v == '\0') {
        return true;
    }
    for (; *v != '\0'; v++) {
        if (*v == ' ' || *v == '=' || *v == '"' || *v == '\\' || (unsigned char)*v < 0x20 ||
            *v == 0x7f) {
            return true;
        }
    }
    return false;
}

/* The characters of a value: controls (and DEL, and in JSON any byte above 0x7e, which might
 * not be UTF-8) become '?'; '"' and '\\' are escaped inside quotes. */
static void put_value_chars(struct line *l, const char *v, bool quoted)
{
    for (; *v != '\0' && !l->full; v++) {
        unsigned char ch = (unsigned char)*v;
        char out[2] = {(char)ch, 0};
        size_t n = 1;
        if (ch < 0x20 || ch == 0x7f || (l->json && ch > 0x7e)) {
            out[0] = '?';
        } else if (quoted && (ch == '"' || ch == '\\')) {
            out[0] = '\\';
            out[1] = (char)ch;
            n = 2;
        }
        put_raw(l, out, n);
    }
}

static void put_field(struct line *l, bool first, const char *key, const char *val, bool num)
{
    /* A field's key, separators, quotes and (for a number) its whole value fit, or none of it
     * is written: the line stays well-formed when values are cut. */
    size_t need = strlen(key) + 6 + (num ? strlen(val) : 1);
    if (l->full || l->len + need + RESERVE > l->cap) {
        l->full = true;
        return;
    }
    if (l->json) {
        put_str(l, first ? "{\"" : ",\"");
        put_str(l, key);
        put_str(l, "\":");
        if (num) {
            put_value_chars(l, val, false);
            return;
        }
        put_raw(l, "\"", 1);
        l->in_str = true;
        put_value_chars(l, val, true);
        put_raw(l, "\"", 1);
        l->in_str = l->full;
        return;
    }
    if (!first) {
        put_raw(l, " ", 1);
    }
    put_str(l, key);
    put_raw(l, "=", 1);
    bool q = needs_quotes(val);
    if (q) {
        put_raw(l, "\"", 1);
        l->in_str = true;
    }
    put_value_chars(l, val, q);
    if (q) {
        put_raw(l, "\"", 1);
        l->in_str = l->full;
    }
}

/* Closes the line in the room kept back: an open quote, JSON's brace, the newline. */
static size_t line_end(struct line *l)
{
    if (l->in_str) {
        l->p[l->len++] = '"';
    }
    if (l->json) {
        l->p[l->len++] = '}';
    }
    l->p[l->len++] = '\n';
    l->p[l->len] = '\0';
    return l->len;
}

size_t kms_log_format_line(char *out, size_t cap, enum kms_log_format f, const char *ts,
                           const char *prog, enum kms_log_level lvl, const char *event,
                           const struct kms_log_kv *kv, size_t n, const char *msg)
{
    if (out == NULL || cap < 64) {
        return 0;
    }
    /* The last byte holds the NUL. */
    struct line l = {.p = out, .cap = cap - 1, .json = f == KMS_LOG_JSON};
    put_field(&l, true, "time", ts, false);
    put_field(&l, false, "level", kms_log_level_name(lvl), false);
    put_field(&l, false, "prog", prog, false);
    put_field(&l, false, "event", event, false);
    for (size_t i = 0; i < n; i++) {
        if (kv[i].key != NULL && kv[i].val != NULL) {
            put_field(&l, false, kv[i].key, kv[i].val, kv[i].num);
        }
    }
    if (msg != NULL) {
        put_field(&l, false, "msg", msg, false);
    }
    return line_end(&l);
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

static void write_line(const char *line, size_t len)
{
    /* One write(2) per line and no lock: a line (at most KMS_LOG_LINE_MAX bytes) is one write,
     * which a pipe keeps whole (PIPE_BUF 4096) and Linux serialises on a file (threads share
     * the open file description, whose offset it updates under a lock). */
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

__attribute__((format(printf, 5, 0))) static void log_v(enum kms_log_level lvl, const char *event,
                                                        const struct kms_log_kv *kv, size_t n,
                                                        const char *fmt, va_list ap)
{
    char ts[32], msg[1200], line[KMS_LOG_LINE_MAX];
    stamp(ts);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0) {
        return;
    }
    size_t len = kms_log_format_line(line, sizeof(line), kms_log_format(), ts, log_prog, lvl, event,
                                     kv, n, msg);
    write_line(line, len);
}

void kms_log_kv(enum kms_log_level lvl, const char *event, const struct kms_log_kv *kv, size_t n,
                const char *fmt, ...)
{
    if (!kms_log_enabled(lvl)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log_v(lvl, event, kv, n, fmt, ap);
    va_end(ap);
}

void kms_log(enum kms_log_level lvl, const char *fmt, ...)
{
    if (!kms_log_enabled(lvl)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log_v(lvl, "log", NULL, 0, fmt, ap);
    va_end(ap);
}
