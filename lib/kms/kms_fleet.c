/* SPDX-License-Identifier: Apache-2.0 */
/* What KMS nodes share in Redis: see kms_fleet.h. */
#include "kms/kms_fleet.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_kek.h"
#include "crypto/kms_ossl.h"
#include "util/kms_codec.h"
#include "util/kms_log.h"
#include "util/kms_mem.h"
#include "util/kms_time.h"

#define K_MARKER   KMS_FLEET_PREFIX "{fleet}:marker"
#define K_SKEW     KMS_FLEET_PREFIX "{fleet}:skew"
#define K_HORIZON  KMS_FLEET_PREFIX "{fleet}:horizon"
#define MARKER_HEX 32

struct kms_fleet {
    struct kms_redis *r;
    uint64_t skew;
    bool read_only;    /* a check: nothing written (kms_fleet_cfg) */
    uint8_t names[32]; /* KEK row KMS_REDIS_NAMES */
    pthread_mutex_t mu;
    bool seen; /* under mu: what this node saw at its last connection */
    char run_id[KMS_REDIS_RUNID_LEN + 1];
    char marker[MARKER_HEX + 1];
    uint64_t other_skew; /* under mu: the fleet's skew when it differs (0: it does not) */
    _Atomic uint64_t horizon, resets;
};

static void raise_horizon(struct kms_fleet *f, uint64_t h)
{
    uint64_t cur = atomic_load(&f->horizon);
    while (h > cur && !atomic_compare_exchange_weak(&f->horizon, &cur, h)) {
    }
}

static kms_result cmd(struct kms_redis_conn *c, redisReply **rep, int argc, const char **argv)
{
    size_t lens[6];
    for (int i = 0; i < argc; i++) {
        lens[i] = strlen(argv[i]);
    }
    return kms_redis_conn_cmd(c, argc, argv, lens, rep);
}

/* GET key into out (""=absent). */
static kms_result get_str(struct kms_redis_conn *c, const char *key, char *out, size_t cap)
{
    redisReply *rep = NULL;
    KMS_TRY(cmd(c, &rep, 2, (const char *[]){"GET", key}));
    out[0] = '\0';
    kms_result r = KMS_RESULT_OK;
    if (rep->type == REDIS_REPLY_STRING && rep->len < cap) {
        memcpy(out, rep->str, rep->len);
        out[rep->len] = '\0';
    } else if (rep->type != REDIS_REPLY_NIL) {
        r = KMS_ERR(KMS_ERR_STORE);
    }
    freeReplyObject(rep);
    return r;
}

