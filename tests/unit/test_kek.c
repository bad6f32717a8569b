/* SPDX-License-Identifier: Apache-2.0 */
/* KEK derivations against openssl-computed values (tests/vectors/kek_derive.txt), and the
 * registry's rules. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/kms_kek.h"

static const struct {
    const char *name;
    enum kms_kek_use use;
} uses[] = {
    {"KEYRING_WRAP", KMS_KEK_KEYRING_WRAP},       {"KEYRING_MAC", KMS_KEK_KEYRING_MAC},
    {"KEYRING_EPOCH", KMS_KEK_KEYRING_EPOCH},     {"KEYRING_ANCHOR", KMS_KEK_KEYRING_ANCHOR},
    {"SUBSCRIBER", KMS_KEK_SUBSCRIBER},           {"STATE_STORE", KMS_KEK_STATE_STORE},
    {"CHALLENGE_SEAL", KMS_KEK_CHALLENGE_SEAL},   {"REPLAY_SNAPSHOT", KMS_KEK_REPLAY_SNAPSHOT},
    {"KMS_REDIS_NAMES", KMS_KEK_KMS_REDIS_NAMES}, {"BSF_SESSION", KMS_KEK_BSF_SESSION},
    {"BSF_REDIS_NAME", KMS_KEK_BSF_REDIS_NAME},
};

static enum kms_kek_use use_named(const char *name)
{
    for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++) {
        if (strcmp(uses[i].name, name) == 0) {
            return uses[i].use;
        }
    }
    fail_msg("unknown use %s", name);
    return KMS_KEK_USE_COUNT;
}

/* Every block: the label is the registry's, and the derived key is openssl's. The version-1
 * blocks of the keyring and subscriber rows pin the keys existing files depend on. */
static void kek_derive_matches_openssl(void **state)
{
    (void)state;
    struct tv_file f;
    tv_load("kek_derive.txt", &f);
    assert_int_equal(f.n, 11);
    for (size_t i = 0; i < f.n; i++) {
        const struct tv_block *b = &f.blocks[i];
        uint8_t kek[32], want[32], got[32];
        enum kms_kek_use use = use_named(tv_get(b, "use"));
        assert_string_equal(kms_kek_label(use), tv_get(b, "label"));
        tv_hex(b, "kek", kek, 32);
        tv_hex(b, "key", want, 32);
        uint32_t version = (uint32_t)strtoul(tv_get(b, "version"), NULL, 10);
        expect_ok(kms_kek_derive(kek, use, version, got));
        expect_bytes_eq(got, want, 32);
    }
    tv_free(&f);
}

/* The registry: one label per use, distinct, printable ASCII (so an HMAC input of the
 * version-1 exception never equals an HKDF input, which ends with 0x01), so no two uses can
 * share a key. The test table above names every row. */
static void kek_registry_labels_distinct(void **state)
{
    (void)state;
    assert_int_equal(KMS_KEK_USE_COUNT, sizeof(uses) / sizeof(uses[0]));
    for (int i = 0; i < KMS_KEK_USE_COUNT; i++) {
        const char *a = kms_kek_label((enum kms_kek_use)i);
        assert_non_null(a);
        assert_true(strlen(a) > 0 && strlen(a) <= 64);
        for (const char *p = a; *p != '\0'; p++) {
            assert_true(*p >= 0x20 && *p < 0x7f);
        }
        for (int j = i + 1; j < KMS_KEK_USE_COUNT; j++) {
            assert_string_not_equal(a, kms_kek_label((enum kms_kek_use)j));
        }
    }
    assert_null(kms_kek_label(KMS_KEK_USE_COUNT));
}

/* Distinct uses and versions give distinct keys; bad arguments are refused with out wiped. */
static void kek_derive_separates_and_refuses(void **state)
{
    (void)state;
    uint8_t kek[32], k[KMS_KEK_USE_COUNT][3][32], out[32];
    memset(kek, 0x42, sizeof(kek));
    for (int u = 0; u < KMS_KEK_USE_COUNT; u++) {
        for (uint32_t v = 1; v <= 3; v++) {
            expect_ok(kms_kek_derive(kek, (enum kms_kek_use)u, v, k[u][v - 1]));
            assert_memory_not_equal(k[u][v - 1], kek, 32);
        }
    }
    for (int a = 0; a < KMS_KEK_USE_COUNT * 3; a++) {
        for (int b = a + 1; b < KMS_KEK_USE_COUNT * 3; b++) {
            assert_memory_not_equal(k[a / 3][a % 3], k[b / 3][b % 3], 32);
        }
    }
    memset(out, 0xee, sizeof(out));
    expect_err(kms_kek_derive(kek, KMS_KEK_STATE_STORE, 0, out), KMS_ERR_ARG);
    uint8_t zero[32] = {0};
    expect_bytes_eq(out, zero, 32);
    expect_err(kms_kek_derive(kek, KMS_KEK_USE_COUNT, 1, out), KMS_ERR_ARG);
    expect_err(kms_kek_derive(NULL, KMS_KEK_STATE_STORE, 1, out), KMS_ERR_ARG);
    expect_err(kms_kek_derive(kek, KMS_KEK_STATE_STORE, 1, NULL), KMS_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kek_derive_matches_openssl),
        cmocka_unit_test(kek_registry_labels_distinct),
        cmocka_unit_test(kek_derive_separates_and_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
