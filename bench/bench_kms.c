/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_kms: the three modes' costs, measured against a running imskms-kmsd (and imskms-bsfd
 * for the bootstraps), beside the same client posting to a static baseline server (nginx) in
 * the same run. bench/run_kms.sh starts the servers and runs this.
 *
 * Cases (each operation is the UE's whole part, checked: a request built and MACed, the answer
 * verified and decrypted under the UE's key; a failure is counted by kind, never ignored):
 *   baseline         one POST-sized GET with a body of a ticket request's size, answered with a
 *                    static file of a REQUEST_RESP's size (nginx discards the body);
 *   floor            (with --floor) a POST of a mode-3 ticket request's size to bench/mhd_floor,
 *                    a minimal libmicrohttpd server answering a fixed body: the least our HTTP
 *                    stack can cost, a second baseline;
 *   kue_issue_mode3  a Kue issue (REQUEST_INIT_PSK under Ks_NAF) answered with a sealed Kue;
 *   kue_issue_mode2  the same answered with a Kue reference (the KMS stores the Kue: one
 *                    SQLite commit per issue);
 *   request_mode3    a ticket request under a mode-3 Kue (the KMS opens the sealed Kue);
 *   request_mode2    the same under a mode-2 Kue (the KMS reads the stored record);
 *   exchange_mode1   a fresh GBA bootstrap over Ub (two round trips to the BSF) and a ticket
 *                    request keyed by Kue1 from it (the KMS asks the BSF over Zn for each new
 *                    B-TID).
 * Before the timed rounds every client thread bootstraps once and gets one Kue of each mode
 * (untimed). Rounds interleave the cases; figures are medians over the rounds and each ratio
 * is taken per round against that round's baseline (and the floor's). Each operation's latency
 * is kept (up to LAT_MAX per thread) for NAME_p50_us / _p99_us (medians of the rounds'
 * percentiles). Without --baseline only the KMS's cases run (no ratios).
 *
 * --kms may name several nodes of one KMS fleet (bench/run_fleet.sh: one FQDN, one keyring, one
 * Redis): client thread i posts to node i mod n; the untimed setup gets its Kues from the first,
 * so that the other nodes serve requests under Kues another node issued.
 *
 * --fill N: instead, issues N Kues of --fill-mode as fast as the threads can, and prints the
 * KMS's resident memory (/proc/PID/status VmRSS) and the state store's size on disk (the
 * database file and its WAL) at checkpoints: the state each mode leaves per Kue.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_common.h"
#include "bench_http.h"
#include "crypto/kms_kdf.h"
#include "crypto/kms_ossl.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_ticket_msg.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

const char bench_prog[] = "bench_kms";

#define MAX_THREADS 64
#define MSG_CAP     8192
#define BASE_FILE   "/mikey-resp.bin"
#define BASE_BODY   384  /* about a mode-3 ticket request */
#define POOL_SLOT   1024 /* a prebuilt request (a mode-3 ticket request is about 420) */
#define PREBUILD_PER_S                                                                             \
    15000                   /* per thread and second of a phase (about twice what 4 threads get)   \
                             */
#define PREBUILD_MAX 131072 /* per thread */
#define VERIFY_EVERY 16     /* prepared answers opened in full: one in 16 */
#define LAT_MAX      200000 /* latencies kept per thread and phase */
#define MAX_KMS      8      /* --kms URLs */

enum kcase { C_BASE, C_FLOOR, C_ISSUE3, C_ISSUE2, C_REQ3, C_REQ2, C_MODE1, C_N, C_COLD = C_N };
static const char *const case_names[C_N] = {"baseline",        "floor",         "kue_issue_mode3",
                                            "kue_issue_mode2", "request_mode3", "request_mode2",
                                            "exchange_mode1"};
static const char *const case_what[C_N] = {
    "baseline (static file)",      "floor (minimal MHD POST)", "Kue issue, mode 3",
    "Kue issue, mode 2",           "ticket request, mode 3",   "ticket request, mode 2",
    "mode-1 exchange (+bootstrap)"};

