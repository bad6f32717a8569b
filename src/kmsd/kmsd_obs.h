/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KMS's part of the observability (src/common/kms_metrics.h): its gauges and counters at
 * scrape time (replay cache, Kkms keys, Zn client), its readiness checks (an active Kkms, the
 * store, the restart window; the BSF reported only) and the log lines of keyring changes
 * (rotated, revoked, reloaded). The tick (main thread) feeds it; scrapes read it from the
 * metrics and public listeners' threads.
 */
#ifndef KMSD_OBS_H
#define KMSD_OBS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gba/kms_zn_client.h"
#include "keyring/kms_keyring.h"
#include "kms_metrics.h"
#include "redis/kms_redis.h"
#include "replay/kms_replay.h"

struct kmsd_obs {
    struct kms_metrics *m;
    struct kms_keyring *kr;
    struct kms_replay *rg;
    size_t replay_cap;
    /* The Zn client's counters (the current one: a reload replaces the client, and its counters
     * start again from 0, which Prometheus reads as a counter reset). */
    void (*zn_stats)(void *ctx, struct kms_zn_client_stats *s);
    void *zn_ctx;
    struct kms_redis *redis; /* --redis: its counters (NULL: none) */
    /* Written by the tick, read by scrapes: under mu. */
    pthread_mutex_t mu;
    bool purge_ok;           /* the last store purge (a write transaction) succeeded */
    bool seals_ok;           /* the last reservation of seals ahead succeeded */
    uint64_t store_errs;     /* store-unavailable refusals counted at the last tick */
    uint64_t store_err_at;   /* when that count last grew (0: never) */
    int zn_state;            /* -1 queries failing, 1 answering, 0 no query yet */
    uint64_t zn_errs, zn_ok; /* zn-unavailable refusals and Zn queries at the last tick */
    char zn_detail[96];
    /* The keyring as last seen by the tick (main thread only). */
    bool seen;
    uint64_t gen;
    size_t n_keys;
    struct kms_key_info keys[KMS_KEYRING_MAX_RECORDS];
};

/* kr and rg borrowed; zn_stats reads the current Zn client. */
void kmsd_obs_init(struct kmsd_obs *o, struct kms_metrics *m, struct kms_keyring *kr,
                   struct kms_replay *rg, size_t replay_cap,
                   void (*zn_stats)(void *ctx, struct kms_zn_client_stats *s), void *zn_ctx);
void kmsd_obs_cleanup(struct kmsd_obs *o);

/* The tick's findings. */
void kmsd_obs_store(struct kmsd_obs *o, bool purge_ok, bool seals_ok);
/* Every tick: keyring changes logged, the store and Zn states updated; every minute (debug
 * level) a summary line. */
void kmsd_obs_tick(struct kmsd_obs *o, unsigned n, uint64_t now);

/* For kms_metrics_source. */
void kmsd_obs_collect(void *ctx, struct kms_prom *p, uint64_t now);
void kmsd_obs_ready(void *ctx, uint64_t now, struct kms_ready *r);

/* The identities a service reply's detail names ("... idri=X idrr=Y btid=Z") as the request
 * note's (the log line's idri, idrr and btid fields). */
void kmsd_note_ids(struct kms_http_resp *resp, const char *detail);

#endif
