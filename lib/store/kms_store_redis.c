/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Redis store backend: the mode-2 Kue rows of a KMS fleet (docs/scaling.md).
 *
 *   imskms:kms:{T}:kue:ID      expires (8 bytes, big-endian) || blob, PX until the expiry;
 *                              ID the row id in hex, T its keyed hash tag (kms_redis_tag)
 *   imskms:kms:{store}:kv      the current key version (absent: 1)
 *   imskms:kms:{store}:seals:V the seals counted under version V
 *
 * put is one Lua script (atomic: the version check, the seal count and SET NX PX together;
 * nothing changes on a refusal). The row and the counters have different hash tags: on Redis
 * Cluster the script would need them on one slot, so this backend runs on one primary
 * (hiredis 0.14 has no Cluster client anyway). The expiry is also in the value: get refuses an
 * expired row whatever Redis's TTL says (the node's clock decides, as with SQLite). purge does
 * nothing (the TTL removes rows); migrate has nothing to migrate. scan walks SCAN MATCH over the
 * rows, and sorts the ids itself (Redis returns them in no order).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/kms_store.h"
#include "store/kms_store_redis.h"
#include "util/kms_codec.h"
#include "util/kms_mem.h"
#include "util/kms_time.h"

#define PFX         "imskms:kms:"
#define K_KV        PFX "{store}:kv"
#define K_SEALS     PFX "{store}:seals:"
#define SCAN_MAX    (UINT64_C(1) << 24) /* ids held by one scan: 16 M x 16 bytes */
#define ROW_KEY_MAX 96

struct redis_be {
    struct kms_store_backend base; /* first */
    struct kms_redis *r;
    uint8_t names[32];
};

static struct redis_be *rbe(struct kms_store_backend *be)
{
    return (struct redis_be *)(void *)be;
}

static kms_result row_key(const struct redis_be *b, const uint8_t id[KMS_STORE_ID_LEN],
                          char out[ROW_KEY_MAX], size_t *len)
{
    char tag[KMS_REDIS_TAG_LEN + 1], hex[2 * KMS_STORE_ID_LEN + 1];
    KMS_TRY(kms_redis_tag(b->names, id, KMS_STORE_ID_LEN, tag));
    KMS_TRY(kms_hex_encode(id, KMS_STORE_ID_LEN, hex, sizeof(hex)));
    int n = snprintf(out, ROW_KEY_MAX, PFX "%s:kue:%s", tag, hex);
    KMS_ENSURE(n > 0 && n < ROW_KEY_MAX, KMS_ERR_INTERNAL);
    *len = (size_t)n;
    return KMS_RESULT_OK;
}

static kms_result cmd(struct redis_be *b, int argc, const char **argv, const size_t *lens,
                      redisReply **rep)
{
    return kms_redis_cmd(b->r, argc, argv, lens, rep);
}

static kms_result cmd_s(struct redis_be *b, int argc, const char **argv, redisReply **rep)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++) {
        lens[i] = strlen(argv[i]);
    }
    return cmd(b, argc, argv, lens, rep);
}

/* KEYS[1] kv, KEYS[2] seals:V, KEYS[3] the row; ARGV[1] V, ARGV[2] the limit, ARGV[3] the
 * value, ARGV[4] PX ms. Returns 1 (stored), -1 (V spent or not a version), -2 (id taken). */
static const char put_lua[] =
    "local cur = tonumber(redis.call('GET', KEYS[1]) or '1')\n"
    "local v = tonumber(ARGV[1])\n"
    "if v < 1 or v > cur then return -1 end\n"
    "if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return -1 end\n"
    "if not redis.call('SET', KEYS[3], ARGV[3], 'NX', 'PX', ARGV[4]) then return -2 end\n"
    "redis.call('INCR', KEYS[2])\n"
    "return 1\n";

/* KEYS[1] kv; ARGV[1] from. Makes from + 1 current when from is; returns the current one. */
static const char rotate_lua[] = "local cur = tonumber(redis.call('GET', KEYS[1]) or '1')\n"
                                 "if tonumber(ARGV[1]) >= cur then cur = tonumber(ARGV[1]) + 1\n"
                                 "  redis.call('SET', KEYS[1], tostring(cur)) end\n"
                                 "return cur\n";

