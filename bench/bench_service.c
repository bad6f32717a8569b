/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_service: what the KMS request handler (kms_service_handle) costs per request, in one
 * process, without HTTP: the part of bench_kms's server time that is ours. The units are
 * baseline HMAC-SHA-256s over a ticket request's bytes, as in bench_mikey.
 *
 * A handled request must be fresh (the replay guard refuses a second copy), so each iteration
 * builds one: the cases are "build" and "build + handle", and the handler's own cost is their
 * difference (printed as handle_*_us and *_cost_hmacs). Virtual time runs at 1 s per 1000
 * requests, so the replay cache (200,000 entries, skew 60 s) reaches its bound and sweeps, as a
 * busy daemon's does. Every answer's status is checked (200), so a refusal cannot pass for a
 * fast request. Kue issues (mode 3: a sealed Kue, nothing stored) are measured the same way.
 *
 * --profile KIND N (first on the command line) handles N requests of one kind (3, 2: ticket
 * requests in that mode; kue3: Kue issues in mode 3) and prints nothing but a count: a
 * deterministic workload for instruction counts, e.g.
 *   valgrind --tool=callgrind --toggle-collect=kms_service_handle \
 *     build/bin/bench_service --profile 3 2000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "crypto/kms_ossl.h"
#include "keyring/kms_keystore.h"
#include "keyring/kms_keyring.h"
#include "kms/kms_kue_msg.h"
#include "kms/kms_service.h"
#include "kms/kms_ticket_msg.h"
#include "mikey/kms_mikey_msg.h"
#include "replay/kms_replay.h"
#include "store/kms_store.h"
#include "util/kms_mem.h"

const char bench_prog[] = "bench_service";

#define T0    1800000000ULL
#define FQDN  "kms.example.org"
#define BTID  "n/RZJSs/D2H9zi4XbK153w==@bsf.example.org"
#define IMPI  "001010123456789@ims.mnc001.mcc001.3gppnetwork.org"
#define PEER  "sip:+15550002@ims.example.org"
#define PER_S 1000 /* requests per virtual second */

static const uint8_t KS_NAF[32] = {0x4b, 0x73, 0x5f, 0x4e, 0x41, 0x46, 1,  2,  3,  4,  5,
                                   6,    7,    8,    9,    10,   11,   12, 13, 14, 15, 16,
                                   17,   18,   19,   20,   21,   22,   23, 24, 25, 26};

struct bench {
    char dir[64], path[128];
    struct kms_keystore *ks;
    struct kms_keyring *kr;
    struct kms_store *st;
    struct kms_replay *rg;
    struct kms_service *svc;
    uint8_t kue[4][32], tok[4][KMS_TICKET_MAX];
    size_t tok_len[4];
    uint64_t i; /* requests so far: the virtual clock */
    uint8_t msg[8192];
    size_t msg_len;
    uint8_t hmac_key[32];
};

static kms_result zn_get(void *ctx, const char *btid, uint64_t now, struct kms_zn_resp *out)
{
    (void)ctx;
    memset(out, 0, sizeof(*out));
    if (strcmp(btid, BTID) != 0) {
        return (kms_result){KMS_ERR_NOT_FOUND};
    }
    strcpy(out->impi, IMPI);
    strcpy(out->impu[0], "sip:+15550001@ims.example.org");
    out->n_impu = 1;
    memcpy(out->ks_naf, KS_NAF, 32);
    out->bootstrap_time = now - 10;
    out->key_expiry = now + 30 * 86400;
    return (kms_result){KMS_OK};
}

static uint64_t vnow(const struct bench *b)
{
    return T0 + b->i / PER_S;
}

static void handle(struct bench *b, const uint8_t *req, size_t len, struct kms_service_reply *r)
{
    kms_service_reply_init(r);
    bench_check(kms_service_handle(b->svc, req, len, vnow(b), r), "kms_service_handle");
    if (r->status != 200) {
        bench_fail("request %llu answered %d (%s)", (unsigned long long)b->i, r->status,
                   kms_err_name(r->why));
    }
    b->i++;
}

