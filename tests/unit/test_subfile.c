/* SPDX-License-Identifier: Apache-2.0 */
/* The subscriber export format (lib/gba/kms_subfile.h): a file written by hand from the format's
 * description parses into the expected fields and the writer produces it byte for byte; every
 * departure from the format is refused with its code. */
#include "testlib.h"

#include <stdio.h>
#include <string.h>

#include "gba/kms_subfile.h"

#define SEALED_HEX                                                                                 \
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"                             \
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b"
#define LINE_A                                                                                     \
    "impi=alice@ims.example.org amf=8000 sqn=0000000012ff sealed=" SEALED_HEX                      \
    " impu=sip:alice@ims.example.org impu=tel:+15550001"
#define LINE_B "impi=bob@ims.example.org amf=0000 sqn=000000000000 sealed=" SEALED_HEX " impu=sip:b"

static const char good[] = "imskms-subscribers 1\n" LINE_A "\n" LINE_B "\nend count=2\n";

struct got {
    struct kms_subscriber_rec r[4];
    size_t n;
};

static kms_result keep(void *arg, const struct kms_subscriber_rec *rec)
{
    struct got *g = arg;
    if (g->n == 4) {
        return (kms_result){KMS_ERR_FULL};
    }
    g->r[g->n++] = *rec;
    return (kms_result){KMS_OK};
}

static kms_result parse(const char *text, struct got *g, size_t *line)
{
    memset(g, 0, sizeof(*g));
    return kms_subfile_parse((const uint8_t *)text, strlen(text), keep, g, line);
}

static void parses_the_documented_format(void **state)
{
    (void)state;
    struct got g;
    size_t line = 9;
    expect_ok(parse(good, &g, &line));
    assert_int_equal(line, 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.r[0].info.impi, "alice@ims.example.org");
    assert_int_equal(g.r[0].info.amf[0], 0x80);
    assert_int_equal(g.r[0].info.amf[1], 0x00);
    assert_int_equal(g.r[0].info.sqn, 0x12ff);
    assert_int_equal(g.r[0].info.n_impu, 2);
    assert_string_equal(g.r[0].info.impu[0], "sip:alice@ims.example.org");
    assert_string_equal(g.r[0].info.impu[1], "tel:+15550001");
    for (unsigned i = 0; i < KMS_SUBSCRIBER_SEALED_LEN; i++) {
        assert_int_equal(g.r[0].sealed[i], i);
    }
    assert_string_equal(g.r[1].info.impi, "bob@ims.example.org");
    assert_int_equal(g.r[1].info.n_impu, 1);
    /* an empty export */
    expect_ok(parse("imskms-subscribers 1\nend count=0\n", &g, &line));
    assert_int_equal(g.n, 0);
}

static void writes_the_documented_format(void **state)
{
    (void)state;
    struct got g;
    struct kms_buf b;
    expect_ok(parse(good, &g, NULL));
    kms_buf_init(&b, 1 << 16, false);
    expect_ok(kms_subfile_put_header(&b));
    expect_ok(kms_subfile_put_rec(&b, &g.r[0]));
    expect_ok(kms_subfile_put_rec(&b, &g.r[1]));
    expect_ok(kms_subfile_put_end(&b, 2));
    assert_int_equal(kms_buf_len(&b), strlen(good));
    assert_memory_equal(kms_buf_data(&b), good, strlen(good));
    kms_buf_cleanup(&b);
}

struct bad {
    const char *text;
    enum kms_err err;
    size_t line;
};