static kms_result redis_put(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                            uint64_t expires, const uint8_t *blob, size_t len, uint32_t kv,
                            uint64_t limit)
{
    struct redis_be *b = rbe(be);
    KMS_ENSURE(id != NULL && (blob != NULL || len == 0), KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    uint8_t *val = NULL;
    redisReply *rep = NULL;
    char key[ROW_KEY_MAX], seals[64], v[16], lim[32], px[32];
    size_t key_len = 0;
    KMS_TRY_OUT(rc, row_key(b, id, key, &key_len));
    (void)snprintf(seals, sizeof(seals), K_SEALS "%" PRIu32, kv);
    (void)snprintf(v, sizeof(v), "%" PRIu32, kv);
    (void)snprintf(lim, sizeof(lim), "%" PRIu64, limit);
    uint64_t now = kms_now();
    uint64_t secs = expires > now ? expires - now : 1; /* an expired row: gone in a second */
    (void)snprintf(px, sizeof(px), "%" PRIu64, secs < UINT64_MAX / 1000 ? secs * 1000 : secs);
    val = malloc(8 + len);
    KMS_ENSURE_OUT(rc, val != NULL, KMS_ERR_NOMEM);
    for (size_t i = 0; i < 8; i++) {
        val[i] = (uint8_t)(expires >> (56 - 8 * i));
    }
    if (len > 0) {
        memcpy(val + 8, blob, len);
    }
    const char *argv[] = {"EVAL", put_lua, "3", K_KV, seals, key, v, lim, (const char *)val, px};
    size_t lens[] = {4,       sizeof(put_lua) - 1, 1,           strlen(K_KV), strlen(seals),
                     key_len, strlen(v),           strlen(lim), 8 + len,      strlen(px)};
    KMS_TRY_OUT(rc, cmd(b, 10, argv, lens, &rep));
    KMS_ENSURE_OUT(rc, rep->type == REDIS_REPLY_INTEGER, KMS_ERR_STORE);
    KMS_ENSURE_OUT(rc, rep->integer != -1, KMS_ERR_KEY_SPENT);
    KMS_ENSURE_OUT(rc, rep->integer != -2, KMS_ERR_EXISTS);
    KMS_ENSURE_OUT(rc, rep->integer == 1, KMS_ERR_STORE);
    rc = KMS_RESULT_OK;
out:
    freeReplyObject(rep);
    free(val); /* ciphertext only */
    return rc;
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static kms_result redis_get(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                            uint64_t now, struct kms_buf *out, uint64_t *expires)
{
    struct redis_be *b = rbe(be);
    KMS_ENSURE(id != NULL && out != NULL && expires != NULL, KMS_ERR_ARG);
    *expires = 0;
    char key[ROW_KEY_MAX];
    size_t key_len = 0;
    KMS_TRY(row_key(b, id, key, &key_len));
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, key_len};
    redisReply *rep = NULL;
    KMS_TRY(cmd(b, 2, argv, lens, &rep));
    kms_result r = KMS_RESULT_OK;
    if (rep->type == REDIS_REPLY_NIL) {
        r = KMS_ERR(KMS_ERR_NOT_FOUND);
    } else if (rep->type != REDIS_REPLY_STRING || rep->len < 8) {
        r = KMS_ERR(KMS_ERR_STORE);
    } else {
        uint64_t exp = be64((const uint8_t *)rep->str);
        if (exp <= now) {
            r = KMS_ERR(KMS_ERR_NOT_FOUND);
        } else {
            r = kms_buf_put_bytes(out, (const uint8_t *)rep->str + 8, rep->len - 8);
            *expires = kms_ok(r) ? exp : 0;
        }
    }
    freeReplyObject(rep);
    return r;
}

static kms_result redis_del(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN])
{
    struct redis_be *b = rbe(be);
    KMS_ENSURE(id != NULL, KMS_ERR_ARG);
    char key[ROW_KEY_MAX];
    size_t key_len = 0;
    KMS_TRY(row_key(b, id, key, &key_len));
    const char *argv[] = {"DEL", key};
    size_t lens[] = {3, key_len};
    redisReply *rep = NULL;
    KMS_TRY(cmd(b, 2, argv, lens, &rep));
    bool gone = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
    bool absent = rep->type == REDIS_REPLY_INTEGER && rep->integer == 0;
    freeReplyObject(rep);
    KMS_ENSURE(gone || absent, KMS_ERR_STORE);
    KMS_ENSURE(gone, KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

static int id_cmp(const void *a, const void *b)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < KMS_STORE_ID_LEN; i++) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

/* The id of a row key ("...:kue:" and 32 hex digits), or false for any other key. */
static bool id_of_key(const char *k, size_t len, uint8_t id[KMS_STORE_ID_LEN])
{
    static const char mark[] = ":kue:";
    size_t ml = sizeof(mark) - 1, hl = 2 * KMS_STORE_ID_LEN;
    if (len < ml + hl || strncmp(k + len - hl - ml, mark, ml) != 0) {
        return false;
    }
    char hex[2 * KMS_STORE_ID_LEN + 1];
    memcpy(hex, k + len - hl, hl);
    hex[hl] = '\0';
    return kms_ok(kms_hex_decode_exact(hex, id, KMS_STORE_ID_LEN));
}

/* Every row id above `after` (any order) into *ids / *n. */
static kms_result collect(struct redis_be *b, const uint8_t *after, uint8_t (**ids)[16], size_t *n)
{
    size_t cap = 0;
    char cursor[32] = "0";
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", PFX "{*}:kue:*", "COUNT", "1000"};
        redisReply *rep = NULL;
        KMS_TRY(cmd_s(b, 6, argv, &rep));
        kms_result r = KMS_RESULT_OK;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING || rep->element[0]->len >= sizeof(cursor) ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            r = KMS_ERR(KMS_ERR_STORE);
        }
        for (size_t i = 0; kms_ok(r) && i < rep->element[1]->elements; i++) {
            const redisReply *k = rep->element[1]->element[i];
            uint8_t id[KMS_STORE_ID_LEN];
            if (k->type != REDIS_REPLY_STRING || !id_of_key(k->str, k->len, id) ||
                (after != NULL && id_cmp(id, after) <= 0)) {
                continue;
            }
            /* A row whose tag is not the one this KEK gives its id was written under another
             * KEK: as a record that does not open in SQLite, KMS_ERR_STORE. */
            char want[ROW_KEY_MAX];
            size_t wl = 0;
            r = row_key(b, id, want, &wl);
            if (kms_ok(r) && (wl != k->len || strncmp(want, k->str, wl) != 0)) {
                r = KMS_ERR(KMS_ERR_STORE);
            }
            if (!kms_ok(r)) {
                break;
            }
            if (*n == cap) {
                size_t nc = cap == 0 ? 256 : 2 * cap;
                void *p = nc <= SCAN_MAX ? realloc(*ids, nc * KMS_STORE_ID_LEN) : NULL;
                if (p == NULL) {
                    r = KMS_ERR(KMS_ERR_STORE);
                    break;
                }
                *ids = p;
                cap = nc;
            }
            memcpy((*ids)[(*n)++], id, KMS_STORE_ID_LEN);
        }
        if (kms_ok(r)) {
            memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
            cursor[rep->element[0]->len] = '\0';
        }
        freeReplyObject(rep);
        KMS_TRY(r);
    } while (strcmp(cursor, "0") != 0);
    return KMS_RESULT_OK;
}