static const char usage_text[] =
    "usage: bench_kms --kms URL[,URL...] --bsf URL [--baseline URL] [--realm FQDN]\n"
    "                 [--kms-fqdn FQDN] [--threads T] [--subscribers N] [--seconds S]\n"
    "                 [--rounds R] [--cases LIST] [--kms-pid PID] [--baseline-pid PID]\n"
    "                 [--floor URL [--floor-pid PID]]\n"
    "       bench_kms --kms URL --bsf URL --fill N --fill-mode 2|3 --kms-pid PID\n"
    "                 --state-db PATH [--threads T] [--realm FQDN] [--kms-fqdn FQDN]\n"
    "       bench_kms --setup-db PATH --kek-file FILE [--subscribers N]\n"
    "\n"
    "Kue issues, ticket requests and mode-1 exchanges per second against imskms-kmsd, beside\n"
    "the same client against a static --baseline (nginx) and optionally a minimal\n"
    "libmicrohttpd server (--floor, bench/mhd_floor), in interleaved rounds; or, with\n"
    "--fill, the KMS's memory and store size as Kues accumulate. Normally run by\n"
    "bench/run_kms.sh (see docs/performance.md and docs/modes.md).\n"
    "\n"
    "  --kms URL[,URL...]  the KMS, http://127.0.0.1:PORT/mikey, or up to 8 nodes of one fleet\n"
    "                      (one FQDN and keyring): thread i posts to node i mod n, the setup's\n"
    "                      Kues come from the first\n"
    "  --bsf URL           the BSF's Ub, http://127.0.0.1:PORT/\n"
    "  --baseline URL      the static server, http://127.0.0.1:PORT/ (serving " BASE_FILE ");\n"
    "                      without it, the KMS's cases only (no ratios)\n"
    "  --floor URL         the floor server, http://127.0.0.1:PORT/mikey (bench/mhd_floor):\n"
    "                      POSTs of a mode-3 ticket request's size; each case's ratio to it is\n"
    "                      also printed (NAME_floor_ratio)\n"
    "  --realm FQDN        the realm the BSF announces (default bsf.bench.example.org)\n"
    "  --kms-fqdn FQDN     the KMS's FQDN (default kms.example.org)\n"
    "  --threads T         client threads, one keep-alive connection per server each\n"
    "                      (default 4, 1..64)\n"
    "  --subscribers N     IMPIs ue0..ue<N-1>@bench.example.org (default 20000, 1..60000);\n"
    "                      mode-1 exchanges cycle through them (the BSF rate-limits each)\n"
    "  --seconds S         time per case per round (default 0.5, at most 60)\n"
    "  --rounds R          interleaved rounds (default 5, 1..101)\n"
    "  --cases LIST        comma-separated cases (default all): kue_issue_mode3,\n"
    "                      kue_issue_mode2, request_mode3, request_mode2, exchange_mode1\n"
    "  --kms-pid PID       also report the KMS's CPU time per operation (from /proc; with\n"
    "                      several --kms nodes: the first node's)\n"
    "  --baseline-pid PID  also report the baseline server's CPU time per request\n"
    "  --floor-pid PID     also report the floor server's CPU time per request\n"
    "  --fill N            issue N Kues (1..100000000) and report memory and store size\n"
    "  --fill-mode 2|3     the mode of the Kues --fill issues\n"
    "  --state-db PATH     the KMS's state store (for its size)\n"
    "  --setup-db PATH     create a subscriber store with the N subscribers (K, OP of TS 35.208\n"
    "                      test set 1), sealed under --kek-file, and exit\n"
    "Output: name=value lines (NAME_per_s, NAME_p50_us, NAME_p99_us, ...; kms_posts: every POST\n"
    "the KMS answered, the setup's included); table lines start with '#'. Exit 0, 2 on bad\n"
    "usage, 3 when the setup or a connection fails. Failed operations are counted (failures=),\n"
    "not fatal.\n";

/* ---- options ---- */

struct opts {
    const char *kms_url, *bsf_url, *base_url, *floor_url, *realm, *fqdn, *setup_db, *kek_file,
        *state_db;
    struct bench_target kms[MAX_KMS], bsf, base, floor;
    unsigned n_kms, threads, subs, rounds, fill_mode;
    double seconds;
    long kms_pid, base_pid, floor_pid;
    uint64_t fill;
    bool want[C_N];
};

static void parse_cases(const char *list, struct opts *o)
{
    for (int k = C_ISSUE3; k < C_N; k++) {
        o->want[k] = false;
    }
    const char *p = list;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int k = C_ISSUE3; k < C_N; k++) {
            if (strlen(case_names[k]) == n && strncmp(p, case_names[k], n) == 0) {
                found = k;
            }
        }
        if (found < 0) {
            bench_usage("--cases: unknown case", p);
        }
        o->want[found] = true;
        p += n + (p[n] == ',');
    }
}

/* --kms URL[,URL...] into o->kms[0..n_kms-1]. */
static void parse_kms_urls(const char *list, struct opts *o)
{
    const char *p = list;
    o->n_kms = 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        char url[512];
        if (o->n_kms == MAX_KMS) {
            bench_usage("--kms: at most 8 URLs", list);
        }
        if (n == 0 || n >= sizeof(url)) {
            bench_usage("--kms: an empty or overlong URL", list);
        }
        memcpy(url, p, n);
        url[n] = '\0';
        bench_parse_url("--kms", url, &o->kms[o->n_kms++]);
        if (p[n] == '\0') {
            break;
        }
        p += n + 1;
    }
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->realm = "bsf.bench.example.org";
    o->fqdn = "kms.example.org";
    o->threads = 4;
    o->subs = 20000;
    o->rounds = 5;
    o->seconds = 0.5;
    for (int k = 0; k < C_N; k++) {
        o->want[k] = true;
    }
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
        if (strcmp(a, "--kms") == 0) {
            o->kms_url = v;
        } else if (strcmp(a, "--bsf") == 0) {
            o->bsf_url = v;
        } else if (strcmp(a, "--baseline") == 0) {
            o->base_url = v;
        } else if (strcmp(a, "--floor") == 0) {
            o->floor_url = v;
        } else if (strcmp(a, "--realm") == 0) {
            o->realm = v;
        } else if (strcmp(a, "--kms-fqdn") == 0) {
            o->fqdn = v;
        } else if (strcmp(a, "--setup-db") == 0) {
            o->setup_db = v;
        } else if (strcmp(a, "--kek-file") == 0) {
            o->kek_file = v;
        } else if (strcmp(a, "--state-db") == 0) {
            o->state_db = v;
        } else if (strcmp(a, "--cases") == 0) {
            parse_cases(v, o);
        } else if (strcmp(a, "--threads") == 0) {
            o->threads = (unsigned)bench_num("--threads wants 1..64", v, 1, MAX_THREADS);
        } else if (strcmp(a, "--subscribers") == 0) {
            o->subs = (unsigned)bench_num("--subscribers wants 1..60000", v, 1, BENCH_MAX_SUBS);
        } else if (strcmp(a, "--rounds") == 0) {
            o->rounds = (unsigned)bench_num("--rounds wants 1..101", v, 1, BENCH_MAX_ROUNDS);
        } else if (strcmp(a, "--kms-pid") == 0) {
            o->kms_pid = (long)bench_num("--kms-pid wants a process id", v, 1, 1L << 30);
        } else if (strcmp(a, "--baseline-pid") == 0) {
            o->base_pid = (long)bench_num("--baseline-pid wants a process id", v, 1, 1L << 30);
        } else if (strcmp(a, "--floor-pid") == 0) {
            o->floor_pid = (long)bench_num("--floor-pid wants a process id", v, 1, 1L << 30);
        } else if (strcmp(a, "--fill") == 0) {
            o->fill = (uint64_t)bench_num("--fill wants 1..100000000", v, 1, 100000000);
        } else if (strcmp(a, "--fill-mode") == 0) {
            o->fill_mode = (unsigned)bench_num("--fill-mode wants 2 or 3", v, 2, 3);
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
    if (o->kms_url == NULL || o->bsf_url == NULL) {
        bench_usage("--kms and --bsf are required", NULL);
    }
    if (!kms_ok(kms_ident_check_fqdn(o->fqdn, strlen(o->fqdn)))) {
        bench_usage("--kms-fqdn: not an FQDN", o->fqdn);
    }
    parse_kms_urls(o->kms_url, o);
    bench_parse_url("--bsf", o->bsf_url, &o->bsf);
    if (o->fill != 0) {
        if (o->fill_mode == 0 || o->kms_pid == 0 || o->state_db == NULL) {
            bench_usage("--fill needs --fill-mode, --kms-pid and --state-db", NULL);
        }
        return;
    }
    o->want[C_BASE] = o->base_url != NULL;
    if (o->base_url != NULL) {
        bench_parse_url("--baseline", o->base_url, &o->base);
    }
    o->want[C_FLOOR] = o->floor_url != NULL;
    if (o->floor_url != NULL) {
        bench_parse_url("--floor", o->floor_url, &o->floor);
    }
}

