/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <string.h>

#include "util/kms_buf.h"
#include "util/kms_cur.h"

static void writes_big_endian_and_reads_back(void **state)
{
    (void)state;
    struct kms_buf b;
    struct kms_cur c;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u48, u64;
    kms_buf_init(&b, 64, false);
    expect_ok(kms_buf_put_u8(&b, 0x01));
    expect_ok(kms_buf_put_u16(&b, 0x0203));
    expect_ok(kms_buf_put_u32(&b, 0x04050607));
    expect_ok(kms_buf_put_u48(&b, 0x08090a0b0c0dULL));
    expect_ok(kms_buf_put_u64(&b, 0x0e0f101112131415ULL));
    expect_err(kms_buf_put_u48(&b, 1ULL << 48), KMS_ERR_TOO_LONG);
    assert_int_equal(kms_buf_len(&b), 21);
    for (size_t i = 0; i < 21; i++) {
        assert_int_equal(kms_buf_data(&b)[i], i + 1);
    }
    kms_cur_init(&c, kms_buf_data(&b), kms_buf_len(&b));
    expect_ok(kms_cur_get_u8(&c, &u8));
    expect_ok(kms_cur_get_u16(&c, &u16));
    expect_ok(kms_cur_get_u32(&c, &u32));
    expect_ok(kms_cur_get_u48(&c, &u48));
    expect_ok(kms_cur_get_u64(&c, &u64));
    expect_ok(kms_cur_expect_end(&c));
    assert_int_equal(u48, 0x08090a0b0c0dULL);
    kms_buf_cleanup(&b);
    assert_null(b.d);
}

/* Filling to exactly max works; one byte more fails and changes nothing. */
static void cap_is_enforced(void **state)
{
    (void)state;
    struct kms_buf b;
    uint8_t chunk[100];
    memset(chunk, 0x5a, sizeof(chunk));
    kms_buf_init(&b, 1000, true);
    for (int i = 0; i < 10; i++) {
        expect_ok(kms_buf_put_bytes(&b, chunk, sizeof(chunk)));
    }
    assert_int_equal(kms_buf_len(&b), 1000);
    expect_err(kms_buf_put_u8(&b, 1), KMS_ERR_TOO_LONG);
    expect_err(kms_buf_put_bytes(&b, chunk, SIZE_MAX), KMS_ERR_TOO_LONG);
    assert_int_equal(kms_buf_len(&b), 1000);
    assert_int_equal(kms_buf_data(&b)[999], 0x5a);
    kms_buf_cleanup(&b);
}

/* Zero octets into a heap buffer that holds nothing yet: accepted, nothing stored, and no
 * pointer arithmetic on its NULL storage (NULL + 0: caught by clang's UBSan, as in the fuzz
 * preset or asan-ubsan configured with clang; gcc's UBSan does not check it). */
/* A reservation allocates once, keeps the contents, and never goes past max. */
static void reserve_keeps_contents_and_max(void **state)
{
    (void)state;
    struct kms_buf b;
    kms_buf_init(&b, 100, false);
    expect_ok(kms_buf_put_u8(&b, 0x42));
    expect_ok(kms_buf_reserve(&b, 1000)); /* capped at max */
    assert_int_equal(b.cap, 100);
    assert_int_equal(kms_buf_len(&b), 1);
    assert_int_equal(kms_buf_data(&b)[0], 0x42);
    const uint8_t *d = kms_buf_data(&b);
    for (int i = 0; i < 99; i++) {
        expect_ok(kms_buf_put_u8(&b, (uint8_t)i)); /* no further allocation */
    }
    assert_ptr_equal(kms_buf_data(&b), d);
    expect_err(kms_buf_put_u8(&b, 0), KMS_ERR_TOO_LONG);
    kms_buf_cleanup(&b);
    uint8_t st[8];
    kms_buf_init_fixed(&b, st, sizeof(st), false);
    expect_ok(kms_buf_reserve(&b, 64)); /* a fixed buffer stays as it is */
    assert_int_equal(b.cap, sizeof(st));
    kms_buf_cleanup(&b);
}

