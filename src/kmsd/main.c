/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms-kmsd: the KMS. POST /mikey carries one MIKEY message each way (application/mikey);
 * the request handler is lib/kms/kms_service (bytes in, reply out). Ks_NAF comes from the BSF
 * over Zn (lib/gba/kms_zn_client, cached for its lifetime); Kkms from the keyring, which the
 * daemon keeps current (kms_keyring refreshes on use; housekeeping every few seconds) so that
 * `imskms keys rotate|revoke` on the same file takes effect within a second.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_conf.h"
#include "gba/kms_zn_client.h"
#include "http/kms_httpc.h"
#include "http/kms_httpd.h"
#include "keyring/kms_keyring.h"
#include "keyring/kms_keystore.h"
#define IMSKMS_NO_VERSION /* kms_version() only */
#include "imskms/imskms.h"
#include "kms_start_err.h"
#include "kms/kms_service.h"
#include "kms_daemon.h"
#include "kms_metrics.h"
#include "kmsd_obs.h"
#include "kms/kms_fleet.h"
#include "replay/kms_replay.h"
#include "replay/kms_replay_snap.h"
#include "store/kms_store.h"
#include "store/kms_store_redis.h"
#include "util/kms_file.h"
#include "util/kms_log.h"
#include "util/kms_mem.h"
#include "util/kms_time.h"
#include "zn_pool.h"

static const char usage[] =
    "usage: imskms-kmsd [--config FILE] [--check-config] [--version]\n"
    "                   --listen ADDR:PORT --fqdn FQDN --bsf-zn https://HOST:PORT\n"
    "                   --zn-cert FILE --zn-key FILE --zn-ca FILE\n"
    "                   --keyring PATH|redis (--kek-file FILE | --hsm URI [--kek-file FILE])\n"
    "                   (--state-db PATH | --redis URL [--redis-password-file FILE])\n"
    "                   [--modes 1,2,3] [--kue-lifetime SECONDS]\n"
    "                   [--ticket-lifetime SECONDS] [--skew SECONDS]\n"
    "                   [--log-level error|warn|info|debug] [--threads N]\n"
    "                   [--replay-entries N] [--max-connections N]\n"
    "                   [--max-connections-per-ip N] [--header-timeout S] [--idle-timeout S]\n"
    "                   [--zn-timeout MS] [--zn-threads N] [--tls-cert FILE --tls-key FILE]\n"
    "                   [--log-format logfmt|json] [--metrics-listen ADDR:PORT]\n"
    "\n"
    "The KMS: POST /mikey (MIKEY-TICKET over HTTP, application/mikey both ways). Interfaces:\n"
    "docs/api.md; message profile: docs/protocol.md.\n"
    "\n"
    "  --config FILE           read options from FILE (key = value lines, keys the long\n"
    "                          option names, an optional [kmsd] section; docs/cli.md); the\n"
    "                          command line overrides the file\n"
    "  --check-config          check everything a start checks without listening, print\n"
    "                          one line per problem, exit 0 (ok) or 2\n"
    "  --version               print the version\n"
    "  --listen ADDR:PORT      HTTP, or HTTPS with --tls-cert, e.g. 127.0.0.1:8090 (port 0:\n"
    "                          any free port)\n"
    "  --fqdn FQDN             the KMS's FQDN: IDRkms, the NAF_Id it asks Zn for, and the\n"
    "                          name its Zn client certificate must carry\n"
    "  --bsf-zn URL            the BSF's Zn, e.g. https://bsf.example.org:8443\n"
    "  --zn-cert/--zn-key FILE the KMS's Zn client certificate and key (PEM)\n"
    "  --zn-ca FILE            CA of the BSF's Zn server certificate (PEM)\n"
    "  --keyring PATH          the Kkms keyring ('imskms keys init'); the word redis: the\n"
    "                          keyring in the Redis of --redis, shared by a fleet of KMS\n"
    "                          nodes (file keystore only; Redis must run with appendonly\n"
    "                          yes and appendfsync always; docs/keyring.md). A file named\n"
    "                          redis: ./redis\n"
    "  --kek-file FILE         the KEK: of the file keystore, and of the state store (mode-2\n"
    "                          Kue records); with --hsm it is needed for mode 2 only\n"
    "  --hsm URI               keep Kkms in a PKCS#11 token (RFC 7512 URI)\n"
    "  --state-db PATH         the state store (SQLite, created when missing)\n"
    "  --redis URL             instead of --state-db, for a fleet of KMS nodes: mode-2 Kues\n"
    "                          and the replay cache shared in Redis (docs/scaling.md),\n"
    "                          redis://[USER@]HOST:PORT[/DB] or unix://[USER@]/PATH[?db=N];\n"
    "                          needs --kek-file and maxmemory-policy noeviction; a node serves at\n"
    "                          once after a start (no PATH.replay: the shared cache covers it)\n"
    "  --redis-password-file FILE\n"
    "                          the Redis password (owner-only file; AUTH [USER] password)\n";

/* The usage text goes on here (one string would pass the 4095 octets C compilers must take). */
static const char usage_service[] =
    "  --modes LIST            modes served, comma-separated (default 1,2,3): 1 requests\n"
    "                          keyed by a fresh bootstrap (nothing kept), 2 stored Kue\n"
    "                          (references), 3 sealed Kue tokens (nothing kept)\n"
    "  --kue-lifetime SECONDS  Kue lifetime (default 86400; never beyond Ks_NAF's)\n"
    "  --ticket-lifetime SECONDS media ticket lifetime (default 3600)\n"
    "  --skew SECONDS          allowed clock skew of request timestamps (default 60); after a\n"
    "                          start, requests stamped earlier than start + skew are refused,\n"
    "                          unless a clean stop left PATH.replay beside --state-db (the\n"
    "                          replay cache, sealed under the KEK; removed at start); with\n"
    "                          --redis the same on every node (kept in Redis)\n"
    "  --log-level LEVEL       default info\n"
    "  --threads N             HTTP worker threads, 1..64 (default: the number of online CPUs)\n"
    "  --replay-entries N      replay cache size, 1000..100000000 (default 1000000; 48 bytes\n"
    "                          each, allocated at start): an entry lives about --skew\n"
    "                          seconds, so requests/s x skew above N are refused (503)\n";
/* Split in three: C11 compilers need not take a string longer than 4095 bytes. */
static const char usage_limits[] =
    "  --max-connections N     connections held at once (64 .. 1000000, default 10000); the\n"
    "                          file descriptor limit is raised to fit at start, or the\n"
    "                          daemon exits 2 naming the limit\n"
    "  --max-connections-per-ip N\n"
    "                          connections from one address (default 1000: phones behind\n"
    "                          carrier NAT share addresses)\n"
    "  --header-timeout S      a request's headers and body must be in within S seconds of\n"
    "                          the connection (default 5), else it is closed\n"
    "  --idle-timeout S        a connection silent for S seconds is closed; a kept-alive one\n"
    "                          waits that long for its next request (default 30)\n"
    "  --zn-timeout MS         one Zn query to the BSF, connection included, 100..60000 ms\n"
    "                          (default 2000); then the request gets 503 zn-unavailable\n"
    "  --zn-threads N          threads for the requests that wait on Zn (a Kue issue or a\n"
    "                          mode-1 request whose B-TID is not cached), 1..256 (default 8);\n"
    "                          16 per thread may queue, more get 503 overloaded at once. The\n"
    "                          HTTP threads never wait on Zn (/healthz answers at once)\n"
    "  --tls-cert FILE         serve --listen over TLS 1.2 or 1.3 with this PEM certificate\n"
    "                          chain; --tls-key FILE its PEM private key (both or neither;\n"
    "                          without them plain HTTP, for loopback or a TLS-terminating front)\n"
    "  --log-format FORMAT     logfmt (default) or json: one line per event and per request\n"
    "                          (docs/cli.md, \"Logs\")\n"
    "  --metrics-listen ADDR:PORT\n"
    "                          plain HTTP for loopback or a management network: GET /metrics\n"
    "                          (Prometheus text format), /readyz (JSON checks), /healthz\n"
    "\n";
