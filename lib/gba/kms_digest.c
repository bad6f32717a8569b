/* SPDX-License-Identifier: Apache-2.0 */
#include "gba/kms_digest.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/kms_ossl.h"
#include "util/kms_codec.h"
#include "util/kms_cur.h"
#include "util/kms_mem.h"

static const char *const param_names[KMS_DIGEST_N_PARAMS] = {
    "username", "realm",  "nonce",   "uri",    "response", "algorithm", "qop",
    "nc",       "cnonce", "rspauth", "opaque", "auts",     "nextnonce", "stale",
};

#define BIT(x) (1u << (x))

/* The parameters each kind uses (RFC 2617 3.2.1, 3.2.2, 3.2.3; RFC 3310 3.4 for auts). */
static const uint32_t kind_params[3] = {
    [KMS_DIGEST_CHALLENGE] = BIT(KMS_DIGEST_REALM) | BIT(KMS_DIGEST_NONCE) |
                             BIT(KMS_DIGEST_ALGORITHM) | BIT(KMS_DIGEST_QOP) |
                             BIT(KMS_DIGEST_OPAQUE) | BIT(KMS_DIGEST_STALE),
    [KMS_DIGEST_CREDENTIALS] = BIT(KMS_DIGEST_USERNAME) | BIT(KMS_DIGEST_REALM) |
                               BIT(KMS_DIGEST_NONCE) | BIT(KMS_DIGEST_URI) |
                               BIT(KMS_DIGEST_RESPONSE) | BIT(KMS_DIGEST_ALGORITHM) |
                               BIT(KMS_DIGEST_QOP) | BIT(KMS_DIGEST_NC) | BIT(KMS_DIGEST_CNONCE) |
                               BIT(KMS_DIGEST_OPAQUE) | BIT(KMS_DIGEST_AUTS),
    [KMS_DIGEST_INFO] = BIT(KMS_DIGEST_QOP) | BIT(KMS_DIGEST_NC) | BIT(KMS_DIGEST_CNONCE) |
                        BIT(KMS_DIGEST_RSPAUTH) | BIT(KMS_DIGEST_NEXTNONCE),
};

static const uint32_t kind_required[3] = {
    /* and algorithm and qop, whose absence is KMS_ERR_UNSUPPORTED (see check_values) */
    [KMS_DIGEST_CHALLENGE] = BIT(KMS_DIGEST_REALM) | BIT(KMS_DIGEST_NONCE),
    [KMS_DIGEST_CREDENTIALS] = BIT(KMS_DIGEST_USERNAME) | BIT(KMS_DIGEST_REALM) |
                               BIT(KMS_DIGEST_NONCE) | BIT(KMS_DIGEST_URI) |
                               BIT(KMS_DIGEST_RESPONSE),
    [KMS_DIGEST_INFO] = 0,
};

static const char algorithm_aka[] = "AKAv1-MD5";
static const char qop_auth_int[] = "auth-int";

/* ---- character classes (RFC 7230 3.2.6) ---- */

static bool is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* A value byte: printable ASCII (we refuse obs-text and HTAB inside values). */
static bool is_vbyte(uint8_t c)
{
    return c >= 0x20 && c <= 0x7e;
}

static bool is_lhex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool lower_eq(const char *a, size_t alen, const char *b)
{
    size_t n = strlen(b);
    if (alen != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') {
            x = (char)(x + 32);
        }
        if (y >= 'A' && y <= 'Z') {
            y = (char)(y + 32);
        }
        if (x != y) {
            return false;
        }
    }
    return true;
}

static bool lhex_n(const char *s, size_t n)
{
    if (strlen(s) != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_lhex(s[i])) {
            return false;
        }
    }
    return true;
}

/* ---- lexing through the cursor ---- */

/* Consumes the byte a successful peek has just seen. */
static void drop1(struct kms_cur *c)
{
    uint8_t ch;
    kms_result r = kms_cur_get_u8(c, &ch);
    (void)r;
}

static void skip_ows(struct kms_cur *c)
{
    uint8_t ch;
    while (kms_ok(kms_cur_peek_u8(c, &ch)) && is_ows(ch)) {
        drop1(c);
    }
}

/* A token (1*tchar) into tok (cap bytes with the NUL). */
static kms_result get_token(struct kms_cur *c, char *tok, size_t cap, size_t *len)
{
    uint8_t ch;
    size_t n = 0;
    *len = 0;
    while (kms_ok(kms_cur_peek_u8(c, &ch)) && is_tchar(ch)) {
        KMS_ENSURE(n + 1 < cap, KMS_ERR_TOO_LONG);
        tok[n++] = (char)ch;
        drop1(c);
    }
    tok[n] = '\0';
    KMS_ENSURE(n > 0, KMS_ERR_MALFORMED);
    *len = n;
    return KMS_RESULT_OK;
}

