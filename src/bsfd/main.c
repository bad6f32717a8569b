/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms-bsfd: the GBA bootstrapping server.
 *
 * Ub (UE -> BSF) is plain HTTP on --listen: HTTP Digest AKAv1-MD5 (lib/gba/kms_bsf_ub).
 * Zn (NAF -> BSF) is HTTPS with mutual TLS on --zn-listen: JSON (lib/gba/kms_zn_json); the
 * client certificate must name the FQDN the NAF asks for. Subscribers come from the SQLite
 * store (imskms subscriber ...), K and OPc sealed under the KEK. Shapes: docs/api.md.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "gba/kms_bsf.h"
#include "gba/kms_bsf_ub.h"
#include "gba/kms_bsf_zn.h"
#include "gba/kms_subscriber.h"
#include "gba/kms_zn_json.h"
#include "http/kms_httpd.h"
#include "imskms/imskms.h"
#include "keyring/kms_keystore.h"
#include "util/kms_log.h"
#include "util/kms_mem.h"

static const char usage[] =
    "usage: imskms-bsfd --db PATH --kek-file FILE --listen ADDR:PORT --realm FQDN\n"
    "                   --lifetime SECONDS --zn-listen ADDR:PORT --zn-cert FILE --zn-key FILE\n"
    "                   --zn-client-ca FILE [--max-sessions N]\n"
    "                   [--log-level error|warn|info|debug]\n"
    "\n"
    "The GBA bootstrapping server (BSF): Ub (HTTP Digest AKAv1-MD5, TS 24.109) on --listen and\n"
    "Zn (JSON over HTTPS with mutual TLS) on --zn-listen. Interfaces: docs/api.md.\n"
    "\n"
    "  --db PATH             subscriber store (create and fill it with 'imskms subscriber add')\n"
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
    "  --log-level LEVEL     most verbose level logged to stderr (default info)\n"
    "\n"
    "Logs one line per request to stderr (never a key). Prints 'ub listening on ADDR:PORT' and\n"
    "'zn listening on ADDR:PORT' once serving. SIGTERM or SIGINT stops it cleanly (exit 0).\n"
    "Exit status: 0 after a clean stop, 2 bad usage, 3 a failure to start.\n";

struct bsfd {
    struct kms_bsf *bsf;
    struct kms_subscriber_db *db;
};

/* ---- the subscriber store, as the BSF core sees it ---- */

static kms_result store_get(void *ctx, const char *impi, struct kms_bsf_sub *out)
{
    struct bsfd *d = ctx;
    struct kms_subscriber s;
    uint64_t mark = 0;
    memset(out, 0, sizeof(*out));
    kms_result r = kms_subscriber_get(d->db, impi, &s, &mark);
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
    return kms_subscriber_sqn_commit(d->db, impi, mark);
}

/* ---- Ub ---- */

