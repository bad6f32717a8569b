/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KMS_CMDS_H
#define KMS_CMDS_H

#include <stdbool.h>

#include "err/kms_err.h"

int cmd_crypto(const char *prefix, int argc, char **argv);
int cmd_mikey(const char *prefix, int argc, char **argv);
int cmd_keys(const char *prefix, int argc, char **argv);
int cmd_token(const char *prefix, int argc, char **argv);
int cmd_subscriber(const char *prefix, int argc, char **argv);
int cmd_kue(const char *prefix, int argc, char **argv);
int cmd_ue(const char *prefix, int argc, char **argv);

/* The UE commands that talk to a server (cmd_ue_boot.c, cmd_ue_kms.c). */
struct cli_args;
struct kms_httpc_cfg;
struct kms_httpc_busy;
#define UE_TIMEOUT_HELP                                                                            \
    "  --timeout S      give up on a server's answer after S seconds, 1..3600 (default 10)\n"
/* --timeout's value (NULL: the default) into http->timeout_ms; false when it is not 1..3600. */
bool ue_timeout(const char *val, struct kms_httpc_cfg *http);
/* A failed command's line and exit status: when the server answered 503 naming why (busy, and
 * err is that reason's), "<cmd>: <who> <what it says> (<reason>); retry in N s"; otherwise
 * cli_fail's line. The exit status is err's either way. */
/* A directory option of the UE commands (--state, --trace), before any network traffic: created
 * with mode 0700 when missing (its parent must exist), or refused in one line naming the option,
 * the path and the system's reason (exit 2). NULL (not given) is fine. */
int ue_dir(const struct cli_args *a, const char *opt, const char *path);

int ue_fail(const struct cli_args *a, const struct kms_httpc_busy *busy, const char *what,
            enum kms_err err);

struct kms_ue_kms_cfg;
/* --kms: an http:// or https:// URL; --kms-ca-file, when given, a readable CA file (bad usage
 * otherwise, before any traffic). cmd_ue_kms.c. */
int ue_check_kms_url(const struct cli_args *a, const char *url, const char *ca);
/* A failed exchange with the KMS in one line (the untrusted certificate, the KMS's name, the
 * mode refused, or ue_fail's). cmd_ue_kms.c. */
int ue_kms_fail(const struct cli_args *a, const struct kms_ue_kms_cfg *cfg, const char *what,
                kms_result r);

#endif
