/* SPDX-License-Identifier: Apache-2.0 */
/* kms_tab: bounded open-addressed table, checked against a plain array model. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "util/kms_tab.h"

struct rec {
    uint8_t key[KMS_TAB_KEY_LEN];
    uint32_t val;
};

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Keys from a small space, so that inserts collide with existing keys and probe runs form. */
static void key_of(uint32_t k, uint8_t key[KMS_TAB_KEY_LEN])
{
    memset(key, 0, KMS_TAB_KEY_LEN);
    uint64_t h = (uint64_t)k * 0x9e3779b97f4a7c15u;
    h = h % 97 + 330; /* few homes near the end of the 400 slots: long runs that wrap around */
    memcpy(key, &h, sizeof(h));
    memcpy(key + 8, &k, sizeof(k));
}

static void test_basic(void **state)
{
    (void)state;
    struct kms_tab *t = NULL;
    expect_err(kms_tab_new(0, 32, &t), KMS_ERR_ARG);
    expect_err(kms_tab_new(4, 8, &t), KMS_ERR_ARG);
    expect_ok(kms_tab_new(4, sizeof(struct rec), &t));
    uint8_t k[KMS_TAB_KEY_LEN];
    void *r = NULL;
    for (uint32_t i = 0; i < 4; i++) {
        key_of(i, k);
        expect_ok(kms_tab_insert(t, k, &r));
        ((struct rec *)r)->val = i + 100;
    }
    key_of(9, k);
    expect_err(kms_tab_insert(t, k, &r), KMS_ERR_FULL);
    key_of(2, k);
    expect_err(kms_tab_insert(t, k, &r), KMS_ERR_EXISTS);
    struct rec *f = kms_tab_find(t, k);
    assert_non_null(f);
    assert_int_equal(f->val, 102);
    kms_tab_delete(t, f);
    assert_null(kms_tab_find(t, k));
    assert_int_equal(kms_tab_count(t), 3);
    kms_tab_free(t);
}

static bool drop_odd(const void *rec, void *arg)
{
    (void)arg;
    return (((const struct rec *)rec)->val & 1) != 0;
}

/* Random inserts, deletes, finds and sweeps against a model array. */
static void test_model(void **state)
{
    (void)state;
    enum { MAX = 200, SPACE = 400, OPS = 200000 };
    struct kms_tab *t = NULL;
    expect_ok(kms_tab_new(MAX, sizeof(struct rec), &t));
    static int32_t model[SPACE]; /* value + 1, 0 = absent */
    memset(model, 0, sizeof(model));
    size_t count = 0;
    uint8_t k[KMS_TAB_KEY_LEN];
    for (int op = 0; op < OPS; op++) {
        uint32_t id = (uint32_t)(next_rand() % SPACE);
        key_of(id, k);
        unsigned what = (unsigned)(next_rand() % 10);
        struct rec *f = kms_tab_find(t, k);
        assert_int_equal(f != NULL, model[id] != 0);
        if (f != NULL) {
            assert_int_equal((int32_t)f->val + 1, model[id]);
        }
        if (what < 5) {
            void *r = NULL;
            kms_result res = kms_tab_insert(t, k, &r);
            if (model[id] != 0) {
                assert_int_equal(res.err, KMS_ERR_EXISTS);
            } else if (count == MAX) {
                assert_int_equal(res.err, KMS_ERR_FULL);
            } else {
                expect_ok(res);
                uint32_t v = (uint32_t)(next_rand() % 1000);
                ((struct rec *)r)->val = v;
                model[id] = (int32_t)v + 1;
                count++;
            }
        } else if (what < 9) {
            if (f != NULL) {
                kms_tab_delete(t, f);
                model[id] = 0;
                count--;
            }
        } else if (op % 50 == 0) {
            size_t want = 0;
            for (size_t i = 0; i < SPACE; i++) {
                if (model[i] != 0 && ((model[i] - 1) & 1) != 0) {
                    model[i] = 0;
                    want++;
                }
            }
            assert_int_equal(kms_tab_sweep(t, drop_odd, NULL), want);
            count -= want;
        }
        assert_int_equal(kms_tab_count(t), count);
    }
    for (uint32_t id = 0; id < SPACE; id++) {
        key_of(id, k);
        assert_int_equal(kms_tab_find(t, k) != NULL, model[id] != 0);
    }
    kms_tab_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
