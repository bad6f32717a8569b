/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_bsf: complete GBA bootstraps per second against a running imskms-bsfd (Ub, HTTP Digest
 * AKAv1-MD5), beside the same client doing the same number of HTTP round trips against a static
 * baseline server (nginx) in the same run. bench/run_bsf.sh starts both servers and runs this.
 *
 * One bootstrap is both round trips of TS 24.109 A.3 with the UE's whole part of the protocol:
 *   1. GET / with Authorization: Digest username=IMPI, nonce="", response="" -> 401 with a
 *      challenge, parsed (kms_digest_parse_challenge), realm checked, nonce decoded;
 *   2. the simulated USIM: MAC-A checked (kms_milenage_check_autn) and SQN accepted into that
 *      UE's own SEQ_MS array (kms_sqn_ms_accept; a stale SQN is a failure: no resync here);
 *   3. GET / with the answer (response over RES, qop=auth-int) -> 200 with a BootstrappingInfo
 *      body; Authentication-Info parsed and its rspauth (XRES over the body) checked, the body
 *      parsed for the B-TID (kms_bsfinfo_parse).
 * With --bsf2 (a second node of a BSF fleet on one Redis, bench/run_fleet.sh) the odd threads
 * bootstrap at the second node, and without --baseline only the BSF phases run. Each measured
 * bootstrap's latency is kept (up to LAT_MAX per thread) for bootstrap_p50_us / _p99_us.
 * The client is lean: everything in memory, one keep-alive HTTP/1.1 connection per thread over
 * a plain socket, the same code for both servers. A baseline "pair" is two GETs with
 * Authorization headers of the same sizes, of two small static files.
 *
 * Subscribers are ue<N>@bench.example.org, N = 0 .. --subscribers - 1, all with the K and OP
 * of TS 35.208 test set 1 (--setup-db creates such a store). The BSF lets an IMPI ask for a
 * small burst of challenges (5) and then one every 2 s, and every first challenge of an IMPI
 * since the daemon started reserves a range of 32 SQNs (a durable SQLite write). So the run
 * first bootstraps every IMPI once (the "cold" pass: one reservation each, reported on its own)
 * and then cycles through the IMPIs in the measured rounds; max_uses_per_impi and rate_limited
 * say whether an IMPI went over its burst.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "bench_http.h"
#include "crypto/kms_milenage.h"
#include "crypto/kms_sqn.h"
#include "gba/kms_digest.h"

const char bench_prog[] = "bench_bsf";

#define MAX_THREADS    64
#define MAX_SUBS       BENCH_MAX_SUBS
#define BASE_CHALLENGE "/ub-401.txt"
#define BASE_INFO      "/ub-200.xml"
#define LAT_MAX        200000 /* latencies kept per thread and phase */

static const char usage_text[] =
    "usage: bench_bsf --bsf URL [--bsf2 URL] [--baseline URL] [--realm FQDN] [--threads T]\n"
    "                 [--subscribers N] [--seconds S] [--rounds R] [--bsf-pid PID]\n"
    "                 [--baseline-pid PID]\n"
    "       bench_bsf --setup-db PATH --kek-file FILE [--subscribers N]\n"
    "\n"
    "Complete GBA bootstraps (Ub, both round trips, AUTN and rspauth checked) per second against\n"
    "imskms-bsfd at --bsf, and the same client doing two GETs of small static files per 'pair'\n"
    "against --baseline (nginx), in interleaved rounds; figures are medians over the rounds and\n"
    "the ratio is taken per round. Normally run by bench/run_bsf.sh (see docs/performance.md).\n"
    "\n"
    "  --bsf URL           the BSF's Ub URL, http://127.0.0.1:PORT/\n"
    "  --bsf2 URL          a second node of the same fleet: the odd threads bootstrap there\n"
    "                      (bench/run_fleet.sh); needs 2 threads or more\n"
    "  --baseline URL      the static server, http://127.0.0.1:PORT/ (serving " BASE_CHALLENGE
    " and\n"
    "                      " BASE_INFO "); without it, the BSF phases only (no ratio)\n"
    "  --realm FQDN        the realm the BSF must announce (default: bsf.bench.example.org)\n"
    "  --threads T         client threads, one connection each (default 4, 1..64)\n"
    "  --subscribers N     IMPIs ue0..ue<N-1>@bench.example.org (default 20000, 1..60000)\n"
    "  --seconds S         time per server per round (default 0.5, at most 60)\n"
    "  --rounds R          interleaved rounds (default 5, 1..101)\n"
    "  --bsf-pid PID       also report the BSF's CPU time per bootstrap (from /proc)\n"
    "  --baseline-pid PID  also report the baseline server's CPU time per pair\n"
    "  --setup-db PATH     create a subscriber store with the N subscribers (K, OP of TS 35.208\n"
    "                      test set 1), sealed under --kek-file, and exit\n"
    "Output: name=value lines; table lines start with '#'. Exit 0, 2 on bad usage, 3 when the\n"
    "setup or a connection fails. Failed bootstraps are counted (failures=), not fatal.\n";

