/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP Digest AKAv1-MD5 (RFC 3310 on RFC 2617) as the Ub interface of GBA uses it
 * (TS 24.109 A.3/A.4; design.md section 2): the three header values, the response and rspauth
 * computations, the RFC 3310 nonce and the AUTS parameter.
 *
 * Header grammar (RFC 7235 2.1 with the #rule of RFC 7230 7):
 *   challenge    = "Digest" 1*SP #auth-param      (WWW-Authenticate, "Digest" any case)
 *   credentials  = "Digest" 1*SP #auth-param      (Authorization)
 *   info         = #auth-param                    (Authentication-Info)
 *   auth-param   = token BWS "=" BWS ( token / quoted-string )
 *   quoted-string with quoted-pair ("\x" stands for x)
 * Empty list elements ("a=1,,b=2", a leading or trailing comma) are tolerated as the #rule
 * asks; whitespace around the whole value is skipped. Parameter names are case-insensitive.
 *
 * What the parsers refuse:
 *  - KMS_ERR_TOO_LONG: a header over KMS_DIGEST_HEADER_MAX bytes, a value (after unescaping)
 *    over KMS_DIGEST_VALUE_MAX bytes (known or not);
 *  - KMS_ERR_MALFORMED: any syntax error (missing '=', bad token, unterminated quote, a byte
 *    outside 0x20-0x7e inside a value, a control byte anywhere except HTAB as whitespace,
 *    trailing garbage), a known parameter given twice, a missing required parameter, a bad
 *    value of a checked parameter (see below);
 *  - KMS_ERR_UNSUPPORTED: another scheme than Digest, an algorithm other than AKAv1-MD5
 *    (any case), a qop we do not run (see below).
 * Parameters a header kind does not use (and unknown ones) are syntax-checked and ignored, as
 * RFC 2617 3.2.1 asks; they do not appear in the result.
 *
 * Checked values:
 *  - algorithm: "AKAv1-MD5", case-insensitive (RFC 3310 3.1); required in a challenge (RFC
 *    2617 3.2.1: an absent algorithm means MD5), optional in credentials;
 *  - qop: in a challenge a quoted list of tokens that holds "auth-int" (required); in
 *    credentials and info exactly "auth-int" (case-sensitive: the value is hashed);
 *  - nc: exactly 8 lower-case hex digits (RFC 2617 8LHEX);
 *  - response: "" (the first request of TS 24.109 A.3 carries response="") or exactly 32
 *    lower-case hex digits; rspauth: exactly 32 lower-case hex digits (RFC 2617 LHEX: upper
 *    case is refused, since we compare the text as it is);
 *  - stale: "true" or "false", any case;
 *  - auts: canonical padded base64 of exactly 14 octets.
 * Required: challenge realm, nonce (KMS_ERR_MALFORMED), algorithm, qop (KMS_ERR_UNSUPPORTED:
 * without them the challenge asks for plain MD5 or the RFC 2069 form); credentials username,
 * realm, nonce, uri, response. With qop, credentials carry nc and cnonce, and without it neither;
 * info with qop carries rspauth, nc and cnonce (RFC 2617 3.2.2, 3.2.3).
 *
 * Every value is held as printable ASCII (0x20-0x7e), NUL-terminated, unescaped. Parsers zero
 * their output first and leave it zeroed on failure.
 */
#ifndef KMS_GBA_DIGEST_H
#define KMS_GBA_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/kms_buf.h"

#define KMS_DIGEST_HEADER_MAX 8192
#define KMS_DIGEST_VALUE_MAX  255
/* An MD5 result in hex, and the buffer for it with its NUL. */
#define KMS_DIGEST_HEX_LEN 32
#define KMS_DIGEST_HEX_BUF (KMS_DIGEST_HEX_LEN + 1)
/* RFC 3310 3.2: nonce = base64(RAND || AUTN || server data); we allow up to 32 octets of
 * server data, so a nonce is at most base64 of 64 octets (88 characters). */
#define KMS_DIGEST_SERVER_DATA_MAX 32
#define KMS_DIGEST_NONCE_BUF       (4 * ((16 + 16 + KMS_DIGEST_SERVER_DATA_MAX + 2) / 3) + 1)
#define KMS_DIGEST_AUTS_LEN        14
#define KMS_DIGEST_AUTS_BUF        (4 * ((KMS_DIGEST_AUTS_LEN + 2) / 3) + 1)

/* The parameters we know; the order is the order the formatters write them in. */
enum kms_digest_param {
    KMS_DIGEST_USERNAME,
    KMS_DIGEST_REALM,
    KMS_DIGEST_NONCE,
    KMS_DIGEST_URI,
    KMS_DIGEST_RESPONSE,
    KMS_DIGEST_ALGORITHM,
    KMS_DIGEST_QOP,
    KMS_DIGEST_NC,
    KMS_DIGEST_CNONCE,
    KMS_DIGEST_RSPAUTH,
    KMS_DIGEST_OPAQUE,
    KMS_DIGEST_AUTS,
    KMS_DIGEST_NEXTNONCE,
    KMS_DIGEST_STALE,
    KMS_DIGEST_N_PARAMS
};

/* The three header kinds. */
enum kms_digest_kind {
    KMS_DIGEST_CHALLENGE,   /* WWW-Authenticate */
    KMS_DIGEST_CREDENTIALS, /* Authorization */
    KMS_DIGEST_INFO,        /* Authentication-Info */
};

struct kms_digest_params {
    uint32_t present; /* bit (1u << param) set for each parameter held */
    char v[KMS_DIGEST_N_PARAMS][KMS_DIGEST_VALUE_MAX + 1];
};

/* The value of a parameter, or NULL when it is absent. */
static inline const char *kms_digest_get(const struct kms_digest_params *p,
                                         enum kms_digest_param which)
{
    return (unsigned)which < KMS_DIGEST_N_PARAMS && (p->present & (1u << which)) != 0 ? p->v[which]
                                                                                      : NULL;
}

/* An empty set. */
void kms_digest_params_init(struct kms_digest_params *p);
/* Sets a parameter to a copy of value: KMS_ERR_TOO_LONG over KMS_DIGEST_VALUE_MAX bytes,
 * KMS_ERR_NOT_ASCII for a byte outside 0x20-0x7e. The set is unchanged on failure. */
KMS_MUST_CHECK kms_result kms_digest_set(struct kms_digest_params *p, enum kms_digest_param which,
                                         const char *value);

/* Parsers of the header values (len bytes of s, which need not be NUL-terminated). */
KMS_MUST_CHECK kms_result kms_digest_parse_challenge(const char *s, size_t len,
                                                     struct kms_digest_params *out);
KMS_MUST_CHECK kms_result kms_digest_parse_credentials(const char *s, size_t len,
                                                       struct kms_digest_params *out);
KMS_MUST_CHECK kms_result kms_digest_parse_info(const char *s, size_t len,
                                                struct kms_digest_params *out);
KMS_MUST_CHECK kms_result kms_digest_parse(enum kms_digest_kind kind, const char *s, size_t len,
                                           struct kms_digest_params *out);

/* Appends the header value for the parameters of p (without a NUL): "Digest " first for a
 * challenge or credentials, then every parameter held in enum order, separated by ", ".
 * algorithm, nc, stale and (outside a challenge) qop are written as tokens, everything else
 * as a quoted-string with '"' and '\' escaped. The result is parsed back before it is kept,
 * so a formatter never emits a value its parser refuses: that parser's error is returned.
 * KMS_ERR_ARG when p holds a parameter the kind does not use. On failure out is unchanged. */
KMS_MUST_CHECK kms_result kms_digest_format(enum kms_digest_kind kind,
                                            const struct kms_digest_params *p, struct kms_buf *out);

/* The BSF's challenge: Digest realm="..", nonce="..", algorithm=AKAv1-MD5, qop="auth-int"
 * [, opaque=".."] [, stale=true]. opaque may be NULL. */
KMS_MUST_CHECK kms_result kms_digest_write_challenge(const char *realm, const char *nonce,
                                                     const char *opaque, bool stale,
                                                     struct kms_buf *out);
/* The BSF's Authentication-Info: qop=auth-int, nc=.., cnonce="..", rspauth="..". */
KMS_MUST_CHECK kms_result kms_digest_write_info(const char *nc, const char *cnonce,
                                                const char *rspauth, struct kms_buf *out);

/* What a response (RFC 2617 3.2.2.1) is computed over. Strings are NUL-terminated. */
struct kms_digest_req {
    const char *username;
    const char *realm;
    const char *nonce;
    const char *uri;
    const char *qop;    /* "auth-int", "auth", or NULL for the RFC 2069 form */
    const char *nc;     /* with a qop only */
    const char *cnonce; /* with a qop only */
    const char *method; /* request method; ignored by kms_digest_rspauth */
    const uint8_t *body;
    size_t body_len; /* entity body, hashed for auth-int only */
};

/*= RFC 2617 3.2.2.1-3.2.2.3
 *#  request-digest = KD(H(A1), unq(nonce-value) ":" nc-value ":" unq(cnonce-value) ":"
 *#                     unq(qop-value) ":" H(A2))     (qop present)
 *#  request-digest = KD(H(A1), unq(nonce-value) ":" H(A2))   (qop absent)
 *#  A1 = unq(username-value) ":" unq(realm-value) ":" passwd
 *#  A2 = Method ":" digest-uri-value                          (qop auth or absent)
 *#  A2 = Method ":" digest-uri-value ":" H(entity-body)       (qop auth-int)
 * with H = MD5 in lower-case hex and KD(s, d) = H(s ":" d). The password is the raw octets of
 * RES (RFC 3310 3.1; never hex), or empty for a response carrying auts (RFC 3310 3.4).
 * out receives 32 lower-case hex digits and a NUL. KMS_ERR_ARG for a missing field,
 * KMS_ERR_UNSUPPORTED for another qop; out is zeroed on failure. */
KMS_MUST_CHECK kms_result kms_digest_response(const uint8_t *pw, size_t pw_len,
                                              const struct kms_digest_req *r,
                                              char out[KMS_DIGEST_HEX_BUF]);
/* rspauth of Authentication-Info (RFC 2617 3.2.3): the same with an empty method, so that
 * A2 = ":" uri [":" H(body)], body being the entity body of the 200 response; the password is
 * XRES (design.md section 2). */
KMS_MUST_CHECK kms_result kms_digest_rspauth(const uint8_t *pw, size_t pw_len,
                                             const struct kms_digest_req *r,
                                             char out[KMS_DIGEST_HEX_BUF]);

/* Constant-time comparison of two 32-digit hex strings; false unless both are exactly 32
 * characters long (the lengths are not secret) and equal. */
bool kms_digest_hex_eq(const char *a, const char *b);

/* BSF: verifies the response of parsed credentials with the password (XRES, or empty when
 * the credentials carry auts). The credentials must carry qop=auth-int, nc, cnonce and a
 * non-empty response (else KMS_ERR_UNSUPPORTED); KMS_ERR_AUTH when the response differs. */
KMS_MUST_CHECK kms_result kms_digest_verify_response(const struct kms_digest_params *cred,
                                                     const uint8_t *pw, size_t pw_len,
                                                     const char *method, const uint8_t *body,
                                                     size_t body_len);
/* UE: verifies the rspauth of parsed Authentication-Info against the credentials it answers
 * (same qop, nc and cnonce, else KMS_ERR_AUTH) and the body of the 200 response.
 * KMS_ERR_MALFORMED when info carries no qop; KMS_ERR_AUTH when rspauth differs. */
KMS_MUST_CHECK kms_result kms_digest_verify_rspauth(const struct kms_digest_params *cred,
                                                    const struct kms_digest_params *info,
                                                    const uint8_t *pw, size_t pw_len,
                                                    const uint8_t *body, size_t body_len);

/* RFC 3310 3.2: nonce = base64(RAND || AUTN || server data), NUL-terminated into out (cap >=
 * KMS_DIGEST_NONCE_BUF is enough). KMS_ERR_TOO_LONG for more than KMS_DIGEST_SERVER_DATA_MAX
 * octets of server data or a short out. */
KMS_MUST_CHECK kms_result kms_digest_nonce_encode(const uint8_t rand[16], const uint8_t autn[16],
                                                  const uint8_t *sd, size_t sd_len, char *out,
                                                  size_t cap);
/* The inverse: strict base64 of 32 to 32 + KMS_DIGEST_SERVER_DATA_MAX octets
 * (KMS_ERR_BAD_BASE64, KMS_ERR_TRUNCATED under 32 octets, KMS_ERR_TOO_LONG beyond). sd may be
 * NULL when sd_cap is 0 (server data is then refused with KMS_ERR_TOO_LONG). All outputs are
 * zeroed on failure. */
KMS_MUST_CHECK kms_result kms_digest_nonce_decode(const char *nonce, size_t len, uint8_t rand[16],
                                                  uint8_t autn[16], uint8_t *sd, size_t sd_cap,
                                                  size_t *sd_len);

/* auts parameter (RFC 3310 3.4): strict base64 of exactly 14 octets (KMS_ERR_BAD_BASE64, or
 * KMS_ERR_BAD_LENGTH for base64 of another length). */
KMS_MUST_CHECK kms_result kms_digest_auts_decode(const char *s, size_t len,
                                                 uint8_t auts[KMS_DIGEST_AUTS_LEN]);
KMS_MUST_CHECK kms_result kms_digest_auts_encode(const uint8_t auts[KMS_DIGEST_AUTS_LEN],
                                                 char out[KMS_DIGEST_AUTS_BUF]);

#endif
