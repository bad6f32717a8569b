/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the sealed-ticket payload codec (kms_ticket_payload_decode / _encode), i.e. the
 * plaintext inside a sealed Kue or media ticket and a mode-2 Kue record. The whole input is
 * decoded as both kinds; the oracles are in fuzz_ticket_common.h (refusal = TICKET_FIELD with
 * wiped claims; accepted claims within limits; canonical round trip, byte-exact when no
 * non-critical field is present; prefix / trailing / unknown-field behaviour).
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_ticket_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > KMS_TICKET_MAX) {
        return 0;
    }
    bool kue = tp_check(data, size, KMS_TICKET_KUE, NULL);
    bool media = tp_check(data, size, KMS_TICKET_MEDIA, NULL);
    /* A Kue needs KUE, IMPI, ... which a media ticket refuses, and the other way round. */
    KF_CHECK(!(kue && media));
    return 0;
}