/* ---- options ---- */

struct opts {
    const char *bsf_url, *bsf2_url, *base_url, *realm, *setup_db, *kek_file;
    struct bench_target bsf, bsf2, base;
    unsigned threads, subs, rounds;
    double seconds;
    long bsf_pid, base_pid;
};

static void parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->realm = "bsf.bench.example.org";
    o->threads = 4;
    o->subs = 20000;
    o->rounds = 5;
    o->seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            bench_usage("missing value or unknown argument", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--bsf") == 0) {
            o->bsf_url = v;
        } else if (strcmp(a, "--bsf2") == 0) {
            o->bsf2_url = v;
        } else if (strcmp(a, "--baseline") == 0) {
            o->base_url = v;
        } else if (strcmp(a, "--realm") == 0) {
            o->realm = v;
        } else if (strcmp(a, "--setup-db") == 0) {
            o->setup_db = v;
        } else if (strcmp(a, "--kek-file") == 0) {
            o->kek_file = v;
        } else if (strcmp(a, "--threads") == 0) {
            o->threads = (unsigned)bench_num("--threads wants 1..64", v, 1, MAX_THREADS);
        } else if (strcmp(a, "--subscribers") == 0) {
            o->subs = (unsigned)bench_num("--subscribers wants 1..60000", v, 1, MAX_SUBS);
        } else if (strcmp(a, "--rounds") == 0) {
            o->rounds = (unsigned)bench_num("--rounds wants 1..101", v, 1, BENCH_MAX_ROUNDS);
        } else if (strcmp(a, "--bsf-pid") == 0) {
            o->bsf_pid = (long)bench_num("--bsf-pid wants a process id", v, 1, 1L << 30);
        } else if (strcmp(a, "--baseline-pid") == 0) {
            o->base_pid = (long)bench_num("--baseline-pid wants a process id", v, 1, 1L << 30);
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = bench_seconds(v);
        } else {
            bench_usage("unknown argument", a);
        }
    }
    if (o->setup_db != NULL) {
        if (o->kek_file == NULL) {
            bench_usage("--setup-db needs --kek-file", NULL);
        }
        return;
    }
    if (o->bsf_url == NULL) {
        bench_usage("--bsf is required", NULL);
    }
    bench_parse_url("--bsf", o->bsf_url, &o->bsf);
    if (o->base_url != NULL) {
        bench_parse_url("--baseline", o->base_url, &o->base);
    }
    if (o->bsf2_url != NULL) {
        if (o->threads < 2) {
            bench_usage("--bsf2 needs --threads 2 or more", NULL);
        }
        bench_parse_url("--bsf2", o->bsf2_url, &o->bsf2);
    }
}

/* ---- the subscriber store ---- */

static int setup_db(const struct opts *o)
{
    bench_ub_setup_db(o->setup_db, o->kek_file, o->subs);
    printf("subscribers=%u\n", o->subs);
    return 0;
}

/* ---- the run ---- */