/*= RFC 7230 3.2.6
 *# quoted-string  = DQUOTE *( qdtext / quoted-pair ) DQUOTE
 *# qdtext         = HTAB / SP /%x21 / %x23-5B / %x5D-7E / obs-text
 *# quoted-pair    = "\" ( HTAB / SP / VCHAR / obs-text )
 * (HTAB and obs-text are refused here: values are printable ASCII.)
 */
static kms_result get_quoted(struct kms_cur *c, char *val, size_t cap, size_t *len)
{
    uint8_t ch;
    size_t n = 0;
    *len = 0;
    KMS_TRY(kms_cur_get_u8(c, &ch)); /* the opening quote, checked by the caller */
    for (;;) {
        KMS_ENSURE(kms_ok(kms_cur_get_u8(c, &ch)), KMS_ERR_MALFORMED); /* unterminated */
        if (ch == '"') {
            break;
        }
        if (ch == '\\') {
            KMS_ENSURE(kms_ok(kms_cur_get_u8(c, &ch)), KMS_ERR_MALFORMED);
        }
        KMS_ENSURE(is_vbyte(ch), KMS_ERR_MALFORMED);
        KMS_ENSURE(n + 1 < cap, KMS_ERR_TOO_LONG);
        val[n++] = (char)ch;
    }
    val[n] = '\0';
    *len = n;
    return KMS_RESULT_OK;
}

static int lookup(const char *name, size_t len)
{
    for (int i = 0; i < KMS_DIGEST_N_PARAMS; i++) {
        if (lower_eq(name, len, param_names[i])) {
            return i;
        }
    }
    return -1;
}

/* The qop list of a challenge: 1#token inside the quoted value, holding "auth-int". */
static kms_result check_qop_list(const char *v)
{
    struct kms_cur c;
    char tok[KMS_DIGEST_VALUE_MAX + 1];
    bool found = false;
    kms_cur_init(&c, (const uint8_t *)v, strlen(v));
    for (;;) {
        uint8_t ch;
        size_t n;
        skip_ows(&c);
        if (!kms_ok(kms_cur_peek_u8(&c, &ch))) {
            break;
        }
        if (ch == ',') {
            drop1(&c);
            continue;
        }
        KMS_TRY(get_token(&c, tok, sizeof(tok), &n));
        found = found || strcmp(tok, qop_auth_int) == 0;
        skip_ows(&c);
        if (kms_ok(kms_cur_peek_u8(&c, &ch))) {
            KMS_ENSURE(ch == ',', KMS_ERR_MALFORMED);
        }
    }
    KMS_ENSURE(found, KMS_ERR_UNSUPPORTED);
    return KMS_RESULT_OK;
}

