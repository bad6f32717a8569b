/* SPDX-License-Identifier: Apache-2.0 */
/* src/common/cli_conf: the daemons' configuration file over libinih, every refusal with its
 * FILE:LINE, lines of 5 KiB and more, the command line over the file. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_conf.h"

enum { T_A, T_B, T_FLAG, T_CONFIG, T_N };
static const struct cli_opt opts[T_N] = {
    [T_A] = CLI_VALUE("alpha"),
    [T_B] = CLI_VALUE("beta"),
    [T_FLAG] = CLI_FLAG("gamma"),
    [T_CONFIG] = CLI_VALUE("config"),
};

static char path[64];
static char err[512];
static struct cli_conf conf;

/* Writes n bytes of text to a fresh file and reads it as section "kmsd". */
static int read_bytes(const char *text, size_t n)
{
    snprintf(path, sizeof(path), "/tmp/test_cli_conf.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    int rc = cli_conf_read(path, "kmsd", opts, T_N, &conf, err, sizeof(err));
    unlink(path);
    return rc;
}

static int read_text(const char *text)
{
    return read_bytes(text, strlen(text));
}

/* The error must be exactly "<path>:<line>: <what>". */
static void expect_error(const char *text, unsigned line, const char *what)
{
    assert_int_equal(read_text(text), CLI_EXIT_USAGE);
    char want[512];
    snprintf(want, sizeof(want), "%s:%u: %s", path, line, what);
    assert_string_equal(err, want);
    assert_null(conf.val[T_A]);
    assert_null(strchr(err, '\n'));
}

static void test_good(void **state)
{
    (void)state;
    assert_int_equal(read_text("# a comment\n"
                               "; another\n"
                               "\n"
                               "   # an indented comment\n"
                               "[kmsd]\n"
                               "alpha = pkcs11:token=t;object=k?pin-source=/x#y ; z\n"
                               "beta=2\r\n"),
                     CLI_EXIT_OK);
    /* ';' and '#' inside a value are part of it: no inline comments. */
    assert_string_equal(conf.val[T_A], "pkcs11:token=t;object=k?pin-source=/x#y ; z");
    assert_int_equal(conf.line[T_A], 6);
    assert_string_equal(conf.val[T_B], "2");
    assert_int_equal(conf.line[T_B], 7);
    cli_conf_cleanup(&conf);
    /* No section at all, and a byte order mark. */
    assert_int_equal(read_text("\xef\xbb\xbf"
                               "alpha = 1\n"),
                     CLI_EXIT_OK);
    assert_string_equal(conf.val[T_A], "1");
    cli_conf_cleanup(&conf);
    assert_int_equal(read_text(""), CLI_EXIT_OK);
    assert_null(conf.val[T_A]);
}

/* libinih's default line is 200 bytes; Debian's build keeps that unless told otherwise. */
static void test_long_lines(void **state)
{
    (void)state;
    size_t cap = CLI_CONF_LINE_MAX + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    /* A 5 KiB line, then an error two lines later: its number must be right. */
    int n = snprintf(text, cap, "alpha = ");
    memset(text + n, 'v', 5120);
    n += 5120;
    n += snprintf(text + n, cap - (size_t)n, "END\nbeta = 1\nbogus\n");
    assert_int_equal(read_bytes(text, (size_t)n), CLI_EXIT_USAGE);
    char want[512];
    snprintf(want, sizeof(want), "%s:3: expected key = value", path);
    assert_string_equal(err, want);
    text[n - 6] = '\0'; /* drop "bogus\n" */
    assert_int_equal(read_text(text), CLI_EXIT_OK);
    assert_int_equal(strlen(conf.val[T_A]), 5123);
    assert_string_equal(conf.val[T_A] + 5120, "END");
    cli_conf_cleanup(&conf);
    /* Exactly the longest line, then one byte more. */
    n = snprintf(text, cap, "alpha = ");
    memset(text + n, 'w', CLI_CONF_LINE_MAX - (size_t)n);
    text[CLI_CONF_LINE_MAX] = '\n';
    assert_int_equal(read_bytes(text, CLI_CONF_LINE_MAX + 1), CLI_EXIT_OK);
    assert_int_equal(strlen(conf.val[T_A]), CLI_CONF_LINE_MAX - 8);
    cli_conf_cleanup(&conf);
    memset(text + n, 'w', CLI_CONF_LINE_MAX + 1 - (size_t)n);
    text[CLI_CONF_LINE_MAX + 1] = '\n';
    assert_int_equal(read_bytes(text, CLI_CONF_LINE_MAX + 2), CLI_EXIT_USAGE);
    snprintf(want, sizeof(want), "%s:1: line longer than %u bytes", path, CLI_CONF_LINE_MAX);
    assert_string_equal(err, want);
    free(text);
}

static void test_refused(void **state)
{
    (void)state;
    expect_error("alpha = 1\nbeta = 2\nalpha = 3\n", 3, "'alpha' given twice (first on line 1)");
    expect_error("alpha = 1\n  more\n", 2,
                 "leading white space: continuation lines are not allowed");
    expect_error("alpha = 1\n\tbeta = 2\n", 2,
                 "leading white space: continuation lines are not allowed");
    expect_error("# c\nzeta = 1\n", 2, "unknown key 'zeta'");
    expect_error("[bsfd]\nalpha = 1\n", 1,
                 "section [bsfd]: the only section allowed here is [kmsd]");
    expect_error("alpha = 1\n[kmsd.x]\n", 2,
                 "section [kmsd.x]: the only section allowed here is [kmsd]");
    expect_error("[kmsd\n", 1, "section [kmsd: the only section allowed here is [kmsd]");
    expect_error("gamma = yes\n", 1, "'gamma' is a command-line option only");
    expect_error("config = /etc/x\n", 1, "'config' is a command-line option only");
    expect_error("alpha\n", 1, "expected key = value");
    expect_error("alpha: 1\n", 1, "expected key = value");
    expect_error("alpha =\n", 1, "'alpha' has no value");
    assert_int_equal(read_bytes("alpha = 1\nbeta = a\0b\n", 20), CLI_EXIT_USAGE);
    assert_non_null(strstr(err, ":2: a NUL byte"));
    assert_int_equal(
        cli_conf_read("/nonexistent/x.conf", "kmsd", opts, T_N, &conf, err, sizeof(err)),
        CLI_EXIT_USAGE);
    assert_string_equal(err, "/nonexistent/x.conf: cannot be read: No such file or directory");
}

static void test_command_line_wins(void **state)
{
    (void)state;
    assert_int_equal(read_text("alpha = file\nbeta = file\n"), CLI_EXIT_OK);
    struct cli_args a;
    char w0[] = "t", w1[] = "--alpha", w2[] = "cmd";
    char *argv[] = {w0, w1, w2, NULL};
    assert_int_equal(cli_parse("t", opts, T_N, 0, 3, argv, &a), CLI_EXIT_OK);
    cli_conf_apply(&conf, T_N, &a);
    assert_string_equal(a.val[T_A], "cmd");
    assert_string_equal(a.val[T_B], "file");
    assert_true(a.seen[T_B]);
    assert_false(a.seen[T_FLAG]);
    cli_conf_cleanup(&conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_command_line_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
