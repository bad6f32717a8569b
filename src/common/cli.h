/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers shared by the imskms subcommands: a strict option parser (every unknown,
 * repeated or value-less option is a one-line error and exit 2), hex arguments of fixed
 * length, and name=value output.
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

#define CLI_MAX_OPTS  24
#define CLI_MAX_MULTI 16
#define CLI_MAX_POS   4

struct cli_opt {
    const char *name; /* without the leading "--" */
    bool has_arg;
    bool multi; /* may be given up to CLI_MAX_MULTI times */
};

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

/* Dispatches argv[1] to a table of subcommands (help and errors handled here). */
int cli_dispatch(const char *prefix, const struct cli_cmd *cmds, size_t n, const char *usage_tail,
                 int argc, char **argv);

/* "<cmd>: <what>" on stderr; returns the exit status for err. */
int cli_fail(const struct cli_args *a, const char *what, enum kms_err err);
/* "<cmd>: missing --name". */
int cli_missing(const struct cli_args *a, const char *name);
/* The first n of opts (as parsed into a) are required: CLI_EXIT_OK, or cli_missing for the
 * first one absent. */
int cli_require_first(const struct cli_args *a, const struct cli_opt *opts, size_t n);
/* "<cmd>: <msg>" on stderr, returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_args *a, const char *msg);

/* Decodes a hex option of exactly n bytes; on error prints "<cmd>: --name: <reason>". */
int cli_hex_exact(const struct cli_args *a, const char *name, const char *s, uint8_t *out,
                  size_t n);
/* Decodes a hex option of at most cap bytes. */
int cli_hex(const struct cli_args *a, const char *name, const char *s, uint8_t *out, size_t cap,
            size_t *len);

/* Prints "name=<lower-case hex>\n" to stdout. */
int cli_print_hex(const char *name, const uint8_t *p, size_t n);

#endif
