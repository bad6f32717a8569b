/* SPDX-License-Identifier: Apache-2.0 */
#include "kms_metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMSKMS_NO_VERSION /* kms_version() only */
#include "imskms/imskms.h"
#include "redis/kms_redis.h"
#include "util/kms_log.h"
#include "util/kms_time.h"

static const char *const mif_names[KMS_MIF_COUNT_] = {"kms", "ub", "zn", "metrics"};

/* The statuses counted apart; any other is counted as "other" (index N_STATUS - 1). */
static const int statuses[] = {200, 400, 401, 403, 404, 405, 408, 413,
                               414, 415, 429, 431, 500, 503, 0};
#define N_STATUS (sizeof(statuses) / sizeof(statuses[0]))

/* Latency buckets (upper bounds, microseconds): 100 us to 10 s, then +Inf. */
static const uint64_t bucket_us[] = {100,     250,     500,     1000,    2500,   5000,
                                     10000,   25000,   50000,   100000,  250000, 500000,
                                     1000000, 2500000, 5000000, 10000000};
#define N_BUCKET (sizeof(bucket_us) / sizeof(bucket_us[0]) + 1)

#define N_CODE ((size_t)KMS_ERR_COUNT_ + 1)

struct hook_ctx {
    struct kms_metrics *m;
    enum kms_mif mif;
};

struct kms_metrics {
    const char *prog;
    struct kms_metrics_source src;
    struct hook_ctx hooks[KMS_MIF_COUNT_];
    bool used[KMS_MIF_COUNT_]; /* the daemon has a listener of that interface (rendered) */
    /* Relaxed atomic adds only: the exposition reads each counter once; two counters read a
     * moment apart may disagree by the requests in flight, which Prometheus tolerates. */
    /* The last code slot (N_CODE - 1) counts refusals without an error code (a 503 of /readyz):
     * the label "NONE". */
    atomic_uint_fast64_t req[KMS_MIF_COUNT_][N_STATUS][N_CODE];
    atomic_uint_fast64_t lat[KMS_MIF_COUNT_][N_BUCKET];
    atomic_uint_fast64_t lat_sum_us[KMS_MIF_COUNT_];
};

/* ---- the exposition format ---- */

static void prom_put(struct kms_prom *p, const char *s, size_t n)
{
    if (!p->failed && !kms_ok(kms_buf_put_bytes(p->out, (const uint8_t *)s, n))) {
        p->failed = true;
    }
}

static void prom_str(struct kms_prom *p, const char *s)
{
    prom_put(p, s, strlen(s));
}

/* Text with its escapes: a HELP line escapes backslash and newline, a label value also the
 * double quote (the text exposition format 0.0.4). */
static void prom_escaped(struct kms_prom *p, const char *s, bool quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\') {
            prom_str(p, "\\\\");
        } else if (*s == '\n') {
            prom_str(p, "\\n");
        } else if (quote && *s == '"') {
            prom_str(p, "\\\"");
        } else {
            prom_put(p, s, 1);
        }
    }
}

void kms_prom_family(struct kms_prom *p, const char *name, const char *type, const char *help)
{
    prom_str(p, "# HELP ");
    prom_str(p, name);
    prom_str(p, " ");
    prom_escaped(p, help, false);
    prom_str(p, "\n# TYPE ");
    prom_str(p, name);
    prom_str(p, " ");
    prom_str(p, type);
    prom_str(p, "\n");
}

static void prom_head(struct kms_prom *p, const char *name, const struct kms_prom_label *l,
                      size_t n)
{
    prom_str(p, name);
    for (size_t i = 0; i < n; i++) {
        prom_str(p, i == 0 ? "{" : ",");
        prom_str(p, l[i].name);
        prom_str(p, "=\"");
        prom_escaped(p, l[i].value != NULL ? l[i].value : "", true);
        prom_str(p, "\"");
    }
    prom_str(p, n > 0 ? "} " : " ");
}

void kms_prom_u64(struct kms_prom *p, const char *name, const struct kms_prom_label *l, size_t n,
                  uint64_t v)
{
    char num[24];
    prom_head(p, name, l, n);
    (void)snprintf(num, sizeof(num), "%" PRIu64 "\n", v);
    prom_str(p, num);
}

void kms_prom_scalar(struct kms_prom *p, const char *name, const char *type, const char *help,
                     uint64_t v)
{
    kms_prom_family(p, name, type, help);
    kms_prom_u64(p, name, NULL, 0, v);
}

