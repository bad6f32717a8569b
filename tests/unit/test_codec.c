/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <string.h>

#include "util/kms_codec.h"

/* RFC 4648 section 10 test vectors. */
static const struct {
    const char *plain, *b64;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void base64_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        char enc[32];
        uint8_t dec[32];
        size_t n = 99;
        const char *p = rfc4648[i].plain;
        expect_ok(kms_base64_encode((const uint8_t *)p, strlen(p), enc, sizeof(enc)));
        assert_string_equal(enc, rfc4648[i].b64);
        expect_ok(kms_base64_decode(rfc4648[i].b64, strlen(rfc4648[i].b64), dec, sizeof(dec), &n));
        assert_int_equal(n, strlen(p));
        expect_bytes_eq(dec, p, n);
    }
}

static void base64_rejects_bad_input(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Zg",       /* unpadded */
        "Zg=",      /* short padding */
        "Z===",     /* three pads */
        "====",     /* padding only */
        "Zg==Zg==", /* padding in the middle */
        "Zh==",     /* non-canonical: unused bits set */
        "Zm9=",     /* non-canonical */
        "Zm 9v",    /* whitespace */
        "Zm9v\n",   /* newline */
        "Zm9-",     /* URL-safe alphabet */
        "Zm9_",     /* URL-safe alphabet */
        "Zm=v",     /* '=' before data */
        "Zm\x80v",  /* non-ASCII */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t out[16];
        size_t n = 99;
        memset(out, 0xaa, sizeof(out));
        kms_result r = kms_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n);
        if (r.err != KMS_ERR_BAD_BASE64) {
            fail_msg("'%s' was not refused as bad base64 (%s)", bad[i], kms_err_name(r.err));
        }
        assert_int_equal(n, 0);
        for (size_t j = 0; j < sizeof(out); j++) {
            assert_int_equal(out[j], 0); /* output wiped on failure */
        }
    }
    /* a NUL inside the string is a bad character, not an end */
    uint8_t out[8];
    size_t n;
    expect_err(kms_base64_decode("Zm9v\0Zm9v", 9, out, sizeof(out), &n), KMS_ERR_BAD_BASE64);
}

/* Every proper prefix of a valid encoding of length not a multiple of 4 is refused. */
static void base64_truncations(void **state)
{
    (void)state;
    const char *full = "SGkgVGhlcmUsIGltc2ttcw==";
    uint8_t out[32];
    size_t n;
    for (size_t len = 0; len < strlen(full); len++) {
        kms_result r = kms_base64_decode(full, len, out, sizeof(out), &n);
        if (len % 4 != 0) {
            assert_int_equal(r.err, KMS_ERR_BAD_BASE64);
        } else {
            assert_int_equal(r.err, KMS_OK);
            assert_int_equal(n, len / 4 * 3);
        }
    }
}

static void base64_output_caps(void **state)
{
    (void)state;
    uint8_t out[6];
    size_t n;
    char enc[9];
    expect_ok(kms_base64_decode("Zm9vYmFy", 8, out, 6, &n));
    expect_err(kms_base64_decode("Zm9vYmFy", 8, out, 5, &n), KMS_ERR_TOO_LONG);
    expect_err(kms_base64_decode("Zm9vYmE=", 8, out, 4, &n), KMS_ERR_TOO_LONG);
    expect_ok(kms_base64_decode("Zm9vYmE=", 8, out, 5, &n));
    assert_int_equal(n, 5);
    expect_ok(kms_base64_encode((const uint8_t *)"foobar", 6, enc, sizeof(enc)));
    expect_err(kms_base64_encode((const uint8_t *)"foobar", 6, enc, sizeof(enc) - 1),
               KMS_ERR_TOO_LONG);
    assert_int_equal(KMS_BASE64_ENC_LEN(16), 25);
}

static void hex_round_trip_and_case(void **state)
{
    (void)state;
    uint8_t out[8];
    char enc[17];
    size_t n;
    expect_ok(kms_hex_decode("00ff10AbcD", 10, out, sizeof(out), &n));
    assert_int_equal(n, 5);
    const uint8_t want[] = {0x00, 0xff, 0x10, 0xab, 0xcd};
    expect_bytes_eq(out, want, 5);
    expect_ok(kms_hex_encode(out, n, enc, sizeof(enc)));
    assert_string_equal(enc, "00ff10abcd");
    expect_ok(kms_hex_decode("", 0, out, sizeof(out), &n));
    assert_int_equal(n, 0);
    expect_ok(kms_hex_encode(out, 0, enc, 1));
    assert_string_equal(enc, "");
    expect_err(kms_hex_encode(out, 5, enc, 10), KMS_ERR_TOO_LONG);
    expect_err(kms_hex_encode(out, 1, enc, 0), KMS_ERR_TOO_LONG);
}

