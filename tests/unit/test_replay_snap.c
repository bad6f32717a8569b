/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replay cache across a clean stop: kms_replay_save / kms_replay_load (the image and the
 * horizon rule) and kms_replay_snap (the sealed file): what a loaded guard refuses and
 * accepts, and every way a damaged snapshot must fail (truncations, bit flips, bad lengths,
 * another key, version or skew).
 */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/kms_replay.h"
#include "replay/kms_replay_snap.h"
#include "util/kms_buf.h"
#include "util/kms_file.h"

#define T0   1700000000ULL
#define SKEW 60

static const uint8_t key1[32] = {1, 2, 3};
static const uint8_t key2[32] = {1, 2, 4};

static kms_result commit_n(struct kms_replay *rg, uint32_t n, uint64_t ts, uint64_t now)
{
    uint8_t id[KMS_REPLAY_TOKEN_ID_LEN], rnd[16];
    memset(id, 0x5a, sizeof(id));
    memcpy(id, &n, sizeof(n));
    memset(rnd, 0xc3, sizeof(rnd));
    return kms_replay_commit(rg, id, rnd, sizeof(rnd), ts, now);
}

static kms_result check_n(struct kms_replay *rg, uint32_t n, uint64_t ts, uint64_t now)
{
    uint8_t id[KMS_REPLAY_TOKEN_ID_LEN], rnd[16];
    memset(id, 0x5a, sizeof(id));
    memcpy(id, &n, sizeof(n));
    memset(rnd, 0xc3, sizeof(rnd));
    return kms_replay_check(rg, id, rnd, sizeof(rnd), ts, now);
}

static const struct kms_replay_cfg cfg = {.skew = SKEW, .max_entries = 1000};

/* A guard started at T0 that accepted pairs 1..10 stamped T0+100+i, sealed at T0+130. */
static void sealed_guard(struct kms_buf *out)
{
    struct kms_replay *rg = NULL;
    expect_ok(kms_replay_new(&cfg, T0, &rg));
    for (uint32_t i = 1; i <= 10; i++) {
        expect_ok(commit_n(rg, i, T0 + 100 + i, T0 + 100 + i));
    }
    expect_ok(kms_replay_snap_seal(key1, rg, T0 + 130, out));
    kms_replay_free(rg);
}

static void restored_guard_refuses_replays_and_serves_at_once(void **state)
{
    (void)state;
    struct kms_buf b;
    kms_buf_init(&b, 1 << 20, false);
    sealed_guard(&b);
    struct kms_replay *rg = NULL;
    struct kms_replay_loaded info;
    uint64_t start = T0 + 140;
    expect_ok(kms_replay_snap_open(key1, kms_buf_data(&b), kms_buf_len(&b), &cfg, start, start, &rg,
                                   &info));
    assert_int_equal(info.entries, 10);
    assert_int_equal(info.saved_at, T0 + 130);
    assert_int_equal(info.oldest, T0 + 130 - SKEW);
    assert_int_equal(info.horizon, T0 + SKEW);
    /* The horizon is the oldest covered time, not start + skew: a fresh request is served. */
    assert_int_equal(kms_replay_open_at(rg), T0 + 130 - SKEW);
    expect_ok(check_n(rg, 99, start, start));
    expect_ok(commit_n(rg, 99, start, start));
    /* Every pair accepted before the stop is still a replay. */
    for (uint32_t i = 1; i <= 10; i++) {
        expect_err(check_n(rg, i, T0 + 100 + i, start), KMS_ERR_REPLAY);
    }
    kms_replay_free(rg);
    /* Loaded later, the expired entries are not kept. */
    expect_ok(kms_replay_snap_open(key1, kms_buf_data(&b), kms_buf_len(&b), &cfg, T0 + 165,
                                   T0 + 165, &rg, &info));
    assert_int_equal(info.entries, 10 - 4); /* expiries T0+161..164 have passed */
    kms_replay_free(rg);
    kms_buf_cleanup(&b);
}

/* A run that stopped inside its own restart window covers nothing before that window: the
 * next run keeps it (a crash, a start, a clean stop and a start cannot widen the window). */