static const char usage_signals[] =
    "Logs one line per request to stderr (with a request id, also sent in X-Request-Id), never\n"
    "a key; prints 'kms listening on port N' once serving. /healthz and /readyz (200 ready, 503\n"
    "unready) answer on every listener. SIGHUP reloads the configuration (the file and the\n"
    "command line): log level and format, modes, lifetimes, the Zn certificate, key, CA and\n"
    "URL, the listener's TLS certificate and key (a broken one keeps the old, logged), and the\n"
    "keyring at once; other\n"
    "changes are logged as needing a restart, and a reload that fails changes nothing.\n"
    "SIGTERM or SIGINT stops it: no new connections, requests in flight finish (at most 10 s),\n"
    "exit 0. Exit 2 on bad usage (also a bad --listen, a KEK file or TLS file that cannot be\n"
    "read, holds no PEM object, or a key that is not the certificate's), 3 when it cannot\n"
    "start.\n";

/* Requests that may wait for a Zn thread, per thread (--zn-threads). */
#define ZN_QUEUE_PER_THREAD 16

/* What a reload replaces while requests run: the service (modes, lifetimes) and the Zn client
 * (certificate, key, CA, URL). A request holds the one it started with; the last to let go of
 * a replaced one frees it. */
struct kmsd_live {
    struct kms_service *svc;
    struct kms_zn_client *zn;
    unsigned refs; /* requests holding it, and 1 while current; under kmsd.mu */
};

struct kmsd {
    pthread_mutex_t mu;
    struct kmsd_live *live;
    struct zn_pool *pool;        /* the requests that wait on Zn (--zn-threads) */
    struct kms_metrics *metrics; /* request counters, /metrics, /readyz */
};

static void live_free(struct kmsd_live *l)
{
    if (l != NULL) {
        kms_service_free(l->svc);
        kms_zn_client_free(l->zn);
        free(l);
    }
}

static struct kmsd_live *live_get(struct kmsd *d)
{
    pthread_mutex_lock(&d->mu);
    struct kmsd_live *l = d->live;
    l->refs++;
    pthread_mutex_unlock(&d->mu);
    return l;
}

static void live_put(struct kmsd *d, struct kmsd_live *l)
{
    pthread_mutex_lock(&d->mu);
    unsigned left = --l->refs;
    pthread_mutex_unlock(&d->mu);
    if (left == 0) {
        live_free(l);
    }
}

/* Makes l current (it comes with its one reference); the one it replaces goes when unused. */
static void live_swap(struct kmsd *d, struct kmsd_live *l)
{
    pthread_mutex_lock(&d->mu);
    struct kmsd_live *old = d->live;
    d->live = l;
    pthread_mutex_unlock(&d->mu);
    if (old != NULL) {
        live_put(d, old);
    }
}

static kms_result fleet_commit(void *ctx, const uint8_t token_id[16], const uint8_t *rand,
                               size_t rand_len, uint64_t ts, uint64_t now)
{
    return kms_fleet_replay_commit(ctx, token_id, rand, rand_len, ts, now);
}

static uint64_t fleet_horizon(void *ctx)
{
    return kms_fleet_horizon(ctx);
}

static kms_result zn_get(void *ctx, const char *btid, uint64_t now, struct kms_zn_resp *out)
{
    struct kmsd_live *l = ctx;
    return kms_zn_client_get(l->zn, btid, now, out);
}

static kms_result zn_peek(void *ctx, const char *btid, uint64_t now, struct kms_zn_resp *out,
                          bool *hit)
{
    struct kmsd_live *l = ctx;
    return kms_zn_client_peek(l->zn, btid, now, out, hit);
}

/* The answer of the service's reply r (rc its result) into resp, and what its log line says
 * (resp->note; the line itself is the request hook's, kms_metrics.h). */
static void answer(kms_result rc, const char *peer, struct kms_service_reply *r,
                   struct kms_http_resp *resp)
{
    if (!kms_ok(rc)) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_INTERNAL, NULL);
        resp->note.code = rc.err;
        resp->note.level = KMS_LOG_ERROR;
        (void)snprintf(resp->note.msg, sizeof(resp->note.msg), "mikey from %s: %s", peer,
                       kms_err_name(rc.err));
        return;
    }
    resp->status = r->status;
    resp->content_type = "application/mikey";
    resp->body.secret = true; /* a response carries keys (encrypted, but still) */
    if (!kms_ok(kms_buf_put_bytes(&resp->body, kms_buf_data(&r->body), kms_buf_len(&r->body))) ||
        !kms_ok(kms_http_resp_busy(resp, KMS_IFACE_KMS, r->why, r->retry_after))) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_INTERNAL, NULL);
    }
    resp->note.code = r->why;
    resp->note.level = r->status == 200 ? KMS_LOG_INFO : KMS_LOG_WARN;
    if (kms_log_enabled((enum kms_log_level)resp->note.level)) { /* else no line to write */
        kmsd_note_ids(resp, r->detail);
        (void)snprintf(resp->note.msg, sizeof(resp->note.msg), "mikey %d %s (%s)", r->status,
                       r->detail, r->status == 200 ? "ok" : kms_err_name(r->why));
    }
}

/* A request that needs a Zn query, on a pool thread (or, with nowait, at the pool's stop). */
static void zn_serve(void *ctx, const uint8_t *req, size_t len, const char *peer, bool nowait,
                     struct kms_http_resp *resp)
{
    struct kmsd *d = ctx;
    struct kms_service_reply r;
    kms_service_reply_init(&r);
    struct kmsd_live *l = live_get(d); /* the current service: a reload may have come since */
    kms_result rc = nowait ? kms_service_handle_nowait(l->svc, req, len, kms_now(), &r)
                           : kms_service_handle(l->svc, req, len, kms_now(), &r);
    live_put(d, l);
    answer(rc, peer, &r, resp);
    kms_service_reply_cleanup(&r);
}

static void serve_mikey(struct kmsd *d, struct kms_service *svc, const struct kms_http_req *req,
                        struct kms_http_resp *resp);

static void handler(void *ctx, const struct kms_http_req *req, struct kms_http_resp *resp)
{
    struct kmsd *d = ctx;
    if (kms_metrics_health_paths(d->metrics, KMS_IFACE_KMS, req, resp)) {
        return;
    }
    if (strcmp(req->path, "/mikey") != 0) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_NO_ROUTE, NULL);
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_METHOD, NULL);
        return;
    }
    struct kmsd_live *l = live_get(d);
    serve_mikey(d, l->svc, req, resp);
    live_put(d, l);
}

static void serve_mikey(struct kmsd *d, struct kms_service *svc, const struct kms_http_req *req,
                        struct kms_http_resp *resp)
{
    struct kms_service_reply r;
    kms_service_reply_init(&r);
    kms_result rc;
    if (!kms_http_media_type_is(kms_http_req_header(req, "Content-Type"), "application/mikey")) {
        /* Not a MIKEY message by its own label: refused like one that does not decode, with
         * the table's 415 and a MIKEY Error without V (no CSB ID: nothing was read). */
        r.idrkms = kms_service_fqdn(svc); /* every Error names the KMS (docs/protocol.md) */
        rc = kms_service_refuse(&r, KMS_ERR_MEDIA_TYPE, 0);
        (void)snprintf(r.detail, sizeof(r.detail), "from %s: Content-Type not application/mikey",
                       req->peer_addr);
    } else {
        /* Never waits on Zn here: a request that needs a query goes to the pool. */
        rc = kms_service_handle_nowait(svc, req->body, req->body_len, kms_now(), &r);
        if (kms_ok(rc) && r.zn_pending) {
            struct kms_http_defer *df = kms_http_defer(req);
            if (df != NULL &&
                zn_pool_submit(d->pool, df, req->body, req->body_len, req->peer_addr)) {
                kms_log(KMS_LOG_DEBUG, "mikey request_id=%s from %s: %s: waits on Zn (queued)",
                        req->request_id, req->peer_addr, r.detail);
                kms_service_reply_cleanup(&r);
                return; /* answered by the pool */
            }
            if (df != NULL) { /* the queue is full: the 503 overloaded in r, at once */
                answer(rc, req->peer_addr, &r, kms_http_defer_resp(df));
                kms_http_defer_done(df);
                kms_service_reply_cleanup(&r);
                return;
            }
        }
    }
    answer(rc, req->peer_addr, &r, resp);
    kms_service_reply_cleanup(&r);
}

