/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_mksdp: writes an SDP offer with kms_sdp_write (sdp/kms_sdp.h) around a real MIKEY
 * message, for the tshark interop test (tests/interop/test_sdp_tshark.sh). Test-only, never
 * installed.
 *
 *   test_mksdp                  a fresh RFC 6043 TRANSFER_INIT from kms_transfer_build (fixed
 *                               identities, MPK and ticket octets; CSB ID, RANDRi and T drawn
 *                               by it), at 192.0.2.1, m= port 49170
 *   test_mksdp --mikey FILE     the MIKEY message in FILE (binary) instead
 *
 * The SDP goes to stdout. Nothing here decodes the message: the script reads its header octets
 * out of the SDP's base64 with base64(1) and od(1).
 */
#include <stdio.h>
#include <string.h>

#include "kms/kms_ticket_msg.h"
#include "sdp/kms_sdp.h"
#include "util/kms_buf.h"

static int usage(void)
{
    fprintf(stderr, "usage: test_mksdp [--mikey FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static uint8_t msg[KMS_SDP_KEYMGMT_MAX + 1];
    size_t len = 0;
    struct kms_buf m;
    kms_buf_init(&m, KMS_SDP_KEYMGMT_MAX, false);
    if (argc == 3 && strcmp(argv[1], "--mikey") == 0) {
        FILE *f = fopen(argv[2], "rb");
        if (f == NULL) {
            perror(argv[2]);
            return 1;
        }
        len = fread(msg, 1, sizeof msg, f);
        fclose(f);
    } else if (argc == 1) {
        static const uint8_t mpk[KMS_TMSG_MPK_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
        uint8_t ticket[64];
        for (size_t i = 0; i < sizeof ticket; i++) {
            ticket[i] = (uint8_t)(i * 5 + 3);
        }
        if (!kms_ok(kms_transfer_build("sip:alice@example.org", "sip:bob@example.org", mpk, ticket,
                                       sizeof ticket, &m))) {
            fprintf(stderr, "test_mksdp: kms_transfer_build failed\n");
            return 1;
        }
        len = kms_buf_len(&m);
        memcpy(msg, kms_buf_data(&m), len);
    } else {
        return usage();
    }
    struct kms_sdp_out o = {.addr = "192.0.2.1",
                            .port = 49170,
                            .sess_id = 2890844526u,
                            .sess_version = 2890844526u,
                            .mikey = msg,
                            .mikey_len = len};
    struct kms_buf out;
    kms_buf_init(&out, 2 * KMS_SDP_MAX, false);
    kms_result r = kms_sdp_write(&o, &out);
    if (!kms_ok(r)) {
        fprintf(stderr, "test_mksdp: kms_sdp_write: %s\n", kms_strerror(r.err));
        return 1;
    }
    fwrite(kms_buf_data(&out), 1, kms_buf_len(&out), stdout);
    kms_buf_cleanup(&out);
    kms_buf_cleanup(&m);
    return 0;
}