static void get_kue(struct bench *b, uint8_t mode)
{
    struct kms_kue_request q;
    memset(&q, 0, sizeof(q));
    q.mode = mode;
    strcpy(q.idri, IMPI);
    strcpy(q.idrkms, FQDN);
    strcpy(q.btid, BTID);
    bench_check(kms_random(q.randri, 16), "random");
    q.ntp = kms_mikey_ntp_from_unix(vnow(b), 0);
    struct kms_buf req;
    kms_buf_init(&req, 8192, false);
    bench_check(kms_kue_request_build(&q, KS_NAF, &req), "kue request");
    struct kms_service_reply r;
    handle(b, kms_buf_data(&req), kms_buf_len(&req), &r);
    struct kms_kue_grant g;
    bench_check(kms_kue_response_open(kms_buf_data(&req), kms_buf_len(&req), kms_buf_data(&r.body),
                                      kms_buf_len(&r.body), KS_NAF, &g),
                "kue response");
    memcpy(b->kue[mode], g.kue, 32);
    memcpy(b->tok[mode], g.ticket, g.ticket_len);
    b->tok_len[mode] = g.ticket_len;
    kms_wipe(&g, sizeof(g));
    kms_service_reply_cleanup(&r);
    kms_buf_cleanup(&req);
}

/* One mode-`mode` ticket request, stamped with the virtual clock, into b->msg. */
static void build(struct bench *b, uint8_t mode)
{
    static struct kms_preq q;
    memset(&q, 0, sizeof(q));
    strcpy(q.idri, IMPI);
    strcpy(q.idrkms, FQDN);
    strcpy(q.idrr, PEER);
    memcpy(q.psk_id, b->tok[mode], b->tok_len[mode]);
    q.psk_id_len = b->tok_len[mode];
    bench_check(kms_random(q.rand, 16), "random");
    q.ntp = kms_mikey_ntp_from_unix(vnow(b), 0);
    struct kms_buf out;
    kms_buf_init_fixed(&out, b->msg, sizeof(b->msg), false);
    q.kind = KMS_PREQ_REQUEST;
    bench_check(kms_preq_build(&q, b->kue[mode], &out), "ticket request");
    b->msg_len = kms_buf_len(&out);
}

/* One mode-3 Kue issue request (REQUEST_INIT_PSK under Ks_NAF), fresh RAND and T, into b->msg. */
static void build_kue(struct bench *b)
{
    static struct kms_kue_request q;
    memset(&q, 0, sizeof(q));
    q.mode = 3;
    strcpy(q.idri, IMPI);
    strcpy(q.idrkms, FQDN);
    strcpy(q.btid, BTID);
    bench_check(kms_random(q.randri, 16), "random");
    q.ntp = kms_mikey_ntp_from_unix(vnow(b), 0);
    struct kms_buf out;
    kms_buf_init_fixed(&out, b->msg, sizeof(b->msg), false);
    bench_check(kms_kue_request_build(&q, KS_NAF, &out), "kue request");
    b->msg_len = kms_buf_len(&out);
}

static void c_hmac(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    uint8_t mac[32];
    for (uint64_t k = 0; k < n; k++) {
        bench_hmac_sha256(b->hmac_key, b->msg, b->msg_len, mac);
        b->hmac_key[0] ^= mac[0];
    }
}

static void build_only(struct bench *b, uint8_t mode, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++) {
        build(b, mode);
        b->i++; /* the same clock as the handled case */
    }
}

static void build_handle(struct bench *b, uint8_t mode, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++) {
        build(b, mode);
        struct kms_service_reply r;
        handle(b, b->msg, b->msg_len, &r);
        kms_service_reply_cleanup(&r);
    }
}

static void c_build3(void *ctx, uint64_t n)
{
    build_only(ctx, 3, n);
}

static void c_handle3(void *ctx, uint64_t n)
{
    build_handle(ctx, 3, n);
}

static void c_build2(void *ctx, uint64_t n)
{
    build_only(ctx, 2, n);
}

