/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <string.h>

#include "util/kms_cur.h"

static const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};

static void reads_big_endian_integers(void **state)
{
    (void)state;
    struct kms_cur c;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    kms_cur_init(&c, data, sizeof(data));
    expect_ok(kms_cur_get_u8(&c, &u8));
    assert_int_equal(u8, 0x01);
    expect_ok(kms_cur_get_u16(&c, &u16));
    assert_int_equal(u16, 0x0203);
    expect_ok(kms_cur_get_u32(&c, &u32));
    assert_int_equal(u32, 0x04050607);
    assert_int_equal(kms_cur_offset(&c), 7);
    assert_int_equal(kms_cur_remaining(&c), 2);
    kms_cur_init(&c, data, sizeof(data));
    expect_ok(kms_cur_get_u48(&c, &u64));
    assert_int_equal(u64, 0x010203040506ULL);
    kms_cur_init(&c, data, sizeof(data));
    expect_ok(kms_cur_get_u64(&c, &u64));
    assert_int_equal(u64, 0x0102030405060708ULL);
    expect_err(kms_cur_expect_end(&c), KMS_ERR_TRAILING);
    expect_ok(kms_cur_skip(&c, 1));
    expect_ok(kms_cur_expect_end(&c));
}

/* Every read on every too-short input fails, zeroes its output and leaves the cursor as it was. */
static void truncated_reads_fail_without_moving(void **state)
{
    (void)state;
    static const size_t widths[] = {1, 2, 4, 6, 8};
    for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
        for (size_t len = 0; len < widths[w]; len++) {
            struct kms_cur c;
            uint8_t u8 = 0xaa;
            uint16_t u16 = 0xaaaa;
            uint32_t u32 = 0xaaaaaaaa;
            uint64_t u64 = 0xaaaa;
            kms_cur_init(&c, data, len);
            kms_result r;
            switch (widths[w]) {
            case 1:
                r = kms_cur_get_u8(&c, &u8);
                assert_int_equal(u8, 0);
                break;
            case 2:
                r = kms_cur_get_u16(&c, &u16);
                assert_int_equal(u16, 0);
                break;
            case 4:
                r = kms_cur_get_u32(&c, &u32);
                assert_int_equal(u32, 0);
                break;
            case 6:
                r = kms_cur_get_u48(&c, &u64);
                assert_int_equal(u64, 0);
                break;
            default:
                r = kms_cur_get_u64(&c, &u64);
                assert_int_equal(u64, 0);
                break;
            }
            assert_int_equal(r.err, KMS_ERR_TRUNCATED);
            assert_int_equal(kms_cur_remaining(&c), len);
            assert_int_equal(kms_cur_offset(&c), 0);
        }
    }
}

static void get_bytes_copies_or_zeroes(void **state)
{
    (void)state;
    struct kms_cur c;
    uint8_t out[4];
    kms_cur_init(&c, data, 3);
    memset(out, 0xaa, sizeof(out));
    expect_err(kms_cur_get_bytes(&c, out, 4), KMS_ERR_TRUNCATED);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(out[i], 0);
    }
    assert_int_equal(kms_cur_remaining(&c), 3);
    expect_ok(kms_cur_get_bytes(&c, out, 3));
    expect_bytes_eq(out, data, 3);
    expect_ok(kms_cur_get_bytes(&c, out, 0));
    expect_err(kms_cur_skip(&c, 1), KMS_ERR_TRUNCATED);
    uint8_t u8;
    expect_err(kms_cur_peek_u8(&c, &u8), KMS_ERR_TRUNCATED);
}

static void views_carry_absolute_offsets(void **state)
{
    (void)state;
    struct kms_cur c, sub, inner;
    uint8_t u8;
    kms_cur_init(&c, data, sizeof(data));
    expect_ok(kms_cur_skip(&c, 2));
    expect_ok(kms_cur_get_view(&c, 4, &sub));
    assert_int_equal(kms_cur_offset(&sub), 2);
    assert_int_equal(kms_cur_offset(&c), 6);
    expect_ok(kms_cur_skip(&sub, 1));
    expect_ok(kms_cur_get_view(&sub, 2, &inner));
    assert_int_equal(kms_cur_offset(&inner), 3);
    expect_ok(kms_cur_peek_u8(&inner, &u8));
    assert_int_equal(u8, 0x04);
    expect_err(kms_cur_get_view(&sub, 2, &inner), KMS_ERR_TRUNCATED);
    assert_int_equal(kms_cur_remaining(&inner), 0);
    expect_ok(kms_cur_get_view(&sub, 0, &inner));
    expect_ok(kms_cur_expect_end(&inner));
}

static void lv_blocks_are_bounded(void **state)
{
    (void)state;
    struct kms_cur c, sub;
    /* lv8: length 3 then 3 bytes, then a length that runs past the end. */
    const uint8_t lv8[] = {0x03, 0xa, 0xb, 0xc, 0x05, 0x1, 0x2};
    kms_cur_init(&c, lv8, sizeof(lv8));
    expect_ok(kms_cur_get_lv8(&c, &sub));
    assert_int_equal(kms_cur_remaining(&sub), 3);
    assert_int_equal(kms_cur_offset(&sub), 1);
    expect_err(kms_cur_get_lv8(&c, &sub), KMS_ERR_TRUNCATED);
    assert_int_equal(kms_cur_remaining(&c), 3); /* the length octet was not consumed */
    assert_int_equal(kms_cur_remaining(&sub), 0);
    /* lv16 prefix itself truncated */
    kms_cur_init(&c, lv8, 1);
    expect_err(kms_cur_get_lv16(&c, &sub), KMS_ERR_TRUNCATED);
    assert_int_equal(kms_cur_remaining(&c), 1);
}