/* ---- options -> configuration ---- */

enum {
    O_LISTEN,
    O_FQDN,
    O_ZN,
    O_ZCERT,
    O_ZKEY,
    O_ZCA,
    O_KEYRING,
    O_KEK,
    O_HSM,
    O_STATE,
    O_MODES,
    O_KUE,
    O_TICKET,
    O_SKEW,
    O_LOG,
    O_THREADS,
    O_REPLAY,
    O_MAXCONN,
    O_MAXIP,
    O_HDRTO,
    O_IDLETO,
    O_ZNTO,
    O_ZNTHREADS,
    O_TLSCERT,
    O_TLSKEY,
    O_LOGFMT,
    O_METRICS,
    O_REDIS,
    O_REDISPW,
    O_CONFIG,
    O_CHECK,
    O_VERSION,
    N_OPTS
};

/* The one option table (the usage text above says the same at length). */
static const struct cli_opt opts[N_OPTS] = {
    [O_LISTEN] = CLI_REQUIRED_DOC("listen", "ADDR:PORT", "HTTP, or HTTPS with --tls-cert"),
    [O_FQDN] = CLI_REQUIRED_DOC(
        "fqdn", "FQDN", "the KMS's FQDN: IDRkms, its NAF_Id on Zn, its Zn certificate's name"),
    [O_ZN] = CLI_REQUIRED_DOC("bsf-zn", "URL", "the BSF's Zn, https://HOST:PORT"),
    [O_ZCERT] = CLI_REQUIRED_DOC("zn-cert", "FILE", "the KMS's Zn client certificate (PEM)"),
    [O_ZKEY] = CLI_REQUIRED_DOC("zn-key", "FILE", "its private key (PEM)"),
    [O_ZCA] = CLI_REQUIRED_DOC("zn-ca", "FILE", "CA of the BSF's Zn server certificate (PEM)"),
    [O_KEYRING] = CLI_REQUIRED_DOC("keyring", "PATH", "the Kkms keyring"),
    [O_KEK] =
        CLI_VALUE_DOC("kek-file", "FILE", "the KEK of the file keystore and of the state store"),
    [O_HSM] = CLI_VALUE_DOC("hsm", "URI", "keep Kkms in a PKCS#11 token (RFC 7512 URI)"),
    [O_STATE] = CLI_VALUE_DOC("state-db", "PATH",
                              "the state store (SQLite, created when missing; or --redis)"),
    [O_MODES] = CLI_VALUE_DOC("modes", "LIST", "modes served, comma-separated (default 1,2,3)"),
    [O_KUE] = CLI_VALUE_DOC("kue-lifetime", "SECONDS", "Kue lifetime (default 86400)"),
    [O_TICKET] =
        CLI_VALUE_DOC("ticket-lifetime", "SECONDS", "media ticket lifetime (default 3600)"),
    [O_SKEW] =
        CLI_VALUE_DOC("skew", "SECONDS", "allowed clock skew of request timestamps (default 60)"),
    [O_LOG] = CLI_VALUE_DOC("log-level", "LEVEL",
                            "most verbose level logged: error, warn, info (default) or debug"),
    [O_THREADS] =
        CLI_VALUE_DOC("threads", "N", "HTTP worker threads, 1..64 (default: online CPUs)"),
    [O_REPLAY] = CLI_VALUE_DOC("replay-entries", "N",
                               "replay cache size, 1000..100000000 (default 1000000)"),
    [O_MAXCONN] = CLI_VALUE_DOC("max-connections", "N", "connections held at once (default 10000)"),
    [O_MAXIP] =
        CLI_VALUE_DOC("max-connections-per-ip", "N", "connections from one address (default 1000)"),
    [O_HDRTO] = CLI_VALUE_DOC("header-timeout", "S",
                              "seconds for a request's headers and body (default 5)"),
    [O_IDLETO] =
        CLI_VALUE_DOC("idle-timeout", "S", "seconds a connection may stay silent (default 30)"),
    [O_ZNTO] = CLI_VALUE_DOC("zn-timeout", "MS", "one Zn query, in ms (default 2000)"),
    [O_ZNTHREADS] =
        CLI_VALUE_DOC("zn-threads", "N", "threads for requests that wait on Zn (default 8)"),
    [O_TLSCERT] = CLI_VALUE_DOC("tls-cert", "FILE",
                                "TLS on --listen: its PEM certificate chain (with --tls-key)"),
    [O_TLSKEY] = CLI_VALUE_DOC("tls-key", "FILE", "TLS on --listen: its PEM private key"),
    [O_LOGFMT] = CLI_VALUE_DOC("log-format", "FORMAT", "log line format: logfmt (default) or json"),
    [O_METRICS] = CLI_VALUE_DOC("metrics-listen", "ADDR:PORT",
                                "plain HTTP: GET /metrics (Prometheus), /readyz, /healthz"),
    [O_REDIS] =
        CLI_VALUE_DOC("redis", "URL", "a fleet's shared state in Redis, instead of --state-db"),
    [O_REDISPW] = CLI_VALUE_DOC("redis-password-file", "FILE", "the Redis password (owner-only)"),
    [O_CONFIG] = CLI_VALUE_DOC("config", "FILE", "read options from FILE (the command line wins)"),
    [O_CHECK] = {.name = "check-config", .help = "check the configuration without listening"},
    [O_VERSION] = {.name = "version", .help = "print the version"},
};

/* What a SIGHUP applies at once; every other option needs a restart. */
static const bool live_opt[N_OPTS] = {
    [O_ZN] = true,    [O_ZCERT] = true,   [O_ZKEY] = true,   [O_ZCA] = true,
    [O_MODES] = true, [O_KUE] = true,     [O_TICKET] = true, [O_LOG] = true,
    [O_ZNTO] = true,  [O_TLSCERT] = true, [O_TLSKEY] = true, [O_LOGFMT] = true,
};

struct kmsd_cfg {
    struct cli_conf file;    /* --config's values (owned) */
    const char *raw[N_OPTS]; /* every option's text as given (argv or file), for reloads */
    bool check;              /* --check-config */
    bool check_tls_only;     /* check_listen of a reload: the TLS files, not --listen */
    const char *listen, *zn_cert, *zn_key, *zn_ca, *keyring, *kek_file, *hsm, *state_db;
    const char *tls_cert, *tls_key; /* TLS on --listen: both or neither */
    const char *metrics_listen;     /* NULL: no metrics listener */
    bool redis;                     /* --redis given (then no --state-db) */
    struct kms_redis_url redis_url;
    const char *redis_pw; /* --redis-password-file (NULL: none) */
    char zn_url[1024];    /* --bsf-zn with the Zn resource path */
    struct kms_service_cfg svc;
    uint64_t skew, threads, replay_entries, zn_timeout_ms, zn_threads;
    struct kms_daemon_conn_limits lim;
    bool lim_given; /* --max-connections given */
    enum kms_log_level log_level;
    enum kms_log_format log_format;
};

