/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms-kmsd: the KMS. POST /mikey carries one MIKEY message each way (application/mikey);
 * the request handler is lib/kms/kms_service (bytes in, reply out). Ks_NAF comes from the BSF
 * over Zn (lib/gba/kms_zn_client, cached for its lifetime); Kkms from the keyring, which the
 * daemon keeps current (kms_keyring refreshes on use; housekeeping every few seconds) so that
 * `imskms keys rotate|revoke` on the same file takes effect within a second.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "gba/kms_zn_client.h"
#include "http/kms_httpc.h"
#include "http/kms_httpd.h"
#include "imskms/imskms.h"
#include "keyring/kms_keyring.h"
#include "keyring/kms_keystore.h"
#include "kms/kms_service.h"
#include "replay/kms_replay.h"
#include "store/kms_store.h"
#include "util/kms_log.h"
#include "util/kms_mem.h"

static const char usage[] =
    "usage: imskms-kmsd --listen ADDR:PORT --fqdn FQDN --bsf-zn https://HOST:PORT\n"
    "                   --zn-cert FILE --zn-key FILE --zn-ca FILE\n"
    "                   --keyring PATH (--kek-file FILE | --hsm URI [--kek-file FILE])\n"
    "                   --state-db PATH [--modes 1,2,3] [--kue-lifetime SECONDS]\n"
    "                   [--ticket-lifetime SECONDS] [--skew SECONDS]\n"
    "                   [--log-level error|warn|info|debug] [--threads N]\n"
    "                   [--replay-entries N]\n"
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
    "\n"
    "Logs one line per request to stderr, never a key; prints 'kms listening on port N' once\n"
    "serving. SIGTERM or SIGINT stops it (exit 0). Exit 2 on bad usage (also a KEK file or Zn\n"
    "TLS file that cannot be read, holds no PEM object, or a key that is not the certificate's),\n"
    "3 when it cannot start.\n";

struct kmsd {
    struct kms_service *svc;
    struct kms_zn_client *zn;
};

static kms_result zn_get(void *ctx, const char *btid, uint64_t now, struct kms_zn_resp *out)
{
    return kms_zn_client_get(ctx, btid, now, out);
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
    kms_result rc = kms_service_handle(d->svc, req->body, req->body_len, (uint64_t)time(NULL), &r);
    if (!kms_ok(rc)) {
        kms_log(KMS_LOG_ERROR, "mikey from %s: %s", req->peer_addr, kms_err_name(rc.err));
        kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_INTERNAL, NULL);
    } else {
        resp->status = r.status;
        resp->content_type = "application/mikey";
        resp->body.secret = true; /* a response carries keys (encrypted, but still) */
        if (!kms_ok(kms_buf_put_bytes(&resp->body, kms_buf_data(&r.body), kms_buf_len(&r.body)))) {
            kms_http_resp_text(resp, KMS_IFACE_KMS, KMS_ERR_INTERNAL, NULL);
        }
        kms_log(r.status == 200 ? KMS_LOG_INFO : KMS_LOG_WARN, "mikey %d %s (%s)", r.status,
                r.detail, r.status == 200 ? "ok" : kms_err_name(r.why));
    }
    kms_service_reply_cleanup(&r);
}

static int fail(const char *what, kms_result r)
{
    kms_log(KMS_LOG_ERROR, "%s: %s", what, kms_strerror(r.err));
    return CLI_EXIT_INTERNAL;
}

static bool parse_secs(const char *s, uint64_t *out)
{
    if (s == NULL) {
        return true;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v == 0 || v > 315360000ull) {
        return false;
    }
    *out = v;
    return true;
}

/* A decimal count in [lo, hi] into *out; NULL leaves *out (the default) and is fine. */
static bool parse_count(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (v == NULL) {
        return true;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || errno != 0 || *end != '\0' || n < lo || n > hi) {
        return false;
    }
    *out = n;
    return true;
}

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