/* SET key val NX: *set whether it was set here. */
static kms_result set_nx(struct kms_redis_conn *c, const char *key, const char *val, bool *set)
{
    redisReply *rep = NULL;
    KMS_TRY(cmd(c, &rep, 4, (const char *[]){"SET", key, val, "NX"}));
    *set = rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
    return KMS_RESULT_OK;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (s[0] == '\0') {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

/* The skew (set once for the fleet) and the marker (created when absent; read only, either may
 * be absent). */
static kms_result fleet_keys(struct kms_fleet *f, struct kms_redis_conn *c, char *marker,
                             bool *created)
{
    char v[32];
    bool set = false;
    (void)snprintf(v, sizeof(v), "%" PRIu64, f->skew);
    if (!f->read_only) {
        KMS_TRY(set_nx(c, K_SKEW, v, &set));
    }
    char got[32];
    uint64_t skew = 0;
    KMS_TRY(get_str(c, K_SKEW, got, sizeof(got)));
    if (f->read_only && got[0] == '\0') {
        return get_str(c, K_MARKER, marker, MARKER_HEX + 1);
    }
    if (!parse_u64(got, &skew) || skew != f->skew) {
        pthread_mutex_lock(&f->mu);
        f->other_skew = parse_u64(got, &skew) ? skew : UINT64_MAX;
        pthread_mutex_unlock(&f->mu);
        kms_log(KMS_LOG_WARN, "redis: the fleet's skew is %s s, this node's --skew %" PRIu64, got,
                f->skew);
        KMS_BAIL(KMS_ERR_STORE);
    }
    if (f->read_only) {
        return get_str(c, K_MARKER, marker, MARKER_HEX + 1);
    }
    uint8_t rnd[16];
    char fresh[MARKER_HEX + 1];
    KMS_TRY(kms_random(rnd, sizeof(rnd)));
    KMS_TRY(kms_hex_encode(rnd, sizeof(rnd), fresh, sizeof(fresh)));
    KMS_TRY(set_nx(c, K_MARKER, fresh, created));
    return get_str(c, K_MARKER, marker, MARKER_HEX + 1);
}

static kms_result on_connect(void *ctx, struct kms_redis_conn *c,
                             const struct kms_redis_server *srv)
{
    struct kms_fleet *f = ctx;
    char marker[MARKER_HEX + 1], hz[32];
    bool created = false;
    KMS_TRY(fleet_keys(f, c, marker, &created));
    if (f->read_only) {
        return KMS_RESULT_OK; /* a check: what a start would find is read, nothing set */
    }
    KMS_ENSURE(marker[0] != '\0', KMS_ERR_STORE);
    /* A horizon another node set (and still live) holds here too. */
    KMS_TRY(get_str(c, K_HORIZON, hz, sizeof(hz)));
    uint64_t h = 0;
    if (parse_u64(hz, &h)) {
        raise_horizon(f, h);
    }
    /* A marker this node created, or one that changed, says the data is gone whatever the
     * server's durability; a new run_id with the same marker is a restart that kept the data
     * only when every write was on disk before its answer (appendfsync always). */
    pthread_mutex_lock(&f->mu);
    bool lost = created || (f->seen && strcmp(f->marker, marker) != 0);
    bool run_changed = f->seen && strcmp(f->run_id, srv->run_id) != 0;
    memcpy(f->run_id, srv->run_id, sizeof(f->run_id));
    memcpy(f->marker, marker, sizeof(f->marker));
    f->seen = true;
    pthread_mutex_unlock(&f->mu);
    if (!lost && !run_changed) {
        return KMS_RESULT_OK;
    }
    if (!lost && srv->durable) {
        kms_log(KMS_LOG_INFO, "redis: server restarted (run_id changed) with appendonly yes and "
                              "appendfsync always: the shared replay cache is kept, no restart "
                              "window");
        return KMS_RESULT_OK;
    }
    uint64_t now = kms_now();
    h = now + f->skew;
    char v[32], px[32];
    (void)snprintf(v, sizeof(v), "%" PRIu64, h);
    (void)snprintf(px, sizeof(px), "%" PRIu64, f->skew * 1000);
    /* In the node first: the change is recorded as seen, so a failed SET must not lose it. */
    raise_horizon(f, h);
    atomic_fetch_add(&f->resets, 1);
    kms_log(KMS_LOG_WARN,
            "redis: %s (replay entries may be lost): the restart rule applies fleet-wide, "
            "requests stamped before %" PRIu64 " are refused 503 starting",
            created ? "fleet marker absent, created anew"
            : lost  ? "fleet marker changed"
                    : "server restarted (run_id changed)",
            h);
    redisReply *rep = NULL;
    KMS_TRY(cmd(c, &rep, 5, (const char *[]){"SET", K_HORIZON, v, "PX", px}));
    freeReplyObject(rep);
    return KMS_RESULT_OK;
}

kms_result kms_fleet_new(const struct kms_fleet_cfg *cfg, const uint8_t kek[32],
                         struct kms_fleet **out, char *why, size_t why_cap)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_fleet *f = NULL;
    KMS_ENSURE_OUT(rc, cfg != NULL && kek != NULL && out != NULL && cfg->skew > 0, KMS_ERR_ARG);
    *out = NULL;
    f = calloc(1, sizeof(*f));
    KMS_ENSURE_OUT(rc, f != NULL, KMS_ERR_NOMEM);
    KMS_ENSURE_OUT(rc, pthread_mutex_init(&f->mu, NULL) == 0, KMS_ERR_NOMEM);
    f->skew = cfg->skew;
    f->read_only = cfg->read_only;
    KMS_TRY_OUT(rc, kms_kek_derive(kek, KMS_KEK_KMS_REDIS_NAMES, 1, f->names));
    struct kms_redis_cfg rcfg = {.url = cfg->url,
                                 .password_file = cfg->password_file,
                                 .timeout_ms = cfg->timeout_ms,
                                 .on_connect = on_connect,
                                 .ctx = f};
    rc = kms_redis_new(&rcfg, &f->r);
    if (!kms_ok(rc)) {
        if (why != NULL && why_cap > 0) {
            (void)snprintf(why, why_cap, "--redis-password-file: %s", kms_strerror(rc.err));
        }
        goto out;
    }
    rc = kms_redis_check(f->r, why, why_cap);
    if (!kms_ok(rc) && f->other_skew != 0 && why != NULL && why_cap > 0) {
        (void)snprintf(why, why_cap,
                       "the fleet's --skew is %" PRIu64 " s (set by the first node), not %" PRIu64,
                       f->other_skew, f->skew);
    }
    KMS_TRY_OUT(rc, rc);
    *out = f;
    f = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_fleet_free(f);
    return rc;
}

void kms_fleet_free(struct kms_fleet *f)
{
    if (f == NULL) {
        return;
    }
    kms_redis_free(f->r);
    pthread_mutex_destroy(&f->mu);
    kms_wipe(f, sizeof(*f));
    free(f);
}

struct kms_redis *kms_fleet_redis(struct kms_fleet *f)
{
    return f != NULL ? f->r : NULL;
}

const uint8_t *kms_fleet_names_key(const struct kms_fleet *f)
{
    return f != NULL ? f->names : NULL;
}

uint64_t kms_fleet_horizon(struct kms_fleet *f)
{
    return f != NULL ? atomic_load(&f->horizon) : 0;
}

uint64_t kms_fleet_resets(struct kms_fleet *f)
{
    return f != NULL ? atomic_load(&f->resets) : 0;
}

kms_result kms_fleet_replay_commit(struct kms_fleet *f, const uint8_t token_id[16],
                                   const uint8_t *rand, size_t rand_len, uint64_t ts, uint64_t now)
{
    KMS_ENSURE(f != NULL && token_id != NULL && rand != NULL && rand_len <= 255, KMS_ERR_ARG);
    char tag[KMS_REDIS_TAG_LEN + 1];
    KMS_TRY(kms_redis_tag(f->names, token_id, 16, tag));
    /* F = HMAC(names, "rp" || token id || len(RAND) || RAND): one name per pair. */
    uint8_t in[2 + 16 + 1 + 255], h[32];
    memcpy(in, "rp", 2);
    memcpy(in + 2, token_id, 16);
    in[18] = (uint8_t)rand_len;
    memcpy(in + 19, rand, rand_len);
    KMS_TRY(kms_hmac_sha256(f->names, sizeof(f->names), in, 19 + rand_len, h));
    char fp[33];
    KMS_TRY(kms_hex_encode(h, 16, fp, sizeof(fp)));
    char key[96], px[32];
    int n = snprintf(key, sizeof(key), KMS_FLEET_PREFIX "%s:rp:%s", tag, fp);
    KMS_ENSURE(n > 0 && (size_t)n < sizeof(key), KMS_ERR_INTERNAL);
    /* Until ts + skew, when the time checks refuse the pair anyway (a second more for the
     * rounding of the clocks). */
    uint64_t until = ts + f->skew;
    uint64_t secs = (until > now ? until - now : 0) + 1;
    (void)snprintf(px, sizeof(px), "%" PRIu64, secs * 1000);
    const char *argv[] = {"SET", key, "1", "NX", "PX", px};
    size_t lens[] = {3, (size_t)n, 1, 2, 2, strlen(px)};
    redisReply *rep = NULL;
    KMS_TRY(kms_redis_cmd(f->r, 6, argv, lens, &rep));
    bool fresh = rep->type == REDIS_REPLY_STATUS;
    bool replay = rep->type == REDIS_REPLY_NIL;
    freeReplyObject(rep);
    KMS_ENSURE(fresh || replay, KMS_ERR_STORE);
    KMS_ENSURE(fresh, KMS_ERR_REPLAY);
    /* This command may have been the one that reconnected and found Redis emptied (the horizon
     * raised by on_connect after the caller's time check): the pair counts only if it is still
     * on the right side of the horizon. */
    KMS_ENSURE(ts >= kms_fleet_horizon(f), KMS_ERR_REPLAY_RESTART);
    return KMS_RESULT_OK;
}