/* Checks on the values we depend on, and on which parameters go together. */
static kms_result check_values(enum kms_digest_kind kind, const struct kms_digest_params *p)
{
    const char *v;
    KMS_ENSURE((p->present & kind_required[kind]) == kind_required[kind], KMS_ERR_MALFORMED);
    if ((v = kms_digest_get(p, KMS_DIGEST_NC)) != NULL) {
        KMS_ENSURE(lhex_n(v, 8), KMS_ERR_MALFORMED);
    }
    if ((v = kms_digest_get(p, KMS_DIGEST_RESPONSE)) != NULL) {
        KMS_ENSURE(v[0] == '\0' || lhex_n(v, KMS_DIGEST_HEX_LEN), KMS_ERR_MALFORMED);
    }
    if ((v = kms_digest_get(p, KMS_DIGEST_RSPAUTH)) != NULL) {
        KMS_ENSURE(lhex_n(v, KMS_DIGEST_HEX_LEN), KMS_ERR_MALFORMED);
    }
    if ((v = kms_digest_get(p, KMS_DIGEST_STALE)) != NULL) {
        KMS_ENSURE(lower_eq(v, strlen(v), "true") || lower_eq(v, strlen(v), "false"),
                   KMS_ERR_MALFORMED);
    }
    if ((v = kms_digest_get(p, KMS_DIGEST_AUTS)) != NULL) {
        uint8_t auts[KMS_DIGEST_AUTS_LEN];
        kms_result r = kms_digest_auts_decode(v, strlen(v), auts);
        KMS_ENSURE(kms_ok(r), KMS_ERR_MALFORMED);
    }
    if (kind == KMS_DIGEST_CHALLENGE) {
        /* RFC 2617 3.2.1: "If this is not present it is assumed to be "MD5"."; without qop
         * the challenge asks for the RFC 2069 form. We run neither. */
        KMS_ENSURE((p->present & BIT(KMS_DIGEST_ALGORITHM)) != 0 &&
                       (p->present & BIT(KMS_DIGEST_QOP)) != 0,
                   KMS_ERR_UNSUPPORTED);
    }
    if ((v = kms_digest_get(p, KMS_DIGEST_ALGORITHM)) != NULL) {
        KMS_ENSURE(lower_eq(v, strlen(v), algorithm_aka), KMS_ERR_UNSUPPORTED);
    }
    bool has_qop = (v = kms_digest_get(p, KMS_DIGEST_QOP)) != NULL;
    if (kind == KMS_DIGEST_CHALLENGE) {
        return check_qop_list(v);
    }
    if (has_qop) {
        KMS_ENSURE(strcmp(v, qop_auth_int) == 0, KMS_ERR_UNSUPPORTED);
    }
    /*= RFC 2617 3.2.2
     *# cnonce ... MUST be specified if a qop directive is sent (see above), and
     *# MUST NOT be specified if the server did not send a qop directive
     * (nc likewise); RFC 2617 3.2.3: "The response-auth, cnonce, and nonce-count directives
     * MUST BE present if "qop=auth" or "qop=auth-int" is specified."
     */
    uint32_t with_qop = BIT(KMS_DIGEST_NC) | BIT(KMS_DIGEST_CNONCE);
    if (kind == KMS_DIGEST_INFO) {
        with_qop |= BIT(KMS_DIGEST_RSPAUTH);
    }
    if (has_qop) {
        KMS_ENSURE((p->present & with_qop) == with_qop, KMS_ERR_MALFORMED);
    } else if (kind == KMS_DIGEST_CREDENTIALS) {
        KMS_ENSURE((p->present & with_qop) == 0, KMS_ERR_MALFORMED);
    }
    return KMS_RESULT_OK;
}

/* auth-param = token BWS "=" BWS ( token / quoted-string ) */
static kms_result parse_param(enum kms_digest_kind kind, struct kms_cur *c,
                              struct kms_digest_params *p)
{
    char name[64];
    char val[KMS_DIGEST_VALUE_MAX + 1];
    size_t nlen, vlen;
    uint8_t ch;
    kms_result r = get_token(c, name, sizeof(name), &nlen);
    /* a name longer than any we know is an unknown name: skip the rest of it */
    if (r.err == KMS_ERR_TOO_LONG) {
        while (kms_ok(kms_cur_peek_u8(c, &ch)) && is_tchar(ch)) {
            drop1(c);
        }
        nlen = 0;
    } else {
        KMS_TRY(r);
    }
    skip_ows(c);
    KMS_ENSURE(kms_ok(kms_cur_get_u8(c, &ch)) && ch == '=', KMS_ERR_MALFORMED);
    skip_ows(c);
    KMS_ENSURE(kms_ok(kms_cur_peek_u8(c, &ch)), KMS_ERR_MALFORMED);
    if (ch == '"') {
        KMS_TRY(get_quoted(c, val, sizeof(val), &vlen));
    } else {
        KMS_TRY(get_token(c, val, sizeof(val), &vlen));
    }
    int which = nlen > 0 ? lookup(name, nlen) : -1;
    if (which < 0 || (kind_params[kind] & BIT(which)) == 0) {
        return KMS_RESULT_OK; /* RFC 2617 3.2.1: unknown directives are ignored */
    }
    KMS_ENSURE((p->present & BIT(which)) == 0, KMS_ERR_MALFORMED); /* duplicate */
    memcpy(p->v[which], val, vlen + 1);
    p->present |= BIT(which);
    return KMS_RESULT_OK;
}

static kms_result parse_list(enum kms_digest_kind kind, struct kms_cur *c,
                             struct kms_digest_params *p)
{
    uint8_t ch;
    for (;;) {
        skip_ows(c);
        if (!kms_ok(kms_cur_peek_u8(c, &ch))) {
            return KMS_RESULT_OK;
        }
        if (ch == ',') {
            drop1(c); /* RFC 7230 7: empty list elements */
            continue;
        }
        KMS_TRY(parse_param(kind, c, p));
        skip_ows(c);
        if (kms_ok(kms_cur_peek_u8(c, &ch))) {
            KMS_ENSURE(ch == ',', KMS_ERR_MALFORMED);
        }
    }
}