int main(int argc, char **argv)
{
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
        N_OPTS
    };
    static const struct cli_opt opts[N_OPTS] = {
        {"listen", true, false},
        {"fqdn", true, false},
        {"bsf-zn", true, false},
        {"zn-cert", true, false},
        {"zn-key", true, false},
        {"zn-ca", true, false},
        {"keyring", true, false},
        {"kek-file", true, false},
        {"hsm", true, false},
        {"state-db", true, false},
        {"modes", true, false},
        {"kue-lifetime", true, false},
        {"ticket-lifetime", true, false},
        {"skew", true, false},
        {"log-level", true, false},
        {"threads", true, false},
        {"replay-entries", true, false},
    };
    struct cli_args a;
    int rc = cli_parse("imskms-kmsd", opts, N_OPTS, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(usage, stdout);
        }
        return rc;
    }
    rc = cli_require_first(&a, opts, 7); /* listen, fqdn, bsf-zn, zn-cert, zn-key, zn-ca, keyring */
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (a.val[O_STATE] == NULL) {
        return cli_missing(&a, "state-db");
    }
    if (a.val[O_KEK] == NULL && a.val[O_HSM] == NULL) {
        return cli_usage_error(&a, "give --kek-file FILE or --hsm URI");
    }
    struct kms_service_cfg sc = {.fqdn = a.val[O_FQDN],
                                 .mode1 = true,
                                 .mode2 = true,
                                 .mode3 = true,
                                 .kue_lifetime = 86400,
                                 .ticket_lifetime = 3600};
    uint64_t skew = 60;
    if (a.val[O_MODES] != NULL) {
        if (!parse_modes(a.val[O_MODES], &sc)) {
            return cli_usage_error(&a, "--modes: a comma-separated list of 1, 2 and 3, e.g. 2,3");
        }
    }
    if (!parse_secs(a.val[O_KUE], &sc.kue_lifetime) ||
        !parse_secs(a.val[O_TICKET], &sc.ticket_lifetime) || !parse_secs(a.val[O_SKEW], &skew)) {
        return cli_usage_error(&a, "lifetimes and --skew: seconds from 1 to 315360000");
    }
    if (sc.mode2 && a.val[O_KEK] == NULL) {
        return cli_usage_error(&a, "mode 2 keeps Kue records sealed under --kek-file: give it");
    }
    enum kms_log_level lvl = KMS_LOG_INFO;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t threads = ncpu >= 1 && ncpu <= 64 ? (uint64_t)ncpu : 2, replay_entries = 1000000;
    if (!parse_count(a.val[O_THREADS], 1, 64, &threads)) {
        return cli_usage_error(&a, "--threads: a number from 1 to 64");
    }
    if (!parse_count(a.val[O_REPLAY], 1000, 100000000, &replay_entries)) {
        return cli_usage_error(&a, "--replay-entries: a number from 1000 to 100000000");
    }
    if (a.val[O_LOG] != NULL && !kms_log_level_parse(a.val[O_LOG], &lvl)) {
        return cli_usage_error(&a, "--log-level: one of error, warn, info, debug");
    }
    kms_log_init("imskms-kmsd", lvl);
    struct rlimit no = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &no);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    struct kmsd d = {0};
    struct kms_keystore *ks = NULL;
    struct kms_keyring *kr = NULL;
    struct kms_store *st = NULL;
    struct kms_replay *rg = NULL;
    struct kms_httpd *httpd = NULL;
    uint8_t kek[32];
    memset(kek, 0, sizeof(kek));
    kms_result r = kms_mem_secure_init(1u << 20);
    if (!kms_ok(r)) {
        kms_log(KMS_LOG_WARN, "secure heap unavailable: keys stay on the ordinary heap");
    }
    if (!kms_ok(r = kms_selftest())) {
        return fail("known-answer self-test", r);
    }
    if (a.val[O_KEK] != NULL && !kms_ok(r = kms_kek_read(a.val[O_KEK], kek))) {
        kms_log(KMS_LOG_ERROR, "--kek-file %s: %s", a.val[O_KEK], kms_strerror(r.err));
        return CLI_EXIT_USAGE;
    }
    r = a.val[O_HSM] != NULL ? kms_keystore_p11_open(a.val[O_HSM], &ks)
                             : kms_keystore_file_open_kek(kek, &ks);
    if (!kms_ok(r)) {
        rc = fail(a.val[O_HSM] != NULL ? "--hsm" : "--kek-file", r);
        goto out;
    }
    if (!kms_ok(r = kms_keyring_open(a.val[O_KEYRING], ks, &kr))) {
        rc = fail("--keyring", r);
        goto out;
    }
    struct kms_store_backend *be = NULL;
    if (!kms_ok(r = kms_store_backend_sqlite(a.val[O_STATE], &be)) ||
        !kms_ok(r = kms_store_new(be, kek, &st))) {
        rc = fail("--state-db", r);
        goto out;
    }
    struct kms_replay_cfg rcfg = {.skew = skew, .max_entries = (size_t)replay_entries};
    if (!kms_ok(r = kms_replay_new(&rcfg, (uint64_t)time(NULL), &rg))) {
        rc = fail("replay guard", r);
        goto out;
    }
    char zn_url[1024];
    int n = snprintf(zn_url, sizeof(zn_url), "%s/zn/v1/bootstrap-info", a.val[O_ZN]);
    if (n <= 0 || (size_t)n >= sizeof(zn_url) || strncmp(a.val[O_ZN], "https://", 8) != 0) {
        rc = cli_usage_error(&a, "--bsf-zn: an https:// URL");
        goto out;
    }
    {
        /* A Zn client that could never connect is a start-up failure, not a 503 per request. */
        struct kms_httpc_cfg tls = {
            .ca_file = a.val[O_ZCA], .cert_file = a.val[O_ZCERT], .key_file = a.val[O_ZKEY]};
        const char *which = NULL;
        r = kms_httpc_check_files(&tls, &which);
        if (!kms_ok(r)) {
            bool ca = which != NULL && strcmp(which, "ca") == 0;
            bool cert = which != NULL && strcmp(which, "cert") == 0;
            const char *opt = ca ? "--zn-ca" : cert ? "--zn-cert" : "--zn-key";
            kms_log(KMS_LOG_ERROR, "%s %s: %s", opt,
                    ca     ? a.val[O_ZCA]
                    : cert ? a.val[O_ZCERT]
                           : a.val[O_ZKEY],
                    r.err == KMS_ERR_IO          ? "cannot be read"
                    : r.err == KMS_ERR_MALFORMED ? "holds no PEM certificate or private key"
                    : r.err == KMS_ERR_ARG       ? "is not the private key of --zn-cert"
                                                 : kms_strerror(r.err));
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    }
    struct kms_zn_client_cfg zc = {.url = zn_url,
                                   .ca_file = a.val[O_ZCA],
                                   .cert_file = a.val[O_ZCERT],
                                   .key_file = a.val[O_ZKEY],
                                   .naf_fqdn = a.val[O_FQDN],
                                   .ua_id = {1, 0, 0, 0, 6}};
    if (!kms_ok(r = kms_zn_client_new(&zc, &d.zn))) {
        rc = r.err == KMS_ERR_NOT_ASCII || kms_err_group(r.err) == KMS_ERR_G_USAGE
                 ? cli_usage_error(&a, "--fqdn: not an FQDN")
                 : fail("zn client", r);
        goto out;
    }
    struct kms_service_deps deps = {kr, st, rg, {d.zn, zn_get}};
    if (!kms_ok(r = kms_service_new(&sc, &deps, &d.svc))) {
        rc = fail("service", r);
        goto out;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct kms_httpd_cfg hc = {.listen = a.val[O_LISTEN],
                               .max_body = KMS_SERVICE_MSG_MAX,
                               .threads = (unsigned)threads,
                               .iface = KMS_IFACE_KMS};
    if (!kms_ok(r = kms_httpd_start(&hc, handler, &d, &httpd))) {
        rc = fail("--listen", r);
        goto out;
    }
    kms_log(KMS_LOG_INFO, "kms listening on port %u (modes%s%s%s)", kms_httpd_port(httpd),
            sc.mode1 ? " 1" : "", sc.mode2 ? " 2" : "", sc.mode3 ? " 3" : "");
    for (unsigned tick = 0;; tick++) {
        struct timespec one = {1, 0};
        int sig = sigtimedwait(&sigs, NULL, &one);
        if (sig == SIGTERM || sig == SIGINT) {
            kms_log(KMS_LOG_INFO, "signal %d: stopping", sig);
            break;
        }
        uint64_t now = (uint64_t)time(NULL);
        /* A keyring changed by `imskms keys` is picked up here at the latest (and on use). */
        kms_result fr = kms_keyring_refresh(kr);
        if (!kms_ok(fr)) {
            kms_log(KMS_LOG_WARN, "keyring refresh: %s (serving with the last good view)",
                    kms_strerror(fr.err));
        }
        if (tick % 5 == 0) {
            size_t destroyed = 0;
            bool rotated = false;
            kms_result mr = kms_keyring_maintain(kr, now, &destroyed, &rotated);
            if (!kms_ok(mr)) {
                kms_log(KMS_LOG_WARN, "keyring housekeeping: %s", kms_strerror(mr.err));
            } else if (destroyed > 0 || rotated) {
                kms_log(KMS_LOG_INFO, "keyring: %zu key(s) destroyed%s", destroyed,
                        rotated ? ", rotated" : "");
            }
        }
        if (tick % 60 == 0) {
            uint64_t purged = 0;
            kms_result pr = kms_store_purge(st, now, &purged);
            if (!kms_ok(pr)) {
                kms_log(KMS_LOG_WARN, "state store purge: %s", kms_strerror(pr.err));
            }
        }
    }
    rc = CLI_EXIT_OK;
out:
    kms_httpd_stop(httpd);
    kms_service_free(d.svc);
    kms_zn_client_free(d.zn);
    kms_replay_free(rg);
    kms_store_close(st);
    kms_keyring_close(kr);
    kms_keystore_close(ks);
    kms_wipe(kek, sizeof(kek));
    return rc;
}
