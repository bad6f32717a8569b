/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_replay: replay-guard commits per second (timestamp mode) at three fill levels, beside a
 * baseline measured in the same run: one kms_hmac_sha256 over 48 bytes with a 32-byte key
 * (a commit computes one HMAC-SHA-256 fingerprint of token id || len || RAND, 33 bytes here).
 *
 * Each fill case owns a guard with the default size (max_entries 1,000,000, skew 9 s) and runs
 * it in steady state on a virtual clock: K new pairs per virtual second, ts = now, so the live
 * set (entries not yet expired) is (skew + 1) * K = 10 %, 50 % or 99 % of max_entries. The cache
 * sweeps lazily (only when it is full, at most once per second), so in every case the occupied
 * slots climb to max_entries between sweeps; what the fill changes is how often a sweep runs and
 * how much it reclaims. The figures therefore include the sweeps, as a server would see them.
 * Before timing, each guard is run through two sweeps, so the rounds measure the steady state.
 * A diagnostic case checks already-accepted pairs in the 99 % guard (the cost of refusing a
 * replay).
 *
 * As in bench_crypto, the cases run interleaved and the figures are medians over the rounds;
 * each cost ratio (how many baseline HMACs one commit costs) is the median of the per-round
 * ratios. The harness is bench_common.c's.
 *
 * Output: name=value lines; the human table's lines start with '#'.
 * Exit: 0, 2 bad usage, 3 a library call failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench_common.h"
#include "crypto/kms_ossl.h"
#include "replay/kms_replay.h"
#include "replay/kms_replay_internal.h"

#define MAX_ENTRIES 1000000 /* the default of struct kms_replay_cfg */
#define SKEW        9       /* seconds: the live set is (SKEW + 1) seconds of commits */
#define T_START     1700000000ULL

const char bench_prog[] = "bench_replay";

/* Defeats dead-code elimination. */
static volatile uint8_t sink;

struct fill {
    unsigned percent;
    struct kms_replay *rg;
    uint64_t per_second; /* K */
    uint64_t now;        /* virtual clock */
    uint64_t in_second;  /* commits at `now` so far */
    uint64_t ctr;        /* pairs committed */
    uint64_t full;       /* REPLAY_FULL refusals (expected: none) */
    uint8_t tok_base[KMS_REPLAY_TOKEN_ID_LEN];
    uint8_t rand_base[16];
};

enum { F10, F50, F99, N_FILLS };

struct bench {
    struct fill fills[N_FILLS];
    uint8_t key[32];
    uint8_t msg[48];
    uint64_t ctr;
};

/* Pair number i of a fill case: 256 RANDs per token id. */
static void pair_of(const struct fill *f, uint64_t i, uint8_t tok[KMS_REPLAY_TOKEN_ID_LEN],
                    uint8_t rnd[16])
{
    memcpy(tok, f->tok_base, KMS_REPLAY_TOKEN_ID_LEN);
    memcpy(rnd, f->rand_base, 16);
    for (int b = 0; b < 8; b++) {
        tok[b] ^= (uint8_t)((i >> 8) >> (8 * b));
        rnd[b] ^= (uint8_t)(i >> (8 * b));
    }
}

static void commits(struct fill *f, uint64_t n)
{
    uint8_t tok[KMS_REPLAY_TOKEN_ID_LEN], rnd[16];
    for (uint64_t i = 0; i < n; i++) {
        if (f->in_second == f->per_second) {
            f->now++;
            f->in_second = 0;
        }
        pair_of(f, f->ctr++, tok, rnd);
        kms_result r = kms_replay_commit(f->rg, tok, rnd, sizeof(rnd), f->now, f->now);
        if (r.err == KMS_ERR_REPLAY_FULL) {
            f->full++;
        } else {
            bench_check(r, "kms_replay_commit");
        }
        f->in_second++;
    }
}

/* ---- the cases ---- */

/* Baseline: kms_hmac_sha256 of 48 bytes under a 32-byte key. */
static void case_hmac(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t out[32];
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        memcpy(b->msg, &b->ctr, sizeof(b->ctr));
        b->ctr++;
        bench_check(kms_hmac_sha256(b->key, sizeof(b->key), b->msg, sizeof(b->msg), out),
                    "kms_hmac_sha256");
        acc ^= out[0];
    }
    sink ^= acc;
}

static void case_commit10(void *ctx, uint64_t n)
{
    commits(&((struct bench *)ctx)->fills[F10], n);
}

static void case_commit50(void *ctx, uint64_t n)
{
    commits(&((struct bench *)ctx)->fills[F50], n);
}

static void case_commit99(void *ctx, uint64_t n)
{
    commits(&((struct bench *)ctx)->fills[F99], n);
}

