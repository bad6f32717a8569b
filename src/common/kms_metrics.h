/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Observability both daemons share (docs/api.md, "Metrics and readiness"; docs/cli.md, "Logs"):
 *
 *  - the request hook every listener calls once per answered request (kms_httpd_cfg.done): one
 *    log line (event=request) and the request counters and latency histograms, each a relaxed
 *    atomic add on fixed arrays (no lock on the request path);
 *  - the Prometheus text exposition format 0.0.4 (kms_prom_*), written here;
 *  - the readiness checks (kms_ready_*) a daemon fills in, and their two answers: the public
 *    listeners' /readyz (the status alone) and the metrics listener's /readyz (JSON);
 *  - the metrics listener (--metrics-listen): GET /metrics, /readyz, /healthz.
 *
 * Identities (IMPI, IMPU, B-TID) reach the log only: no metric carries one as a label.
 */
#ifndef KMS_METRICS_H
#define KMS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "http/kms_httpd.h"
#include "util/kms_buf.h"

/* The interfaces counted apart (the `interface` label). */
enum kms_mif {
    KMS_MIF_KMS = 0, /* "kms": POST /mikey and the KMS listener's other paths */
    KMS_MIF_UB,      /* "ub" */
    KMS_MIF_ZN,      /* "zn" */
    KMS_MIF_METRICS, /* "metrics": the metrics listener itself */
    KMS_MIF_COUNT_
};

/* ---- the exposition format ---- */

/* A /metrics answer being written; a failure (a full buffer) sticks and is reported once by
 * kms_prom_result. */
struct kms_prom {
    struct kms_buf *out;
    bool failed;
};
struct kms_prom_label {
    const char *name;
    const char *value; /* escaped as the format wants: backslash, double quote, newline */
};
/* "# HELP name help" and "# TYPE name type" (type: counter, gauge, histogram, untyped). */
void kms_prom_family(struct kms_prom *p, const char *name, const char *type, const char *help);
/* One sample line: name{labels} value. */
void kms_prom_u64(struct kms_prom *p, const char *name, const struct kms_prom_label *l, size_t n,
                  uint64_t v);
void kms_prom_i64(struct kms_prom *p, const char *name, const struct kms_prom_label *l, size_t n,
                  int64_t v);
/* A family with one unlabelled sample: its HELP and TYPE lines, then name value. */
void kms_prom_scalar(struct kms_prom *p, const char *name, const char *type, const char *help,
                     uint64_t v);
/* Seconds from microseconds, exactly (six decimals). */
void kms_prom_us(struct kms_prom *p, const char *name, const struct kms_prom_label *l, size_t n,
                 uint64_t us);
/* A histogram's samples: name_bucket{labels,le} cumulative for each of the n_bounds upper bounds
 * (microseconds, written as seconds) and +Inf, then name_sum (seconds) and name_count. counts
 * holds n_bounds + 1 per-bucket (not cumulative) counts, the last one +Inf's; labels: at most 3. */
void kms_prom_histogram(struct kms_prom *p, const char *name, const struct kms_prom_label *l,
                        size_t n, const uint64_t *bounds_us, size_t n_bounds,
                        const uint64_t *counts, uint64_t sum_us);
KMS_MUST_CHECK kms_result kms_prom_result(const struct kms_prom *p);
/* A daemon on a fleet's Redis (--redis): the client's round trips, errors, connections and
 * command latency (imskms_redis_*; docs/deploy.md). */
struct kms_redis;
void kms_prom_redis(struct kms_prom *p, struct kms_redis *r);

/* ---- readiness ---- */

#define KMS_READY_MAX    8
#define KMS_READY_DETAIL 160
struct kms_ready_check {
    const char *name; /* static: "keyring", "store", "restart_window", "zn", ... */
    bool ok;
    bool required; /* false: reported, but readiness does not depend on it */
    char detail[KMS_READY_DETAIL];
};
struct kms_ready {
    struct kms_ready_check c[KMS_READY_MAX];
    size_t n;
};
void kms_ready_add(struct kms_ready *r, const char *name, bool ok, bool required, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
/* Every required check passed. */
bool kms_ready_ok(const struct kms_ready *r);
/* {"ready":B,"checks":[{"name":"...","ok":B,"required":B,"detail":"..."},...]} */
KMS_MUST_CHECK kms_result kms_ready_json(const struct kms_ready *r, struct kms_buf *out);

/* ---- the registry ---- */

/* What a daemon adds: its gauges and counters at scrape time, and its readiness checks. Both
 * run on a metrics (or public listener) thread, concurrently with requests. */
struct kms_metrics_source {
    void *ctx;
    void (*collect)(void *ctx, struct kms_prom *p, uint64_t now);
    void (*ready)(void *ctx, uint64_t now, struct kms_ready *r);
};

struct kms_metrics;

/* prog: the daemon ("imskms-kmsd"), in imskms_build_info. NULL on out of memory. */
struct kms_metrics *kms_metrics_new(const char *prog);
void kms_metrics_free(struct kms_metrics *m);
/* Set once, before any listener starts. */
void kms_metrics_set_source(struct kms_metrics *m, const struct kms_metrics_source *src);

/* Sets cfg->done and cfg->done_ctx so that the listener's requests are logged and counted as
 * interface mif. */
void kms_metrics_hook(struct kms_metrics *m, enum kms_mif mif, struct kms_httpd_cfg *cfg);

/* The request hook itself (ctx from kms_metrics_hook): exposed for tests. */
void kms_metrics_request_done(void *ctx, const struct kms_http_done *done);

/* How many requests of interface mif were answered with code (any status): the daemons'
 * derived counters and tests. */
uint64_t kms_metrics_code_count(struct kms_metrics *m, enum kms_mif mif, enum kms_err code);

/* The whole exposition at now. */
KMS_MUST_CHECK kms_result kms_metrics_render(struct kms_metrics *m, uint64_t now,
                                             struct kms_buf *out);

/* The readiness checks at now. */
void kms_metrics_readiness(struct kms_metrics *m, uint64_t now, struct kms_ready *r);

/* A public listener's /readyz: 200 "ready" or 503 "unready", nothing more (the checks are the
 * metrics listener's). Logged at debug level. */
void kms_metrics_readyz_public(struct kms_metrics *m, struct kms_http_resp *resp);

/* Handlers of a public listener call this first: true when it answered a health path
 * (/healthz, /readyz): logged at debug level, not counted in the request metrics (probes
 * would drown the traffic). iface: the error table's column. */
bool kms_metrics_health_paths(struct kms_metrics *m, enum kms_iface iface,
                              const struct kms_http_req *req, struct kms_http_resp *resp);

/* The metrics listener (--metrics-listen ADDR:PORT, plain HTTP, 2 threads): GET /metrics,
 * /readyz (JSON), /healthz. */
KMS_MUST_CHECK kms_result kms_metrics_listen(struct kms_metrics *m, const char *listen,
                                             struct kms_httpd **out);

#endif