static void refuses_everything_else(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"", KMS_ERR_TRUNCATED, 1},
        {"imskms-subscribers 1\n", KMS_ERR_TRUNCATED, 2},
        {"imskms-subscribers 1\n" LINE_A "\n", KMS_ERR_TRUNCATED, 3},
        {"imskms-subscribers 1\nend count=0", KMS_ERR_TRUNCATED, 2},
        {"imskms-subscribers 2\nend count=0\n", KMS_ERR_UNSUPPORTED, 1},
        {"imskms-subscribers 01\nend count=0\n", KMS_ERR_MALFORMED, 1},
        {"imskms-subscriber 1\nend count=0\n", KMS_ERR_MALFORMED, 1},
        {"imskms-subscribers 1\r\nend count=0\n", KMS_ERR_MALFORMED, 1},
        {"imskms-subscribers 1\nend count=1\n", KMS_ERR_MALFORMED, 2},
        {"imskms-subscribers 1\n" LINE_A "\nend count=2\n", KMS_ERR_MALFORMED, 3},
        {"imskms-subscribers 1\nend count=00\n", KMS_ERR_MALFORMED, 2},
        {"imskms-subscribers 1\nend count=\n", KMS_ERR_MALFORMED, 2},
        {"imskms-subscribers 1\nend count=0\n\n", KMS_ERR_TRAILING, 3},
        {"imskms-subscribers 1\nend count=0\nend count=0\n", KMS_ERR_TRAILING, 3},
        {"imskms-subscribers 1\n\nend count=0\n", KMS_ERR_MALFORMED, 2},
        /* fields out of order, doubled spaces, upper-case or short hex, a trailing space */
        {"imskms-subscribers 1\nimpi=a amf=0000 sealed=" SEALED_HEX " sqn=000000000000 impu=s\n"
         "end count=1\n",
         KMS_ERR_MALFORMED, 2},
        {"imskms-subscribers 1\nimpi=a  amf=0000 sqn=000000000000 sealed=" SEALED_HEX " impu=s\n"
         "end count=1\n",
         KMS_ERR_MALFORMED, 2},
        {"imskms-subscribers 1\nimpi=a amf=8000 sqn=0000000000FF sealed=" SEALED_HEX " impu=s\n"
         "end count=1\n",
         KMS_ERR_MALFORMED, 2},
        {"imskms-subscribers 1\nimpi=a amf=800 sqn=000000000000 sealed=" SEALED_HEX " impu=s\n"
         "end count=1\n",
         KMS_ERR_MALFORMED, 2},
        {"imskms-subscribers 1\nimpi=a amf=0000 sqn=000000000000 sealed=" SEALED_HEX "00 impu=s\n"
         "end count=1\n",
         KMS_ERR_MALFORMED, 2},
        {"imskms-subscribers 1\nimpi=a amf=0000 sqn=000000000000 sealed=" SEALED_HEX " impu=s \n"
         "end count=1\n",
         KMS_ERR_MALFORMED, 2},
        /* no IMPU, an IMPU twice, nine IMPUs, an empty IMPI, a control character in the IMPI */
        {"imskms-subscribers 1\nimpi=a amf=0000 sqn=000000000000 sealed=" SEALED_HEX "\n"
         "end count=1\n",
         KMS_ERR_ARG, 2},
        {"imskms-subscribers 1\nimpi=a amf=0000 sqn=000000000000 sealed=" SEALED_HEX
         " impu=s impu=s\nend count=1\n",
         KMS_ERR_ARG, 2},
        {"imskms-subscribers 1\nimpi=a amf=0000 sqn=000000000000 sealed=" SEALED_HEX
         " impu=1 impu=2 impu=3 impu=4 impu=5 impu=6 impu=7 impu=8 impu=9\nend count=1\n",
         KMS_ERR_MALFORMED, 2},
        {"imskms-subscribers 1\nimpi= amf=0000 sqn=000000000000 sealed=" SEALED_HEX " impu=s\n"
         "end count=1\n",
         KMS_ERR_MALFORMED, 2},
        {"imskms-subscribers 1\nimpi=a\tb amf=0000 sqn=000000000000 sealed=" SEALED_HEX
         " impu=s\nend count=1\n",
         KMS_ERR_NOT_ASCII, 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct got g;
        size_t line = 0;
        kms_result r = parse(cases[i].text, &g, &line);
        if (r.err != cases[i].err || line != cases[i].line) {
            fail_msg("case %zu: got %d at line %zu, want %d at line %zu", i, (int)r.err, line,
                     (int)cases[i].err, cases[i].line);
        }
    }
}