static kms_result parse_inner(enum kms_digest_kind kind, const char *s, size_t len,
                              struct kms_digest_params *p)
{
    struct kms_cur c;
    KMS_ENSURE(kind == KMS_DIGEST_CHALLENGE || kind == KMS_DIGEST_CREDENTIALS ||
                   kind == KMS_DIGEST_INFO,
               KMS_ERR_ARG);
    KMS_ENSURE(s != NULL || len == 0, KMS_ERR_ARG);
    KMS_ENSURE(len <= KMS_DIGEST_HEADER_MAX, KMS_ERR_TOO_LONG);
    kms_cur_init(&c, (const uint8_t *)s, len);
    skip_ows(&c);
    if (kind != KMS_DIGEST_INFO) {
        /*= RFC 7235 2.1
         *# challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
         *# credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
         */
        char scheme[16];
        size_t n;
        uint8_t ch;
        kms_result r = get_token(&c, scheme, sizeof(scheme), &n);
        KMS_ENSURE(r.err != KMS_ERR_TOO_LONG, KMS_ERR_UNSUPPORTED);
        KMS_TRY(r);
        KMS_ENSURE(lower_eq(scheme, n, "Digest"), KMS_ERR_UNSUPPORTED);
        KMS_ENSURE(kms_ok(kms_cur_get_u8(&c, &ch)) && ch == ' ', KMS_ERR_MALFORMED);
    }
    KMS_TRY(parse_list(kind, &c, p));
    return check_values(kind, p);
}

kms_result kms_digest_parse(enum kms_digest_kind kind, const char *s, size_t len,
                            struct kms_digest_params *out)
{
    KMS_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    kms_result r = parse_inner(kind, s, len, out);
    if (!kms_ok(r)) {
        memset(out, 0, sizeof(*out));
    }
    return r;
}

kms_result kms_digest_parse_challenge(const char *s, size_t len, struct kms_digest_params *out)
{
    return kms_digest_parse(KMS_DIGEST_CHALLENGE, s, len, out);
}

kms_result kms_digest_parse_credentials(const char *s, size_t len, struct kms_digest_params *out)
{
    return kms_digest_parse(KMS_DIGEST_CREDENTIALS, s, len, out);
}

kms_result kms_digest_parse_info(const char *s, size_t len, struct kms_digest_params *out)
{
    return kms_digest_parse(KMS_DIGEST_INFO, s, len, out);
}

/* ---- parameter sets and formatting ---- */

void kms_digest_params_init(struct kms_digest_params *p)
{
    memset(p, 0, sizeof(*p));
}

kms_result kms_digest_set(struct kms_digest_params *p, enum kms_digest_param which,
                          const char *value)
{
    KMS_ENSURE(p != NULL && value != NULL, KMS_ERR_ARG);
    KMS_ENSURE((unsigned)which < KMS_DIGEST_N_PARAMS, KMS_ERR_ARG);
    size_t n = strnlen(value, KMS_DIGEST_VALUE_MAX + 1);
    KMS_ENSURE(n <= KMS_DIGEST_VALUE_MAX, KMS_ERR_TOO_LONG);
    for (size_t i = 0; i < n; i++) {
        KMS_ENSURE(is_vbyte((uint8_t)value[i]), KMS_ERR_NOT_ASCII);
    }
    memcpy(p->v[which], value, n + 1);
    p->present |= BIT(which);
    return KMS_RESULT_OK;
}

static bool as_token(enum kms_digest_kind kind, int which)
{
    return which == KMS_DIGEST_ALGORITHM || which == KMS_DIGEST_NC || which == KMS_DIGEST_STALE ||
           (which == KMS_DIGEST_QOP && kind != KMS_DIGEST_CHALLENGE);
}

static kms_result put_str(struct kms_buf *b, const char *s)
{
    return kms_buf_put_bytes(b, (const uint8_t *)s, strlen(s));
}

static kms_result put_params(enum kms_digest_kind kind, const struct kms_digest_params *p,
                             struct kms_buf *b)
{
    bool first = true;
    if (kind != KMS_DIGEST_INFO) {
        KMS_TRY(put_str(b, "Digest "));
    }
    for (int i = 0; i < KMS_DIGEST_N_PARAMS; i++) {
        const char *v = kms_digest_get(p, (enum kms_digest_param)i);
        if (v == NULL) {
            continue;
        }
        if (!first) {
            KMS_TRY(put_str(b, ", "));
        }
        first = false;
        KMS_TRY(put_str(b, param_names[i]));
        KMS_TRY(kms_buf_put_u8(b, '='));
        if (as_token(kind, i)) {
            KMS_TRY(put_str(b, v)); /* checked by the parse-back */
            continue;
        }
        KMS_TRY(kms_buf_put_u8(b, '"'));
        for (size_t k = 0; v[k] != '\0'; k++) {
            KMS_ENSURE(is_vbyte((uint8_t)v[k]), KMS_ERR_NOT_ASCII);
            if (v[k] == '"' || v[k] == '\\') {
                KMS_TRY(kms_buf_put_u8(b, '\\'));
            }
            KMS_TRY(kms_buf_put_u8(b, (uint8_t)v[k]));
        }
        KMS_TRY(kms_buf_put_u8(b, '"'));
    }
    return KMS_RESULT_OK;
}

