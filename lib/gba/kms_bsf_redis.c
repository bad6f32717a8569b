/* SPDX-License-Identifier: Apache-2.0 */
/* A BSF fleet's shared state in Redis: see kms_bsf_redis.h. */
#include "gba/kms_bsf_redis.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/kms_kek.h"
#include "crypto/kms_ossl.h"
#include "crypto/kms_sqn.h"
#include "gba/kms_subfile.h"
#include "util/kms_buf.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

#define P_SUB        "imskms:bsf:sub:"
#define P_RATE       "imskms:bsf:rate:"
#define P_ANS        "imskms:bsf:ans:"
#define P_SES        "imskms:bsf:ses:"
#define NAME_MAX_LEN (sizeof(P_RATE) - 1 + KMS_REDIS_TAG_LEN)

#define NONCE_LEN  12
#define TAG_LEN    16
#define SES_PT_MAX (8 + 8 + KMS_AKA_CK_LEN + KMS_AKA_IK_LEN + 1 + KMS_BSF_NAME_MAX)
#define SES_MAX    (NONCE_LEN + SES_PT_MAX + TAG_LEN)

static const char ses_aad_label[] = "imskms bsf session v1";

struct kms_bsf_redis {
    struct kms_redis *r;
    struct kms_secret *kek;  /* opens subscriber records */
    uint8_t name_key[32];    /* BSF_REDIS_NAME: the hash tags */
    struct kms_secret *sess; /* BSF_SESSION: seals sessions */
};

kms_result kms_bsf_redis_new(struct kms_redis *r, const uint8_t kek[32], struct kms_bsf_redis **out)
{
    KMS_ENSURE(r != NULL && kek != NULL && out != NULL, KMS_ERR_ARG);
    *out = NULL;
    kms_result rc = KMS_RC_INIT;
    struct kms_bsf_redis *x = calloc(1, sizeof(*x));
    KMS_ENSURE(x != NULL, KMS_ERR_NOMEM);
    x->r = r;
    KMS_TRY_OUT(rc, kms_secret_from(kek, 32, &x->kek));
    KMS_TRY_OUT(rc, kms_secret_new(32, &x->sess));
    KMS_TRY_OUT(rc, kms_kek_derive(kek, KMS_KEK_BSF_SESSION, 1, x->sess->d));
    KMS_TRY_OUT(rc, kms_kek_derive(kek, KMS_KEK_BSF_REDIS_NAME, 1, x->name_key));
    *out = x;
    x = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_bsf_redis_free(x);
    return rc;
}

void kms_bsf_redis_free(struct kms_bsf_redis *x)
{
    if (x == NULL) {
        return;
    }
    kms_secret_free(x->kek);
    kms_secret_free(x->sess);
    kms_wipe(x, sizeof(*x));
    free(x);
}

/* prefix || T(id) into name (NAME_MAX_LEN + 1 bytes). */
static kms_result name_of(const struct kms_bsf_redis *x, const char *prefix, const uint8_t *id,
                          size_t len, char *name)
{
    char tag[KMS_REDIS_TAG_LEN + 1];
    KMS_TRY(kms_redis_tag(x->name_key, id, len, tag));
    int n = snprintf(name, NAME_MAX_LEN + 1, "%s%s", prefix, tag);
    KMS_ENSURE(n > 0 && (size_t)n <= NAME_MAX_LEN, KMS_ERR_TOO_LONG);
    return KMS_RESULT_OK;
}

/* One command of up to 8 arguments given as strings or (ptr, len) pairs. */
static kms_result cmd(struct kms_bsf_redis *x, int argc, const char **argv, const size_t *lens,
                      redisReply **rep)
{
    return kms_redis_cmd(x->r, argc, argv, lens, rep);
}

