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
#include "util/kms_buf.h"

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

/* ---- snapshot (a clean stop; lib/replay/kms_replay_snap seals it, docs/protocol.md 10) ----
 *
 * kms_replay_save appends to out an image of the guard at now: its skew, the seed of its
 * fingerprints, every live entry (expiry >= now), the oldest timestamp the image covers
 * (now - skew: a pair accepted with an earlier ts is refused by the skew check anyway) and the
 * guard's own horizon (kms_replay_open_at). Call it once no request can reach the guard.
 *
 * kms_replay_load builds a guard for cfg from such an image (untrusted bytes: every length and
 * field checked) holding the entries still live at now. Its horizon (the first timestamp it
 * accepts) is min(max(oldest, the saved horizon), start_time + skew): the later of the two
 * saved times, so that a chain of a crash, a start and a clean stop never widens the window,
 * and never later than the restart rule, which holds without any image. KMS_ERR_ARG when the
 * image is of another skew, KMS_ERR_FULL when it holds more than cfg->max_entries, KMS_ERR_*
 * of the cursor or KMS_ERR_MALFORMED / KMS_ERR_BAD_LENGTH for an image that does not parse.
 * info (may be NULL) receives what the image said. */
struct kms_replay_loaded {
    uint64_t saved_at, oldest, horizon;
    size_t entries; /* loaded (live at now) */
};
KMS_MUST_CHECK kms_result kms_replay_save(struct kms_replay *rg, uint64_t now, struct kms_buf *out);
KMS_MUST_CHECK kms_result kms_replay_load(const struct kms_replay_cfg *cfg, uint64_t start_time,
                                          const uint8_t *p, size_t len, uint64_t now,
                                          struct kms_replay **out, struct kms_replay_loaded *info);
/* The largest image a guard of cfg loads (0 when it cannot be counted). */
size_t kms_replay_image_max(const struct kms_replay_cfg *cfg);

#endif