/* "1,2,3", "3", "2,3", ...: each of 1, 2, 3 at most once, at least one. */
static bool parse_modes(const char *m, struct kms_service_cfg *sc)
{
    bool on[4] = {false, false, false, false};
    size_t n = strlen(m);
    if (n == 0 || n % 2 == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i += 2) {
        if (m[i] < '1' || m[i] > '3' || on[m[i] - '0'] || (i + 1 < n && m[i + 1] != ',')) {
            return false;
        }
        on[m[i] - '0'] = true;
    }
    sc->mode1 = on[1];
    sc->mode2 = on[2];
    sc->mode3 = on[3];
    return true;
}

/* Modes, lifetimes and skew into c->svc and c->skew; mode 2 needs the KEK. */
static int check_service(const struct cli_args *a, struct kmsd_cfg *c)
{
    c->svc = (struct kms_service_cfg){.fqdn = a->val[O_FQDN],
                                      .mode1 = true,
                                      .mode2 = true,
                                      .mode3 = true,
                                      .kue_lifetime = 86400,
                                      .ticket_lifetime = 3600};
    c->skew = 60;
    if (a->val[O_MODES] != NULL && !parse_modes(a->val[O_MODES], &c->svc)) {
        return cli_usage_error(a, "--modes: a comma-separated list of 1, 2 and 3, e.g. 2,3");
    }
    if (!cli_uint(a->val[O_KUE], 1, 315360000, &c->svc.kue_lifetime) ||
        !cli_uint(a->val[O_TICKET], 1, 315360000, &c->svc.ticket_lifetime) ||
        !cli_uint(a->val[O_SKEW], 1, 315360000, &c->skew)) {
        return cli_usage_error(a, "lifetimes and --skew: seconds from 1 to 315360000");
    }
    if (c->svc.mode2 && a->val[O_KEK] == NULL) {
        return cli_usage_error(a, "mode 2 keeps Kue records sealed under --kek-file: give it");
    }
    return CLI_EXIT_OK;
}

/* Threads, replay cache size, log level and connection limits. */
static int check_process(const struct cli_args *a, struct kmsd_cfg *c)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = ncpu >= 1 && ncpu <= 64 ? (uint64_t)ncpu : 2;
    c->replay_entries = 1000000;
    c->log_level = KMS_LOG_INFO;
    if (!cli_uint(a->val[O_THREADS], 1, 64, &c->threads)) {
        return cli_usage_error(a, "--threads: a number from 1 to 64");
    }
    if (!cli_uint(a->val[O_REPLAY], 1000, 100000000, &c->replay_entries)) {
        return cli_usage_error(a, "--replay-entries: a number from 1000 to 100000000");
    }
    c->zn_timeout_ms = KMS_ZN_CLIENT_TIMEOUT_MS;
    c->zn_threads = 8;
    if (!cli_uint(a->val[O_ZNTO], 100, 60000, &c->zn_timeout_ms)) {
        return cli_usage_error(a, "--zn-timeout: milliseconds from 100 to 60000");
    }
    if (!cli_uint(a->val[O_ZNTHREADS], 1, 256, &c->zn_threads)) {
        return cli_usage_error(a, "--zn-threads: a number from 1 to 256");
    }
    if (a->val[O_LOG] != NULL && !kms_log_level_parse(a->val[O_LOG], &c->log_level)) {
        return cli_usage_error(a, "--log-level: one of error, warn, info, debug");
    }
    c->log_format = KMS_LOG_LOGFMT;
    if (a->val[O_LOGFMT] != NULL && !kms_log_format_parse(a->val[O_LOGFMT], &c->log_format)) {
        return cli_usage_error(a, "--log-format: logfmt or json");
    }
    const char *bad = kms_daemon_conn_limits_parse(a->val[O_MAXCONN], a->val[O_MAXIP],
                                                   a->val[O_HDRTO], a->val[O_IDLETO], &c->lim);
    c->lim_given = a->val[O_MAXCONN] != NULL;
    return bad != NULL ? cli_usage_error(a, bad) : CLI_EXIT_OK;
}

static int check_zn_url(const struct cli_args *a, struct kmsd_cfg *c)
{
    const char *base = a->val[O_ZN];
    int n = snprintf(c->zn_url, sizeof(c->zn_url), "%s/zn/v1/bootstrap-info", base);
    if (n <= 0 || (size_t)n >= sizeof(c->zn_url) || strncmp(base, "https://", 8) != 0) {
        return cli_usage_error(a, "--bsf-zn: an https:// URL");
    }
    return CLI_EXIT_OK;
}

/* --state-db or --redis (one of them), the Redis URL and what it needs. */
static int check_redis(const struct cli_args *a, struct kmsd_cfg *c)
{
    const char *url = a->val[O_REDIS];
    if (url == NULL && a->val[O_STATE] == NULL) {
        return cli_missing(a, "state-db");
    }
    if (url != NULL && a->val[O_STATE] != NULL) {
        return cli_usage_error(a, "--redis and --state-db: give one (a fleet keeps its state in "
                                  "Redis)");
    }
    if (url == NULL) {
        return a->val[O_REDISPW] == NULL
                   ? CLI_EXIT_OK
                   : cli_usage_error(a, "--redis-password-file: only with --redis");
    }
    if (!kms_ok(kms_redis_url_parse(url, strlen(url), &c->redis_url))) {
        return cli_usage_error(
            a, "--redis: redis://[USER@]HOST:PORT[/DB] or unix://[USER@]/PATH[?db=N]");
    }
    if (c->redis_url.user[0] != '\0' && a->val[O_REDISPW] == NULL) {
        return cli_usage_error(a, "--redis names a user: give --redis-password-file");
    }
    if (a->val[O_KEK] == NULL) {
        return cli_usage_error(a, "--redis needs --kek-file (the KEK seals Kues and keys the "
                                  "names in Redis)");
    }
    c->redis = true;
    c->redis_pw = a->val[O_REDISPW];
    return CLI_EXIT_OK;
}

/* Checks the options into c. *done when the program ends here (--help, or a usage error), with
 * the returned exit status. */
static int configure(int argc, char **argv, struct kmsd_cfg *c, bool *done)
{
    struct cli_args a;
    *done = true;
    int rc = cli_parse("imskms-kmsd", opts, N_OPTS, 0, argc, argv, &a);
    if (rc != CLI_EXIT_OK || a.help) {
        if (rc == CLI_EXIT_OK) {
            fputs(usage, stdout);
            fputs(usage_service, stdout);
            fputs(usage_limits, stdout);
            fputs(usage_signals, stdout);
        }
        return rc;
    }
    bool stop = false; /* --version, or a configuration file that does not read */
    rc = kms_daemon_options("imskms-kmsd", "kmsd", opts, N_OPTS, O_VERSION, O_CONFIG, &a, &c->file,
                            &stop);
    if (stop) {
        return rc;
    }
    c->check = a.seen[O_CHECK];
    memcpy(c->raw, a.val, sizeof(c->raw));
    /* In this order: a command line with several errors names the first. */
    rc = cli_require(&a, opts, N_OPTS);
    if (rc == CLI_EXIT_OK && strcmp(a.val[O_KEYRING], "redis") == 0) {
        if (a.val[O_REDIS] == NULL) {
            rc = cli_usage_error(&a, "--keyring redis needs --redis URL");
        } else if (a.val[O_HSM] != NULL) {
            rc = cli_usage_error(&a, "--keyring redis: the file keystore only (--kek-file)");
        }
    }
    if (rc == CLI_EXIT_OK) {
        rc = check_redis(&a, c);
    }
    if (rc == CLI_EXIT_OK && a.val[O_KEK] == NULL && a.val[O_HSM] == NULL) {
        rc = cli_usage_error(&a, "give --kek-file FILE or --hsm URI");
    }
    if (rc == CLI_EXIT_OK) {
        rc = check_service(&a, c);
    }
    if (rc == CLI_EXIT_OK) {
        rc = check_process(&a, c);
    }
    if (rc == CLI_EXIT_OK) {
        rc = check_zn_url(&a, c);
    }
    if (rc == CLI_EXIT_OK && (a.val[O_TLSCERT] == NULL) != (a.val[O_TLSKEY] == NULL)) {
        rc = cli_usage_error(&a, "--tls-cert and --tls-key: give both (TLS) or neither");
    }
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    c->listen = a.val[O_LISTEN];
    c->zn_cert = a.val[O_ZCERT];
    c->zn_key = a.val[O_ZKEY];
    c->zn_ca = a.val[O_ZCA];
    c->keyring = a.val[O_KEYRING];
    c->kek_file = a.val[O_KEK];
    c->hsm = a.val[O_HSM];
    c->state_db = a.val[O_STATE];
    c->tls_cert = a.val[O_TLSCERT];
    c->tls_key = a.val[O_TLSKEY];
    c->metrics_listen = a.val[O_METRICS];
    *done = false;
    return CLI_EXIT_OK;
}

