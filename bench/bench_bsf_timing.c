/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_bsf_timing: can the time of a Ub answer tell a subscriber from a made-up name?
 * (issue 13, item 3; docs/bsf.md "Timing".)
 *
 * The BSF core and its Ub handler (kms_bsf_ub, no HTTP) over a real SQLite subscriber store
 * (lib/gba/kms_subscriber, in a fresh directory, default /dev/shm), set up as imskms-bsfd sets
 * them up: the challenge key derived from the KEK, every subscriber's first SQN range reserved
 * in one transaction before serving, ranges refilled off the request path (kms_bsf_refill
 * between requests, as the daemon's tick). Then, in one random interleaved order:
 *   first    a challenge request for a subscriber never challenged since the start;
 *   later    a challenge request for a subscriber already challenged (a small pool, reused);
 *   unknown  a challenge request for a made-up name (a new one each time);
 * and, in a second interleaved run, answers carrying an AUTS that does not verify:
 *   auts_real  to a subscriber's challenge;  auts_fake  to a made-up name's challenge.
 * Each sample is the wall time (CLOCK_MONOTONIC) of one kms_bsf_ub call. Printed: mean and
 * standard deviation per kind, and Welch's t for each pair (|t| < 4.5: not told apart at this
 * sample size). A figure, never a pass/fail: timing asserts are not allowed in tests.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "crypto/kms_kek.h"
#include "crypto/kms_milenage.h"
#include "crypto/kms_ossl.h"
#include "gba/kms_bsf.h"
#include "gba/kms_bsf_ub.h"
#include "gba/kms_digest.h"
#include "gba/kms_subscriber.h"
#include "util/kms_mem.h"

const char bench_prog[] = "bench_bsf_timing";

#define REALM    "bsf.bench.example.org"
#define NOW      UINT64_C(1800000000)
#define POOL     100 /* subscribers of the "later" kind */
#define MAX_KIND 3

static const char usage_text[] =
    "usage: bench_bsf_timing [--samples N] [--dir DIR]\n"
    "\n"
    "Times kms_bsf_ub challenge requests for a subscriber's first challenge since the start, a\n"
    "later one, and a made-up name, in random interleaved order; then failing AUTS answers to a\n"
    "subscriber's and to a made-up name's challenge. Prints mean, standard deviation and Welch's\n"
    "t per pair (docs/bsf.md, Timing).\n"
    "\n"
    "  --samples N  samples per kind (default 10000, 100..1000000)\n"
    "  --dir DIR    where the temporary subscriber store goes (default /dev/shm, else /tmp)\n";

