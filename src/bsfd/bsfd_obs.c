/* SPDX-License-Identifier: Apache-2.0 */
#include "bsfd_obs.h"

#include <stdio.h>
#include <string.h>

#include "util/kms_log.h"

void bsfd_obs_init(struct bsfd_obs *o, struct kms_metrics *m, struct kms_bsf *bsf,
                   kms_result (*probe)(void *ctx), void *probe_ctx, size_t max_sessions,
                   size_t max_answered, struct kms_redis *redis)
{
    memset(o, 0, sizeof(*o));
    o->m = m;
    o->bsf = bsf;
    o->probe = probe;
    o->probe_ctx = probe_ctx;
    o->max_sessions = max_sessions;
    o->max_answered = max_answered;
    o->redis = redis;
    atomic_init(&o->challenges, 0);
    atomic_init(&o->bootstraps, 0);
    o->store_ok = true;
    (void)snprintf(o->store_detail, sizeof(o->store_detail), "not probed yet");
    pthread_mutex_init(&o->mu, NULL);
}

void bsfd_obs_cleanup(struct bsfd_obs *o)
{
    pthread_mutex_destroy(&o->mu);
}

void bsfd_obs_challenge(struct bsfd_obs *o)
{
    atomic_fetch_add_explicit(&o->challenges, 1, memory_order_relaxed);
}

void bsfd_obs_bootstrap(struct bsfd_obs *o)
{
    atomic_fetch_add_explicit(&o->bootstraps, 1, memory_order_relaxed);
}

void bsfd_obs_tick(struct bsfd_obs *o, unsigned n)
{
    kms_result w = o->probe(o->probe_ctx);
    pthread_mutex_lock(&o->mu);
    bool was = o->store_ok;
    o->store_ok = kms_ok(w);
    (void)snprintf(o->store_detail, sizeof(o->store_detail), "%s",
                   kms_ok(w) ? "readable and writable" : kms_strerror(w.err));
    pthread_mutex_unlock(&o->mu);
    if (was != kms_ok(w)) {
        kms_log(kms_ok(w) ? KMS_LOG_INFO : KMS_LOG_WARN, "subscriber store probe: %s",
                kms_ok(w) ? "writable again" : kms_strerror(w.err));
    }
    if (n % 12 == 0 && kms_log_enabled(KMS_LOG_DEBUG) && o->redis != NULL) {
        struct kms_bsf_stats s;
        kms_bsf_stats(o->bsf, &s);
        kms_log(KMS_LOG_DEBUG,
                "state: sessions and answered challenges in Redis, %zu subscribers' SQN "
                "states, %zu strangers rated, %llu challenges sent",
                s.identities, s.strangers,
                (unsigned long long)atomic_load_explicit(&o->challenges, memory_order_relaxed));
    } else if (n % 12 == 0 && kms_log_enabled(KMS_LOG_DEBUG)) {
        struct kms_bsf_stats s;
        kms_bsf_stats(o->bsf, &s);
        kms_log(KMS_LOG_DEBUG,
                "state: %zu/%zu sessions, %zu/%zu answered challenges remembered, %zu "
                "subscribers' SQN states, %zu strangers rated, %llu challenges sent",
                s.sessions, o->max_sessions, s.answered, o->max_answered, s.identities, s.strangers,
                (unsigned long long)atomic_load_explicit(&o->challenges, memory_order_relaxed));
    }
}

void bsfd_obs_collect(void *ctx, struct kms_prom *p, uint64_t now)
{
    struct bsfd_obs *o = ctx;
    (void)now;
    struct kms_bsf_stats s;
    kms_bsf_stats(o->bsf, &s);
    /* With --redis these tables hold nothing (the fleet's store does): no gauge rather than a
     * 0 that reads as "empty". */
    if (o->redis == NULL) {
        kms_prom_scalar(p, "imskms_bsf_sessions", "gauge",
                        "Bootstrap sessions held (B-TIDs with their Ks).", s.sessions);
        kms_prom_scalar(p, "imskms_bsf_sessions_capacity", "gauge",
                        "Sessions that can be held (--max-sessions).", o->max_sessions);
    }
    kms_prom_scalar(
        p, "imskms_bsf_challenges_total", "counter",
        "Ub challenges sent (401 with a Digest AKA challenge), for known and unknown IMPIs alike.",
        atomic_load_explicit(&o->challenges, memory_order_relaxed));
    kms_prom_scalar(p, "imskms_bsf_bootstraps_total", "counter", "Bootstraps completed (Ub 200).",
                    atomic_load_explicit(&o->bootstraps, memory_order_relaxed));
    if (o->redis == NULL) {
        kms_prom_scalar(p, "imskms_bsf_answered_challenges", "gauge",
                        "Answered challenges remembered until they expire (single use).",
                        s.answered);
        kms_prom_scalar(p, "imskms_bsf_answered_challenges_capacity", "gauge",
                        "Answered challenges that can be remembered (--max-answered).",
                        o->max_answered);
    }
    kms_prom_scalar(p, "imskms_bsf_sqn_states", "gauge",
                    "Subscribers whose SQN state is held in memory.", s.identities);
    kms_prom_scalar(p, "imskms_bsf_strangers", "gauge", "Unknown IMPIs rate-limited at the moment.",
                    s.strangers);
    kms_prom_scalar(
        p, "imskms_bsf_sync_sqn_reserves_total", "counter",
        "SQN ranges reserved on the request path (a durable write while a client waits).",
        s.sync_reserves);
    kms_prom_scalar(p, "imskms_bsf_fake_resyncs_total", "counter",
                    "AUTS of challenges for unknown IMPIs checked on their fake K/OPc.",
                    s.fake_resyncs);
    if (o->redis != NULL) {
        kms_prom_redis(p, o->redis);
    }
}

void bsfd_obs_ready(void *ctx, uint64_t now, struct kms_ready *r)
{
    struct bsfd_obs *o = ctx;
    (void)now;
    pthread_mutex_lock(&o->mu);
    bool ok = o->store_ok;
    char detail[sizeof(o->store_detail)];
    memcpy(detail, o->store_detail, sizeof(detail));
    pthread_mutex_unlock(&o->mu);
    kms_ready_add(r, "store", ok, true, "%s", detail);
}