static void c_handle2(void *ctx, uint64_t n)
{
    build_handle(ctx, 2, n);
}

static void c_build_kue(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    for (uint64_t k = 0; k < n; k++) {
        build_kue(b);
        b->i++;
    }
}

static void c_handle_kue(void *ctx, uint64_t n)
{
    struct bench *b = ctx;
    for (uint64_t k = 0; k < n; k++) {
        build_kue(b);
        struct kms_service_reply r;
        handle(b, b->msg, b->msg_len, &r);
        kms_service_reply_cleanup(&r);
    }
}

enum { C_HMAC, C_BUILD3, C_HANDLE3, C_BUILD2, C_HANDLE2, C_BUILDK, C_HANDLEK, C_N };

static const struct bench_case cases[C_N] = {
    {"hmac", "HMAC-SHA-256 over a request", c_hmac},
    {"build_mode3", "build, mode 3", c_build3},
    {"build_handle_mode3", "build + handle, mode 3", c_handle3},
    {"build_mode2", "build, mode 2", c_build2},
    {"build_handle_mode2", "build + handle, mode 2", c_handle2},
    {"build_kue_issue_mode3", "build, Kue issue mode 3", c_build_kue},
    {"build_handle_kue_issue_mode3", "build + handle, Kue issue m3", c_handle_kue},
};

static const struct bench_ratio ratios[] = {
    {"build_handle_mode3_cost", "build+handle, mode 3", "HMACs", C_HMAC, C_HANDLE3, true},
    {"build_mode3_cost", "build, mode 3", "HMACs", C_HMAC, C_BUILD3, true},
    {"build_handle_mode2_cost", "build+handle, mode 2", "HMACs", C_HMAC, C_HANDLE2, true},
    {"build_mode2_cost", "build, mode 2", "HMACs", C_HMAC, C_BUILD2, true},
    {"build_handle_kue_issue_mode3_cost", "build+handle, Kue issue m3", "HMACs", C_HMAC, C_HANDLEK,
     true},
    {"build_kue_issue_mode3_cost", "build, Kue issue m3", "HMACs", C_HMAC, C_BUILDK, true},
};

static void setup(struct bench *b)
{
    snprintf(b->dir, sizeof(b->dir), "%s/bench_service.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(b->dir) == NULL) {
        bench_fail("mkdtemp failed");
    }
    snprintf(b->path, sizeof(b->path), "%s/keyring", b->dir);
    uint8_t kek[32];
    memset(kek, 0x11, sizeof(kek));
    bench_check(kms_keystore_file_open_kek(kek, &b->ks), "keystore");
    struct kms_keyring_policy pol = {30 * 86400, 30 * 86400, 1u << 30};
    bench_check(kms_keyring_create(b->path, b->ks, &pol, T0 - 100, &b->kr), "keyring");
    kms_keyring_set_seal_chunk_max(b->kr, KMS_KEYRING_SEAL_CHUNK_SERVER); /* as imskms-kmsd */
    struct kms_store_backend *be = NULL;
    bench_check(kms_store_backend_memory(1024, &be), "memory store");
    bench_check(kms_store_new(be, kek, &b->st), "store");
    struct kms_replay_cfg rc = {.skew = 60, .max_entries = 200000};
    bench_check(kms_replay_new(&rc, T0 - 1000, &b->rg), "replay guard");
    struct kms_service_cfg cfg = {.fqdn = FQDN,
                                  .mode1 = true,
                                  .mode2 = true,
                                  .mode3 = true,
                                  .kue_lifetime = 20 * 86400,
                                  .ticket_lifetime = 3600};
    struct kms_service_deps deps = {b->kr, b->st, b->rg, {NULL, zn_get, NULL}, {0}};
    bench_check(kms_service_new(&cfg, &deps, &b->svc), "service");
    get_kue(b, 3);
    get_kue(b, 2);
    memset(b->hmac_key, 0x6b, sizeof(b->hmac_key));
    build(b, 3);
}

