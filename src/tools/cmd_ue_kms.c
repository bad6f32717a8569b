/* SPDX-License-Identifier: Apache-2.0 */
/* imskms ue kue: Kue issue from the KMS (lib/ue/kms_ue_kms). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "http/kms_url.h"
#include "kms_start_err.h"
#include "ue/kms_ue_kms.h"
#include "util/kms_time.h"

#define KMS_CA_HELP                                                                                \
    "  --kms-ca-file FILE PEM CA(s) that issued an https:// KMS's certificate (default: the\n"     \
    "                   system's CAs); the certificate must name the URL's host\n"

static const char kue_help[] =
    "usage: imskms ue kue --kms URL --mode 2|3 --state DIR [--kms-fqdn FQDN] [--identity ID]\n"
    "                     [--trace DIR] [--timeout S] [--kms-ca-file FILE]\n"
    "\n"
    "Asks the KMS for Kue with the bootstrap kept in DIR ('imskms ue bootstrap'): a\n"
    "REQUEST_INIT_PSK keyed by Ks_NAF (derived here from Ks for NAF_Id = KMS FQDN || 01 00 00\n"
    "00 06) asking for a sealed Kue (mode 3) or a Kue reference (mode 2). Prints mode= and\n"
    "kue_expiry= (UTC); keeps Kue and the token in DIR/kue (mode 0600), never prints them.\n"
    "\n"
    "  --kms URL        the KMS, e.g. http://kms.example.org:8090 or https://... (POST /mikey)\n"
    "  --mode 2|3       3: a sealed Kue (the KMS keeps nothing); 2: a reference to a Kue the\n"
    "                   KMS stores\n"
    "  --state DIR      the bootstrap state; receives `kue`\n"
    "  --kms-fqdn FQDN  the KMS's FQDN, when it differs from the URL's host\n"
    "  --identity ID    IDRi: the IMPI (default) or one of the subscriber's IMPUs\n"
    "  --trace DIR      write each MIKEY message as NNN-sent.mikey / "
    "NNN-recv.mikey\n" UE_TIMEOUT_HELP KMS_CA_HELP "\n"
    "Exit status: 0 issued; 1 the KMS refused (authentication, or the mode: the reason says\n"
    "which); 2 bad usage or a malformed answer; 3 transport or internal error, or the KMS cannot\n"
    "serve now (503: the line says why, e.g. it could not reach the BSF, and when to retry).\n";

/* --kms: an http:// or https:// URL; --kms-ca-file, when given, a readable CA file (checked
 * before any traffic: bad usage, with the system's reason). */
int ue_check_kms_url(const struct cli_args *a, const char *url, const char *ca)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        return cli_usage_error(a, "--kms: an http:// or https:// URL");
    }
    if (ca == NULL) {
        return CLI_EXIT_OK;
    }
    if (strncmp(url, "https://", 8) != 0) {
        return cli_usage_error(a, "--kms-ca-file: only for an https:// --kms");
    }
    struct kms_httpc_cfg c = {.ca_file = ca};
    const char *which = NULL;
    kms_result r = kms_httpc_check_files(&c, &which);
    if (kms_ok(r)) {
        return CLI_EXIT_OK;
    }
    const char *why = kms_start_file_why(ca);
    fprintf(stderr, "%s: --kms-ca-file %s: %s%s%s\n", a->cmd, ca,
            r.err == KMS_ERR_MALFORMED ? "holds no PEM certificate" : "cannot be read",
            why != NULL ? ": " : "", why != NULL ? why : "");
    return CLI_EXIT_USAGE;
}

/* A failed exchange: the KMS's certificate not trusted says which option to fix; the mode
 * refused is an AUTH-status refusal with its own words; the rest as ue_fail. */