/* Diagnostic: kms_replay_check of pairs accepted in the last virtual second (verdict REPLAY). */
static void case_check_replay(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    const struct fill *f = &b->fills[F99];
    uint8_t tok[KMS_REPLAY_TOKEN_ID_LEN], rnd[16];
    for (uint64_t i = 0; i < n; i++) {
        pair_of(f, f->ctr - 1 - (b->ctr++ % f->per_second), tok, rnd);
        kms_result r = kms_replay_check(f->rg, tok, rnd, sizeof(rnd), f->now, f->now);
        if (r.err != KMS_ERR_REPLAY) {
            bench_fail("kms_replay_check of an accepted pair: %s", kms_err_name(r.err));
        }
    }
}

enum { C_HMAC, C_C10, C_C50, C_C99, C_CHECK, N_CASES };

static const struct bench_case cases[N_CASES] = {
    [C_HMAC] = {"hmac_sha256_48", "kms_hmac_sha256, 48 bytes (baseline)", case_hmac},
    [C_C10] = {"commit_fill10", "commit, live set 10% of max", case_commit10},
    [C_C50] = {"commit_fill50", "commit, live set 50% of max", case_commit50},
    [C_C99] = {"commit_fill99", "commit, live set 99% of max", case_commit99},
    [C_CHECK] = {"check_replayed", "check of a replayed pair (diag.)", case_check_replay},
};

enum { R_C10, R_C50, R_C99, R_CHECK, N_RATIOS };

static const struct bench_ratio ratios[N_RATIOS] = {
    [R_C10] = {"commit_fill10_cost_hmacs", "commit, 10% live", "HMACs", C_HMAC, C_C10, true},
    [R_C50] = {"commit_fill50_cost_hmacs", "commit, 50% live", "HMACs", C_HMAC, C_C50, true},
    [R_C99] = {"commit_fill99_cost_hmacs", "commit, 99% live", "HMACs", C_HMAC, C_C99, true},
    [R_CHECK] = {"check_replayed_cost_hmacs", "check, replayed pair", "HMACs", C_HMAC, C_CHECK,
                 false},
};

static const struct bench_suite suite = {
    .about = "Replay-guard commits/s (timestamp mode, max_entries 1,000,000, skew 9 s) in\n"
             "steady state with the live set at 10%, 50% and 99% of max_entries, sweeps\n"
             "included, beside kms_hmac_sha256 of 48 bytes/s measured in the same run.\n",
    .cases = cases,
    .n_cases = N_CASES,
    .ratios = ratios,
    .n_ratios = N_RATIOS,
    .warm_batch = 64,
    .layout = {.case_w = 40, .ops_w = 12, .ratio_w = 28, .unit_w = 6},
};

static void setup(struct bench *b)
{
    static const unsigned percents[N_FILLS] = {10, 50, 99};
    struct kms_replay_cfg cfg = {.skew = SKEW, .max_entries = MAX_ENTRIES};
    bench_check(kms_random(b->key, sizeof(b->key)), "kms_random");
    bench_check(kms_random(b->msg, sizeof(b->msg)), "kms_random");
    for (int i = 0; i < N_FILLS; i++) {
        struct fill *f = &b->fills[i];
        f->percent = percents[i];
        f->per_second = (uint64_t)MAX_ENTRIES * percents[i] / 100 / (SKEW + 1);
        f->now = T_START + SKEW; /* the first second the restart rule lets through */
        bench_check(kms_replay_new(&cfg, T_START, &f->rg), "kms_replay_new");
        bench_check(kms_random(f->tok_base, sizeof(f->tok_base)), "kms_random");
        bench_check(kms_random(f->rand_base, sizeof(f->rand_base)), "kms_random");
        /* Into the steady state: two sweeps. */
        while (kms_replay_sweeps(f->rg) < 2) {
            commits(f, 1000);
        }
        f->full = 0;
    }
}

int main(int argc, char **argv)
{
    struct bench_opts opts;
    bench_parse_args(&suite, argc, argv, &opts);

    static struct bench b;
    setup(&b);

    static struct bench_results res;
    bench_run(&suite, &b, &opts, &res);

    bench_print_table(&suite, &res);
    for (int i = 0; i < N_FILLS; i++) {
        const struct fill *f = &b.fills[i];
        printf("# fill %u%%: %llu commits per virtual second, %llu sweeps, %llu refused as full,"
               " %zu entries held at the end\n",
               f->percent, (unsigned long long)f->per_second,
               (unsigned long long)kms_replay_sweeps(f->rg), (unsigned long long)f->full,
               kms_replay_count(f->rg));
    }

    bench_print_keys_head(&res);
    printf("max_entries=%d\n", MAX_ENTRIES);
    printf("skew=%d\n", SKEW);
    printf("bytes_per_entry=%zu\n", kms_replay_bytes_per_entry());
    bench_print_keys(&suite, &res);
    for (int i = 0; i < N_FILLS; i++) {
        const struct fill *f = &b.fills[i];
        printf("commit_fill%u_sweeps=%llu\n", f->percent,
               (unsigned long long)kms_replay_sweeps(f->rg));
        printf("commit_fill%u_full_refusals=%llu\n", f->percent, (unsigned long long)f->full);
        kms_replay_free(f->rg);
    }
    return 0;
}