static void cleanup(struct bench *b)
{
    kms_service_free(b->svc);
    kms_replay_free(b->rg);
    kms_store_close(b->st);
    kms_keyring_close(b->kr);
    kms_keystore_close(b->ks);
    char p[160];
    snprintf(p, sizeof(p), "%s.lock", b->path);
    unlink(p);
    unlink(b->path);
    rmdir(b->dir);
}

/* --profile KIND N: N requests of one kind handled, no timing (see the top of the file). */
static int profile(struct bench *b, const char *kind, const char *count)
{
    char *end = NULL;
    unsigned long long n = strtoull(count, &end, 10);
    if (end == count || *end != '\0' || n == 0 || n > 100000000ULL ||
        (strcmp(kind, "3") != 0 && strcmp(kind, "2") != 0 && strcmp(kind, "kue3") != 0)) {
        fprintf(stderr, "%s: usage: --profile 3|2|kue3 N (N > 0)\n", bench_prog);
        return BENCH_EXIT_USAGE;
    }
    setup(b);
    if (strcmp(kind, "kue3") == 0) {
        c_handle_kue(b, n);
    } else {
        build_handle(b, kind[0] == '3' ? 3 : 2, n);
    }
    printf("profile_kind=%s\nrequests_handled=%llu\n", kind, n);
    cleanup(b);
    return 0;
}

int main(int argc, char **argv)
{
    static struct bench b;
    if (argc >= 2 && strcmp(argv[1], "--profile") == 0) {
        if (argc != 4) {
            fprintf(stderr, "%s: usage: --profile 3|2|kue3 N\n", bench_prog);
            return BENCH_EXIT_USAGE;
        }
        return profile(&b, argv[2], argv[3]);
    }
    struct bench_suite suite = {
        .about = "The KMS request handler (kms_service_handle) in one process: ticket requests\n"
                 "in modes 3 and 2 and mode-3 Kue issues built and handled, beside building alone\n"
                 "and one HMAC-SHA-256 over a request; the handler's own cost is the difference.\n"
                 "--profile 3|2|kue3 N (first): N requests of that kind handled, untimed (for\n"
                 "valgrind --tool=callgrind).\n",
        .cases = cases,
        .n_cases = C_N,
        .ratios = ratios,
        .n_ratios = 6,
        .warm_batch = 64,
        .layout = {30, 12, 24, 6},
    };
    struct bench_opts opts;
    bench_parse_args(&suite, argc, argv, &opts);
    setup(&b);
    size_t req_bytes = b.msg_len;
    static struct bench_results res;
    bench_run(&suite, &b, &opts, &res);
    bench_print_table(&suite, &res);
    double h3 = 1e6 / res.rate_med[C_HANDLE3] - 1e6 / res.rate_med[C_BUILD3];
    double h2 = 1e6 / res.rate_med[C_HANDLE2] - 1e6 / res.rate_med[C_BUILD2];
    double hk = 1e6 / res.rate_med[C_HANDLEK] - 1e6 / res.rate_med[C_BUILDK];
    double hm = 1e6 / res.rate_med[C_HMAC];
    printf("# handler alone (build+handle minus build, medians): mode 3 %.2f us = %.1f HMACs, "
           "mode 2 %.2f us = %.1f HMACs, Kue issue mode 3 %.2f us = %.1f HMACs\n",
           h3, h3 / hm, h2, h2 / hm, hk, hk / hm);
    bench_print_keys_head(&res);
    printf("request_bytes_mode3=%zu\n", req_bytes);
    bench_print_keys(&suite, &res);
    printf("handle_mode3_us=%.2f\nhandle_mode3_cost_hmacs=%.2f\nhandle_mode2_us=%.2f\n"
           "handle_mode2_cost_hmacs=%.2f\nhandle_kue_issue_mode3_us=%.2f\n"
           "handle_kue_issue_mode3_cost_hmacs=%.2f\nrequests_handled=%llu\n",
           h3, h3 / hm, h2, h2 / hm, hk, hk / hm, (unsigned long long)b.i);
    cleanup(&b);
    return 0;
}
