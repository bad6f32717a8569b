/* SPDX-License-Identifier: Apache-2.0 */
#include "sdp/kms_sdp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/kms_codec.h"
#include "util/kms_cur.h"

/* RFC 4566 9 (paraphrased): token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 /
 * %x41-5A / %x5E-7E. */
static bool is_token_char(uint8_t c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b || c == 0x2d ||
           c == 0x2e || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
           (c >= 0x5e && c <= 0x7e);
}

static bool is_alpha(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(uint8_t c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* Octets before the first `stop` in c (all of them when there is none). */
static size_t span_until(const struct kms_cur *c, uint8_t stop)
{
    const uint8_t *p = kms_cur_peek_ptr(c);
    size_t n = kms_cur_remaining(c);
    size_t i = 0;
    while (i < n && p[i] != stop) {
        i++;
    }
    return i;
}

/* True when the next octets of c are exactly the NUL-terminated s (c is not moved). */
static bool has_prefix(const struct kms_cur *c, const char *s)
{
    size_t n = strlen(s);
    if (kms_cur_remaining(c) < n) {
        return false;
    }
    const uint8_t *p = kms_cur_peek_ptr(c);
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (uint8_t)s[i]) {
            return false;
        }
    }
    return true;
}

/* The next field of a line: the non-empty run of octets up to one SP or the end, as a view. */
static kms_result take_field(struct kms_cur *c, struct kms_cur *f)
{
    size_t n = span_until(c, ' ');
    KMS_ENSURE(n > 0, KMS_ERR_MALFORMED);
    return kms_cur_get_view(c, n, f);
}

/* Exactly one SP. */
static kms_result take_sp(struct kms_cur *c)
{
    uint8_t b;
    KMS_ENSURE(kms_ok(kms_cur_get_u8(c, &b)) && b == ' ', KMS_ERR_MALFORMED);
    return KMS_RESULT_OK;
}

/* The whole view f as a C string in dst (cap octets with the NUL), every octet passing ok. */
static kms_result view_to_str(struct kms_cur *f, bool (*ok)(uint8_t), char *dst, size_t cap)
{
    size_t n = kms_cur_remaining(f);
    const uint8_t *p = kms_cur_peek_ptr(f);
    KMS_ENSURE(n > 0 && n < cap, KMS_ERR_MALFORMED);
    for (size_t i = 0; i < n; i++) {
        KMS_ENSURE(ok(p[i]), KMS_ERR_MALFORMED);
    }
    KMS_TRY(kms_cur_get_bytes(f, (uint8_t *)dst, n));
    dst[n] = '\0';
    return KMS_RESULT_OK;
}

static bool is_proto_char(uint8_t c)
{
    return is_token_char(c) || c == '/';
}