struct ue {
    atomic_flag busy;
    uint32_t uses;
    struct kms_sqn_ms sqn;
};

#define F_HTTP     BENCH_F_HTTP
#define F_RATE     BENCH_F_RATE
#define F_STATUS   BENCH_F_STATUS
#define F_N        BENCH_F_N
#define fail_names bench_fail_names

struct shared {
    const struct opts *o;
    struct ue *ues;
    atomic_uint_fast64_t next_ue;
    atomic_bool stop;
    atomic_uint_fast64_t limit; /* the cold pass: stop after this many UEs were handed out */
    pthread_barrier_t start;
    bool baseline;
    uint64_t ok[MAX_THREADS], fail[MAX_THREADS][F_N];
    struct bench_lat lat[MAX_THREADS]; /* microseconds per measured bootstrap, per thread */
    char base_auth1[512], base_auth2[512];
};

struct worker {
    struct shared *sh;
    unsigned idx;
    struct bench_conn conn;
    struct kms_milenage *m;
    uint64_t cnonce_ctr;
    int conn_err;
};

/* Takes the next UE that no other thread holds; -1 once the cold pass has handed out all. */
static long take_ue(struct shared *sh)
{
    for (;;) {
        uint64_t i = atomic_fetch_add(&sh->next_ue, 1);
        uint64_t lim = atomic_load(&sh->limit);
        if (lim != 0 && i >= lim) {
            return -1;
        }
        struct ue *u = &sh->ues[i % sh->o->subs];
        if (!atomic_flag_test_and_set(&u->busy)) {
            return (long)(i % sh->o->subs);
        }
    }
}

/* One complete bootstrap of UE i. Returns F_N on success, else the failure kind. */
static enum bench_fail bootstrap(struct worker *w, unsigned i)
{
    struct ue *u = &w->sh->ues[i];
    u->uses++;
    return bench_ub_bootstrap(&w->conn, w->sh->o->bsf.path, w->sh->o->realm, i, w->m, &u->sqn,
                              w->idx, &w->cnonce_ctr, NULL);
}

/* One baseline pair: two GETs with Authorization headers of a bootstrap's sizes. */
static enum bench_fail pair(struct worker *w)
{
    const struct opts *o = w->sh->o;
    struct bench_resp r;
    if (bench_http(&w->conn, "GET", BASE_CHALLENGE, "Authorization", w->sh->base_auth1, NULL, NULL,
                   0, &r) != 0) {
        return F_HTTP;
    }
    if (r.status != 200 || r.body_len == 0) {
        return F_STATUS;
    }
    if (bench_http(&w->conn, "GET", BASE_INFO, "Authorization", w->sh->base_auth2, NULL, NULL, 0,
                   &r) != 0) {
        return F_HTTP;
    }
    (void)o;
    return r.status == 200 && r.body_len > 0 ? F_N : F_STATUS;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    const struct bench_target *t = sh->baseline                            ? &sh->o->base
                                   : sh->o->bsf2_url != NULL && w->idx % 2 ? &sh->o->bsf2
                                                                           : &sh->o->bsf;
    w->conn_err = bench_conn_open(&w->conn, t);
    pthread_barrier_wait(&sh->start);
    while (w->conn_err == 0 && !atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        enum bench_fail f;
        long ue = -1;
        if (sh->baseline) {
            f = pair(w);
        } else {
            ue = take_ue(sh);
            if (ue < 0) {
                break; /* the cold pass is done */
            }
            double b0 = bench_now(CLOCK_MONOTONIC);
            f = bootstrap(w, (unsigned)ue);
            atomic_flag_clear(&sh->ues[ue].busy);
            if (f == F_N) {
                bench_lat_add(&sh->lat[w->idx], (bench_now(CLOCK_MONOTONIC) - b0) * 1e6);
            }
        }
        if (f == F_N) {
            if (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
                sh->ok[w->idx]++;
            }
        } else {
            sh->fail[w->idx][f]++;
            if (f == F_HTTP) {
                /* The connection is in an unknown state: a new one. */
                bench_conn_close(&w->conn);
                w->conn_err = bench_conn_open(&w->conn, t);
            }
        }
    }
    bench_conn_close(&w->conn);
    return NULL;
}

