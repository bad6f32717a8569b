/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms-bsfd: the GBA bootstrapping server.
 *
 * Ub (UE -> BSF) is plain HTTP on --listen: HTTP Digest AKAv1-MD5 (lib/gba/kms_bsf_ub).
 * Zn (NAF -> BSF) is HTTPS with mutual TLS on --zn-listen: JSON (lib/gba/kms_zn_json); the
 * client certificate must name the FQDN the NAF asks for. Subscribers come from the SQLite
 * store (imskms subscriber ...), K and OPc sealed under the KEK, or, for a fleet, from Redis
 * (--redis: subscribers, sessions, answered challenges and rates shared; the node's SQN marks in
 * its own --sqn-db). Shapes: docs/api.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_conf.h"
#include "crypto/kms_kek.h"
#include "crypto/kms_sqn.h"
#include "gba/kms_bsf.h"
#include "gba/kms_bsf_redis.h"
#include "gba/kms_bsf_ub.h"
#include "gba/kms_bsf_zn.h"
#include "gba/kms_sqndb.h"
#include "gba/kms_subscriber.h"
#include "gba/kms_zn_json.h"
#include "http/kms_httpd.h"
#define IMSKMS_NO_VERSION /* kms_version() only */
#include "imskms/imskms.h"
#include "keyring/kms_keystore.h"
#include "bsfd_obs.h"
#include "kms_daemon.h"
#include "kms_start_err.h"
#include "kms_metrics.h"
#include "util/kms_ident.h"
#include "util/kms_log.h"
#include "util/kms_mem.h"
#include "util/kms_time.h"

static const char usage[] =
    "usage: imskms-bsfd [--config FILE] [--check-config] [--version]\n"
    "                   (--db PATH | --redis URL [--redis-password-file FILE] --sqn-db PATH)\n"
    "                   --kek-file FILE --listen ADDR:PORT --realm FQDN\n"
    "                   --lifetime SECONDS --zn-listen ADDR:PORT --zn-cert FILE --zn-key FILE\n"
    "                   --zn-client-ca FILE [--max-sessions N] [--max-answered N] [--amf HEX4]\n"
    "                   [--log-level error|warn|info|debug] [--max-connections N]\n"
    "                   [--max-connections-per-ip N] [--header-timeout S] [--idle-timeout S]\n"
    "                   [--log-format logfmt|json] [--metrics-listen ADDR:PORT]\n"
    "                   [--node-id N] [--rate-burst N] [--rate-period S]\n"
    "\n"
    "The GBA bootstrapping server (BSF): Ub (HTTP Digest AKAv1-MD5, TS 24.109) on --listen and\n"
    "Zn (JSON over HTTPS with mutual TLS) on --zn-listen. Interfaces: docs/api.md.\n"
    "\n"
    "  --config FILE         read options from FILE (key = value lines, keys the long option\n"
    "                        names, an optional [bsfd] section; docs/cli.md); the command\n"
    "                        line overrides the file\n"
    "  --check-config        check everything a start checks without listening, print one\n"
    "                        line per problem, exit 0 (ok) or 2\n"
    "  --version             print the version\n"
    "  --db PATH             subscriber store (create and fill it with 'imskms subscriber add')\n"
    "  --redis URL           instead of --db, a fleet's store: redis://[USER@]HOST:PORT[/DB] or\n"
    "                        unix://[USER@]/PATH[?db=N]: subscribers, bootstrap sessions,\n"
    "                        answered challenges and subscribers' rates shared by the BSFs on\n"
    "                        it\n"
    "                        (docs/scaling.md); give each node its own --node-id\n"
    "  --redis-password-file FILE\n"
    "                        Redis AUTH password (an owner-only file)\n"
    "  --sqn-db PATH         with --redis: this node's SQN marks (SQLite, created mode 0600;\n"
    "                        one BSF per file), so that Redis needs no durability\n"
    "  --kek-file FILE       32-byte key-encryption key of the store (mode 0600)\n"
    "  --listen ADDR:PORT    Ub, plain HTTP, e.g. 127.0.0.1:8080 (port 0: any free port)\n"
    "  --realm FQDN          the BSF's FQDN: Digest realm and the domain of every B-TID\n"
    "  --lifetime SECONDS    bootstrap session (Ks) lifetime (1 .. 315360000)\n"
    "  --zn-listen ADDR:PORT Zn, HTTPS, e.g. 127.0.0.1:8443\n"
    "  --zn-cert FILE        PEM certificate chain of the Zn server\n"
    "  --zn-key FILE         its PEM private key\n"
    "  --zn-client-ca FILE   PEM CA(s) that NAF client certificates must chain to\n"
    "  --max-sessions N      bootstrap sessions held at once (default 100000; about 670 bytes\n"
    "                        each, reserved at start). With lifetime L the BSF sustains at most\n"
    "                        N / L bootstraps per second; beyond that it answers 503.\n"
    "  --max-answered N      answered challenges remembered until they expire (30 s), so that\n"
    "                        each is answered once (1000 .. 100000000, default 1000000; 64\n"
    "                        bytes each, reserved at start): bootstraps/s x 30 above N get 503\n"
    "  --amf HEX4            AMF of the challenges an unknown IMPI gets (default 0000, as\n"
    "                        'imskms subscriber add'): set it to the AMF most subscribers have\n"
    "  --log-level LEVEL     most verbose level logged to stderr (default info)\n"
    "  --max-connections N   connections held at once, on Ub and on Zn each (64 .. 1000000,\n"
    "                        default 10000); the file descriptor limit is raised to fit at\n"
    "                        start, or the daemon exits 2 naming the limit\n"
    "  --max-connections-per-ip N\n"
    "                        connections from one address, on each (default 1000: phones\n"
    "                        behind carrier NAT share addresses)\n"
    "  --header-timeout S    a request's headers and body must be in within S seconds of the\n"
    "                        connection (default 5), else it is closed\n"
    "  --idle-timeout S      a connection silent for S seconds is closed; a kept-alive one\n"
    "                        waits that long for its next request (default 30)\n"
    "\n"
    "\n";
/* Split in three: C11 compilers need not take a string longer than 4095 bytes. */
static const char usage_obs[] =
    "  --node-id N           this node's number in a fleet of BSFs sharing subscribers\n"
    "                        (0 .. 7): its SQNs carry only the IND values 4N .. 4N+3, so no\n"
    "                        two nodes ever hand out the same SQN (docs/scaling.md). Without\n"
    "                        it, one BSF: all 32 IND values\n"
    "  --rate-burst N        challenges one IMPI may get at once (1 .. 1000, default 5)\n"
    "  --rate-period S       seconds for an IMPI to earn one more (1 .. 3600, default 2)\n"
    "  --log-format FORMAT   logfmt (default) or json: one line per event and per request\n"
    "                        (docs/cli.md, \"Logs\")\n"
    "  --metrics-listen ADDR:PORT\n"
    "                        plain HTTP for loopback or a management network: GET /metrics\n"
    "                        (Prometheus text format), /readyz (JSON checks), /healthz\n"
    "\n";