static kms_result redis_scan(struct kms_store_backend *be, uint64_t now,
                             const uint8_t after[KMS_STORE_ID_LEN],
                             uint8_t (*ids)[KMS_STORE_ID_LEN], size_t cap, size_t *n)
{
    struct redis_be *b = rbe(be);
    KMS_ENSURE(ids != NULL && n != NULL && cap > 0, KMS_ERR_ARG);
    *n = 0;
    uint8_t(*all)[16] = NULL;
    size_t total = 0;
    kms_result rc = collect(b, after, &all, &total);
    if (kms_ok(rc) && total > 0) {
        qsort(all, total, KMS_STORE_ID_LEN, id_cmp);
        /* SCAN may return a key twice: equal neighbours are skipped. */
        for (size_t i = 0; i < total && *n < cap && kms_ok(rc); i++) {
            if (i > 0 && id_cmp(all[i], all[i - 1]) == 0) {
                continue;
            }
            struct kms_buf tmp;
            kms_buf_init(&tmp, 8 + KMS_STORE_RECORD_MAX + 64, false);
            uint64_t exp = 0;
            kms_result g = redis_get(be, all[i], now, &tmp, &exp);
            kms_buf_cleanup(&tmp);
            if (kms_ok(g)) {
                memcpy(ids[(*n)++], all[i], KMS_STORE_ID_LEN);
            } else if (g.err != KMS_ERR_NOT_FOUND) {
                rc = g;
            }
        }
    }
    free(all);
    if (!kms_ok(rc)) {
        *n = 0;
    }
    return rc;
}