/* ---- what each client thread holds ---- */

struct ue_keys {
    unsigned sub; /* subscriber index */
    char impi[64];
    struct bench_boot boot;
    uint8_t ks_naf[32];
    uint8_t kue[4][KMS_KUE_LEN]; /* [2] and [3]: the Kue of that mode */
    uint8_t tok[4][KMS_TICKET_MAX];
    size_t tok_len[4];
};

struct sub {
    atomic_flag busy;
    uint32_t uses;
    struct kms_sqn_ms sqn;
};

struct shared {
    const struct opts *o;
    struct ue_keys *keys; /* one per thread */
    struct sub *subs;
    atomic_uint_fast64_t next_sub;
    atomic_uint_fast64_t issued; /* --fill */
    atomic_bool stop;
    pthread_barrier_t start;
    enum kcase kase;
    uint8_t base_body[BASE_BODY];
    uint8_t floor_body[MSG_CAP];
    size_t floor_len; /* a mode-3 ticket request's size, measured at setup */
    uint64_t verified, unverified, built_live; /* KMS answers opened / only checked; requests
                                                  built during a timed phase */
    uint64_t posts; /* POSTs the KMS answered (any status), the setup's included */
    uint64_t ok[MAX_THREADS], fail[MAX_THREADS][BENCH_F_N];
    struct bench_lat lat[MAX_THREADS]; /* microseconds per operation, per thread */
};

struct worker {
    struct shared *sh;
    unsigned idx;
    struct bench_conn kms, bsf, base, floor;
    struct kms_milenage *m;
    uint64_t cnonce_ctr;
    int conn_err;
    size_t req_len, resp_len; /* of the last exchange with the KMS */
    uint8_t *pool;            /* prebuilt requests, POOL_SLOT octets each */
    size_t *pool_len;
    size_t pool_n, pool_next;
    uint64_t verified, unverified, built_live, posts;
};

static enum bench_fail post(struct worker *w, const struct kms_buf *req, struct bench_resp *r)
{
    struct bench_conn *c = &w->kms;
    if (bench_http(c, "POST", c->t->path, NULL, NULL, "application/mikey", kms_buf_data(req),
                   kms_buf_len(req), r) != 0) {
        return BENCH_F_HTTP;
    }
    w->posts++;
    w->req_len = kms_buf_len(req);
    w->resp_len = r->body_len;
    if (r->status != 200) {
        return r->status == 429 ? BENCH_F_RATE : BENCH_F_STATUS;
    }
    return BENCH_F_N;
}

/* Builds a Kue issue of `mode` with u's Ks_NAF into out. */
static void build_issue(const struct opts *o, const struct ue_keys *u, uint8_t mode,
                        struct kms_buf *out)
{
    struct kms_kue_request q;
    memset(&q, 0, sizeof(q));
    q.mode = mode;
    snprintf(q.idri, sizeof(q.idri), "%s", u->impi);
    snprintf(q.idrkms, sizeof(q.idrkms), "%s", o->fqdn);
    snprintf(q.btid, sizeof(q.btid), "%s", u->boot.btid);
    bench_check(kms_random(q.randri, sizeof(q.randri)), "random");
    q.ntp = kms_mikey_ntp_now();
    bench_check(kms_kue_request_build(&q, u->ks_naf, out), "kue request");
}

/* Builds a ticket request for the callee ue0, keyed by kue with IDRpsk = token, into out. */
static void build_request(const struct opts *o, const char *idri, const uint8_t *token,
                          size_t token_len, const uint8_t kue[KMS_KUE_LEN],
                          const uint8_t randri[16], struct kms_buf *out)
{
    struct kms_preq *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        bench_fail("out of memory");
    }
    snprintf(q->idri, sizeof(q->idri), "%s", idri);
    snprintf(q->idrkms, sizeof(q->idrkms), "%s", o->fqdn);
    snprintf(q->idrr, sizeof(q->idrr), BENCH_IMPU_FMT, 0u);
    memcpy(q->psk_id, token, token_len);
    q->psk_id_len = token_len;
    memcpy(q->rand, randri, 16);
    q->ntp = kms_mikey_ntp_now();
    q->kind = KMS_PREQ_REQUEST;
    bench_check(kms_preq_build(q, kue, out), "ticket request");
    free(q);
}

/* Posts req and checks the answer: always its status and MIKEY data type; when verify, also
 * opens it under key (Ks_NAF for a Kue issue, the Kue for a ticket request), keeping a Kue
 * grant in *keep when not NULL. */
