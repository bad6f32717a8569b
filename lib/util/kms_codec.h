/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hex and base64 codecs. Decoders are strict and read through the bounded cursor:
 *  - hex: an even number of [0-9a-fA-F], nothing else (no prefix, no spaces);
 *  - base64: the standard alphabet of RFC 4648 section 4, padded to a multiple of 4 characters,
 *    '=' only at the end, and the unused bits of the last group zero (canonical), so that every
 *    byte string has exactly one accepted encoding.
 * Encoders write lower-case hex and padded standard base64, NUL-terminated.
 * On failure the output is wiped and *out_len is 0.
 */
#ifndef KMS_UTIL_CODEC_H
#define KMS_UTIL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"

/* Characters needed (with the NUL) to encode n bytes. */
#define KMS_HEX_ENC_LEN(n)    (2 * (n) + 1)
#define KMS_BASE64_ENC_LEN(n) (4 * (((n) + 2) / 3) + 1)

/* Decodes slen characters of s into out (cap bytes). KMS_ERR_BAD_HEX on a bad character or an
 * odd length (whatever cap is), else KMS_ERR_TOO_LONG when the result does not fit. */
KMS_MUST_CHECK kms_result kms_hex_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
                                         size_t *out_len);
/* Decodes exactly n bytes from the NUL-terminated s: KMS_ERR_BAD_HEX when s is not hex (odd
 * length or a bad character), KMS_ERR_BAD_LENGTH when it is hex of another length. */
KMS_MUST_CHECK kms_result kms_hex_decode_exact(const char *s, uint8_t *out, size_t n);
/* Encodes n bytes; out must hold KMS_HEX_ENC_LEN(n) characters. */
KMS_MUST_CHECK kms_result kms_hex_encode(const uint8_t *in, size_t n, char *out, size_t out_cap);

/* Decodes slen characters of s into out (cap bytes). KMS_ERR_BAD_BASE64 when s is not canonical
 * padded base64 (whatever cap is), else KMS_ERR_TOO_LONG when the result does not fit. */
KMS_MUST_CHECK kms_result kms_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
                                            size_t *out_len);
KMS_MUST_CHECK kms_result kms_base64_encode(const uint8_t *in, size_t n, char *out, size_t out_cap);

/* Decodes the NUL-terminated s as an unsigned decimal in its one spelling: 1..20 digits, no
 * sign, no space, no leading zero (but "0"), at most max. KMS_ERR_MALFORMED otherwise (*out is
 * then 0). The checked replacement for strtoull, which takes "-1", " 7", "+7" and saturates. */
KMS_MUST_CHECK kms_result kms_dec_decode_u64(const char *s, uint64_t max, uint64_t *out);

#endif