struct phase_result {
    double p50_us, p99_us; /* measured bootstraps' latency (BSF phases) */
    double ops_per_s;
    uint64_t ok, fail[F_N];
    double server_cpu, client_cpu, elapsed;
};

/* Runs T threads against one server for `seconds` (or, with limit, until limit UEs were
 * handed out). */
static void run_phase(struct shared *sh, bool baseline, double seconds, uint64_t limit,
                      struct phase_result *out)
{
    const struct opts *o = sh->o;
    struct worker w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    memset(out, 0, sizeof(*out));
    memset(sh->ok, 0, sizeof(sh->ok));
    memset(sh->fail, 0, sizeof(sh->fail));
    for (unsigned i = 0; i < o->threads; i++) {
        sh->lat[i].n = 0;
    }
    sh->baseline = baseline;
    atomic_store(&sh->stop, false);
    atomic_store(&sh->limit, limit);
    if (limit != 0) {
        atomic_store(&sh->next_ue, 0);
    }
    pthread_barrier_init(&sh->start, NULL, o->threads + 1);
    for (unsigned i = 0; i < o->threads; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].sh = sh;
        w[i].idx = i;
        w[i].cnonce_ctr = 0;
        w[i].m = bench_ub_milenage();
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0) {
            bench_fail("pthread_create failed");
        }
    }
    long pid = baseline ? o->base_pid : o->bsf_pid;
    pthread_barrier_wait(&sh->start);
    double s0 = bench_proc_cpu(pid), c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID),
           t0 = bench_now(CLOCK_MONOTONIC);
    if (limit == 0) {
        bench_sleep(seconds);
        atomic_store(&sh->stop, true);
    }
    double t1 = 0, s1 = 0, c1 = 0;
    if (limit == 0) {
        t1 = bench_now(CLOCK_MONOTONIC);
        s1 = bench_proc_cpu(pid);
        c1 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
    }
    for (unsigned i = 0; i < o->threads; i++) {
        pthread_join(th[i], NULL);
        kms_milenage_free(w[i].m);
        if (w[i].conn_err != 0) {
            bench_fail("cannot connect to %s:%s", baseline ? o->base.host : o->bsf.host,
                       baseline ? o->base.port : o->bsf.port);
        }
    }
    if (limit != 0) {
        t1 = bench_now(CLOCK_MONOTONIC);
        s1 = bench_proc_cpu(pid);
        c1 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
    }
    pthread_barrier_destroy(&sh->start);
    for (unsigned i = 0; i < o->threads; i++) {
        out->ok += sh->ok[i];
        for (int f = 0; f < F_N; f++) {
            out->fail[f] += sh->fail[i][f];
        }
    }
    bench_lat_percentiles(sh->lat, o->threads, &out->p50_us, &out->p99_us);
    out->elapsed = t1 - t0;
    out->ops_per_s = (double)out->ok / out->elapsed;
    out->server_cpu = s0 >= 0 && s1 >= 0 ? s1 - s0 : -1;
    out->client_cpu = c1 - c0;
}

static uint64_t fail_total(const struct phase_result *p)
{
    uint64_t n = 0;
    for (int f = 0; f < F_N; f++) {
        n += p->fail[f];
    }
    return n;
}

static void base_headers(struct shared *sh)
{
    /* The same shapes and sizes as a bootstrap's two Authorization headers. */
    const struct opts *o = sh->o;
    snprintf(sh->base_auth1, sizeof(sh->base_auth1),
             "Digest username=\"ue0@bench.example.org\", realm=\"%s\", nonce=\"\", uri=\"/\", "
             "response=\"\"",
             o->realm);
    snprintf(sh->base_auth2, sizeof(sh->base_auth2),
             "Digest username=\"ue0@bench.example.org\", realm=\"%s\", "
             "nonce=\"%.88s\", uri=\"/\", response=\"%.32s\", algorithm=AKAv1-MD5, "
             "qop=auth-int, nc=00000001, cnonce=\"%.16s\", opaque=\"%.16s\"",
             o->realm,
             "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk"
             "rLzAx",
             "0123456789abcdef0123456789abcdef", "0000000000000001", "0123456789abcdef");
}