static enum bench_fail send_checked(struct worker *w, bool issue, const uint8_t *req, size_t len,
                                    const uint8_t key[32], bool verify, struct kms_kue_grant *keep)
{
    struct kms_buf rb;
    kms_buf_init_fixed(&rb, (uint8_t *)(uintptr_t)req, len, false);
    rb.len = len;
    struct bench_resp r;
    enum bench_fail f = post(w, &rb, &r);
    if (f != BENCH_F_N) {
        return f;
    }
    /* RFC 3830 6.1: the data type is the header's second octet; 13 = REQUEST_RESP. */
    if (r.body_len < 2 || r.body[1] != 13) {
        return BENCH_F_KMS;
    }
    if (!verify) {
        w->unverified++;
        return BENCH_F_N;
    }
    w->verified++;
    kms_result vr;
    if (issue) {
        struct kms_kue_grant g;
        vr = kms_kue_response_open(req, len, r.body, r.body_len, key, &g);
        if (kms_ok(vr) && keep != NULL) {
            *keep = g;
        }
        kms_wipe(&g, sizeof(g));
    } else {
        struct kms_tgrant *g = calloc(1, sizeof(*g));
        if (g == NULL) {
            bench_fail("out of memory");
        }
        vr = kms_tresp_open(req, len, r.body, r.body_len, key, g);
        kms_wipe(g, sizeof(*g));
        free(g);
    }
    return kms_ok(vr) ? BENCH_F_N : BENCH_F_KMS;
}

/* A Kue issue of `mode` with u's Ks_NAF, verified; the grant is kept in u when keep. */
static enum bench_fail kue_issue(struct worker *w, struct ue_keys *u, uint8_t mode, bool keep)
{
    uint8_t store[MSG_CAP];
    struct kms_buf req;
    kms_buf_init_fixed(&req, store, sizeof(store), false);
    build_issue(w->sh->o, u, mode, &req);
    struct kms_kue_grant g;
    memset(&g, 0, sizeof(g));
    enum bench_fail f = send_checked(w, true, store, kms_buf_len(&req), u->ks_naf, true, &g);
    if (f == BENCH_F_N && keep) {
        if (g.mode != mode) {
            f = BENCH_F_KMS;
        }
        memcpy(u->kue[mode], g.kue, KMS_KUE_LEN);
        memcpy(u->tok[mode], g.ticket, g.ticket_len);
        u->tok_len[mode] = g.ticket_len;
    }
    kms_wipe(&g, sizeof(g));
    return f;
}

/* A ticket request keyed by kue with IDRpsk = token, verified. */
static enum bench_fail ticket_request(struct worker *w, const char *idri, const uint8_t *token,
                                      size_t token_len, const uint8_t kue[KMS_KUE_LEN],
                                      const uint8_t randri[16])
{
    uint8_t store[MSG_CAP];
    struct kms_buf req;
    kms_buf_init_fixed(&req, store, sizeof(store), false);
    build_request(w->sh->o, idri, token, token_len, kue, randri, &req);
    return send_checked(w, false, store, kms_buf_len(&req), kue, true, NULL);
}

static void build_mode(struct worker *w, unsigned mode, struct kms_buf *out)
{
    struct ue_keys *u = &w->sh->keys[w->idx];
    uint8_t rnd[16];
    bench_check(kms_random(rnd, sizeof(rnd)), "random");
    build_request(w->sh->o, u->impi, u->tok[mode], u->tok_len[mode], u->kue[mode], rnd, out);
}

static enum bench_fail request_mode(struct worker *w, unsigned mode)
{
    uint8_t store[MSG_CAP];
    struct kms_buf req;
    kms_buf_init_fixed(&req, store, sizeof(store), false);
    build_mode(w, mode, &req);
    return send_checked(w, false, store, kms_buf_len(&req), w->sh->keys[w->idx].kue[mode], true,
                        NULL);
}

/* The case's requests, built before the timed phase (a load generator replays prepared
 * requests; building MIKEY messages is the UEs' work, not the server's). */
static void prebuild(struct worker *w, enum kcase k)
{
    const struct opts *o = w->sh->o;
    struct ue_keys *u = &w->sh->keys[w->idx];
    w->pool_n = 0;
    w->pool_next = 0;
    if (k != C_ISSUE3 && k != C_ISSUE2 && k != C_REQ3 && k != C_REQ2) {
        return;
    }
    size_t want = (size_t)(o->seconds * PREBUILD_PER_S) + 1;
    want = want > PREBUILD_MAX ? PREBUILD_MAX : want;
    if (w->pool == NULL) {
        w->pool = malloc(PREBUILD_MAX * POOL_SLOT);
        w->pool_len = malloc(PREBUILD_MAX * sizeof(*w->pool_len));
        if (w->pool == NULL || w->pool_len == NULL) {
            bench_fail("out of memory");
        }
    }
    for (size_t i = 0; i < want; i++) {
        struct kms_buf b;
        kms_buf_init_fixed(&b, w->pool + i * POOL_SLOT, POOL_SLOT, false);
        if (k == C_ISSUE3 || k == C_ISSUE2) {
            build_issue(o, u, k == C_ISSUE3 ? 3 : 2, &b);
        } else {
            build_mode(w, k == C_REQ3 ? 3 : 2, &b);
        }
        w->pool_len[i] = kms_buf_len(&b);
    }
    w->pool_n = want;
}

/* Sends the next prepared request of case k (every VERIFY_EVERY-th answer opened in full);
 * when none is left, builds one now (the client's work then counts in the rate). */
static enum bench_fail prepared(struct worker *w, enum kcase k)
{
    struct ue_keys *u = &w->sh->keys[w->idx];
    bool issue = k == C_ISSUE3 || k == C_ISSUE2;
    unsigned mode = k == C_ISSUE3 || k == C_REQ3 ? 3 : 2;
    if (w->pool_next >= w->pool_n) {
        w->built_live++;
        return issue ? kue_issue(w, u, (uint8_t)mode, false) : request_mode(w, mode);
    }
    size_t i = w->pool_next++;
    return send_checked(w, issue, w->pool + i * POOL_SLOT, w->pool_len[i],
                        issue ? u->ks_naf : u->kue[mode], i % VERIFY_EVERY == 0, NULL);
}

