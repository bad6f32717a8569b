/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replay guard's timestamp mode. The clock is injected: every call takes `now`, so the
 * tests just pass times. No timing asserts: the large test only has to finish.
 */
#include "testlib.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/kms_replay.h"
#include "replay/kms_replay_internal.h"

#define T0 1700000000ULL /* a plausible UNIX time */

/* Token id and RAND filled from small numbers, so tests can name pairs. */
static void tok_of(uint32_t n, uint8_t id[KMS_REPLAY_TOKEN_ID_LEN])
{
    memset(id, 0xa5, KMS_REPLAY_TOKEN_ID_LEN);
    memcpy(id, &n, sizeof(n));
}

static void rand_of(uint32_t n, uint8_t r[16])
{
    memset(r, 0x3c, 16);
    memcpy(r + 12, &n, sizeof(n));
}

static struct kms_replay *guard(uint64_t skew, size_t max_entries, uint64_t start)
{
    struct kms_replay_cfg cfg = {.skew = skew, .max_entries = max_entries};
    struct kms_replay *rg = NULL;
    expect_ok(kms_replay_new(&cfg, start, &rg));
    assert_non_null(rg);
    return rg;
}

/* Commits pair (t, r) with a 16-byte RAND. */
static kms_result commit_n(struct kms_replay *rg, uint32_t t, uint32_t r, uint64_t ts, uint64_t now)
{
    uint8_t id[KMS_REPLAY_TOKEN_ID_LEN], rnd[16];
    tok_of(t, id);
    rand_of(r, rnd);
    return kms_replay_commit(rg, id, rnd, sizeof(rnd), ts, now);
}

static kms_result check_n(struct kms_replay *rg, uint32_t t, uint32_t r, uint64_t ts, uint64_t now)
{
    uint8_t id[KMS_REPLAY_TOKEN_ID_LEN], rnd[16];
    tok_of(t, id);
    rand_of(r, rnd);
    return kms_replay_check(rg, id, rnd, sizeof(rnd), ts, now);
}

static void new_refuses_bad_config(void **state)
{
    (void)state;
    struct kms_replay *rg = (struct kms_replay *)&rg; /* must be reset to NULL */
    struct kms_replay_cfg cfg = {.skew = 0, .max_entries = 10};
    expect_err(kms_replay_new(&cfg, T0, &rg), KMS_ERR_ARG);
    assert_null(rg);
    cfg = (struct kms_replay_cfg){.skew = 60, .max_entries = 0};
    expect_err(kms_replay_new(&cfg, T0, &rg), KMS_ERR_ARG);
    /* a table of 2 * max_entries slots that size_t cannot count */
    cfg.max_entries = SIZE_MAX / kms_replay_bytes_per_entry() + 1;
    expect_err(kms_replay_new(&cfg, T0, &rg), KMS_ERR_ARG);
    cfg.max_entries = SIZE_MAX;
    expect_err(kms_replay_new(&cfg, T0, &rg), KMS_ERR_ARG);
    expect_err(kms_replay_new(NULL, T0, &rg), KMS_ERR_ARG);
    expect_err(kms_replay_new(&cfg, T0, NULL), KMS_ERR_ARG);
    /* 2 slots of {fingerprint[16], expiry u64} per entry */
    assert_int_equal(kms_replay_bytes_per_entry(), 48);
    kms_replay_free(NULL);
    assert_int_equal(kms_replay_count(NULL), 0);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    struct kms_replay *rg = guard(60, 10, 0);
    uint8_t id[KMS_REPLAY_TOKEN_ID_LEN] = {0}, rnd[KMS_REPLAY_RAND_MAX + 1] = {0};
    expect_err(kms_replay_commit(rg, id, rnd, 0, T0, T0), KMS_ERR_ARG);
    expect_err(kms_replay_commit(rg, id, rnd, KMS_REPLAY_RAND_MAX + 1, T0, T0), KMS_ERR_ARG);
    expect_err(kms_replay_commit(rg, id, NULL, 16, T0, T0), KMS_ERR_ARG);
    expect_err(kms_replay_commit(rg, NULL, rnd, 16, T0, T0), KMS_ERR_ARG);
    expect_err(kms_replay_commit(NULL, id, rnd, 16, T0, T0), KMS_ERR_ARG);
    expect_err(kms_replay_check(rg, id, rnd, 0, T0, T0), KMS_ERR_ARG);
    expect_err(kms_replay_check_time(NULL, T0, T0), KMS_ERR_ARG);
    expect_ok(kms_replay_commit(rg, id, rnd, KMS_REPLAY_RAND_MAX, T0, T0));
    expect_ok(kms_replay_commit(rg, id, rnd, 1, T0, T0));
    assert_int_equal(kms_replay_count(rg), 2);
    kms_replay_free(rg);
}

