/* SPDX-License-Identifier: Apache-2.0 */
/* imskms ue kue: Kue issue from the KMS (lib/ue/kms_ue_kms). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ue/kms_ue_kms.h"
#include "util/kms_time.h"

static const char kue_help[] =
    "usage: imskms ue kue --kms URL --mode 2|3 --state DIR [--kms-fqdn FQDN] [--identity ID]\n"
    "                     [--trace DIR]\n"
    "\n"
    "Asks the KMS for Kue with the bootstrap kept in DIR ('imskms ue bootstrap'): a\n"
    "REQUEST_INIT_PSK keyed by Ks_NAF (derived here from Ks for NAF_Id = KMS FQDN || 01 00 00\n"
    "00 06) asking for a sealed Kue (mode 3) or a Kue reference (mode 2). Prints mode= and\n"
    "kue_expiry= (UTC); keeps Kue and the token in DIR/kue (mode 0600), never prints them.\n"
    "\n"
    "  --kms URL        the KMS, e.g. http://kms.example.org:8090 (POST /mikey)\n"
    "  --mode 2|3       3: a sealed Kue (the KMS keeps nothing); 2: a reference to a Kue the\n"
    "                   KMS stores\n"
    "  --state DIR      the bootstrap state; receives `kue`\n"
    "  --kms-fqdn FQDN  the KMS's FQDN, when it differs from the URL's host\n"
    "  --identity ID    IDRi: the IMPI (default) or one of the subscriber's IMPUs\n"
    "  --trace DIR      write each MIKEY message as NNN-sent.mikey / NNN-recv.mikey\n"
    "\n"
    "Exit status: 0 issued; 1 the KMS refused (authentication, or the mode: the reason says\n"
    "which); 2 bad usage or a malformed answer; 3 transport or internal error.\n";

int ue_kue(const char *prefix, int argc, char **argv);

int ue_kue(const char *prefix, int argc, char **argv)
{
    enum { K_KMS, K_MODE, K_STATE, K_FQDN, K_ID, K_TRACE };
    static const struct cli_opt opts[] = {
        {"kms", true, false},      {"mode", true, false},     {"state", true, false},
        {"kms-fqdn", true, false}, {"identity", true, false}, {"trace", true, false},
    };
    struct cli_args a;
    int rc = cli_parse(prefix, opts, 6, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(kue_help, stdout);
        }
        return rc;
    }
    static const char *const req[] = {"kms", "mode", "state"};
    for (size_t i = 0; i < 3; i++) {
        if (a.val[i] == NULL) {
            return cli_missing(&a, req[i]);
        }
    }
    if (strcmp(a.val[K_MODE], "2") != 0 && strcmp(a.val[K_MODE], "3") != 0) {
        return cli_usage_error(&a, "--mode: 2 or 3");
    }
    if (strncmp(a.val[K_KMS], "http://", 7) != 0 && strncmp(a.val[K_KMS], "https://", 8) != 0) {
        return cli_usage_error(&a, "--kms: an http:// or https:// URL");
    }
    struct kms_ue_kms_cfg cfg = {.kms_url = a.val[K_KMS],
                                 .kms_fqdn = a.val[K_FQDN],
                                 .state_dir = a.val[K_STATE],
                                 .identity = a.val[K_ID],
                                 .trace_dir = a.val[K_TRACE]};
    struct kms_ue_kue_result res;
    kms_result r = kms_ue_kue(&cfg, (uint8_t)(a.val[K_MODE][0] - '0'), &res);
    if (!kms_ok(r)) {
        return cli_fail(&a, r.err == KMS_ERR_UNSUPPORTED ? "the KMS refused the mode" : "kue",
                        r.err == KMS_ERR_UNSUPPORTED ? KMS_ERR_AUTH : r.err);
    }
    char t[KMS_TIME_STR_LEN];
    if (!kms_ok(kms_time_format(res.valid_to, t))) {
        return CLI_EXIT_INTERNAL;
    }
    printf("mode=%u\nkue_expiry=%s\n", res.mode, t);
    return CLI_EXIT_OK;
}

static const char request_help[] =
    "usage: imskms ue request --kms URL --peer IMPU --state DIR --out FILE [--trace DIR]\n"
    "\n"
    "Ticket request: asks the KMS for media keys for a call to --peer, protected by the Kue in\n"
    "DIR ('imskms ue kue'), and writes the TRANSFER_INIT for the peer to --out (raw MIKEY: the\n"
    "KMS's media ticket, protected by the MPK). Prints tgk_fingerprint=, the first 8 octets of\n"
    "SHA-256(TGK) in hex, never the key.\n"
    "\n"
    "  --kms URL     the KMS (POST /mikey)\n"
    "  --peer IMPU   the responder, as named in its own Kue token\n"
    "  --state DIR   the UE's state (bootstrap and kue)\n"
    "  --out FILE    where the TRANSFER_INIT goes\n"
    "  --trace DIR   write each MIKEY message as NNN-sent.mikey / NNN-recv.mikey\n"
    "\n"
    "Exit status: 0 done; 1 the KMS refused; 2 bad usage or a malformed answer; 3 transport or\n"
    "internal error.\n";

static const char resolve_help[] =
    "usage: imskms ue resolve --kms URL --ticket FILE --state DIR [--trace DIR]\n"
    "\n"
    "Ticket resolve: reads the TRANSFER_INIT in --ticket (from 'imskms ue request' of the\n"
    "caller), asks the KMS to resolve its media ticket under this UE's Kue, then checks the\n"
    "transfer's MAC with the MPK the KMS returned. Prints tgk_fingerprint= (the caller's\n"
    "must be the same).\n"
    "\n"
    "  --kms URL      the KMS (POST /mikey)\n"
    "  --ticket FILE  the TRANSFER_INIT received from the caller\n"
    "  --state DIR    this UE's state (bootstrap and kue)\n"
    "  --trace DIR    write each MIKEY message as NNN-sent.mikey / NNN-recv.mikey\n"
    "\n"
    "This UE resolves as the responder the transfer names; the KMS refuses it unless that\n"
    "identity is in this UE's Kue token and is the one the media ticket names.\n"
    "\n"
    "Exit status: 0 done; 1 the KMS refused, or the transfer does not verify with the MPK it\n"
    "returned; 2 bad usage or a malformed message; 3 transport or internal error.\n";

static int print_fp(const uint8_t fp[KMS_UE_TGK_FP_LEN])
{
    printf("tgk_fingerprint=");
    for (size_t i = 0; i < KMS_UE_TGK_FP_LEN; i++) {
        printf("%02x", fp[i]);
    }
    printf("\n");
    return CLI_EXIT_OK;
}

static int kms_fail(const struct cli_args *a, const char *what, kms_result r)
{
    return cli_fail(a, r.err == KMS_ERR_UNSUPPORTED ? "the KMS refused the mode" : what,
                    r.err == KMS_ERR_UNSUPPORTED ? KMS_ERR_AUTH : r.err);
}

int ue_request(const char *prefix, int argc, char **argv);

int ue_request(const char *prefix, int argc, char **argv)
{
    enum { R_KMS, R_PEER, R_STATE, R_OUT, R_TRACE };
    static const struct cli_opt opts[] = {
        {"kms", true, false}, {"peer", true, false},  {"state", true, false},
        {"out", true, false}, {"trace", true, false},
    };
    struct cli_args a;
    int rc = cli_parse(prefix, opts, 5, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(request_help, stdout);
        }
        return rc;
    }
    static const char *const req[] = {"kms", "peer", "state", "out"};
    for (size_t i = 0; i < 4; i++) {
        if (a.val[i] == NULL) {
            return cli_missing(&a, req[i]);
        }
    }
    struct kms_ue_kms_cfg cfg = {
        .kms_url = a.val[R_KMS], .state_dir = a.val[R_STATE], .trace_dir = a.val[R_TRACE]};
    uint8_t fp[KMS_UE_TGK_FP_LEN];
    kms_result r = kms_ue_request(&cfg, a.val[R_PEER], a.val[R_OUT], fp);
    return kms_ok(r) ? print_fp(fp) : kms_fail(&a, "request", r);
}

int ue_resolve(const char *prefix, int argc, char **argv);

int ue_resolve(const char *prefix, int argc, char **argv)
{
    enum { S_KMS, S_TICKET, S_STATE, S_TRACE };
    static const struct cli_opt opts[] = {
        {"kms", true, false},
        {"ticket", true, false},
        {"state", true, false},
        {"trace", true, false},
    };
    struct cli_args a;
    int rc = cli_parse(prefix, opts, 4, 0, argc, argv, &a);
    if (rc != 0 || a.help) {
        if (rc == 0) {
            fputs(resolve_help, stdout);
        }
        return rc;
    }
    static const char *const req[] = {"kms", "ticket", "state"};
    for (size_t i = 0; i < 3; i++) {
        if (a.val[i] == NULL) {
            return cli_missing(&a, req[i]);
        }
    }
    struct kms_ue_kms_cfg cfg = {
        .kms_url = a.val[S_KMS], .state_dir = a.val[S_STATE], .trace_dir = a.val[S_TRACE]};
    uint8_t fp[KMS_UE_TGK_FP_LEN];
    kms_result r = kms_ue_resolve(&cfg, a.val[S_TICKET], fp);
    return kms_ok(r) ? print_fp(fp) : kms_fail(&a, "resolve", r);
}