static void horizon_never_moves_back(void **state)
{
    (void)state;
    struct kms_replay *rg = NULL, *back = NULL;
    struct kms_buf b;
    kms_buf_init(&b, 1 << 20, false);
    expect_ok(kms_replay_new(&cfg, T0, &rg)); /* horizon T0 + 60 */
    expect_ok(kms_replay_snap_seal(key1, rg, T0 + 10, &b));
    kms_replay_free(rg);
    expect_ok(kms_replay_snap_open(key1, kms_buf_data(&b), kms_buf_len(&b), &cfg, T0 + 20, T0 + 20,
                                   &back, NULL));
    assert_int_equal(kms_replay_open_at(back), T0 + SKEW);
    expect_err(check_n(back, 1, T0 + 50, T0 + 20), KMS_ERR_REPLAY_RESTART);
    kms_replay_free(back);
    /* ... and never later than the restart rule of the loading start (a clock set back). */
    expect_ok(kms_replay_snap_open(key1, kms_buf_data(&b), kms_buf_len(&b), &cfg, T0 - 100,
                                   T0 - 100, &back, NULL));
    assert_int_equal(kms_replay_open_at(back), T0 - 100 + SKEW);
    kms_replay_free(back);
    kms_buf_cleanup(&b);
}

static void damaged_snapshots_fail(void **state)
{
    (void)state;
    struct kms_buf b;
    kms_buf_init(&b, 1 << 20, false);
    sealed_guard(&b);
    size_t n = kms_buf_len(&b);
    uint8_t *p = malloc(n + 1);
    assert_non_null(p);
    struct kms_replay *rg = NULL;
    /* every truncation */
    for (size_t len = 0; len < n; len++) {
        memcpy(p, kms_buf_data(&b), len);
        kms_result r = kms_replay_snap_open(key1, p, len, &cfg, T0 + 140, T0 + 140, &rg, NULL);
        assert_false(kms_ok(r));
        assert_null(rg);
    }
    /* every bit flip */
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(p, kms_buf_data(&b), n);
            p[i] ^= (uint8_t)(1u << bit);
            kms_result r = kms_replay_snap_open(key1, p, n, &cfg, T0 + 140, T0 + 140, &rg, NULL);
            assert_false(kms_ok(r));
            assert_null(rg);
            if (i >= 8 + 4 + 12) {
                assert_int_equal(r.err, KMS_ERR_AUTH); /* the nonce, ciphertext or tag */
            }
        }
    }
    /* a byte more */
    memcpy(p, kms_buf_data(&b), n);
    p[n] = 0;
    expect_err(kms_replay_snap_open(key1, p, n + 1, &cfg, T0 + 140, T0 + 140, &rg, NULL),
               KMS_ERR_AUTH);
    /* another key, another version */
    expect_err(kms_replay_snap_open(key2, kms_buf_data(&b), n, &cfg, T0 + 140, T0 + 140, &rg, NULL),
               KMS_ERR_AUTH);
    memcpy(p, kms_buf_data(&b), n);
    p[11] = 2;
    expect_err(kms_replay_snap_open(key1, p, n, &cfg, T0 + 140, T0 + 140, &rg, NULL),
               KMS_ERR_UNSUPPORTED);
    /* a guard of another skew, or too small for the image */
    struct kms_replay_cfg other = {.skew = SKEW + 1, .max_entries = 1000};
    expect_err(
        kms_replay_snap_open(key1, kms_buf_data(&b), n, &other, T0 + 140, T0 + 140, &rg, NULL),
        KMS_ERR_ARG);
    other = (struct kms_replay_cfg){.skew = SKEW, .max_entries = 9};
    expect_err(
        kms_replay_snap_open(key1, kms_buf_data(&b), n, &other, T0 + 140, T0 + 140, &rg, NULL),
        KMS_ERR_TOO_LONG); /* told by its length, before anything is decrypted */
    assert_null(rg);
    free(p);
    kms_buf_cleanup(&b);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

