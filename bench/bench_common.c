/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmarks' shared timing harness (see bench_common.h).
 */
#include "bench_common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/kms_ossl.h"
#include "err/kms_err.h"

static char digest_sha256[] = "SHA256"; /* OSSL_PARAM wants a non-const char * */

void bench_fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", bench_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(BENCH_EXIT_FAIL);
}

void bench_die_kms(kms_result r, const char *what)
{
    bench_fail("%s failed: %s (%s)", what, kms_strerror(r.err), kms_err_name(r.err));
}

void bench_die_ossl(const char *what)
{
    bench_fail("%s failed (OpenSSL)", what);
}

static double now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        bench_fail("clock_gettime: %s", strerror(errno));
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_hmac_sha256(const uint8_t key[32], const uint8_t *msg, size_t len, uint8_t out[32])
{
    size_t out_len = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(kms_ossl()->hmac);
    if (ctx == NULL) {
        bench_die_ossl("EVP_MAC_CTX_new");
    }
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_sha256, 0),
        OSSL_PARAM_construct_end(),
    };
    bench_check_ossl(EVP_MAC_init(ctx, key, 32, params), "EVP_MAC_init");
    bench_check_ossl(EVP_MAC_update(ctx, msg, len), "EVP_MAC_update");
    bench_check_ossl(EVP_MAC_final(ctx, out, &out_len, 32), "EVP_MAC_final");
    if (out_len != 32) {
        bench_die_ossl("EVP_MAC_final length");
    }
    EVP_MAC_CTX_free(ctx);
}

/* ---- options ---- */

static void usage(const struct bench_suite *s, FILE *f)
{
    fprintf(f,
            "usage: %s [--seconds S] [--rounds N]\n"
            "%s"
            "  --seconds S  time per case per round (default 0.2, at most 60)\n"
            "  --rounds N   interleaved rounds; figures are medians (default 5, 1..%d)\n"
            "  --help       this text\n"
            "Output: name=value lines; table lines start with '#'. Exit 0, 2 on bad usage.\n",
            bench_prog, s->about, BENCH_MAX_ROUNDS);
}

static void bad_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s (try --help)\n", bench_prog, msg, arg ? ": " : "", arg ? arg : "");
    exit(BENCH_EXIT_USAGE);
}

void bench_parse_args(const struct bench_suite *s, int argc, char **argv, struct bench_opts *o)
{
    o->seconds = 0.2;
    o->rounds = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(s, stdout);
            exit(0);
        }
        if (strcmp(a, "--seconds") != 0 && strcmp(a, "--rounds") != 0) {
            bad_usage("unknown argument", a);
        }
        if (i + 1 >= argc) {
            bad_usage("missing value after", a);
        }
        const char *v = argv[++i];
        char *end = NULL;
        errno = 0;
        if (strcmp(a, "--seconds") == 0) {
            double d = strtod(v, &end);
            if (errno != 0 || end == v || *end != '\0' || !isfinite(d) || d <= 0 ||
                d > BENCH_MAX_SECONDS) {
                bad_usage("--seconds wants a number in (0, 60]", v);
            }
            o->seconds = d;
        } else {
            long n = strtol(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || n < 1 || n > BENCH_MAX_ROUNDS) {
                bad_usage("--rounds wants an integer in 1..101", v);
            }
            o->rounds = (int)n;
        }
    }
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(const double *v, int n)
{
    double t[BENCH_MAX_ROUNDS];
    memcpy(t, v, (size_t)n * sizeof(*t));
    qsort(t, (size_t)n, sizeof(*t), cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

double bench_min(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) {
        m = v[i] < m ? v[i] : m;
    }
    return m;
}

double bench_max(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) {
        m = v[i] > m ? v[i] : m;
    }
    return m;
}

/* ---- running ---- */

/* Runs the case in batches for at least `seconds`; returns operations per second. */
void bench_lat_init(struct bench_lat *l, size_t cap)
{
    l->us = malloc(cap * sizeof(*l->us));
    if (l->us == NULL) {
        bench_fail("out of memory");
    }
    l->n = 0;
    l->cap = cap;
}

void bench_lat_free(struct bench_lat *l)
{
    free(l->us);
    l->us = NULL;
    l->n = l->cap = 0;
}

void bench_lat_percentiles(const struct bench_lat *lats, size_t n, double *p50, double *p99)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += lats[i].n;
    }
    *p50 = *p99 = 0;
    if (total == 0) {
        return;
    }
    double *all = malloc(total * sizeof(*all));
    if (all == NULL) {
        bench_fail("out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(all + k, lats[i].us, lats[i].n * sizeof(*all));
        k += lats[i].n;
    }
    qsort(all, total, sizeof(*all), cmp_double);
    *p50 = all[total / 2];
    *p99 = all[total * 99 / 100];
    free(all);
}

