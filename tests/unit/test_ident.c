/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util/kms_ident: every rule's edges. Lengths 0, the maximum and one past it, each class of bad
 * octet (space, control, DEL, NUL, top bit set) at the start, the middle and the end (the
 * character check works eight octets at a time, so bad octets are also placed in and after a
 * full word), and letter case.
 */
#include "testlib.h"

#include <string.h>

#include "util/kms_ident.h"

typedef kms_result (*check_fn)(const char *, size_t);

/* The printable-token rule of IMPI, IMPU and B-TID, up to max octets. */
static void token_rule(check_fn check, size_t max)
{
    char s[400];
    memset(s, 'a', sizeof(s));
    expect_err(check(NULL, 1), KMS_ERR_ARG);
    expect_err(check("", 0), KMS_ERR_ARG);
    expect_err(check("a", 0), KMS_ERR_ARG);
    expect_ok(check("a", 1));
    expect_ok(check(s, max));
    expect_err(check(s, max + 1), KMS_ERR_TOO_LONG);
    /* every printable octet but space is accepted, either case */
    char all[94];
    for (size_t i = 0; i < sizeof(all); i++) {
        all[i] = (char)(0x21 + i);
    }
    expect_ok(check(all, sizeof(all)));
    expect_ok(check("Alice@IMS.Example.ORG", 21));
    /* one bad octet anywhere in a 20-octet name: before, inside and after the 8-octet words */
    static const unsigned char bad[] = {0x00, 0x01, 0x09, 0x0a, 0x1f, 0x20,
                                        0x7f, 0x80, 0xa0, 0xc3, 0xff};
    for (size_t b = 0; b < sizeof(bad); b++) {
        for (size_t at = 0; at < 20; at++) {
            char t[20];
            memset(t, 'x', sizeof(t));
            t[at] = (char)bad[b];
            kms_result r = check(t, sizeof(t));
            if (r.err != KMS_ERR_NOT_ASCII) {
                fail_msg("octet 0x%02x at %zu: %s", bad[b], at, kms_err_name(r.err));
            }
        }
    }
    expect_err(check("us er@x", 7), KMS_ERR_NOT_ASCII);
    expect_err(check("\xc3\xa9@x", 4), KMS_ERR_NOT_ASCII);
    /* the length given is what is checked: a NUL inside it is an octet, one past it is not */
    expect_err(check("a\0b", 3), KMS_ERR_NOT_ASCII);
    expect_ok(check("ab c", 2));
}

static void impi_rule(void **state)
{
    (void)state;
    token_rule(kms_ident_check_impi, 255);
    expect_ok(kms_ident_check_impi("user@example.org", 16));
    expect_ok(kms_ident_check_impi("001010123456789@ims.mnc001.mcc001.3gppnetwork.org", 49));
}

static void impu_rule(void **state)
{
    (void)state;
    token_rule(kms_ident_check_impu, 255);
    expect_ok(kms_ident_check_impu("sip:alice@ims.example.org", 25));
    expect_ok(kms_ident_check_impu("tel:+15550100", 13));
    expect_err(kms_ident_check_impu("sip:a b", 7), KMS_ERR_NOT_ASCII);
}

static void btid_rule(void **state)
{
    (void)state;
    /* KMS_BTID_MAX is a buffer size: the longest B-TID is one octet less */
    assert_int_equal(KMS_BTID_MAX, 24 + 1 + 255 + 1);
    token_rule(kms_ident_check_btid, KMS_BTID_MAX - 1);
    expect_ok(kms_ident_check_btid("I1U8vpY3qJ0hiuZNrke/NQ==@bsf.example.org", 40));
}

static void fqdn_rule(void **state)
{
    (void)state;
    char s[300];
    memset(s, 'a', sizeof(s));
    expect_err(kms_ident_check_fqdn(NULL, 1), KMS_ERR_ARG);
    expect_err(kms_ident_check_fqdn("", 0), KMS_ERR_ARG);
    expect_ok(kms_ident_check_fqdn("a", 1));
    expect_ok(kms_ident_check_fqdn("kms.example.org", 15));
    expect_ok(kms_ident_check_fqdn("a-b.c1", 6));
    expect_ok(kms_ident_check_fqdn("KMS.Example.ORG", 15)); /* case is kept, not refused */
    expect_ok(kms_ident_check_fqdn("0-9.Z-a", 7));
    /* labels: 63 octets at most, never empty */
    expect_ok(kms_ident_check_fqdn(s, 63));
    expect_err(kms_ident_check_fqdn(s, 64), KMS_ERR_ARG);
    expect_err(kms_ident_check_fqdn("kms..org", 8), KMS_ERR_ARG);
    expect_err(kms_ident_check_fqdn(".org", 4), KMS_ERR_ARG);
    expect_err(kms_ident_check_fqdn("org.", 4), KMS_ERR_ARG);
    expect_err(kms_ident_check_fqdn(".", 1), KMS_ERR_ARG);
    /* 253 octets in total at most: four labels of 63 with dots are 255, so trim the last */
    for (size_t i = 63; i < sizeof(s); i += 64) {
        s[i] = '.';
    }
    expect_ok(kms_ident_check_fqdn(s, 253));
    expect_err(kms_ident_check_fqdn(s, 254), KMS_ERR_TOO_LONG);
    /* other octets: ARG, or NOT_ASCII when the top bit is set */
    expect_err(kms_ident_check_fqdn("a b", 3), KMS_ERR_ARG);
    expect_err(kms_ident_check_fqdn("a_b", 3), KMS_ERR_ARG);
    expect_err(kms_ident_check_fqdn("a\0b", 3), KMS_ERR_ARG);
    expect_err(kms_ident_check_fqdn("a:443", 5), KMS_ERR_ARG);
    expect_err(kms_ident_check_fqdn("k\xc3\xa9", 3), KMS_ERR_NOT_ASCII);
    expect_err(kms_ident_check_fqdn("\x80", 1), KMS_ERR_NOT_ASCII);
}

static void chars_ok_edges(void **state)
{
    (void)state;
    uint8_t b[64] = {0};
    assert_true(kms_ident_chars_ok(b, 0));
    for (unsigned v = 0; v < 256; v++) {
        for (size_t n = 1; n <= 17; n += 8) { /* the bad octet last in 1, 9 and 17 octets */
            memset(b, '!', sizeof(b));
            b[n - 1] = (uint8_t)v;
            bool want = v >= 0x21 && v <= 0x7e;
            if (kms_ident_chars_ok(b, n) != want) {
                fail_msg("octet 0x%02x last of %zu", v, n);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(impi_rule), cmocka_unit_test(impu_rule),      cmocka_unit_test(btid_rule),
        cmocka_unit_test(fqdn_rule), cmocka_unit_test(chars_ok_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
