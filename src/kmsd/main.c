/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms-kmsd: the KMS. POST /mikey carries one MIKEY message each way (application/mikey);
 * the request handler is lib/kms/kms_service (bytes in, reply out). Ks_NAF comes from the BSF
 * over Zn (lib/gba/kms_zn_client, cached for its lifetime); Kkms from the keyring, which the
 * daemon keeps current (kms_keyring refreshes on use; housekeeping every few seconds) so that
 * `imskms keys rotate|revoke` on the same file takes effect within a second.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "gba/kms_zn_client.h"
#include "http/kms_httpc.h"
#include "http/kms_httpd.h"
#include "keyring/kms_keyring.h"
#include "keyring/kms_keystore.h"
#include "kms_daemon.h"
#include "kms/kms_service.h"
#include "replay/kms_replay.h"
#include "store/kms_store.h"
#include "util/kms_log.h"
#include "util/kms_mem.h"
#include "util/kms_time.h"
#include "zn_pool.h"

static const char usage[] =
    "usage: imskms-kmsd --listen ADDR:PORT --fqdn FQDN --bsf-zn https://HOST:PORT\n"
    "                   --zn-cert FILE --zn-key FILE --zn-ca FILE\n"
    "                   --keyring PATH (--kek-file FILE | --hsm URI [--kek-file FILE])\n"
    "                   --state-db PATH [--modes 1,2,3] [--kue-lifetime SECONDS]\n"
    "                   [--ticket-lifetime SECONDS] [--skew SECONDS]\n"
    "                   [--log-level error|warn|info|debug] [--threads N]\n"
    "                   [--replay-entries N] [--max-connections N]\n"
    "                   [--max-connections-per-ip N] [--header-timeout S] [--idle-timeout S]\n"
    "                   [--zn-timeout MS] [--zn-threads N]\n"
    "\n"
    "The KMS: POST /mikey (MIKEY-TICKET over HTTP, application/mikey both ways). Interfaces:\n"
    "docs/api.md; message profile: docs/protocol.md.\n"
    "\n"
    "  --listen ADDR:PORT      plain HTTP, e.g. 127.0.0.1:8090 (port 0: any free port)\n"
    "  --fqdn FQDN             the KMS's FQDN: IDRkms, the NAF_Id it asks Zn for, and the\n"
    "                          name its Zn client certificate must carry\n"
    "  --bsf-zn URL            the BSF's Zn, e.g. https://bsf.example.org:8443\n"
    "  --zn-cert/--zn-key FILE the KMS's Zn client certificate and key (PEM)\n"
    "  --zn-ca FILE            CA of the BSF's Zn server certificate (PEM)\n"
    "  --keyring PATH          the Kkms keyring ('imskms keys init')\n"
    "  --kek-file FILE         the KEK: of the file keystore, and of the state store (mode-2\n"
    "                          Kue records); with --hsm it is needed for mode 2 only\n"
    "  --hsm URI               keep Kkms in a PKCS#11 token (RFC 7512 URI)\n"
    "  --state-db PATH         the state store (SQLite, created when missing)\n"
    "  --modes LIST            modes served, comma-separated (default 1,2,3): 1 requests\n"
    "                          keyed by a fresh bootstrap (nothing kept), 2 stored Kue\n"
    "                          (references), 3 sealed Kue tokens (nothing kept)\n"
    "  --kue-lifetime SECONDS  Kue lifetime (default 86400; never beyond Ks_NAF's)\n"
    "  --ticket-lifetime SECONDS media ticket lifetime (default 3600)\n"
    "  --skew SECONDS          allowed clock skew of request timestamps (default 60); after a\n"
    "                          start, requests stamped earlier than start + skew are refused\n"
    "  --log-level LEVEL       default info\n"
    "  --threads N             HTTP worker threads, 1..64 (default: the number of online CPUs)\n"
    "  --replay-entries N      replay cache size, 1000..100000000 (default 1000000; 48 bytes\n"
    "                          each, allocated at start): an entry lives about --skew\n"
    "                          seconds, so requests/s x skew above N are refused (503)\n"
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
    "\n"
    "Logs one line per request to stderr, never a key; prints 'kms listening on port N' once\n"
    "serving. SIGTERM or SIGINT stops it (exit 0). Exit 2 on bad usage (also a KEK file or Zn\n"
    "TLS file that cannot be read, holds no PEM object, or a key that is not the certificate's),\n"
    "3 when it cannot start.\n";