/* ---- wiring ---- */

struct kmsd_parts {
    struct kmsd d; /* what the request handler sees */
    struct kms_keystore *ks;
    struct kms_keyring *kr;
    struct kms_store *st;
    struct kms_replay *rg;
    struct kms_fleet *fleet; /* --redis (NULL: none) */
    struct kms_httpd *httpd;
    bool tls;                        /* the listener serves TLS (--tls-cert at start) */
    struct kms_httpd *metrics_httpd; /* --metrics-listen (NULL: none) */
    struct kmsd_obs obs;             /* gauges, readiness, keyring change lines */
    bool obs_ready;
    bool purge_ok;       /* the last state store purge succeeded */
    uint64_t next_purge; /* the clock's second of the next state store purge */
    bool seals_failing;  /* the last reservation of seals ahead failed (logged once) */
    bool served;         /* wired and run: a stop saves the replay snapshot */
    bool snap;           /* a KEK is given: the replay cache is kept across a clean stop */
    uint8_t snap_key[KMS_REPLAY_SNAP_KEY_LEN];
    char snap_path[4096]; /* --state-db PATH.replay */
    /* for reloads (SIGHUP): the command line, the configuration started with (its strings
     * stay borrowed by what start made) and the one applied last */
    int argc;
    char **argv;
    struct kmsd_cfg *start_cfg, *cur_cfg;
};

static int fail(const char *what, kms_result r)
{
    kms_log(KMS_LOG_ERROR, "%s: %s", what, kms_strerror(r.err));
    return CLI_EXIT_INTERNAL;
}

/* A file option that cannot be used: the option, the path and the system's reason. */
static int fail_file(const char *opt, const char *path, kms_result r)
{
    kms_start_file_error(opt, path, r.err, NULL);
    return CLI_EXIT_INTERNAL;
}

/* A full seal window reserved off the request path (at start and every tick) whenever the
 * held one is used up or its key rotated out: a mode-3 request then writes nothing. A failure
 * (a full disk) is logged once; requests keep sealing until the window runs out, then get 503
 * store-unavailable, and the next tick after space returns reserves again (docs/reliability.md). */
static void seals_ahead(struct kmsd_parts *p, uint64_t now)
{
    kms_result r = kms_keyring_reserve_ahead(p->kr, now);
    if (!kms_ok(r) && !p->seals_failing) {
        kms_log(KMS_LOG_WARN,
                "keyring: cannot reserve seals ahead: %s (mode-3 requests are "
                "refused 503 once the reserved seals run out)",
                kms_strerror(r.err));
    } else if (kms_ok(r) && p->seals_failing) {
        kms_log(KMS_LOG_INFO, "keyring: seals reserved ahead again");
    }
    p->seals_failing = !kms_ok(r);
}

static int open_fleet(const struct kmsd_cfg *c, const uint8_t kek[32], struct kmsd_parts *p);

/* --keyring redis: on the fleet's client (--redis, opened here when the state store has not
 * yet), the durability the keyring needs, the keyring; each failure one line (a keyring missing
 * from Redis is never made here: `imskms keys init|copy`). */
