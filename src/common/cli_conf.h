/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemons' configuration file (--config FILE): `key = value` lines whose keys are the long
 * names of the program's option table (struct cli_opt), `#` or `;` comment lines, blank lines,
 * and at most the one section header `[<section>]` ("kmsd", "bsfd"). The command line overrides
 * the file (cli_conf_apply fills only the options the command line left out).
 *
 * Read with libinih (Debian libinih-dev 55; docs/cli.md says why that one), configured at run
 * time through the variables Debian's build exports, and a line reader of ours in front of it
 * that adds the checks inih leaves out: a line longer than CLI_CONF_LINE_MAX, a NUL byte, a
 * continuation line (leading white space before a value), a section other than ours, a line
 * whose first separator is ':' (inih's configparser concession) are refused. The key checks
 * (unknown, given twice, a flag or "config" itself, an empty value) are in the inih handler.
 * The first error stops the read and is reported as one line `FILE:LINE: what`.
 */
#ifndef KMS_CLI_CONF_H
#define KMS_CLI_CONF_H

#include <stddef.h>

#include "cli.h"

/* The longest line accepted, in bytes, not counting its line end (a PKCS#11 URI with a module
 * path and a PIN source runs past libinih's default of 200). */
#define CLI_CONF_LINE_MAX 16384
/* The largest file read. */
#define CLI_CONF_FILE_MAX (1024u * 1024u)

/* The values read, by option index (each owned, NULL when not in the file). */
struct cli_conf {
    char *val[CLI_MAX_OPTS];
    unsigned line[CLI_MAX_OPTS]; /* the line each was on */
};

/* Reads path against opts[0..n_opts). On success returns CLI_EXIT_OK with *out filled (free
 * it with cli_conf_cleanup). On failure returns CLI_EXIT_USAGE with *out empty and err holding
 * the one-line message "FILE:LINE: what" ("FILE: what" when the file cannot be read). */
int cli_conf_read(const char *path, const char *section, const struct cli_opt *opts, size_t n_opts,
                  struct cli_conf *out, char *err, size_t err_len);

/* Every option of the file that the command line in a did not give is set in a (borrowed
 * from f: keep f alive as long as a's values are used). */
void cli_conf_apply(const struct cli_conf *f, size_t n_opts, struct cli_args *a);

/* Frees the values; *f is empty afterwards. */
void cli_conf_cleanup(struct cli_conf *f);

#endif
