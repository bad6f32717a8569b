/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replay guard's timestamp mode (the contract is in kms_replay.h).
 *
 * Layout: one array of 2 * max_entries fixed-size slots, allocated once by kms_replay_new, so
 * the memory is bounded and known up front (48 bytes per entry). A slot holds
 *   fp[2]   the entry's fingerprint: the first 16 bytes of
 *           HMAC-SHA-256(seed, token_id || u8(rand_len) || rand) under a random per-guard seed,
 *           so that nobody outside can choose pairs that land on one slot (hash flooding);
 *   expiry  ts + skew (saturating): the last second at which the entry's ts passes the
 *           timestamp check; 0 marks an empty slot (skew > 0, so a real expiry never is 0).
 * Open addressing with linear probing; the load factor stays <= 0.5 because at most
 * max_entries slots are ever occupied. The table size need not be a power of two: the home
 * slot is fingerprint mod size, and a division costs nothing beside the HMAC, while an exact
 * size keeps 48 bytes per entry true for every max_entries (a power of two would double it
 * for unlucky sizes).
 *
 * Entries leave only in a sweep (sweep() below), which runs when an insert finds the table at
 * max_entries, at most once per distinct `now`. An entry whose expiry has passed but that no
 * sweep removed yet is treated as absent by lookups and its slot is reused when the same pair is
 * accepted again. That choice cannot reopen a replay: a copy of a request that was accepted
 * carries the same ts, and ts + skew < now makes the timestamp check refuse it before any
 * lookup. It only makes verdicts independent of when sweeps happened to run.
 */
#include "replay/kms_replay.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_ossl.h"
#include "replay/kms_replay_internal.h"
#include "util/kms_cur.h"
#include "util/kms_mem.h"

#define SEED_LEN 32

struct slot {
    uint64_t fp[2];
    uint64_t expiry; /* 0: empty */
};
_Static_assert(sizeof(struct slot) == 24, "a slot is 16 fingerprint bytes and a u64");

struct kms_replay {
    pthread_mutex_t lock;
    uint64_t skew;
    uint64_t open_at;   /* start_time + skew (saturating): earlier ts are refused */
    size_t max_entries; /* bound on occupied slots */
    size_t cap;         /* slots: 2 * max_entries */
    size_t count;       /* occupied slots (expired entries count until a sweep) */
    bool swept;         /* a sweep has run, at last_sweep */
    uint64_t last_sweep;
    uint64_t sweeps;
    struct kms_hmac_key keyed; /* HMAC-SHA-256 keyed with the seed once, read per fingerprint */
    uint8_t seed[SEED_LEN];    /* kept for a snapshot (kms_replay_save); wiped by _free */
    struct slot *slots;
};