/* Takes the next subscriber no other thread holds (mode 1 cycles through them all). */
static unsigned take_sub(struct shared *sh)
{
    for (;;) {
        unsigned i = (unsigned)(atomic_fetch_add(&sh->next_sub, 1) % sh->o->subs);
        if (!atomic_flag_test_and_set(&sh->subs[i].busy)) {
            return i;
        }
    }
}

/* Ks_NAF for the KMS from a bootstrap of subscriber `sub`. */
static void ks_naf_of(const struct opts *o, const struct bench_boot *b, const char *impi,
                      uint8_t ks_naf[32])
{
    bench_check(kms_gba_ks_naf(b->ck, b->ik, b->rand, impi, strlen(impi), o->fqdn, strlen(o->fqdn),
                               KMS_UA_ID_KMS, ks_naf),
                "Ks_NAF");
}

/* A mode-1 exchange: a fresh bootstrap, then a ticket request keyed by Kue1. */
static enum bench_fail exchange_mode1(struct worker *w)
{
    const struct opts *o = w->sh->o;
    unsigned i = take_sub(w->sh);
    struct sub *s = &w->sh->subs[i];
    s->uses++;
    struct bench_boot b;
    enum bench_fail f = bench_ub_bootstrap(&w->bsf, o->bsf.path, o->realm, i, w->m, &s->sqn, w->idx,
                                           &w->cnonce_ctr, &b);
    atomic_flag_clear(&s->busy);
    if (f != BENCH_F_N) {
        kms_wipe(&b, sizeof(b));
        return f;
    }
    char impi[64];
    snprintf(impi, sizeof(impi), BENCH_IMPI_FMT, i);
    uint8_t ks_naf[32], kue1[KMS_KUE_LEN], rnd[16];
    ks_naf_of(o, &b, impi, ks_naf);
    bench_check(kms_random(rnd, sizeof(rnd)), "random");
    bench_check(kms_kue1_derive(ks_naf, rnd, kue1), "Kue1");
    f = ticket_request(w, impi, (const uint8_t *)b.btid, strlen(b.btid), kue1, rnd);
    kms_wipe(&b, sizeof(b));
    kms_wipe(ks_naf, sizeof(ks_naf));
    kms_wipe(kue1, sizeof(kue1));
    return f;
}

/* The untimed cold pass before mode 1: each subscriber's first challenge since the BSF started
 * reserves a range of SQNs (a durable write), which is not what a mode-1 exchange costs. */
static enum bench_fail cold_bootstrap(struct worker *w)
{
    const struct opts *o = w->sh->o;
    uint64_t i = atomic_fetch_add(&w->sh->next_sub, 1);
    if (i >= o->subs) {
        atomic_store(&w->sh->stop, true);
        return BENCH_F_N;
    }
    struct sub *s = &w->sh->subs[i];
    s->uses++;
    return bench_ub_bootstrap(&w->bsf, o->bsf.path, o->realm, (unsigned)i, w->m, &s->sqn, w->idx,
                              &w->cnonce_ctr, NULL);
}

static enum bench_fail baseline(struct worker *w)
{
    struct bench_resp r;
    if (bench_http(&w->base, "GET", BASE_FILE, NULL, NULL, "application/mikey", w->sh->base_body,
                   sizeof(w->sh->base_body), &r) != 0) {
        return BENCH_F_HTTP;
    }
    return r.status == 200 && r.body_len > 0 ? BENCH_F_N : BENCH_F_STATUS;
}

static enum bench_fail floor_post(struct worker *w)
{
    struct bench_resp r;
    if (bench_http(&w->floor, "POST", w->sh->o->floor.path, NULL, NULL, "application/mikey",
                   w->sh->floor_body, w->sh->floor_len, &r) != 0) {
        return BENCH_F_HTTP;
    }
    return r.status == 200 && r.body_len > 0 ? BENCH_F_N : BENCH_F_STATUS;
}

static enum bench_fail one_op(struct worker *w, enum kcase k)
{
    switch (k) {
    case C_BASE:
        return baseline(w);
    case C_FLOOR:
        return floor_post(w);
    case C_ISSUE3:
    case C_ISSUE2:
    case C_REQ3:
    case C_REQ2:
        return prepared(w, k);
    case C_MODE1:
        return exchange_mode1(w);
    default:
        return cold_bootstrap(w);
    }
}

static int open_conns(struct worker *w)
{
    const struct opts *o = w->sh->o;
    w->kms.fd = w->bsf.fd = w->base.fd = w->floor.fd = -1;
    if (bench_conn_open(&w->kms, &o->kms[w->idx % o->n_kms]) != 0 ||
        bench_conn_open(&w->bsf, &o->bsf) != 0) {
        return -1;
    }
    if (o->floor_url != NULL && bench_conn_open(&w->floor, &o->floor) != 0) {
        return -1;
    }
    return o->base_url != NULL ? bench_conn_open(&w->base, &o->base) : 0;
}

static void close_conns(struct worker *w)
{
    bench_conn_close(&w->kms);
    bench_conn_close(&w->bsf);
    bench_conn_close(&w->base);
    bench_conn_close(&w->floor);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    w->conn_err = open_conns(w);
    if (sh->o->fill == 0) {
        prebuild(w, sh->kase);
    }
    pthread_barrier_wait(&sh->start);
    while (w->conn_err == 0 && !atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        if (sh->o->fill != 0 && atomic_fetch_add(&sh->issued, 1) >= sh->o->fill) {
            break;
        }
        double t0 = bench_now(CLOCK_MONOTONIC);
        enum bench_fail f = sh->o->fill != 0
                                ? kue_issue(w, &sh->keys[w->idx], (uint8_t)sh->o->fill_mode, false)
                                : one_op(w, sh->kase);
        if (f == BENCH_F_N) {
            if (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
                sh->ok[w->idx]++;
                bench_lat_add(&sh->lat[w->idx], (bench_now(CLOCK_MONOTONIC) - t0) * 1e6);
            }
            continue;
        }
        sh->fail[w->idx][f]++;
        if (f == BENCH_F_HTTP) { /* a connection in an unknown state: new ones */
            close_conns(w);
            w->conn_err = open_conns(w);
        }
    }
    close_conns(w);
    return NULL;
}

