/* SPDX-License-Identifier: Apache-2.0 */
#include "kmsd_obs.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/kms_log.h"

/* A store-unavailable refusal keeps the store check failed this long (seconds). */
#define STORE_ERR_HOLD_S 10u

void kmsd_obs_init(struct kmsd_obs *o, struct kms_metrics *m, struct kms_keyring *kr,
                   struct kms_replay *rg, size_t replay_cap,
                   void (*zn_stats)(void *ctx, struct kms_zn_client_stats *s), void *zn_ctx)
{
    memset(o, 0, sizeof(*o));
    o->m = m;
    o->kr = kr;
    o->rg = rg;
    o->replay_cap = replay_cap;
    o->zn_stats = zn_stats;
    o->zn_ctx = zn_ctx;
    o->purge_ok = true;
    o->seals_ok = true;
    (void)snprintf(o->zn_detail, sizeof(o->zn_detail), "no Zn query yet");
    pthread_mutex_init(&o->mu, NULL);
}

void kmsd_obs_cleanup(struct kmsd_obs *o)
{
    pthread_mutex_destroy(&o->mu);
}

void kmsd_obs_store(struct kmsd_obs *o, bool purge_ok, bool seals_ok)
{
    pthread_mutex_lock(&o->mu);
    o->purge_ok = purge_ok;
    o->seals_ok = seals_ok;
    pthread_mutex_unlock(&o->mu);
}

static uint64_t store_refusals(struct kms_metrics *m)
{
    uint64_t n = 0;
    for (size_t c = 1; c < KMS_ERR_COUNT_; c++) {
        const char *why = kms_wire_of(KMS_IFACE_KMS, (enum kms_err)c).reason;
        if (why != NULL && strcmp(why, "store-unavailable") == 0) {
            n += kms_metrics_code_count(m, KMS_MIF_KMS, (enum kms_err)c);
        }
    }
    return n;
}

static const struct kms_key_info *find_key(const struct kms_key_info *k, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (k[i].id == id) {
            return &k[i];
        }
    }
    return NULL;
}