size_t kms_replay_bytes_per_entry(void)
{
    return 2 * sizeof(struct slot);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* A guard for cfg whose first accepted timestamp is open_at, its fingerprints keyed with seed
 * (a fresh random one when NULL). */
static kms_result guard_new(const struct kms_replay_cfg *cfg, uint64_t open_at, const uint8_t *seed,
                            struct kms_replay **out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_replay *rg = NULL;
    bool mutex_ready = false;
    KMS_ENSURE_OUT(rc, out != NULL, KMS_ERR_ARG);
    *out = NULL;
    KMS_ENSURE_OUT(rc, cfg != NULL, KMS_ERR_ARG);
    KMS_ENSURE_OUT(rc, cfg->skew > 0, KMS_ERR_ARG);
    KMS_ENSURE_OUT(rc, cfg->max_entries > 0, KMS_ERR_ARG);
    /* 2 * max_entries slots must be countable in bytes. */
    KMS_ENSURE_OUT(rc, cfg->max_entries <= SIZE_MAX / kms_replay_bytes_per_entry(), KMS_ERR_ARG);

    rg = calloc(1, sizeof(*rg));
    KMS_ENSURE_OUT(rc, rg != NULL, KMS_ERR_NOMEM);
    KMS_ENSURE_OUT(rc, pthread_mutex_init(&rg->lock, NULL) == 0, KMS_ERR_NOMEM);
    mutex_ready = true;
    rg->skew = cfg->skew;
    rg->open_at = open_at;
    rg->max_entries = cfg->max_entries;
    rg->cap = 2 * cfg->max_entries;
    rg->slots = calloc(rg->cap, sizeof(struct slot));
    KMS_ENSURE_OUT(rc, rg->slots != NULL, KMS_ERR_NOMEM);
    if (seed != NULL) {
        memcpy(rg->seed, seed, SEED_LEN);
    } else {
        KMS_TRY_OUT(rc, kms_random(rg->seed, SEED_LEN));
    }
    KMS_TRY_OUT(rc, kms_hmac_key_init(&rg->keyed, "SHA256", rg->seed, SEED_LEN));

    *out = rg;
    rg = NULL;
    rc = KMS_RESULT_OK;
out:
    if (rg != NULL) {
        kms_hmac_key_cleanup(&rg->keyed);
        kms_wipe(rg->seed, SEED_LEN);
        free(rg->slots);
        if (mutex_ready) {
            pthread_mutex_destroy(&rg->lock);
        }
        free(rg);
    }
    return rc;
}

kms_result kms_replay_new(const struct kms_replay_cfg *cfg, uint64_t start_time,
                          struct kms_replay **out)
{
    KMS_ENSURE_REF(cfg);
    return guard_new(cfg, sat_add(start_time, cfg->skew), NULL, out);
}

void kms_replay_free(struct kms_replay *rg)
{
    if (rg == NULL) {
        return;
    }
    kms_hmac_key_cleanup(&rg->keyed); /* cleanses the keyed states: the seed */
    kms_wipe(rg->seed, SEED_LEN);
    /* The fingerprints are outputs of a MAC whose key is now gone: no need to wipe them. */
    free(rg->slots);
    pthread_mutex_destroy(&rg->lock);
    free(rg);
}

uint64_t kms_replay_open_at(const struct kms_replay *rg)
{
    return rg != NULL ? rg->open_at : UINT64_MAX;
}

/* Order: the skew first, then the restart window. A ts that fails both is reported as skew,
 * the rule that holds for any KMS, so that KMS_ERR_REPLAY_RESTART counts exactly the requests
 * refused only because this process started recently. The KMS answers the first 403 (an
 * authentication failure) and the second 503 `starting` (docs/api.md). */
kms_result kms_replay_check_time(struct kms_replay *rg, uint64_t ts, uint64_t now)
{
    KMS_ENSURE_REF(rg);
    /* |ts - now| > skew, written so that neither side can wrap. */
    KMS_ENSURE(!(ts > now && ts - now > rg->skew), KMS_ERR_TS_SKEW);
    KMS_ENSURE(!(now > ts && now - ts > rg->skew), KMS_ERR_TS_SKEW);
    KMS_ENSURE(ts >= rg->open_at, KMS_ERR_REPLAY_RESTART);
    return KMS_RESULT_OK;
}

/* The first 16 bytes of HMAC-SHA-256(seed, token_id || u8(rand_len) || rand). The key prepared
 * once at kms_replay_new is only read (threads share it): that skips re-keying, which
 * bench_replay measured at about a fifth of a request's cost. */
static kms_result fingerprint(const struct kms_replay *rg,
                              const uint8_t token_id[KMS_REPLAY_TOKEN_ID_LEN], const uint8_t *rand,
                              size_t rand_len, uint64_t fp[2])
{
    uint8_t mac[32];
    /* rand_len <= 255 is checked by the caller; the length byte keeps the encoding
     * unambiguous should the id ever stop being fixed-length. */
    const uint8_t len8 = (uint8_t)rand_len;
    const struct kms_iov parts[3] = {
        {token_id, KMS_REPLAY_TOKEN_ID_LEN}, {&len8, 1}, {rand, rand_len}};
    kms_result rc = kms_hmac_key_mac(&rg->keyed, parts, 3, mac, sizeof(mac));
    if (kms_ok(rc)) {
        memcpy(fp, mac, 16);
    }
    kms_wipe(mac, sizeof(mac));
    return rc;
}

static size_t home_of(const struct kms_replay *rg, const uint64_t fp[2])
{
    return (size_t)(fp[0] % (uint64_t)rg->cap);
}

static size_t next_slot(const struct kms_replay *rg, size_t i)
{
    return i + 1 == rg->cap ? 0 : i + 1;
}

/* The slot holding fp (live or not), or the empty slot that ends its probe chain. The load
 * factor is at most 0.5, so an empty slot always exists and the loop ends. */
static size_t find_slot(const struct kms_replay *rg, const uint64_t fp[2])
{
    size_t i = home_of(rg, fp);
    while (rg->slots[i].expiry != 0 &&
           !(rg->slots[i].fp[0] == fp[0] && rg->slots[i].fp[1] == fp[1])) {
        i = next_slot(rg, i);
    }
    return i;
}

/* Removes every entry with expiry < now, in place, keeping every probe chain intact.
 *
 * The walk starts just after an empty slot, so no cluster is entered in its middle. Within a
 * cluster, once a slot has been emptied, each later entry is taken out and put back at the first
 * empty slot from its home; that slot lies between its home and its old place (its old place is
 * empty at that moment), and nothing empties a slot behind the walk, so every chain stays
 * unbroken. Entries before the first hole of a cluster stay where they are. */
static void sweep(struct kms_replay *rg, uint64_t now)
{
    size_t start = 0;
    while (rg->slots[start].expiry != 0) {
        start++; /* count < cap, so an empty slot exists */
    }
    bool hole = false;
    size_t i = start;
    for (size_t n = 0; n < rg->cap; n++) {
        i = next_slot(rg, i);
        struct slot *s = &rg->slots[i];
        if (s->expiry == 0) {
            hole = false; /* the cluster ended */
            continue;
        }
        if (s->expiry < now) {
            memset(s, 0, sizeof(*s));
            rg->count--;
            hole = true;
            continue;
        }
        if (hole) {
            struct slot e = *s;
            memset(s, 0, sizeof(*s));
            size_t j = home_of(rg, e.fp);
            while (rg->slots[j].expiry != 0) {
                j = next_slot(rg, j);
            }
            rg->slots[j] = e;
        }
    }
    rg->sweeps++;
}

static kms_result check_args(struct kms_replay *rg, const uint8_t *token_id, const uint8_t *rand,
                             size_t rand_len)
{
    KMS_ENSURE_REF(rg);
    KMS_ENSURE_REF(token_id);
    KMS_ENSURE_REF(rand);
    KMS_ENSURE(rand_len > 0 && rand_len <= KMS_REPLAY_RAND_MAX, KMS_ERR_ARG);
    return KMS_RESULT_OK;
}

/* Under the lock: the time checks, then the lookup. *slot receives the pair's slot. */
static kms_result check_locked(struct kms_replay *rg, const uint64_t fp[2], uint64_t ts,
                               uint64_t now, size_t *slot)
{
    KMS_TRY(kms_replay_check_time(rg, ts, now));
    *slot = find_slot(rg, fp);
    const struct slot *s = &rg->slots[*slot];
    KMS_ENSURE(s->expiry == 0 || s->expiry < now, KMS_ERR_REPLAY);
    return KMS_RESULT_OK;
}

kms_result kms_replay_pair_of(struct kms_replay *rg,
                              const uint8_t token_id[KMS_REPLAY_TOKEN_ID_LEN], const uint8_t *rand,
                              size_t rand_len, uint64_t ts, uint64_t now,
                              struct kms_replay_pair *out)
{
    KMS_ENSURE_REF(out);
    memset(out, 0, sizeof(*out));
    KMS_TRY(check_args(rg, token_id, rand, rand_len));
    /* The time checks first, so that a stale request costs no MAC. */
    KMS_TRY(kms_replay_check_time(rg, ts, now));
    return fingerprint(rg, token_id, rand, rand_len, out->fp);
}

/* Under the lock (taken here; on success it is HELD, *locked set, and the caller releases it):
 * the time checks again and the lookup; *slot is the pair's slot. */
static kms_result locate(struct kms_replay *rg, const struct kms_replay_pair *pair, uint64_t ts,
                         uint64_t now, size_t *slot, bool *locked)
{
    KMS_ENSURE(rg != NULL && pair != NULL, KMS_ERR_ARG);
    KMS_ENSURE(pthread_mutex_lock(&rg->lock) == 0, KMS_ERR_INTERNAL);
    *locked = true;
    return check_locked(rg, pair->fp, ts, now, slot);
}

kms_result kms_replay_check_pair(struct kms_replay *rg, const struct kms_replay_pair *pair,
                                 uint64_t ts, uint64_t now)
{
    bool locked = false;
    size_t slot = 0;
    kms_result rc = locate(rg, pair, ts, now, &slot, &locked);
    if (locked) {
        pthread_mutex_unlock(&rg->lock);
    }
    return rc;
}

kms_result kms_replay_commit_pair(struct kms_replay *rg, const struct kms_replay_pair *pair,
                                  uint64_t ts, uint64_t now)
{
    kms_result rc = KMS_RC_INIT;
    bool locked = false;
    size_t slot = 0;
    KMS_TRY_OUT(rc, locate(rg, pair, ts, now, &slot, &locked));

    const uint64_t expiry = sat_add(ts, rg->skew);
    if (rg->slots[slot].expiry != 0) {
        /* The pair's own entry, expired but not swept yet: reuse it, the count is unchanged. */
        rg->slots[slot].expiry = expiry;
        rc = KMS_RESULT_OK;
        goto out;
    }
    if (rg->count == rg->max_entries) {
        /* At most one sweep per distinct second of the caller's clock, so that a flood against
         * a full cache does not make every request pay for a scan of the table. `!=` rather
         * than `>`: a clock stepped back must not stop sweeps until it catches up. */
        if (!rg->swept || rg->last_sweep != now) {
            sweep(rg, now);
            rg->swept = true;
            rg->last_sweep = now;
        }
        KMS_ENSURE_OUT(rc, rg->count < rg->max_entries, KMS_ERR_REPLAY_FULL);
        slot = find_slot(rg, pair->fp); /* the sweep may have moved the chain's end */
    }
    rg->slots[slot].fp[0] = pair->fp[0];
    rg->slots[slot].fp[1] = pair->fp[1];
    rg->slots[slot].expiry = expiry;
    rg->count++;
    rc = KMS_RESULT_OK;
out:
    if (locked) {
        pthread_mutex_unlock(&rg->lock);
    }
    return rc;
}

kms_result kms_replay_check(struct kms_replay *rg, const uint8_t token_id[KMS_REPLAY_TOKEN_ID_LEN],
                            const uint8_t *rand, size_t rand_len, uint64_t ts, uint64_t now)
{
    struct kms_replay_pair pair;
    KMS_TRY(kms_replay_pair_of(rg, token_id, rand, rand_len, ts, now, &pair));
    return kms_replay_check_pair(rg, &pair, ts, now);
}

kms_result kms_replay_commit(struct kms_replay *rg, const uint8_t token_id[KMS_REPLAY_TOKEN_ID_LEN],
                             const uint8_t *rand, size_t rand_len, uint64_t ts, uint64_t now)
{
    struct kms_replay_pair pair;
    KMS_TRY(kms_replay_pair_of(rg, token_id, rand, rand_len, ts, now, &pair));
    return kms_replay_commit_pair(rg, &pair, ts, now);
}

size_t kms_replay_count(struct kms_replay *rg)
{
    if (rg == NULL || pthread_mutex_lock(&rg->lock) != 0) {
        return 0;
    }
    size_t n = rg->count;
    pthread_mutex_unlock(&rg->lock);
    return n;
}

uint64_t kms_replay_sweeps(struct kms_replay *rg)
{
    if (rg == NULL || pthread_mutex_lock(&rg->lock) != 0) {
        return 0;
    }
    uint64_t n = rg->sweeps;
    pthread_mutex_unlock(&rg->lock);
    return n;
}

/* ---- snapshot image (kms_replay_save / kms_replay_load) ----
 *
 * All integers big-endian:
 *   u64 skew           the guard's skew; a guard with another skew does not load it
 *   u64 saved_at       the clock at the save
 *   u64 oldest         saved_at - skew: every pair accepted with a ts at or after it is listed
 *   u64 horizon        the saving guard's own first accepted ts (open_at)
 *   32  seed           the fingerprint key
 *   u64 count          the entries that follow, at most the loading guard's max_entries
 *   count x (u64 fp0, u64 fp1, u64 expiry)   live entries (expiry >= saved_at > 0), distinct
 */
#define IMAGE_HEAD  (4 * 8 + SEED_LEN + 8)
#define IMAGE_ENTRY 24

kms_result kms_replay_save(struct kms_replay *rg, uint64_t now, struct kms_buf *out)
{
    KMS_ENSURE(rg != NULL && out != NULL, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    KMS_ENSURE(pthread_mutex_lock(&rg->lock) == 0, KMS_ERR_INTERNAL);
    size_t live = 0;
    for (size_t i = 0; i < rg->cap; i++) {
        live += rg->slots[i].expiry != 0 && rg->slots[i].expiry >= now;
    }
    KMS_TRY_OUT(rc, kms_buf_put_u64(out, rg->skew));
    KMS_TRY_OUT(rc, kms_buf_put_u64(out, now));
    KMS_TRY_OUT(rc, kms_buf_put_u64(out, now > rg->skew ? now - rg->skew : 0));
    KMS_TRY_OUT(rc, kms_buf_put_u64(out, rg->open_at));
    KMS_TRY_OUT(rc, kms_buf_put_bytes(out, rg->seed, SEED_LEN));
    KMS_TRY_OUT(rc, kms_buf_put_u64(out, (uint64_t)live));
    for (size_t i = 0; i < rg->cap; i++) {
        const struct slot *e = &rg->slots[i];
        if (e->expiry != 0 && e->expiry >= now) {
            KMS_TRY_OUT(rc, kms_buf_put_u64(out, e->fp[0]));
            KMS_TRY_OUT(rc, kms_buf_put_u64(out, e->fp[1]));
            KMS_TRY_OUT(rc, kms_buf_put_u64(out, e->expiry));
        }
    }
    rc = KMS_RESULT_OK;
out:
    pthread_mutex_unlock(&rg->lock);
    return rc;
}

size_t kms_replay_image_max(const struct kms_replay_cfg *cfg)
{
    if (cfg == NULL || cfg->max_entries > (SIZE_MAX - IMAGE_HEAD) / IMAGE_ENTRY) {
        return 0;
    }
    return IMAGE_HEAD + cfg->max_entries * IMAGE_ENTRY;
}

/* The image's entries into rg (fresh, of the image's seed), those still live at now. */
static kms_result load_entries(struct kms_replay *rg, struct kms_cur *c, uint64_t count,
                               uint64_t saved_at, uint64_t now)
{
    for (uint64_t n = 0; n < count; n++) {
        struct slot e;
        KMS_TRY(kms_cur_get_u64(c, &e.fp[0]));
        KMS_TRY(kms_cur_get_u64(c, &e.fp[1]));
        KMS_TRY(kms_cur_get_u64(c, &e.expiry));
        /* Only live entries are saved, and an expiry is at most ts + skew with ts near the
         * clock of the save. */
        KMS_ENSURE(e.expiry >= saved_at && e.expiry - saved_at <= 2 * rg->skew, KMS_ERR_MALFORMED);
        size_t i = find_slot(rg, e.fp);
        KMS_ENSURE(rg->slots[i].expiry == 0, KMS_ERR_MALFORMED); /* listed twice */
        if (e.expiry >= now) {
            rg->slots[i] = e;
            rg->count++;
        }
    }
    return kms_cur_expect_end(c);
}

kms_result kms_replay_load(const struct kms_replay_cfg *cfg, uint64_t start_time, const uint8_t *p,
                           size_t len, uint64_t now, struct kms_replay **out,
                           struct kms_replay_loaded *info)
{
    KMS_ENSURE(cfg != NULL && out != NULL && (p != NULL || len == 0), KMS_ERR_ARG);
    *out = NULL;
    kms_result rc = KMS_RC_INIT;
    struct kms_replay *rg = NULL;
    uint8_t seed[SEED_LEN];
    uint64_t skew = 0, saved_at = 0, oldest = 0, horizon = 0, count = 0;
    struct kms_cur c;
    kms_cur_init(&c, p, len);
    KMS_TRY_OUT(rc, kms_cur_get_u64(&c, &skew));
    KMS_TRY_OUT(rc, kms_cur_get_u64(&c, &saved_at));
    KMS_TRY_OUT(rc, kms_cur_get_u64(&c, &oldest));
    KMS_TRY_OUT(rc, kms_cur_get_u64(&c, &horizon));
    KMS_TRY_OUT(rc, kms_cur_get_bytes(&c, seed, SEED_LEN));
    KMS_TRY_OUT(rc, kms_cur_get_u64(&c, &count));
    /* Entries live skew seconds: a guard of another skew would read their expiries wrong. */
    KMS_ENSURE_OUT(rc, skew == cfg->skew, KMS_ERR_ARG);
    KMS_ENSURE_OUT(rc, oldest == (saved_at > skew ? saved_at - skew : 0), KMS_ERR_MALFORMED);
    KMS_ENSURE_OUT(rc, count <= cfg->max_entries, KMS_ERR_FULL);
    KMS_ENSURE_OUT(rc,
                   kms_cur_remaining(&c) % IMAGE_ENTRY == 0 &&
                       kms_cur_remaining(&c) / IMAGE_ENTRY == count,
                   KMS_ERR_BAD_LENGTH);
    /* The horizon: nothing accepted at or after the later of the saved run's own horizon and
     * the oldest time its cache covers is missing from the image; and never later than the
     * restart rule's, which holds without any image. */
    uint64_t h = oldest > horizon ? oldest : horizon;
    uint64_t rule = sat_add(start_time, cfg->skew);
    KMS_TRY_OUT(rc, guard_new(cfg, h < rule ? h : rule, seed, &rg));
    KMS_TRY_OUT(rc, load_entries(rg, &c, count, saved_at, now));
    if (info != NULL) {
        *info = (struct kms_replay_loaded){
            .saved_at = saved_at, .oldest = oldest, .horizon = horizon, .entries = rg->count};
    }
    *out = rg;
    rg = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_replay_free(rg);
    kms_wipe(seed, sizeof(seed));
    return rc;
}
