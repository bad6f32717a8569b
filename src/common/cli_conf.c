/* SPDX-License-Identifier: Apache-2.0 */
#include "cli_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/kms_mem.h"

/* One read in progress: the file's bytes, the line reader's position, the first error. */
struct conf_read {
    const char *path;
    const char *section;
    const struct cli_opt *opts;
    size_t n_opts;
    struct cli_conf *out;
    const char *buf;
    size_t len, pos;
    unsigned lineno; /* of the line last handed to inih */
    bool failed;
    char *err;
    size_t err_len;
};

/* The first error only, as "FILE:LINE: what". */
__attribute__((format(printf, 2, 3))) static void conf_fail(struct conf_read *r, const char *fmt,
                                                            ...)
{
    if (r->failed) {
        return;
    }
    r->failed = true;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    (void)snprintf(r->err, r->err_len, "%s:%u: %s", r->path, r->lineno, what);
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* The checks inih does not make, on one whole line (without its '\n'). */
static bool line_ok(struct conf_read *r, const char *p, size_t n)
{
    if (memchr(p, '\0', n) != NULL) {
        conf_fail(r, "a NUL byte");
        return false;
    }
    size_t i = 0;
    while (i < n && is_blank(p[i])) {
        i++;
    }
    if (i == n || p[i] == '#' || p[i] == ';') {
        return true; /* blank or a comment, indented or not */
    }
    if (i > 0) {
        /* inih would take it as the next line of the value above (configparser style). */
        conf_fail(r, "leading white space: continuation lines are not allowed");
        return false;
    }
    size_t end = n;
    while (end > 0 && is_blank(p[end - 1])) {
        end--;
    }
    if (p[0] == '[') {
        size_t sl = strlen(r->section);
        if (end != sl + 2 || p[end - 1] != ']' || strncmp(p + 1, r->section, sl) != 0) {
            conf_fail(r, "section %.*s: the only section allowed here is [%s]",
                      (int)(end < 64 ? end : 64), p, r->section);
            return false;
        }
        return true;
    }
    const char *eq = memchr(p, '=', n);
    const char *colon = memchr(p, ':', n);
    if (eq == NULL || (colon != NULL && colon < eq)) {
        conf_fail(r, "expected key = value");
        return false;
    }
    return true;
}

/* inih's fgets: one whole line at a time, so that inih's line count is ours. */
static char *conf_reader(char *str, int num, void *stream)
{
    struct conf_read *r = stream;
    if (r->failed || r->pos >= r->len) {
        return NULL;
    }
    const char *p = r->buf + r->pos;
    size_t rest = r->len - r->pos;
    const char *nl = memchr(p, '\n', rest);
    size_t n = nl != NULL ? (size_t)(nl - p) : rest;
    r->pos += nl != NULL ? n + 1 : n;
    r->lineno++;
    if (n > CLI_CONF_LINE_MAX || num < 0 || n + 2 > (size_t)num) {
        conf_fail(r, "line longer than %u bytes", CLI_CONF_LINE_MAX);
        return NULL;
    }
    if (!line_ok(r, p, n)) {
        return NULL;
    }
    memcpy(str, p, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
    struct conf_read *r = user;
    (void)section; /* line_ok admits only ours */
    size_t k = 0;
    while (k < r->n_opts && strcmp(r->opts[k].name, name) != 0) {
        k++;
    }
    if (k == r->n_opts) {
        conf_fail(r, "unknown key '%s'", name);
        return 0;
    }
    if (!r->opts[k].has_arg || strcmp(name, "config") == 0) {
        conf_fail(r, "'%s' is a command-line option only", name);
        return 0;
    }
    if (r->out->val[k] != NULL) {
        conf_fail(r, "'%s' given twice (first on line %u)", name, r->out->line[k]);
        return 0;
    }
    if (value == NULL || value[0] == '\0') {
        conf_fail(r, "'%s' has no value", name);
        return 0;
    }
    r->out->val[k] = strdup(value);
    if (r->out->val[k] == NULL) {
        conf_fail(r, "out of memory");
        return 0;
    }
    r->out->line[k] = r->lineno;
    return 1;
}

/* The whole file, at most CLI_CONF_FILE_MAX bytes; NULL with errno or a message in r. */
static char *read_all(struct conf_read *r, size_t *len)
{
    char *buf = NULL;
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        (void)snprintf(r->err, r->err_len, "%s: cannot be read: %s", r->path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > CLI_CONF_FILE_MAX) {
        (void)snprintf(r->err, r->err_len, "%s: not a regular file of at most %u bytes", r->path,
                       CLI_CONF_FILE_MAX);
        goto out;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    buf = malloc(cap + 1);
    while (buf != NULL && n < cap) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            (void)snprintf(r->err, r->err_len, "%s: cannot be read: %s", r->path,
                           got < 0 ? strerror(errno) : "it shrank while read");
            free(buf);
            buf = NULL;
            goto out;
        }
        n += (size_t)got;
    }
    if (buf == NULL) {
        (void)snprintf(r->err, r->err_len, "%s: out of memory", r->path);
        goto out;
    }
    buf[n] = '\0';
    *len = n;
out:
    if (fd >= 0) {
        (void)close(fd);
    }
    return buf;
}

int cli_conf_read(const char *path, const char *section, const struct cli_opt *opts, size_t n_opts,
                  struct cli_conf *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    struct conf_read r = {.path = path,
                          .section = section,
                          .opts = opts,
                          .n_opts = n_opts < CLI_MAX_OPTS ? n_opts : CLI_MAX_OPTS,
                          .out = out,
                          .err = err,
                          .err_len = err_len};
    err[0] = '\0';
    size_t len = 0;
    char *buf = read_all(&r, &len);
    if (buf == NULL) {
        return CLI_EXIT_USAGE;
    }
    r.buf = buf;
    r.len = len;
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        r.pos = 3; /* a UTF-8 byte order mark */
    }
    /* Debian's libinih 55 makes inih's compile-time switches variables of the shared library
     * (the header's macros alone say nothing about the build). Set every one that matters, on
     * each read: a heap line buffer of exactly CLI_CONF_LINE_MAX + 3 bytes (line, "\r\n", NUL)
     * that never grows, no multi-line values, no inline comments (';' and '#' may be part of a
     * value, e.g. a PKCS#11 URI), stop at the first error. */
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_max_line = CLI_CONF_LINE_MAX + 3;
    ini_initial_alloc = CLI_CONF_LINE_MAX + 3;
    ini_allow_multiline = false;
    ini_allow_inline_comments = false;
    ini_allow_no_value = false;
    ini_allow_bom = true;
    ini_stop_on_first_error = true;
    int at = ini_parse_stream(conf_reader, &r, conf_handler, &r);
    if (!r.failed && at != 0) {
        if (at > 0) {
            r.lineno = (unsigned)at;
        }
        conf_fail(&r, "%s", at == -2 ? "out of memory" : "expected key = value");
    }
    kms_wipe(buf, len);
    free(buf);
    if (r.failed) {
        cli_conf_cleanup(out);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

void cli_conf_apply(const struct cli_conf *f, size_t n_opts, struct cli_args *a)
{
    for (size_t i = 0; i < n_opts && i < CLI_MAX_OPTS; i++) {
        if (!a->seen[i] && f->val[i] != NULL) {
            a->val[i] = f->val[i];
            a->seen[i] = true;
        }
    }
}

void cli_conf_cleanup(struct cli_conf *f)
{
    for (size_t i = 0; i < CLI_MAX_OPTS; i++) {
        if (f->val[i] != NULL) {
            kms_wipe(f->val[i], strlen(f->val[i])); /* an --hsm URI may carry a PIN */
            free(f->val[i]);
        }
    }
    memset(f, 0, sizeof(*f));
}