static const char usage_signals[] =
    "Logs one line per request to stderr (never a key; a request id, also sent in\n"
    "X-Request-Id). /healthz and /readyz (200 ready, 503 unready) answer on every listener.\n"
    "Prints 'ub listening on ADDR:PORT' and\n"
    "'zn listening on ADDR:PORT' once serving. SIGHUP reloads the configuration (the file and\n"
    "the command line): log level and format, --lifetime, and the Zn certificate, key and client\n"
    "CA files\n"
    "(read again even when their names stay); other changes are logged as needing a restart,\n"
    "and a reload that fails changes nothing. SIGTERM or SIGINT stops it cleanly: no new\n"
    "connections, requests in flight finish (at most 10 s), exit 0.\n"
    "Exit status: 0 after a clean stop, 2 bad usage, 3 a failure to start.\n";

/* Ub log lines: a flood must not write one line per request. Per second and per reason, the
 * first UB_LOG_BURST challenges or refusals are logged one by one, the rest are counted and
 * summed up in one line when the second is over. Bootstraps are always logged. */
#define UB_LOG_BURST 10
enum { UB_LOG_CHALLENGE, UB_LOG_REFUSED, UB_LOG_KINDS };

struct ub_log {
    pthread_mutex_t mu;
    uint64_t sec;
    unsigned n[UB_LOG_KINDS][KMS_ERR_COUNT_];
};

struct bsfd_cfg;

struct bsfd {
    /* for reloads (SIGHUP): the command line, the configuration started with (its strings
     * stay borrowed by what start made) and the one applied last */
    int argc;
    char **argv;
    struct bsfd_cfg *start_cfg, *cur_cfg;
    struct kms_bsf *bsf;
    struct kms_subscriber_db *db;
    struct kms_redis *redis;      /* --redis (NULL: --db) */
    struct kms_bsf_redis *bredis; /* the fleet's store over it */
    struct kms_sqndb *sqndb;      /* --sqn-db: this node's SQN marks */
    struct kms_bsf_shared shared;
    struct kms_httpd *ub, *zn;
    int lock_fd; /* PATH.lock beside --db (--sqn-db), flocked while serving (-1: none) */
    uint8_t challenge_key[KMS_BSF_KEY_LEN]; /* KEK-derived (KMS_KEK_CHALLENGE_SEAL) */
    struct ub_log log;
    struct kms_metrics *metrics;     /* request counters, /metrics, /readyz */
    struct kms_httpd *metrics_httpd; /* --metrics-listen (NULL: none) */
    struct bsfd_obs obs;
    bool obs_ready;
};

/* ---- the subscriber store, as the BSF core sees it ---- */

static kms_result store_get(void *ctx, const char *impi, struct kms_bsf_sub *out)
{
    struct bsfd *d = ctx;
    struct kms_subscriber s;
    uint64_t mark = 0;
    memset(out, 0, sizeof(*out));
    uint64_t own = 0;
    kms_result r = d->bredis != NULL ? kms_bsf_redis_sub_get(d->bredis, impi, &s, &mark)
                                     : kms_subscriber_get(d->db, impi, &s, &mark);
    if (kms_ok(r) && d->sqndb != NULL) {
        /* This node's own mark, when above the record's (the one it was added or imported
         * with): the higher counts. */
        r = kms_sqndb_get(d->sqndb, impi, &own);
        mark = own > mark ? own : mark;
    }
    if (kms_ok(r)) {
        memcpy(out->k, s.k, sizeof(out->k));
        memcpy(out->opc, s.opc, sizeof(out->opc));
        memcpy(out->amf, s.amf, sizeof(out->amf));
        for (size_t i = 0; i < s.n_impu && i < KMS_BSF_IMPU_MAX; i++) {
            memcpy(out->impu[i], s.impu[i], sizeof(out->impu[i]));
        }
        out->n_impu = s.n_impu < KMS_BSF_IMPU_MAX ? s.n_impu : KMS_BSF_IMPU_MAX;
        out->sqn_mark = mark;
    }
    kms_subscriber_wipe(&s);
    return r;
}

static kms_result store_commit(void *ctx, const char *impi, uint64_t mark)
{
    struct bsfd *d = ctx;
    if (d->sqndb != NULL) {
        return kms_sqndb_raise(d->sqndb, impi, mark);
    }
    return kms_subscriber_sqn_commit(d->db, impi, mark);
}

/* The readiness probe: a write transaction that writes nothing (BEGIN IMMEDIATE takes the
 * write lock: a file another process locks, or one that cannot be written, fails it); with
 * --redis, and a PING of Redis. */
static kms_result store_probe(void *ctx)
{
    struct bsfd *d = ctx;
    if (d->sqndb == NULL) {
        return kms_subscriber_sqn_commit_many(d->db, 0, NULL, NULL);
    }
    KMS_TRY(kms_sqndb_probe(d->sqndb));
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    redisReply *rep = NULL;
    KMS_TRY(kms_redis_cmd(d->redis, 1, argv, lens, &rep));
    freeReplyObject(rep);
    return KMS_RESULT_OK;
}

/* ---- Ub ---- */

/* Writes the summary lines of the second held (under l->mu) and starts counting afresh. */
static void ub_log_flush(struct ub_log *l)
{
    for (int k = 0; k < UB_LOG_KINDS; k++) {
        for (int e = 0; e < KMS_ERR_COUNT_; e++) {
            if (l->n[k][e] > UB_LOG_BURST) {
                kms_log(KMS_LOG_WARN, "ub %s (%s): %u in one second, %u of them not logged",
                        k == UB_LOG_CHALLENGE ? "challenges" : "refusals",
                        kms_err_name((enum kms_err)e), l->n[k][e], l->n[k][e] - UB_LOG_BURST);
            }
            l->n[k][e] = 0;
        }
    }
}

/* Whether this challenge or refusal gets a line of its own. */
static bool ub_log_one(struct ub_log *l, int kind, enum kms_err why, uint64_t now)
{
    pthread_mutex_lock(&l->mu);
    if (now != l->sec) {
        ub_log_flush(l);
        l->sec = now;
    }
    unsigned n = (unsigned)why < KMS_ERR_COUNT_ ? ++l->n[kind][why] : 0;
    pthread_mutex_unlock(&l->mu);
    return n <= UB_LOG_BURST;
}

