/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_replay: the replay guard for Kue-protected requests (design.md section 2).
 *
 * Timestamp mode (the only one, docs/protocol.md section 10): a request's timestamp must lie within
 * `skew` seconds of the KMS clock, and the pair (token id, RAND) must not have been accepted
 * before. Accepted pairs are kept in memory until their timestamp leaves the window (ts + skew <
 * now); after that the timestamp check refuses the request anyway, so nothing is forgotten early.
 *
 * Restart rule: the cache is not persisted. A request accepted before a restart at time S had
 * ts <= S + skew, so after the restart every request stamped earlier than S + skew is refused
 * (KMS_ERR_REPLAY_RESTART): the replay window never reopens and nothing is written per request.
 * The price: for about `skew` seconds after a start, timestamp-mode requests are refused.
 *
 * Memory is bounded: at most max_entries pairs. When the cache is full, expired entries are
 * swept (at most once per second of the caller's clock); if it is still full the request is
 * refused with KMS_ERR_REPLAY_FULL. Entries are never dropped early to make room.
 *
 * Thread-safe: one mutex per guard.
 */
#ifndef KMS_REPLAY_REPLAY_H
#define KMS_REPLAY_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"

#define KMS_REPLAY_TOKEN_ID_LEN 16
#define KMS_REPLAY_RAND_MAX     255

struct kms_replay_cfg {
    uint64_t skew;      /* seconds, > 0 (default 60) */
    size_t max_entries; /* > 0 (default 1,000,000) */
};

/* Memory per accepted entry, table overhead included (documented in docs/protocol.md). */
size_t kms_replay_bytes_per_entry(void);

struct kms_replay;

/* start_time: the process start (UNIX seconds), for the restart rule. */
KMS_MUST_CHECK kms_result kms_replay_new(const struct kms_replay_cfg *cfg, uint64_t start_time,
                                         struct kms_replay **out);
void kms_replay_free(struct kms_replay *rg);

/* The first timestamp accepted: start_time + skew (saturating). */
uint64_t kms_replay_open_at(const struct kms_replay *rg);

/* Timestamp checks alone: KMS_ERR_TS_SKEW when |ts - now| > skew, KMS_ERR_REPLAY_RESTART when
 * ts < start_time + skew. No state changes. */
KMS_MUST_CHECK kms_result kms_replay_check_time(struct kms_replay *rg, uint64_t ts, uint64_t now);

/* Before any key is used: the time checks, then KMS_ERR_REPLAY when (token_id, rand) was
 * accepted already. No state changes. */
KMS_MUST_CHECK kms_result kms_replay_check(struct kms_replay *rg,
                                           const uint8_t token_id[KMS_REPLAY_TOKEN_ID_LEN],
                                           const uint8_t *rand, size_t rand_len, uint64_t ts,
                                           uint64_t now);

/* After the request authenticated: records the pair. Repeats every check of kms_replay_check
 * atomically (so two racing copies of one request cannot both pass), then
 * KMS_ERR_REPLAY_FULL when no room is left. */
KMS_MUST_CHECK kms_result kms_replay_commit(struct kms_replay *rg,
                                            const uint8_t token_id[KMS_REPLAY_TOKEN_ID_LEN],
                                            const uint8_t *rand, size_t rand_len, uint64_t ts,
                                            uint64_t now);

/* The same two steps for a caller that checks and then commits one pair: the pair's keyed
 * fingerprint is computed once (the arguments and the time checks first: a stale request costs
 * no MAC), then kms_replay_check_pair / kms_replay_commit_pair behave as kms_replay_check /
 * kms_replay_commit with the same ts and now. */
struct kms_replay_pair {
    uint64_t fp[2];
};
KMS_MUST_CHECK kms_result kms_replay_pair_of(struct kms_replay *rg,
                                             const uint8_t token_id[KMS_REPLAY_TOKEN_ID_LEN],
                                             const uint8_t *rand, size_t rand_len, uint64_t ts,
                                             uint64_t now, struct kms_replay_pair *out);
KMS_MUST_CHECK kms_result kms_replay_check_pair(struct kms_replay *rg,
                                                const struct kms_replay_pair *pair, uint64_t ts,
                                                uint64_t now);
KMS_MUST_CHECK kms_result kms_replay_commit_pair(struct kms_replay *rg,
                                                 const struct kms_replay_pair *pair, uint64_t ts,
                                                 uint64_t now);

/* Entries held now. */
size_t kms_replay_count(struct kms_replay *rg);

#endif
