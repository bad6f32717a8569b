/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_sdp: the SDP (RFC 4566) we read and write around a MIKEY message carried in the
 * key-mgmt attribute of RFC 4567 (`a=key-mgmt:mikey <base64>`), for the offer/answer of a call.
 * RFC 4566 is not in shared/specs: its clauses are cited from memory, paraphrased.
 *
 * What the parser accepts (each rule with the clause it follows):
 *  - At most KMS_SDP_MAX octets (else KMS_ERR_TOO_LONG), at most KMS_SDP_LINES_MAX lines (else
 *    KMS_ERR_TOO_LONG).
 *  - Lines `<type>=<value>` (RFC 4566 5: type one case-significant letter, no blank around the
 *    '='): the type an ASCII letter, else KMS_ERR_MALFORMED. Every line ends in CRLF or in LF
 *    alone (RFC 4566 5 asks CRLF but lets a parser take LF); a last line without its line end is
 *    KMS_ERR_TRUNCATED, so a text cut anywhere but at a line end is refused and never yields a
 *    shorter attribute. Empty lines are KMS_ERR_MALFORMED.
 *  - Values of printable ASCII (0x20-0x7e) only, else KMS_ERR_NOT_ASCII: RFC 4566 5 allows
 *    UTF-8 in s=, i= and some attributes (byte-string); we refuse it, and a CR other than the
 *    one before LF, a NUL or a tab alike.
 *  - At most KMS_SDP_LINE_MAX octets per line, line end excluded (KMS_ERR_TOO_LONG), except an
 *    a=key-mgmt line, bounded by KMS_SDP_MAX and by its decoded data (KMS_SDP_KEYMGMT_MAX).
 *  - `v=0` first (RFC 4566 5.1, 5: "v=" first): another first line is KMS_ERR_MALFORMED,
 *    another version KMS_ERR_UNSUPPORTED.
 *  - Line types we do not use (o= s= i= u= e= p= b= t= r= z= k= and any other letter) are
 *    skipped whatever their value (RFC 4566 5: a parser ignores types it does not know); their
 *    presence (o=, s=, t=) and order are not checked. Attributes other than key-mgmt are
 *    skipped too (RFC 4566 5.13).
 *  - Lines before the first m= are the session level, lines after an m= belong to that media
 *    section (RFC 4566 5).
 *  - `m=<media> <port> <proto> <fmt> *(SP <fmt>)` (RFC 4566 5.14): media a token of at most 15
 *    octets, port decimal 0..65535 in its one spelling (`<port>/<count>` refused), proto at most
 *    31 octets of token and '/', fmts at most 63 octets of tokens each after one SP.
 *    KMS_ERR_MALFORMED otherwise. More than KMS_SDP_MEDIA_MAX m= lines: KMS_ERR_TOO_LONG.
 *  - `c=IN IP4 <addr>` or `c=IN IP6 <addr>` (RFC 4566 5.7), one SP between fields, addr a
 *    numeric address of its type (inet_pton). Refused (KMS_ERR_MALFORMED): a host name (which
 *    RFC 4566 allows), a multicast TTL or count suffix (`/127`), another network type, and a
 *    second c= at one level (RFC 4566 5.7: one per level).
 *  - `a=key-mgmt:` [SP] prtcl-id SP keymgmt-data (RFC 4567 3.1 grammar; prtcl-id the KMPID
 *    1*(ALPHA / DIGIT) of RFC 4567 3, case-sensitive): a line that does not follow it is
 *    KMS_ERR_MALFORMED whatever its prtcl-id. For prtcl-id `mikey` the data is decoded
 *    (RFC 4567 4.1.1: base64 decoded to the original message) with kms_base64_decode: not
 *    canonical padded base64 is KMS_ERR_BAD_BASE64, empty KMS_ERR_MALFORMED, over
 *    KMS_SDP_KEYMGMT_MAX octets decoded KMS_ERR_TOO_LONG. Other protocol ids are skipped, their
 *    data not read (RFC 4567 4.1.2: the answerer processes only the protocol it selects). Two
 *    mikey attributes at one level (the session, or one media section) are KMS_ERR_MALFORMED:
 *    RFC 4567 4.1.2 lists several protocols per level, not two messages of one.
 *  - No key-mgmt attribute at all is fine: has_mikey is false everywhere.
 *
 * The level rule (RFC 4567 3.1): "An attribute defined at media level overrides an attribute
 * defined at session level. In other words, if the media-level attribute is present, the
 * session level attribute MUST be ignored for this media." kms_sdp_mikey_for applies it.
 *
 * On failure the parser zeroes *out and sets *err_off to the offset of the offending octet
 * (the start of the offending field or line when no single octet is to blame).
 */