static int open_redis_keyring(const struct kmsd_cfg *c, const uint8_t kek[32], struct kmsd_parts *p)
{
    const char *url = c->raw[O_REDIS];
    if (p->fleet == NULL) {
        int rc = open_fleet(c, kek, p);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }
    struct kms_redis *rd = kms_fleet_redis(p->fleet);
    char why[256] = "";
    kms_result r = kms_keyring_redis_check(rd, why, sizeof(why));
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_ERROR, "--redis %s: %s", url, why[0] != '\0' ? why : kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    r = kms_keyring_open_redis(rd, NULL, p->ks, &p->kr);
    if (r.err == KMS_ERR_NOT_FOUND) {
        kms_log(KMS_LOG_ERROR,
                "--keyring redis: Redis %s holds no keyring (create it with 'imskms keys init "
                "--keyring redis' or 'imskms keys copy'; never made by the daemon)",
                url);
        return CLI_EXIT_INTERNAL;
    }
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_ERROR, "--keyring redis (%s): %s", url, kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

/* The keystore (file under the KEK, or PKCS#11) and the keyring on it. */
static int open_keys(const struct kmsd_cfg *c, const uint8_t kek[32], struct kmsd_parts *p)
{
    kms_result r = c->hsm != NULL ? kms_keystore_p11_open(c->hsm, &p->ks)
                                  : kms_keystore_file_open_kek(kek, &p->ks);
    if (!kms_ok(r)) {
        return fail(c->hsm != NULL ? "--hsm" : "--kek-file", r);
    }
    if (strcmp(c->keyring, "redis") == 0) {
        int rc = open_redis_keyring(c, kek, p);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    } else if (!kms_ok(r = kms_keyring_open(c->keyring, p->ks, &p->kr))) {
        return fail_file("--keyring", c->keyring, r);
    }
    /* One durable reservation per 2^20 seals rather than per 1024 (kms_keyring.h): no disk
     * write per request, and a full disk matters only when a window runs out. */
    kms_keyring_set_seal_chunk_max(p->kr, KMS_KEYRING_SEAL_CHUNK_SERVER);
    if (!c->check) { /* a check writes no keyring (file or Redis): it reserves nothing */
        seals_ahead(p, kms_now());
    }
    return CLI_EXIT_OK;
}

/* The replay guard: from the snapshot a clean stop left (PATH.replay beside --state-db, sealed
 * under the KEK; docs/reliability.md), else empty under the restart rule. Whatever was found
 * is removed durably before the first request, so that a later crash never reuses it; a
 * snapshot that cannot be removed stops the start. Without a KEK (--hsm alone) none is read,
 * and any left by an earlier run is removed all the same. */
static int open_replay(const struct kmsd_cfg *c, const uint8_t kek[32], struct kmsd_parts *p)
{
    struct kms_replay_cfg rcfg = {.skew = c->skew, .max_entries = (size_t)c->replay_entries};
    uint64_t now = kms_now();
    kms_result r;
    int n = snprintf(p->snap_path, sizeof(p->snap_path), "%s.replay", c->state_db);
    if (n <= 0 || (size_t)n >= sizeof(p->snap_path)) {
        return fail("--state-db", KMS_ERR(KMS_ERR_TOO_LONG));
    }
    p->snap = c->kek_file != NULL;
    if (p->snap && !kms_ok(r = kms_replay_snap_key(kek, p->snap_key))) {
        return fail("replay snapshot key", r);
    }
    if (p->snap) {
        struct kms_replay_loaded info = {0};
        r = kms_replay_snap_read(p->snap_path, p->snap_key, &rcfg, now, now, &p->rg, &info);
        if (kms_ok(r)) {
            uint64_t h = kms_replay_open_at(p->rg);
            kms_log(KMS_LOG_INFO,
                    "replay snapshot %s: %zu entries loaded (saved at %llu); requests stamped "
                    "before %llu refused (%llu s before the restart rule's %llu)",
                    p->snap_path, info.entries, (unsigned long long)info.saved_at,
                    (unsigned long long)h, (unsigned long long)(now + c->skew - h),
                    (unsigned long long)(now + c->skew));
        } else if (r.err != KMS_ERR_NOT_FOUND) {
            kms_log(KMS_LOG_WARN,
                    "replay snapshot %s refused: %s; removed, the restart rule applies",
                    p->snap_path, kms_err_name(r.err));
        }
    }
    if (!kms_ok(r = kms_file_remove(p->snap_path))) {
        kms_log(KMS_LOG_ERROR, "replay snapshot %s cannot be removed: %s", p->snap_path,
                kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    if (p->rg == NULL && !kms_ok(r = kms_replay_new(&rcfg, now, &p->rg))) {
        return fail("replay guard", r);
    }
    return CLI_EXIT_OK;
}

/* --redis: the fleet (its checks: noeviction, the skew, the marker), the state store on it,
 * and a replay guard with no restart window of its own: the shared cache covers a restart, and
 * the fleet's horizon a Redis that lost its data (kms_fleet.h). No snapshot is read or kept. */
static int open_fleet(const struct kmsd_cfg *c, const uint8_t kek[32], struct kmsd_parts *p)
{
    struct kms_fleet_cfg fc = {
        .url = c->redis_url, .password_file = c->redis_pw, .skew = c->skew, .read_only = c->check};
    char why[256] = "";
    struct kms_store_backend *be = NULL;
    kms_result r = kms_fleet_new(&fc, kek, &p->fleet, why, sizeof(why));
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_ERROR, "--redis %s: %s", c->raw[O_REDIS],
                why[0] != '\0' ? why : kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    if (!kms_ok(r = kms_store_backend_redis(kms_fleet_redis(p->fleet),
                                            kms_fleet_names_key(p->fleet), &be)) ||
        !kms_ok(r = kms_store_new(be, kek, &p->st))) {
        kms_log(KMS_LOG_ERROR, "--redis %s: state store: %s", c->raw[O_REDIS], kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    if (c->check) {
        return CLI_EXIT_OK;
    }
    struct kms_replay_cfg rcfg = {.skew = c->skew, .max_entries = (size_t)c->replay_entries};
    if (!kms_ok(r = kms_replay_new(&rcfg, 0, &p->rg))) {
        return fail("replay guard", r);
    }
    kms_log(KMS_LOG_INFO, "redis: fleet state shared (run_id checked, skew %llu s)",
            (unsigned long long)c->skew);
    return CLI_EXIT_OK;
}

/* The state store (mode-2 Kue records sealed under the KEK) and the replay guard. */
static int open_state(const struct kmsd_cfg *c, const uint8_t kek[32], struct kmsd_parts *p)
{
    struct kms_store_backend *be = NULL;
    kms_result r;
    if (c->redis) {
        return p->fleet != NULL ? CLI_EXIT_OK : open_fleet(c, kek, p); /* --keyring redis: open */
    }
    if (!kms_ok(r = kms_store_backend_sqlite(c->state_db, &be)) ||
        !kms_ok(r = kms_store_new(be, kek, &p->st))) {
        return fail_file("--state-db", c->state_db, r);
    }
    if (c->check) {
        return CLI_EXIT_OK; /* the replay guard: its size was checked; the snapshot is the
                               running daemon's, never read (nor removed) by a check */
    }
    return open_replay(c, kek, p);
}

/* A Zn client that could never connect is a start-up failure (bad usage: the option named),
 * not a 503 per request. */
static int check_zn_files(const struct kmsd_cfg *c)
{
    struct kms_httpc_cfg tls = {
        .ca_file = c->zn_ca, .cert_file = c->zn_cert, .key_file = c->zn_key};
    const char *which = NULL;
    kms_result r = kms_httpc_check_files(&tls, &which);
    if (kms_ok(r)) {
        return CLI_EXIT_OK;
    }
    const char *opt = "--zn-key", *file = c->zn_key;
    if (which != NULL && strcmp(which, "ca") == 0) {
        opt = "--zn-ca";
        file = c->zn_ca;
    } else if (which != NULL && strcmp(which, "cert") == 0) {
        opt = "--zn-cert";
        file = c->zn_cert;
    }
    kms_start_file_error(opt, file, r.err, "--zn-cert");
    return CLI_EXIT_USAGE;
}

/* A Zn client and a service on it: at start, and anew at each reload (files read now). With
 * --check-config only the Zn client is made and freed (the service's values were checked). */
static int live_new(const struct kmsd_cfg *c, const struct kmsd_parts *p, struct kmsd_live **out)
{
    *out = NULL;
    int rc = check_zn_files(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct kmsd_live *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return fail("zn client", KMS_ERR(KMS_ERR_NOMEM));
    }
    l->refs = 1;
    struct kms_zn_client_cfg zc = {.url = c->zn_url,
                                   .ca_file = c->zn_ca,
                                   .cert_file = c->zn_cert,
                                   .key_file = c->zn_key,
                                   .naf_fqdn = c->svc.fqdn,
                                   .ua_id = {1, 0, 0, 0, 6},
                                   .timeout_ms = (unsigned)c->zn_timeout_ms};
    kms_result r = kms_zn_client_new(&zc, &l->zn);
    if (!kms_ok(r)) {
        live_free(l);
        if (r.err == KMS_ERR_NOT_ASCII || kms_err_group(r.err) == KMS_ERR_G_USAGE) {
            fprintf(stderr, "imskms-kmsd: --fqdn: not an FQDN\n");
            return CLI_EXIT_USAGE;
        }
        return fail("zn client", r);
    }
    if (c->check) {
        live_free(l);
        return CLI_EXIT_OK;
    }
    struct kms_service_deps deps = {p->kr, p->st, p->rg, {l, zn_get, zn_peek}, {0}};
    if (p->fleet != NULL) {
        deps.shared = (struct kms_service_shared){p->fleet, fleet_commit, fleet_horizon};
    }
    if (!kms_ok(r = kms_service_new(&c->svc, &deps, &l->svc))) {
        live_free(l);
        return fail("service", r);
    }
    *out = l;
    return CLI_EXIT_OK;
}

/* The KMS listener: plain HTTP, or TLS with --tls-cert and --tls-key. */
static struct kms_httpd_cfg listen_cfg(const struct kmsd_cfg *c)
{
    return (struct kms_httpd_cfg){.listen = c->listen,
                                  .max_body = KMS_SERVICE_MSG_MAX,
                                  .threads = (unsigned)c->threads,
                                  .max_conns = (unsigned)c->lim.max_conns,
                                  .max_conns_per_ip = (unsigned)c->lim.per_ip,
                                  .timeout_s = (unsigned)c->lim.idle_s,
                                  .header_timeout_s = (unsigned)c->lim.header_s,
                                  .cert_file = c->tls_cert,
                                  .key_file = c->tls_key,
                                  .iface = KMS_IFACE_KMS};
}

/* The listener as kms_httpd_start would take it, without binding (--check-config, a start, a
 * reload's TLS files): one line naming the option at fault, its value and why; exit 2. */
static int check_listen(const struct kmsd_cfg *c)
{
    struct kms_httpd_cfg hc = listen_cfg(c);
    if (c->check_tls_only) {
        hc.listen = "127.0.0.1:0"; /* a reload: the socket stays, only the files are read */
    }
    const char *which = NULL;
    kms_result r = kms_httpd_check(&hc, &which);
    if (kms_ok(r)) {
        struct kms_httpd_cfg mc = {.listen = c->metrics_listen};
        if (c->check_tls_only || c->metrics_listen == NULL ||
            kms_ok(r = kms_httpd_check(&mc, &which))) {
            return CLI_EXIT_OK;
        }
        kms_start_listen_error("--metrics-listen", c->metrics_listen, r.err);
        return CLI_EXIT_USAGE;
    }
    if (which != NULL && (strcmp(which, "cert") == 0 || strcmp(which, "key") == 0)) {
        bool cert = strcmp(which, "cert") == 0;
        kms_start_file_error(cert ? "--tls-cert" : "--tls-key", cert ? c->tls_cert : c->tls_key,
                             r.err, "--tls-cert");
    } else {
        kms_start_listen_error("--listen", c->listen, r.err);
    }
    return CLI_EXIT_USAGE;
}

/* The current Zn client's counters (kmsd_obs). */
static void zn_stats(void *ctx, struct kms_zn_client_stats *s)
{
    struct kmsd *d = ctx;
    struct kmsd_live *l = live_get(d);
    kms_zn_client_stats(l->zn, s);
    live_put(d, l);
}

/* The request counters, the gauges and readiness checks behind them, and the metrics listener
 * when --metrics-listen is given. */
static int start_metrics(const struct kmsd_cfg *c, struct kmsd_parts *p)
{
    p->d.metrics = kms_metrics_new("imskms-kmsd");
    if (p->d.metrics == NULL) {
        return fail("metrics", KMS_ERR(KMS_ERR_NOMEM));
    }
    kmsd_obs_init(&p->obs, p->d.metrics, p->kr, p->rg, (size_t)c->replay_entries, zn_stats, &p->d);
    p->obs.redis = kms_fleet_redis(p->fleet);
    p->obs_ready = true;
    p->purge_ok = true;
    struct kms_metrics_source src = {&p->obs, kmsd_obs_collect, kmsd_obs_ready};
    kms_metrics_set_source(p->d.metrics, &src);
    if (c->metrics_listen == NULL) {
        return CLI_EXIT_OK;
    }
    kms_result r = kms_metrics_listen(p->d.metrics, c->metrics_listen, &p->metrics_httpd);
    if (!kms_ok(r)) {
        kms_start_listen_error("--metrics-listen", c->metrics_listen, r.err);
        return CLI_EXIT_INTERNAL;
    }
    kms_log(KMS_LOG_INFO, "metrics listening on port %u", kms_httpd_port(p->metrics_httpd));
    return CLI_EXIT_OK;
}

static int start_service(const struct kmsd_cfg *c, struct kmsd_parts *p)
{
    struct kmsd_live *l = NULL;
    int rc = live_new(c, p, &l);
    if (rc != CLI_EXIT_OK || c->check) {
        return rc;
    }
    if ((rc = start_metrics(c, p)) != CLI_EXIT_OK) {
        live_free(l);
        return rc;
    }
    live_swap(&p->d, l);
    p->d.pool = zn_pool_new((unsigned)c->zn_threads, ZN_QUEUE_PER_THREAD * (size_t)c->zn_threads,
                            zn_serve, &p->d);
    if (p->d.pool == NULL) {
        return fail("zn pool", KMS_ERR(KMS_ERR_NOMEM));
    }
    struct kms_httpd_cfg hc = listen_cfg(c);
    kms_metrics_hook(p->d.metrics, KMS_MIF_KMS, &hc);
    kms_result r = kms_httpd_start(&hc, handler, &p->d, &p->httpd);
    if (!kms_ok(r)) {
        kms_start_listen_error("--listen", c->listen, r.err);
        return CLI_EXIT_INTERNAL;
    }
    p->tls = c->tls_cert != NULL;
    kms_log(KMS_LOG_INFO, "kms listening on port %u (modes%s%s%s%s)", kms_httpd_port(p->httpd),
            c->svc.mode1 ? " 1" : "", c->svc.mode2 ? " 2" : "", c->svc.mode3 ? " 3" : "",
            c->tls_cert != NULL ? "; TLS" : "");
    return CLI_EXIT_OK;
}

/* The start-up, and --check-config: the same steps, except that a check does not bind the
 * listen address or allocate the replay cache, and goes on past a problem to report the next
 * one (each a line; the steps that need the KEK are skipped without it). */
static int wire(const struct kmsd_cfg *c, struct kmsd_parts *p)
{
    uint8_t kek[32];
    memset(kek, 0, sizeof(kek)); /* with --hsm and no --kek-file: mode 2 is off, kek unused */
    kms_result r;
    int rc = CLI_EXIT_OK;
    if (!c->check && (rc = check_listen(c)) != CLI_EXIT_OK) {
        return rc; /* a bad --listen or TLS file: bad usage, before anything is opened */
    }
    if (c->kek_file != NULL && !kms_ok(r = kms_kek_read(c->kek_file, kek))) {
        kms_start_file_error("--kek-file", c->kek_file, r.err, NULL);
        rc = CLI_EXIT_USAGE;
    }
    if (rc == CLI_EXIT_OK) {
        rc = open_keys(c, kek, p);
        if (rc == CLI_EXIT_OK || c->check) {
            int rs = open_state(c, kek, p);
            rc = rc != CLI_EXIT_OK ? rc : rs;
        }
    }
    kms_wipe(kek, sizeof(kek));
    if (c->check) {
        int rz = live_new(c, p, &(struct kmsd_live *){NULL});
        int rl = check_listen(c);
        return rc != CLI_EXIT_OK ? rc : rz != CLI_EXIT_OK ? rz : rl;
    }
    if (rc == CLI_EXIT_OK) {
        rc = start_service(c, p);
    }
    return rc;
}

/* At a clean stop, once the HTTP server has stopped (no request can reach the guard any
 * more): the replay cache sealed to PATH.replay for the next start (open_replay). A failure
 * (a full disk) only costs the next start the restart rule's refusal window. */
static void save_replay(struct kmsd_parts *p)
{
    if (!p->served || !p->snap || p->rg == NULL) {
        return;
    }
    size_t n = kms_replay_count(p->rg);
    kms_result r = kms_replay_snap_write(p->snap_path, p->snap_key, p->rg, kms_now());
    if (kms_ok(r)) {
        kms_log(KMS_LOG_INFO, "replay snapshot %s written (%zu entries held)", p->snap_path, n);
    } else {
        kms_log(KMS_LOG_WARN,
                "replay snapshot %s not written: %s; the next start applies the "
                "restart rule",
                p->snap_path, kms_strerror(r.err));
    }
}

static void unwire(struct kmsd_parts *p)
{
    /* The Zn pool stops first: it answers its queue and finishes its queries, which completes
     * every deferred answer, as kms_httpd_stop requires. Then the server drains (requests in
     * flight finish, kms_httpd.h), the replay cache is saved (no request can reach it any
     * more), and the pool is freed once no handler can reach it. */
    kms_httpd_stop(p->metrics_httpd);
    zn_pool_stop(p->d.pool);
    kms_httpd_stop(p->httpd);
    save_replay(p);
    kms_wipe(p->snap_key, sizeof(p->snap_key));
    zn_pool_free(p->d.pool);
    live_swap(&p->d, NULL);
    kms_replay_free(p->rg);
    kms_store_close(p->st); /* before the fleet: its backend uses the fleet's client */
    kms_fleet_free(p->fleet);
    kms_keyring_close(p->kr);
    kms_keystore_close(p->ks);
    if (p->obs_ready) {
        kmsd_obs_cleanup(&p->obs);
    }
    kms_metrics_free(p->d.metrics);
}

static void cfg_free(struct kmsd_cfg *c)
{
    if (c != NULL) {
        cli_conf_cleanup(&c->file);
        free(c);
    }
}

static void keyring_refresh(struct kms_keyring *kr);

/* SIGHUP: the file and the original command line again. Everything that can fail comes first
 * (the options, the new Zn client and service); only then is anything changed, so a reload
 * that fails keeps every old setting. */
static void reload(void *ctx)
{
    struct kmsd_parts *p = ctx;
    struct kmsd_cfg *n = calloc(1, sizeof(*n));
    bool done = false;
    int rc = n != NULL ? configure(p->argc, p->argv, n, &done) : CLI_EXIT_INTERNAL;
    if (rc != CLI_EXIT_OK || done) {
        kms_log(KMS_LOG_ERROR, "reload failed: the configuration has an error (printed above); "
                               "every setting stays as it was");
        cfg_free(n);
        return;
    }
    const struct kmsd_cfg *o = p->cur_cfg;
    /* What needs a restart keeps its running value; the Zn client keeps the running FQDN. */
    n->svc.fqdn = o->svc.fqdn;
    struct kmsd_live *l = NULL;
    if (live_new(n, p, &l) != CLI_EXIT_OK) {
        kms_log(KMS_LOG_ERROR, "reload failed (above): every setting stays as it was");
        cfg_free(n);
        return;
    }
    /* The listener's certificate and key, read again (even under the same names) on a new
     * server generation on the same socket; turning TLS on or off needs a restart. */
    bool tls_switch = p->tls != (n->tls_cert != NULL);
    if (p->tls && !tls_switch) {
        struct kms_httpd_cfg hc = listen_cfg(n);
        kms_result r = kms_httpd_reload(p->httpd, &hc);
        if (!kms_ok(r)) {
            n->check_tls_only = true;
            (void)check_listen(n); /* names the file, when it is one */
            kms_log(KMS_LOG_ERROR,
                    "reload failed: TLS certificate: %s; every setting stays as it was, the "
                    "listener serves with the old certificate",
                    kms_strerror(r.err));
            live_free(l);
            cfg_free(n);
            return;
        }
    }
    /* Turning TLS on or off changes the listener: the certificate options need a restart then. */
    bool live[N_OPTS];
    memcpy(live, live_opt, sizeof(live));
    live[O_TLSCERT] = live[O_TLSKEY] = live_opt[O_TLSCERT] && !tls_switch;
    kms_daemon_reload_report(opts, N_OPTS, O_CONFIG, live, o->raw, n->raw);
    live_swap(&p->d, l);
    kms_log_set_level(n->log_level);
    kms_log_set_format(n->log_format);
    keyring_refresh(p->kr);
    kms_log(KMS_LOG_INFO,
            "reload done: Zn client certificate, key and CA read again;%s keyring "
            "reloaded",
            p->tls && !tls_switch ? " TLS certificate and key read again;" : "");
    if (p->cur_cfg != p->start_cfg) {
        cfg_free(p->cur_cfg);
    }
    p->cur_cfg = n;
}

/* ---- run ---- */

static void keyring_refresh(struct kms_keyring *kr)
{
    /* A keyring changed by `imskms keys` is picked up here at the latest (and on use). A
     * refused reload is logged by the keyring itself, with its reason and whether it still
     * serves the last good view or has failed closed (docs/keyring.md). */
    kms_result r = kms_keyring_refresh(kr);
    (void)r;
}

static void keyring_maintain(struct kms_keyring *kr, uint64_t now)
{
    size_t destroyed = 0;
    bool rotated = false;
    kms_result r = kms_keyring_maintain(kr, now, &destroyed, &rotated);
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_WARN, "keyring housekeeping: %s", kms_strerror(r.err));
    } else if (destroyed > 0 || rotated) {
        kms_log(KMS_LOG_INFO, "keyring: %zu key(s) destroyed%s", destroyed,
                rotated ? ", rotated" : "");
    }
}

/* Whether the purge (a write transaction) succeeded: the readiness check of the store. */
static bool store_purge(struct kms_store *st, uint64_t now)
{
    uint64_t purged = 0;
    kms_result r = kms_store_purge(st, now, &purged);
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_WARN, "state store purge: %s", kms_strerror(r.err));
    } else if (purged > 0) {
        kms_log(KMS_LOG_DEBUG, "state store purge: %llu expired record(s) removed",
                (unsigned long long)purged);
    }
    return kms_ok(r);
}

/* A PING on the tick thread's own connection; a failure logged when it starts and ends. */
static bool redis_ping(struct kms_fleet *f)
{
    static bool down;
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    redisReply *rep = NULL;
    kms_result r = kms_redis_cmd(kms_fleet_redis(f), 1, argv, lens, &rep);
    freeReplyObject(rep);
    if (!kms_ok(r) && !down) {
        kms_log(KMS_LOG_WARN, "redis: not answering (requests that need it get 503 "
                              "store-unavailable until it does)");
    } else if (kms_ok(r) && down) {
        kms_log(KMS_LOG_INFO, "redis: answering again");
    }
    down = !kms_ok(r);
    return kms_ok(r);
}

/* Every second: keyring refresh, seals reserved ahead when needed; every 5 s: keyring
 * housekeeping; at the first tick and then every minute by the clock (so that a test clock
 * moved forward purges at the next tick): store purge. */
static void tick(void *ctx, unsigned n, uint64_t now)
{
    struct kmsd_parts *p = ctx;
    keyring_refresh(p->kr);
    if (n % 5 == 0) {
        keyring_maintain(p->kr, now);
    }
    seals_ahead(p, now);
    if (p->fleet != NULL) {
        /* Redis expires rows itself: the store's readiness is Redis answering (every tick). */
        p->purge_ok = redis_ping(p->fleet);
    } else if (n == 0 || now >= p->next_purge) {
        p->purge_ok = store_purge(p->st, now);
        p->next_purge = now + 60;
    }
    kmsd_obs_store(&p->obs, p->purge_ok, !p->seals_failing);
    kmsd_obs_tick(&p->obs, n, now);
}

/* --check-config: the checks of a start, one line per problem, then "ok" or exit 2. */
/* The descriptors the daemon needs beside its connections: the keyring, the state store, the
 * Zn client's connections, a PKCS#11 module's files, each server thread's epoll and wake-up
 * descriptors, and the metrics listener's when there is one. */
static uint64_t fd_reserve(const struct kmsd_cfg *c)
{
    return 128 + 4 * c->threads + (c->metrics_listen != NULL ? 72 : 0) +
           (c->redis ? c->threads + c->zn_threads + 8 : 0); /* a Redis connection per thread */
}

static int check_config(struct kmsd_cfg *cfg)
{
    kms_log_init("imskms-kmsd", cfg->log_level);
    kms_log_set_format(cfg->log_format);
    int rc = kms_daemon_fd_limit(cfg->lim_given, 1, fd_reserve(cfg), &cfg->lim.max_conns);
    struct kmsd_parts p = {0};
    pthread_mutex_init(&p.d.mu, NULL);
    int rw = wire(cfg, &p);
    unwire(&p);
    if (rc != CLI_EXIT_OK || rw != CLI_EXIT_OK) {
        return CLI_EXIT_USAGE;
    }
    printf("imskms-kmsd: configuration ok\n");
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct kmsd_cfg *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        return CLI_EXIT_INTERNAL;
    }
    bool done = false;
    int rc = configure(argc, argv, cfg, &done);
    if (done || cfg->check) {
        rc = done ? rc : check_config(cfg);
        cfg_free(cfg);
        return rc;
    }
    kms_log_set_format(cfg->log_format);
    if ((rc = kms_daemon_start("imskms-kmsd", cfg->log_level)) != CLI_EXIT_OK ||
        (rc = kms_daemon_fd_limit(cfg->lim_given, 1, fd_reserve(cfg), &cfg->lim.max_conns)) !=
            CLI_EXIT_OK) {
        cfg_free(cfg);
        return rc;
    }
    struct kmsd_parts p = {.argc = argc, .argv = argv, .start_cfg = cfg, .cur_cfg = cfg};
    pthread_mutex_init(&p.d.mu, NULL);
    if ((rc = wire(cfg, &p)) == CLI_EXIT_OK) {
        p.served = true;
        struct kms_daemon_hooks hooks = {
            .ctx = &p, .tick_seconds = 1, .tick = tick, .reload = reload};
        rc = kms_daemon_run(&hooks);
    }
    unwire(&p);
    if (p.cur_cfg != p.start_cfg) {
        cfg_free(p.cur_cfg);
    }
    cfg_free(cfg);
    return rc;
}