int ue_kms_fail(const struct cli_args *a, const struct kms_ue_kms_cfg *cfg, const char *what,
                kms_result r)
{
    if (r.err == KMS_ERR_ARG && cfg->mode >= 2) { /* the only KMS_ERR_ARG of modes 2 and 3 */
        return cli_usage_error(a, "--mode: the Kue in --state is of another mode");
    }
    const struct kms_httpc_busy *b = cfg->http.busy;
    if (r.err == KMS_ERR_TLS_PEER && b != NULL && b->who != NULL &&
        strcmp(b->who, "the KMS") == 0) {
        char host[256];
        if (!kms_ok(kms_http_url_host(cfg->kms_url, host, sizeof(host)))) {
            host[0] = '\0';
        }
        fprintf(stderr,
                "%s: the KMS's TLS certificate is not trusted by %s%s or is not issued for %s\n",
                a->cmd,
                cfg->kms_ca_file != NULL ? "--kms-ca-file "
                                         : "the system's CAs (give --kms-ca-file)",
                cfg->kms_ca_file != NULL ? cfg->kms_ca_file : "", host);
        return kms_err_exit_status(r.err);
    }
    const struct kms_ue_kms_names *nm = cfg->names;
    if (r.err == KMS_ERR_AUTH && nm != NULL && nm->kms_said[0] != '\0' && nm->we_used[0] != '\0' &&
        strcmp(nm->kms_said, nm->we_used) != 0) {
        /* The name in its Error is the same whatever failed: it says nothing about the check. */
        fprintf(stderr, "%s: the KMS calls itself %s; you used %s (%s)\n", a->cmd, nm->kms_said,
                nm->we_used,
                cfg->mode == 1 || cfg->kms_fqdn != NULL || strcmp(what, "kue") == 0
                    ? "give it as --kms-fqdn"
                    : "get a new Kue with 'imskms ue kue --kms-fqdn' and that name");
        return kms_err_exit_status(r.err);
    }
    return ue_fail(a, b, r.err == KMS_ERR_UNSUPPORTED ? "the KMS refused the mode" : what,
                   r.err == KMS_ERR_UNSUPPORTED ? KMS_ERR_AUTH : r.err);
}

int ue_kue(const char *prefix, int argc, char **argv);

int ue_kue(const char *prefix, int argc, char **argv)
{
    enum { K_KMS, K_MODE, K_STATE, K_FQDN, K_ID, K_TRACE, K_TIMEOUT, K_KCA, K_N };
    static const struct cli_opt opts[K_N] = {
        CLI_REQUIRED("kms"),   CLI_REQUIRED("mode"),     CLI_REQUIRED("state"),
        CLI_VALUE("kms-fqdn"), CLI_VALUE("identity"),    CLI_VALUE("trace"),
        CLI_VALUE("timeout"),  CLI_VALUE("kms-ca-file"),
    };
    struct cli_args a;
    int rc = cli_parse(prefix, opts, K_N, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(kue_help, stdout);
        }
        return rc;
    }
    rc = cli_require(&a, opts, K_N);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (strcmp(a.val[K_MODE], "2") != 0 && strcmp(a.val[K_MODE], "3") != 0) {
        return cli_usage_error(&a, "--mode: 2 or 3");
    }
    if ((rc = ue_check_kms_url(&a, a.val[K_KMS], a.val[K_KCA])) != CLI_EXIT_OK ||
        (rc = ue_dir(&a, "--state", a.val[K_STATE])) != CLI_EXIT_OK ||
        (rc = ue_dir(&a, "--trace", a.val[K_TRACE])) != CLI_EXIT_OK) {
        return rc;
    }
    struct kms_httpc_busy busy = {0};
    struct kms_ue_kms_names names = {{0}, {0}};
    struct kms_ue_kms_cfg cfg = {.kms_url = a.val[K_KMS],
                                 .kms_fqdn = a.val[K_FQDN],
                                 .state_dir = a.val[K_STATE],
                                 .identity = a.val[K_ID],
                                 .trace_dir = a.val[K_TRACE],
                                 .http = {.busy = &busy},
                                 .kms_ca_file = a.val[K_KCA],
                                 .names = &names};
    if (!ue_timeout(a.val[K_TIMEOUT], &cfg.http)) {
        return cli_usage_error(&a, "--timeout: seconds from 1 to 3600");
    }
    struct kms_ue_kue_result res;
    kms_result r = kms_ue_kue(&cfg, (uint8_t)(a.val[K_MODE][0] - '0'), &res);
    if (!kms_ok(r)) {
        return ue_kms_fail(&a, &cfg, "kue", r);
    }
    char t[KMS_TIME_STR_LEN];
    if (!kms_ok(kms_time_format(res.valid_to, t))) {
        return CLI_EXIT_INTERNAL;
    }
    printf("mode=%u\nkue_expiry=%s\n", res.mode, t);
    return CLI_EXIT_OK;
}

#define MODE1_OPTS_HELP                                                                            \
    "  --mode 1|2|3     2 or 3: key the exchange with the Kue in DIR ('imskms ue kue'), which\n"   \
    "                   must be of that mode (default: whichever it is); 1: bootstrap afresh\n"    \
    "                   with the BSF first (the new bootstrap replaces the one in DIR) and\n"      \
    "                   key it with Kue1 = PRF(Ks_NAF, \"imskms Kue1 v1\" || RAND); the KMS\n"     \
    "                   keeps nothing\n"                                                           \
    "  --bsf URL        mode 1: the BSF's Ub address\n"                                            \
    "  --usim FILE      mode 1: the USIM file\n"                                                   \
    "  --ca-file FILE   mode 1: PEM CA for an https:// BSF (not the KMS's: --kms-ca-file)\n"       \
    "  --kms-fqdn FQDN  mode 1: the KMS's FQDN, when it differs from the URL's "                   \
    "host\n" UE_TIMEOUT_HELP