/* SET name value NX PX ms: *set false when the name was taken. */
static kms_result set_nx(struct kms_bsf_redis *x, const char *name, const uint8_t *v, size_t vlen,
                         uint64_t ms, bool *set)
{
    char pxs[24];
    (void)snprintf(pxs, sizeof(pxs), "%llu", (unsigned long long)(ms > 0 ? ms : 1));
    const char *argv[6] = {"SET", name, (const char *)v, "NX", "PX", pxs};
    size_t lens[6] = {3, strlen(name), vlen, 2, 2, strlen(pxs)};
    redisReply *rep = NULL;
    KMS_TRY(cmd(x, 6, argv, lens, &rep));
    *set = rep->type == REDIS_REPLY_STATUS;
    bool nil = rep->type == REDIS_REPLY_NIL;
    freeReplyObject(rep);
    KMS_ENSURE(*set || nil, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

/* GET name into out (cap bytes): *found false for a nil reply; KMS_ERR_STORE for a value that
 * is not a string or longer than cap. */
static kms_result get(struct kms_bsf_redis *x, const char *name, uint8_t *out, size_t cap,
                      size_t *len, bool *found)
{
    const char *argv[2] = {"GET", name};
    size_t lens[2] = {3, strlen(name)};
    redisReply *rep = NULL;
    *len = 0;
    *found = false;
    KMS_TRY(cmd(x, 2, argv, lens, &rep));
    kms_result rc = KMS_RESULT_OK;
    if (rep->type == REDIS_REPLY_STRING && rep->len <= cap) {
        memcpy(out, rep->str, rep->len);
        *len = rep->len;
        *found = true;
    } else if (rep->type != REDIS_REPLY_NIL) {
        rc = KMS_ERR(KMS_ERR_STORE);
    }
    freeReplyObject(rep);
    return rc;
}

/* ---- AES-256-GCM of sessions ---- */

static kms_result gcm(const struct kms_bsf_redis *x, bool seal, const uint8_t *aad, size_t aad_len,
                      uint8_t *pt, size_t n, uint8_t *blob)
{
    const struct kms_ossl *o = kms_ossl();
    KMS_ENSURE(o != NULL && o->aes256_gcm != NULL, KMS_ERR_CRYPTO);
    kms_result rc = KMS_RC_INIT;
    uint8_t *ct = blob + NONCE_LEN, *tag = blob + NONCE_LEN + n;
    int len = 0;
    if (seal) {
        KMS_TRY(kms_random(blob, NONCE_LEN));
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    KMS_ENSURE(ctx != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OSSL_OUT(rc,
                     EVP_CipherInit_ex2(ctx, o->aes256_gcm, x->sess->d, blob, seal ? 1 : 0, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len));
    KMS_TRY_OSSL_OUT(rc, EVP_CipherUpdate(ctx, seal ? ct : pt, &len, seal ? pt : ct, (int)n));
    if (seal) {
        KMS_TRY_OSSL_OUT(rc, EVP_CipherFinal_ex(ctx, ct + n, &len));
        KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag));
    } else {
        KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag));
        KMS_ENSURE_OUT(rc, EVP_CipherFinal_ex(ctx, pt + n, &len) == 1, KMS_ERR_STORE);
    }
    rc = KMS_RESULT_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (!kms_ok(rc) && !seal) {
        kms_wipe(pt, n);
    }
    return rc;
}