int main(int argc, char **argv)
{
    struct opts o;
    parse_args(argc, argv, &o);
    if (o.setup_db != NULL) {
        return setup_db(&o);
    }
    struct shared *sh = calloc(1, sizeof(*sh));
    struct ue *ues = calloc(o.subs, sizeof(*ues));
    if (sh == NULL || ues == NULL) {
        bench_fail("out of memory");
    }
    sh->o = &o;
    sh->ues = ues;
    for (unsigned i = 0; i < o.threads; i++) {
        bench_lat_init(&sh->lat[i], LAT_MAX);
    }
    for (unsigned i = 0; i < o.subs; i++) {
        atomic_flag_clear(&ues[i].busy);
        bench_check(kms_sqn_ms_init(&ues[i].sqn, KMS_SQN_IND_BITS_DEF, KMS_SQN_DELTA_DEF, 0),
                    "sqn");
    }
    base_headers(sh);

    /* The cold pass: every IMPI bootstraps once (its first challenge reserves SQNs). */
    struct phase_result cold;
    run_phase(sh, false, 0, o.subs, &cold);
    uint64_t fails = fail_total(&cold), rate_limited = cold.fail[F_RATE];

    const unsigned n = o.rounds;
    double bsf[BENCH_MAX_ROUNDS], base[BENCH_MAX_ROUNDS], ratio[BENCH_MAX_ROUNDS];
    double p50[BENCH_MAX_ROUNDS], p99[BENCH_MAX_ROUNDS];
    const bool has_base = o.base_url != NULL;
    double bsf_cpu = 0, base_cpu = 0, bsf_ccpu = 0, base_ccpu = 0;
    uint64_t bsf_ops = 0, base_ops = 0, fail_kinds[F_N] = {0};
    bool cpu_ok = true;
    atomic_store(&sh->next_ue, 0);
    for (unsigned r = 0; r < n; r++) {
        struct phase_result pb, pn;
        /* Alternate which server goes first. */
        memset(&pn, 0, sizeof(pn));
        for (int k = 0; k < (has_base ? 2 : 1); k++) {
            bool baseline = has_base && (k == 0) == (r % 2 == 1);
            struct phase_result *p = baseline ? &pn : &pb;
            run_phase(sh, baseline, o.seconds, 0, p);
            for (int f = 0; f < F_N; f++) {
                fail_kinds[f] += p->fail[f];
            }
            fails += fail_total(p);
            rate_limited += p->fail[F_RATE];
        }
        bsf[r] = pb.ops_per_s;
        p50[r] = pb.p50_us;
        p99[r] = pb.p99_us;
        base[r] = pn.ops_per_s;
        ratio[r] = has_base ? pb.ops_per_s / pn.ops_per_s : 0;
        bsf_ops += pb.ok;
        base_ops += pn.ok;
        cpu_ok = cpu_ok && pb.server_cpu >= 0 && (!has_base || pn.server_cpu >= 0);
        bsf_cpu += pb.server_cpu;
        base_cpu += pn.server_cpu;
        bsf_ccpu += pb.client_cpu;
        base_ccpu += pn.client_cpu;
        fprintf(stderr, "%s: round %u: %.0f bootstraps/s, %.0f pairs/s, ratio %.3f\n", bench_prog,
                r + 1, pb.ops_per_s, pn.ops_per_s, ratio[r]);
    }
    uint32_t max_uses = 0;
    for (unsigned i = 0; i < o.subs; i++) {
        max_uses = ues[i].uses > max_uses ? ues[i].uses : max_uses;
    }

    printf("# %s: %u rounds x %g s per server, %u client threads, %u subscribers\n", bench_prog, n,
           o.seconds, o.threads, o.subs);
    printf("# BSF bootstraps/s     %10.0f  (rounds %.0f..%.0f)\n", bench_median(bsf, (int)n),
           bench_min(bsf, (int)n), bench_max(bsf, (int)n));
    if (has_base) {
        printf("# baseline pairs/s     %10.0f  (rounds %.0f..%.0f)\n", bench_median(base, (int)n),
               bench_min(base, (int)n), bench_max(base, (int)n));
        printf("# ratio BSF/baseline   %10.4f  (rounds %.4f..%.4f)\n", bench_median(ratio, (int)n),
               bench_min(ratio, (int)n), bench_max(ratio, (int)n));
    }
    printf("# cold pass (first bootstrap of each IMPI): %.0f bootstraps/s\n", cold.ops_per_s);
    printf("threads=%u\nsubscribers=%u\nseconds_per_phase=%g\nrounds=%u\n", o.threads, o.subs,
           o.seconds, n);
    printf("bootstraps_per_s=%.0f\nbootstraps_per_s_min=%.0f\nbootstraps_per_s_max=%.0f\n",
           bench_median(bsf, (int)n), bench_min(bsf, (int)n), bench_max(bsf, (int)n));
    printf("bootstrap_p50_us=%.0f\nbootstrap_p99_us=%.0f\n", bench_median(p50, (int)n),
           bench_median(p99, (int)n));
    if (has_base) {
        printf("baseline_pairs_per_s=%.0f\nbaseline_pairs_per_s_min=%.0f\n"
               "baseline_pairs_per_s_max=%.0f\n",
               bench_median(base, (int)n), bench_min(base, (int)n), bench_max(base, (int)n));
        printf("ratio=%.4f\nratio_min=%.4f\nratio_max=%.4f\n", bench_median(ratio, (int)n),
               bench_min(ratio, (int)n), bench_max(ratio, (int)n));
    }
    printf("cold_bootstraps=%llu\ncold_bootstraps_per_s=%.0f\n", (unsigned long long)cold.ok,
           cold.ops_per_s);
    if (cold.server_cpu >= 0 && cold.ok > 0) {
        printf("cold_bsf_cpu_us_per_bootstrap=%.1f\n", cold.server_cpu * 1e6 / (double)cold.ok);
    }
    if (cpu_ok && bsf_ops > 0 && !has_base) {
        printf("bsf_cpu_us_per_bootstrap=%.1f\n", bsf_cpu * 1e6 / (double)bsf_ops);
    }
    if (cpu_ok && bsf_ops > 0 && base_ops > 0) {
        double b = bsf_cpu * 1e6 / (double)bsf_ops, p = base_cpu * 1e6 / (double)base_ops;
        printf("bsf_cpu_us_per_bootstrap=%.1f\nbaseline_cpu_us_per_pair=%.1f\ncpu_ratio=%.2f\n", b,
               p, b / p);
    }
    if (bsf_ops > 0 && base_ops > 0) {
        printf("client_cpu_us_per_bootstrap=%.1f\nclient_cpu_us_per_pair=%.1f\n",
               bsf_ccpu * 1e6 / (double)bsf_ops, base_ccpu * 1e6 / (double)base_ops);
    }
    printf("max_uses_per_impi=%u\n", max_uses);
    /* Every bootstrap holds one of the BSF's 100000 session slots for --lifetime. */
    printf("sessions_created=%llu\n", (unsigned long long)(cold.ok + bsf_ops));
    printf("failures=%llu\n", (unsigned long long)fails);
    printf("rate_limited=%llu\n", (unsigned long long)rate_limited);
    for (int f = 0; f < F_N; f++) {
        if (f != F_RATE && (fail_kinds[f] != 0 || cold.fail[f] != 0)) {
            printf("failures_%s=%llu\n", fail_names[f],
                   (unsigned long long)(fail_kinds[f] + cold.fail[f]));
        }
    }
    for (unsigned i = 0; i < o.threads; i++) {
        bench_lat_free(&sh->lat[i]);
    }
    free(ues);
    free(sh);
    return 0;
}
