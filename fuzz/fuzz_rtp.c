/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: kms_rtp_read (srtp/kms_rtp.h), the RTP header of a packet after SRTP unprotect.
 * Input: octet 0 is the payload type asked for (its low 7 bits), the rest the packet.
 * Oracles: a refusal leaves the header all zero; an accepted packet has version 2 and the
 * payload type asked for, header + CSRCs + extension + payload + padding tile the packet
 * exactly, the payload lies inside it, the padding count is its last octet when P is set; the
 * fixed header rewritten by kms_rtp_write_hdr from what was read equals the input's (CC, X, P
 * aside); without padding, the packet one octet shorter reads with a payload one shorter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "srtp/kms_rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096) {
        return 0;
    }
    uint8_t pt = data[0] & 0x7f;
    size_t n = size - 1;
    uint8_t *p = kf_dup(data + 1, n, 1);
    p[n] = 0; /* one spare octet, never read by the decoder (n is passed) */
    struct kms_rtp_hdr h;
    memset(&h, 0x5a, sizeof(h));
    kms_result r = kms_rtp_read(p, n, pt, &h);
    if (!kms_ok(r)) {
        KF_CHECK(kf_all_zero(&h, sizeof(h)));
        free(p);
        return 0;
    }
    KF_CHECK(n >= KMS_RTP_HDR_LEN && (p[0] >> 6) == 2 && h.pt == pt);
    size_t hdr = KMS_RTP_HDR_LEN + (size_t)h.cc * 4;
    if (h.has_ext) {
        hdr += 4 + ((size_t)p[hdr + 2] << 8 | p[hdr + 3]) * 4;
    }
    KF_CHECK(hdr + h.payload_len + h.padding == n);
    KF_CHECK(h.payload_len == 0 ? h.payload == NULL : h.payload == p + hdr);
    KF_CHECK(((p[0] & 0x20) != 0) == (h.padding > 0));
    if (h.padding > 0) {
        KF_CHECK(p[n - 1] == h.padding);
    }
    uint8_t w[KMS_RTP_HDR_LEN];
    kms_rtp_write_hdr(w, h.marker, h.pt, h.seq, h.ts, h.ssrc);
    KF_CHECK((w[0] | (p[0] & 0x3f)) == p[0] && memcmp(w + 1, p + 1, KMS_RTP_HDR_LEN - 1) == 0);
    struct kms_rtp_hdr h2;
    r = kms_rtp_read(p, n - 1, pt, &h2);
    if (h.padding == 0 && h.payload_len > 0) {
        KF_CHECK(kms_ok(r) && h2.payload_len == h.payload_len - 1);
    }
    free(p);
    return 0;
}