void kms_prom_i64(struct kms_prom *p, const char *name, const struct kms_prom_label *l, size_t n,
                  int64_t v)
{
    char num[24];
    prom_head(p, name, l, n);
    (void)snprintf(num, sizeof(num), "%" PRId64 "\n", v);
    prom_str(p, num);
}

void kms_prom_us(struct kms_prom *p, const char *name, const struct kms_prom_label *l, size_t n,
                 uint64_t us)
{
    char num[32];
    prom_head(p, name, l, n);
    (void)snprintf(num, sizeof(num), "%" PRIu64 ".%06" PRIu64 "\n", us / 1000000u, us % 1000000u);
    prom_str(p, num);
}

void kms_prom_histogram(struct kms_prom *p, const char *name, const struct kms_prom_label *l,
                        size_t n, const uint64_t *bounds_us, size_t n_bounds,
                        const uint64_t *counts, uint64_t sum_us)
{
    char sample[96];
    struct kms_prom_label bl[4];
    if (n >= sizeof(bl) / sizeof(bl[0])) {
        p->failed = true;
        return;
    }
    if (n > 0) {
        memcpy(bl, l, n * sizeof(*l));
    }
    uint64_t cum = 0;
    (void)snprintf(sample, sizeof(sample), "%s_bucket", name);
    for (size_t b = 0; b <= n_bounds; b++) {
        char le[32];
        cum += counts[b];
        if (b < n_bounds) {
            (void)snprintf(le, sizeof(le), "%" PRIu64 ".%06" PRIu64, bounds_us[b] / 1000000u,
                           bounds_us[b] % 1000000u);
        } else {
            (void)snprintf(le, sizeof(le), "+Inf");
        }
        bl[n] = (struct kms_prom_label){"le", le};
        kms_prom_u64(p, sample, bl, n + 1, cum);
    }
    (void)snprintf(sample, sizeof(sample), "%s_sum", name);
    kms_prom_us(p, sample, l, n, sum_us);
    (void)snprintf(sample, sizeof(sample), "%s_count", name);
    kms_prom_u64(p, sample, l, n, cum);
}

kms_result kms_prom_result(const struct kms_prom *p)
{
    KMS_ENSURE(!p->failed, KMS_ERR_TOO_LONG);
    return KMS_RESULT_OK;
}

void kms_prom_redis(struct kms_prom *p, struct kms_redis *r)
{
    struct kms_redis_stats st;
    kms_redis_stats(r, &st);
    kms_prom_scalar(p, "imskms_redis_round_trips_total", "counter",
                    "Commands sent to Redis (connection set-up included).", st.round_trips);
    kms_prom_scalar(p, "imskms_redis_errors_total", "counter",
                    "Redis commands and connections that failed (error reply, I/O, time-out).",
                    st.errors);
    kms_prom_scalar(p, "imskms_redis_connects_total", "counter",
                    "Connections made to Redis (one per thread, again after a failure).",
                    st.connects);
    kms_prom_family(p, "imskms_redis_latency_seconds", "histogram",
                    "Round-trip time of Redis commands.");
    kms_prom_histogram(p, "imskms_redis_latency_seconds", NULL, 0, kms_redis_lat_bounds_us,
                       KMS_REDIS_LAT_BUCKETS, st.lat_count, st.lat_sum_us);
}

/* ---- readiness ---- */

void kms_ready_add(struct kms_ready *r, const char *name, bool ok, bool required, const char *fmt,
                   ...)
{
    if (r->n >= KMS_READY_MAX) {
        return;
    }
    struct kms_ready_check *c = &r->c[r->n++];
    c->name = name;
    c->ok = ok;
    c->required = required;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
    va_end(ap);
}

bool kms_ready_ok(const struct kms_ready *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->c[i].required && !r->c[i].ok) {
            return false;
        }
    }
    return true;
}

/* A JSON string: quote, backslash and controls escaped; bytes above 0x7e become '?' (the
 * details are ours, ASCII; this keeps the answer valid UTF-8 whatever they hold). */
static kms_result json_str(struct kms_buf *out, const char *s)
{
    KMS_TRY(kms_buf_put_u8(out, '"'));
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            KMS_TRY(kms_buf_put_u8(out, '\\'));
            KMS_TRY(kms_buf_put_u8(out, ch));
        } else if (ch < 0x20) {
            char esc[8];
            (void)snprintf(esc, sizeof(esc), "\\u%04x", ch);
            KMS_TRY(kms_buf_put_bytes(out, (const uint8_t *)esc, 6));
        } else {
            KMS_TRY(kms_buf_put_u8(out, ch > 0x7e ? '?' : ch));
        }
    }
    return kms_buf_put_u8(out, '"');
}

