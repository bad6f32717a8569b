/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_rtp: the RTP fixed header (RFC 3550 5.1) of a received packet after SRTP unprotect, read
 * over the bounded cursor, and the 12-octet header our sender writes.
 *
 *    0                   1                   2                   3
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   |                           timestamp                           |
 *   |           synchronization source (SSRC) identifier            |
 *   |            contributing source (CSRC) identifiers (CC)        |
 *   | extension: defined by profile (16) | length in 32-bit words (16) | data ... (X)
 *   | payload ... | padding ... | count of padding octets (P, last octet) |
 *
 * The reader accepts version 2 only, skips CC CSRCs and an extension (RFC 3550 5.3.1: its
 * length counts the 32-bit words after the 4-octet extension header), and with P set removes
 * the padding whose count is the last octet: at least 1 (RFC 3550 5.1: the count includes
 * itself) and no more than what follows the headers. The payload type must be the one the
 * caller expects (PCMU, 0, for the RTP commands). Every refusal is KMS_ERR_MALFORMED,
 * KMS_ERR_TRUNCATED or KMS_ERR_UNSUPPORTED (another version or payload type).
 */
#ifndef KMS_SRTP_RTP_H
#define KMS_SRTP_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"

#define KMS_RTP_HDR_LEN 12 /* the fixed header, without CSRCs */
#define KMS_RTP_PT_PCMU 0  /* RFC 3551 Table 4 */

struct kms_rtp_hdr {
    bool marker;
    uint8_t pt;
    uint8_t cc;
    bool has_ext;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    size_t padding;         /* octets removed (0 without P) */
    const uint8_t *payload; /* borrowed from the packet; NULL when payload_len is 0 */
    size_t payload_len;
};

/* Reads the packet p[0..n) as above; h is zeroed on failure. */
KMS_MUST_CHECK kms_result kms_rtp_read(const uint8_t *p, size_t n, uint8_t want_pt,
                                       struct kms_rtp_hdr *h);

/* Writes the 12-octet fixed header (V=2, no P, X or CSRC) to out[0..KMS_RTP_HDR_LEN). */
void kms_rtp_write_hdr(uint8_t out[KMS_RTP_HDR_LEN], bool marker, uint8_t pt, uint16_t seq,
                       uint32_t ts, uint32_t ssrc);

#endif
