/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/kms_codec.h"
#include "util/kms_mem.h"

static int find_opt(const struct cli_opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int cli_parse(const char *cmd, const struct cli_opt *opts, size_t n_opts, size_t max_pos, int argc,
              char **argv, struct cli_args *a)
{
    memset(a, 0, sizeof(*a));
    a->cmd = cmd;
    if (n_opts > CLI_MAX_OPTS) {
        fprintf(stderr, "%s: internal error: too many options\n", cmd);
        return CLI_EXIT_INTERNAL;
    }
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a->n_pos >= max_pos) {
                fprintf(stderr, "%s: unexpected argument '%s'\n", cmd, arg);
                return CLI_EXIT_USAGE;
            }
            a->pos[a->n_pos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "%s: unknown option '%s'\n", cmd, arg);
            return CLI_EXIT_USAGE;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        int k = find_opt(opts, n_opts, name, name_len);
        if (k < 0) {
            fprintf(stderr, "%s: unknown option '--%.*s'\n", cmd, (int)name_len, name);
            return CLI_EXIT_USAGE;
        }
        const char *val = NULL;
        if (opts[k].has_arg) {
            if (eq != NULL) {
                val = eq + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                fprintf(stderr, "%s: option '--%s' needs a value\n", cmd, opts[k].name);
                return CLI_EXIT_USAGE;
            }
        } else if (eq != NULL) {
            fprintf(stderr, "%s: option '--%s' takes no value\n", cmd, opts[k].name);
            return CLI_EXIT_USAGE;
        }
        if (opts[k].multi) {
            if (a->n_multi[k] >= CLI_MAX_MULTI) {
                fprintf(stderr, "%s: option '--%s' given more than %d times\n", cmd, opts[k].name,
                        CLI_MAX_MULTI);
                return CLI_EXIT_USAGE;
            }
            a->multi[k][a->n_multi[k]++] = val;
        } else if (a->seen[k]) {
            fprintf(stderr, "%s: option '--%s' given twice\n", cmd, opts[k].name);
            return CLI_EXIT_USAGE;
        }
        a->seen[k] = true;
        a->val[k] = val;
    }
    return CLI_EXIT_OK;
}

int cli_parse_help(const char *cmd, const struct cli_opt *opts, size_t n_opts, size_t max_pos,
                   int argc, char **argv, const char *help, struct cli_args *a)
{
    int rc = cli_parse(cmd, opts, n_opts, max_pos, argc, argv, a);
    if (rc == CLI_EXIT_OK && a->help) {
        fputs(help, stdout);
    }
    return rc;
}

int cli_dispatch(const char *prefix, const struct cli_cmd *cmds, size_t n, const char *usage_tail,
                 int argc, char **argv)
{
    FILE *out = stderr;
    bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                              strcmp(argv[1], "help") == 0);
    if (argc >= 2 && !help) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(argv[1], cmds[i].name) == 0) {
                char sub[128];
                snprintf(sub, sizeof(sub), "%s %s", prefix, cmds[i].name);
                return cmds[i].run(sub, argc - 1, argv + 1);
            }
        }
        fprintf(stderr, "%s: unknown command '%s' (try '%s --help')\n", prefix, argv[1], prefix);
        return CLI_EXIT_USAGE;
    }
    if (help) {
        out = stdout;
    }
    fprintf(out, "usage: %s <command> [options]\n\ncommands:\n", prefix);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "  %-15s %s\n", cmds[i].name, cmds[i].summary);
    }
    if (usage_tail != NULL) {
        fputs(usage_tail, out);
    }
    fprintf(out, "\nRun '%s <command> --help' for the options of a command.\n", prefix);
    return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

int cli_fail(const struct cli_args *a, const char *what, enum kms_err err)
{
    /* A file system error names what the system said (errno of the failed call). */
    int e = errno;
    const char *sys = err == KMS_ERR_IO && e != 0 ? strerror(e) : NULL;
    fprintf(stderr, "%s: %s%s%s%s%s\n", a->cmd, what != NULL ? what : "", what != NULL ? ": " : "",
            kms_strerror(err), sys != NULL ? ": " : "", sys != NULL ? sys : "");
    return kms_err_exit_status(err);
}

int cli_missing(const struct cli_args *a, const char *name)
{
    fprintf(stderr, "%s: missing required option '--%s' (see --help)\n", a->cmd, name);
    return CLI_EXIT_USAGE;
}

int cli_require(const struct cli_args *a, const struct cli_opt *opts, size_t n_opts)
{
    for (size_t i = 0; i < n_opts && i < CLI_MAX_OPTS; i++) {
        if (opts[i].required && !a->seen[i]) {
            return cli_missing(a, opts[i].name);
        }
    }
    return CLI_EXIT_OK;
}

int cli_usage_error(const struct cli_args *a, const char *msg)
{
    fprintf(stderr, "%s: %s\n", a->cmd, msg);
    return CLI_EXIT_USAGE;
}

bool cli_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (s == NULL) {
        return true;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

int cli_hex_exact(const struct cli_args *a, const char *name, const char *s, uint8_t *out, size_t n)
{
    if (s == NULL) {
        return cli_missing(a, name);
    }
    kms_result r = kms_hex_decode_exact(s, out, n);
    if (r.err == KMS_ERR_BAD_LENGTH) {
        fprintf(stderr, "%s: --%s: expected %zu bytes (%zu hex digits), got %zu digits\n", a->cmd,
                name, n, 2 * n, strlen(s));
        return CLI_EXIT_USAGE;
    }
    if (r.err != KMS_OK) {
        fprintf(stderr, "%s: --%s: %s\n", a->cmd, name, kms_strerror(r.err));
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_hex(const struct cli_args *a, const char *name, const char *s, uint8_t *out, size_t cap,
            size_t *len)
{
    if (s == NULL) {
        return cli_missing(a, name);
    }
    kms_result r = kms_hex_decode(s, strlen(s), out, cap, len);
    if (r.err != KMS_OK) {
        fprintf(stderr, "%s: --%s: %s\n", a->cmd, name, kms_strerror(r.err));
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_print_hex(const char *name, const uint8_t *p, size_t n)
{
    size_t cap = KMS_HEX_ENC_LEN(n);
    char *hex = malloc(cap);
    if (hex == NULL) {
        fprintf(stderr, "imskms: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    kms_result r = kms_hex_encode(p, n, hex, cap);
    if (r.err == KMS_OK) {
        printf("%s=%s\n", name, hex);
    }
    kms_wipe(hex, cap);
    free(hex);
    return r.err == KMS_OK ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
}