static kms_result json_raw(struct kms_buf *out, const char *s)
{
    return kms_buf_put_bytes(out, (const uint8_t *)s, strlen(s));
}

kms_result kms_ready_json(const struct kms_ready *r, struct kms_buf *out)
{
    KMS_TRY(json_raw(out, kms_ready_ok(r) ? "{\"ready\":true,\"checks\":["
                                          : "{\"ready\":false,\"checks\":["));
    for (size_t i = 0; i < r->n; i++) {
        const struct kms_ready_check *c = &r->c[i];
        KMS_TRY(json_raw(out, i == 0 ? "{\"name\":" : ",{\"name\":"));
        KMS_TRY(json_str(out, c->name));
        KMS_TRY(json_raw(out, c->ok ? ",\"ok\":true" : ",\"ok\":false"));
        KMS_TRY(json_raw(out, c->required ? ",\"required\":true" : ",\"required\":false"));
        KMS_TRY(json_raw(out, ",\"detail\":"));
        KMS_TRY(json_str(out, c->detail));
        KMS_TRY(json_raw(out, "}"));
    }
    return json_raw(out, "]}\n");
}

/* ---- the registry ---- */

struct kms_metrics *kms_metrics_new(const char *prog)
{
    struct kms_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    m->prog = prog;
    for (int i = 0; i < KMS_MIF_COUNT_; i++) {
        m->hooks[i] = (struct hook_ctx){m, (enum kms_mif)i};
    }
    return m;
}

void kms_metrics_free(struct kms_metrics *m)
{
    free(m);
}

void kms_metrics_set_source(struct kms_metrics *m, const struct kms_metrics_source *src)
{
    m->src = *src;
}

void kms_metrics_hook(struct kms_metrics *m, enum kms_mif mif, struct kms_httpd_cfg *cfg)
{
    cfg->done = kms_metrics_request_done;
    cfg->done_ctx = &m->hooks[mif];
    m->used[mif] = true;
}

static size_t status_index(int status)
{
    for (size_t i = 0; i + 1 < N_STATUS; i++) {
        if (statuses[i] == status) {
            return i;
        }
    }
    return N_STATUS - 1;
}

