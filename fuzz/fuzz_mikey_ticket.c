/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the TP / TICKET payload decoders (RFC 6043 6.10) and payload chains.
 *  1. The first input octet chooses TP (even) or TICKET (odd); the rest is the body of the
 *     message HDR || rest with HDR = 01 0b <TP|TICKET> 01 00000000 00 01 (REQUEST_INIT_PSK,
 *     PRF-HMAC-SHA-256, CSB ID 0, no CS, Empty map), so the first payload is the chosen one.
 *  2. The whole input is also decoded as a TP data chain (first-payload octet, then payloads)
 *     with kms_mikey_chain_decode.
 * Oracles as in fuzz_mikey_decode.c (fuzz_mikey_common.h), plus: the message's first payload
 * is the chosen type; the chain round-trips through kms_mikey_chain_encode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_mikey_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_LEN 10

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint8_t first = (data[0] & 1) ? KMS_MIKEY_PT_TICKET : KMS_MIKEY_PT_TP;
    const uint8_t hdr[HDR_LEN] = {0x01,  KMS_MIKEY_DT_REQUEST_INIT_PSK,
                                  first, 0x01,
                                  0x00,  0x00,
                                  0x00,  0x00,
                                  0x00,  KMS_MIKEY_MAP_EMPTY};
    size_t n = HDR_LEN + size - 1;
    uint8_t *msg = malloc(n);
    if (msg == NULL) {
        abort();
    }
    memcpy(msg, hdr, HDR_LEN);
    memcpy(msg + HDR_LEN, data + 1, size - 1);
    if (mf_message(msg, n)) {
        /* the message decodes again here only to look at its first payload */
        struct kms_mikey_msg *m = malloc(sizeof(*m));
        size_t eo;
        MF_CHECK(m != NULL);
        MF_CHECK(kms_ok(kms_mikey_decode(msg, n, m, &eo)));
        MF_CHECK(m->body.n >= 1 && m->body.pl[0].type == first && m->body.pl[0].off == HDR_LEN);
        free(m);
    }
    free(msg);
    (void)mf_chain(data, size, false, false);
    return 0;
}