static size_t ses_aad(uint8_t aad[sizeof(ses_aad_label) - 1 + KMS_AKA_RAND_LEN],
                      const uint8_t rand[KMS_AKA_RAND_LEN])
{
    memcpy(aad, ses_aad_label, sizeof(ses_aad_label) - 1);
    memcpy(aad + sizeof(ses_aad_label) - 1, rand, KMS_AKA_RAND_LEN);
    return sizeof(ses_aad_label) - 1 + KMS_AKA_RAND_LEN;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Milliseconds from now to t (at least 1). */
static uint64_t ms_until(uint64_t t, uint64_t now)
{
    return t > now ? (t - now) * 1000 : 1;
}

/* ---- the kms_bsf_shared callbacks ---- */

/* KEYS[1] the bucket, ARGV: mode (take, give, probe), burst, period, now. Returns 1 when a token
 * was taken (or given, or probed), 0 when none was left. */
static const char rate_lua[] =
    "local mode = ARGV[1]\n"
    "local burst, period, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local v = redis.call('GET', KEYS[1])\n"
    "if mode == 'probe' then return 1 end\n"
    "local tok, at = burst, now\n"
    "if v then\n"
    "  local p = string.find(v, ':', 1, true)\n"
    "  if not p then return redis.error_reply('malformed bucket') end\n"
    "  tok = tonumber(string.sub(v, 1, p - 1))\n"
    "  at = tonumber(string.sub(v, p + 1))\n"
    "  if now < at then at = now else\n"
    "    local e = math.floor((now - at) / period)\n"
    "    if e > 0 then\n"
    "      tok = math.min(burst, tok + e)\n"
    "      if tok == burst then at = now else at = at + e * period end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local ok = 1\n"
    "if mode == 'give' then tok = math.min(burst, tok + 1)\n"
    "elseif tok > 0 then tok = tok - 1 else ok = 0 end\n"
    "redis.call('SET', KEYS[1], string.format('%d:%d', tok, at), 'EX', burst * period + 60)\n"
    "return ok\n";

static kms_result sh_rate(void *ctx, const char *impi, bool known, bool give, unsigned burst,
                          unsigned period, uint64_t now)
{
    struct kms_bsf_redis *x = ctx;
    char name[NAME_MAX_LEN + 1], b[16], p[16], n[24];
    KMS_TRY(name_of(x, P_RATE, (const uint8_t *)impi, strlen(impi), name));
    (void)snprintf(b, sizeof(b), "%u", burst);
    (void)snprintf(p, sizeof(p), "%u", period);
    (void)snprintf(n, sizeof(n), "%llu", (unsigned long long)now);
    const char *mode = !known ? "probe" : give ? "give" : "take";
    const char *argv[8] = {"EVAL", rate_lua, "1", name, mode, b, p, n};
    size_t lens[8] = {
        4, sizeof(rate_lua) - 1, 1, strlen(name), strlen(mode), strlen(b), strlen(p), strlen(n)};
    redisReply *rep = NULL;
    KMS_TRY(cmd(x, 8, argv, lens, &rep));
    bool ok = rep->type == REDIS_REPLY_INTEGER;
    long long v = ok ? rep->integer : -1;
    freeReplyObject(rep);
    KMS_ENSURE(ok && (v == 0 || v == 1), KMS_ERR_STORE);
    KMS_ENSURE(v == 1, KMS_ERR_RATE);
    return KMS_RESULT_OK;
}

static kms_result sh_answered_check(void *ctx, const uint8_t rand[KMS_AKA_RAND_LEN])
{
    struct kms_bsf_redis *x = ctx;
    char name[NAME_MAX_LEN + 1];
    KMS_TRY(name_of(x, P_ANS, rand, KMS_AKA_RAND_LEN, name));
    const char *argv[2] = {"EXISTS", name};
    size_t lens[2] = {6, strlen(name)};
    redisReply *rep = NULL;
    KMS_TRY(cmd(x, 2, argv, lens, &rep));
    bool ok = rep->type == REDIS_REPLY_INTEGER;
    long long v = ok ? rep->integer : -1;
    freeReplyObject(rep);
    KMS_ENSURE(ok && (v == 0 || v == 1), KMS_ERR_STORE);
    KMS_ENSURE(v == 0, KMS_ERR_REPLAY);
    return KMS_RESULT_OK;
}

static kms_result sh_answered_set(void *ctx, const uint8_t rand[KMS_AKA_RAND_LEN], uint64_t expires,
                                  uint64_t now)
{
    struct kms_bsf_redis *x = ctx;
    char name[NAME_MAX_LEN + 1];
    bool set = false;
    KMS_TRY(name_of(x, P_ANS, rand, KMS_AKA_RAND_LEN, name));
    KMS_TRY(set_nx(x, name, (const uint8_t *)"1", 1, ms_until(expires, now), &set));
    KMS_ENSURE(set, KMS_ERR_REPLAY);
    return KMS_RESULT_OK;
}

static kms_result sh_session_put(void *ctx, const uint8_t rand[KMS_AKA_RAND_LEN], const char *impi,
                                 const uint8_t ks[KMS_AKA_CK_LEN + KMS_AKA_IK_LEN],
                                 uint64_t created, uint64_t expires, uint64_t now)
{
    struct kms_bsf_redis *x = ctx;
    kms_result rc = KMS_RC_INIT;
    char name[NAME_MAX_LEN + 1];
    uint8_t pt[SES_PT_MAX], blob[SES_MAX], aad[sizeof(ses_aad_label) - 1 + KMS_AKA_RAND_LEN];
    size_t impi_len = strlen(impi);
    bool set = false;
    KMS_ENSURE(impi_len >= 1 && impi_len <= KMS_BSF_NAME_MAX, KMS_ERR_ARG);
    KMS_TRY(name_of(x, P_SES, rand, KMS_AKA_RAND_LEN, name));
    put_u64(pt, created);
    put_u64(pt + 8, expires);
    memcpy(pt + 16, ks, KMS_AKA_CK_LEN + KMS_AKA_IK_LEN);
    size_t n = 16 + KMS_AKA_CK_LEN + KMS_AKA_IK_LEN;
    pt[n++] = (uint8_t)impi_len;
    memcpy(pt + n, impi, impi_len);
    n += impi_len;
    KMS_TRY_OUT(rc, gcm(x, true, aad, ses_aad(aad, rand), pt, n, blob));
    KMS_TRY_OUT(rc, set_nx(x, name, blob, NONCE_LEN + n + TAG_LEN, ms_until(expires, now), &set));
    KMS_ENSURE_OUT(rc, set, KMS_ERR_REPLAY);
    rc = KMS_RESULT_OK;
out:
    kms_wipe(pt, sizeof(pt));
    return rc;
}

static kms_result sh_session_get(void *ctx, const uint8_t rand[KMS_AKA_RAND_LEN],
                                 char impi[KMS_BSF_NAME_MAX + 1],
                                 uint8_t ks[KMS_AKA_CK_LEN + KMS_AKA_IK_LEN], uint64_t *created,
                                 uint64_t *expires)
{
    struct kms_bsf_redis *x = ctx;
    kms_result rc = KMS_RC_INIT;
    char name[NAME_MAX_LEN + 1];
    uint8_t pt[SES_PT_MAX], blob[SES_MAX], aad[sizeof(ses_aad_label) - 1 + KMS_AKA_RAND_LEN];
    size_t len = 0;
    bool found = false;
    const size_t fixed = 16 + KMS_AKA_CK_LEN + KMS_AKA_IK_LEN + 1;
    KMS_TRY(name_of(x, P_SES, rand, KMS_AKA_RAND_LEN, name));
    KMS_TRY(get(x, name, blob, sizeof(blob), &len, &found));
    KMS_ENSURE(found, KMS_ERR_NOT_FOUND);
    KMS_ENSURE(len >= NONCE_LEN + fixed + 1 + TAG_LEN, KMS_ERR_STORE);
    size_t n = len - NONCE_LEN - TAG_LEN;
    KMS_TRY_OUT(rc, gcm(x, false, aad, ses_aad(aad, rand), pt, n, blob));
    KMS_ENSURE_OUT(rc, pt[fixed - 1] == n - fixed, KMS_ERR_STORE);
    *created = get_u64(pt);
    *expires = get_u64(pt + 8);
    memcpy(ks, pt + 16, KMS_AKA_CK_LEN + KMS_AKA_IK_LEN);
    memcpy(impi, pt + fixed, n - fixed);
    impi[n - fixed] = '\0';
    KMS_TRY_OUT(rc, kms_ident_check_impi(impi, n - fixed));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(pt, sizeof(pt));
    if (!kms_ok(rc)) {
        kms_wipe(ks, KMS_AKA_CK_LEN + KMS_AKA_IK_LEN);
        impi[0] = '\0';
        rc = KMS_ERR(KMS_ERR_STORE); /* a record that does not open is not a session */
    }
    return rc;
}

void kms_bsf_redis_shared(struct kms_bsf_redis *x, struct kms_bsf_shared *out)
{
    *out = (struct kms_bsf_shared){.ctx = x,
                                   .rate = sh_rate,
                                   .answered_check = sh_answered_check,
                                   .answered_set = sh_answered_set,
                                   .session_put = sh_session_put,
                                   .session_get = sh_session_get};
}

/* ---- subscribers ---- */

/* SET NX of rec's line under its IMPI's name. */
static kms_result put_rec(struct kms_bsf_redis *x, const struct kms_subscriber_rec *rec)
{
    kms_result rc = KMS_RC_INIT;
    char name[NAME_MAX_LEN + 1];
    struct kms_buf b;
    kms_buf_init(&b, KMS_SUBFILE_LINE_MAX + 1, false);
    KMS_TRY_OUT(rc,
                name_of(x, P_SUB, (const uint8_t *)rec->info.impi, strlen(rec->info.impi), name));
    KMS_TRY_OUT(rc, kms_subfile_put_rec(&b, rec));
    const char *argv[4] = {"SET", name, (const char *)kms_buf_data(&b), "NX"};
    size_t lens[4] = {3, strlen(name), kms_buf_len(&b) - 1, 2}; /* less the "\n" */
    redisReply *rep = NULL;
    KMS_TRY_OUT(rc, cmd(x, 4, argv, lens, &rep));
    bool set = rep->type == REDIS_REPLY_STATUS, nil = rep->type == REDIS_REPLY_NIL;
    freeReplyObject(rep);
    KMS_ENSURE_OUT(rc, set || nil, KMS_ERR_STORE);
    KMS_ENSURE_OUT(rc, set, KMS_ERR_EXISTS);
    rc = KMS_RESULT_OK;
out:
    kms_buf_cleanup(&b);
    return rc;
}

kms_result kms_bsf_redis_sub_add(struct kms_bsf_redis *x, const struct kms_subscriber *s,
                                 uint64_t sqn_last)
{
    KMS_ENSURE(x != NULL && s != NULL, KMS_ERR_ARG);
    struct kms_subscriber_rec rec;
    KMS_TRY(kms_subscriber_rec_seal(x->kek->d, s, sqn_last, &rec));
    kms_result r = put_rec(x, &rec);
    kms_wipe(&rec, sizeof(rec));
    return r;
}

kms_result kms_bsf_redis_sub_put(struct kms_bsf_redis *x, const struct kms_subscriber_rec *rec)
{
    KMS_ENSURE(x != NULL && rec != NULL, KMS_ERR_ARG);
    struct kms_subscriber s;
    kms_result o = kms_subscriber_rec_open(x->kek->d, rec, &s);
    kms_subscriber_wipe(&s);
    KMS_TRY(o);
    return put_rec(x, rec);
}

kms_result kms_bsf_redis_sub_rec(struct kms_bsf_redis *x, const char *impi,
                                 struct kms_subscriber_rec *out)
{
    KMS_ENSURE(x != NULL && impi != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    size_t impi_len = strlen(impi);
    KMS_TRY(kms_ident_check_impi(impi, impi_len));
    char name[NAME_MAX_LEN + 1];
    uint8_t line[KMS_SUBFILE_LINE_MAX];
    size_t len = 0;
    bool found = false;
    KMS_TRY(name_of(x, P_SUB, (const uint8_t *)impi, impi_len, name));
    KMS_TRY(get(x, name, line, sizeof(line), &len, &found));
    KMS_ENSURE(found, KMS_ERR_NOT_FOUND);
    kms_result r = kms_subfile_rec_parse(line, len, out);
    KMS_ENSURE(kms_ok(r), KMS_ERR_STORE);
    /* A record moved under another IMPI's name is not this IMPI's. */
    KMS_ENSURE(strcmp(out->info.impi, impi) == 0, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

kms_result kms_bsf_redis_sub_get(struct kms_bsf_redis *x, const char *impi,
                                 struct kms_subscriber *out, uint64_t *sqn_mark)
{
    KMS_ENSURE(out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    if (sqn_mark != NULL) {
        *sqn_mark = 0;
    }
    struct kms_subscriber_rec rec;
    kms_result r = kms_bsf_redis_sub_rec(x, impi, &rec);
    if (kms_ok(r)) {
        r = kms_subscriber_rec_open(x->kek->d, &rec, out);
        r = kms_ok(r) ? r : KMS_ERR(KMS_ERR_STORE); /* as the SQLite store: a row that won't open */
    }
    if (kms_ok(r) && sqn_mark != NULL) {
        *sqn_mark = rec.info.sqn;
    }
    kms_wipe(&rec, sizeof(rec));
    return r;
}

kms_result kms_bsf_redis_sub_del(struct kms_bsf_redis *x, const char *impi)
{
    KMS_ENSURE(x != NULL && impi != NULL, KMS_ERR_ARG);
    KMS_TRY(kms_ident_check_impi(impi, strlen(impi)));
    char name[NAME_MAX_LEN + 1];
    KMS_TRY(name_of(x, P_SUB, (const uint8_t *)impi, strlen(impi), name));
    const char *argv[2] = {"DEL", name};
    size_t lens[2] = {3, strlen(name)};
    redisReply *rep = NULL;
    KMS_TRY(cmd(x, 2, argv, lens, &rep));
    bool ok = rep->type == REDIS_REPLY_INTEGER;
    long long v = ok ? rep->integer : -1;
    freeReplyObject(rep);
    KMS_ENSURE(ok && v >= 0, KMS_ERR_STORE);
    KMS_ENSURE(v > 0, KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

struct recs {
    struct kms_subscriber_rec *v;
    size_t n, cap;
};

static int by_impi(const void *a, const void *b)
{
    return strcmp(((const struct kms_subscriber_rec *)a)->info.impi,
                  ((const struct kms_subscriber_rec *)b)->info.impi);
}

/* The record under one name found by SCAN (gone meanwhile: skipped). */
static kms_result collect(struct kms_bsf_redis *x, const char *name, struct recs *rs)
{
    uint8_t line[KMS_SUBFILE_LINE_MAX];
    size_t len = 0;
    bool found = false;
    KMS_TRY(get(x, name, line, sizeof(line), &len, &found));
    if (!found) {
        return KMS_RESULT_OK;
    }
    if (rs->n == rs->cap) {
        size_t cap = rs->cap != 0 ? 2 * rs->cap : 64;
        struct kms_subscriber_rec *nv = realloc(rs->v, cap * sizeof(*nv));
        KMS_ENSURE(nv != NULL, KMS_ERR_NOMEM);
        rs->v = nv;
        rs->cap = cap;
    }
    kms_result r = kms_subfile_rec_parse(line, len, &rs->v[rs->n]);
    KMS_ENSURE(kms_ok(r), KMS_ERR_STORE);
    rs->n++;
    return KMS_RESULT_OK;
}

kms_result kms_bsf_redis_sub_list(struct kms_bsf_redis *x,
                                  kms_result (*cb)(void *arg, const struct kms_subscriber_rec *),
                                  void *arg)
{
    KMS_ENSURE(x != NULL && cb != NULL, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    struct recs rs = {0};
    char cursor[32] = "0";
    redisReply *rep = NULL;
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", P_SUB "*", "COUNT", "1000"};
        size_t lens[6] = {4, strlen(cursor), 5, sizeof(P_SUB), 5, 4};
        KMS_TRY_OUT(rc, cmd(x, 6, argv, lens, &rep));
        KMS_ENSURE_OUT(rc,
                       rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
                           rep->element[0]->type == REDIS_REPLY_STRING &&
                           rep->element[0]->len < sizeof(cursor) &&
                           rep->element[1]->type == REDIS_REPLY_ARRAY,
                       KMS_ERR_STORE);
        memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
        cursor[rep->element[0]->len] = '\0';
        const redisReply *keys = rep->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const redisReply *k = keys->element[i];
            KMS_ENSURE_OUT(rc, k->type == REDIS_REPLY_STRING && k->len <= NAME_MAX_LEN,
                           KMS_ERR_STORE);
            char name[NAME_MAX_LEN + 1];
            memcpy(name, k->str, k->len);
            name[k->len] = '\0';
            KMS_TRY_OUT(rc, collect(x, name, &rs));
        }
        freeReplyObject(rep);
        rep = NULL;
    } while (strcmp(cursor, "0") != 0);
    if (rs.n > 1) {
        qsort(rs.v, rs.n, sizeof(*rs.v), by_impi);
    }
    for (size_t i = 0; i < rs.n; i++) {
        KMS_TRY_OUT(rc, cb(arg, &rs.v[i]));
    }
    rc = KMS_RESULT_OK;
out:
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    if (rs.v != NULL) {
        kms_wipe(rs.v, rs.cap * sizeof(*rs.v));
    }
    free(rs.v);
    return rc;
}