kms_result kms_digest_format(enum kms_digest_kind kind, const struct kms_digest_params *p,
                             struct kms_buf *out)
{
    KMS_ENSURE(p != NULL && out != NULL, KMS_ERR_ARG);
    KMS_ENSURE(kind == KMS_DIGEST_CHALLENGE || kind == KMS_DIGEST_CREDENTIALS ||
                   kind == KMS_DIGEST_INFO,
               KMS_ERR_ARG);
    KMS_ENSURE((p->present & ~kind_params[kind]) == 0, KMS_ERR_ARG);
    size_t start = kms_buf_len(out);
    kms_result r = put_params(kind, p, out);
    if (kms_ok(r)) {
        /* Parse what we wrote: a formatter never emits what the parser would refuse. */
        struct kms_digest_params back;
        size_t n = kms_buf_len(out) - start;
        /* an empty info list writes nothing, and the buffer may hold no storage yet */
        const char *w = n > 0 ? (const char *)kms_buf_data(out) + start : NULL;
        r = kms_digest_parse(kind, w, n, &back);
    }
    if (!kms_ok(r)) {
        kms_buf_truncate(out, start);
    }
    return r;
}

kms_result kms_digest_write_challenge(const char *realm, const char *nonce, const char *opaque,
                                      bool stale, struct kms_buf *out)
{
    struct kms_digest_params p;
    kms_digest_params_init(&p);
    KMS_TRY(kms_digest_set(&p, KMS_DIGEST_REALM, realm));
    KMS_TRY(kms_digest_set(&p, KMS_DIGEST_NONCE, nonce));
    KMS_TRY(kms_digest_set(&p, KMS_DIGEST_ALGORITHM, algorithm_aka));
    KMS_TRY(kms_digest_set(&p, KMS_DIGEST_QOP, qop_auth_int));
    if (opaque != NULL) {
        KMS_TRY(kms_digest_set(&p, KMS_DIGEST_OPAQUE, opaque));
    }
    if (stale) {
        KMS_TRY(kms_digest_set(&p, KMS_DIGEST_STALE, "true"));
    }
    return kms_digest_format(KMS_DIGEST_CHALLENGE, &p, out);
}

kms_result kms_digest_write_info(const char *nc, const char *cnonce, const char *rspauth,
                                 struct kms_buf *out)
{
    struct kms_digest_params p;
    kms_digest_params_init(&p);
    KMS_TRY(kms_digest_set(&p, KMS_DIGEST_QOP, qop_auth_int));
    KMS_TRY(kms_digest_set(&p, KMS_DIGEST_NC, nc));
    KMS_TRY(kms_digest_set(&p, KMS_DIGEST_CNONCE, cnonce));
    KMS_TRY(kms_digest_set(&p, KMS_DIGEST_RSPAUTH, rspauth));
    return kms_digest_format(KMS_DIGEST_INFO, &p, out);
}

/* ---- computation ---- */

static EVP_MD *md5_handle;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;

static void fetch_md5(void)
{
    /* MD5 lives in OpenSSL's default provider; fetched once, like crypto/kms_ossl.c. */
    md5_handle = EVP_MD_fetch(NULL, "MD5", NULL);
}

/* H(parts...) as 32 lower-case hex digits and a NUL. */
static kms_result md5_hex(const struct kms_iov *parts, size_t n, char out[KMS_DIGEST_HEX_BUF])
{
    kms_result rc = KMS_RC_INIT;
    EVP_MD_CTX *ctx = NULL;
    uint8_t md[16];
    unsigned int md_len = 0;
    memset(out, 0, KMS_DIGEST_HEX_BUF);
    KMS_ENSURE_OUT(rc, pthread_once(&md5_once, fetch_md5) == 0 && md5_handle != NULL,
                   KMS_ERR_CRYPTO);
    ctx = EVP_MD_CTX_new();
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OSSL_OUT(rc, EVP_DigestInit_ex(ctx, md5_handle, NULL));
    for (size_t i = 0; i < n; i++) {
        KMS_TRY_OSSL_OUT(rc, EVP_DigestUpdate(ctx, parts[i].p, parts[i].len));
    }
    KMS_TRY_OSSL_OUT(rc, EVP_DigestFinal_ex(ctx, md, &md_len));
    KMS_ENSURE_OUT(rc, md_len == sizeof(md), KMS_ERR_CRYPTO);
    KMS_TRY_OUT(rc, kms_hex_encode(md, sizeof(md), out, KMS_DIGEST_HEX_BUF));
    rc = KMS_RESULT_OK;
out:
    EVP_MD_CTX_free(ctx);
    kms_wipe(md, sizeof(md));
    return rc;
}

