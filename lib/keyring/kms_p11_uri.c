/* SPDX-License-Identifier: Apache-2.0 */
#include "keyring/kms_p11_uri.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/*= RFC 7512, section 2.3
 *# pk11-URI             = "pkcs11:" pk11-path [ "?" pk11-query ]
 *# pk11-path            = [ pk11-pattr *(";" pk11-pattr) ]
 *# pk11-query           = [ pk11-qattr *("&" pk11-qattr) ]
 *# pk11-res-avail       = ":" / "[" / "]" / "@" / "!" / "$" /
 *#                        "'" / "(" / ")" / "*" / "+" / "," / "="
 *# pk11-path-res-avail  = pk11-res-avail / "&"
 *# pk11-query-res-avail = pk11-res-avail / "/" / "?" / "|"
 *# pk11-pchar           = unreserved / pk11-path-res-avail / pct-encoded
 *# pk11-qchar           = unreserved / pk11-query-res-avail / pct-encoded
 */
static const char scheme[] = "pkcs11:";
static const char file_prefix[] = "file:";

enum attr_kind {
    A_TOKEN,
    A_SERIAL,
    A_MANUFACTURER,
    A_MODEL,
    A_MODULE_PATH,
    A_PIN_SOURCE,
    A_PIN_VALUE,
    A_COUNT_
};

struct attr_def {
    const char *name;
    bool query; /* a query attribute (after '?'), else a path attribute */
    enum attr_kind kind;
};

static const struct attr_def attrs[] = {
    {"token", false, A_TOKEN},
    {"serial", false, A_SERIAL},
    {"manufacturer", false, A_MANUFACTURER},
    {"model", false, A_MODEL},
    {"module-path", true, A_MODULE_PATH},
    {"pin-source", true, A_PIN_SOURCE},
    {"pin-value", true, A_PIN_VALUE},
};

struct parse_state {
    struct kms_p11_uri *u;
    bool seen[A_COUNT_];
};

static bool is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static bool is_value_char(unsigned char c, bool query)
{
    if (is_unreserved(c) || strchr(":[]@!$'()*+,=", c) != NULL) {
        return c != '\0';
    }
    return query ? (c == '/' || c == '?' || c == '|') : c == '&';
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Checks the characters of v[0..n) and percent-decodes them into out (cap bytes, no NUL
 * written); a decoded NUL byte is refused since every value ends up in a C string or is
 * compared with a blank-padded field. */
static kms_result s_decode(const char *v, size_t n, bool query, uint8_t *out, size_t cap,
                           size_t *out_len)
{
    size_t o = 0;
    *out_len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '%') {
            KMS_ENSURE(n - i > 2, KMS_ERR_HSM_URI);
            int hi = hex_val((unsigned char)v[i + 1]), lo = hex_val((unsigned char)v[i + 2]);
            KMS_ENSURE(hi >= 0 && lo >= 0, KMS_ERR_HSM_URI);
            c = (unsigned char)(hi << 4 | lo);
            KMS_ENSURE(c != '\0', KMS_ERR_HSM_URI);
            i += 2;
        } else {
            KMS_ENSURE(is_value_char(c, query), KMS_ERR_HSM_URI);
        }
        KMS_ENSURE(o < cap, KMS_ERR_HSM_URI);
        out[o++] = c;
    }
    *out_len = o;
    return KMS_RESULT_OK;
}

static kms_result s_field(struct kms_p11_field *f, const char *v, size_t n, size_t max)
{
    KMS_TRY(s_decode(v, n, false, (uint8_t *)f->v, max, &f->len));
    KMS_ENSURE(f->len > 0, KMS_ERR_HSM_URI);
    f->v[f->len] = '\0';
    f->set = true;
    return KMS_RESULT_OK;
}

/* A decoded absolute path into out (KMS_P11_PATH_MAX bytes with its NUL). */
static kms_result s_path(char *out, const char *v, size_t n, size_t skip)
{
    size_t len;
    KMS_TRY(s_decode(v, n, true, (uint8_t *)out, KMS_P11_PATH_MAX - 1, &len));
    out[len] = '\0';
    KMS_ENSURE(len > skip && out[skip] == '/', KMS_ERR_HSM_URI);
    if (skip > 0) {
        memmove(out, out + skip, len - skip + 1);
    }
    return KMS_RESULT_OK;
}