static const uint8_t test_k[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                                   0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
static const uint8_t test_opc[16] = {0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e,
                                     0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf};

static void check(kms_result r, const char *what)
{
    if (!kms_ok(r)) {
        fprintf(stderr, "%s: %s: %s\n", bench_prog, what, kms_strerror(r.err));
        exit(BENCH_EXIT_FAIL);
    }
}

/* ---- the store, as imskms-bsfd adapts it ---- */

static kms_result store_get(void *ctx, const char *impi, struct kms_bsf_sub *out)
{
    struct kms_subscriber s;
    uint64_t mark = 0;
    memset(out, 0, sizeof(*out));
    kms_result r = kms_subscriber_get(ctx, impi, &s, &mark);
    if (kms_ok(r)) {
        memcpy(out->k, s.k, sizeof(out->k));
        memcpy(out->opc, s.opc, sizeof(out->opc));
        memcpy(out->amf, s.amf, sizeof(out->amf));
        memcpy(out->impu[0], s.impu[0], sizeof(out->impu[0]));
        out->n_impu = 1;
        out->sqn_mark = mark;
    }
    kms_subscriber_wipe(&s);
    return r;
}

static kms_result store_commit(void *ctx, const char *impi, uint64_t mark)
{
    return kms_subscriber_sqn_commit(ctx, impi, mark);
}

/* ---- statistics ---- */

struct stat {
    const char *name;
    double *x;
    size_t n;
    double mean, sd;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Mean and standard deviation (what Welch's t uses), and the median for reference: on a busy
 * machine a few preempted samples inflate the deviation, and the median shows the typical cost. */
static void summarise(struct stat *s)
{
    double *sorted = malloc(s->n * sizeof(double));
    if (sorted == NULL) {
        exit(BENCH_EXIT_FAIL);
    }
    memcpy(sorted, s->x, s->n * sizeof(double));
    qsort(sorted, s->n, sizeof(double), cmp_double);
    printf("%s_median_us=%.3f\n", s->name, sorted[s->n / 2]);
    free(sorted);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < s->n; i++) {
        sum += s->x[i];
    }
    s->mean = sum / (double)s->n;
    for (size_t i = 0; i < s->n; i++) {
        sq += (s->x[i] - s->mean) * (s->x[i] - s->mean);
    }
    s->sd = sqrt(sq / (double)(s->n - 1));
    printf("%s_mean_us=%.3f\n%s_sd_us=%.3f\n", s->name, s->mean, s->name, s->sd);
}

static void welch(const struct stat *a, const struct stat *b)
{
    double se = sqrt(a->sd * a->sd / (double)a->n + b->sd * b->sd / (double)b->n);
    double t = se > 0 ? (a->mean - b->mean) / se : 0;
    printf("welch_t_%s_vs_%s=%.2f\n", a->name, b->name, t);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A random index below n (rejection sampling over the DRBG). */
static size_t pick(size_t n)
{
    uint32_t r = 0, lim = UINT32_MAX - UINT32_MAX % (uint32_t)n;
    do {
        check(kms_random((uint8_t *)&r, sizeof(r)), "random");
    } while (r >= lim);
    return r % n;
}

static void shuffle(uint8_t *k, size_t n)
{
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = pick(i + 1);
        uint8_t t = k[i];
        k[i] = k[j];
        k[j] = t;
    }
}

/* ---- requests ---- */

struct bench {
    struct kms_bsf *b;
    struct kms_subscriber_db *db;
    uint64_t now;
};

static double timed_ub(struct bench *x, const char *auth, struct kms_bsf_ub_reply *r)
{
    kms_bsf_ub_reply_init(r);
    double t0 = now_us();
    kms_result rc = kms_bsf_ub(x->b, auth, "GET", "/", NULL, 0, x->now, r);
    double t = now_us() - t0;
    check(rc, "kms_bsf_ub");
    return t;
}

static void request_header(const char *impi, char *out, size_t cap)
{
    snprintf(out, cap,
             "Digest username=\"%s\", realm=\"" REALM "\", nonce=\"\", uri=\"/\", response=\"\"",
             impi);
}

/* One challenge request for impi: its time, and its nonce into nonce (when non-NULL). */
static double challenge(struct bench *x, const char *impi, char nonce[KMS_DIGEST_VALUE_MAX + 1])
{
    char auth[512];
    struct kms_bsf_ub_reply r;
    request_header(impi, auth, sizeof(auth));
    double t = timed_ub(x, auth, &r);
    if (r.status != 401 || kms_buf_len(&r.www_authenticate) == 0) {
        fprintf(stderr, "%s: %s: status %d (%s)\n", bench_prog, impi, r.status,
                kms_err_name(r.why));
        exit(BENCH_EXIT_FAIL);
    }
    if (nonce != NULL) {
        struct kms_digest_params p;
        check(kms_digest_parse_challenge((const char *)kms_buf_data(&r.www_authenticate),
                                         kms_buf_len(&r.www_authenticate) - 1, &p),
              "challenge");
        snprintf(nonce, KMS_DIGEST_VALUE_MAX + 1, "%s", kms_digest_get(&p, KMS_DIGEST_NONCE));
    }
    kms_bsf_ub_reply_cleanup(&r);
    (void)kms_bsf_refill(x->b, x->now); /* the daemon's tick, off the request path */
    return t;
}

/* A resynchronisation answer to nonce with an AUTS that does not verify: its time. */
static double bad_auts(struct bench *x, const char *impi, const char *nonce)
{
    uint8_t auts[KMS_DIGEST_AUTS_LEN];
    char auts_b64[KMS_DIGEST_AUTS_BUF], response[KMS_DIGEST_HEX_BUF], auth[1024];
    check(kms_random(auts, sizeof(auts)), "random");
    check(kms_digest_auts_encode(auts, auts_b64), "auts");
    struct kms_digest_req q = {.username = impi,
                               .realm = REALM,
                               .nonce = nonce,
                               .uri = "/",
                               .qop = "auth-int",
                               .nc = "00000001",
                               .cnonce = "0a4f113b",
                               .method = "GET"};
    check(kms_digest_response((const uint8_t *)"", 0, &q, response), "response");
    snprintf(auth, sizeof(auth),
             "Digest username=\"%s\", realm=\"" REALM "\", nonce=\"%s\", uri=\"/\", "
             "response=\"%s\", algorithm=AKAv1-MD5, qop=auth-int, nc=00000001, "
             "cnonce=\"0a4f113b\", auts=\"%s\"",
             impi, nonce, response, auts_b64);
    struct kms_bsf_ub_reply r;
    double t = timed_ub(x, auth, &r);
    if (r.status != 401 || r.why != KMS_ERR_MAC_S) {
        fprintf(stderr, "%s: AUTS for %s: status %d (%s)\n", bench_prog, impi, r.status,
                kms_err_name(r.why));
        exit(BENCH_EXIT_FAIL);
    }
    kms_bsf_ub_reply_cleanup(&r);
    return t;
}

/* ---- set-up ---- */

static void add_subscribers(struct kms_subscriber_db *db, size_t n)
{
    struct kms_subscriber s;
    memset(&s, 0, sizeof(s));
    memcpy(s.k, test_k, sizeof(s.k));
    memcpy(s.opc, test_opc, sizeof(s.opc));
    s.n_impu = 1;
    for (size_t i = 0; i < n; i++) {
        snprintf(s.impi, sizeof(s.impi), "ue%zu@bench.example.org", i);
        snprintf(s.impu[0], sizeof(s.impu[0]), "sip:ue%zu@bench.example.org", i);
        check(kms_subscriber_add(db, &s, 0), "subscriber add");
    }
    kms_subscriber_wipe(&s);
}

/* Every subscriber's first range, as imskms-bsfd reserves them before serving. */
static void preload(struct bench *x, size_t n)
{
    char **impi = calloc(n, sizeof(*impi));
    uint64_t *mark = calloc(n, sizeof(*mark));
    if (impi == NULL || mark == NULL) {
        exit(BENCH_EXIT_FAIL);
    }
    for (size_t i = 0; i < n; i++) {
        impi[i] = malloc(64);
        if (impi[i] == NULL) {
            exit(BENCH_EXIT_FAIL);
        }
        snprintf(impi[i], 64, "ue%zu@bench.example.org", i);
        check(kms_bsf_preload_plan(x->b, impi[i], 0, x->now, &mark[i]), "preload");
    }
    check(kms_subscriber_sqn_commit_many(x->db, n, (const char *const *)impi, mark), "commit");
    for (size_t i = 0; i < n; i++) {
        check(kms_bsf_preload_done(x->b, impi[i], mark[i], x->now), "preload");
        free(impi[i]);
    }
    free(impi);
    free(mark);
}

static void parse(int argc, char **argv, size_t *samples, const char **dir)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (i + 1 < argc && strcmp(argv[i], "--samples") == 0) {
            char *end = NULL;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || v < 100 || v > 1000000) {
                fprintf(stderr, "%s: --samples: 100..1000000\n", bench_prog);
                exit(BENCH_EXIT_USAGE);
            }
            *samples = v;
        } else if (i + 1 < argc && strcmp(argv[i], "--dir") == 0) {
            *dir = argv[++i];
        } else {
            fputs(usage_text, stderr);
            exit(BENCH_EXIT_USAGE);
        }
    }
}