/* Requests that may wait for a Zn thread, per thread (--zn-threads). */
#define ZN_QUEUE_PER_THREAD 16

struct kmsd {
    struct kms_service *svc;
    struct kms_zn_client *zn;
    struct zn_pool *pool; /* the requests that wait on Zn */
};

static kms_result zn_get(void *ctx, const char *btid, uint64_t now, struct kms_zn_resp *out)
{
    return kms_zn_client_get(ctx, btid, now, out);
}

static kms_result zn_peek(void *ctx, const char *btid, uint64_t now, struct kms_zn_resp *out,
                          bool *hit)
{
    return kms_zn_client_peek(ctx, btid, now, out, hit);
}

/* The answer of the service's reply r (rc its result) into resp, and the log line. */
static void answer(kms_result rc, const char *peer, struct kms_service_reply *r,
                   struct kms_http_resp *resp)
{
    if (!kms_ok(rc)) {
        kms_log(KMS_LOG_ERROR, "mikey from %s: %s", peer, kms_err_name(rc.err));
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_INTERNAL, NULL);
        return;
    }
    resp->status = r->status;
    resp->content_type = "application/mikey";
    resp->body.secret = true; /* a response carries keys (encrypted, but still) */
    if (!kms_ok(kms_buf_put_bytes(&resp->body, kms_buf_data(&r->body), kms_buf_len(&r->body))) ||
        !kms_ok(kms_http_resp_busy(resp, KMS_IFACE_KMS, r->why, r->retry_after))) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_INTERNAL, NULL);
    }
    kms_log(r->status == 200 ? KMS_LOG_INFO : KMS_LOG_WARN, "mikey %d %s (%s)", r->status,
            r->detail, r->status == 200 ? "ok" : kms_err_name(r->why));
}

/* A request that needs a Zn query, on a pool thread (or, with nowait, at the pool's stop). */
static void zn_serve(void *ctx, const uint8_t *req, size_t len, const char *peer, bool nowait,
                     struct kms_http_resp *resp)
{
    struct kmsd *d = ctx;
    struct kms_service_reply r;
    kms_service_reply_init(&r);
    kms_result rc = nowait ? kms_service_handle_nowait(d->svc, req, len, kms_now(), &r)
                           : kms_service_handle(d->svc, req, len, kms_now(), &r);
    answer(rc, peer, &r, resp);
    kms_service_reply_cleanup(&r);
}