static kms_result s_pin_value(struct kms_p11_uri *u, const char *v, size_t n)
{
    KMS_TRY(kms_secret_new(KMS_P11_PIN_MAX, &u->pin_value));
    KMS_TRY(s_decode(v, n, true, u->pin_value->d, KMS_P11_PIN_MAX, &u->pin_value_len));
    KMS_ENSURE(u->pin_value_len > 0, KMS_ERR_HSM_URI);
    return KMS_RESULT_OK;
}

static kms_result s_attr(struct parse_state *st, const char *a, size_t n, bool query)
{
    const char *eq = memchr(a, '=', n);
    KMS_ENSURE(eq != NULL, KMS_ERR_HSM_URI);
    size_t nl = (size_t)(eq - a), vl = n - nl - 1;
    const struct attr_def *d = NULL;
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        if (attrs[i].query == query && strlen(attrs[i].name) == nl &&
            memcmp(attrs[i].name, a, nl) == 0) {
            d = &attrs[i];
        }
    }
    KMS_ENSURE(d != NULL, KMS_ERR_HSM_URI);
    KMS_ENSURE(!st->seen[d->kind], KMS_ERR_HSM_URI);
    st->seen[d->kind] = true;
    struct kms_p11_uri *u = st->u;
    const char *v = eq + 1;
    switch (d->kind) {
    case A_TOKEN:
        return s_field(&u->token, v, vl, KMS_P11_LABEL_LEN);
    case A_SERIAL:
        return s_field(&u->serial, v, vl, KMS_P11_SERIAL_LEN);
    case A_MANUFACTURER:
        return s_field(&u->manufacturer, v, vl, KMS_P11_LABEL_LEN);
    case A_MODEL:
        return s_field(&u->model, v, vl, KMS_P11_SERIAL_LEN);
    case A_MODULE_PATH:
        return s_path(u->module_path, v, vl, 0);
    case A_PIN_SOURCE:
        KMS_TRY(s_path(u->pin_source, v, vl, strlen(file_prefix)));
        /* s_path checked the '/' after the prefix; the prefix itself is checked here on the
         * raw value (it has no characters that would need escaping). */
        KMS_ENSURE(vl > strlen(file_prefix) && strncmp(v, file_prefix, strlen(file_prefix)) == 0,
                   KMS_ERR_HSM_URI);
        u->has_pin_source = true;
        return KMS_RESULT_OK;
    case A_PIN_VALUE:
        return s_pin_value(u, v, vl);
    default:
        KMS_BAIL(KMS_ERR_INTERNAL);
    }
}

/* Splits s[0..n) at sep and parses every part; an empty part is refused. */
static kms_result s_attrs(struct parse_state *st, const char *s, size_t n, char sep, bool query)
{
    while (n > 0) {
        const char *end = memchr(s, sep, n);
        size_t len = end != NULL ? (size_t)(end - s) : n;
        KMS_ENSURE(len > 0, KMS_ERR_HSM_URI);
        KMS_TRY(s_attr(st, s, len, query));
        if (end == NULL) {
            break;
        }
        n -= len + 1;
        s = end + 1;
        KMS_ENSURE(n > 0, KMS_ERR_HSM_URI); /* trailing separator */
    }
    return KMS_RESULT_OK;
}

static kms_result s_parse(const char *uri, struct kms_p11_uri *u)
{
    KMS_ENSURE(uri != NULL, KMS_ERR_HSM_URI);
    size_t n = strnlen(uri, KMS_P11_URI_MAX + 1);
    KMS_ENSURE(n <= KMS_P11_URI_MAX, KMS_ERR_HSM_URI);
    /* RFC 3986 section 3.1: schemes are case-insensitive. */
    KMS_ENSURE(n >= strlen(scheme) && strncasecmp(uri, scheme, strlen(scheme)) == 0,
               KMS_ERR_HSM_URI);
    const char *p = uri + strlen(scheme);
    n -= strlen(scheme);
    const char *q = memchr(p, '?', n);
    size_t pl = q != NULL ? (size_t)(q - p) : n;
    struct parse_state st = {.u = u};
    KMS_TRY(s_attrs(&st, p, pl, ';', false));
    if (q != NULL) {
        KMS_TRY(s_attrs(&st, q + 1, n - pl - 1, '&', true));
    }
    KMS_ENSURE(u->token.set || u->serial.set, KMS_ERR_HSM_URI);
    KMS_ENSURE(st.seen[A_MODULE_PATH], KMS_ERR_HSM_URI);
    KMS_ENSURE(st.seen[A_PIN_SOURCE] != st.seen[A_PIN_VALUE], KMS_ERR_HSM_URI);
    return KMS_RESULT_OK;
}

