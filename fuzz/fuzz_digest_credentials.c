/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: kms_digest_parse_credentials and kms_digest_format on the same kind (the input is
 * one header value, not NUL-terminated). Oracles in fuzz_digest_common.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_digest_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    digest_fuzz_one(KMS_DIGEST_CREDENTIALS, data, size);
    return 0;
}