static void ub_handler(void *ctx, const struct kms_http_req *req, struct kms_http_resp *resp)
{
    struct bsfd *d = ctx;
    if (kms_metrics_health_paths(d->metrics, KMS_IFACE_UB, req, resp)) {
        return;
    }
    if (strcmp(req->path, "/") != 0 || req->query != NULL) {
        kms_http_resp_text(resp, KMS_IFACE_UB, KMS_ERR_NO_ROUTE, NULL);
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0) {
        kms_http_resp_text(resp, KMS_IFACE_UB, KMS_ERR_METHOD, NULL);
        return;
    }
    struct kms_bsf_ub_reply r;
    kms_bsf_ub_reply_init(&r);
    uint64_t now = kms_now();
    kms_result rc = KMS_RESULT_OK;
    if (kms_http_req_header_count(req, "Authorization") > 1) {
        /* Which of two credentials would count? Neither: the answer of a malformed one. */
        kms_bsf_ub_verdict(&r, KMS_ERR_MALFORMED);
    } else {
        rc = kms_bsf_ub(d->bsf, kms_http_req_header(req, "Authorization"), req->method, req->path,
                        req->body, req->body_len, now, &r);
    }
    struct kms_http_note *note = &resp->note;
    if (!kms_ok(rc)) {
        int line = 0;
        const char *where = kms_err_where(&line);
        kms_http_resp_text(resp, KMS_IFACE_UB, KMS_ERR_INTERNAL, NULL);
        note->code = rc.err;
        note->level = KMS_LOG_ERROR;
        (void)snprintf(note->msg, sizeof(note->msg), "ub from %s: %s (%s:%d)", req->peer_addr,
                       kms_err_name(rc.err), where != NULL ? where : "?", line);
        kms_bsf_ub_reply_cleanup(&r);
        return;
    }
    if (!kms_ok(kms_bsf_ub_http(&r, resp))) {
        kms_http_resp_text(resp, KMS_IFACE_UB, KMS_ERR_INTERNAL, NULL);
    }
    /* The request's log line (the request hook writes it, kms_metrics.h). */
    bool challenged = kms_buf_len(&r.www_authenticate) > 0;
    if (challenged) {
        bsfd_obs_challenge(&d->obs);
    }
    note->code = resp->status >= 500 && r.why == KMS_OK ? note->code : r.why;
    kms_http_note_id(resp, "impi", r.impi);
    kms_http_note_id(resp, "btid", r.btid);
    note->level = KMS_LOG_INFO;
    if (r.why == KMS_OK) {
        bsfd_obs_bootstrap(&d->obs);
        (void)snprintf(note->msg, sizeof(note->msg), "ub bootstrap impi=%s btid=%s", r.impi,
                       r.btid);
    } else if (!ub_log_one(&d->log, challenged ? UB_LOG_CHALLENGE : UB_LOG_REFUSED, r.why, now)) {
        note->quiet = true; /* counted: summed up once the second is over */
    } else if (r.why == KMS_ERR_RATE) {
        note->level = KMS_LOG_WARN;
        (void)snprintf(note->msg, sizeof(note->msg), "ub %d impi=%s: challenge rate exceeded",
                       r.status, r.impi);
    } else {
        (void)snprintf(note->msg, sizeof(note->msg), "ub %d impi=%s %s (%s)", r.status, r.impi,
                       challenged ? "challenge" : "refused", kms_err_name(r.why));
    }
    kms_bsf_ub_reply_cleanup(&r);
}

/* ---- Zn ---- */

/* The HTTP adapter of lib/gba/kms_bsf_zn, which decides the reply; here one log line from it. */
static void zn_handler(void *ctx, const struct kms_http_req *req, struct kms_http_resp *resp)
{
    struct bsfd *d = ctx;
    struct kms_bsf_zn_cert cert = {req->client_verified, req->client_dns, req->n_client_dns};
    struct kms_bsf_zn_reply r;
    kms_bsf_zn_reply_init(&r);
    if (!kms_ok(kms_bsf_zn_handle(d->bsf, req->method, req->path, &cert, req->body, req->body_len,
                                  kms_now(), &r)) ||
        !kms_ok(kms_bsf_zn_http(&r, resp))) {
        r.why = KMS_ERR_INTERNAL;
        (void)snprintf(r.detail, sizeof(r.detail), "%s", "reply not assembled");
        kms_http_resp_text(resp, KMS_IFACE_ZN, KMS_ERR_INTERNAL, NULL);
    }
    /* The request's log line (the request hook writes it, kms_metrics.h). */
    struct kms_http_note *note = &resp->note;
    note->code = r.why;
    kms_http_note_id(resp, "naf", r.naf_fqdn);
    kms_http_note_id(resp, "impi", r.impi);
    if (r.why == KMS_OK) {
        note->level = KMS_LOG_INFO;
        (void)snprintf(note->msg, sizeof(note->msg), "zn naf=%s impi=%s: ks_naf delivered",
                       r.naf_fqdn, r.impi);
    } else if (r.why == KMS_ERR_AUTH) {
        note->level = KMS_LOG_WARN;
        (void)snprintf(note->msg, sizeof(note->msg), "zn from %s: %s", req->peer_addr, r.detail);
    } else if (r.naf_fqdn[0] == '\0' && r.why != KMS_ERR_INTERNAL) {
        note->level = KMS_LOG_DEBUG;
        (void)snprintf(note->msg, sizeof(note->msg), "zn from %s: %d %s", req->peer_addr,
                       resp->status, r.detail);
    } else {
        note->level = r.why == KMS_ERR_NOT_FOUND ? KMS_LOG_INFO : KMS_LOG_ERROR;
        (void)snprintf(note->msg, sizeof(note->msg), "zn naf=%s: %s", r.naf_fqdn, r.detail);
    }
    kms_bsf_zn_reply_cleanup(&r);
}

/* ---- options -> configuration ---- */

enum {
    O_DB,
    O_KEK,
    O_LISTEN,
    O_REALM,
    O_LIFETIME,
    O_ZN,
    O_CERT,
    O_KEY,
    O_CA,
    O_LOG,
    O_MAXSESS,
    O_AMF,
    O_MAXANS,
    O_MAXCONN,
    O_MAXIP,
    O_HDRTO,
    O_IDLETO,
    O_LOGFMT,
    O_METRICS,
    O_NODEID,
    O_RATEBURST,
    O_RATEPERIOD,
    O_REDIS,
    O_REDISPASS,
    O_SQNDB,
    O_CONFIG,
    O_CHECK,
    O_VERSION,
    N_OPTS
};