static void fresh_pair_accepted_once(void **state)
{
    (void)state;
    struct kms_replay *rg = guard(60, 100, 0);
    expect_ok(check_n(rg, 1, 1, T0, T0));
    assert_int_equal(kms_replay_count(rg), 0);
    expect_ok(commit_n(rg, 1, 1, T0, T0));
    assert_int_equal(kms_replay_count(rg), 1);
    /* the same pair again, with the same or another valid ts */
    expect_err(check_n(rg, 1, 1, T0, T0), KMS_ERR_REPLAY);
    expect_err(commit_n(rg, 1, 1, T0, T0), KMS_ERR_REPLAY);
    expect_err(commit_n(rg, 1, 1, T0 + 5, T0 + 10), KMS_ERR_REPLAY);
    /* the same RAND under another token, another RAND under the same token */
    expect_ok(commit_n(rg, 2, 1, T0, T0));
    expect_ok(commit_n(rg, 1, 2, T0, T0));
    assert_int_equal(kms_replay_count(rg), 3);
    kms_replay_free(rg);
}

static void rand_length_is_part_of_the_pair(void **state)
{
    (void)state;
    struct kms_replay *rg = guard(60, 100, 0);
    uint8_t id[KMS_REPLAY_TOKEN_ID_LEN] = {7};
    const uint8_t rnd[17] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0};
    expect_ok(kms_replay_commit(rg, id, rnd, 16, T0, T0));
    expect_ok(kms_replay_commit(rg, id, rnd, 17, T0, T0));
    expect_ok(kms_replay_commit(rg, id, rnd, 15, T0, T0));
    expect_err(kms_replay_commit(rg, id, rnd, 17, T0, T0), KMS_ERR_REPLAY);
    kms_replay_free(rg);
}

static void skew_edges(void **state)
{
    (void)state;
    struct kms_replay *rg = guard(60, 100, 0);
    /* exactly now +- skew is accepted, one second beyond is not, on both sides */
    expect_ok(kms_replay_check_time(rg, T0 + 60, T0));
    expect_ok(kms_replay_check_time(rg, T0 - 60, T0));
    expect_err(kms_replay_check_time(rg, T0 + 61, T0), KMS_ERR_TS_SKEW);
    expect_err(kms_replay_check_time(rg, T0 - 61, T0), KMS_ERR_TS_SKEW);
    expect_ok(commit_n(rg, 1, 1, T0 + 60, T0));
    expect_ok(commit_n(rg, 1, 2, T0 - 60, T0));
    expect_err(commit_n(rg, 1, 3, T0 + 61, T0), KMS_ERR_TS_SKEW);
    expect_err(check_n(rg, 1, 4, T0 - 61, T0), KMS_ERR_TS_SKEW);
    /* a stale copy of an accepted pair is refused on its timestamp */
    expect_err(commit_n(rg, 1, 2, T0 - 60, T0 + 1), KMS_ERR_TS_SKEW);
    assert_int_equal(kms_replay_count(rg), 2);
    kms_replay_free(rg);
}