#define EXIT_HELP                                                                                  \
    "Exit status: 0 done; 1 the KMS refused (or, for resolve, the transfer does not verify\n"      \
    "with the MPK it returned; in mode 1, the bootstrap failed authentication); 2 bad usage or\n"  \
    "a malformed answer; 3 transport or internal error, or a server cannot serve now (503: the\n"  \
    "line says why and when to retry).\n"

static const char request_help[] =
    "usage: imskms ue request --kms URL --peer IMPU --state DIR --out FILE [--trace DIR]\n"
    "                         [--timeout S] [--kms-ca-file FILE]\n"
    "                         [--mode 1 --bsf URL --usim FILE [--ca-file FILE]\n"
    "                          [--kms-fqdn FQDN] [--identity ID]]\n"
    "\n"
    "Ticket request: asks the KMS for media keys for a call to --peer and writes the\n"
    "TRANSFER_INIT for the peer to --out (raw MIKEY: the KMS's media ticket, protected by the\n"
    "MPK). Prints tgk_fingerprint=, the first 8 octets of SHA-256(TGK) in hex, never the key.\n"
    "\n"
    "  --kms URL        the KMS (POST /mikey)\n"
    "  --peer IMPU      the responder, as its own bootstrap or Kue token names it\n"
    "  --state DIR      the UE's state (bootstrap and kue)\n"
    "  --out FILE       where the TRANSFER_INIT goes\n"
    "  --trace DIR      write each MIKEY message as NNN-sent.mikey / NNN-recv.mikey\n" KMS_CA_HELP
    "  --identity ID    mode 1: IDRi, the IMPI (default) or one of the subscriber's "
    "IMPUs\n" MODE1_OPTS_HELP "\n" EXIT_HELP;

static const char resolve_help[] =
    "usage: imskms ue resolve --kms URL --ticket FILE --state DIR [--trace DIR] [--timeout S]\n"
    "                         [--kms-ca-file FILE]\n"
    "                         [--mode 1 --bsf URL --usim FILE [--ca-file FILE]\n"
    "                          [--kms-fqdn FQDN]]\n"
    "\n"
    "Ticket resolve: reads the TRANSFER_INIT in --ticket (from 'imskms ue request' of the\n"
    "caller), asks the KMS to resolve its media ticket, then checks the transfer's MAC with the\n"
    "MPK the KMS returned and its IDRi against the ticket's initiator the KMS names. Prints\n"
    "tgk_fingerprint= (the caller's must be the same).\n"
    "\n"
    "  --kms URL        the KMS (POST /mikey)\n"
    "  --ticket FILE    the TRANSFER_INIT received from the caller\n"
    "  --state DIR      this UE's state (bootstrap and kue)\n"
    "  --trace DIR      write each MIKEY message as NNN-sent.mikey / "
    "NNN-recv.mikey\n" KMS_CA_HELP MODE1_OPTS_HELP "\n"
    "This UE resolves as the responder the transfer names; the KMS refuses it unless that\n"
    "identity is one of this UE's (its Kue token's, or in mode 1 its bootstrap's) and is the\n"
    "one the media ticket names. A ticket stays resolvable until its expiry, even after the\n"
    "caller's Kue expired and Kkms rotated, while the key that sealed it is in its grace period.\n"
    "\n" EXIT_HELP;

static int print_fp(const uint8_t fp[KMS_UE_TGK_FP_LEN])
{
    printf("tgk_fingerprint=");
    for (size_t i = 0; i < KMS_UE_TGK_FP_LEN; i++) {
        printf("%02x", fp[i]);
    }
    printf("\n");
    return CLI_EXIT_OK;
}

/* Options of request and resolve: resolve takes the first X_ID (no --identity, no --peer). */
enum {
    X_KMS,
    X_FILE,
    X_STATE,
    X_TRACE,
    X_TIMEOUT,
    X_KCA,
    X_MODE,
    X_BSF,
    X_USIM,
    X_CA,
    X_FQDN,
    X_ID,
    X_PEER,
    X_N
};

/* Parses request (file_opt "out") or resolve ("ticket") into cfg; *done when the command ends
 * here (help or a usage error, with rc its exit status). */