#define IOV_STR(s)      ((struct kms_iov){(const uint8_t *)(s), strlen(s)})
#define IOV_COLON       ((struct kms_iov){(const uint8_t *)":", 1})
#define IOV_HEX(h)      ((struct kms_iov){(const uint8_t *)(h), KMS_DIGEST_HEX_LEN})
#define IOV_BYTES(p, n) ((struct kms_iov){(p), (n)})

static kms_result compute(const uint8_t *pw, size_t pw_len, const struct kms_digest_req *r,
                          const char *method, char out[KMS_DIGEST_HEX_BUF])
{
    kms_result rc = KMS_RC_INIT;
    char ha1[KMS_DIGEST_HEX_BUF], ha2[KMS_DIGEST_HEX_BUF], hbody[KMS_DIGEST_HEX_BUF];
    enum { NONE, AUTH, AUTH_INT } qop = NONE;
    memset(hbody, 0, sizeof(hbody));
    memset(out, 0, KMS_DIGEST_HEX_BUF);
    KMS_ENSURE_OUT(rc, r != NULL && (pw != NULL || pw_len == 0), KMS_ERR_ARG);
    KMS_ENSURE_OUT(rc,
                   r->username != NULL && r->realm != NULL && r->nonce != NULL && r->uri != NULL &&
                       method != NULL,
                   KMS_ERR_ARG);
    if (r->qop != NULL) {
        if (strcmp(r->qop, qop_auth_int) == 0) {
            qop = AUTH_INT;
        } else if (strcmp(r->qop, "auth") == 0) {
            qop = AUTH;
        } else {
            KMS_BAIL_OUT(rc, KMS_ERR_UNSUPPORTED);
        }
        KMS_ENSURE_OUT(rc, r->nc != NULL && r->cnonce != NULL, KMS_ERR_ARG);
    }
    KMS_ENSURE_OUT(rc, qop != AUTH_INT || r->body != NULL || r->body_len == 0, KMS_ERR_ARG);

    /* H(A1), A1 = username ":" realm ":" passwd */
    struct kms_iov a1[] = {IOV_STR(r->username), IOV_COLON, IOV_STR(r->realm), IOV_COLON,
                           IOV_BYTES(pw, pw_len)};
    KMS_TRY_OUT(rc, md5_hex(a1, 5, ha1));
    /* H(A2), A2 = method ":" uri [":" H(entity-body)] */
    size_t n_a2 = 3;
    if (qop == AUTH_INT) {
        struct kms_iov body = IOV_BYTES(r->body, r->body_len);
        KMS_TRY_OUT(rc, md5_hex(&body, 1, hbody));
        n_a2 = 5;
    }
    struct kms_iov a2[] = {IOV_STR(method), IOV_COLON, IOV_STR(r->uri), IOV_COLON, IOV_HEX(hbody)};
    KMS_TRY_OUT(rc, md5_hex(a2, n_a2, ha2));
    /* KD(H(A1), nonce ":" [nc ":" cnonce ":" qop ":"] H(A2)) */
    if (qop == NONE) {
        struct kms_iov kd[] = {IOV_HEX(ha1), IOV_COLON, IOV_STR(r->nonce), IOV_COLON, IOV_HEX(ha2)};
        KMS_TRY_OUT(rc, md5_hex(kd, 5, out));
    } else {
        struct kms_iov kd[] = {IOV_HEX(ha1),    IOV_COLON, IOV_STR(r->nonce),  IOV_COLON,
                               IOV_STR(r->nc),  IOV_COLON, IOV_STR(r->cnonce), IOV_COLON,
                               IOV_STR(r->qop), IOV_COLON, IOV_HEX(ha2)};
        KMS_TRY_OUT(rc, md5_hex(kd, 11, out));
    }
    rc = KMS_RESULT_OK;
out:
    kms_wipe(ha1, sizeof(ha1));
    kms_wipe(ha2, sizeof(ha2));
    if (!kms_ok(rc)) {
        memset(out, 0, KMS_DIGEST_HEX_BUF);
    }
    return rc;
}

