/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulated USIM file (format and rules in the header). Reading is two passes over the
 * bounded cursor: split into lines and assign each to its field (unknown and repeated names
 * refused, the checksum line last), then interpret the fields, ind_bits before seq.
 */
#include "ue/kms_usim.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/kms_codec.h"
#include "util/kms_cur.h"
#include "util/kms_file.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

#define SHA256_LEN  32
#define SEQ_HEX_LEN 12 /* one SEQ_MS value: 48 bits */

enum field { F_IMPI, F_IMPU, F_K, F_OPC, F_AMF, F_IND_BITS, F_DELTA, F_AGE, F_SEQ, F_COUNT };

static const struct {
    const char *name;
    size_t max; /* occurrences (the minimum is 1 for each) */
} fields[F_COUNT] = {
    [F_IMPI] = {"impi", 1},   [F_IMPU] = {"impu", KMS_USIM_MAX_IMPU},
    [F_K] = {"k", 1},         [F_OPC] = {"opc", 1},
    [F_AMF] = {"amf", 1},     [F_IND_BITS] = {"ind_bits", 1},
    [F_DELTA] = {"delta", 1}, [F_AGE] = {"age_limit", 1},
    [F_SEQ] = {"seq", 1},
};

static const char header[] = "imskms-usim=1\n";

/* ---- checks ---- */

kms_result kms_usim_check(const struct kms_usim *u)
{
    KMS_ENSURE_REF(u);
    KMS_TRY(kms_ident_check_impi(u->impi, strnlen(u->impi, sizeof(u->impi))));
    KMS_ENSURE(u->n_impu >= 1 && u->n_impu <= KMS_USIM_MAX_IMPU, KMS_ERR_ARG);
    for (size_t i = 0; i < u->n_impu; i++) {
        KMS_TRY(kms_ident_check_impu(u->impu[i], strnlen(u->impu[i], sizeof(u->impu[i]))));
        for (size_t j = 0; j < i; j++) {
            KMS_ENSURE(strcmp(u->impu[i], u->impu[j]) != 0, KMS_ERR_ARG);
        }
    }
    const struct kms_sqn_ms *s = &u->sqn;
    KMS_ENSURE(s->ind_bits <= KMS_SQN_IND_BITS_MAX, KMS_ERR_ARG);
    KMS_ENSURE(s->delta >= 1 && s->delta <= KMS_SQN_MAX + 1, KMS_ERR_ARG);
    KMS_ENSURE(s->age_limit <= KMS_SQN_MAX + 1, KMS_ERR_ARG);
    size_t a = (size_t)1 << s->ind_bits;
    for (size_t i = 0; i < sizeof(s->seq) / sizeof(s->seq[0]); i++) {
        KMS_ENSURE(i < a ? s->seq[i] <= (KMS_SQN_MAX >> s->ind_bits) : s->seq[i] == 0, KMS_ERR_ARG);
    }
    return KMS_RESULT_OK;
}

/* ---- encoding ---- */

static kms_result put_str(struct kms_buf *b, const char *s)
{
    return kms_buf_put_bytes(b, (const uint8_t *)s, strlen(s));
}

static kms_result put_line(struct kms_buf *b, const char *name, const char *value)
{
    KMS_TRY(put_str(b, name));
    KMS_TRY(put_str(b, "="));
    KMS_TRY(put_str(b, value));
    return put_str(b, "\n");
}

static kms_result put_hex_line(struct kms_buf *b, const char *name, const uint8_t *p, size_t n)
{
    char hex[KMS_HEX_ENC_LEN(16)];
    kms_result r = kms_hex_encode(p, n, hex, sizeof(hex));
    if (kms_ok(r)) {
        r = put_line(b, name, hex);
    }
    kms_wipe(hex, sizeof(hex));
    return r;
}

static kms_result put_u64_line(struct kms_buf *b, const char *name, uint64_t v)
{
    char dec[24];
    snprintf(dec, sizeof(dec), "%llu", (unsigned long long)v);
    return put_line(b, name, dec);
}

static kms_result sha256(const uint8_t *p, size_t n, uint8_t out[SHA256_LEN])
{
    unsigned len = 0;
    KMS_TRY_OSSL(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL));
    KMS_ENSURE(len == SHA256_LEN, KMS_ERR_CRYPTO);
    return KMS_RESULT_OK;
}

