/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The timing harness the benchmark programs share: a table of cases, interleaved rounds (every
 * round runs every case for --seconds, starting at a different case each round), medians over
 * the rounds, cost ratios taken per round (the median of the per-round ratios), the
 * --seconds/--rounds options, and the table and name=value printing.
 *
 * A program fills a const struct bench_suite, then:
 *   bench_parse_args(&suite, argc, argv, &opts);
 *   (its own setup)
 *   bench_run(&suite, ctx, &opts, &res);
 *   bench_print_table(&suite, &res);      (then its own '#' lines)
 *   bench_print_keys_head(&res);          (then its own keys)
 *   bench_print_keys(&suite, &res);       (then its own keys)
 *
 * Exit statuses: 0, BENCH_EXIT_USAGE (2) on bad usage, BENCH_EXIT_FAIL (3) when a library call
 * fails. Messages on stderr start with bench_prog.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "imskms/err.h"

#define BENCH_MAX_ROUNDS  101
#define BENCH_MAX_SECONDS 60.0
#define BENCH_MAX_CASES   16
#define BENCH_MAX_RATIOS  16

enum { BENCH_EXIT_USAGE = 2, BENCH_EXIT_FAIL = 3 };

/* Defined by each program: its name, first on every message and in the usage text. */
extern const char bench_prog[];

struct bench_case {
    const char *name;                  /* prefix of the name=value lines */
    const char *what;                  /* table label */
    void (*fn)(void *ctx, uint64_t n); /* runs n iterations */
};

/* A cost ratio: per round, the rate of case `base` over the rate of case `c`, i.e. how many
 * `base` operations one operation of `c` costs. */
struct bench_ratio {
    const char *name; /* name=value key */
    const char *what; /* table label */
    const char *unit; /* table unit ("HMACs") */
    int base, c;      /* indexes into the case table */
    bool range;       /* also print the keys name_min and name_max */
};

/* Column widths of the human table. */
struct bench_layout {
    int case_w;  /* case label */
    int ops_w;   /* ops/s */
    int ratio_w; /* ratio label */
    int unit_w;  /* ratio unit (0: as long as it is) */
};

struct bench_suite {
    const char *about; /* the help text between the usage line and the options */
    const struct bench_case *cases;
    int n_cases; /* at most BENCH_MAX_CASES */
    const struct bench_ratio *ratios;
    int n_ratios;        /* at most BENCH_MAX_RATIOS */
    uint64_t warm_batch; /* iterations per batch during the warm-up */
    struct bench_layout layout;
};

struct bench_opts {
    double seconds; /* per case per round: (0, BENCH_MAX_SECONDS], default 0.2 */
    int rounds;     /* 1..BENCH_MAX_ROUNDS, default 5 */
};

struct bench_results {
    double seconds;
    int rounds;
    double rate[BENCH_MAX_CASES][BENCH_MAX_ROUNDS];  /* ops/s, per case and round */
    double cost[BENCH_MAX_RATIOS][BENCH_MAX_ROUNDS]; /* per ratio and round */
    double rate_med[BENCH_MAX_CASES];
    double cost_med[BENCH_MAX_RATIOS];
};

/* Sets the defaults, then reads --seconds S, --rounds N and --help (or -h: prints the usage on
 * stdout and exits 0). Anything else, or a value out of range: a message on stderr, exit 2. */
void bench_parse_args(const struct bench_suite *s, int argc, char **argv, struct bench_opts *o);

/* Warms every case up (which also sets its batch size to about 1 ms), runs o->rounds
 * interleaved rounds, and fills res: rates, per-round ratios and their medians. */
void bench_run(const struct bench_suite *s, void *ctx, const struct bench_opts *o,
               struct bench_results *res);

double bench_median(const double *v, int n); /* n in 1..BENCH_MAX_ROUNDS */
double bench_min(const double *v, int n);
double bench_max(const double *v, int n);

/* '#' lines: the run's parameters, a line per case (median, ns/op, range), a line per ratio. */
void bench_print_table(const struct bench_suite *s, const struct bench_results *res);
/* openssl_version, seconds_per_case, rounds. */
void bench_print_keys_head(const struct bench_results *res);
/* <case>_ops_per_s{,_min,_max} for every case, then <ratio>{,_min,_max} for every ratio. */
void bench_print_keys(const struct bench_suite *s, const struct bench_results *res);

/* HMAC-SHA-256 with a 32-byte key, a new EVP_MAC_CTX per MAC (the handle fetched once, as
 * kms_ossl()->hmac): the baseline of both programs. Exits 3 on failure. */
void bench_hmac_sha256(const uint8_t key[32], const uint8_t *msg, size_t len, uint8_t out[32]);

/* Latencies of one load-generator thread's operations, in microseconds (bench_bsf, bench_kms):
 * each thread adds to its own (no locking); bench_lat_percentiles merges several. */
struct bench_lat {
    double *us;
    size_t n, cap; /* samples beyond cap are dropped */
};

/* cap samples; exits 3 when out of memory. */
void bench_lat_init(struct bench_lat *l, size_t cap);
void bench_lat_free(struct bench_lat *l);

static inline void bench_lat_add(struct bench_lat *l, double us)
{
    if (l->n < l->cap) {
        l->us[l->n++] = us;
    }
}

/* The 50th and 99th percentiles of the samples of lats[0..n-1] taken together (the sorted
 * merge's elements at count/2 and count*99/100); 0 and 0 when there is none. */
void bench_lat_percentiles(const struct bench_lat *lats, size_t n, double *p50, double *p99);

/* "<bench_prog>: <message>" on stderr, exit 3. */
__attribute__((noreturn, format(printf, 1, 2))) void bench_fail(const char *fmt, ...);
/* "<bench_prog>: <what> failed: <message> (<name>)", exit 3. */
__attribute__((noreturn)) void bench_die_kms(kms_result r, const char *what);
/* "<bench_prog>: <what> failed (OpenSSL)", exit 3. */
__attribute__((noreturn)) void bench_die_ossl(const char *what);

/* Inline: the cases call these on every iteration. */
static inline void bench_check(kms_result r, const char *what)
{
    if (r.err != KMS_OK) {
        bench_die_kms(r, what);
    }
}

static inline void bench_check_ossl(int ret, const char *what)
{
    if (ret != 1) {
        bench_die_ossl(what);
    }
}

#endif
