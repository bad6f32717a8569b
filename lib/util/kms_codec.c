/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_codec.h"

#include <stdbool.h>
#include <string.h>

#include "util/kms_cur.h"
#include "util/kms_mem.h"

static const char hexdig[] = "0123456789abcdef";
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int hex_val(uint8_t ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

static int b64_val(uint8_t ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }
    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }
    if (ch == '+') {
        return 62;
    }
    if (ch == '/') {
        return 63;
    }
    return -1;
}

static kms_result fail(uint8_t *out, size_t cap, size_t *out_len, enum kms_err e)
{
    kms_wipe(out, cap);
    *out_len = 0;
    return KMS_ERR(e);
}

/* Decodes one hex digit pair; false on a bad digit. */
static bool hex_pair(struct kms_cur *c, uint8_t *out)
{
    uint8_t hi_ch, lo_ch;
    if (!kms_ok(kms_cur_get_u8(c, &hi_ch)) || !kms_ok(kms_cur_get_u8(c, &lo_ch))) {
        return false;
    }
    int hi = hex_val(hi_ch), lo = hex_val(lo_ch);
    if (hi < 0 || lo < 0) {
        return false;
    }
    *out = (uint8_t)((hi << 4) | lo);
    return true;
}

/* Malformed input is reported as such whatever the output capacity: the whole string is
 * validated before the capacity is looked at. */
kms_result kms_hex_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *out_len)
{
    struct kms_cur c;
    uint8_t b;
    *out_len = 0;
    kms_cur_init(&c, (const uint8_t *)s, slen);
    if (slen % 2 != 0) {
        return fail(out, cap, out_len, KMS_ERR_BAD_HEX);
    }
    while (kms_cur_remaining(&c) > 0) {
        if (!hex_pair(&c, &b)) {
            return fail(out, cap, out_len, KMS_ERR_BAD_HEX);
        }
    }
    if (slen / 2 > cap) {
        return fail(out, cap, out_len, KMS_ERR_TOO_LONG);
    }
    kms_cur_init(&c, (const uint8_t *)s, slen);
    size_t n = 0;
    while (kms_cur_remaining(&c) > 0 && hex_pair(&c, &out[n])) {
        n++;
    }
    *out_len = n;
    return KMS_RESULT_OK;
}

kms_result kms_hex_decode_exact(const char *s, uint8_t *out, size_t n)
{
    size_t slen = strlen(s), got;
    kms_result r = kms_hex_decode(s, slen, out, n, &got);
    if (r.err == KMS_ERR_TOO_LONG || (kms_ok(r) && got != n)) {
        kms_wipe(out, n);
        KMS_BAIL(KMS_ERR_BAD_LENGTH);
    }
    return r;
}

kms_result kms_hex_encode(const uint8_t *in, size_t n, char *out, size_t out_cap)
{
    KMS_ENSURE(out_cap > 0 && (out_cap - 1) / 2 >= n, KMS_ERR_TOO_LONG);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
    return KMS_RESULT_OK;
}

/* Decodes one 4-character group into up to 3 bytes; false when it is not canonical base64.
 * Padding is allowed only in the last group, as "xx==" or "xxx=". */
static bool b64_group(const uint8_t q[4], bool last, uint8_t bytes[3], size_t *take)
{
    size_t pad = 0;
    if (last && q[3] == '=') {
        pad = q[2] == '=' ? 2 : 1;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        int d = i < 4 - pad ? b64_val(q[i]) : 0;
        if (d < 0) {
            return false;
        }
        v = (v << 6) | (uint32_t)d;
    }
    /* Non-canonical: bits below the last full byte must be zero. */
    if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0)) {
        return false;
    }
    *take = 3 - pad;
    for (size_t i = 0; i < 3; i++) {
        bytes[i] = (uint8_t)(v >> (16 - 8 * i));
    }
    return true;
}

/* Two passes over the cursor: validate everything and count, then check the capacity and
 * write, so that malformed input is reported as such whatever the output capacity. */
kms_result kms_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *out_len)
{
    struct kms_cur c;
    uint8_t q[4], bytes[3];
    size_t take, n = 0;
    *out_len = 0;
    if (slen % 4 != 0) {
        return fail(out, cap, out_len, KMS_ERR_BAD_BASE64);
    }
    for (int pass = 0; pass < 2; pass++) {
        kms_cur_init(&c, (const uint8_t *)s, slen);
        n = 0;
        while (kms_cur_remaining(&c) > 0) {
            if (!kms_ok(kms_cur_get_bytes(&c, q, 4)) ||
                !b64_group(q, kms_cur_remaining(&c) == 0, bytes, &take)) {
                return fail(out, cap, out_len, KMS_ERR_BAD_BASE64);
            }
            if (pass == 1) {
                memcpy(out + n, bytes, take);
            }
            n += take;
        }
        if (pass == 0 && n > cap) {
            return fail(out, cap, out_len, KMS_ERR_TOO_LONG);
        }
    }
    kms_wipe(bytes, sizeof(bytes));
    *out_len = n;
    return KMS_RESULT_OK;
}

kms_result kms_base64_encode(const uint8_t *in, size_t n, char *out, size_t out_cap)
{
    KMS_ENSURE(n <= (SIZE_MAX - 1) / 4 * 3 - 3, KMS_ERR_TOO_LONG);
    KMS_ENSURE(out_cap >= KMS_BASE64_ENC_LEN(n), KMS_ERR_TOO_LONG);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)in[i] << 16;
        if (left > 1) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (left > 2) {
            v |= in[i + 2];
        }
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = left > 1 ? b64[(v >> 6) & 63] : '=';
        out[o++] = left > 2 ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return KMS_RESULT_OK;
}

kms_result kms_dec_decode_u64(const char *s, uint64_t max, uint64_t *out)
{
    KMS_ENSURE(s != NULL && out != NULL, KMS_ERR_ARG);
    *out = 0;
    size_t n = strnlen(s, 21);
    KMS_ENSURE(n >= 1 && n <= 20 && (s[0] != '0' || n == 1), KMS_ERR_MALFORMED);
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        KMS_ENSURE(s[i] >= '0' && s[i] <= '9', KMS_ERR_MALFORMED);
        uint64_t d = (uint64_t)(s[i] - '0');
        KMS_ENSURE(d <= max && x <= (max - d) / 10, KMS_ERR_MALFORMED);
        x = x * 10 + d;
    }
    *out = x;
    return KMS_RESULT_OK;
}