static void ub_handler(void *ctx, const struct kms_http_req *req, struct kms_http_resp *resp)
{
    struct bsfd *d = ctx;
    if (strcmp(req->path, "/healthz") == 0) {
        kms_http_resp_text(resp, KMS_IFACE_UB, KMS_OK, "ok\n");
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
    kms_result rc = kms_bsf_ub(d->bsf, kms_http_req_header(req, "Authorization"), req->method,
                               req->path, req->body, req->body_len, (uint64_t)time(NULL), &r);
    if (!kms_ok(rc)) {
        int line = 0;
        const char *where = kms_err_where(&line);
        kms_log(KMS_LOG_ERROR, "ub from %s: %s (%s:%d)", req->peer_addr, kms_err_name(rc.err),
                where != NULL ? where : "?", line);
        kms_http_resp_text(resp, KMS_IFACE_UB, KMS_ERR_INTERNAL, NULL);
        kms_bsf_ub_reply_cleanup(&r);
        return;
    }
    if (!kms_ok(kms_bsf_ub_http(&r, resp))) {
        kms_http_resp_text(resp, KMS_IFACE_UB, KMS_ERR_INTERNAL, NULL);
    }
    if (r.why == KMS_OK) {
        kms_log(KMS_LOG_INFO, "ub bootstrap impi=%s btid=%s", r.impi, r.btid);
    } else if (r.why == KMS_ERR_RATE) {
        kms_log(KMS_LOG_WARN, "ub %d impi=%s: challenge rate exceeded", r.status, r.impi);
    } else {
        kms_log(KMS_LOG_INFO, "ub %d impi=%s %s (%s)", r.status, r.impi,
                kms_buf_len(&r.www_authenticate) > 0 ? "challenge" : "refused",
                kms_err_name(r.why));
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
                                  (uint64_t)time(NULL), &r)) ||
        !kms_ok(kms_bsf_zn_http(&r, resp))) {
        r.why = KMS_ERR_INTERNAL;
        (void)snprintf(r.detail, sizeof(r.detail), "%s", "reply not assembled");
        kms_http_resp_text(resp, KMS_IFACE_ZN, KMS_ERR_INTERNAL, NULL);
    }
    if (r.why == KMS_OK) {
        kms_log(KMS_LOG_INFO, "zn naf=%s impi=%s: ks_naf delivered", r.naf_fqdn, r.impi);
    } else if (r.why == KMS_ERR_AUTH) {
        kms_log(KMS_LOG_WARN, "zn from %s: %s", req->peer_addr, r.detail);
    } else if (r.naf_fqdn[0] == '\0' && r.why != KMS_ERR_INTERNAL) {
        kms_log(KMS_LOG_DEBUG, "zn from %s: %d %s", req->peer_addr, resp->status, r.detail);
    } else {
        kms_log(r.why == KMS_ERR_NOT_FOUND ? KMS_LOG_INFO : KMS_LOG_ERROR, "zn naf=%s: %s",
                r.naf_fqdn, r.detail);
    }
    kms_bsf_zn_reply_cleanup(&r);
}

/* ---- start and stop ---- */

static int fail(const char *what, kms_result r)
{
    kms_log(KMS_LOG_ERROR, "%s: %s", what, kms_strerror(r.err));
    return CLI_EXIT_INTERNAL;
}