static int parse_exchange(const char *prefix, int argc, char **argv, bool request, const char *help,
                          struct cli_args *a, struct kms_ue_kms_cfg *cfg,
                          struct kms_httpc_busy *busy, bool *done)
{
    const char *file_opt = request ? "out" : "ticket";
    const struct cli_opt opts[X_N] = {
        CLI_REQUIRED("kms"),  CLI_REQUIRED(file_opt), CLI_REQUIRED("state"),
        CLI_VALUE("trace"),   CLI_VALUE("timeout"),   CLI_VALUE("kms-ca-file"),
        CLI_VALUE("mode"),    CLI_VALUE("bsf"),       CLI_VALUE("usim"),
        CLI_VALUE("ca-file"), CLI_VALUE("kms-fqdn"),  CLI_VALUE("identity"),
        CLI_REQUIRED("peer"), /* request only */
    };
    size_t n_opts = request ? X_N : X_ID;
    *done = true;
    int rc = cli_parse(prefix, opts, n_opts, 0, argc, argv, a);
    if (rc != 0 || a->help) {
        if (rc == 0) {
            fputs(help, stdout);
        }
        return rc;
    }
    rc = cli_require(a, opts, n_opts);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if ((rc = ue_check_kms_url(a, a->val[X_KMS], a->val[X_KCA])) != CLI_EXIT_OK ||
        (rc = ue_dir(a, "--state", a->val[X_STATE])) != CLI_EXIT_OK ||
        (rc = ue_dir(a, "--trace", a->val[X_TRACE])) != CLI_EXIT_OK) {
        return rc;
    }
    const char *m = a->val[X_MODE];
    if (m != NULL && strcmp(m, "1") != 0 && strcmp(m, "2") != 0 && strcmp(m, "3") != 0) {
        return cli_usage_error(a, "--mode: 1, 2 or 3");
    }
    bool mode1 = m != NULL && strcmp(m, "1") == 0;
    if (mode1 && (a->val[X_BSF] == NULL || a->val[X_USIM] == NULL)) {
        return cli_usage_error(a, "--mode 1 bootstraps afresh: give --bsf and --usim");
    }
    if (!mode1 && (a->seen[X_BSF] || a->seen[X_USIM] || a->seen[X_CA] || a->seen[X_FQDN] ||
                   (request && a->seen[X_ID]))) {
        return cli_usage_error(a, "--bsf, --usim, --ca-file, --kms-fqdn and --identity are for "
                                  "--mode 1 (modes 2 and 3 use the Kue in --state)");
    }
    if (mode1 && strncmp(a->val[X_BSF], "http://", 7) != 0 &&
        strncmp(a->val[X_BSF], "https://", 8) != 0) {
        return cli_usage_error(a, "--bsf: an http:// or https:// URL");
    }
    *cfg = (struct kms_ue_kms_cfg){.kms_url = a->val[X_KMS],
                                   .kms_fqdn = a->val[X_FQDN],
                                   .state_dir = a->val[X_STATE],
                                   .identity = request ? a->val[X_ID] : NULL,
                                   .trace_dir = a->val[X_TRACE],
                                   .http = {.ca_file = a->val[X_CA], .busy = busy},
                                   .kms_ca_file = a->val[X_KCA],
                                   .mode = m != NULL ? (uint8_t)(m[0] - '0') : 0,
                                   .bsf_url = a->val[X_BSF],
                                   .usim_path = a->val[X_USIM]};
    if (!ue_timeout(a->val[X_TIMEOUT], &cfg->http)) {
        return cli_usage_error(a, "--timeout: seconds from 1 to 3600");
    }
    *done = false;
    return CLI_EXIT_OK;
}

int ue_request(const char *prefix, int argc, char **argv);

int ue_request(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct kms_ue_kms_cfg cfg;
    bool done = false;
    struct kms_httpc_busy busy = {0};
    int rc = parse_exchange(prefix, argc, argv, true, request_help, &a, &cfg, &busy, &done);
    if (done) {
        return rc;
    }
    struct kms_ue_kms_names names = {{0}, {0}};
    cfg.names = &names;
    uint8_t fp[KMS_UE_TGK_FP_LEN];
    kms_result r = kms_ue_request(&cfg, a.val[X_PEER], a.val[X_FILE], fp);
    return kms_ok(r) ? print_fp(fp) : ue_kms_fail(&a, &cfg, "request", r);
}

int ue_resolve(const char *prefix, int argc, char **argv);

int ue_resolve(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct kms_ue_kms_cfg cfg;
    bool done = false;
    struct kms_httpc_busy busy = {0};
    int rc = parse_exchange(prefix, argc, argv, false, resolve_help, &a, &cfg, &busy, &done);
    if (done) {
        return rc;
    }
    struct kms_ue_kms_names names = {{0}, {0}};
    cfg.names = &names;
    uint8_t fp[KMS_UE_TGK_FP_LEN];
    bool transfer_bad = false;
    kms_result r = kms_ue_resolve(&cfg, a.val[X_FILE], fp, &transfer_bad);
    if (!kms_ok(r) && transfer_bad) {
        /* The KMS resolved the ticket, or was never asked: the transfer is what failed. */
        return cli_fail(&a, "the transfer (TRANSFER_INIT in --ticket)", r.err);
    }
    return kms_ok(r) ? print_fp(fp) : ue_kms_fail(&a, &cfg, "resolve", r);
}
