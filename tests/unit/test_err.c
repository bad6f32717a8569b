/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <string.h>

#include "err/kms_err.h"

static void every_code_has_a_distinct_name_and_a_message(void **state)
{
    (void)state;
    for (int i = 1; i < KMS_ERR_COUNT_; i++) {
        const char *name = kms_err_name((enum kms_err)i);
        const char *msg = kms_strerror((enum kms_err)i);
        assert_true(strncmp(name, "KMS_ERR_", 8) == 0);
        assert_true(strlen(msg) > 0);
        assert_null(strchr(msg, '\n'));
        for (int j = 1; j < i; j++) {
            assert_string_not_equal(name, kms_err_name((enum kms_err)j));
            assert_string_not_equal(msg, kms_strerror((enum kms_err)j));
        }
    }
}

static void unknown_codes_are_handled(void **state)
{
    (void)state;
    assert_string_equal(kms_strerror((enum kms_err)9999), "unknown error");
    assert_string_equal(kms_err_name((enum kms_err) - 1), "KMS_ERR_UNKNOWN");
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, (enum kms_err)9999).status, 500);
    assert_int_equal(kms_err_exit_status((enum kms_err)9999), 3);
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, (enum kms_err)9999).mikey_err,
                     12); /* Unspecified */
    assert_int_equal(kms_wire_of(KMS_IFACE_UB, (enum kms_err)9999).status, 500);
    assert_string_equal(kms_wire_of(KMS_IFACE_ZN, (enum kms_err)9999).zn_code, "internal");
    assert_int_equal(kms_wire_of((enum kms_iface)7, KMS_ERR_AUTH).status, 500);
}

static void groups_map_to_exit_status_and_http(void **state)
{
    (void)state;
    assert_int_equal(kms_err_exit_status(KMS_OK), 0);
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, KMS_OK).status, 200);
    assert_int_equal(kms_wire_of(KMS_IFACE_UB, KMS_OK).status, 200);
    assert_int_equal(kms_wire_of(KMS_IFACE_ZN, KMS_OK).status, 200);
    assert_null(kms_wire_of(KMS_IFACE_ZN, KMS_OK).zn_code);
    assert_int_equal(kms_err_exit_status(KMS_ERR_MAC_S), 1);
    assert_int_equal(kms_err_exit_status(KMS_ERR_SQN_STALE), 1);
    assert_int_equal(kms_err_exit_status(KMS_ERR_BAD_HEX), 2);
    assert_int_equal(kms_err_exit_status(KMS_ERR_TRUNCATED), 2);
    assert_int_equal(kms_err_exit_status(KMS_ERR_NOMEM), 3);
    assert_int_equal(kms_err_exit_status(KMS_ERR_CRYPTO), 3);
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_MALFORMED).mikey_err, 12);
}

static void kms_err_records_where(void **state)
{
    (void)state;
    int line = 0;
    kms_result r = KMS_ERR(KMS_ERR_TRAILING);
    int expect = __LINE__ - 1;
    assert_int_equal(r.err, KMS_ERR_TRAILING);
    assert_non_null(strstr(kms_err_where(&line), "test_err.c"));
    assert_int_equal(line, expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_distinct_name_and_a_message),
        cmocka_unit_test(unknown_codes_are_handled),
        cmocka_unit_test(groups_map_to_exit_status_and_http),
        cmocka_unit_test(kms_err_records_where),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