static double run_for(const struct bench_case *c, void *ctx, uint64_t batch, double seconds)
{
    uint64_t done = 0;
    double t0 = now(), t;
    do {
        c->fn(ctx, batch);
        done += batch;
        t = now();
    } while (t - t0 < seconds);
    return (double)done / (t - t0);
}

void bench_run(const struct bench_suite *s, void *ctx, const struct bench_opts *o,
               struct bench_results *res)
{
    const int nc = s->n_cases, rounds = o->rounds;
    if (nc < 1 || nc > BENCH_MAX_CASES || s->n_ratios < 0 || s->n_ratios > BENCH_MAX_RATIOS) {
        bench_fail("bad case table (%d cases, %d ratios)", nc, s->n_ratios);
    }
    res->seconds = o->seconds;
    res->rounds = rounds;

    /* Warm-up (caches, frequency, lazy OpenSSL init), and a batch size of ~1 ms per case
     * so that reading the clock costs nothing measurable. */
    uint64_t batch[BENCH_MAX_CASES];
    for (int c = 0; c < nc; c++) {
        double rate = run_for(&s->cases[c], ctx, s->warm_batch,
                              o->seconds / 4 < 0.05 ? o->seconds / 4 : 0.05);
        batch[c] = rate / 1000 > 1 ? (uint64_t)(rate / 1000) : 1;
    }

    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < nc; k++) {
            int c = (r + k) % nc; /* rotate the order: no case always runs first */
            res->rate[c][r] = run_for(&s->cases[c], ctx, batch[c], o->seconds);
        }
        for (int q = 0; q < s->n_ratios; q++) {
            res->cost[q][r] = res->rate[s->ratios[q].base][r] / res->rate[s->ratios[q].c][r];
        }
    }

    for (int c = 0; c < nc; c++) {
        res->rate_med[c] = bench_median(res->rate[c], rounds);
    }
    for (int q = 0; q < s->n_ratios; q++) {
        res->cost_med[q] = bench_median(res->cost[q], rounds);
    }
}

/* ---- printing ---- */

void bench_print_table(const struct bench_suite *s, const struct bench_results *res)
{
    const struct bench_layout *l = &s->layout;
    const int n = res->rounds;
    printf("# %s: %d rounds x %.3g s per case, median over rounds; %s\n", bench_prog, n,
           res->seconds, OpenSSL_version(OPENSSL_VERSION));
    printf("# %-*s %*s %9s %21s\n", l->case_w, "case", l->ops_w, "ops/s", "ns/op",
           "min..max ops/s");
    for (int c = 0; c < s->n_cases; c++) {
        printf("# %-*s %*.0f %9.1f %10.0f..%.0f\n", l->case_w, s->cases[c].what, l->ops_w,
               res->rate_med[c], 1e9 / res->rate_med[c], bench_min(res->rate[c], n),
               bench_max(res->rate[c], n));
    }
    for (int q = 0; q < s->n_ratios; q++) {
        printf("# %-*s = %6.2f %-*s (rounds %.2f..%.2f)\n", l->ratio_w, s->ratios[q].what,
               res->cost_med[q], l->unit_w, s->ratios[q].unit, bench_min(res->cost[q], n),
               bench_max(res->cost[q], n));
    }
}

void bench_print_keys_head(const struct bench_results *res)
{
    printf("openssl_version=%s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("seconds_per_case=%g\n", res->seconds);
    printf("rounds=%d\n", res->rounds);
}

void bench_print_keys(const struct bench_suite *s, const struct bench_results *res)
{
    const int n = res->rounds;
    for (int c = 0; c < s->n_cases; c++) {
        printf("%s_ops_per_s=%.0f\n", s->cases[c].name, res->rate_med[c]);
        printf("%s_ops_per_s_min=%.0f\n", s->cases[c].name, bench_min(res->rate[c], n));
        printf("%s_ops_per_s_max=%.0f\n", s->cases[c].name, bench_max(res->rate[c], n));
    }
    for (int q = 0; q < s->n_ratios; q++) {
        const struct bench_ratio *r = &s->ratios[q];
        printf("%s=%.2f\n", r->name, res->cost_med[q]);
        if (r->range) {
            printf("%s_min=%.2f\n", r->name, bench_min(res->cost[q], n));
            printf("%s_max=%.2f\n", r->name, bench_max(res->cost[q], n));
        }
    }
}
