/* SPDX-License-Identifier: Apache-2.0 */
/* The keyring's record in Redis: see kms_keyring_redis.h. */
#include "keyring/kms_keyring_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/kms_file.h"
#include "util/kms_mem.h"

#define PREFIX_MAX 128
#define KEY_MAX    (PREFIX_MAX + 8)

struct kms_krr {
    struct kms_redis *r;
    char image[KEY_MAX], anchor[KEY_MAX], gen[KEY_MAX];
};

/* KEYS[1] image, KEYS[2] anchor, KEYS[3] generation; ARGV[1] "" to create, else the
 * generation read; ARGV[2] image, ARGV[3] anchor, ARGV[4] the new generation.
 * 1 written, 0 exists (create), -1 the generation moved on, -2 the image is gone. */
static const char cas_script[] = "local have = redis.call('EXISTS', KEYS[1])\n"
                                 "if ARGV[1] == '' then\n"
                                 "  if have == 1 then return 0 end\n"
                                 "else\n"
                                 "  if have == 0 then return -2 end\n"
                                 "  if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end\n"
                                 "end\n"
                                 "redis.call('SET', KEYS[1], ARGV[2])\n"
                                 "redis.call('SET', KEYS[2], ARGV[3])\n"
                                 "redis.call('SET', KEYS[3], ARGV[4])\n"
                                 "return 1\n";

/* {generation or false, 1 when the image exists} */
static const char poll_script[] =
    "return {redis.call('GET', KEYS[1]), redis.call('EXISTS', KEYS[2])}\n";

kms_result kms_krr_new(struct kms_redis *r, const char *prefix, struct kms_krr **out)
{
    KMS_ENSURE(out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE(r != NULL, KMS_ERR_ARG);
    if (prefix == NULL) {
        prefix = KMS_KRR_PREFIX;
    }
    KMS_ENSURE(strlen(prefix) <= PREFIX_MAX, KMS_ERR_TOO_LONG);
    struct kms_krr *s = calloc(1, sizeof(*s));
    KMS_ENSURE(s != NULL, KMS_ERR_NOMEM);
    s->r = r;
    (void)snprintf(s->image, sizeof(s->image), "%simage", prefix);
    (void)snprintf(s->anchor, sizeof(s->anchor), "%sanchor", prefix);
    (void)snprintf(s->gen, sizeof(s->gen), "%sgen", prefix);
    *out = s;
    return KMS_RESULT_OK;
}

void kms_krr_free(struct kms_krr *s)
{
    free(s);
}

static kms_result cmd(struct kms_krr *s, int argc, const char **argv, const size_t *lens,
                      redisReply **out)
{
    return kms_redis_cmd(s->r, argc, argv, lens, out);
}

/* CONFIG GET name into out ("" when refused or odd). */
static void config_get(struct kms_krr *s, const char *name, char *out, size_t cap)
{
    const char *argv[3] = {"CONFIG", "GET", name};
    size_t lens[3] = {6, 3, strlen(name)};
    redisReply *rep = NULL;
    out[0] = '\0';
    if (!kms_ok(cmd(s, 3, argv, lens, &rep))) {
        return;
    }
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[1]->type == REDIS_REPLY_STRING && rep->element[1]->len < cap) {
        memcpy(out, rep->element[1]->str, rep->element[1]->len);
        out[rep->element[1]->len] = '\0';
    }
    freeReplyObject(rep);
}

kms_result kms_krr_check_durable(struct kms_krr *s, char *why, size_t why_cap)
{
    KMS_ENSURE(s != NULL, KMS_ERR_ARG);
    char aof[16], fsync[16];
    KMS_TRY(kms_redis_check(s->r, why, why_cap));
    config_get(s, "appendonly", aof, sizeof(aof));
    config_get(s, "appendfsync", fsync, sizeof(fsync));
    if (strcmp(aof, "yes") == 0 && strcmp(fsync, "always") == 0) {
        return KMS_RESULT_OK;
    }
    if (why != NULL && why_cap > 0) {
        (void)snprintf(why, why_cap,
                       "the keyring needs Redis with appendonly yes and appendfsync always "
                       "(found appendonly %s, appendfsync %s)",
                       aof[0] != '\0' ? aof : "unknown", fsync[0] != '\0' ? fsync : "unknown");
    }
    KMS_BAIL(KMS_ERR_STORE);
}

/* A decimal generation without sign or leading zeros. */
static kms_result parse_gen(const char *p, size_t n, uint64_t *out)
{
    KMS_ENSURE(n >= 1 && n <= 20 && (p[0] != '0' || n == 1), KMS_ERR_MALFORMED);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        KMS_ENSURE(p[i] >= '0' && p[i] <= '9', KMS_ERR_MALFORMED);
        uint64_t d = (uint64_t)(p[i] - '0');
        KMS_ENSURE(v <= (UINT64_MAX - d) / 10, KMS_ERR_MALFORMED);
        v = v * 10 + d;
    }
    *out = v;
    return KMS_RESULT_OK;
}

