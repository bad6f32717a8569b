/* SPDX-License-Identifier: Apache-2.0 */
/* The subscriber export format: see kms_subfile.h. */
#include "gba/kms_subfile.h"

#include <string.h>

#include "crypto/kms_sqn.h"
#include "util/kms_codec.h"
#include "util/kms_cur.h"
#include "util/kms_mem.h"

static const char header[] = "imskms-subscribers ";
static const char end_tag[] = "end count=";

enum { ST_HEADER, ST_RECORDS, ST_DONE, ST_FAILED };

/* ---- writing ---- */

static kms_result put_str(struct kms_buf *b, const char *s)
{
    return kms_buf_put_bytes(b, (const uint8_t *)s, strlen(s));
}

static kms_result put_hex(struct kms_buf *b, const uint8_t *p, size_t n)
{
    char hex[2 * KMS_SUBSCRIBER_SEALED_LEN + 1];
    KMS_ENSURE(n <= KMS_SUBSCRIBER_SEALED_LEN, KMS_ERR_ARG);
    KMS_TRY(kms_hex_encode(p, n, hex, sizeof(hex)));
    return kms_buf_put_bytes(b, (const uint8_t *)hex, 2 * n);
}

static kms_result put_dec(struct kms_buf *b, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0) {
        KMS_TRY(kms_buf_put_u8(b, (uint8_t)d[--n]));
    }
    return KMS_RESULT_OK;
}

kms_result kms_subfile_put_header(struct kms_buf *b)
{
    KMS_TRY(put_str(b, header));
    KMS_TRY(put_dec(b, KMS_SUBFILE_VERSION));
    return kms_buf_put_u8(b, '\n');
}

kms_result kms_subfile_put_rec(struct kms_buf *b, const struct kms_subscriber_rec *rec)
{
    const struct kms_subscriber_info *in = &rec->info;
    uint8_t sqn[6];
    KMS_ENSURE(in->n_impu >= 1 && in->n_impu <= KMS_SUBSCRIBER_IMPU_MAX, KMS_ERR_ARG);
    KMS_ENSURE(in->sqn <= KMS_SQN_MAX, KMS_ERR_ARG);
    KMS_ENSURE(strnlen(in->impi, sizeof(in->impi)) < sizeof(in->impi), KMS_ERR_ARG);
    kms_sqn_to_bytes(in->sqn, sqn);
    KMS_TRY(put_str(b, "impi="));
    KMS_TRY(put_str(b, in->impi));
    KMS_TRY(put_str(b, " amf="));
    KMS_TRY(put_hex(b, in->amf, sizeof(in->amf)));
    KMS_TRY(put_str(b, " sqn="));
    KMS_TRY(put_hex(b, sqn, sizeof(sqn)));
    KMS_TRY(put_str(b, " sealed="));
    KMS_TRY(put_hex(b, rec->sealed, sizeof(rec->sealed)));
    for (size_t i = 0; i < in->n_impu; i++) {
        KMS_ENSURE(strnlen(in->impu[i], sizeof(in->impu[i])) < sizeof(in->impu[i]), KMS_ERR_ARG);
        KMS_TRY(put_str(b, " impu="));
        KMS_TRY(put_str(b, in->impu[i]));
    }
    return kms_buf_put_u8(b, '\n');
}

kms_result kms_subfile_put_end(struct kms_buf *b, uint64_t count)
{
    KMS_TRY(put_str(b, end_tag));
    KMS_TRY(put_dec(b, count));
    return kms_buf_put_u8(b, '\n');
}

/* ---- reading ---- */

void kms_subfile_reader_init(struct kms_subfile_reader *r)
{
    r->state = ST_HEADER;
    r->records = 0;
}

/* Whether the n bytes at p are the literal s (public text: no constant time needed). */
static bool same(const uint8_t *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (uint8_t)s[i]) {
            return false;
        }
    }
    return true;
}

/* The literal s next, else KMS_ERR_MALFORMED (the cursor is left where it was). */
static kms_result expect_lit(struct kms_cur *c, const char *s)
{
    size_t n = strlen(s);
    struct kms_cur v;
    KMS_ENSURE(kms_cur_remaining(c) >= n && same(kms_cur_peek_ptr(c), s, n), KMS_ERR_MALFORMED);
    return kms_cur_get_view(c, n, &v);
}

/* The bytes up to the next space or the end of the line (at least one), as a view: printable
 * ASCII only (KMS_ERR_NOT_ASCII), so a NUL cannot cut a name short once it is a C string. */