static void harden(void)
{
    /* No core dumps: they would hold K, OPc, Ks. */
    struct rlimit no = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &no);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
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
        N_OPTS
    };
    static const struct cli_opt opts[N_OPTS] = {
        {"db", true, false},        {"kek-file", true, false},     {"listen", true, false},
        {"realm", true, false},     {"lifetime", true, false},     {"zn-listen", true, false},
        {"zn-cert", true, false},   {"zn-key", true, false},       {"zn-client-ca", true, false},
        {"log-level", true, false}, {"max-sessions", true, false},
    };
    struct cli_args a;
    int rc = cli_parse("imskms-bsfd", opts, N_OPTS, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(usage, stdout);
        }
        return rc;
    }
    rc = cli_require_first(
        &a, opts,
        9); /* db, kek-file, listen, realm, lifetime, zn-listen, zn-cert, zn-key, zn-client-ca */
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    enum kms_log_level lvl = KMS_LOG_INFO;
    if (a.val[O_LOG] != NULL && !kms_log_level_parse(a.val[O_LOG], &lvl)) {
        return cli_usage_error(&a, "--log-level: one of error, warn, info, debug");
    }
    char *end = NULL;
    errno = 0;
    unsigned long long lifetime = strtoull(a.val[O_LIFETIME], &end, 10);
    if (a.val[O_LIFETIME][0] < '0' || a.val[O_LIFETIME][0] > '9' || *end != '\0' || errno != 0 ||
        lifetime == 0 || lifetime > 315360000ull) {
        return cli_usage_error(&a, "--lifetime: expected seconds from 1 to 315360000");
    }
    unsigned long long max_sessions = 100000;
    if (a.val[O_MAXSESS] != NULL) {
        errno = 0;
        end = NULL;
        max_sessions = strtoull(a.val[O_MAXSESS], &end, 10);
        if (a.val[O_MAXSESS][0] < '0' || a.val[O_MAXSESS][0] > '9' || *end != '\0' || errno != 0 ||
            max_sessions == 0 || max_sessions > 100000000ull) {
            return cli_usage_error(&a, "--max-sessions: expected a number from 1 to 100000000");
        }
    }
    kms_log_init("imskms-bsfd", lvl);
    harden();

    struct bsfd d = {0};
    struct kms_httpd *ub = NULL, *zn = NULL;
    uint8_t kek[32];
    kms_result r = kms_mem_secure_init(1u << 20);
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_WARN, "secure heap unavailable (%s): keys stay on the ordinary heap",
                kms_strerror(r.err));
    }
    if (!kms_ok(r = kms_selftest())) {
        return fail("known-answer self-test", r);
    }
    if (!kms_ok(r = kms_kek_read(a.val[O_KEK], kek))) {
        kms_log(KMS_LOG_ERROR, "--kek-file %s: %s", a.val[O_KEK], kms_strerror(r.err));
        return kms_err_exit_status(r.err) == CLI_EXIT_USAGE ? CLI_EXIT_USAGE : CLI_EXIT_INTERNAL;
    }
    r = kms_subscriber_db_open(a.val[O_DB], kek, false, &d.db);
    kms_wipe(kek, sizeof(kek));
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_ERROR, "--db %s: %s", a.val[O_DB], kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    struct kms_bsf_cfg bc = {
        .realm = a.val[O_REALM], .lifetime = lifetime, .max_sessions = (size_t)max_sessions};
    struct kms_bsf_store bs = {&d, store_get, store_commit};
    if (!kms_ok(r = kms_bsf_new(&bc, &bs, &d.bsf))) {
        rc = r.err == KMS_ERR_ARG || kms_err_group(r.err) == KMS_ERR_G_USAGE
                 ? (kms_log(KMS_LOG_ERROR, "--realm %s: not an FQDN", a.val[O_REALM]),
                    CLI_EXIT_USAGE)
                 : fail("bsf", r);
        goto out;
    }
    /* Signals are taken synchronously by this thread only; server threads inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct kms_httpd_cfg ucfg = {
        .listen = a.val[O_LISTEN], .max_body = 4096, .threads = 4, .iface = KMS_IFACE_UB};
    if (!kms_ok(r = kms_httpd_start(&ucfg, ub_handler, &d, &ub))) {
        rc = fail("--listen", r);
        goto out;
    }
    struct kms_httpd_cfg zcfg = {.listen = a.val[O_ZN],
                                 .max_body = 16384,
                                 .threads = 2,
                                 .cert_file = a.val[O_CERT],
                                 .key_file = a.val[O_KEY],
                                 .client_ca_file = a.val[O_CA],
                                 .client_cert_optional = true,
                                 .iface = KMS_IFACE_ZN};
    if (!kms_ok(r = kms_httpd_start(&zcfg, zn_handler, &d, &zn))) {
        rc = fail("--zn-listen", r);
        goto out;
    }
    kms_log(KMS_LOG_INFO, "ub listening on port %u", kms_httpd_port(ub));
    kms_log(KMS_LOG_INFO, "zn listening on port %u", kms_httpd_port(zn));
    for (;;) {
        struct timespec tick = {5, 0};
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            kms_log(KMS_LOG_INFO, "signal %d: stopping", sig);
            break;
        }
        kms_bsf_expire(d.bsf, (uint64_t)time(NULL));
    }
    rc = CLI_EXIT_OK;
out:
    kms_httpd_stop(ub);
    kms_httpd_stop(zn);
    kms_bsf_free(d.bsf);
    kms_subscriber_db_close(d.db);
    return rc;
}