kms_result kms_digest_response(const uint8_t *pw, size_t pw_len, const struct kms_digest_req *r,
                               char out[KMS_DIGEST_HEX_BUF])
{
    KMS_ENSURE_REF(out);
    return compute(pw, pw_len, r, r != NULL ? r->method : NULL, out);
}

kms_result kms_digest_rspauth(const uint8_t *pw, size_t pw_len, const struct kms_digest_req *r,
                              char out[KMS_DIGEST_HEX_BUF])
{
    KMS_ENSURE_REF(out);
    /*= RFC 2617 3.2.3
     *# A2       = ":" digest-uri-value
     *# and if "qop=auth-int", then A2 is
     *# A2       = ":" digest-uri-value ":" H(entity-body)
     */
    return compute(pw, pw_len, r, "", out);
}

bool kms_digest_hex_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return false;
    }
    if (strnlen(a, KMS_DIGEST_HEX_BUF) != KMS_DIGEST_HEX_LEN ||
        strnlen(b, KMS_DIGEST_HEX_BUF) != KMS_DIGEST_HEX_LEN) {
        return false;
    }
    return kms_ct_eq(a, b, KMS_DIGEST_HEX_LEN);
}

/* The request fields of parsed credentials (qop=auth-int with nc and cnonce required). */
static kms_result req_of(const struct kms_digest_params *cred, struct kms_digest_req *r)
{
    memset(r, 0, sizeof(*r));
    KMS_ENSURE_REF(cred);
    r->username = kms_digest_get(cred, KMS_DIGEST_USERNAME);
    r->realm = kms_digest_get(cred, KMS_DIGEST_REALM);
    r->nonce = kms_digest_get(cred, KMS_DIGEST_NONCE);
    r->uri = kms_digest_get(cred, KMS_DIGEST_URI);
    r->qop = kms_digest_get(cred, KMS_DIGEST_QOP);
    r->nc = kms_digest_get(cred, KMS_DIGEST_NC);
    r->cnonce = kms_digest_get(cred, KMS_DIGEST_CNONCE);
    KMS_ENSURE(r->username != NULL && r->realm != NULL && r->nonce != NULL && r->uri != NULL,
               KMS_ERR_ARG);
    KMS_ENSURE(r->qop != NULL && strcmp(r->qop, qop_auth_int) == 0 && r->nc != NULL &&
                   r->cnonce != NULL,
               KMS_ERR_UNSUPPORTED);
    const char *alg = kms_digest_get(cred, KMS_DIGEST_ALGORITHM);
    KMS_ENSURE(alg == NULL || lower_eq(alg, strlen(alg), algorithm_aka), KMS_ERR_UNSUPPORTED);
    return KMS_RESULT_OK;
}

kms_result kms_digest_verify_response(const struct kms_digest_params *cred, const uint8_t *pw,
                                      size_t pw_len, const char *method, const uint8_t *body,
                                      size_t body_len)
{
    struct kms_digest_req r;
    char want[KMS_DIGEST_HEX_BUF];
    KMS_TRY(req_of(cred, &r));
    const char *got = kms_digest_get(cred, KMS_DIGEST_RESPONSE);
    KMS_ENSURE(got != NULL && got[0] != '\0', KMS_ERR_UNSUPPORTED);
    r.method = method;
    r.body = body;
    r.body_len = body_len;
    KMS_TRY(kms_digest_response(pw, pw_len, &r, want));
    bool eq = kms_digest_hex_eq(want, got);
    kms_wipe(want, sizeof(want));
    KMS_ENSURE(eq, KMS_ERR_AUTH);
    return KMS_RESULT_OK;
}

kms_result kms_digest_verify_rspauth(const struct kms_digest_params *cred,
                                     const struct kms_digest_params *info, const uint8_t *pw,
                                     size_t pw_len, const uint8_t *body, size_t body_len)
{
    struct kms_digest_req r;
    char want[KMS_DIGEST_HEX_BUF];
    KMS_ENSURE_REF(info);
    KMS_TRY(req_of(cred, &r));
    const char *qop = kms_digest_get(info, KMS_DIGEST_QOP);
    const char *nc = kms_digest_get(info, KMS_DIGEST_NC);
    const char *cnonce = kms_digest_get(info, KMS_DIGEST_CNONCE);
    const char *got = kms_digest_get(info, KMS_DIGEST_RSPAUTH);
    KMS_ENSURE(qop != NULL && nc != NULL && cnonce != NULL && got != NULL, KMS_ERR_MALFORMED);
    /* The info must answer exactly these credentials. */
    KMS_ENSURE(strcmp(qop, r.qop) == 0 && strcmp(nc, r.nc) == 0 && strcmp(cnonce, r.cnonce) == 0,
               KMS_ERR_AUTH);
    r.body = body;
    r.body_len = body_len;
    KMS_TRY(kms_digest_rspauth(pw, pw_len, &r, want));
    bool eq = kms_digest_hex_eq(want, got);
    kms_wipe(want, sizeof(want));
    KMS_ENSURE(eq, KMS_ERR_AUTH);
    return KMS_RESULT_OK;
}