/* The one option table (the usage text above says the same at length). */
static const struct cli_opt opts[N_OPTS] = {
    [O_DB] = CLI_VALUE_DOC("db", "PATH", "subscriber store (or --redis)"),
    [O_KEK] =
        CLI_REQUIRED_DOC("kek-file", "FILE", "32-byte key-encryption key of the store (mode 0600)"),
    [O_LISTEN] = CLI_REQUIRED_DOC("listen", "ADDR:PORT", "Ub, plain HTTP"),
    [O_REALM] = CLI_REQUIRED_DOC("realm", "FQDN",
                                 "the BSF's FQDN: Digest realm and the domain of every B-TID"),
    [O_LIFETIME] =
        CLI_REQUIRED_DOC("lifetime", "SECONDS", "bootstrap session (Ks) lifetime (1 .. 315360000)"),
    [O_ZN] = CLI_REQUIRED_DOC("zn-listen", "ADDR:PORT", "Zn, HTTPS with mutual TLS"),
    [O_CERT] = CLI_REQUIRED_DOC("zn-cert", "FILE", "PEM certificate chain of the Zn server"),
    [O_KEY] = CLI_REQUIRED_DOC("zn-key", "FILE", "its PEM private key"),
    [O_CA] = CLI_REQUIRED_DOC("zn-client-ca", "FILE",
                              "PEM CA(s) that NAF client certificates must chain to"),
    [O_LOG] = CLI_VALUE_DOC("log-level", "LEVEL",
                            "most verbose level logged: error, warn, info (default) or debug"),
    [O_MAXSESS] =
        CLI_VALUE_DOC("max-sessions", "N", "bootstrap sessions held at once (default 100000)"),
    [O_AMF] = CLI_VALUE_DOC("amf", "HEX4", "AMF of fake challenges (default 0000)"),
    [O_MAXANS] = CLI_VALUE_DOC("max-answered", "N",
                               "answered challenges remembered (single use; default 1000000)"),
    [O_MAXCONN] = CLI_VALUE_DOC("max-connections", "N",
                                "connections held at once, on Ub and Zn each (default 10000)"),
    [O_MAXIP] = CLI_VALUE_DOC("max-connections-per-ip", "N",
                              "connections from one address, on each (default 1000)"),
    [O_HDRTO] = CLI_VALUE_DOC("header-timeout", "S",
                              "seconds for a request's headers and body (default 5)"),
    [O_IDLETO] =
        CLI_VALUE_DOC("idle-timeout", "S", "seconds a connection may stay silent (default 30)"),
    [O_LOGFMT] = CLI_VALUE_DOC("log-format", "FORMAT", "log line format: logfmt (default) or json"),
    [O_METRICS] = CLI_VALUE_DOC("metrics-listen", "ADDR:PORT",
                                "plain HTTP: GET /metrics (Prometheus), /readyz, /healthz"),
    [O_NODEID] = CLI_VALUE_DOC("node-id", "N",
                               "fleet node number 0 .. 7: SQNs on IND values 4N .. 4N+3 only"),
    [O_RATEBURST] =
        CLI_VALUE_DOC("rate-burst", "N", "challenges one IMPI may get at once (default 5)"),
    [O_RATEPERIOD] =
        CLI_VALUE_DOC("rate-period", "S", "seconds for an IMPI to earn one more (default 2)"),
    [O_REDIS] =
        CLI_VALUE_DOC("redis", "URL", "a fleet's store instead of --db: a redis:// or unix:// URL"),
    [O_REDISPASS] =
        CLI_VALUE_DOC("redis-password-file", "FILE", "Redis AUTH password (owner-only file)"),
    [O_SQNDB] = CLI_VALUE_DOC("sqn-db", "PATH", "with --redis: this node's SQN marks (SQLite)"),
    [O_CONFIG] = CLI_VALUE_DOC("config", "FILE", "read options from FILE (the command line wins)"),
    [O_CHECK] = {.name = "check-config", .help = "check the configuration without listening"},
    [O_VERSION] = {.name = "version", .help = "print the version"},
};

/* What a SIGHUP applies at once; every other option needs a restart. */
static const bool live_opt[N_OPTS] = {
    [O_LOG] = true, [O_LIFETIME] = true, [O_CERT] = true,
    [O_KEY] = true, [O_CA] = true,       [O_LOGFMT] = true,
};

struct bsfd_cfg {
    struct cli_conf file;    /* --config's values (owned) */
    const char *raw[N_OPTS]; /* every option's text as given (argv or file), for reloads */
    bool check;              /* --check-config */
    const char *redis_pass, *sqn_db;
    struct kms_redis_url redis_url;
    bool redis; /* --redis given (then redis_url) */
    const char *db, *kek_file, *listen, *zn_listen, *zn_cert, *zn_key, *zn_client_ca;
    const char *metrics_listen; /* NULL: no metrics listener */
    struct kms_bsf_cfg bsf;
    struct kms_daemon_conn_limits lim;
    bool lim_given; /* --max-connections given */
    enum kms_log_level log_level;
    enum kms_log_format log_format;
};

/* Checks the options into c. *done when the program ends here (--help, or a usage error), with
 * the returned exit status. */