static kms_result redis_purge(struct kms_store_backend *be, uint64_t now, uint64_t *n)
{
    (void)be;
    (void)now;
    if (n != NULL) {
        *n = 0; /* Redis expires rows itself (PX) */
    }
    return KMS_RESULT_OK;
}

static kms_result get_u64(struct redis_be *b, const char *key, uint64_t dflt, uint64_t *out)
{
    const char *argv[] = {"GET", key};
    redisReply *rep = NULL;
    KMS_TRY(cmd_s(b, 2, argv, &rep));
    kms_result r = KMS_RESULT_OK;
    *out = dflt;
    if (rep->type == REDIS_REPLY_STRING) {
        char tmp[24];
        uint64_t v = 0;
        bool ok = rep->len > 0 && rep->len < sizeof(tmp);
        for (size_t i = 0; ok && i < rep->len; i++) {
            ok = rep->str[i] >= '0' && rep->str[i] <= '9' && v <= (UINT64_MAX - 9) / 10;
            v = v * 10 + (uint64_t)(rep->str[i] - '0');
        }
        *out = v;
        r = ok ? KMS_RESULT_OK : KMS_ERR(KMS_ERR_STORE);
    } else if (rep->type != REDIS_REPLY_NIL) {
        r = KMS_ERR(KMS_ERR_STORE);
    }
    freeReplyObject(rep);
    return r;
}

static kms_result redis_key_current(struct kms_store_backend *be, uint32_t *kv, uint64_t *seals)
{
    struct redis_be *b = rbe(be);
    KMS_ENSURE(kv != NULL && seals != NULL, KMS_ERR_ARG);
    uint64_t v = 0;
    KMS_TRY(get_u64(b, K_KV, 1, &v));
    KMS_ENSURE(v >= 1 && v <= UINT32_MAX, KMS_ERR_STORE);
    char key[64];
    (void)snprintf(key, sizeof(key), K_SEALS "%" PRIu64, v);
    KMS_TRY(get_u64(b, key, 0, seals));
    *kv = (uint32_t)v;
    return KMS_RESULT_OK;
}

static kms_result redis_key_rotate(struct kms_store_backend *be, uint32_t from, uint32_t *kv)
{
    struct redis_be *b = rbe(be);
    KMS_ENSURE(kv != NULL, KMS_ERR_ARG);
    KMS_ENSURE(from < UINT32_MAX, KMS_ERR_KEY_SPENT);
    char f[16];
    (void)snprintf(f, sizeof(f), "%" PRIu32, from);
    const char *argv[] = {"EVAL", rotate_lua, "1", K_KV, f};
    redisReply *rep = NULL;
    KMS_TRY(cmd_s(b, 5, argv, &rep));
    bool ok = rep->type == REDIS_REPLY_INTEGER && rep->integer >= 1 && rep->integer <= UINT32_MAX;
    *kv = ok ? (uint32_t)rep->integer : 0;
    freeReplyObject(rep);
    KMS_ENSURE(ok, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

static kms_result redis_migrate(struct kms_store_backend *be, kms_store_reseal_fn reseal, void *ctx,
                                uint64_t *n)
{
    (void)be;
    (void)reseal;
    (void)ctx;
    if (n != NULL) {
        *n = 0; /* no row predates key versions */
    }
    return KMS_RESULT_OK;
}

static void redis_close(struct kms_store_backend *be)
{
    struct redis_be *b = rbe(be);
    if (b != NULL) {
        kms_wipe(b->names, sizeof(b->names));
        free(b);
    }
}

static const struct kms_store_backend_ops redis_ops = {
    .name = "redis",
    .put = redis_put,
    .get = redis_get,
    .del = redis_del,
    .scan = redis_scan,
    .purge = redis_purge,
    .key_current = redis_key_current,
    .key_rotate = redis_key_rotate,
    .migrate = redis_migrate,
    .close = redis_close,
};

kms_result kms_store_backend_redis(struct kms_redis *r, const uint8_t names[32],
                                   struct kms_store_backend **out)
{
    KMS_ENSURE(out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE(r != NULL && names != NULL, KMS_ERR_ARG);
    struct redis_be *b = calloc(1, sizeof(*b));
    KMS_ENSURE(b != NULL, KMS_ERR_NOMEM);
    b->base.ops = &redis_ops;
    b->r = r;
    memcpy(b->names, names, sizeof(b->names));
    *out = &b->base;
    return KMS_RESULT_OK;
}