/* A NUL inside a name (found by fuzz_subfile: it cut the name short once a C string). */
static void refuses_nul_in_names(void **state)
{
    (void)state;
    static const char text[] = "imskms-subscribers 1\nimpi=a\0b amf=0000 sqn=000000000000 "
                               "sealed=" SEALED_HEX " impu=s\nend count=1\n";
    struct got g;
    size_t line = 0;
    memset(&g, 0, sizeof(g));
    expect_err(kms_subfile_parse((const uint8_t *)text, sizeof(text) - 1, keep, &g, &line),
               KMS_ERR_NOT_ASCII);
    assert_int_equal(line, 2);
    assert_int_equal(g.n, 0);
}

/* Lines over KMS_SUBFILE_LINE_MAX are refused before they are parsed, and a 256-octet IMPI (one
 * over the store's limit) is too long; a failed reader refuses every later line. */
static void refuses_long_lines_and_stays_failed(void **state)
{
    (void)state;
    static char text[KMS_SUBFILE_LINE_MAX + 128];
    struct got g;
    size_t line = 0;
    int n = snprintf(text, sizeof(text), "imskms-subscribers 1\nimpi=");
    memset(text + n, 'a', 256);
    snprintf(text + n + 256, sizeof(text) - (size_t)n - 256,
             " amf=0000 sqn=000000000000 sealed=" SEALED_HEX " impu=s\nend count=1\n");
    expect_err(parse(text, &g, &line), KMS_ERR_TOO_LONG);
    assert_int_equal(line, 2);
    memset(text, 'x', KMS_SUBFILE_LINE_MAX + 1);
    struct kms_subfile_reader r;
    struct kms_subscriber_rec rec;
    bool is_rec = true;
    kms_subfile_reader_init(&r);
    expect_ok(kms_subfile_feed(&r, (const uint8_t *)"imskms-subscribers 1", 20, &rec, &is_rec));
    assert_false(is_rec);
    expect_err(kms_subfile_feed(&r, (const uint8_t *)text, KMS_SUBFILE_LINE_MAX + 1, &rec, &is_rec),
               KMS_ERR_TOO_LONG);
    expect_err(kms_subfile_feed(&r, (const uint8_t *)"end count=0", 11, &rec, &is_rec),
               KMS_ERR_MALFORMED);
    expect_err(kms_subfile_finish(&r), KMS_ERR_MALFORMED);
}

/* One record line alone (the Redis store's value): the documented line parses, its header, end
 * line, a trailing "\n" or any other departure does not, and a refused line leaves rec zeroed. */
static void parses_one_record_line(void **state)
{
    (void)state;
    struct kms_subscriber_rec rec, zero;
    memset(&zero, 0, sizeof(zero));
    expect_ok(kms_subfile_rec_parse((const uint8_t *)LINE_A, strlen(LINE_A), &rec));
    assert_string_equal(rec.info.impi, "alice@ims.example.org");
    assert_int_equal(rec.info.sqn, 0x12ff);
    assert_int_equal(rec.info.n_impu, 2);
    assert_int_equal(rec.sealed[59], 59);
    static const char *const bad[] = {
        LINE_A "\n",
        "imskms-subscribers 1",
        "end count=0",
        "",
        LINE_A " ",
        "impi=alice@ims.example.org amf=8000 sqn=0000000012ff sealed=" SEALED_HEX,
        "impi=a amf=800 sqn=0000000012ff sealed=" SEALED_HEX " impu=x",
        "impi=a amf=8000 sqn=0000000012FF sealed=" SEALED_HEX " impu=x",
        "impi=a amf=8000 sqn=0000000012ff sealed=" SEALED_HEX " impu=x impu=x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&rec, 0xee, sizeof(rec));
        kms_result r = kms_subfile_rec_parse((const uint8_t *)bad[i], strlen(bad[i]), &rec);
        assert_false(kms_ok(r));
        assert_memory_equal(&rec, &zero, sizeof(rec));
    }
    char big[KMS_SUBFILE_LINE_MAX + 2];
    memset(big, 'a', sizeof(big));
    expect_err(kms_subfile_rec_parse((const uint8_t *)big, sizeof(big), &rec), KMS_ERR_TOO_LONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_the_documented_format),
        cmocka_unit_test(writes_the_documented_format),
        cmocka_unit_test(refuses_everything_else),
        cmocka_unit_test(refuses_long_lines_and_stays_failed),
        cmocka_unit_test(refuses_nul_in_names),
        cmocka_unit_test(parses_one_record_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