static int configure(int argc, char **argv, struct bsfd_cfg *c, bool *done)
{
    struct cli_args a;
    *done = true;
    int rc = cli_parse("imskms-bsfd", opts, N_OPTS, 0, argc, argv, &a);
    if (rc != CLI_EXIT_OK || a.help) {
        if (rc == CLI_EXIT_OK) {
            fputs(usage, stdout);
            fputs(usage_obs, stdout);
            fputs(usage_signals, stdout);
        }
        return rc;
    }
    bool stop = false; /* --version, or a configuration file that does not read */
    rc = kms_daemon_options("imskms-bsfd", "bsfd", opts, N_OPTS, O_VERSION, O_CONFIG, &a, &c->file,
                            &stop);
    if (stop) {
        return rc;
    }
    c->check = a.seen[O_CHECK];
    memcpy(c->raw, a.val, sizeof(c->raw));
    /* One subscriber store: --db, or --redis with this node's --sqn-db. */
    if (a.val[O_DB] == NULL && a.val[O_REDIS] == NULL) {
        return cli_missing(&a, "db");
    }
    if ((rc = cli_require(&a, opts, N_OPTS)) != CLI_EXIT_OK) {
        return rc;
    }
    if (a.val[O_DB] != NULL && a.val[O_REDIS] != NULL) {
        return cli_usage_error(&a, "--db and --redis: give one subscriber store, not both");
    }
    if (a.val[O_REDIS] == NULL && (a.val[O_REDISPASS] != NULL || a.val[O_SQNDB] != NULL)) {
        return cli_usage_error(&a, a.val[O_SQNDB] != NULL
                                       ? "--sqn-db: only with --redis (--db keeps the SQN marks)"
                                       : "--redis-password-file: only with --redis");
    }
    c->redis = a.val[O_REDIS] != NULL;
    if (c->redis) {
        if (a.val[O_SQNDB] == NULL) {
            return cli_usage_error(&a, "--redis needs --sqn-db PATH: this node's own SQN marks "
                                       "(docs/scaling.md)");
        }
        kms_result ur = kms_redis_url_parse(a.val[O_REDIS], strlen(a.val[O_REDIS]), &c->redis_url);
        if (!kms_ok(ur)) {
            return cli_usage_error(&a, "--redis: expected redis://[USER@]HOST:PORT[/DB] or "
                                       "unix://[USER@]/PATH[?db=N]");
        }
        if (c->redis_url.user[0] != '\0' && a.val[O_REDISPASS] == NULL) {
            return cli_usage_error(&a, "--redis: a URL with a user needs --redis-password-file");
        }
    }
    c->redis_pass = a.val[O_REDISPASS];
    c->sqn_db = a.val[O_SQNDB];
    c->log_level = KMS_LOG_INFO;
    if (a.val[O_LOG] != NULL && !kms_log_level_parse(a.val[O_LOG], &c->log_level)) {
        return cli_usage_error(&a, "--log-level: one of error, warn, info, debug");
    }
    c->log_format = KMS_LOG_LOGFMT;
    if (a.val[O_LOGFMT] != NULL && !kms_log_format_parse(a.val[O_LOGFMT], &c->log_format)) {
        return cli_usage_error(&a, "--log-format: logfmt or json");
    }
    uint64_t lifetime = 0, max_sessions = 100000, max_answered = 1000000;
    uint64_t node_id = 0, rate_burst = 5, rate_period = 2;
    if (!cli_uint(a.val[O_LIFETIME], 1, 315360000, &lifetime)) {
        return cli_usage_error(&a, "--lifetime: expected seconds from 1 to 315360000");
    }
    if (!cli_uint(a.val[O_MAXSESS], 1, 100000000, &max_sessions)) {
        return cli_usage_error(&a, "--max-sessions: expected a number from 1 to 100000000");
    }
    if (!cli_uint(a.val[O_MAXANS], 1000, 100000000, &max_answered)) {
        return cli_usage_error(&a, "--max-answered: expected a number from 1000 to 100000000");
    }
    if (!cli_uint(a.val[O_NODEID], 0, kms_sqn_ind_nodes(KMS_SQN_IND_BITS_DEF) - 1, &node_id)) {
        return cli_usage_error(&a, "--node-id: expected a number from 0 to 7");
    }
    if (!cli_uint(a.val[O_RATEBURST], 1, 1000, &rate_burst)) {
        return cli_usage_error(&a, "--rate-burst: expected a number from 1 to 1000");
    }
    if (!cli_uint(a.val[O_RATEPERIOD], 1, 3600, &rate_period)) {
        return cli_usage_error(&a, "--rate-period: expected seconds from 1 to 3600");
    }
    const char *bad = kms_daemon_conn_limits_parse(a.val[O_MAXCONN], a.val[O_MAXIP], a.val[O_HDRTO],
                                                   a.val[O_IDLETO], &c->lim);
    if (bad != NULL) {
        return cli_usage_error(&a, bad);
    }
    c->lim_given = a.val[O_MAXCONN] != NULL;
    c->db = a.val[O_DB];
    c->kek_file = a.val[O_KEK];
    c->listen = a.val[O_LISTEN];
    c->zn_listen = a.val[O_ZN];
    c->zn_cert = a.val[O_CERT];
    c->zn_key = a.val[O_KEY];
    c->zn_client_ca = a.val[O_CA];
    c->metrics_listen = a.val[O_METRICS];
    c->bsf = (struct kms_bsf_cfg){.realm = a.val[O_REALM],
                                  .lifetime = lifetime,
                                  .max_sessions = (size_t)max_sessions,
                                  .max_answered = (size_t)max_answered,
                                  .rate_burst = (unsigned)rate_burst,
                                  .rate_period = (unsigned)rate_period,
                                  .node_set = a.val[O_NODEID] != NULL,
                                  .node_id = (unsigned)node_id};
    if (a.val[O_AMF] != NULL &&
        (rc = cli_hex_exact(&a, "amf", a.val[O_AMF], c->bsf.amf, sizeof(c->bsf.amf))) != 0) {
        return rc;
    }
    *done = false;
    return CLI_EXIT_OK;
}

/* ---- wiring ---- */

static int fail(const char *what, kms_result r)
{
    kms_log(KMS_LOG_ERROR, "%s: %s", what, kms_strerror(r.err));
    return CLI_EXIT_INTERNAL;
}

/* One BSF per subscriber store: two would hand out the same SQN ranges. An exclusive flock on
 * PATH.lock beside --db, held until exit (the kernel drops it with the process, even after
 * kill -9). `imskms subscriber` never takes it: it works while the BSF runs (SQLite's own locks
 * keep each write whole). --check-config does not take it either. */