int main(int argc, char **argv)
{
    size_t samples = 10000;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    parse(argc, argv, &samples, &dir);
    char tmpl[512], path[600];
    snprintf(tmpl, sizeof(tmpl), "%s/bench_bsf_timing.XXXXXX", dir);
    if (mkdtemp(tmpl) == NULL) {
        perror(tmpl);
        return BENCH_EXIT_FAIL;
    }
    snprintf(path, sizeof(path), "%s/subscribers.db", tmpl);
    uint8_t kek[KMS_KEK_LEN], ckey[KMS_BSF_KEY_LEN];
    check(kms_random(kek, sizeof(kek)), "random");
    struct bench x = {.now = NOW};
    check(kms_subscriber_db_open(path, kek, true, &x.db), "subscriber store");
    check(kms_kek_derive(kek, KMS_KEK_CHALLENGE_SEAL, 1, ckey), "challenge key");
    kms_wipe(kek, sizeof(kek));
    size_t n_subs = samples + POOL;
    add_subscribers(x.db, n_subs);
    struct kms_bsf_store bs = {x.db, store_get, store_commit};
    /* As the daemon, but with buckets that never run dry (the bench asks fast) and room for
     * every subscriber's state. */
    struct kms_bsf_cfg cfg = {.realm = REALM,
                              .lifetime = 3600,
                              .rate_burst = 1u << 30,
                              .rate_period = 1,
                              .max_identities = n_subs + 1024,
                              .challenge_key = ckey};
    check(kms_bsf_new(&cfg, &bs, &x.b), "bsf");
    kms_wipe(ckey, sizeof(ckey));
    preload(&x, n_subs);

    /* Challenges: first (ue POOL..), later (ue 0..POOL-1, each challenged once beforehand),
     * unknown (new names), in one random order. */
    for (size_t i = 0; i < POOL; i++) {
        char impi[64];
        snprintf(impi, sizeof(impi), "ue%zu@bench.example.org", i);
        (void)challenge(&x, impi, NULL);
    }
    size_t total = 3 * samples;
    uint8_t *kind = malloc(total);
    double *t = malloc(5 * samples * sizeof(double));
    if (kind == NULL || t == NULL) {
        return BENCH_EXIT_FAIL;
    }
    for (size_t i = 0; i < total; i++) {
        kind[i] = (uint8_t)(i % 3);
    }
    shuffle(kind, total);
    struct stat st[5] = {{"first", t, 0, 0, 0},
                         {"later", t + samples, 0, 0, 0},
                         {"unknown", t + 2 * samples, 0, 0, 0},
                         {"auts_real", t + 3 * samples, 0, 0, 0},
                         {"auts_fake", t + 4 * samples, 0, 0, 0}};
    /* Warm-up, not counted. */
    for (size_t i = 0; i < 1000; i++) {
        char impi[64];
        snprintf(impi, sizeof(impi), "warm%zu@nowhere.example.org", i);
        (void)challenge(&x, impi, NULL);
    }
    for (size_t i = 0; i < total; i++) {
        char impi[64];
        struct stat *s = &st[kind[i]];
        if (kind[i] == 0) {
            snprintf(impi, sizeof(impi), "ue%zu@bench.example.org", POOL + s->n);
        } else if (kind[i] == 1) {
            snprintf(impi, sizeof(impi), "ue%zu@bench.example.org", pick(POOL));
        } else {
            snprintf(impi, sizeof(impi), "made-up%zu@nowhere.example.org", s->n);
        }
        s->x[s->n++] = challenge(&x, impi, NULL);
        x.now += (i % 1000) == 999; /* about a thousand requests a second */
    }

    /* Failing AUTS: a challenge (untimed), then its answer with a random AUTS (timed). */
    total = 2 * samples;
    for (size_t i = 0; i < total; i++) {
        kind[i] = (uint8_t)(3 + i % 2);
    }
    shuffle(kind, total);
    for (size_t i = 0; i < total; i++) {
        char impi[64], nonce[KMS_DIGEST_VALUE_MAX + 1];
        struct stat *s = &st[kind[i]];
        if (kind[i] == 3) {
            snprintf(impi, sizeof(impi), "ue%zu@bench.example.org", pick(POOL));
        } else {
            snprintf(impi, sizeof(impi), "auts%zu@nowhere.example.org", s->n);
        }
        (void)challenge(&x, impi, nonce);
        s->x[s->n++] = bad_auts(&x, impi, nonce);
        x.now += (i % 1000) == 999;
    }

    printf("samples=%zu\n", samples);
    for (int i = 0; i < 5; i++) {
        summarise(&st[i]);
    }
    welch(&st[0], &st[2]);
    welch(&st[1], &st[2]);
    welch(&st[0], &st[1]);
    welch(&st[3], &st[4]);
    struct kms_bsf_stats bst;
    kms_bsf_stats(x.b, &bst);
    printf("sync_reserves=%llu\nfake_resyncs=%llu\n", (unsigned long long)bst.sync_reserves,
           (unsigned long long)bst.fake_resyncs);
    kms_bsf_free(x.b);
    kms_subscriber_db_close(x.db);
    free(kind);
    free(t);
    (void)unlink(path);
    char aux[700];
    snprintf(aux, sizeof(aux), "%s-wal", path);
    (void)unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", path);
    (void)unlink(aux);
    (void)rmdir(tmpl);
    return 0;
}