static void extreme_times_do_not_wrap(void **state)
{
    (void)state;
    struct kms_replay *rg = guard(60, 100, 0);
    /* near 0: the restart window opens at 0 + 60 */
    expect_ok(kms_replay_check_time(rg, 60, 0));
    expect_err(kms_replay_check_time(rg, 61, 0), KMS_ERR_TS_SKEW);
    expect_err(kms_replay_check_time(rg, 59, 0), KMS_ERR_REPLAY_RESTART);
    expect_err(kms_replay_check_time(rg, 0, 0), KMS_ERR_REPLAY_RESTART);
    expect_err(kms_replay_check_time(rg, UINT64_MAX, 0), KMS_ERR_TS_SKEW);
    expect_err(kms_replay_check_time(rg, UINT64_MAX - 59, 0), KMS_ERR_TS_SKEW);
    expect_ok(commit_n(rg, 1, 1, 60, 0));
    /* near UINT64_MAX */
    expect_ok(kms_replay_check_time(rg, UINT64_MAX, UINT64_MAX));
    expect_ok(kms_replay_check_time(rg, UINT64_MAX - 60, UINT64_MAX));
    expect_err(kms_replay_check_time(rg, UINT64_MAX - 61, UINT64_MAX), KMS_ERR_TS_SKEW);
    expect_ok(kms_replay_check_time(rg, UINT64_MAX, UINT64_MAX - 60));
    expect_err(kms_replay_check_time(rg, UINT64_MAX, UINT64_MAX - 61), KMS_ERR_TS_SKEW);
    expect_err(kms_replay_check_time(rg, 0, UINT64_MAX), KMS_ERR_TS_SKEW);
    expect_err(kms_replay_check_time(rg, 60, UINT64_MAX), KMS_ERR_TS_SKEW);
    /* an entry whose ts + skew saturates never expires (no clock passes UINT64_MAX) */
    expect_ok(commit_n(rg, 1, 2, UINT64_MAX, UINT64_MAX - 1));
    expect_err(commit_n(rg, 1, 2, UINT64_MAX, UINT64_MAX), KMS_ERR_REPLAY);
    expect_err(check_n(rg, 1, 2, UINT64_MAX - 1, UINT64_MAX), KMS_ERR_REPLAY);
    kms_replay_free(rg);

    /* a start time so late that start + skew saturates */
    rg = guard(60, 100, UINT64_MAX - 10);
    expect_ok(kms_replay_check_time(rg, UINT64_MAX, UINT64_MAX));
    expect_err(kms_replay_check_time(rg, UINT64_MAX - 1, UINT64_MAX), KMS_ERR_REPLAY_RESTART);
    kms_replay_free(rg);

    /* the largest skew */
    rg = guard(UINT64_MAX, 100, 0);
    expect_err(kms_replay_check_time(rg, UINT64_MAX - 1, 0), KMS_ERR_REPLAY_RESTART);
    expect_ok(kms_replay_check_time(rg, UINT64_MAX, 0));
    expect_ok(commit_n(rg, 1, 1, UINT64_MAX, 0));
    expect_err(commit_n(rg, 1, 1, UINT64_MAX, UINT64_MAX), KMS_ERR_REPLAY);
    kms_replay_free(rg);
}

static void restart_rule(void **state)
{
    (void)state;
    const uint64_t s = T0;
    struct kms_replay *rg = guard(60, 100, s);
    /* now within skew of both timestamps */
    expect_err(kms_replay_check_time(rg, s + 59, s + 60), KMS_ERR_REPLAY_RESTART);
    expect_err(commit_n(rg, 1, 1, s + 59, s + 60), KMS_ERR_REPLAY_RESTART);
    expect_err(check_n(rg, 1, 1, s + 59, s + 60), KMS_ERR_REPLAY_RESTART);
    expect_ok(commit_n(rg, 1, 1, s + 60, s + 60));
    /* right after the start, fresh requests are refused for about skew seconds */
    expect_err(kms_replay_check_time(rg, s, s), KMS_ERR_REPLAY_RESTART);
    expect_err(kms_replay_check_time(rg, s + 30, s + 30), KMS_ERR_REPLAY_RESTART);
    /* the order: a ts that is both stale and before the window is reported as skew */
    expect_err(kms_replay_check_time(rg, s + 10, s + 200), KMS_ERR_TS_SKEW);
    expect_err(kms_replay_check_time(rg, s - 100, s), KMS_ERR_TS_SKEW);
    assert_int_equal(kms_replay_count(rg), 1);
    kms_replay_free(rg);
}

