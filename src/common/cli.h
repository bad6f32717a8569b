/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers shared by the imskms subcommands and the daemons: a strict option parser
 * (every unknown, repeated or value-less option is a one-line error and exit 2), hex arguments
 * of fixed length, and name=value output.
 *
 * Each program describes its options in one table of struct cli_opt: the parser, the check of
 * required options (cli_require) and, later, the daemons' configuration file (keys = the long
 * option names) all read that table, so an option is declared once.
 */
#ifndef KMS_CLI_H
#define KMS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "imskms/err.h"

#define CLI_EXIT_OK       0
#define CLI_EXIT_CHECK    1
#define CLI_EXIT_USAGE    2
#define CLI_EXIT_INTERNAL 3

#define CLI_MAX_OPTS  32
#define CLI_MAX_MULTI 16
#define CLI_MAX_POS   4

struct cli_opt {
    const char *name; /* without the leading "--" */
    bool has_arg;
    bool multi;          /* may be given up to CLI_MAX_MULTI times */
    bool required;       /* cli_require: missing is a usage error */
    const char *metavar; /* the value's placeholder in help ("PATH"), NULL when none */
    const char *help;    /* one line, NULL when the program's help text says it all */
};

/* Table entries. The subcommands document their options in their own help text; the daemons
 * give each option's metavariable and one-line help here (the configuration file reads them). */
/* clang-format off */
#define CLI_VALUE(n)    {.name = (n), .has_arg = true}
#define CLI_MULTI(n)    {.name = (n), .has_arg = true, .multi = true}
#define CLI_FLAG(n)     {.name = (n)}
#define CLI_REQUIRED(n) {.name = (n), .has_arg = true, .required = true}
#define CLI_VALUE_DOC(n, meta, text) \
    {.name = (n), .has_arg = true, .metavar = (meta), .help = (text)}
#define CLI_REQUIRED_DOC(n, meta, text) \
    {.name = (n), .has_arg = true, .required = true, .metavar = (meta), .help = (text)}
/* clang-format on */

struct cli_args {
    const char *cmd; /* "imskms crypto milenage", for messages */
    const char *val[CLI_MAX_OPTS];
    bool seen[CLI_MAX_OPTS];
    const char *multi[CLI_MAX_OPTS][CLI_MAX_MULTI];
    size_t n_multi[CLI_MAX_OPTS];
    const char *pos[CLI_MAX_POS];
    size_t n_pos;
    bool help;
};

/* A subcommand: name, one-line summary, entry point (argv[0] is the subcommand's name). */
struct cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(const char *prefix, int argc, char **argv);
};

/* Parses argv[1..] against opts (index i of opts is index i of a->val/seen).
 * "--help"/"-h" sets a->help. Accepts "--name value" and "--name=value".
 * Returns CLI_EXIT_OK, or prints one line and returns CLI_EXIT_USAGE. */
int cli_parse(const char *cmd, const struct cli_opt *opts, size_t n_opts, size_t max_pos, int argc,
              char **argv, struct cli_args *a);

/* cli_parse, and with --help prints `help` on stdout (a->help tells the caller to stop there). */
int cli_parse_help(const char *cmd, const struct cli_opt *opts, size_t n_opts, size_t max_pos,
                   int argc, char **argv, const char *help, struct cli_args *a);

/* Dispatches argv[1] to a table of subcommands (help and errors handled here). */
int cli_dispatch(const char *prefix, const struct cli_cmd *cmds, size_t n, const char *usage_tail,
                 int argc, char **argv);

/* "<cmd>: <what>" on stderr; returns the exit status for err. */
int cli_fail(const struct cli_args *a, const char *what, enum kms_err err);
/* "<cmd>: missing --name". */
int cli_missing(const struct cli_args *a, const char *name);
/* Every option of opts[0..n_opts) marked required was given: CLI_EXIT_OK, or cli_missing for
 * the first one absent in table order. */
int cli_require(const struct cli_args *a, const struct cli_opt *opts, size_t n_opts);
/* "<cmd>: <msg>" on stderr, returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_args *a, const char *msg);

/* A decimal number (digits only) in [lo, hi] into *out: true. NULL (an option not given) leaves
 * *out, its default, and is true too. */
bool cli_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* Decodes a hex option of exactly n bytes; on error prints "<cmd>: --name: <reason>". */
int cli_hex_exact(const struct cli_args *a, const char *name, const char *s, uint8_t *out,
                  size_t n);
/* Decodes a hex option of at most cap bytes. */
int cli_hex(const struct cli_args *a, const char *name, const char *s, uint8_t *out, size_t cap,
            size_t *len);

/* Prints "name=<lower-case hex>\n" to stdout. */
int cli_print_hex(const char *name, const uint8_t *p, size_t n);

#endif