struct phase_result {
    double ops_per_s, elapsed, server_cpu, client_cpu, p50_us, p99_us;
    uint64_t ok, fail[BENCH_F_N];
};

/* T threads on case k for `seconds` (0: until --fill Kues were issued). */
static void run_phase(struct shared *sh, enum kcase k, double seconds, struct phase_result *out)
{
    const struct opts *o = sh->o;
    struct worker *w = calloc(o->threads, sizeof(*w));
    pthread_t th[MAX_THREADS];
    if (w == NULL) {
        bench_fail("out of memory");
    }
    memset(out, 0, sizeof(*out));
    memset(sh->ok, 0, sizeof(sh->ok));
    memset(sh->fail, 0, sizeof(sh->fail));
    for (unsigned i = 0; i < o->threads; i++) {
        sh->lat[i].n = 0;
    }
    sh->kase = k;
    atomic_store(&sh->stop, false);
    pthread_barrier_init(&sh->start, NULL, o->threads + 1);
    for (unsigned i = 0; i < o->threads; i++) {
        w[i].sh = sh;
        w[i].idx = i;
        w[i].m = bench_ub_milenage();
        w[i].cnonce_ctr = (uint64_t)time(NULL) << 20; /* unique across phases */
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0) {
            bench_fail("pthread_create failed");
        }
    }
    long pid = k == C_BASE ? o->base_pid : k == C_FLOOR ? o->floor_pid : o->kms_pid;
    pthread_barrier_wait(&sh->start);
    double s0 = bench_proc_cpu(pid), t0 = bench_now(CLOCK_MONOTONIC);
    double c0 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
    if (seconds > 0) {
        bench_sleep(seconds);
        atomic_store(&sh->stop, true);
    }
    for (unsigned i = 0; i < o->threads; i++) {
        pthread_join(th[i], NULL);
        kms_milenage_free(w[i].m);
        if (w[i].conn_err != 0) {
            const struct bench_target *kt = &o->kms[i % o->n_kms];
            bench_fail("cannot connect (KMS %s:%s, BSF %s:%s)", kt->host, kt->port, o->bsf.host,
                       o->bsf.port);
        }
    }
    double t1 = bench_now(CLOCK_MONOTONIC), s1 = bench_proc_cpu(pid);
    double c1 = bench_now(CLOCK_PROCESS_CPUTIME_ID);
    pthread_barrier_destroy(&sh->start);
    for (unsigned i = 0; i < o->threads; i++) {
        sh->verified += w[i].verified;
        sh->unverified += w[i].unverified;
        sh->built_live += w[i].built_live;
        sh->posts += w[i].posts;
        free(w[i].pool);
        free(w[i].pool_len);
    }
    free(w);
    for (unsigned i = 0; i < o->threads; i++) {
        out->ok += sh->ok[i];
        for (int f = 0; f < BENCH_F_N; f++) {
            out->fail[f] += sh->fail[i][f];
        }
    }
    bench_lat_percentiles(sh->lat, o->threads, &out->p50_us, &out->p99_us);
    out->elapsed = t1 - t0;
    out->ops_per_s = (double)out->ok / out->elapsed;
    out->server_cpu = s0 >= 0 && s1 >= 0 ? s1 - s0 : -1;
    out->client_cpu = c1 - c0; /* includes the threads' start-up, not the prebuilding */
}

/* Untimed: every thread bootstraps once (subscriber N-1-t, outside mode 1's usual start) and
 * gets a Kue of each mode. */
static void setup_keys(struct shared *sh)
{
    const struct opts *o = sh->o;
    struct worker w;
    memset(&w, 0, sizeof(w));
    w.sh = sh;
    w.m = bench_ub_milenage();
    if (open_conns(&w) != 0) {
        bench_fail("cannot connect (KMS %s:%s, BSF %s:%s)", o->kms[0].host, o->kms[0].port,
                   o->bsf.host, o->bsf.port);
    }
    for (unsigned t = 0; t < o->threads; t++) {
        struct ue_keys *u = &sh->keys[t];
        u->sub = o->subs - 1 - (t % o->subs);
        snprintf(u->impi, sizeof(u->impi), BENCH_IMPI_FMT, u->sub);
        struct sub *s = &sh->subs[u->sub];
        enum bench_fail f = bench_ub_bootstrap(&w.bsf, o->bsf.path, o->realm, u->sub, w.m, &s->sqn,
                                               200 + t, &w.cnonce_ctr, &u->boot);
        if (f != BENCH_F_N) {
            bench_fail("setup bootstrap of %s failed: %s", u->impi, bench_fail_names[f]);
        }
        ks_naf_of(o, &u->boot, u->impi, u->ks_naf);
        for (uint8_t mode = 2; mode <= 3; mode++) {
            w.idx = t;
            f = kue_issue(&w, u, mode, true);
            if (f != BENCH_F_N) {
                bench_fail("setup Kue issue (mode %u) failed: %s", mode, bench_fail_names[f]);
            }
            if (t == 0) {
                printf("bytes_kue_issue_mode%u=%zu+%zu\n", mode, w.req_len, w.resp_len);
            }
        }
    }
    /* The sizes of one ticket request in each mode (request + response octets). */
    for (unsigned mode = 2; mode <= 3; mode++) {
        enum bench_fail f = request_mode(&w, mode);
        if (f != BENCH_F_N) {
            bench_fail("setup ticket request (mode %u) failed: %s", mode, bench_fail_names[f]);
        }
        printf("bytes_request_mode%u=%zu+%zu\n", mode, w.req_len, w.resp_len);
        if (mode == 3) {
            sh->floor_len = w.req_len; /* the floor case posts this much */
        }
    }
    sh->posts += w.posts;
    close_conns(&w);
    kms_milenage_free(w.m);
}