static void log_key(const char *what, const struct kms_key_info *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void log_key(const char *what, const struct kms_key_info *k, const char *fmt, ...)
{
    char id[16], msg[200];
    (void)snprintf(id, sizeof(id), "%" PRIu32, k->id);
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct kms_log_kv kv[] = {{"change", what, false},
                              {"key", id, true},
                              {"state", kms_key_state_name(k->effective), false}};
    kms_log_kv(KMS_LOG_INFO, "keyring", kv, 3, "%s", msg);
}

/* Keyring changes since the last tick, one line each: a key made active (a rotation, by the
 * housekeeping or `imskms keys rotate`), a key revoked, a key destroyed at the end of its grace,
 * and the file read again (a new generation). */
static void keyring_watch(struct kmsd_obs *o, uint64_t now)
{
    struct kms_key_info keys[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    if (!kms_ok(kms_keyring_list(o->kr, now, keys, KMS_KEYRING_MAX_RECORDS, &n))) {
        return; /* a keyring that cannot be read logs why itself */
    }
    uint64_t gen = kms_keyring_generation(o->kr);
    if (!o->seen) {
        for (size_t i = 0; i < n; i++) {
            if (keys[i].effective == KMS_KEY_ACTIVE) {
                log_key("loaded", &keys[i], "keyring: %zu key(s), key %" PRIu32 " active", n,
                        keys[i].id);
            }
        }
    } else {
        if (gen != o->gen) {
            char g[24];
            (void)snprintf(g, sizeof(g), "%" PRIu64, gen);
            /* `imskms keys` changed the file, or this daemon wrote it (seals reserved ahead,
             * housekeeping): the view in use now is the file's new generation. */
            struct kms_log_kv kv[] = {{"change", "reloaded", false}, {"generation", g, true}};
            kms_log_kv(KMS_LOG_INFO, "keyring", kv, 2,
                       "keyring: generation %s in use (the file was written)", g);
        }
        for (size_t i = 0; i < n; i++) {
            const struct kms_key_info *k = &keys[i];
            const struct kms_key_info *was = find_key(o->keys, o->n_keys, k->id);
            enum kms_key_state before = was != NULL ? was->effective : (enum kms_key_state)0;
            if (k->effective == before) {
                continue;
            }
            if (k->effective == KMS_KEY_ACTIVE) {
                log_key("rotated", k, "keyring: key %" PRIu32 " active (rotated)", k->id);
            } else if (k->effective == KMS_KEY_GRACE) {
                log_key("grace", k, "keyring: key %" PRIu32 " in grace until %" PRIu64, k->id,
                        k->grace_until);
            } else if (k->effective == KMS_KEY_DESTROYED && k->end == KMS_KEY_END_REVOKED) {
                log_key("revoked", k, "keyring: key %" PRIu32 " revoked", k->id);
            } else if (k->effective == KMS_KEY_DESTROYED) {
                log_key("destroyed", k, "keyring: key %" PRIu32 " destroyed (grace over)", k->id);
            }
        }
    }
    memcpy(o->keys, keys, n * sizeof(keys[0]));
    o->n_keys = n;
    o->gen = gen;
    o->seen = true;
}

/* The BSF as the KMS sees it: down when requests were refused 503 zn-unavailable since the last
 * tick (the BSF unreachable, too slow or refusing us), up again once a Zn query got an answer
 * (an unknown B-TID is an answer too) without such refusals. */
static void zn_watch(struct kmsd_obs *o)
{
    struct kms_zn_client_stats s = {0};
    o->zn_stats(o->zn_ctx, &s);
    uint64_t down = kms_metrics_code_count(o->m, KMS_MIF_KMS, KMS_ERR_ZN_UNAVAILABLE);
    pthread_mutex_lock(&o->mu);
    if (down > o->zn_errs) {
        o->zn_state = -1;
        (void)snprintf(o->zn_detail, sizeof(o->zn_detail),
                       "%" PRIu64 " request(s) refused 503 zn-unavailable in the last second",
                       down - o->zn_errs);
    } else if (s.misses > o->zn_ok) {
        o->zn_state = 1;
        (void)snprintf(o->zn_detail, sizeof(o->zn_detail), "the last Zn queries were answered");
    }
    o->zn_errs = down;
    o->zn_ok = s.misses;
    pthread_mutex_unlock(&o->mu);
}

void kmsd_obs_tick(struct kmsd_obs *o, unsigned n, uint64_t now)
{
    keyring_watch(o, now);
    zn_watch(o);
    uint64_t errs = store_refusals(o->m);
    pthread_mutex_lock(&o->mu);
    if (errs != o->store_errs) {
        o->store_errs = errs;
        o->store_err_at = now;
    }
    pthread_mutex_unlock(&o->mu);
    if (n % 60 == 0 && kms_log_enabled(KMS_LOG_DEBUG)) {
        struct kms_zn_client_stats s = {0};
        o->zn_stats(o->zn_ctx, &s);
        kms_log(KMS_LOG_DEBUG,
                "state: replay cache %zu/%zu entries, open from %" PRIu64 "; %zu key records, "
                "keyring generation %" PRIu64 "; Zn cache hits %" PRIu64 ", queries %" PRIu64
                ", failures %" PRIu64 ", negative hits %" PRIu64,
                kms_replay_count(o->rg), o->replay_cap, kms_replay_open_at(o->rg), o->n_keys,
                o->gen, s.hits, s.misses, s.fetch_errors, s.neg_hits);
    }
}

void kmsd_obs_collect(void *ctx, struct kms_prom *p, uint64_t now)
{
    struct kmsd_obs *o = ctx;
    kms_prom_scalar(p, "imskms_replay_entries", "gauge", "Entries held in the replay cache.",
                    kms_replay_count(o->rg));
    kms_prom_scalar(p, "imskms_replay_capacity", "gauge",
                    "Entries the replay cache can hold (--replay-entries).", o->replay_cap);
    kms_prom_scalar(p, "imskms_replay_open_at_seconds", "gauge",
                    "The first request timestamp accepted (the restart window ends here).",
                    kms_replay_open_at(o->rg));
    kms_prom_family(p, "imskms_replay_refusals_total", "counter",
                    "Requests refused by the replay guard, by reason.");
    static const struct {
        const char *reason;
        enum kms_err code;
    } rr[] = {{"replay", KMS_ERR_REPLAY},
              {"full", KMS_ERR_REPLAY_FULL},
              {"restart", KMS_ERR_REPLAY_RESTART},
              {"skew", KMS_ERR_TS_SKEW}};
    for (size_t i = 0; i < sizeof(rr) / sizeof(rr[0]); i++) {
        struct kms_prom_label l[] = {{"reason", rr[i].reason}};
        kms_prom_u64(p, "imskms_replay_refusals_total", l, 1,
                     kms_metrics_code_count(o->m, KMS_MIF_KMS, rr[i].code));
    }

    struct kms_key_info keys[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    if (!kms_ok(kms_keyring_list(o->kr, now, keys, KMS_KEYRING_MAX_RECORDS, &n))) {
        n = 0;
    }
    kms_prom_family(p, "imskms_kkms_state", "gauge",
                    "Kkms keys: 1 for the key's state at scrape time (active, grace, destroyed).");
    for (size_t i = 0; i < n; i++) {
        char id[16];
        (void)snprintf(id, sizeof(id), "%" PRIu32, keys[i].id);
        struct kms_prom_label l[] = {{"key", id}, {"state", kms_key_state_name(keys[i].effective)}};
        kms_prom_u64(p, "imskms_kkms_state", l, 2, 1);
    }
    kms_prom_family(p, "imskms_kkms_grace_remaining_seconds", "gauge",
                    "Seconds until the key's grace period ends (0 once destroyed).");
    for (size_t i = 0; i < n; i++) {
        char id[16];
        (void)snprintf(id, sizeof(id), "%" PRIu32, keys[i].id);
        struct kms_prom_label l[] = {{"key", id}};
        uint64_t left = keys[i].effective != KMS_KEY_DESTROYED && keys[i].grace_until > now
                            ? keys[i].grace_until - now
                            : 0;
        kms_prom_u64(p, "imskms_kkms_grace_remaining_seconds", l, 1, left);
    }
    kms_prom_family(p, "imskms_kkms_seals", "gauge",
                    "Seals reserved durably under the key (an upper bound of seals made).");
    for (size_t i = 0; i < n; i++) {
        char id[16];
        (void)snprintf(id, sizeof(id), "%" PRIu32, keys[i].id);
        struct kms_prom_label l[] = {{"key", id}};
        kms_prom_u64(p, "imskms_kkms_seals", l, 1, keys[i].seals);
    }
    struct kms_keyring_policy pol;
    kms_keyring_get_policy(o->kr, &pol);
    kms_prom_scalar(p, "imskms_kkms_max_seals", "gauge", "Seals allowed per key.", pol.max_seals);

    struct kms_zn_client_stats s = {0};
    o->zn_stats(o->zn_ctx, &s);
    kms_prom_scalar(p, "imskms_zn_queries_total", "counter",
                    "Zn queries sent to the BSF (cache misses).", s.misses);
    kms_prom_scalar(p, "imskms_zn_query_failures_total", "counter",
                    "Zn queries that got no Ks_NAF (transport, time-out, refusal, unknown B-TID).",
                    s.fetch_errors);
    kms_prom_scalar(p, "imskms_zn_cache_hits_total", "counter",
                    "B-TIDs answered from the Zn cache.", s.hits);
    kms_prom_scalar(p, "imskms_zn_negative_cache_hits_total", "counter",
                    "Unknown B-TIDs answered from the negative cache, the BSF not asked.",
                    s.neg_hits);
    if (o->redis != NULL) {
        kms_prom_redis(p, o->redis);
    }
}

void kmsd_obs_ready(void *ctx, uint64_t now, struct kms_ready *r)
{
    struct kmsd_obs *o = ctx;
    struct kms_key_info keys[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    uint32_t active = 0;
    bool listed = kms_ok(kms_keyring_list(o->kr, now, keys, KMS_KEYRING_MAX_RECORDS, &n));
    for (size_t i = 0; listed && i < n && active == 0; i++) {
        if (keys[i].effective == KMS_KEY_ACTIVE) {
            active = keys[i].id;
        }
    }
    if (kms_keyring_is_stale(o->kr)) {
        kms_ready_add(r, "keyring", false, true, "the keyring failed closed (reloads refused)");
    } else if (active == 0) {
        kms_ready_add(r, "keyring", false, true, "no active Kkms");
    } else {
        kms_ready_add(r, "keyring", true, true, "key %" PRIu32 " active", active);
    }
    pthread_mutex_lock(&o->mu);
    bool purge_ok = o->purge_ok, seals_ok = o->seals_ok;
    uint64_t err_at = o->store_err_at;
    int zn = o->zn_state;
    char zn_detail[sizeof(o->zn_detail)];
    memcpy(zn_detail, o->zn_detail, sizeof(zn_detail));
    pthread_mutex_unlock(&o->mu);
    bool recent = err_at != 0 && now < err_at + STORE_ERR_HOLD_S;
    if (!purge_ok) {
        kms_ready_add(r, "store", false, true, "the last state store write (purge) failed");
    } else if (!seals_ok) {
        kms_ready_add(r, "store", false, true, "the keyring cannot reserve seals (a write)");
    } else if (recent) {
        kms_ready_add(r, "store", false, true, "requests refused 503 store-unavailable at %" PRIu64,
                      err_at);
    } else {
        kms_ready_add(r, "store", true, true, "writable");
    }
    uint64_t open_at = kms_replay_open_at(o->rg);
    if (now < open_at) {
        kms_ready_add(r, "restart_window", false, true,
                      "requests stamped before %" PRIu64 " are refused for %" PRIu64 " s more",
                      open_at, open_at - now);
    } else {
        kms_ready_add(r, "restart_window", true, true, "over");
    }
    kms_ready_add(r, "bsf", zn >= 0, false, "%s", zn_detail);
}

void kmsd_note_ids(struct kms_http_resp *resp, const char *detail)
{
    static const char *const keys[] = {"idri", "idrr", "btid"};
    for (const char *p = detail; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, " ");
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            size_t kl = strlen(keys[k]);
            if (len > kl + 1 && strncmp(p, keys[k], kl) == 0 && p[kl] == '=') {
                char v[KMS_HTTP_NOTE_ID_MAX + 1];
                size_t vl = len - kl - 1 < sizeof(v) - 1 ? len - kl - 1 : sizeof(v) - 1;
                memcpy(v, p + kl + 1, vl);
                v[vl] = '\0';
                kms_http_note_id(resp, keys[k], v);
            }
        }
        p += len;
        p += strspn(p, " ");
    }
}