/* Lengths 0, max and max+1 for a 16-bit length prefix. */
static void lv16_zero_max_and_max_plus_one(void **state)
{
    (void)state;
    static uint8_t big[2 + 0xffff + 1];
    struct kms_cur c, sub;
    big[0] = 0x00;
    big[1] = 0x00;
    kms_cur_init(&c, big, 2);
    expect_ok(kms_cur_get_lv16(&c, &sub));
    assert_int_equal(kms_cur_remaining(&sub), 0);
    expect_ok(kms_cur_expect_end(&c));

    big[0] = 0xff;
    big[1] = 0xff;
    kms_cur_init(&c, big, 2 + 0xffff);
    expect_ok(kms_cur_get_lv16(&c, &sub));
    assert_int_equal(kms_cur_remaining(&sub), 0xffff);
    expect_ok(kms_cur_expect_end(&c));

    /* one byte short of what the prefix announces */
    kms_cur_init(&c, big, 2 + 0xfffe);
    expect_err(kms_cur_get_lv16(&c, &sub), KMS_ERR_TRUNCATED);
    /* one byte more than announced: the block is fine, the extra byte is trailing */
    kms_cur_init(&c, big, 2 + 0xffff + 1);
    expect_ok(kms_cur_get_lv16(&c, &sub));
    expect_err(kms_cur_expect_end(&c), KMS_ERR_TRAILING);
}

static void empty_and_null_inputs(void **state)
{
    (void)state;
    struct kms_cur c;
    uint8_t u8;
    kms_cur_init(&c, NULL, 0);
    assert_int_equal(kms_cur_remaining(&c), 0);
    expect_err(kms_cur_get_u8(&c, &u8), KMS_ERR_TRUNCATED);
    expect_ok(kms_cur_expect_end(&c));
    /* a NULL pointer with a length is treated as empty, never dereferenced */
    kms_cur_init(&c, NULL, 5);
    assert_int_equal(kms_cur_remaining(&c), 0);
}

static void kv_lines(void **state)
{
    (void)state;
    static const char text[] = "version=1\nname=\nkey=abc";
    struct kms_cur c;
    char v[4];
    kms_cur_init(&c, (const uint8_t *)text, sizeof(text) - 1);
    assert_int_equal(kms_cur_get_kv_line(&c, "vers", v, sizeof(v)).err, KMS_ERR_MALFORMED);
    assert_int_equal(kms_cur_get_kv_line(&c, "name", v, sizeof(v)).err, KMS_ERR_MALFORMED);
    assert_int_equal(kms_cur_offset(&c), 0); /* failures leave the cursor unmoved */
    assert_int_equal(kms_cur_get_kv_line(&c, "version", v, 1).err, KMS_ERR_TOO_LONG);
    assert_int_equal(kms_cur_get_kv_line(&c, "version", v, sizeof(v)).err, KMS_OK);
    assert_string_equal(v, "1");
    assert_int_equal(kms_cur_offset(&c), 10);
    assert_int_equal(kms_cur_get_kv_line(&c, "name", v, sizeof(v)).err, KMS_OK);
    assert_string_equal(v, "");
    /* The last line has no newline: truncated, and nothing consumed. */
    assert_int_equal(kms_cur_get_kv_line(&c, "key", v, sizeof(v)).err, KMS_ERR_TRUNCATED);
    assert_int_equal(kms_cur_remaining(&c), 7);
}

/* A NUL or control octet in a value is refused: "impi=alice\0x" used to read as "alice". */
static void kv_line_refuses_nul_and_controls(void **state)
{
    (void)state;
    static const char nul[] = "impi=alice\0x\n", tab[] = "impi=a\tb\n", del[] = "impi=a\x7f\n";
    static const char sp[] = "impi=a b\n";
    struct kms_cur c;
    char v[16];
    kms_cur_init(&c, (const uint8_t *)nul, sizeof(nul) - 1);
    assert_int_equal(kms_cur_get_kv_line(&c, "impi", v, sizeof(v)).err, KMS_ERR_MALFORMED);
    assert_int_equal(kms_cur_offset(&c), 0);
    kms_cur_init(&c, (const uint8_t *)tab, sizeof(tab) - 1);
    assert_int_equal(kms_cur_get_kv_line(&c, "impi", v, sizeof(v)).err, KMS_ERR_MALFORMED);
    kms_cur_init(&c, (const uint8_t *)del, sizeof(del) - 1);
    assert_int_equal(kms_cur_get_kv_line(&c, "impi", v, sizeof(v)).err, KMS_ERR_MALFORMED);
    kms_cur_init(&c, (const uint8_t *)sp, sizeof(sp) - 1);
    assert_int_equal(kms_cur_get_kv_line(&c, "impi", v, sizeof(v)).err, KMS_OK);
    assert_string_equal(v, "a b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_big_endian_integers),
        cmocka_unit_test(truncated_reads_fail_without_moving),
        cmocka_unit_test(get_bytes_copies_or_zeroes),
        cmocka_unit_test(views_carry_absolute_offsets),
        cmocka_unit_test(lv_blocks_are_bounded),
        cmocka_unit_test(lv16_zero_max_and_max_plus_one),
        cmocka_unit_test(empty_and_null_inputs),
        cmocka_unit_test(kv_lines),
        cmocka_unit_test(kv_line_refuses_nul_and_controls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