static uint64_t fail_total(const uint64_t *f)
{
    uint64_t n = 0;
    for (int k = 0; k < BENCH_F_N; k++) {
        n += f[k];
    }
    return n;
}

static long long file_bytes(const char *path, const char *suffix)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof(p), "%s%s", path, suffix);
    return stat(p, &st) == 0 ? (long long)st.st_size : 0;
}

/* --fill: N Kues, memory and store size at checkpoints. */
static int fill(struct shared *sh)
{
    const struct opts *o = sh->o;
    static const double marks[] = {0.01, 0.1, 0.25, 0.5, 1.0};
    long rss0 = bench_proc_rss_kib(o->kms_pid);
    long long db0 = file_bytes(o->state_db, "") + file_bytes(o->state_db, "-wal");
    printf("fill_mode=%u\nfill_kues=%llu\nthreads=%u\n", o->fill_mode, (unsigned long long)o->fill,
           o->threads);
    printf("rss_kib_at_0=%ld\nstore_bytes_at_0=%lld\n", rss0, db0);
    uint64_t done = 0, fails = 0, done10 = 0;
    long rss10 = -1;
    long long db10 = 0;
    double t0 = bench_now(CLOCK_MONOTONIC);
    for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
        uint64_t target = (uint64_t)((double)o->fill * marks[m]);
        if (target <= done) {
            continue;
        }
        struct opts step = *o;
        step.fill = target - done;
        const struct opts *keep = sh->o;
        sh->o = &step;
        atomic_store(&sh->issued, 0);
        struct phase_result p;
        run_phase(sh, C_ISSUE3, 0, &p);
        sh->o = keep;
        done = target;
        fails += fail_total(p.fail);
        long rss = bench_proc_rss_kib(o->kms_pid);
        long long db = file_bytes(o->state_db, "") + file_bytes(o->state_db, "-wal");
        printf("rss_kib_at_%llu=%ld\nstore_bytes_at_%llu=%lld\n", (unsigned long long)done, rss,
               (unsigned long long)done, db);
        if (marks[m] == 0.1) {
            rss10 = rss;
            db10 = db;
            done10 = done;
        }
        fprintf(stderr, "%s: %llu Kues: rss %ld KiB, store %lld bytes, %.0f s\n", bench_prog,
                (unsigned long long)done, rss, db, bench_now(CLOCK_MONOTONIC) - t0);
    }
    double el = bench_now(CLOCK_MONOTONIC) - t0;
    long rss1 = bench_proc_rss_kib(o->kms_pid);
    long long db1 = file_bytes(o->state_db, "") + file_bytes(o->state_db, "-wal");
    printf("fill_seconds=%.1f\nfill_kues_per_s=%.0f\n", el, (double)o->fill / el);
    printf("rss_bytes_per_kue=%.1f\nstore_bytes_per_kue=%.1f\n",
           (double)(rss1 - rss0) * 1024.0 / (double)o->fill, (double)(db1 - db0) / (double)o->fill);
    /* After the first 10%: what each further Kue adds (the replay cache's table is touched
     * during the first seconds whatever the mode, and is bounded). */
    if (rss10 >= 0 && o->fill > done10) {
        printf("rss_bytes_per_kue_after_10pct=%.2f\nstore_bytes_per_kue_after_10pct=%.2f\n",
               (double)(rss1 - rss10) * 1024.0 / (double)(o->fill - done10),
               (double)(db1 - db10) / (double)(o->fill - done10));
    }
    printf("failures=%llu\n", (unsigned long long)fails);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    parse_args(argc, argv, &o);
    if (o.setup_db != NULL) {
        bench_ub_setup_db(o.setup_db, o.kek_file, o.subs);
        printf("subscribers=%u\n", o.subs);
        return 0;
    }
    struct shared *sh = calloc(1, sizeof(*sh));
    struct sub *subs = calloc(o.subs, sizeof(*subs));
    struct ue_keys *keys = calloc(o.threads, sizeof(*keys));
    if (sh == NULL || subs == NULL || keys == NULL) {
        bench_fail("out of memory");
    }
    sh->o = &o;
    sh->subs = subs;
    sh->keys = keys;
    for (unsigned i = 0; i < o.subs; i++) {
        atomic_flag_clear(&subs[i].busy);
        bench_check(kms_sqn_ms_init(&subs[i].sqn, KMS_SQN_IND_BITS_DEF, KMS_SQN_DELTA_DEF, 0),
                    "sqn");
    }
    for (unsigned i = 0; i < o.threads; i++) {
        bench_lat_init(&sh->lat[i], LAT_MAX);
    }
    memset(sh->base_body, 0x5a, sizeof(sh->base_body));
    memset(sh->floor_body, 0x5a, sizeof(sh->floor_body));
    setup_keys(sh);
    if (o.fill == 0 && o.want[C_MODE1]) {
        struct phase_result cold;
        atomic_store(&sh->next_sub, 0);
        run_phase(sh, C_COLD, 0, &cold);
        if (fail_total(cold.fail) != 0) {
            fprintf(stderr, "%s: cold pass: %llu bootstraps failed\n", bench_prog,
                    (unsigned long long)fail_total(cold.fail));
        }
        atomic_store(&sh->next_sub, 0);
    }
    if (o.fill != 0) {
        int rc = fill(sh);
        kms_wipe(keys, o.threads * sizeof(*keys));
        for (unsigned i = 0; i < o.threads; i++) {
            bench_lat_free(&sh->lat[i]);
        }
        free(keys);
        free(subs);
        free(sh);
        return rc;
    }

    const unsigned n = o.rounds;
    static double rate[C_N][BENCH_MAX_ROUNDS], ratio[C_N][BENCH_MAX_ROUNDS];
    static double fratio[C_N][BENCH_MAX_ROUNDS]; /* to the floor */
    static double p50[C_N][BENCH_MAX_ROUNDS], p99[C_N][BENCH_MAX_ROUNDS];
    const bool has_base = o.want[C_BASE];
    double cpu[C_N] = {0}, ccpu[C_N] = {0};
    uint64_t ops[C_N] = {0}, fails[C_N][BENCH_F_N];
    bool cpu_ok[C_N];
    memset(fails, 0, sizeof(fails));
    for (int k = 0; k < C_N; k++) {
        cpu_ok[k] = true;
    }
    for (unsigned r = 0; r < n; r++) {
        for (int j = 0; j < C_N; j++) {
            int k = (int)((j + r) % C_N); /* a different case first in each round */
            if (!o.want[k]) {
                continue;
            }
            struct phase_result p;
            run_phase(sh, (enum kcase)k, o.seconds, &p);
            rate[k][r] = p.ops_per_s;
            p50[k][r] = p.p50_us;
            p99[k][r] = p.p99_us;
            ops[k] += p.ok;
            cpu[k] += p.server_cpu;
            ccpu[k] += p.client_cpu;
            cpu_ok[k] = cpu_ok[k] && p.server_cpu >= 0;
            for (int f = 0; f < BENCH_F_N; f++) {
                fails[k][f] += p.fail[f];
            }
        }
        for (int k = 1; k < C_N; k++) {
            ratio[k][r] = has_base ? rate[k][r] / rate[C_BASE][r] : 0;
            fratio[k][r] = o.want[C_FLOOR] ? rate[k][r] / rate[C_FLOOR][r] : 0;
        }
        fprintf(stderr, "%s: round %u:", bench_prog, r + 1);
        const char *sep = " ";
        if (has_base) {
            fprintf(stderr, " baseline %.0f/s", rate[C_BASE][r]);
            sep = ", ";
        }
        for (int k = 1; k < C_N; k++) {
            if (o.want[k]) {
                fprintf(stderr, "%s%s %.0f/s", sep, case_names[k], rate[k][r]);
                sep = ", ";
            }
        }
        fprintf(stderr, "\n");
    }

    printf("# %s: %u rounds x %g s per case, %u client threads, %u subscribers\n", bench_prog, n,
           o.seconds, o.threads, o.subs);
    if (has_base) {
        printf("# %-30s %10s %12s %10s\n", "case", "ops/s", "x baseline",
               o.want[C_FLOOR] ? "x floor" : "");
    } else {
        printf("# %-30s %10s %10s %10s\n", "case", "ops/s", "p50 us", "p99 us");
    }
    for (int k = 0; k < C_N; k++) {
        if (!o.want[k]) {
            continue;
        }
        if (!has_base) {
            printf("# %-30s %10.0f %10.0f %10.0f\n", case_what[k], bench_median(rate[k], (int)n),
                   bench_median(p50[k], (int)n), bench_median(p99[k], (int)n));
            continue;
        }
        printf("# %-30s %10.0f %12.4f", case_what[k], bench_median(rate[k], (int)n),
               k == C_BASE ? 1.0 : bench_median(ratio[k], (int)n));
        if (o.want[C_FLOOR] && k > C_FLOOR) {
            printf(" %10.4f", bench_median(fratio[k], (int)n));
        }
        printf("\n");
    }
    printf("threads=%u\nsubscribers=%u\nseconds_per_case=%g\nrounds=%u\n", o.threads, o.subs,
           o.seconds, n);
    uint64_t total_fail = 0;
    for (int k = 0; k < C_N; k++) {
        if (!o.want[k]) {
            continue;
        }
        const char *c = case_names[k];
        printf("%s_per_s=%.0f\n%s_per_s_min=%.0f\n%s_per_s_max=%.0f\n", c,
               bench_median(rate[k], (int)n), c, bench_min(rate[k], (int)n), c,
               bench_max(rate[k], (int)n));
        printf("%s_p50_us=%.0f\n%s_p99_us=%.0f\n", c, bench_median(p50[k], (int)n), c,
               bench_median(p99[k], (int)n));
        if (k != C_BASE && has_base) {
            printf("%s_ratio=%.4f\n%s_ratio_min=%.4f\n%s_ratio_max=%.4f\n", c,
                   bench_median(ratio[k], (int)n), c, bench_min(ratio[k], (int)n), c,
                   bench_max(ratio[k], (int)n));
        }
        if (o.want[C_FLOOR] && k > C_FLOOR) {
            printf("%s_floor_ratio=%.4f\n%s_floor_ratio_min=%.4f\n%s_floor_ratio_max=%.4f\n", c,
                   bench_median(fratio[k], (int)n), c, bench_min(fratio[k], (int)n), c,
                   bench_max(fratio[k], (int)n));
        }
        if (cpu_ok[k] && ops[k] > 0) {
            printf("%s_server_cpu_us=%.1f\n", c, cpu[k] * 1e6 / (double)ops[k]);
        }
        if (ops[k] > 0) {
            printf("%s_client_cpu_us=%.1f\n", c, ccpu[k] * 1e6 / (double)ops[k]);
        }
        for (int f = 0; f < BENCH_F_N; f++) {
            total_fail += fails[k][f];
            if (fails[k][f] != 0) {
                printf("%s_failures_%s=%llu\n", c, bench_fail_names[f],
                       (unsigned long long)fails[k][f]);
            }
        }
    }
    printf("failures=%llu\n", (unsigned long long)total_fail);
    printf("kms_posts=%llu\n", (unsigned long long)sh->posts);
    printf("answers_verified=%llu\nanswers_status_checked_only=%llu\nrequests_built_live=%llu\n",
           (unsigned long long)sh->verified, (unsigned long long)sh->unverified,
           (unsigned long long)sh->built_live);
    kms_wipe(keys, o.threads * sizeof(*keys));
    for (unsigned i = 0; i < o.threads; i++) {
        bench_lat_free(&sh->lat[i]);
    }
    free(keys);
    free(subs);
    free(sh);
    return 0;
}
