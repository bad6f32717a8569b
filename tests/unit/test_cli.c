/* SPDX-License-Identifier: Apache-2.0 */
/* src/common/cli: the option table's required flag and the decimal option reader. */
#include "testlib.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum { T_A, T_B, T_C, T_D, T_N };
static const struct cli_opt opts[T_N] = {
    [T_A] = {.name = "alpha", .has_arg = true},
    [T_B] = {.name = "beta", .has_arg = true, .required = true, .metavar = "X", .help = "b"},
    [T_C] = CLI_FLAG("gamma"),
    [T_D] = CLI_REQUIRED("delta"),
};

/* Runs cli_parse and cli_require on the space-separated words of line (the program name
 * first); the first line printed to stderr into err. */
static int parse_and_require(const char *line, char *err, size_t cap)
{
    char buf[256];
    char *argv[16];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", line);
    for (char *w = buf; w != NULL && argc < 16;) {
        argv[argc++] = w;
        w = strchr(w, ' ');
        if (w != NULL) {
            *w++ = '\0';
        }
    }
    FILE *f = tmpfile();
    assert_non_null(f);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0 && dup2(fileno(f), STDERR_FILENO) >= 0);
    struct cli_args a;
    int rc = cli_parse("t", opts, T_N, 0, argc, argv, &a);
    if (rc == CLI_EXIT_OK) {
        rc = cli_require(&a, opts, T_N);
    }
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(f);
    if (fgets(err, (int)cap, f) == NULL) {
        err[0] = '\0';
    }
    fclose(f);
    return rc;
}

static void test_required(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(parse_and_require("t --alpha 1 --gamma", err, sizeof(err)), CLI_EXIT_USAGE);
    /* The first required option absent in table order is named, whatever precedes it. */
    assert_string_equal(err, "t: missing required option '--beta' (see --help)\n");
    assert_int_equal(parse_and_require("t --beta=x", err, sizeof(err)), CLI_EXIT_USAGE);
    assert_string_equal(err, "t: missing required option '--delta' (see --help)\n");
    /* Given with an empty value is given. */
    assert_int_equal(parse_and_require("t --delta d --beta=", err, sizeof(err)), CLI_EXIT_OK);
    assert_string_equal(err, "");
    /* Only the first n_opts of a table are checked (a subcommand using a prefix of it). */
    struct cli_args a;
    memset(&a, 0, sizeof(a));
    a.cmd = "t";
    assert_int_equal(cli_require(&a, opts, T_A + 1), CLI_EXIT_OK);
    assert_int_equal(cli_require(&a, opts, T_B + 1), CLI_EXIT_USAGE);
}

static void test_uint(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_true(cli_uint(NULL, 1, 10, &v));
    assert_int_equal(v, 7); /* not given: the default stays */
    assert_true(cli_uint("1", 1, 10, &v));
    assert_int_equal(v, 1);
    assert_true(cli_uint("10", 1, 10, &v));
    assert_int_equal(v, 10);
    assert_true(cli_uint("0010", 1, 10, &v));
    assert_int_equal(v, 10);
    assert_true(cli_uint("18446744073709551615", 0, UINT64_MAX, &v));
    assert_true(v == UINT64_MAX);
    static const char *const bad[] = {
        "0", "11", "", "+5", "-1", " 5", "5 ", "5x", "0x5", "1e3", "18446744073709551616"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 7;
        assert_false(cli_uint(bad[i], 1, 10, &v));
        assert_int_equal(v, 7);
    }
    assert_false(cli_uint("18446744073709551616", 0, UINT64_MAX, &v)); /* overflow */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_uint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