static void empty_put_into_unallocated_buffer(void **state)
{
    (void)state;
    struct kms_buf b;
    const uint8_t none[1] = {0};
    uint8_t *w = (uint8_t *)&b;
    kms_buf_init(&b, 1000, false);
    expect_ok(kms_buf_put_bytes(&b, none, 0));
    expect_ok(kms_buf_put_space(&b, 0, &w));
    assert_null(w);
    assert_int_equal(kms_buf_len(&b), 0);
    expect_ok(kms_buf_put_u8(&b, 7));
    expect_ok(kms_buf_put_space(&b, 0, &w));
    assert_ptr_equal(w, kms_buf_data(&b) + 1);
    assert_int_equal(kms_buf_len(&b), 1);
    kms_buf_cleanup(&b);
}

static void fixed_buffers_never_grow_and_wipe_secrets(void **state)
{
    (void)state;
    uint8_t storage[8];
    struct kms_buf b;
    uint8_t *w;
    kms_buf_init_fixed(&b, storage, sizeof(storage), true);
    expect_ok(kms_buf_put_u64(&b, 0x1122334455667788ULL));
    expect_err(kms_buf_put_u8(&b, 0), KMS_ERR_TOO_LONG);
    expect_err(kms_buf_put_space(&b, 1, &w), KMS_ERR_TOO_LONG);
    assert_null(w);
    assert_int_equal(storage[0], 0x11);
    kms_buf_cleanup(&b);
    for (size_t i = 0; i < sizeof(storage); i++) {
        assert_int_equal(storage[i], 0);
    }
    assert_ptr_equal(b.d, storage);
}

static void length_reservations(void **state)
{
    (void)state;
    struct kms_buf b;
    size_t m8, m16;
    uint8_t chunk[300];
    memset(chunk, 1, sizeof(chunk));
    kms_buf_init(&b, 1 << 20, false);
    expect_ok(kms_buf_reserve_len8(&b, &m8));
    expect_ok(kms_buf_put_bytes(&b, chunk, 255));
    expect_ok(kms_buf_fill_len8(&b, m8));
    assert_int_equal(kms_buf_data(&b)[0], 255);
    expect_ok(kms_buf_reserve_len8(&b, &m8));
    expect_ok(kms_buf_put_bytes(&b, chunk, 256));
    expect_err(kms_buf_fill_len8(&b, m8), KMS_ERR_TOO_LONG);
    kms_buf_reset(&b);
    expect_ok(kms_buf_reserve_len16(&b, &m16));
    expect_ok(kms_buf_put_bytes(&b, chunk, 300));
    expect_ok(kms_buf_fill_len16(&b, m16));
    assert_int_equal(kms_buf_data(&b)[0], 0x01);
    assert_int_equal(kms_buf_data(&b)[1], 0x2c);
    /* an empty block */
    expect_ok(kms_buf_reserve_len16(&b, &m16));
    expect_ok(kms_buf_fill_len16(&b, m16));
    assert_int_equal(kms_buf_len(&b), 2 + 300 + 2);
    /* 0xffff fits, 0x10000 does not */
    kms_buf_reset(&b);
    expect_ok(kms_buf_reserve_len16(&b, &m16));
    for (int i = 0; i < 0xffff; i++) {
        expect_ok(kms_buf_put_u8(&b, 0));
    }
    expect_ok(kms_buf_fill_len16(&b, m16));
    expect_ok(kms_buf_put_u8(&b, 0));
    expect_err(kms_buf_fill_len16(&b, m16), KMS_ERR_TOO_LONG);
    /* a mark past the end is a caller bug, not a crash */
    expect_err(kms_buf_fill_len16(&b, kms_buf_len(&b) + 10), KMS_ERR_INTERNAL);
    kms_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_big_endian_and_reads_back),
        cmocka_unit_test(cap_is_enforced),
        cmocka_unit_test(empty_put_into_unallocated_buffer),
        cmocka_unit_test(reserve_keeps_contents_and_max),
        cmocka_unit_test(fixed_buffers_never_grow_and_wipe_secrets),
        cmocka_unit_test(length_reservations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