/* ---- nonce and auts ---- */

kms_result kms_digest_nonce_encode(const uint8_t rand[16], const uint8_t autn[16],
                                   const uint8_t *sd, size_t sd_len, char *out, size_t cap)
{
    uint8_t raw[16 + 16 + KMS_DIGEST_SERVER_DATA_MAX];
    KMS_ENSURE(rand != NULL && autn != NULL && out != NULL && (sd != NULL || sd_len == 0),
               KMS_ERR_ARG);
    if (cap > 0) {
        out[0] = '\0';
    }
    KMS_ENSURE(sd_len <= KMS_DIGEST_SERVER_DATA_MAX, KMS_ERR_TOO_LONG);
    /*= RFC 3310 3.2
     *# nonce = base64(RAND || AUTN || server specific data)
     */
    memcpy(raw, rand, 16);
    memcpy(raw + 16, autn, 16);
    if (sd_len > 0) {
        memcpy(raw + 32, sd, sd_len);
    }
    return kms_base64_encode(raw, 32 + sd_len, out, cap);
}

kms_result kms_digest_nonce_decode(const char *nonce, size_t len, uint8_t rand[16],
                                   uint8_t autn[16], uint8_t *sd, size_t sd_cap, size_t *sd_len)
{
    uint8_t raw[16 + 16 + KMS_DIGEST_SERVER_DATA_MAX];
    size_t n = 0;
    KMS_ENSURE(rand != NULL && autn != NULL && sd_len != NULL && (sd != NULL || sd_cap == 0),
               KMS_ERR_ARG);
    memset(rand, 0, 16);
    memset(autn, 0, 16);
    *sd_len = 0;
    if (sd_cap > 0) {
        memset(sd, 0, sd_cap);
    }
    KMS_ENSURE(nonce != NULL || len == 0, KMS_ERR_ARG);
    KMS_TRY(kms_base64_decode(nonce, len, raw, sizeof(raw), &n));
    struct kms_cur c;
    kms_cur_init(&c, raw, n);
    KMS_TRY(kms_cur_get_bytes(&c, rand, 16));
    kms_result r = kms_cur_get_bytes(&c, autn, 16);
    if (!kms_ok(r)) {
        memset(rand, 0, 16);
        return r;
    }
    size_t rest = kms_cur_remaining(&c);
    if (rest > sd_cap) {
        memset(rand, 0, 16);
        memset(autn, 0, 16);
        KMS_BAIL(KMS_ERR_TOO_LONG);
    }
    KMS_TRY(kms_cur_get_bytes(&c, sd, rest));
    *sd_len = rest;
    return KMS_RESULT_OK;
}

kms_result kms_digest_auts_decode(const char *s, size_t len, uint8_t auts[KMS_DIGEST_AUTS_LEN])
{
    uint8_t raw[KMS_DIGEST_AUTS_LEN + 3];
    size_t n = 0;
    KMS_ENSURE_REF(auts);
    memset(auts, 0, KMS_DIGEST_AUTS_LEN);
    KMS_ENSURE(s != NULL || len == 0, KMS_ERR_ARG);
    kms_result r = kms_base64_decode(s, len, raw, sizeof(raw), &n);
    if (r.err == KMS_ERR_TOO_LONG) {
        KMS_BAIL(KMS_ERR_BAD_LENGTH);
    }
    KMS_TRY(r);
    if (n != KMS_DIGEST_AUTS_LEN) {
        kms_wipe(raw, sizeof(raw));
        KMS_BAIL(KMS_ERR_BAD_LENGTH);
    }
    memcpy(auts, raw, KMS_DIGEST_AUTS_LEN);
    return KMS_RESULT_OK;
}

kms_result kms_digest_auts_encode(const uint8_t auts[KMS_DIGEST_AUTS_LEN],
                                  char out[KMS_DIGEST_AUTS_BUF])
{
    KMS_ENSURE(auts != NULL && out != NULL, KMS_ERR_ARG);
    return kms_base64_encode(auts, KMS_DIGEST_AUTS_LEN, out, KMS_DIGEST_AUTS_BUF);
}