static int lock_store(const struct bsfd_cfg *c, struct bsfd *d)
{
    char path[4096];
    /* With --redis, one BSF per --sqn-db: two nodes on one file would share SQN ranges. */
    const char *file = c->redis ? c->sqn_db : c->db, *opt = c->redis ? "--sqn-db" : "--db";
    int n = snprintf(path, sizeof(path), "%s.lock", file);
    if (n <= 0 || (size_t)n >= sizeof(path)) {
        kms_log(KMS_LOG_ERROR, "%s %s: path too long", opt, file);
        return CLI_EXIT_USAGE;
    }
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (d->lock_fd < 0) {
        kms_log(KMS_LOG_ERROR, "%s %s: its lock file %s cannot be opened: %s", opt, file, path,
                strerror(errno));
        return CLI_EXIT_INTERNAL;
    }
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        kms_log(KMS_LOG_ERROR, "%s %s: %s", opt, file,
                e == EWOULDBLOCK ? (c->redis ? "another imskms-bsfd holds this SQN file (its lock "
                                               "file, .lock beside it, is locked); stop it first"
                                             : "another imskms-bsfd holds this subscriber store "
                                               "(its lock file, .lock beside it, is locked); stop "
                                               "it first")
                                 : strerror(e));
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

/* --redis: the client (checked now: a Redis that cannot serve is a start-up error naming why),
 * the fleet's store over it, this node's --sqn-db (created when missing), the challenge key. */
static int open_redis(const struct bsfd_cfg *c, struct bsfd *d, const uint8_t kek[32])
{
    struct kms_redis_cfg rc = {.url = c->redis_url, .password_file = c->redis_pass};
    kms_result r = kms_redis_new(&rc, &d->redis);
    if (!kms_ok(r)) {
        kms_start_file_error("--redis-password-file", c->redis_pass != NULL ? c->redis_pass : "",
                             r.err, NULL);
        return CLI_EXIT_USAGE;
    }
    char why[160] = "";
    r = kms_redis_check(d->redis, why, sizeof(why));
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_ERROR, "--redis %s: %s", c->raw[O_REDIS],
                why[0] != '\0' ? why : kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    if (!kms_ok(r = kms_bsf_redis_new(d->redis, kek, &d->bredis))) {
        return fail("redis store", r);
    }
    kms_bsf_redis_shared(d->bredis, &d->shared);
    /* --check-config creates nothing: a missing file is made at start. */
    r = kms_sqndb_open(c->sqn_db, !c->check, &d->sqndb);
    if (c->check && r.err == KMS_ERR_NOT_FOUND) {
        r = KMS_RESULT_OK;
    }
    if (kms_ok(r)) {
        r = kms_kek_derive(kek, KMS_KEK_CHALLENGE_SEAL, 1, d->challenge_key);
    }
    if (!kms_ok(r)) {
        kms_start_file_error("--sqn-db", c->sqn_db, r.err, NULL);
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

static int open_store(const struct bsfd_cfg *c, struct bsfd *d)
{
    uint8_t kek[32];
    kms_result r = kms_kek_read(c->kek_file, kek);
    if (!kms_ok(r)) {
        kms_start_file_error("--kek-file", c->kek_file, r.err, NULL);
        return kms_err_exit_status(r.err) == CLI_EXIT_USAGE ? CLI_EXIT_USAGE : CLI_EXIT_INTERNAL;
    }
    int lr = c->check ? CLI_EXIT_OK : lock_store(c, d);
    if (lr != CLI_EXIT_OK) {
        kms_wipe(kek, sizeof(kek));
        return lr;
    }
    if (c->redis) {
        int rr = open_redis(c, d, kek);
        kms_wipe(kek, sizeof(kek));
        return rr;
    }
    r = kms_subscriber_db_open(c->db, kek, false, &d->db);
    if (kms_ok(r)) {
        r = kms_kek_derive(kek, KMS_KEK_CHALLENGE_SEAL, 1, d->challenge_key);
    }
    kms_wipe(kek, sizeof(kek));
    if (!kms_ok(r)) {
        kms_start_file_error("--db", c->db, r.err, NULL);
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

/* ---- SQN ranges reserved before serving ---- */

/* The subscribers as listed, for the preload. */
struct preload {
    size_t n, cap;
    char **impi;
    uint64_t *mark;
};

static kms_result preload_add(void *arg, const struct kms_subscriber_info *s)
{
    struct preload *p = arg;
    if (p->n == p->cap) {
        size_t cap = p->cap != 0 ? 2 * p->cap : 1024;
        char **ni = realloc(p->impi, cap * sizeof(*ni));
        KMS_ENSURE(ni != NULL, KMS_ERR_NOMEM);
        p->impi = ni;
        uint64_t *nm = realloc(p->mark, cap * sizeof(*nm));
        KMS_ENSURE(nm != NULL, KMS_ERR_NOMEM);
        p->mark = nm;
        p->cap = cap;
    }
    p->impi[p->n] = strdup(s->impi);
    KMS_ENSURE(p->impi[p->n] != NULL, KMS_ERR_NOMEM);
    p->mark[p->n] = s->sqn;
    p->n++;
    return KMS_RESULT_OK;
}

/* Every subscriber's first SQN range, reserved before Ub opens, so that no first challenge
 * after a start pays a durable write (which would tell a subscriber from a made-up name). */
static kms_result preload(struct bsfd *d, uint64_t now)
{
    kms_result rc = KMS_RC_INIT;
    struct preload p = {0};
    KMS_TRY_OUT(rc, kms_subscriber_list(d->db, preload_add, &p));
    /* Planned in memory, made durable in one transaction, then used. */
    for (size_t i = 0; i < p.n; i++) {
        kms_result r = kms_bsf_preload_plan(d->bsf, p.impi[i], p.mark[i], now, &p.mark[i]);
        if (r.err == KMS_ERR_FULL) {
            kms_log(KMS_LOG_WARN, "preload: subscriber state full after %zu subscribers", i);
            p.n = i;
            break;
        }
        KMS_TRY_OUT(rc, r);
    }
    KMS_TRY_OUT(rc,
                kms_subscriber_sqn_commit_many(d->db, p.n, (const char *const *)p.impi, p.mark));
    for (size_t i = 0; i < p.n; i++) {
        KMS_TRY_OUT(rc, kms_bsf_preload_done(d->bsf, p.impi[i], p.mark[i], now));
    }
    kms_log(KMS_LOG_INFO, "sqn ranges reserved for %zu subscribers", p.n);
    rc = KMS_RESULT_OK;
out:
    for (size_t i = 0; i < p.n; i++) {
        free(p.impi[i]);
    }
    free(p.impi);
    free(p.mark);
    return rc;
}

static int open_bsf(const struct bsfd_cfg *c, struct bsfd *d)
{
    if (c->check) {
        /* What kms_bsf_new would refuse, without reserving its session tables. */
        if (!kms_ok(kms_ident_check_fqdn(c->bsf.realm, strlen(c->bsf.realm)))) {
            kms_log(KMS_LOG_ERROR, "--realm %s: not an FQDN", c->bsf.realm);
            return CLI_EXIT_USAGE;
        }
        return CLI_EXIT_OK;
    }
    struct kms_bsf_store bs = {d, store_get, store_commit};
    struct kms_bsf_cfg cfg = c->bsf;
    cfg.challenge_key = d->challenge_key;
    if (d->bredis != NULL) {
        cfg.shared = &d->shared;
    }
    kms_result r = kms_bsf_new(&cfg, &bs, &d->bsf);
    if (kms_ok(r) && d->bredis != NULL) {
        /* Subscribers are the fleet's (maybe millions): a node reserves a subscriber's first
         * range on its first challenge there. */
        kms_log(KMS_LOG_INFO, "sqn ranges reserved on each subscriber's first challenge "
                              "(--redis)");
    } else if (kms_ok(r) && !kms_ok(r = preload(d, kms_now()))) {
        return fail("sqn reservation", r);
    }
    if (kms_ok(r)) {
        return CLI_EXIT_OK;
    }
    if (r.err == KMS_ERR_ARG || kms_err_group(r.err) == KMS_ERR_G_USAGE) {
        kms_log(KMS_LOG_ERROR, "--realm %s: not an FQDN", c->bsf.realm);
        return CLI_EXIT_USAGE;
    }
    return fail("bsf", r);
}

/* Server threads of Ub and Zn, and descriptors kept beside the connections: the store, the
 * log, each thread's epoll and wake-up descriptors, the listening sockets, with room to spare. */
#define UB_THREADS 4
#define ZN_THREADS 2
#define FD_RESERVE (64 + 4 * (UB_THREADS + ZN_THREADS))

static struct kms_httpd_cfg ub_cfg(const struct bsfd_cfg *c)
{
    return (struct kms_httpd_cfg){.listen = c->listen,
                                  .max_body = 4096,
                                  .threads = UB_THREADS,
                                  .max_conns = (unsigned)c->lim.max_conns,
                                  .max_conns_per_ip = (unsigned)c->lim.per_ip,
                                  .timeout_s = (unsigned)c->lim.idle_s,
                                  .header_timeout_s = (unsigned)c->lim.header_s,
                                  .iface = KMS_IFACE_UB};
}

static struct kms_httpd_cfg zn_cfg(const struct bsfd_cfg *c)
{
    return (struct kms_httpd_cfg){.listen = c->zn_listen,
                                  .max_body = 16384,
                                  .threads = ZN_THREADS,
                                  .max_conns = (unsigned)c->lim.max_conns,
                                  .max_conns_per_ip = (unsigned)c->lim.per_ip,
                                  .timeout_s = (unsigned)c->lim.idle_s,
                                  .header_timeout_s = (unsigned)c->lim.header_s,
                                  .cert_file = c->zn_cert,
                                  .key_file = c->zn_key,
                                  .client_ca_file = c->zn_client_ca,
                                  .client_cert_optional = true,
                                  .iface = KMS_IFACE_ZN};
}

/* A listener's configuration as kms_httpd_start would take it (--check-config, a reload's
 * TLS files): one line naming the option at fault. */
static int check_listener(const struct kms_httpd_cfg *hc, const char *listen_opt,
                          const struct bsfd_cfg *c)
{
    const char *which = NULL;
    kms_result r = kms_httpd_check(hc, &which);
    if (kms_ok(r)) {
        return CLI_EXIT_OK;
    }
    if (which != NULL && strcmp(which, "listen") != 0) {
        const char *opt = strcmp(which, "cert") == 0  ? "--zn-cert"
                          : strcmp(which, "key") == 0 ? "--zn-key"
                                                      : "--zn-client-ca";
        const char *val = strcmp(which, "cert") == 0  ? c->zn_cert
                          : strcmp(which, "key") == 0 ? c->zn_key
                                                      : c->zn_client_ca;
        kms_start_file_error(opt, val, r.err, "--zn-cert");
    } else {
        kms_start_listen_error(listen_opt, hc->listen, r.err);
    }
    return CLI_EXIT_USAGE;
}

/* The request counters, the gauges and readiness checks behind them, and the metrics listener
 * when --metrics-listen is given. */
static int start_metrics(const struct bsfd_cfg *c, struct bsfd *d)
{
    d->metrics = kms_metrics_new("imskms-bsfd");
    if (d->metrics == NULL) {
        return fail("metrics", KMS_ERR(KMS_ERR_NOMEM));
    }
    bsfd_obs_init(&d->obs, d->metrics, d->bsf, store_probe, d, c->bsf.max_sessions,
                  c->bsf.max_answered, d->redis);
    d->obs_ready = true;
    bsfd_obs_tick(&d->obs, 1); /* the store probed once before serving */
    struct kms_metrics_source src = {&d->obs, bsfd_obs_collect, bsfd_obs_ready};
    kms_metrics_set_source(d->metrics, &src);
    if (c->metrics_listen == NULL) {
        return CLI_EXIT_OK;
    }
    kms_result r = kms_metrics_listen(d->metrics, c->metrics_listen, &d->metrics_httpd);
    if (!kms_ok(r)) {
        kms_start_listen_error("--metrics-listen", c->metrics_listen, r.err);
        return CLI_EXIT_INTERNAL;
    }
    kms_log(KMS_LOG_INFO, "metrics listening on port %u", kms_httpd_port(d->metrics_httpd));
    return CLI_EXIT_OK;
}

static int start_servers(const struct bsfd_cfg *c, struct bsfd *d)
{
    struct kms_httpd_cfg ucfg = ub_cfg(c), zcfg = zn_cfg(c);
    if (c->check) {
        int ru = check_listener(&ucfg, "--listen", c);
        int rz = check_listener(&zcfg, "--zn-listen", c);
        struct kms_httpd_cfg mcfg = {.listen = c->metrics_listen};
        int rm =
            c->metrics_listen != NULL ? check_listener(&mcfg, "--metrics-listen", c) : CLI_EXIT_OK;
        return ru != CLI_EXIT_OK ? ru : rz != CLI_EXIT_OK ? rz : rm;
    }
    /* What can never work is bad usage (exit 2), before anything binds. */
    int ru = check_listener(&ucfg, "--listen", c);
    int rz = check_listener(&zcfg, "--zn-listen", c);
    struct kms_httpd_cfg mcfg = {.listen = c->metrics_listen};
    int rm = c->metrics_listen != NULL ? check_listener(&mcfg, "--metrics-listen", c) : CLI_EXIT_OK;
    if (ru != CLI_EXIT_OK || rz != CLI_EXIT_OK || rm != CLI_EXIT_OK) {
        return CLI_EXIT_USAGE;
    }
    int rc = start_metrics(c, d);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    kms_metrics_hook(d->metrics, KMS_MIF_UB, &ucfg);
    kms_metrics_hook(d->metrics, KMS_MIF_ZN, &zcfg);
    kms_result r = kms_httpd_start(&ucfg, ub_handler, d, &d->ub);
    if (!kms_ok(r)) {
        kms_start_listen_error("--listen", c->listen, r.err);
        return CLI_EXIT_INTERNAL;
    }
    if (!kms_ok(r = kms_httpd_start(&zcfg, zn_handler, d, &d->zn))) {
        kms_start_listen_error("--zn-listen", c->zn_listen, r.err);
        return CLI_EXIT_INTERNAL;
    }
    kms_log(KMS_LOG_INFO, "ub listening on port %u", kms_httpd_port(d->ub));
    kms_log(KMS_LOG_INFO, "zn listening on port %u", kms_httpd_port(d->zn));
    return CLI_EXIT_OK;
}

/* The start-up, and --check-config: the same steps, except that a check does not bind the
 * listen addresses or reserve the session tables, and goes on past a problem to report the
 * next one (each a line). */
static int wire(const struct bsfd_cfg *c, struct bsfd *d)
{
    int rc = open_store(c, d);
    if (rc == CLI_EXIT_OK || c->check) {
        int rb = open_bsf(c, d);
        rc = rc != CLI_EXIT_OK ? rc : rb;
    }
    if (rc == CLI_EXIT_OK || c->check) {
        int rs = start_servers(c, d);
        rc = rc != CLI_EXIT_OK ? rc : rs;
    }
    return rc;
}

static void unwire(struct bsfd *d)
{
    /* Both stop accepting at once, then each drains (kms_httpd.h). */
    kms_httpd_stop(d->metrics_httpd);
    kms_httpd_quiesce(d->ub);
    kms_httpd_quiesce(d->zn);
    kms_httpd_stop(d->ub);
    kms_httpd_stop(d->zn);
    if (d->obs_ready) {
        bsfd_obs_cleanup(&d->obs);
    }
    kms_metrics_free(d->metrics);
    kms_bsf_free(d->bsf);
    kms_subscriber_db_close(d->db);
    kms_bsf_redis_free(d->bredis);
    kms_redis_free(d->redis);
    kms_sqndb_close(d->sqndb);
    if (d->lock_fd >= 0) {
        (void)close(d->lock_fd); /* releases the store's lock */
        d->lock_fd = -1;
    }
    kms_wipe(d->challenge_key, sizeof(d->challenge_key));
}

static void cfg_free(struct bsfd_cfg *c)
{
    if (c != NULL) {
        cli_conf_cleanup(&c->file);
        free(c);
    }
}

/* SIGHUP: the file and the original command line again. The one step that can fail (the Zn
 * listener's new certificate, key and CA) comes first; a reload that fails changes nothing. */
static void reload(void *ctx)
{
    struct bsfd *d = ctx;
    struct bsfd_cfg *n = calloc(1, sizeof(*n));
    bool done = false;
    int rc = n != NULL ? configure(d->argc, d->argv, n, &done) : CLI_EXIT_INTERNAL;
    if (rc != CLI_EXIT_OK || done) {
        kms_log(KMS_LOG_ERROR, "reload failed: the configuration has an error (printed above); "
                               "every setting stays as it was");
        cfg_free(n);
        return;
    }
    const struct bsfd_cfg *o = d->cur_cfg;
    struct kms_httpd_cfg zcfg = zn_cfg(n);
    kms_result r = kms_httpd_reload(d->zn, &zcfg);
    if (!kms_ok(r)) {
        (void)check_listener(&zcfg, "--zn-listen", n); /* names the file, when it is one */
        kms_log(KMS_LOG_ERROR,
                "reload failed: Zn certificate: %s; every setting stays as it was, Zn serves "
                "with the old certificate",
                kms_strerror(r.err));
        cfg_free(n);
        return;
    }
    kms_daemon_reload_report(opts, N_OPTS, O_CONFIG, live_opt, o->raw, n->raw);
    kms_result lr = kms_bsf_set_lifetime(d->bsf, n->bsf.lifetime); /* configure checked it */
    if (!kms_ok(lr)) {
        kms_log(KMS_LOG_ERROR, "reload: lifetime: %s", kms_strerror(lr.err));
    }
    kms_log_set_level(n->log_level);
    kms_log_set_format(n->log_format);
    kms_log(KMS_LOG_INFO, "reload done: Zn certificate, key and client CA read again");
    if (d->cur_cfg != d->start_cfg) {
        cfg_free(d->cur_cfg);
    }
    d->cur_cfg = n;
}

/* ---- run ---- */

static void tick(void *ctx, unsigned n, uint64_t now)
{
    struct bsfd *d = ctx;
    kms_bsf_expire(d->bsf, now);
    bsfd_obs_tick(&d->obs, n);
    (void)kms_bsf_refill(d->bsf, now); /* SQN ranges running low, off the request path */
    pthread_mutex_lock(&d->log.mu);
    if (now != d->log.sec) {
        ub_log_flush(&d->log); /* the summary of the last busy second, without new traffic */
        d->log.sec = now;
    }
    pthread_mutex_unlock(&d->log.mu);
}

/* Descriptors the metrics listener may hold (kms_metrics_listen: 64 connections, 2 threads). */
static uint64_t metrics_fds(const struct bsfd_cfg *c)
{
    return c->metrics_listen != NULL ? 72 : 0;
}

/* --check-config: the checks of a start, one line per problem, then "ok" or exit 2. */
static int check_config(struct bsfd_cfg *cfg)
{
    kms_log_init("imskms-bsfd", cfg->log_level);
    kms_log_set_format(cfg->log_format);
    int rc =
        kms_daemon_fd_limit(cfg->lim_given, 2, FD_RESERVE + metrics_fds(cfg), &cfg->lim.max_conns);
    struct bsfd d = {.lock_fd = -1};
    pthread_mutex_init(&d.log.mu, NULL);
    int rw = wire(cfg, &d);
    unwire(&d);
    if (rc != CLI_EXIT_OK || rw != CLI_EXIT_OK) {
        return CLI_EXIT_USAGE;
    }
    printf("imskms-bsfd: configuration ok\n");
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct bsfd_cfg *cfg = calloc(1, sizeof(*cfg));
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
    if ((rc = kms_daemon_start("imskms-bsfd", cfg->log_level)) != CLI_EXIT_OK ||
        (rc = kms_daemon_fd_limit(cfg->lim_given, 2, FD_RESERVE + metrics_fds(cfg),
                                  &cfg->lim.max_conns)) != CLI_EXIT_OK) {
        cfg_free(cfg);
        return rc;
    }
    struct bsfd d = {.argc = argc, .argv = argv, .start_cfg = cfg, .cur_cfg = cfg, .lock_fd = -1};
    pthread_mutex_init(&d.log.mu, NULL);
    if ((rc = wire(cfg, &d)) == CLI_EXIT_OK) {
        struct kms_daemon_hooks hooks = {
            .ctx = &d, .tick_seconds = 5, .tick = tick, .reload = reload};
        rc = kms_daemon_run(&hooks);
    }
    unwire(&d);
    if (d.cur_cfg != d.start_cfg) {
        cfg_free(d.cur_cfg);
    }
    cfg_free(cfg);
    return rc;
}