static bool is_fmts_char(uint8_t c)
{
    return is_token_char(c) || c == ' ';
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_any(uint8_t c)
{
    (void)c;
    return true;
}

/* m=<media> <port> <proto> <fmt> *(SP <fmt>) (RFC 4566 5.14). *eo follows the field read. */
static kms_result parse_m(struct kms_cur *v, struct kms_sdp_media *m, size_t *eo)
{
    struct kms_cur f;
    char port[6];
    uint64_t pv = 0;
    *eo = kms_cur_offset(v);
    KMS_TRY(take_field(v, &f));
    KMS_TRY(view_to_str(&f, is_token_char, m->media, sizeof m->media));
    *eo = kms_cur_offset(v);
    KMS_TRY(take_sp(v));
    *eo = kms_cur_offset(v);
    /* Digits only: `<port>/<number of ports>` is refused. */
    KMS_TRY(take_field(v, &f));
    KMS_TRY(view_to_str(&f, is_digit, port, sizeof port));
    KMS_TRY(kms_dec_decode_u64(port, 65535, &pv));
    m->port = (uint16_t)pv;
    *eo = kms_cur_offset(v);
    KMS_TRY(take_sp(v));
    *eo = kms_cur_offset(v);
    KMS_TRY(take_field(v, &f));
    KMS_TRY(view_to_str(&f, is_proto_char, m->proto, sizeof m->proto));
    *eo = kms_cur_offset(v);
    KMS_TRY(take_sp(v));
    *eo = kms_cur_offset(v);
    /* The formats: tokens, each after exactly one SP (no SP first, last or doubled). */
    size_t n = kms_cur_remaining(v);
    const uint8_t *p = kms_cur_peek_ptr(v);
    KMS_ENSURE(n > 0 && p[0] != ' ' && p[n - 1] != ' ', KMS_ERR_MALFORMED);
    for (size_t i = 1; i < n; i++) {
        KMS_ENSURE(!(p[i] == ' ' && p[i - 1] == ' '), KMS_ERR_MALFORMED);
    }
    return view_to_str(v, is_fmts_char, m->fmts, sizeof m->fmts);
}

/* c=IN IP4 <addr> / c=IN IP6 <addr> (RFC 4566 5.7), addr numeric. */
static kms_result parse_c(struct kms_cur *v, char *addr, size_t cap, size_t *eo)
{
    struct kms_cur f;
    *eo = kms_cur_offset(v);
    KMS_ENSURE(has_prefix(v, "IN "), KMS_ERR_MALFORMED);
    KMS_TRY(kms_cur_skip(v, 3));
    *eo = kms_cur_offset(v);
    int af;
    if (has_prefix(v, "IP4 ")) {
        af = AF_INET;
    } else {
        KMS_ENSURE(has_prefix(v, "IP6 "), KMS_ERR_MALFORMED);
        af = AF_INET6;
    }
    KMS_TRY(kms_cur_skip(v, 4));
    *eo = kms_cur_offset(v);
    char tmp[64];
    KMS_TRY(kms_cur_get_view(v, kms_cur_remaining(v), &f));
    KMS_TRY(view_to_str(&f, is_any, tmp, sizeof tmp));
    unsigned char bin[sizeof(struct in6_addr)];
    KMS_ENSURE(inet_pton(af, tmp, bin) == 1, KMS_ERR_MALFORMED);
    KMS_ENSURE(strlen(tmp) < cap, KMS_ERR_MALFORMED);
    memcpy(addr, tmp, strlen(tmp) + 1);
    return KMS_RESULT_OK;
}

/* Where a level keeps its MIKEY message. */
struct mikey_slot {
    bool *has;
    uint8_t *buf;
    size_t *len;
};

/* The value of a=key-mgmt:... after the colon: [SP] prtcl-id SP keymgmt-data (RFC 4567 3.1). */
static kms_result parse_keymgmt(struct kms_cur *v, struct mikey_slot slot, size_t line_off,
                                size_t *eo)
{
    struct kms_cur id;
    *eo = kms_cur_offset(v);
    if (has_prefix(v, " ")) {
        KMS_TRY(kms_cur_skip(v, 1));
        *eo = kms_cur_offset(v);
    }
    KMS_TRY(take_field(v, &id));
    const uint8_t *ip = kms_cur_peek_ptr(&id);
    for (size_t i = 0; i < kms_cur_remaining(&id); i++) {
        KMS_ENSURE(is_alnum(ip[i]), KMS_ERR_MALFORMED);
    }
    bool mikey = has_prefix(&id, "mikey") && kms_cur_remaining(&id) == 5;
    *eo = kms_cur_offset(v);
    KMS_TRY(take_sp(v));
    *eo = kms_cur_offset(v);
    if (!mikey) {
        return KMS_RESULT_OK; /* another protocol: its data is not ours to read */
    }
    KMS_ENSURE(kms_cur_remaining(v) > 0, KMS_ERR_MALFORMED);
    if (*slot.has) {
        *eo = line_off;
        KMS_BAIL(KMS_ERR_MALFORMED); /* a second mikey attribute at one level */
    }
    KMS_TRY(kms_base64_decode((const char *)kms_cur_peek_ptr(v), kms_cur_remaining(v), slot.buf,
                              KMS_SDP_KEYMGMT_MAX, slot.len));
    KMS_ENSURE(*slot.len > 0, KMS_ERR_MALFORMED);
    *slot.has = true;
    return kms_cur_skip(v, kms_cur_remaining(v));
}

/* The parse itself; *eo is kept at the offset of what is being read. */
static kms_result parse(struct kms_cur *c, struct kms_sdp *s, size_t *eo)
{
    size_t lines = 0;
    bool media_c = false;
    struct kms_sdp_media *m = NULL;
    while (kms_cur_remaining(c) > 0) {
        struct kms_cur ln;
        size_t line_off = kms_cur_offset(c);
        *eo = line_off;
        KMS_ENSURE(lines < KMS_SDP_LINES_MAX, KMS_ERR_TOO_LONG);
        size_t n = span_until(c, '\n');
        if (n == kms_cur_remaining(c)) {
            *eo = line_off + n;
            KMS_BAIL(KMS_ERR_TRUNCATED); /* the last line has no line end */
        }
        /* The line end: LF, or CRLF (whose CR is not part of the value). */
        size_t end = n > 0 && kms_cur_peek_ptr(c)[n - 1] == '\r' ? 1 : 0;
        KMS_TRY(kms_cur_get_view(c, n - end, &ln));
        KMS_TRY(kms_cur_skip(c, end + 1));
        n -= end;
        const uint8_t *p = kms_cur_peek_ptr(&ln);
        for (size_t i = 0; i < n; i++) {
            *eo = line_off + i;
            KMS_ENSURE(p[i] >= 0x20 && p[i] < 0x7f, KMS_ERR_NOT_ASCII);
        }
        *eo = line_off;
        KMS_ENSURE(n >= 2 && is_alpha(p[0]) && p[1] == '=', KMS_ERR_MALFORMED);
        uint8_t type = p[0];
        KMS_TRY(kms_cur_skip(&ln, 2));
        bool keymgmt = type == 'a' && has_prefix(&ln, "key-mgmt:");
        *eo = line_off + KMS_SDP_LINE_MAX;
        KMS_ENSURE(keymgmt || n <= KMS_SDP_LINE_MAX, KMS_ERR_TOO_LONG);
        *eo = line_off;
        if (lines == 0) {
            KMS_ENSURE(type == 'v', KMS_ERR_MALFORMED);
            *eo = line_off + 2;
            KMS_ENSURE(has_prefix(&ln, "0") && kms_cur_remaining(&ln) == 1, KMS_ERR_UNSUPPORTED);
        } else if (type == 'v') {
            KMS_BAIL(KMS_ERR_MALFORMED); /* v= once, first */
        } else if (type == 'm') {
            KMS_ENSURE(s->n_media < KMS_SDP_MEDIA_MAX, KMS_ERR_TOO_LONG);
            m = &s->m[s->n_media++];
            media_c = false;
            KMS_TRY(parse_m(&ln, m, eo));
            memcpy(m->conn_addr, s->conn_addr, sizeof m->conn_addr);
        } else if (type == 'c') {
            /* One c= per level (a session c= is never empty once read). */
            KMS_ENSURE(m != NULL ? !media_c : s->conn_addr[0] == '\0', KMS_ERR_MALFORMED);
            if (m != NULL) {
                KMS_TRY(parse_c(&ln, m->conn_addr, sizeof m->conn_addr, eo));
                media_c = true;
            } else {
                KMS_TRY(parse_c(&ln, s->conn_addr, sizeof s->conn_addr, eo));
            }
        } else if (keymgmt) {
            struct mikey_slot slot =
                m != NULL ? (struct mikey_slot){&m->has_mikey, m->mikey, &m->mikey_len}
                          : (struct mikey_slot){&s->has_mikey, s->mikey, &s->mikey_len};
            KMS_TRY(kms_cur_skip(&ln, strlen("key-mgmt:")));
            KMS_TRY(parse_keymgmt(&ln, slot, line_off, eo));
        } else if (type == 'a' && has_prefix(&ln, "key-mgmt") && kms_cur_remaining(&ln) == 8) {
            KMS_BAIL(KMS_ERR_MALFORMED); /* key-mgmt without its value */
        }
        /* Any other line or attribute: skipped. */
        lines++;
    }
    *eo = kms_cur_offset(c);
    KMS_ENSURE(lines > 0, KMS_ERR_TRUNCATED);
    return KMS_RESULT_OK;
}

kms_result kms_sdp_parse(const uint8_t *p, size_t n, struct kms_sdp *out, size_t *err_off)
{
    size_t eo = 0;
    if (err_off != NULL) {
        *err_off = 0;
    }
    KMS_ENSURE(out != NULL && (p != NULL || n == 0), KMS_ERR_ARG);
    memset(out, 0, sizeof *out);
    kms_result r;
    if (n > KMS_SDP_MAX) {
        eo = KMS_SDP_MAX;
        r = KMS_ERR(KMS_ERR_TOO_LONG);
    } else {
        struct kms_cur c;
        kms_cur_init(&c, p, n);
        r = parse(&c, out, &eo);
    }
    if (!kms_ok(r)) {
        memset(out, 0, sizeof *out);
        if (err_off != NULL) {
            *err_off = eo;
        }
    }
    return r;
}

kms_result kms_sdp_mikey_for(const struct kms_sdp *s, size_t i, const uint8_t **p, size_t *n)
{
    KMS_ENSURE(p != NULL && n != NULL, KMS_ERR_ARG);
    *p = NULL;
    *n = 0;
    KMS_ENSURE(s != NULL && i < s->n_media, KMS_ERR_ARG);
    /* RFC 4567 3.1: "if the media-level attribute is present, the session level attribute
     * MUST be ignored for this media." */
    if (s->m[i].has_mikey) {
        *p = s->m[i].mikey;
        *n = s->m[i].mikey_len;
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(s->has_mikey, KMS_ERR_NOT_FOUND);
    *p = s->mikey;
    *n = s->mikey_len;
    return KMS_RESULT_OK;
}

static kms_result put_str(struct kms_buf *b, const char *s)
{
    return kms_buf_put_bytes(b, (const uint8_t *)s, strlen(s));
}

kms_result kms_sdp_write(const struct kms_sdp_out *o, struct kms_buf *out)
{
    KMS_ENSURE(o != NULL && out != NULL && o->addr != NULL && o->mikey != NULL, KMS_ERR_ARG);
    KMS_ENSURE(o->mikey_len > 0 && o->mikey_len <= KMS_SDP_KEYMGMT_MAX, KMS_ERR_ARG);
    unsigned char bin[sizeof(struct in6_addr)];
    const char *ip;
    if (inet_pton(AF_INET, o->addr, bin) == 1) {
        ip = "IP4";
    } else {
        KMS_ENSURE(inet_pton(AF_INET6, o->addr, bin) == 1, KMS_ERR_ARG);
        ip = "IP6";
    }
    kms_result rc = KMS_RC_INIT;
    size_t start = kms_buf_len(out);
    char line[160];
    int w = snprintf(line, sizeof line, "v=0\r\no=- %llu %llu IN %s %s\r\ns=-\r\nc=IN %s %s\r\n",
                     (unsigned long long)o->sess_id, (unsigned long long)o->sess_version, ip,
                     o->addr, ip, o->addr);
    KMS_ENSURE_OUT(rc, w > 0 && (size_t)w < sizeof line, KMS_ERR_INTERNAL);
    KMS_TRY_OUT(rc, put_str(out, line));
    KMS_TRY_OUT(rc, put_str(out, "t=0 0\r\na=key-mgmt:mikey "));
    size_t enc = KMS_BASE64_ENC_LEN(o->mikey_len);
    uint8_t *dst = NULL;
    KMS_TRY_OUT(rc, kms_buf_put_space(out, enc, &dst));
    KMS_TRY_OUT(rc, kms_base64_encode(o->mikey, o->mikey_len, (char *)dst, enc));
    kms_buf_truncate(out, kms_buf_len(out) - 1); /* the encoder's NUL */
    w = snprintf(line, sizeof line,
                 "\r\nm=audio %u RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
                 (unsigned)o->port);
    KMS_ENSURE_OUT(rc, w > 0 && (size_t)w < sizeof line, KMS_ERR_INTERNAL);
    KMS_TRY_OUT(rc, put_str(out, line));
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        kms_buf_truncate(out, start);
    }
    return rc;
}
