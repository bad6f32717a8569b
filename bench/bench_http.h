/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_http: what the load generators (bench_bsf, bench_kms) share, so that every server they
 * compare, ours and the static baseline, is driven by the same client code:
 *  - a lean keep-alive HTTP/1.1 client over a plain socket (one connection per thread, no
 *    pipelining, Content-Length bodies only);
 *  - the UE's whole part of a GBA bootstrap over Ub (TS 24.109 A.3: challenge, AUTN and SQN
 *    checked by a simulated USIM, Digest AKAv1-MD5 answer, rspauth and BootstrappingInfo
 *    checked), returning what a UE keeps (B-TID, RAND, CK, IK);
 *  - /proc readings of a server process (CPU seconds, resident memory).
 * Subscribers are ue<N>@bench.example.org with the K and OP of TS 35.208 test set 1
 * (bench_ub_setup_db writes such a store for imskms-bsfd).
 */
#ifndef BENCH_HTTP_H
#define BENCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto/kms_kdf.h"
#include "crypto/kms_milenage.h"
#include "crypto/kms_sqn.h"

#define BENCH_RX_CAP   16384
#define BENCH_IMPI_FMT "ue%u@bench.example.org"
#define BENCH_IMPU_FMT "sip:ue%u@bench.example.org"
#define BENCH_MAX_SUBS 60000 /* the BSF remembers 65536 IMPIs */

struct bench_target {
    char host[64];
    char port[8];
    char path[256];
};

/* http://HOST:PORT[/PATH]; a bad URL is a usage error (exit 2) naming `opt`. */
void bench_parse_url(const char *opt, const char *url, struct bench_target *t);

struct bench_conn {
    int fd;
    const struct bench_target *t;
    char rx[BENCH_RX_CAP + 1];
    size_t have;
};

struct bench_resp {
    int status;
    const char *www_auth, *auth_info; /* NUL-terminated, in the connection's buffer, or NULL */
    const uint8_t *body;
    size_t body_len;
};

int bench_conn_open(struct bench_conn *c, const struct bench_target *t); /* 0 or -1 */
void bench_conn_close(struct bench_conn *c);

/* One request on the connection: METHOD PATH, an optional header line "name: value" (name
 * NULL for none), an optional body with its Content-Type. The response stays in the
 * connection's buffer until the next call. 0, or -1 on a connection or framing failure. */
int bench_http(struct bench_conn *c, const char *method, const char *path, const char *hname,
               const char *hvalue, const char *ctype, const uint8_t *body, size_t body_len,
               struct bench_resp *r);

/* Why an operation failed; BENCH_F_N is success. */
enum bench_fail {
    BENCH_F_HTTP,    /* connection or framing */
    BENCH_F_RATE,    /* 429 */
    BENCH_F_STATUS,  /* another unexpected status */
    BENCH_F_PROTO,   /* a header or body that does not parse, a realm that differs */
    BENCH_F_MAC,     /* MAC-A did not verify */
    BENCH_F_SQN,     /* the SQN was not fresh */
    BENCH_F_RSPAUTH, /* rspauth did not verify */
    BENCH_F_KMS,     /* a KMS answer that does not verify under our key */
    BENCH_F_N
};
extern const char *const bench_fail_names[BENCH_F_N];

/* What a UE keeps from a bootstrap (Ks = CK || IK: secret). */
struct bench_boot {
    char btid[KMS_BTID_MAX];
    uint8_t rand[16], ck[16], ik[16];
};

/* One complete bootstrap of subscriber i against the Ub URL path at c (realm: what the BSF
 * must announce). m is keyed with the subscriber's K and OP; sqn is its SEQ_MS array; cnonce
 * values are made unique from (tag, *ctr). out may be NULL. */
enum bench_fail bench_ub_bootstrap(struct bench_conn *c, const char *path, const char *realm,
                                   unsigned i, struct kms_milenage *m, struct kms_sqn_ms *sqn,
                                   unsigned tag, uint64_t *ctr, struct bench_boot *out);

/* A Milenage context with test set 1's K and OP (exits 3 on failure). */
struct kms_milenage *bench_ub_milenage(void);

/* Writes a subscriber store of n subscribers under the KEK in kek_file (exits 3 on failure). */
void bench_ub_setup_db(const char *path, const char *kek_file, unsigned n);

/* Option parsing of the load generators: "<prog>: msg[: arg] (try --help)" and exit 2. */
__attribute__((noreturn)) void bench_usage(const char *msg, const char *arg);
/* A decimal integer in [lo, hi], or bench_usage(name, v). */
long long bench_num(const char *name, const char *v, long long lo, long long hi);
/* --seconds: a number in (0, BENCH_MAX_SECONDS], or bench_usage. */
double bench_seconds(const char *v);

double bench_now(clockid_t clk);
/* CPU seconds (user + system, all threads) of process pid, or -1. */
double bench_proc_cpu(long pid);
/* Resident memory of process pid in KiB (VmRSS), or -1. */
long bench_proc_rss_kib(long pid);
/* Sleeps s seconds (restarting after signals). */
void bench_sleep(double s);

#endif
