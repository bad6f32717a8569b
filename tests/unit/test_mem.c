/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <string.h>

#include <openssl/crypto.h>

#include "util/kms_mem.h"

static void secrets_are_zeroed_copied_and_freed(void **state)
{
    (void)state;
    struct kms_secret *s = NULL;
    expect_err(kms_secret_new(0, &s), KMS_ERR_ARG);
    assert_null(s);
    expect_ok(kms_secret_new(32, &s));
    assert_int_equal(s->len, 32);
    for (size_t i = 0; i < 32; i++) {
        assert_int_equal(s->d[i], 0);
    }
    kms_secret_free(s);
    const uint8_t key[4] = {1, 2, 3, 4};
    expect_ok(kms_secret_from(key, sizeof(key), &s));
    expect_bytes_eq(s->d, key, 4);
    kms_secret_free(s);
    kms_secret_free(NULL);
}

static void secure_heap_holds_secrets(void **state)
{
    (void)state;
    struct kms_secret *s = NULL;
    expect_ok(kms_mem_secure_init(1 << 16));
    expect_ok(kms_mem_secure_init(1 << 16)); /* idempotent */
    expect_ok(kms_secret_new(48, &s));
    assert_true(CRYPTO_secure_allocated(s->d));
    kms_secret_free(s);
}

static void wipe_and_constant_time_compare(void **state)
{
    (void)state;
    uint8_t a[16], b[16];
    memset(a, 0x42, sizeof(a));
    memcpy(b, a, sizeof(b));
    assert_true(kms_ct_eq(a, b, sizeof(a)));
    for (size_t i = 0; i < sizeof(a); i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            assert_false(kms_ct_eq(a, b, sizeof(a)));
            b[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_true(kms_ct_eq(a, b, 0));
    kms_wipe(a, sizeof(a));
    for (size_t i = 0; i < sizeof(a); i++) {
        assert_int_equal(a[i], 0);
    }
    kms_wipe(NULL, 4);
}

static void bounded_string_copy(void **state)
{
    (void)state;
    char d[4];
    assert_int_equal(kms_str_copy(d, sizeof(d), "abc").err, KMS_OK);
    assert_string_equal(d, "abc");
    assert_int_equal(kms_str_copy(d, sizeof(d), "").err, KMS_OK);
    assert_string_equal(d, "");
    memcpy(d, "xyz", 4);
    assert_int_equal(kms_str_copy(d, sizeof(d), "abcd").err,
                     KMS_ERR_TOO_LONG); /* no room for NUL */
    assert_string_equal(d, "");
    assert_int_equal(kms_str_copy(d, 0, "a").err, KMS_ERR_ARG);
    assert_int_equal(kms_str_copy(NULL, 4, "a").err, KMS_ERR_ARG);
    assert_int_equal(kms_str_copy(d, sizeof(d), NULL).err, KMS_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(secrets_are_zeroed_copied_and_freed),
        cmocka_unit_test(secure_heap_holds_secrets),
        cmocka_unit_test(wipe_and_constant_time_compare),
        cmocka_unit_test(bounded_string_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