static kms_result encode(const struct kms_usim *u, struct kms_buf *b, size_t start)
{
    KMS_TRY(put_str(b, header));
    KMS_TRY(put_line(b, "impi", u->impi));
    for (size_t i = 0; i < u->n_impu; i++) {
        KMS_TRY(put_line(b, "impu", u->impu[i]));
    }
    KMS_TRY(put_hex_line(b, "k", u->k, sizeof(u->k)));
    KMS_TRY(put_hex_line(b, "opc", u->opc, sizeof(u->opc)));
    KMS_TRY(put_hex_line(b, "amf", u->amf, sizeof(u->amf)));
    KMS_TRY(put_u64_line(b, "ind_bits", u->sqn.ind_bits));
    KMS_TRY(put_u64_line(b, "delta", u->sqn.delta));
    KMS_TRY(put_u64_line(b, "age_limit", u->sqn.age_limit));
    KMS_TRY(put_str(b, "seq="));
    for (size_t i = 0; i < ((size_t)1 << u->sqn.ind_bits); i++) {
        uint8_t v[6];
        char hex[KMS_HEX_ENC_LEN(6)];
        kms_sqn_to_bytes(u->sqn.seq[i], v);
        KMS_TRY(kms_hex_encode(v, sizeof(v), hex, sizeof(hex)));
        KMS_TRY(put_str(b, hex));
    }
    KMS_TRY(put_str(b, "\n"));
    uint8_t sum[SHA256_LEN];
    KMS_TRY(sha256(kms_buf_data(b) + start, kms_buf_len(b) - start, sum));
    char hex[KMS_HEX_ENC_LEN(SHA256_LEN)];
    KMS_TRY(kms_hex_encode(sum, sizeof(sum), hex, sizeof(hex)));
    return put_line(b, "sha256", hex);
}

kms_result kms_usim_encode(const struct kms_usim *u, struct kms_buf *out)
{
    KMS_ENSURE_REF(out);
    KMS_TRY(kms_usim_check(u));
    size_t mark = kms_buf_len(out);
    kms_result r = encode(u, out, mark);
    if (!kms_ok(r)) {
        kms_buf_truncate(out, mark);
    }
    return r;
}

/* ---- decoding ---- */

struct lines {
    struct kms_cur v[F_COUNT][KMS_USIM_MAX_IMPU];
    size_t n[F_COUNT];
};

/* The next '\n'-terminated line (without the '\n'); MALFORMED when the input ends first. */
static kms_result get_line(struct kms_cur *c, struct kms_cur *line)
{
    size_t n = 0;
    while (n < c->len && c->p[n] != '\n') {
        n++;
    }
    KMS_ENSURE(n < c->len, KMS_ERR_MALFORMED);
    KMS_TRY(kms_cur_get_view(c, n, line));
    return kms_cur_skip(c, 1);
}

/* Splits "name=value"; the value must be 1+ octets of printable ASCII without space. */
static kms_result split(const struct kms_cur *line, struct kms_cur *name, struct kms_cur *val)
{
    struct kms_cur c = *line;
    size_t eq = 0;
    while (eq < c.len && c.p[eq] != '=') {
        eq++;
    }
    KMS_ENSURE(eq > 0 && eq + 1 < c.len, KMS_ERR_MALFORMED);
    KMS_TRY(kms_cur_get_view(&c, eq, name));
    KMS_TRY(kms_cur_skip(&c, 1));
    for (size_t i = 0; i < c.len; i++) {
        KMS_ENSURE(c.p[i] > 0x20 && c.p[i] < 0x7f, KMS_ERR_MALFORMED);
    }
    *val = c;
    return KMS_RESULT_OK;
}

static bool view_is(const struct kms_cur *v, const char *s)
{
    return v->len == strlen(s) && memcmp(v->p, s, v->len) == 0;
}

