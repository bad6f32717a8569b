/* SPDX-License-Identifier: Apache-2.0 */
/* The UE state-file readers (kms_ue_state_decode, kms_ue_kue_state_decode). */
#include "testlib.h"

#include <stdio.h>
#include <string.h>

#include "ue/kms_ue_boot.h"
#include "ue/kms_ue_kms.h"

#define KS  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define RND "00112233445566778899aabbccddeeff"

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

static kms_result boot(const char *lifetime, const char *impi, struct kms_ue_state *st)
{
    char img[512];
    int n = snprintf(img, sizeof(img),
                     "version=1\nimpi=%s\nbtid=b@bsf\nrand=" RND "\nks=" KS "\nlifetime=%s\n", impi,
                     lifetime);
    assert_true(n > 0 && (size_t)n < sizeof(img));
    return kms_ue_state_decode((const uint8_t *)img, (size_t)n, st);
}

static void bootstrap_reads_what_the_bootstrap_writes(void **state)
{
    (void)state;
    struct kms_ue_state st;
    expect_ok(boot("1700003600", "alice@ims", &st));
    assert_string_equal(st.impi, "alice@ims");
    assert_string_equal(st.btid, "b@bsf");
    assert_true(st.lifetime == UINT64_C(1700003600));
    assert_int_equal(st.rand[15], 0xff);
    assert_int_equal(st.ks[31], 0x1f);
}

/* Regressions (found by fuzz_ue_state): strtoull read "-1" as 2^64 - 1, a Ks that never
 * expires, and took a sign, spaces and leading zeros. */
static void bootstrap_lifetime_has_one_spelling(void **state)
{
    (void)state;
    static const char *const bad[] = {"-1", "+5", " 5", "05", "", "18446744073709551616", "5x"};
    struct kms_ue_state st;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&st, 0x5a, sizeof(st));
        expect_err(boot(bad[i], "alice@ims", &st), KMS_ERR_MALFORMED);
        assert_true(all_zero(&st, sizeof(st)));
    }
}

/* Regression (found by fuzz_ue_state): "impi=alice\0x" read as "alice". */
static void bootstrap_refuses_nul_in_a_value(void **state)
{
    (void)state;
    static const char img[] =
        "version=1\nimpi=alice\0x\nbtid=b\nrand=" RND "\nks=" KS "\nlifetime=1\n";
    struct kms_ue_state st;
    expect_err(kms_ue_state_decode((const uint8_t *)img, sizeof(img) - 1, &st), KMS_ERR_MALFORMED);
}

static kms_result kue(const char *valid_from, const char *valid_to, struct kms_ue_kue_state *st)
{
    char img[512];
    int n = snprintf(img, sizeof(img),
                     "version=1\nmode=3\nkms=kms.example.org\nidentity=alice@ims\nkue=" KS
                     "\ntoken=0a0b0c\nvalid_from=%s\nvalid_to=%s\n",
                     valid_from, valid_to);
    assert_true(n > 0 && (size_t)n < sizeof(img));
    return kms_ue_kue_state_decode((const uint8_t *)img, (size_t)n, st);
}

static void kue_state_reads_and_refuses(void **state)
{
    (void)state;
    struct kms_ue_kue_state st;
    expect_ok(kue("1700000000", "1700086400", &st));
    assert_int_equal(st.mode, 3);
    assert_string_equal(st.kms, "kms.example.org");
    assert_string_equal(st.identity, "alice@ims");
    assert_int_equal(st.token_len, 3);
    assert_true(st.valid_to == UINT64_C(1700086400));
    expect_err(kue("1700000000", "-1", &st), KMS_ERR_MALFORMED);
    expect_err(kue("-1", "1700086400", &st), KMS_ERR_MALFORMED);
    expect_err(kue("1700000000", "017", &st), KMS_ERR_MALFORMED);
    expect_err(kue("x", "1700086400", &st), KMS_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bootstrap_reads_what_the_bootstrap_writes),
        cmocka_unit_test(bootstrap_lifetime_has_one_spelling),
        cmocka_unit_test(bootstrap_refuses_nul_in_a_value),
        cmocka_unit_test(kue_state_reads_and_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