static void full_cache_refuses_and_forgets_nothing(void **state)
{
    (void)state;
    const size_t max = 1000;
    struct kms_replay *rg = guard(60, max, 0);
    for (uint32_t i = 0; i < max; i++) {
        expect_ok(commit_n(rg, i % 7, i, T0, T0));
    }
    assert_int_equal(kms_replay_count(rg), max);
    /* a new pair: refused while every entry is unexpired, up to the last second */
    expect_err(commit_n(rg, 9, 5000, T0, T0), KMS_ERR_REPLAY_FULL);
    expect_err(commit_n(rg, 9, 5000, T0 + 60, T0 + 60), KMS_ERR_REPLAY_FULL);
    /* check() is about replays only: the new pair was never accepted */
    expect_ok(check_n(rg, 9, 5000, T0, T0 + 60));
    for (uint32_t i = 0; i < max; i++) {
        expect_err(check_n(rg, i % 7, i, T0, T0 + 60), KMS_ERR_REPLAY);
        expect_err(commit_n(rg, i % 7, i, T0 + 1, T0 + 60), KMS_ERR_REPLAY);
    }
    assert_int_equal(kms_replay_count(rg), max);
    /* past ts + skew: the sweep frees the room */
    expect_ok(commit_n(rg, 9, 5000, T0 + 61, T0 + 61));
    assert_int_equal(kms_replay_count(rg), 1);
    for (uint32_t i = 0; i < max - 1; i++) {
        expect_ok(commit_n(rg, i % 7, i, T0 + 61, T0 + 61));
    }
    assert_int_equal(kms_replay_count(rg), max);
    expect_err(commit_n(rg, 9, 5001, T0 + 61, T0 + 61), KMS_ERR_REPLAY_FULL);
    kms_replay_free(rg);
}

static void sweeps_are_rate_limited(void **state)
{
    (void)state;
    struct kms_replay *rg = guard(10, 4, 0);
    for (uint32_t i = 0; i < 4; i++) {
        expect_ok(commit_n(rg, 1, i, 100, 100));
    }
    assert_int_equal(kms_replay_sweeps(rg), 0);
    /* full, nothing expired: one sweep for the second 105, however many requests come */
    expect_err(commit_n(rg, 1, 10, 105, 105), KMS_ERR_REPLAY_FULL);
    assert_int_equal(kms_replay_sweeps(rg), 1);
    for (uint32_t i = 0; i < 100; i++) {
        expect_err(commit_n(rg, 1, 11 + i, 105, 105), KMS_ERR_REPLAY_FULL);
    }
    assert_int_equal(kms_replay_sweeps(rg), 1);
    /* replays and checks never sweep */
    expect_err(commit_n(rg, 1, 0, 100, 106), KMS_ERR_REPLAY);
    expect_ok(check_n(rg, 1, 10, 106, 106));
    assert_int_equal(kms_replay_sweeps(rg), 1);
    expect_err(commit_n(rg, 1, 10, 106, 106), KMS_ERR_REPLAY_FULL);
    assert_int_equal(kms_replay_sweeps(rg), 2);
    /* a clock stepped back still gets its sweep */
    expect_err(commit_n(rg, 1, 10, 104, 104), KMS_ERR_REPLAY_FULL);
    assert_int_equal(kms_replay_sweeps(rg), 3);
    /* 111 > 100 + 10: everything expired */
    expect_ok(commit_n(rg, 1, 10, 111, 111));
    assert_int_equal(kms_replay_sweeps(rg), 4);
    assert_int_equal(kms_replay_count(rg), 1);
    kms_replay_free(rg);
}