static kms_result token(struct kms_cur *c, struct kms_cur *v)
{
    const uint8_t *p = kms_cur_peek_ptr(c);
    size_t n = 0, left = kms_cur_remaining(c);
    while (n < left && p[n] != ' ') {
        KMS_ENSURE(p[n] > 0x20 && p[n] < 0x7f, KMS_ERR_NOT_ASCII);
        n++;
    }
    KMS_ENSURE(n > 0, KMS_ERR_MALFORMED);
    return kms_cur_get_view(c, n, v);
}

/* A token copied as a NUL-terminated string of at most cap - 1 bytes. */
static kms_result token_str(struct kms_cur *c, char *out, size_t cap)
{
    struct kms_cur v;
    KMS_TRY(token(c, &v));
    KMS_ENSURE(kms_cur_remaining(&v) < cap, KMS_ERR_TOO_LONG);
    memcpy(out, kms_cur_peek_ptr(&v), kms_cur_remaining(&v));
    out[kms_cur_remaining(&v)] = '\0';
    return KMS_RESULT_OK;
}

/* A token of exactly 2n lower-case hex digits, decoded into out[n]. */
static kms_result token_hex(struct kms_cur *c, uint8_t *out, size_t n)
{
    struct kms_cur v;
    size_t got = 0;
    KMS_TRY(token(c, &v));
    const uint8_t *p = kms_cur_peek_ptr(&v);
    KMS_ENSURE(kms_cur_remaining(&v) == 2 * n, KMS_ERR_MALFORMED);
    for (size_t i = 0; i < 2 * n; i++) {
        KMS_ENSURE((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'), KMS_ERR_MALFORMED);
    }
    KMS_TRY(kms_hex_decode((const char *)p, 2 * n, out, n, &got));
    KMS_ENSURE(got == n, KMS_ERR_MALFORMED);
    return KMS_RESULT_OK;
}

/* A decimal of 1..19 digits, no sign, no leading zero: the rest of the line. */
static kms_result rest_dec(struct kms_cur *c, uint64_t *out)
{
    const uint8_t *p = kms_cur_peek_ptr(c);
    size_t n = kms_cur_remaining(c);
    uint64_t v = 0;
    *out = 0;
    KMS_ENSURE(n >= 1 && n <= 19 && (p[0] != '0' || n == 1), KMS_ERR_MALFORMED);
    for (size_t i = 0; i < n; i++) {
        KMS_ENSURE(p[i] >= '0' && p[i] <= '9', KMS_ERR_MALFORMED);
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    KMS_TRY(kms_cur_skip(c, n));
    *out = v;
    return KMS_RESULT_OK;
}

static kms_result parse_header(struct kms_cur *c)
{
    uint64_t version = 0;
    KMS_TRY(expect_lit(c, header));
    KMS_TRY(rest_dec(c, &version));
    KMS_ENSURE(version == KMS_SUBFILE_VERSION, KMS_ERR_UNSUPPORTED);
    return KMS_RESULT_OK;
}

static kms_result parse_rec(struct kms_cur *c, struct kms_subscriber_rec *rec)
{
    struct kms_subscriber_info *in = &rec->info;
    struct kms_subscriber s;
    uint8_t sqn[6];
    KMS_TRY(expect_lit(c, "impi="));
    KMS_TRY(token_str(c, in->impi, sizeof(in->impi)));
    KMS_TRY(expect_lit(c, " amf="));
    KMS_TRY(token_hex(c, in->amf, sizeof(in->amf)));
    KMS_TRY(expect_lit(c, " sqn="));
    KMS_TRY(token_hex(c, sqn, sizeof(sqn)));
    in->sqn = kms_sqn_from_bytes(sqn);
    KMS_TRY(expect_lit(c, " sealed="));
    KMS_TRY(token_hex(c, rec->sealed, sizeof(rec->sealed)));
    while (kms_cur_remaining(c) > 0) {
        KMS_ENSURE(in->n_impu < KMS_SUBSCRIBER_IMPU_MAX, KMS_ERR_MALFORMED);
        KMS_TRY(expect_lit(c, " impu="));
        KMS_TRY(token_str(c, in->impu[in->n_impu], sizeof(in->impu[in->n_impu])));
        in->n_impu++;
    }
    /* The identity rules of the store (no key material in s: only the names are checked). */
    memset(&s, 0, sizeof(s));
    memcpy(s.impi, in->impi, sizeof(s.impi));
    memcpy(s.impu, in->impu, sizeof(s.impu));
    s.n_impu = in->n_impu;
    return kms_subscriber_check(&s);
}

kms_result kms_subfile_feed(struct kms_subfile_reader *r, const uint8_t *line, size_t len,
                            struct kms_subscriber_rec *rec, bool *is_rec)
{
    struct kms_cur c;
    kms_result res = KMS_RESULT_OK;
    uint64_t count = 0;
    memset(rec, 0, sizeof(*rec));
    *is_rec = false;
    KMS_ENSURE(r->state != ST_FAILED, KMS_ERR_MALFORMED);
    kms_cur_init(&c, line, len);
    if (len > KMS_SUBFILE_LINE_MAX) {
        res = KMS_ERR(KMS_ERR_TOO_LONG);
    } else if (r->state == ST_DONE) {
        res = KMS_ERR(KMS_ERR_TRAILING);
    } else if (r->state == ST_HEADER) {
        res = parse_header(&c);
        r->state = ST_RECORDS;
    } else if (len >= sizeof(end_tag) - 1 && same(line, end_tag, sizeof(end_tag) - 1)) {
        res = expect_lit(&c, end_tag);
        if (kms_ok(res)) {
            res = rest_dec(&c, &count);
        }
        if (kms_ok(res) && count != r->records) {
            res = KMS_ERR(KMS_ERR_MALFORMED);
        }
        r->state = ST_DONE;
    } else {
        res = parse_rec(&c, rec);
        *is_rec = kms_ok(res);
        r->records += kms_ok(res) ? 1 : 0;
    }
    if (kms_ok(res)) {
        res = kms_cur_expect_end(&c);
    }
    if (!kms_ok(res)) {
        r->state = ST_FAILED;
        *is_rec = false;
        kms_wipe(rec, sizeof(*rec));
    }
    return res;
}

kms_result kms_subfile_rec_parse(const uint8_t *line, size_t len, struct kms_subscriber_rec *rec)
{
    struct kms_cur c;
    memset(rec, 0, sizeof(*rec));
    KMS_ENSURE(len <= KMS_SUBFILE_LINE_MAX, KMS_ERR_TOO_LONG);
    kms_cur_init(&c, line, len);
    kms_result r = parse_rec(&c, rec);
    if (kms_ok(r)) {
        r = kms_cur_expect_end(&c);
    }
    if (!kms_ok(r)) {
        kms_wipe(rec, sizeof(*rec));
    }
    return r;
}

kms_result kms_subfile_finish(const struct kms_subfile_reader *r)
{
    KMS_ENSURE(r->state != ST_FAILED, KMS_ERR_MALFORMED);
    KMS_ENSURE(r->state == ST_DONE, KMS_ERR_TRUNCATED);
    return KMS_RESULT_OK;
}

kms_result kms_subfile_parse(const uint8_t *p, size_t n,
                             kms_result (*cb)(void *arg, const struct kms_subscriber_rec *rec),
                             void *arg, size_t *line_no)
{
    struct kms_subfile_reader r;
    struct kms_subscriber_rec rec;
    struct kms_cur c;
    size_t line = 0;
    kms_result res = KMS_RESULT_OK;
    if (line_no != NULL) {
        *line_no = 0;
    }
    KMS_ENSURE(cb != NULL, KMS_ERR_ARG);
    kms_subfile_reader_init(&r);
    kms_cur_init(&c, p, n);
    while (kms_ok(res) && kms_cur_remaining(&c) > 0) {
        const uint8_t *q = kms_cur_peek_ptr(&c);
        size_t left = kms_cur_remaining(&c), len = 0;
        struct kms_cur v;
        bool is_rec = false;
        while (len < left && q[len] != '\n') {
            len++;
        }
        line++;
        if (len == left) {
            res = KMS_ERR(KMS_ERR_TRUNCATED); /* the last line has no "\n" */
            break;
        }
        res = kms_cur_get_view(&c, len, &v);
        if (kms_ok(res)) {
            res = kms_cur_skip(&c, 1);
        }
        if (kms_ok(res)) {
            res = kms_subfile_feed(&r, kms_cur_peek_ptr(&v), len, &rec, &is_rec);
        }
        if (kms_ok(res) && is_rec) {
            res = cb(arg, &rec);
        }
    }
    if (kms_ok(res)) {
        line++; /* a missing end line is reported on the line after the last */
        res = kms_subfile_finish(&r);
    }
    if (!kms_ok(res) && line_no != NULL) {
        *line_no = line;
    }
    kms_wipe(&rec, sizeof(rec));
    return res;
}