kms_result kms_p11_uri_parse(const char *uri, struct kms_p11_uri *u)
{
    KMS_ENSURE_REF(u);
    memset(u, 0, sizeof(*u));
    kms_result r = s_parse(uri, u);
    if (!kms_ok(r)) {
        kms_p11_uri_cleanup(u);
    }
    return r;
}

void kms_p11_uri_cleanup(struct kms_p11_uri *u)
{
    if (u == NULL) {
        return;
    }
    kms_secret_free(u->pin_value);
    kms_wipe(u, sizeof(*u));
}

/* Reads the PIN file into pin (cap = KMS_P11_PIN_MAX + 1 bytes); *n is the PIN length. */
static kms_result s_read_pin_file(const char *path, uint8_t *pin, size_t *n)
{
    kms_result rc = KMS_RC_INIT;
    const size_t cap = KMS_P11_PIN_MAX + 1; /* room for the newline after a longest PIN */
    uint8_t extra = 0;
    struct stat sb;
    size_t got = 0;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    KMS_ENSURE_OUT(rc, fd >= 0, KMS_ERR_IO);
    KMS_ENSURE_OUT(rc, fstat(fd, &sb) == 0, KMS_ERR_IO);
    KMS_ENSURE_OUT(rc, S_ISREG(sb.st_mode), KMS_ERR_HSM_URI);
    KMS_ENSURE_OUT(rc, (sb.st_mode & 077) == 0, KMS_ERR_HSM_URI);
    for (;;) {
        /* Once the buffer is full, one more byte proves the file too long. */
        ssize_t r = got < cap ? read(fd, pin + got, cap - got) : read(fd, &extra, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        KMS_ENSURE_OUT(rc, r >= 0, KMS_ERR_IO);
        if (r == 0) {
            break;
        }
        KMS_ENSURE_OUT(rc, got < cap, KMS_ERR_HSM_URI);
        got += (size_t)r;
    }
    if (got > 0 && pin[got - 1] == '\n') {
        got--;
    }
    KMS_ENSURE_OUT(rc, got > 0 && got <= KMS_P11_PIN_MAX, KMS_ERR_HSM_URI);
    *n = got;
    rc = KMS_RESULT_OK;
out:
    kms_wipe(&extra, 1);
    if (fd >= 0) {
        (void)close(fd);
    }
    if (!kms_ok(rc)) {
        kms_wipe(pin, cap);
    }
    return rc;
}

kms_result kms_p11_uri_pin(const struct kms_p11_uri *u, struct kms_secret **pin, size_t *pin_len)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_secret *s = NULL;
    size_t n = 0;
    *pin = NULL;
    *pin_len = 0;
    KMS_ENSURE_OUT(rc, u != NULL, KMS_ERR_ARG);
    KMS_TRY_OUT(rc, kms_secret_new(KMS_P11_PIN_MAX + 1, &s));
    if (u->pin_value != NULL) {
        memcpy(s->d, u->pin_value->d, u->pin_value_len);
        n = u->pin_value_len;
    } else {
        KMS_ENSURE_OUT(rc, u->has_pin_source, KMS_ERR_HSM_URI);
        KMS_TRY_OUT(rc, s_read_pin_file(u->pin_source, s->d, &n));
    }
    *pin = s;
    *pin_len = n;
    s = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_secret_free(s);
    return rc;
}

bool kms_p11_field_match(const struct kms_p11_field *want, const unsigned char *f, size_t n)
{
    if (!want->set) {
        return true;
    }
    if (want->len > n || memcmp(want->v, f, want->len) != 0) {
        return false;
    }
    for (size_t i = want->len; i < n; i++) {
        if (f[i] != ' ') {
            return false;
        }
    }
    return true;
}