static void handler(void *ctx, const struct kms_http_req *req, struct kms_http_resp *resp)
{
    struct kmsd *d = ctx;
    if (strcmp(req->path, "/healthz") == 0) {
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_OK, "ok\n");
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
    struct kms_service_reply r;
    kms_service_reply_init(&r);
    kms_result rc;
    if (!kms_http_media_type_is(kms_http_req_header(req, "Content-Type"), "application/mikey")) {
        /* Not a MIKEY message by its own label: refused like one that does not decode, with
         * the table's 415 and a MIKEY Error without V (no CSB ID: nothing was read). */
        rc = kms_service_refuse(&r, KMS_ERR_MEDIA_TYPE, 0);
        (void)snprintf(r.detail, sizeof(r.detail), "from %s: Content-Type not application/mikey",
                       req->peer_addr);
    } else {
        /* Never waits on Zn here: a request that needs a query goes to the pool. */
        rc = kms_service_handle_nowait(d->svc, req->body, req->body_len, kms_now(), &r);
        if (kms_ok(rc) && r.zn_pending) {
            struct kms_http_defer *df = kms_http_defer(req);
            if (df != NULL &&
                zn_pool_submit(d->pool, df, req->body, req->body_len, req->peer_addr)) {
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
    N_OPTS
};

/* The one option table (the usage text above says the same at length). */
static const struct cli_opt opts[N_OPTS] = {
    [O_LISTEN] = CLI_REQUIRED_DOC("listen", "ADDR:PORT", "plain HTTP"),
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
    [O_STATE] =
        CLI_REQUIRED_DOC("state-db", "PATH", "the state store (SQLite, created when missing)"),
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
};

struct kmsd_cfg {
    const char *listen, *zn_cert, *zn_key, *zn_ca, *keyring, *kek_file, *hsm, *state_db;
    char zn_url[1024]; /* --bsf-zn with the Zn resource path */
    struct kms_service_cfg svc;
    uint64_t skew, threads, replay_entries, zn_timeout_ms, zn_threads;
    struct kms_daemon_conn_limits lim;
    bool lim_given; /* --max-connections given */
    enum kms_log_level log_level;
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
        }
        return rc;
    }
    /* In this order: a command line with several errors names the first. */
    rc = cli_require(&a, opts, N_OPTS);
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
    struct kms_httpd *httpd;
    uint64_t next_purge; /* the clock's second of the next state store purge */
};

static int fail(const char *what, kms_result r)
{
    kms_log(KMS_LOG_ERROR, "%s: %s", what, kms_strerror(r.err));
    return CLI_EXIT_INTERNAL;
}

/* The keystore (file under the KEK, or PKCS#11) and the keyring on it. */
static int open_keys(const struct kmsd_cfg *c, const uint8_t kek[32], struct kmsd_parts *p)
{
    kms_result r = c->hsm != NULL ? kms_keystore_p11_open(c->hsm, &p->ks)
                                  : kms_keystore_file_open_kek(kek, &p->ks);
    if (!kms_ok(r)) {
        return fail(c->hsm != NULL ? "--hsm" : "--kek-file", r);
    }
    if (!kms_ok(r = kms_keyring_open(c->keyring, p->ks, &p->kr))) {
        return fail("--keyring", r);
    }
    /* One durable reservation per 65536 seals rather than per 1024 (kms_keyring.h). */
    kms_keyring_set_seal_chunk_max(p->kr, KMS_KEYRING_SEAL_CHUNK_SERVER);
    return CLI_EXIT_OK;
}

/* The state store (mode-2 Kue records sealed under the KEK) and the replay guard. */
static int open_state(const struct kmsd_cfg *c, const uint8_t kek[32], struct kmsd_parts *p)
{
    struct kms_store_backend *be = NULL;
    kms_result r;
    if (!kms_ok(r = kms_store_backend_sqlite(c->state_db, &be)) ||
        !kms_ok(r = kms_store_new(be, kek, &p->st))) {
        return fail("--state-db", r);
    }
    struct kms_replay_cfg rcfg = {.skew = c->skew, .max_entries = (size_t)c->replay_entries};
    if (!kms_ok(r = kms_replay_new(&rcfg, kms_now(), &p->rg))) {
        return fail("replay guard", r);
    }
    return CLI_EXIT_OK;
}

static const char *zn_file_problem(enum kms_err err)
{
    switch (err) {
    case KMS_ERR_IO:
        return "cannot be read";
    case KMS_ERR_MALFORMED:
        return "holds no PEM certificate or private key";
    case KMS_ERR_ARG:
        return "is not the private key of --zn-cert";
    default:
        return kms_strerror(err);
    }
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
    kms_log(KMS_LOG_ERROR, "%s %s: %s", opt, file, zn_file_problem(r.err));
    return CLI_EXIT_USAGE;
}

static int open_zn_client(const struct kmsd_cfg *c, struct kmsd_parts *p)
{
    int rc = check_zn_files(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct kms_zn_client_cfg zc = {.url = c->zn_url,
                                   .ca_file = c->zn_ca,
                                   .cert_file = c->zn_cert,
                                   .key_file = c->zn_key,
                                   .naf_fqdn = c->svc.fqdn,
                                   .ua_id = {1, 0, 0, 0, 6},
                                   .timeout_ms = (unsigned)c->zn_timeout_ms};
    kms_result r = kms_zn_client_new(&zc, &p->d.zn);
    if (kms_ok(r)) {
        return CLI_EXIT_OK;
    }
    if (r.err == KMS_ERR_NOT_ASCII || kms_err_group(r.err) == KMS_ERR_G_USAGE) {
        fprintf(stderr, "imskms-kmsd: --fqdn: not an FQDN\n");
        return CLI_EXIT_USAGE;
    }
    return fail("zn client", r);
}

static int start_service(const struct kmsd_cfg *c, struct kmsd_parts *p)
{
    struct kms_service_deps deps = {p->kr, p->st, p->rg, {p->d.zn, zn_get, zn_peek}};
    kms_result r = kms_service_new(&c->svc, &deps, &p->d.svc);
    if (!kms_ok(r)) {
        return fail("service", r);
    }
    p->d.pool = zn_pool_new((unsigned)c->zn_threads, ZN_QUEUE_PER_THREAD * (size_t)c->zn_threads,
                            zn_serve, &p->d);
    if (p->d.pool == NULL) {
        return fail("zn pool", KMS_ERR(KMS_ERR_NOMEM));
    }
    struct kms_httpd_cfg hc = {.listen = c->listen,
                               .max_body = KMS_SERVICE_MSG_MAX,
                               .threads = (unsigned)c->threads,
                               .max_conns = (unsigned)c->lim.max_conns,
                               .max_conns_per_ip = (unsigned)c->lim.per_ip,
                               .timeout_s = (unsigned)c->lim.idle_s,
                               .header_timeout_s = (unsigned)c->lim.header_s,
                               .iface = KMS_IFACE_KMS};
    if (!kms_ok(r = kms_httpd_start(&hc, handler, &p->d, &p->httpd))) {
        return fail("--listen", r);
    }
    kms_log(KMS_LOG_INFO, "kms listening on port %u (modes%s%s%s)", kms_httpd_port(p->httpd),
            c->svc.mode1 ? " 1" : "", c->svc.mode2 ? " 2" : "", c->svc.mode3 ? " 3" : "");
    return CLI_EXIT_OK;
}

static int wire(const struct kmsd_cfg *c, struct kmsd_parts *p)
{
    uint8_t kek[32];
    memset(kek, 0, sizeof(kek)); /* with --hsm and no --kek-file: mode 2 is off, kek unused */
    kms_result r;
    if (c->kek_file != NULL && !kms_ok(r = kms_kek_read(c->kek_file, kek))) {
        kms_log(KMS_LOG_ERROR, "--kek-file %s: %s", c->kek_file, kms_strerror(r.err));
        return CLI_EXIT_USAGE;
    }
    int rc = open_keys(c, kek, p);
    if (rc == CLI_EXIT_OK) {
        rc = open_state(c, kek, p);
    }
    kms_wipe(kek, sizeof(kek));
    if (rc == CLI_EXIT_OK) {
        rc = open_zn_client(c, p);
    }
    if (rc == CLI_EXIT_OK) {
        rc = start_service(c, p);
    }
    return rc;
}

static void unwire(struct kmsd_parts *p)
{
    /* The pool stops first: it answers its queue and finishes its queries, which completes
     * every deferred answer, as kms_httpd_stop requires; it is freed once no handler can
     * reach it. */
    zn_pool_stop(p->d.pool);
    kms_httpd_stop(p->httpd);
    zn_pool_free(p->d.pool);
    kms_service_free(p->d.svc);
    kms_zn_client_free(p->d.zn);
    kms_replay_free(p->rg);
    kms_store_close(p->st);
    kms_keyring_close(p->kr);
    kms_keystore_close(p->ks);
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

static void store_purge(struct kms_store *st, uint64_t now)
{
    uint64_t purged = 0;
    kms_result r = kms_store_purge(st, now, &purged);
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_WARN, "state store purge: %s", kms_strerror(r.err));
    }
}

/* Every second: keyring refresh; every 5 s: keyring housekeeping; at the first tick and then
 * every minute by the clock (so that a test clock moved forward purges at the next tick):
 * store purge. */
static void tick(void *ctx, unsigned n, uint64_t now)
{
    struct kmsd_parts *p = ctx;
    keyring_refresh(p->kr);
    if (n % 5 == 0) {
        keyring_maintain(p->kr, now);
    }
    if (n == 0 || now >= p->next_purge) {
        store_purge(p->st, now);
        p->next_purge = now + 60;
    }
}

int main(int argc, char **argv)
{
    struct kmsd_cfg cfg;
    bool done = false;
    int rc = configure(argc, argv, &cfg, &done);
    if (done) {
        return rc;
    }
    /* Beside the connections: the keyring, the state store, the Zn client's connections, a
     * PKCS#11 module's files, each server thread's epoll and wake-up descriptors. */
    uint64_t reserve = 128 + 4 * cfg.threads;
    if ((rc = kms_daemon_start("imskms-kmsd", cfg.log_level)) != CLI_EXIT_OK ||
        (rc = kms_daemon_fd_limit(cfg.lim_given, 1, reserve, &cfg.lim.max_conns)) != CLI_EXIT_OK) {
        return rc;
    }
    struct kmsd_parts p = {0};
    if ((rc = wire(&cfg, &p)) == CLI_EXIT_OK) {
        struct kms_daemon_hooks hooks = {.ctx = &p, .tick_seconds = 1, .tick = tick};
        rc = kms_daemon_run(&hooks);
    }
    unwire(&p);
    return rc;
}
