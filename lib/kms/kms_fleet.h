/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_fleet: what KMS nodes share in Redis beside mode-2 Kues (docs/scaling.md, "The KMS's
 * keys in Redis"): the replay cache, the fleet's skew and marker, and the fleet-wide restart
 * horizon.
 *
 * Replay: once a request's MAC verifies, its pair (token id, RAND) is written with
 * `SET imskms:kms:{T}:rp:F 1 NX PX ms` where T and F are keyed hashes (KMS_REDIS_NAMES row of
 * the KEK) of the token id and of the pair, and ms lasts until ts + skew: a nil reply is a
 * replay (KMS_ERR_REPLAY, 403), an error KMS_ERR_STORE (503). Nothing is written for a request
 * that did not authenticate.
 *
 * Redis losing data: every new connection (kms_redis on_connect) reads Redis's run_id and the
 * fleet marker `imskms:kms:{fleet}:marker` (16 random bytes, created when absent). When either
 * differs from what this node saw last, or this node created the marker (an empty Redis: the
 * fleet's replay entries may be gone), and Redis is not durable (appendonly yes and appendfsync
 * always), the restart rule applies fleet-wide: horizon = now + skew, stored in
 * `imskms:kms:{fleet}:horizon` (PX skew) and in the node; requests stamped before it are refused
 * 503 starting. Every connection also reads that key, so a node that (re)starts meanwhile
 * honours the horizon another node set.
 *
 * Skew: `imskms:kms:{fleet}:skew` is set by the first node (SET NX); a node with another --skew
 * is refused (kms_fleet_new fails, naming both values).
 */
#ifndef KMS_KMS_FLEET_H
#define KMS_KMS_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "redis/kms_redis.h"

#define KMS_FLEET_PREFIX "imskms:kms:"

struct kms_fleet_cfg {
    struct kms_redis_url url;
    const char *password_file; /* NULL: none */
    unsigned timeout_ms;       /* 0: KMS_REDIS_TIMEOUT_MS */
    uint64_t skew;             /* seconds, > 0 */
    /* A check (imskms-kmsd --check-config): the skew and the marker are read and compared,
     * nothing is written (an absent skew or marker is what a start would create; no horizon
     * is set). */
    bool read_only;
};

struct kms_fleet;

/* Makes the client, connects this thread and runs every check (noeviction, the skew, the
 * marker, the horizon). why (may be NULL) receives a one-line reason on failure. The key that
 * names entries is derived from kek (not kept). */
KMS_MUST_CHECK kms_result kms_fleet_new(const struct kms_fleet_cfg *cfg, const uint8_t kek[32],
                                        struct kms_fleet **out, char *why, size_t why_cap);
void kms_fleet_free(struct kms_fleet *f);

/* The client (borrowed), for the store backend and the metrics. */
struct kms_redis *kms_fleet_redis(struct kms_fleet *f);
/* The key that names entries in Redis (borrowed, 32 bytes), for the store backend's tags. */
const uint8_t *kms_fleet_names_key(const struct kms_fleet *f);

/* Records the pair (see above): KMS_ERR_REPLAY when any node accepted it before, KMS_ERR_STORE
 * when Redis cannot say. */
KMS_MUST_CHECK kms_result kms_fleet_replay_commit(struct kms_fleet *f, const uint8_t token_id[16],
                                                  const uint8_t *rand, size_t rand_len, uint64_t ts,
                                                  uint64_t now);
/* The first timestamp accepted (0: no horizon). */
uint64_t kms_fleet_horizon(struct kms_fleet *f);
/* Times the restart rule was applied because Redis lost data or changed. */
uint64_t kms_fleet_resets(struct kms_fleet *f);

#endif