static void count(struct kms_metrics *m, enum kms_mif mif, int status, enum kms_err code,
                  uint64_t us)
{
    size_t c = (unsigned)code < KMS_ERR_COUNT_ ? (size_t)code : (size_t)KMS_ERR_INTERNAL;
    if (code == KMS_OK && status >= 400) {
        c = N_CODE - 1;
    }
    atomic_fetch_add_explicit(&m->req[mif][status_index(status)][c], 1, memory_order_relaxed);
    size_t b = 0;
    while (b + 1 < N_BUCKET && us > bucket_us[b]) {
        b++;
    }
    atomic_fetch_add_explicit(&m->lat[mif][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->lat_sum_us[mif], us, memory_order_relaxed);
}

/* The line's level when the handler did not choose one: debug for the health and metrics
 * paths' successes, info for other successes, warn for refusals, error for a 500. */
static enum kms_log_level level_of(const struct kms_http_done *d)
{
    if (d->note != NULL && d->note->level >= KMS_LOG_ERROR && d->note->level <= KMS_LOG_DEBUG) {
        return (enum kms_log_level)d->note->level;
    }
    return d->status >= 500 && d->status != 503 ? KMS_LOG_ERROR
           : d->status >= 400                   ? KMS_LOG_WARN
                                                : KMS_LOG_INFO;
}

void kms_metrics_request_done(void *ctx, const struct kms_http_done *d)
{
    const struct hook_ctx *h = ctx;
    const struct kms_http_note *note = d->note;
    enum kms_err code = note != NULL ? note->code : KMS_OK;
    if (note == NULL || !note->probe) {
        count(h->m, h->mif, d->status, code, d->duration_us);
    }
    enum kms_log_level lvl = level_of(d);
    if ((note != NULL && note->quiet) || !kms_log_enabled(lvl)) {
        return;
    }
    char status[8], dur[24];
    (void)snprintf(status, sizeof(status), "%d", d->status);
    (void)snprintf(dur, sizeof(dur), "%" PRIu64, d->duration_us);
    struct kms_log_kv kv[10 + KMS_HTTP_NOTE_IDS] = {
        {"interface", mif_names[h->mif], false},
        {"request_id", d->request_id, false},
        {"client", d->peer_addr, false},
        {"method", d->method, false},
        {"path", d->path, false},
        {"status", status, true},
        {"code", code != KMS_OK ? kms_err_name(code) : NULL, false},
        {"duration_us", dur, true},
    };
    size_t n = 8;
    for (size_t i = 0; note != NULL && i < note->n_ids && i < KMS_HTTP_NOTE_IDS; i++) {
        kv[n++] = (struct kms_log_kv){note->id_key[i], note->id_val[i], false};
    }
    if (note != NULL && note->msg[0] != '\0') {
        kms_log_kv(lvl, "request", kv, n, "%s", note->msg);
    } else {
        kms_log_kv(lvl, "request", kv, n, "%s %s %d", d->method, d->path, d->status);
    }
}

uint64_t kms_metrics_code_count(struct kms_metrics *m, enum kms_mif mif, enum kms_err code)
{
    if ((unsigned)code >= KMS_ERR_COUNT_ || (unsigned)mif >= KMS_MIF_COUNT_) {
        return 0;
    }
    uint64_t n = 0;
    for (size_t s = 0; s < N_STATUS; s++) {
        n += atomic_load_explicit(&m->req[mif][s][code], memory_order_relaxed);
    }
    return n;
}

static void render_requests(struct kms_metrics *m, struct kms_prom *p)
{
    kms_prom_family(p, "imskms_requests_total", "counter",
                    "Requests answered, by interface, HTTP status and error code (OK: success).");
    for (int i = 0; i < KMS_MIF_COUNT_; i++) {
        for (size_t s = 0; s < N_STATUS && m->used[i]; s++) {
            for (size_t c = 0; c < N_CODE; c++) {
                uint64_t v = atomic_load_explicit(&m->req[i][s][c], memory_order_relaxed);
                if (v == 0) {
                    continue;
                }
                char st[8];
                if (statuses[s] != 0) {
                    (void)snprintf(st, sizeof(st), "%d", statuses[s]);
                } else {
                    (void)snprintf(st, sizeof(st), "other");
                }
                struct kms_prom_label l[] = {{"interface", mif_names[i]},
                                             {"status", st},
                                             {"code", c == KMS_OK ? "OK"
                                                      : c == N_CODE - 1
                                                          ? "NONE"
                                                          : kms_err_name((enum kms_err)c)}};
                kms_prom_u64(p, "imskms_requests_total", l, 3, v);
            }
        }
    }
}

static void render_latency(struct kms_metrics *m, struct kms_prom *p)
{
    kms_prom_family(p, "imskms_request_duration_seconds", "histogram",
                    "Time from the request line read to the answer queued, by interface.");
    for (int i = 0; i < KMS_MIF_COUNT_; i++) {
        if (!m->used[i]) {
            continue;
        }
        uint64_t counts[N_BUCKET];
        for (size_t b = 0; b < N_BUCKET; b++) {
            counts[b] = atomic_load_explicit(&m->lat[i][b], memory_order_relaxed);
        }
        struct kms_prom_label l[] = {{"interface", mif_names[i]}};
        kms_prom_histogram(p, "imskms_request_duration_seconds", l, 1, bucket_us, N_BUCKET - 1,
                           counts, atomic_load_explicit(&m->lat_sum_us[i], memory_order_relaxed));
    }
}

/* Counters derived from the request counters: rate-limited requests and store errors. */
static void render_derived(struct kms_metrics *m, struct kms_prom *p)
{
    kms_prom_family(p, "imskms_rate_limited_total", "counter",
                    "Requests refused by a rate limit (KMS_ERR_RATE), by interface.");
    for (int i = 0; i < KMS_MIF_METRICS; i++) {
        if (!m->used[i]) {
            continue;
        }
        struct kms_prom_label l[] = {{"interface", mif_names[i]}};
        kms_prom_u64(p, "imskms_rate_limited_total", l, 1,
                     kms_metrics_code_count(m, (enum kms_mif)i, KMS_ERR_RATE));
    }
    kms_prom_family(p, "imskms_store_errors_total", "counter",
                    "Requests refused because a store, keyring or token failed "
                    "(503 store-unavailable), by interface.");
    for (int i = 0; i < KMS_MIF_METRICS; i++) {
        if (!m->used[i]) {
            continue;
        }
        uint64_t n = 0;
        for (size_t c = 1; c < KMS_ERR_COUNT_; c++) {
            const char *why = kms_wire_of((enum kms_iface)i, (enum kms_err)c).reason;
            if (why != NULL && strcmp(why, "store-unavailable") == 0) {
                n += kms_metrics_code_count(m, (enum kms_mif)i, (enum kms_err)c);
            }
        }
        struct kms_prom_label l[] = {{"interface", mif_names[i]}};
        kms_prom_u64(p, "imskms_store_errors_total", l, 1, n);
    }
}

kms_result kms_metrics_render(struct kms_metrics *m, uint64_t now, struct kms_buf *out)
{
    struct kms_prom p = {.out = out};
    kms_prom_family(&p, "imskms_build_info", "gauge", "The program and its version (always 1).");
    struct kms_prom_label l[] = {{"program", m->prog}, {"version", kms_version()}};
    kms_prom_u64(&p, "imskms_build_info", l, 2, 1);
    render_requests(m, &p);
    render_latency(m, &p);
    render_derived(m, &p);
    struct kms_ready r = {0};
    kms_metrics_readiness(m, now, &r);
    kms_prom_scalar(&p, "imskms_ready", "gauge",
                    "1 when every required readiness check passes (GET /readyz).",
                    kms_ready_ok(&r) ? 1 : 0);
    if (m->src.collect != NULL) {
        m->src.collect(m->src.ctx, &p, now);
    }
    return kms_prom_result(&p);
}

void kms_metrics_readiness(struct kms_metrics *m, uint64_t now, struct kms_ready *r)
{
    memset(r, 0, sizeof(*r));
    if (m->src.ready != NULL) {
        m->src.ready(m->src.ctx, now, r);
    }
}

void kms_metrics_readyz_public(struct kms_metrics *m, struct kms_http_resp *resp)
{
    struct kms_ready r;
    kms_metrics_readiness(m, kms_now(), &r);
    bool ok = kms_ready_ok(&r);
    const char *body = ok ? "ready\n" : "unready\n";
    kms_buf_reset(&resp->body);
    resp->status = ok ? 200 : 503;
    resp->content_type = "text/plain";
    if (!kms_ok(kms_buf_put_bytes(&resp->body, (const uint8_t *)body, strlen(body)))) {
        kms_buf_reset(&resp->body);
    }
    resp->note.level = KMS_LOG_DEBUG;
    resp->note.probe = true;
}

bool kms_metrics_health_paths(struct kms_metrics *m, enum kms_iface iface,
                              const struct kms_http_req *req, struct kms_http_resp *resp)
{
    if (strcmp(req->path, "/healthz") == 0) {
        kms_http_resp_text(resp, iface, KMS_OK, "ok\n");
        resp->note.level = KMS_LOG_DEBUG;
        resp->note.probe = true;
        return true;
    }
    if (strcmp(req->path, "/readyz") == 0 && m != NULL) {
        kms_metrics_readyz_public(m, resp);
        return true;
    }
    return false;
}

/* The metrics listener's handler. */
static void metrics_handler(void *ctx, const struct kms_http_req *req, struct kms_http_resp *resp)
{
    struct kms_metrics *m = ctx;
    resp->note.level = KMS_LOG_DEBUG;
    bool known = strcmp(req->path, "/metrics") == 0 || strcmp(req->path, "/readyz") == 0 ||
                 strcmp(req->path, "/healthz") == 0;
    if (!known) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_NO_ROUTE, NULL);
        resp->note.code = KMS_ERR_NO_ROUTE;
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_METHOD, NULL);
        resp->note.code = KMS_ERR_METHOD;
        return;
    }
    if (strcmp(req->path, "/healthz") == 0) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_OK, "ok\n");
        resp->note.level = KMS_LOG_DEBUG;
        return;
    }
    uint64_t now = kms_now();
    kms_result r;
    if (strcmp(req->path, "/metrics") == 0) {
        resp->status = 200;
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        r = kms_metrics_render(m, now, &resp->body);
    } else {
        struct kms_ready rd;
        kms_metrics_readiness(m, now, &rd);
        resp->status = kms_ready_ok(&rd) ? 200 : 503;
        resp->content_type = "application/json";
        r = kms_ready_json(&rd, &resp->body);
    }
    if (!kms_ok(r)) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_INTERNAL, NULL);
        resp->note.code = r.err;
        resp->note.level = KMS_LOG_ERROR;
    }
}

kms_result kms_metrics_listen(struct kms_metrics *m, const char *listen, struct kms_httpd **out)
{
    struct kms_httpd_cfg hc = {
        .listen = listen, .max_body = 1024, .threads = 2, .max_conns = 64, .iface = KMS_IFACE_KMS};
    kms_metrics_hook(m, KMS_MIF_METRICS, &hc);
    return kms_httpd_start(&hc, metrics_handler, m, out);
}