/* The image itself (what the tag protects): lengths, duplicates, expiries out of range. */
static void bad_images_fail(void **state)
{
    (void)state;
    struct kms_replay *rg = NULL;
    struct kms_buf b;
    kms_buf_init(&b, 1 << 20, true);
    expect_ok(kms_replay_new(&cfg, T0, &rg));
    expect_ok(commit_n(rg, 1, T0 + 100, T0 + 100));
    expect_ok(commit_n(rg, 2, T0 + 101, T0 + 101));
    expect_ok(kms_replay_save(rg, T0 + 110, &b));
    kms_replay_free(rg);
    rg = NULL;
    size_t n = kms_buf_len(&b);
    assert_int_equal(n, 72 + 2 * 24);
    uint8_t *p = malloc(n + 24);
    assert_non_null(p);
    const uint8_t *img = kms_buf_data(&b);
    expect_ok(kms_replay_load(&cfg, T0 + 110, img, n, T0 + 110, &rg, NULL));
    assert_int_equal(kms_replay_count(rg), 2);
    kms_replay_free(rg);
    rg = NULL;
    for (size_t len = 0; len < n; len++) { /* every truncation */
        assert_false(kms_ok(kms_replay_load(&cfg, T0 + 110, img, len, T0 + 110, &rg, NULL)));
    }
    memcpy(p, img, n);
    put64(p + 64, 3); /* a count the entries do not match */
    expect_err(kms_replay_load(&cfg, T0 + 110, p, n, T0 + 110, &rg, NULL), KMS_ERR_BAD_LENGTH);
    put64(p + 64, UINT64_MAX);
    expect_err(kms_replay_load(&cfg, T0 + 110, p, n, T0 + 110, &rg, NULL), KMS_ERR_FULL);
    memcpy(p, img, n);
    memcpy(p + n, p + 72, 24); /* the first entry twice */
    put64(p + 64, 3);
    expect_err(kms_replay_load(&cfg, T0 + 110, p, n + 24, T0 + 110, &rg, NULL), KMS_ERR_MALFORMED);
    memcpy(p, img, n);
    put64(p + 72 + 16, T0 + 109); /* expired before the save */
    expect_err(kms_replay_load(&cfg, T0 + 110, p, n, T0 + 110, &rg, NULL), KMS_ERR_MALFORMED);
    put64(p + 72 + 16, T0 + 110 + 2 * SKEW + 1); /* further ahead than any ts allows */
    expect_err(kms_replay_load(&cfg, T0 + 110, p, n, T0 + 110, &rg, NULL), KMS_ERR_MALFORMED);
    memcpy(p, img, n);
    put64(p + 16, T0); /* an oldest time that is not saved_at - skew */
    expect_err(kms_replay_load(&cfg, T0 + 110, p, n, T0 + 110, &rg, NULL), KMS_ERR_MALFORMED);
    assert_null(rg);
    free(p);
    kms_buf_cleanup(&b);
}

/* The file: written, read back, removed durably; no snapshot is KMS_ERR_NOT_FOUND. */
static void file_round_trip(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_replay_snap.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/state.db.replay", dir);
    struct kms_replay *rg = NULL, *back = NULL;
    expect_ok(kms_replay_new(&cfg, T0, &rg));
    expect_ok(commit_n(rg, 7, T0 + 100, T0 + 100));
    expect_ok(kms_replay_snap_write(path, key1, rg, T0 + 101));
    kms_replay_free(rg);
    expect_ok(kms_replay_snap_read(path, key1, &cfg, T0 + 102, T0 + 102, &back, NULL));
    expect_err(check_n(back, 7, T0 + 100, T0 + 102), KMS_ERR_REPLAY);
    kms_replay_free(back);
    expect_ok(kms_file_remove(path));
    expect_err(kms_replay_snap_read(path, key1, &cfg, T0 + 102, T0 + 102, &back, NULL),
               KMS_ERR_NOT_FOUND);
    expect_ok(kms_file_remove(path)); /* nothing to remove */
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restored_guard_refuses_replays_and_serves_at_once),
        cmocka_unit_test(horizon_never_moves_back),
        cmocka_unit_test(damaged_snapshots_fail),
        cmocka_unit_test(bad_images_fail),
        cmocka_unit_test(file_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