static void expired_entry_is_reused_without_sweep(void **state)
{
    (void)state;
    struct kms_replay *rg = guard(10, 2, 0);
    expect_ok(commit_n(rg, 1, 1, 100, 100));
    expect_ok(commit_n(rg, 1, 2, 100, 100));
    /* the same RAND with a new timestamp after the old one left the window */
    expect_ok(check_n(rg, 1, 1, 111, 111));
    expect_ok(commit_n(rg, 1, 1, 111, 111));
    assert_int_equal(kms_replay_count(rg), 2);
    assert_int_equal(kms_replay_sweeps(rg), 0);
    expect_err(commit_n(rg, 1, 1, 111, 112), KMS_ERR_REPLAY);
    /* the other one is swept to make room */
    expect_ok(commit_n(rg, 1, 3, 111, 111));
    assert_int_equal(kms_replay_sweeps(rg), 1);
    expect_err(commit_n(rg, 1, 1, 111, 121), KMS_ERR_REPLAY);
    expect_err(commit_n(rg, 1, 3, 111, 121), KMS_ERR_REPLAY);
    kms_replay_free(rg);
}

/* ---- randomised comparison against a reference model ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

struct model_entry {
    uint32_t tok, rnd;
    uint64_t expiry;
};

struct model {
    uint64_t skew, open_at;
    size_t max, n;
    bool swept;
    uint64_t last_sweep, sweeps;
    struct model_entry *e;
};

static enum kms_err model_op(struct model *m, bool commit, uint32_t tok, uint32_t rnd, uint64_t ts,
                             uint64_t now)
{
    if ((ts > now && ts - now > m->skew) || (now > ts && now - ts > m->skew)) {
        return KMS_ERR_TS_SKEW;
    }
    if (ts < m->open_at) {
        return KMS_ERR_REPLAY_RESTART;
    }
    size_t i = 0;
    while (i < m->n && !(m->e[i].tok == tok && m->e[i].rnd == rnd)) {
        i++;
    }
    if (i < m->n && m->e[i].expiry >= now) {
        return KMS_ERR_REPLAY;
    }
    if (!commit) {
        return KMS_OK;
    }
    if (i < m->n) {
        m->e[i].expiry = ts + m->skew;
        return KMS_OK;
    }
    if (m->n == m->max) {
        if (!m->swept || m->last_sweep != now) {
            size_t k = 0;
            for (size_t j = 0; j < m->n; j++) {
                if (m->e[j].expiry >= now) {
                    m->e[k++] = m->e[j];
                }
            }
            m->n = k;
            m->swept = true;
            m->last_sweep = now;
            m->sweeps++;
        }
        if (m->n == m->max) {
            return KMS_ERR_REPLAY_FULL;
        }
    }
    m->e[m->n++] = (struct model_entry){tok, rnd, ts + m->skew};
    return KMS_OK;
}

static void model_run(uint64_t seed, uint64_t skew, size_t max, uint32_t n_tok, uint32_t n_rand,
                      int ops)
{
    rng_state = seed;
    struct model m = {.skew = skew, .open_at = T0 + skew, .max = max};
    m.e = calloc(max, sizeof(*m.e));
    assert_non_null(m.e);
    struct kms_replay *rg = guard(skew, max, T0);
    uint64_t now = T0;
    for (int k = 0; k < ops; k++) {
        if (rng() % 8 == 0) {
            now += rng() % 3;
        }
        uint64_t d = rng() % (2 * skew + 5);
        uint64_t ts = now + d - skew - 2; /* now - skew - 2 .. now + skew + 2 */
        uint32_t tok = (uint32_t)(rng() % n_tok), rnd = (uint32_t)(rng() % n_rand);
        bool commit = rng() % 2 == 0;
        size_t before = kms_replay_count(rg);
        kms_result got = commit ? commit_n(rg, tok, rnd, ts, now) : check_n(rg, tok, rnd, ts, now);
        enum kms_err want = model_op(&m, commit, tok, rnd, ts, now);
        if (got.err != want) {
            fail_msg("seed %llu op %d (%s tok %u rand %u ts %llu now %llu): want %s, got %s",
                     (unsigned long long)seed, k, commit ? "commit" : "check", tok, rnd,
                     (unsigned long long)ts, (unsigned long long)now, kms_err_name(want),
                     kms_err_name(got.err));
        }
        assert_int_equal(kms_replay_count(rg), m.n);
        if (!commit) {
            assert_int_equal(kms_replay_count(rg), before);
        }
    }
    assert_int_equal(kms_replay_sweeps(rg), m.sweeps);
    kms_replay_free(rg);
    free(m.e);
}

