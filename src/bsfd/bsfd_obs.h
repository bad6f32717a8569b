/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BSF's part of the observability (src/common/kms_metrics.h): its gauges and counters at
 * scrape time (sessions, challenges, answered challenges remembered), its readiness check (the
 * subscriber store readable and writable, probed by the tick) and the challenges counter the Ub
 * handler adds to.
 */
#ifndef BSFD_OBS_H
#define BSFD_OBS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gba/kms_bsf.h"
#include "gba/kms_subscriber.h"
#include "kms_metrics.h"
#include "redis/kms_redis.h"

struct bsfd_obs {
    struct kms_metrics *m;
    struct kms_bsf *bsf;
    kms_result (*probe)(void *ctx); /* the store's probe: readable and writable */
    void *probe_ctx;
    size_t max_sessions, max_answered;
    /* --redis (NULL: --db): the client's counters; and the sessions and answered challenges
     * live in Redis, not in this node's tables */
    struct kms_redis *redis;
    atomic_uint_fast64_t challenges; /* Ub challenges sent (real and fake alike) */
    atomic_uint_fast64_t bootstraps; /* Ub bootstraps completed */
    pthread_mutex_t mu;              /* the store probe's result, below */
    bool store_ok;
    char store_detail[96];
};

/* redis: the fleet's Redis client (--redis), NULL on --db. With it the BSF keeps its sessions
 * and answered challenges in the fleet's store, so this node's tables (and the gauges of them)
 * hold nothing: those gauges are left out, and the client's counters are exported instead. */
void bsfd_obs_init(struct bsfd_obs *o, struct kms_metrics *m, struct kms_bsf *bsf,
                   kms_result (*probe)(void *ctx), void *probe_ctx, size_t max_sessions,
                   size_t max_answered, struct kms_redis *redis);
void bsfd_obs_cleanup(struct bsfd_obs *o);
/* The Ub handler sent a challenge; completed a bootstrap. */
void bsfd_obs_challenge(struct bsfd_obs *o);
void bsfd_obs_bootstrap(struct bsfd_obs *o);
/* The tick: the store probed (a read, and a write transaction that changes nothing); a debug
 * summary now and then. */
void bsfd_obs_tick(struct bsfd_obs *o, unsigned n);

/* For kms_metrics_source. */
void bsfd_obs_collect(void *ctx, struct kms_prom *p, uint64_t now);
void bsfd_obs_ready(void *ctx, uint64_t now, struct kms_ready *r);

#endif
