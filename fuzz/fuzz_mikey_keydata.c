/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the Key data sub-payload decoder (kms_mikey_keydata_decode, RFC 3830 6.13,
 * RFC 6043 6.13): the plaintext of a KEMAC's encr_data. Oracles (fuzz_mikey_common.h): on
 * success 1..16 sub-payloads with known types and KV, keydata_encode(decode(x)) == x, the
 * re-encoding decodes the same, proper prefixes are truncated and one more octet is
 * trailing; on failure err_off <= size.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_mikey_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mf_keydata(data, size, false);
    return 0;
}