/* Lower-case hex of exactly n octets. */
static kms_result view_hex(const struct kms_cur *v, uint8_t *out, size_t n)
{
    KMS_ENSURE(v->len == 2 * n, KMS_ERR_MALFORMED);
    for (size_t i = 0; i < v->len; i++) {
        uint8_t ch = v->p[i];
        KMS_ENSURE((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'), KMS_ERR_MALFORMED);
    }
    size_t got;
    KMS_TRY(kms_hex_decode((const char *)v->p, v->len, out, n, &got));
    return KMS_RESULT_OK;
}

/* A decimal without sign or leading zero, at most max. */
static kms_result view_u64(const struct kms_cur *v, uint64_t max, uint64_t *out)
{
    KMS_ENSURE(v->len >= 1 && v->len <= 20 && (v->p[0] != '0' || v->len == 1), KMS_ERR_MALFORMED);
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        uint8_t ch = v->p[i];
        KMS_ENSURE(ch >= '0' && ch <= '9', KMS_ERR_MALFORMED);
        uint64_t d = (uint64_t)(ch - '0');
        KMS_ENSURE(x <= (max - d) / 10, KMS_ERR_MALFORMED);
        x = x * 10 + d;
    }
    *out = x;
    return KMS_RESULT_OK;
}

static kms_result view_str(const struct kms_cur *v, char *out, size_t cap)
{
    KMS_ENSURE(v->len < cap, KMS_ERR_MALFORMED);
    memcpy(out, v->p, v->len);
    out[v->len] = '\0';
    return KMS_RESULT_OK;
}

/* Pass 1: header, field lines, checksum line last and matching. */
static kms_result collect(const uint8_t *p, size_t n, struct lines *l)
{
    struct kms_cur c;
    kms_cur_init(&c, p, n);
    struct kms_cur line, name, val;
    KMS_TRY(get_line(&c, &line));
    KMS_TRY(split(&line, &name, &val));
    KMS_ENSURE(view_is(&name, "imskms-usim"), KMS_ERR_MALFORMED);
    KMS_ENSURE(view_is(&val, "1"), KMS_ERR_UNSUPPORTED);
    for (;;) {
        size_t body = kms_cur_offset(&c);
        KMS_TRY(get_line(&c, &line));
        KMS_TRY(split(&line, &name, &val));
        if (view_is(&name, "sha256")) {
            KMS_TRY(kms_cur_expect_end(&c));
            uint8_t want[SHA256_LEN], got[SHA256_LEN];
            KMS_TRY(view_hex(&val, want, sizeof(want)));
            KMS_TRY(sha256(p, body, got));
            KMS_ENSURE(kms_ct_eq(want, got, SHA256_LEN), KMS_ERR_MALFORMED);
            break;
        }
        size_t f = 0;
        while (f < F_COUNT && !view_is(&name, fields[f].name)) {
            f++;
        }
        KMS_ENSURE(f < F_COUNT && l->n[f] < fields[f].max, KMS_ERR_MALFORMED);
        l->v[f][l->n[f]++] = val;
    }
    for (size_t f = 0; f < F_COUNT; f++) {
        KMS_ENSURE(l->n[f] >= 1, KMS_ERR_MALFORMED);
    }
    return KMS_RESULT_OK;
}

/* Pass 2: the values. */
static kms_result interpret(const struct lines *l, struct kms_usim *u)
{
    KMS_TRY(view_str(&l->v[F_IMPI][0], u->impi, sizeof(u->impi)));
    for (size_t i = 0; i < l->n[F_IMPU]; i++) {
        KMS_TRY(view_str(&l->v[F_IMPU][i], u->impu[i], sizeof(u->impu[i])));
    }
    u->n_impu = l->n[F_IMPU];
    KMS_TRY(view_hex(&l->v[F_K][0], u->k, sizeof(u->k)));
    KMS_TRY(view_hex(&l->v[F_OPC][0], u->opc, sizeof(u->opc)));
    KMS_TRY(view_hex(&l->v[F_AMF][0], u->amf, sizeof(u->amf)));
    uint64_t ind_bits, delta, age;
    KMS_TRY(view_u64(&l->v[F_IND_BITS][0], KMS_SQN_IND_BITS_MAX, &ind_bits));
    KMS_TRY(view_u64(&l->v[F_DELTA][0], KMS_SQN_MAX + 1, &delta));
    KMS_TRY(view_u64(&l->v[F_AGE][0], KMS_SQN_MAX + 1, &age));
    KMS_ENSURE(kms_ok(kms_sqn_ms_init(&u->sqn, (unsigned)ind_bits, delta, age)), KMS_ERR_MALFORMED);
    size_t a = (size_t)1 << ind_bits;
    struct kms_cur seq = l->v[F_SEQ][0];
    KMS_ENSURE(seq.len == a * SEQ_HEX_LEN, KMS_ERR_MALFORMED);
    for (size_t i = 0; i < a; i++) {
        struct kms_cur one;
        uint8_t v[6];
        KMS_TRY(kms_cur_get_view(&seq, SEQ_HEX_LEN, &one));
        KMS_TRY(view_hex(&one, v, sizeof(v)));
        u->sqn.seq[i] = kms_sqn_from_bytes(v);
    }
    /* Identities and SEQ ranges: the same rules as for writing. */
    KMS_ENSURE(kms_ok(kms_usim_check(u)), KMS_ERR_MALFORMED);
    return KMS_RESULT_OK;
}

kms_result kms_usim_decode(const uint8_t *p, size_t n, struct kms_usim *u)
{
    KMS_ENSURE_REF(u);
    kms_usim_wipe(u);
    KMS_ENSURE(p != NULL || n == 0, KMS_ERR_ARG);
    KMS_ENSURE(n <= KMS_USIM_FILE_MAX, KMS_ERR_TOO_LONG);
    struct lines l;
    memset(&l, 0, sizeof(l));
    kms_result r = collect(p, n, &l);
    if (kms_ok(r)) {
        r = interpret(&l, u);
    }
    if (!kms_ok(r)) {
        kms_usim_wipe(u);
    }
    return r;
}

void kms_usim_wipe(struct kms_usim *u)
{
    if (u != NULL) {
        kms_wipe(u, sizeof(*u));
    }
}

/* ---- files ---- */

kms_result kms_usim_load(const char *path, struct kms_usim *u)
{
    KMS_ENSURE_REF(u);
    kms_usim_wipe(u);
    uint8_t *img = NULL;
    size_t n = 0;
    KMS_TRY(kms_file_read(path, KMS_USIM_FILE_MAX, true, &img, &n));
    kms_result r = kms_usim_decode(img, n, u);
    kms_file_free(img, n);
    return r;
}

/* Encodes u and writes it over path; the caller holds the lock. */
static kms_result write_locked(const char *path, const struct kms_usim *u)
{
    struct kms_buf b;
    kms_buf_init(&b, KMS_USIM_FILE_MAX, true);
    kms_result r = kms_usim_encode(u, &b);
    if (kms_ok(r)) {
        r = kms_file_write_atomic(path, kms_buf_data(&b), kms_buf_len(&b));
    }
    kms_buf_cleanup(&b);
    return r;
}

static kms_result must_exist(const char *path, bool exist)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        KMS_ENSURE(exist, KMS_ERR_EXISTS);
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(errno == ENOENT, KMS_ERR_IO);
    KMS_ENSURE(!exist, KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

static kms_result write_file(const char *path, const struct kms_usim *u, bool exist)
{
    KMS_ENSURE_REF(path);
    KMS_TRY(kms_usim_check(u));
    int lfd = -1;
    KMS_TRY(kms_file_lock(path, &lfd));
    kms_result r = must_exist(path, exist);
    if (kms_ok(r)) {
        r = write_locked(path, u);
    }
    kms_file_unlock(&lfd);
    return r;
}

kms_result kms_usim_create(const char *path, const struct kms_usim *u)
{
    return write_file(path, u, false);
}

kms_result kms_usim_save(const char *path, const struct kms_usim *u)
{
    return write_file(path, u, true);
}

kms_result kms_usim_update(const char *path, kms_usim_change_fn fn, void *arg)
{
    KMS_ENSURE_REF(path);
    KMS_ENSURE_REF(fn);
    kms_result rc = KMS_RC_INIT;
    int lfd = -1;
    struct kms_usim *u = calloc(1, sizeof(*u));
    KMS_ENSURE(u != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_file_lock(path, &lfd));
    KMS_TRY_OUT(rc, kms_usim_load(path, u));
    KMS_TRY_OUT(rc, fn(u, arg));
    KMS_TRY_OUT(rc, write_locked(path, u));
    rc = KMS_RESULT_OK;
out:
    kms_file_unlock(&lfd);
    kms_usim_wipe(u);
    free(u);
    return rc;
}
