/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the MIKEY message decoder (kms_mikey_decode), RFC 3830 / RFC 6043 / RFC 6509.
 * The input is one whole message. Oracles (fuzz_mikey_common.h): on success the payloads tile
 * the message, encode(decode(x)) == x with the same offsets and lengths, the re-encoding
 * decodes to the same layout, TP data / initiator data decode alone with
 * kms_mikey_chain_decode, NULL-encrypted KEMAC Key data round-trips, proper prefixes are
 * truncated and one more octet is trailing; on failure err_off <= size.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_mikey_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mf_message(data, size);
    return 0;
}
