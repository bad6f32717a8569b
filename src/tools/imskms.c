/* SPDX-License-Identifier: Apache-2.0 */
/* imskms: one binary, a table of subcommands (as in WireGuard's wg). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#define IMSKMS_NO_VERSION /* kms_version() at most: no rebuild per commit */
#include "imskms/imskms.h"

static int cmd_version(const char *prefix, int argc, char **argv)
{
    (void)prefix;
    (void)argc;
    (void)argv;
    printf("imskms %s\n", kms_version());
    return CLI_EXIT_OK;
}

static const struct cli_cmd cmds[] = {
    {"crypto", "known-answer tools: Milenage, AUTS, resync, KDF, Ks_NAF, B-TID, MIKEY PRF",
     cmd_crypto},
    {"mikey", "MIKEY messages: decode and print every field", cmd_mikey},
    {"keys", "the Kkms keyring (a file or Redis): init, list, status, rotate, revoke, ...",
     cmd_keys},
    {"token", "sealed tickets: seal, inspect, open", cmd_token},
    {"subscriber", "the BSF subscriber store: add, list, del, set-sqn, export, import",
     cmd_subscriber},
    {"kue", "the KMS's stored mode-2 Kues (SQLite or Redis): list, revoke", cmd_kue},
    {"ue", "the simulated UE: USIM, bootstrap, Kue, tickets, calls (SDP, SRTP)", cmd_ue},
    {"version", "print the version", cmd_version},
};

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        return cmd_version("imskms", argc, argv);
    }
    return cli_dispatch("imskms", cmds, sizeof(cmds) / sizeof(cmds[0]), NULL, argc, argv);
}