static void matches_reference_model(void **state)
{
    (void)state;
    /* tiny table, few pairs: replays, FULL and reuse of expired entries all the time */
    model_run(0x9e3779b97f4a7c15ULL, 3, 8, 2, 10, 20000);
    /* more pairs than room: sweeps that move entries along long probe chains */
    model_run(0x0123456789abcdefULL, 5, 64, 4, 100, 30000);
    model_run(0xfeedfacecafebeefULL, 2, 300, 16, 200, 30000);
    model_run(42, 10, 1000, 50, 500, 20000);
}

/* ---- two threads, one pair ---- */

struct race {
    struct kms_replay *rg;
    pthread_barrier_t *bar;
    uint32_t pair;
    enum kms_err got;
};

static void *race_main(void *arg)
{
    struct race *r = arg;
    pthread_barrier_wait(r->bar);
    r->got = commit_n(r->rg, 3, r->pair, T0, T0).err;
    return NULL;
}

static void racing_copies_accepted_once(void **state)
{
    (void)state;
    struct kms_replay *rg = guard(60, 1000, 0);
    pthread_barrier_t bar;
    assert_int_equal(pthread_barrier_init(&bar, NULL, 2), 0);
    for (uint32_t i = 0; i < 300; i++) {
        struct race r[2] = {{rg, &bar, i, KMS_ERR_INTERNAL}, {rg, &bar, i, KMS_ERR_INTERNAL}};
        pthread_t th[2];
        assert_int_equal(pthread_create(&th[0], NULL, race_main, &r[0]), 0);
        assert_int_equal(pthread_create(&th[1], NULL, race_main, &r[1]), 0);
        assert_int_equal(pthread_join(th[0], NULL), 0);
        assert_int_equal(pthread_join(th[1], NULL), 0);
        int ok = (r[0].got == KMS_OK) + (r[1].got == KMS_OK);
        int replay = (r[0].got == KMS_ERR_REPLAY) + (r[1].got == KMS_ERR_REPLAY);
        assert_int_equal(ok, 1);
        assert_int_equal(replay, 1);
    }
    assert_int_equal(kms_replay_count(rg), 300);
    pthread_barrier_destroy(&bar);
    kms_replay_free(rg);
}

/* Hundreds of thousands of inserts through many sweeps: must stay linear (no O(n^2)). */
static void many_inserts_with_sweeps(void **state)
{
    (void)state;
    const size_t max = 10000;
    struct kms_replay *rg = guard(2, max, 0);
    const uint32_t per_second = 3000; /* live set: 3 seconds' worth = 9000 <= max */
    uint64_t now = T0;
    for (uint32_t i = 0; i < 300000; i++) {
        if (i % per_second == 0) {
            now++;
        }
        expect_ok(commit_n(rg, i % 101, i, now, now));
    }
    assert_true(kms_replay_count(rg) <= max);
    assert_true(kms_replay_sweeps(rg) >= 50);
    /* the last three seconds are all remembered */
    for (uint32_t i = 300000 - 3 * per_second; i < 300000; i++) {
        expect_err(check_n(rg, i % 101, i, now, now), KMS_ERR_REPLAY);
    }
    kms_replay_free(rg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_refuses_bad_config),
        cmocka_unit_test(bad_arguments_are_refused),
        cmocka_unit_test(fresh_pair_accepted_once),
        cmocka_unit_test(rand_length_is_part_of_the_pair),
        cmocka_unit_test(skew_edges),
        cmocka_unit_test(extreme_times_do_not_wrap),
        cmocka_unit_test(restart_rule),
        cmocka_unit_test(full_cache_refuses_and_forgets_nothing),
        cmocka_unit_test(sweeps_are_rate_limited),
        cmocka_unit_test(expired_entry_is_reused_without_sweep),
        cmocka_unit_test(matches_reference_model),
        cmocka_unit_test(racing_copies_accepted_once),
        cmocka_unit_test(many_inserts_with_sweeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