#ifndef KMS_SDP_KMS_SDP_H
#define KMS_SDP_KMS_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "util/kms_buf.h"

#define KMS_SDP_MAX         8192 /* largest SDP we read */
#define KMS_SDP_MEDIA_MAX   4    /* m= lines we accept */
#define KMS_SDP_KEYMGMT_MAX 4096 /* decoded key-mgmt data (a MIKEY message) */
#define KMS_SDP_LINE_MAX    1024 /* octets of a line other than a=key-mgmt, line end excluded */
#define KMS_SDP_LINES_MAX   128  /* lines we accept */

/* One media section (an m= line and the lines after it). */
struct kms_sdp_media {
    char media[16];                     /* "audio" */
    uint16_t port;                      /* 0..65535 */
    char proto[32];                     /* "RTP/SAVP" */
    char fmts[64];                      /* "0", or "0 8 101": the formats, as written */
    char conn_addr[64];                 /* c= at media level, else the session's; "" if none */
    bool has_mikey;                     /* a=key-mgmt:mikey at this media level */
    uint8_t mikey[KMS_SDP_KEYMGMT_MAX]; /* its data, base64-decoded */
    size_t mikey_len;
};

/* A parsed SDP: what we use of it. */
struct kms_sdp {
    char conn_addr[64];                 /* session-level c= address ("" if none) */
    bool has_mikey;                     /* a=key-mgmt:mikey at session level */
    uint8_t mikey[KMS_SDP_KEYMGMT_MAX]; /* its data, base64-decoded */
    size_t mikey_len;
    struct kms_sdp_media m[KMS_SDP_MEDIA_MAX];
    size_t n_media;
};

/* Parses n octets of SDP text at p (borrowed) through the bounded cursor (lib/util/kms_cur.h),
 * by the rules above. On failure *out is zeroed and *err_off (err_off may be NULL) is the
 * offset of the offending octet; on success *err_off is 0. KMS_ERR_ARG for a NULL p with n > 0
 * or a NULL out. */
KMS_MUST_CHECK kms_result kms_sdp_parse(const uint8_t *p, size_t n, struct kms_sdp *out,
                                        size_t *err_off);

/* The MIKEY message that applies to media line i (0-based): the media level's, else the
 * session level's (RFC 4567 3.1), borrowed from s. KMS_ERR_NOT_FOUND when neither has one,
 * KMS_ERR_ARG when i >= s->n_media. *p and *n are NULL and 0 on failure. */
KMS_MUST_CHECK kms_result kms_sdp_mikey_for(const struct kms_sdp *s, size_t i, const uint8_t **p,
                                            size_t *n);

/* What kms_sdp_write writes around. */
struct kms_sdp_out {
    const char *addr;               /* numeric IPv4 (IN IP4) or IPv6 (IN IP6) address */
    uint16_t port;                  /* the m= port */
    uint64_t sess_id, sess_version; /* o= fields (RFC 4566 5.2) */
    const uint8_t *mikey;           /* the MIKEY message, 1..KMS_SDP_KEYMGMT_MAX octets */
    size_t mikey_len;
};

/* Appends an offer/answer to out, CRLF line ends, in the order of RFC 4566 5:
 *   v=0
 *   o=- <sess_id> <sess_version> IN IP4 <addr>
 *   s=-
 *   c=IN IP4 <addr>
 *   t=0 0
 *   a=key-mgmt:mikey <base64 of mikey>        (session level)
 *   m=audio <port> RTP/SAVP 0
 *   a=rtpmap:0 PCMU/8000
 *   a=sendrecv
 * (IP6 in o= and c= when addr is IPv6.) KMS_ERR_ARG for an addr that is not a numeric address
 * or a mikey of 0 or more than KMS_SDP_KEYMGMT_MAX octets; the buffer's own errors
 * (KMS_ERR_TOO_LONG, KMS_ERR_NOMEM). On failure out is left as it was. What it writes parses
 * back with kms_sdp_parse to the same MIKEY message at session level and one audio media. */
KMS_MUST_CHECK kms_result kms_sdp_write(const struct kms_sdp_out *o, struct kms_buf *out);

#endif
