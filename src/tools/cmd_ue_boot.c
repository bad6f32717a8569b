/* SPDX-License-Identifier: Apache-2.0 */
/* imskms ue bootstrap: a GBA bootstrap against a BSF with a simulated USIM (lib/ue). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmds.h"
#include "ue/kms_ue_boot.h"
#include "http/kms_httpc.h"
#include "http/kms_url.h"
#include "util/kms_ident.h"

static const char boot_help[] =
    "usage: imskms ue bootstrap --bsf URL --usim FILE --state DIR [--trace DIR] [--ca-file FILE]\n"
    "                           [--timeout S] [--realm FQDN]\n"
    "\n"
    "Bootstraps with the BSF over Ub (TS 24.109, HTTP Digest AKAv1-MD5): asks for a challenge,\n"
    "verifies AUTN with the USIM (MAC-A, then SQN freshness; an accepted SQN is saved to the\n"
    "USIM file at once), answers with RES, or with AUTS when the SQN is not fresh and the BSF\n"
    "then challenges again, and verifies the BSF's rspauth over the BootstrappingInfo it sends.\n"
    "Prints btid=, lifetime= and resyncs=; keeps the IMPI, B-TID, RAND and Ks = CK || IK in\n"
    "DIR/bootstrap (mode 0600) for later commands.\n"
    "\n"
    "  --bsf URL      the BSF's Ub address, e.g. http://bsf.example.org:8080/ (its host name is\n"
    "                 the Digest realm the UE expects, unless --realm is given)\n"
    "  --usim FILE    the USIM file ('imskms ue usim-init')\n"
    "  --state DIR    where the bootstrap result is kept (created, mode 0700, when missing)\n"
    "  --trace DIR    also write every request and response there (headers and bodies; they\n"
    "                 hold no keys)\n"
    "  --ca-file FILE PEM CA for an https:// BSF\n"
    "  --timeout S    give up on the BSF's answer after S seconds, 1..3600 (default 10)\n"
    "  --realm FQDN   the BSF's realm (its --realm) when the URL names it otherwise, e.g. by\n"
    "                 address; a challenge for any other realm is refused\n"
    "\n"
    "Exit status: 0 bootstrapped; 1 authentication failed (the network's AUTN, the BSF's\n"
    "refusal or its rspauth); 2 bad usage or a malformed answer; 3 transport or internal error,\n"
    "or the BSF cannot serve now (503: the line says why and when to retry).\n";

int ue_bootstrap(const char *prefix, int argc, char **argv);

int ue_bootstrap(const char *prefix, int argc, char **argv)
{
    enum { B_BSF, B_USIM, B_STATE, B_TRACE, B_CA, B_TIMEOUT, B_REALM, B_N };
    static const struct cli_opt opts[B_N] = {
        CLI_REQUIRED("bsf"),  CLI_REQUIRED("usim"), CLI_REQUIRED("state"), CLI_VALUE("trace"),
        CLI_VALUE("ca-file"), CLI_VALUE("timeout"), CLI_VALUE("realm"),
    };
    struct cli_args a;
    int rc = cli_parse(prefix, opts, B_N, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(boot_help, stdout);
        }
        return rc;
    }
    rc = cli_require(&a, opts, B_N);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (strncmp(a.val[B_BSF], "http://", 7) != 0 && strncmp(a.val[B_BSF], "https://", 8) != 0) {
        return cli_usage_error(&a, "--bsf: an http:// or https:// URL");
    }
    if ((rc = ue_dir(&a, "--state", a.val[B_STATE])) != CLI_EXIT_OK ||
        (rc = ue_dir(&a, "--trace", a.val[B_TRACE])) != CLI_EXIT_OK) {
        return rc;
    }
    const char *realm = a.val[B_REALM];
    if (realm != NULL && !kms_ok(kms_ident_check_fqdn(realm, strlen(realm)))) {
        return cli_usage_error(&a, "--realm: an FQDN, the BSF's --realm");
    }
    char seen[KMS_UE_REALM_MAX] = "";
    struct kms_httpc_busy busy = {0};
    struct kms_ue_boot_cfg cfg = {
        .bsf_url = a.val[B_BSF],
        .usim_path = a.val[B_USIM],
        .state_dir = a.val[B_STATE],
        .trace_dir = a.val[B_TRACE],
        .http = {.ca_file = a.val[B_CA], .busy = &busy},
        .realm = realm,
        .realm_seen = seen,
    };
    if (!ue_timeout(a.val[B_TIMEOUT], &cfg.http)) {
        return cli_usage_error(&a, "--timeout: seconds from 1 to 3600");
    }
    struct kms_ue_boot_result res;
    kms_result r = kms_ue_bootstrap(&cfg, &res);
    if (!kms_ok(r) && seen[0] != '\0') {
        char host[256] = "";
        if (realm == NULL && !kms_ok(kms_http_url_host(a.val[B_BSF], host, sizeof(host)))) {
            host[0] = '\0';
        }
        if (realm != NULL) {
            fprintf(stderr, "%s: bootstrap: %s: the BSF's realm %s is not --realm %s\n", a.cmd,
                    kms_strerror(r.err), seen, realm);
        } else {
            fprintf(stderr,
                    "%s: bootstrap: %s: the BSF's realm %s is not the host %s of --bsf (if %s is "
                    "its name, give --realm %s)\n",
                    a.cmd, kms_strerror(r.err), seen, host, seen, seen);
        }
        return kms_err_exit_status(r.err);
    }
    if (!kms_ok(r)) {
        return ue_fail(&a, &busy, "bootstrap", r.err);
    }
    printf("btid=%s\nlifetime=%llu\nresyncs=%u\n", res.btid, (unsigned long long)res.lifetime,
           res.resyncs);
    return CLI_EXIT_OK;
}

int ue_dir(const struct cli_args *a, const char *opt, const char *path)
{
    if (path == NULL) {
        return CLI_EXIT_OK;
    }
    const char *why = NULL;
    struct stat st;
    if (mkdir(path, 0700) == 0) {
        return CLI_EXIT_OK;
    }
    if (errno != EEXIST) {
        why = strerror(errno);
    } else if (stat(path, &st) != 0) {
        why = strerror(errno);
    } else if (!S_ISDIR(st.st_mode)) {
        why = "not a directory";
    } else if (access(path, W_OK | X_OK) != 0) {
        why = strerror(errno);
    }
    if (why == NULL) {
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "%s: %s %s: %s\n", a->cmd, opt, path, why);
    return CLI_EXIT_USAGE;
}

bool ue_timeout(const char *val, struct kms_httpc_cfg *http)
{
    uint64_t s = 10;
    if (!cli_uint(val, 1, 3600, &s)) {
        return false;
    }
    http->timeout_ms = (unsigned)(s * 1000u);
    return true;
}

int ue_fail(const struct cli_args *a, const struct kms_httpc_busy *busy, const char *what,
            enum kms_err err)
{
    const char *says = kms_httpc_busy_text(busy);
    if (says == NULL || busy->err != err) {
        return cli_fail(a, what, err);
    }
    if (busy->retry_after > 0) {
        fprintf(stderr, "%s: %s %s (%s); retry in %u s\n", a->cmd,
                busy->who != NULL ? busy->who : "the server", says, busy->reason,
                busy->retry_after);
    } else {
        fprintf(stderr, "%s: %s %s (%s); retry later\n", a->cmd,
                busy->who != NULL ? busy->who : "the server", says, busy->reason);
    }
    return kms_err_exit_status(err);
}