static void hex_rejects_bad_input(void **state)
{
    (void)state;
    static const char *bad[] = {"0", "abc", "0g", "0x00", " 00", "00 ", "zz", "0\xff", "-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t out[8];
        size_t n = 7;
        memset(out, 0xaa, sizeof(out));
        kms_result r = kms_hex_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n);
        if (r.err != KMS_ERR_BAD_HEX) {
            fail_msg("'%s' not refused as bad hex (%s)", bad[i], kms_err_name(r.err));
        }
        assert_int_equal(n, 0);
        assert_int_equal(out[0], 0);
    }
    uint8_t out[2];
    size_t n;
    expect_err(kms_hex_decode("000000", 6, out, 2, &n), KMS_ERR_TOO_LONG);
    expect_err(kms_hex_decode("0\0"
                              "00",
                              4, out, 2, &n),
               KMS_ERR_BAD_HEX);
}

static void hex_exact_lengths(void **state)
{
    (void)state;
    uint8_t out[4];
    expect_ok(kms_hex_decode_exact("01020304", out, 4));
    expect_err(kms_hex_decode_exact("010203", out, 4), KMS_ERR_BAD_LENGTH);
    expect_err(kms_hex_decode_exact("0102030405", out, 4), KMS_ERR_BAD_LENGTH);
    expect_err(kms_hex_decode_exact("0102030", out, 4), KMS_ERR_BAD_HEX);
    expect_err(kms_hex_decode_exact("0102030g", out, 4), KMS_ERR_BAD_HEX);
    expect_err(kms_hex_decode_exact("", out, 4), KMS_ERR_BAD_LENGTH);
    expect_err(kms_hex_decode_exact("010203040g", out, 4), KMS_ERR_BAD_HEX);
}

/* Malformed input is reported as malformed whatever the output capacity. */
static void malformed_wins_over_capacity(void **state)
{
    (void)state;
    uint8_t out[2];
    size_t n;
    expect_err(kms_hex_decode("zz", 2, out, 0, &n), KMS_ERR_BAD_HEX);
    expect_err(kms_hex_decode("0000zz", 6, out, 2, &n), KMS_ERR_BAD_HEX);
    expect_err(kms_base64_decode("QUJD!!!!", 8, out, 2, &n), KMS_ERR_BAD_BASE64);
    expect_err(kms_base64_decode("!!!!QUJD", 8, out, 2, &n), KMS_ERR_BAD_BASE64);
    expect_err(kms_base64_decode("QUJDQUJD", 8, out, 2, &n), KMS_ERR_TOO_LONG);
}

/* The checked decimal that replaced strtoull in the UE state readers: "-1" used to read as
 * 2^64 - 1 (a bootstrap that never expires), " 7" and "+7" as 7, "007" as 7, and overflow as
 * ULLONG_MAX. */
static void dec_u64_one_spelling(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t max, want;
        bool ok;
    } cases[] = {
        {"0", UINT64_MAX, 0, true},
        {"7", UINT64_MAX, 7, true},
        {"1700003600", UINT64_MAX, 1700003600, true},
        {"18446744073709551615", UINT64_MAX, UINT64_MAX, true},
        {"18446744073709551616", UINT64_MAX, 0, false},
        {"99999999999999999999", UINT64_MAX, 0, false},
        {"100000000000000000000", UINT64_MAX, 0, false},
        {"-1", UINT64_MAX, 0, false},
        {"+7", UINT64_MAX, 0, false},
        {" 7", UINT64_MAX, 0, false},
        {"7 ", UINT64_MAX, 0, false},
        {"007", UINT64_MAX, 0, false},
        {"00", UINT64_MAX, 0, false},
        {"", UINT64_MAX, 0, false},
        {"0x10", UINT64_MAX, 0, false},
        {"10", 10, 10, true},
        {"11", 10, 0, false},
        {"9", 8, 0, false},
        {"8", 8, 8, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        kms_result r = kms_dec_decode_u64(cases[i].s, cases[i].max, &v);
        assert_int_equal(r.err, cases[i].ok ? KMS_OK : KMS_ERR_MALFORMED);
        assert_true(v == cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_rfc4648_vectors),  cmocka_unit_test(base64_rejects_bad_input),
        cmocka_unit_test(base64_truncations),      cmocka_unit_test(base64_output_caps),
        cmocka_unit_test(hex_round_trip_and_case), cmocka_unit_test(hex_rejects_bad_input),
        cmocka_unit_test(hex_exact_lengths),       cmocka_unit_test(malformed_wins_over_capacity),
        cmocka_unit_test(dec_u64_one_spelling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