kms_result kms_krr_read(struct kms_krr *s, size_t max, uint8_t **img, size_t *img_len, uint8_t *an,
                        size_t an_cap, size_t *an_len, uint64_t *gen)
{
    KMS_ENSURE(s != NULL && img != NULL && img_len != NULL && an != NULL && an_len != NULL &&
                   gen != NULL,
               KMS_ERR_ARG);
    *img = NULL;
    *img_len = 0;
    *an_len = 0;
    *gen = 0;
    kms_result rc = KMS_RC_INIT;
    const char *argv[4] = {"MGET", s->image, s->anchor, s->gen};
    size_t lens[4] = {4, strlen(s->image), strlen(s->anchor), strlen(s->gen)};
    redisReply *rep = NULL;
    uint8_t *p = NULL;
    KMS_TRY_OUT(rc, cmd(s, 4, argv, lens, &rep));
    KMS_ENSURE_OUT(rc, rep->type == REDIS_REPLY_ARRAY && rep->elements == 3, KMS_ERR_STORE);
    const redisReply *ri = rep->element[0], *ra = rep->element[1], *rg = rep->element[2];
    KMS_ENSURE_OUT(rc, ri->type != REDIS_REPLY_NIL, KMS_ERR_NOT_FOUND);
    KMS_ENSURE_OUT(rc, ri->type == REDIS_REPLY_STRING, KMS_ERR_MALFORMED);
    KMS_ENSURE_OUT(rc, ri->len <= max, KMS_ERR_TOO_LONG);
    if (ra->type == REDIS_REPLY_STRING) {
        KMS_ENSURE_OUT(rc, ra->len <= an_cap, KMS_ERR_TOO_LONG);
        memcpy(an, ra->str, ra->len);
        *an_len = ra->len;
    }
    if (rg->type == REDIS_REPLY_STRING) {
        KMS_TRY_OUT(rc, parse_gen(rg->str, rg->len, gen));
    }
    p = malloc(ri->len + 1); /* kms_file_free wipes one spare byte, as kms_file_read gives */
    KMS_ENSURE_OUT(rc, p != NULL, KMS_ERR_NOMEM);
    memcpy(p, ri->str, ri->len);
    *img = p;
    *img_len = ri->len;
    p = NULL;
    rc = KMS_RESULT_OK;
out:
    if (rep != NULL) {
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
            rep->element[1]->type == REDIS_REPLY_STRING) {
            kms_wipe(rep->element[1]->str, rep->element[1]->len); /* the epoch secret */
        }
        freeReplyObject(rep);
    }
    free(p);
    return rc;
}

kms_result kms_krr_poll(struct kms_krr *s, uint64_t *gen, bool *exists)
{
    KMS_ENSURE(s != NULL && gen != NULL && exists != NULL, KMS_ERR_ARG);
    *gen = 0;
    *exists = false;
    kms_result rc = KMS_RC_INIT;
    const char *argv[5] = {"EVAL", poll_script, "2", s->gen, s->image};
    size_t lens[5] = {4, sizeof(poll_script) - 1, 1, strlen(s->gen), strlen(s->image)};
    redisReply *rep = NULL;
    KMS_TRY_OUT(rc, cmd(s, 5, argv, lens, &rep));
    /* A Lua false (no generation key) ends the array early: {} or {nil...}. */
    KMS_ENSURE_OUT(rc, rep->type == REDIS_REPLY_ARRAY && rep->elements <= 2, KMS_ERR_STORE);
    if (rep->elements == 2) {
        const redisReply *g = rep->element[0], *e = rep->element[1];
        if (g->type == REDIS_REPLY_STRING) {
            KMS_TRY_OUT(rc, parse_gen(g->str, g->len, gen));
        }
        *exists = e->type == REDIS_REPLY_INTEGER && e->integer == 1;
    }
    rc = KMS_RESULT_OK;
out:
    freeReplyObject(rep);
    return rc;
}

kms_result kms_krr_write(struct kms_krr *s, bool create, uint64_t expect, const uint8_t *img,
                         size_t img_len, const uint8_t *an, size_t an_len, uint64_t new_gen,
                         bool *lost)
{
    KMS_ENSURE(s != NULL && img != NULL && an != NULL && lost != NULL, KMS_ERR_ARG);
    *lost = false;
    kms_result rc = KMS_RC_INIT;
    char exp[24], ng[24];
    if (create) {
        exp[0] = '\0';
    } else {
        (void)snprintf(exp, sizeof(exp), "%llu", (unsigned long long)expect);
    }
    (void)snprintf(ng, sizeof(ng), "%llu", (unsigned long long)new_gen);
    const char *argv[10] = {"EVAL",           cas_script, "3", s->image,
                            s->anchor,        s->gen,     exp, (const char *)img,
                            (const char *)an, ng};
    size_t lens[10] = {4,
                       sizeof(cas_script) - 1,
                       1,
                       strlen(s->image),
                       strlen(s->anchor),
                       strlen(s->gen),
                       strlen(exp),
                       img_len,
                       an_len,
                       strlen(ng)};
    redisReply *rep = NULL;
    KMS_TRY_OUT(rc, cmd(s, 10, argv, lens, &rep));
    KMS_ENSURE_OUT(rc, rep->type == REDIS_REPLY_INTEGER, KMS_ERR_STORE);
    switch (rep->integer) {
    case 1:
        break;
    case 0:
        KMS_BAIL_OUT(rc, KMS_ERR_EXISTS);
    case -1:
        *lost = true;
        break;
    case -2:
        KMS_BAIL_OUT(rc, KMS_ERR_NOT_FOUND);
    default:
        KMS_BAIL_OUT(rc, KMS_ERR_STORE);
    }
    rc = KMS_RESULT_OK;
out:
    freeReplyObject(rep);
    return rc;
}
