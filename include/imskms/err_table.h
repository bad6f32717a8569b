/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one error table of imskms. Every view of an error (the enum, its message, the CLI exit
 * status, and what each interface puts on the wire) is expanded from this list, so they cannot
 * drift apart. Handlers choose an error code; only this table chooses a status (kms_wire_of in
 * lib/err/kms_err.h), so "peers are never told which check failed" holds by construction.
 *
 * X(name, group, kms_http, mikey_err, ub_http, zn_http, zn_code, busy, message)
 *   group      one of USAGE, PROTO, CRYPTO, AUTH, STATE, INTERNAL (see err.h): the CLI exit status
 *   kms_http   the KMS's HTTP status (POST /mikey, and the KMS listener's own answers)
 *   mikey_err  the ERR payload's error number in the KMS's Error message: RFC 3830 section 6.12
 *              (0 Auth failure, 12 Unspecified error), RFC 6043 section 6.12 (15 Invalid TPpar)
 *   ub_http    the BSF's Ub status (HTTP Digest AKA: 401 for every authentication failure)
 *   zn_http    the BSF's Zn status, and zn_code the "error" name of its JSON body (docs/api.md)
 *   busy       why the server itself cannot serve now (NONE when the error is not that): a 503
 *              for such a code carries `Imskms-Reason: zn-unavailable |
 *              store-unavailable | starting | overloaded` and `Retry-After` (docs/api.md). Never
 *              set on an AUTH row: a refusal of the client's credentials names no reason.
 * Every AUTH row answers alike on each interface (403 / ERR 0 on the KMS, 401 on Ub, 403
 * forbidden on Zn); tests/unit/test_err.c walks the table through each interface's reply builder.
 *
 * This header has no include guard on purpose: it is an X-macro list.
 */
/* clang-format off */
X(KMS_ERR_ARG,               USAGE,    400, 12, 400, 400, bad_request,             NONE,       "invalid argument")
X(KMS_ERR_BAD_HEX,           USAGE,    400, 12, 400, 400, bad_request,             NONE,       "invalid hex string")
X(KMS_ERR_BAD_BASE64,        USAGE,    400, 12, 400, 400, bad_request,             NONE,       "invalid base64 string")
X(KMS_ERR_BAD_LENGTH,        USAGE,    400, 12, 400, 400, bad_request,             NONE,       "value has the wrong length")
X(KMS_ERR_NOT_ASCII,         USAGE,    400, 12, 400, 400, bad_request,             NONE,       "text must be printable ASCII")
X(KMS_ERR_KEK,               USAGE,    503, 12, 500, 500, internal,                NONE,       "KEK file must hold exactly 32 bytes and be owner-only (mode 0600 or 0400)")
X(KMS_ERR_HSM_URI,           USAGE,    400, 12, 400, 400, bad_request,             NONE,       "invalid PKCS#11 URI")
X(KMS_ERR_HSM_MODULE,        USAGE,    503, 12, 500, 500, internal,                NONE,       "PKCS#11 module cannot be loaded (module-path)")
X(KMS_ERR_HSM_TOKEN,         USAGE,    503, 12, 500, 500, internal,                NONE,       "no single PKCS#11 token matches the URI")
X(KMS_ERR_HSM_LOGIN,         USAGE,    503, 12, 500, 500, internal,                NONE,       "PKCS#11 login refused (wrong PIN?)")
X(KMS_ERR_TRUNCATED,         PROTO,    400, 12, 400, 400, bad_request,             NONE,       "input truncated")
X(KMS_ERR_TRAILING,          PROTO,    400, 12, 400, 400, bad_request,             NONE,       "unexpected trailing bytes")
X(KMS_ERR_TOO_LONG,          PROTO,    400, 12, 400, 400, bad_request,             NONE,       "value exceeds its size limit")
X(KMS_ERR_MALFORMED,         PROTO,    400, 12, 400, 400, bad_request,             NONE,       "malformed input")
X(KMS_ERR_UNSUPPORTED,       PROTO,    400, 12, 400, 400, bad_request,             NONE,       "well formed but not supported")
X(KMS_ERR_CRYPTO,            CRYPTO,   503, 12, 500, 500, internal,                NONE,       "cryptographic library failure")
X(KMS_ERR_RANDOM,            CRYPTO,   503, 12, 500, 500, internal,                NONE,       "random number generator failure")
X(KMS_ERR_SELFTEST,          CRYPTO,   503, 12, 500, 500, internal,                NONE,       "known-answer self-test failed")
X(KMS_ERR_AUTH,              AUTH,     403,  0, 401, 403, forbidden,               NONE,       "authentication failed")
X(KMS_ERR_MAC_A,             AUTH,     403,  0, 401, 403, forbidden,               NONE,       "network authentication (MAC-A) failed")
X(KMS_ERR_MAC_S,             AUTH,     403,  0, 401, 403, forbidden,               NONE,       "resynchronisation token (MAC-S) failed")
X(KMS_ERR_SQN_STALE,         AUTH,     403,  0, 401, 403, forbidden,               NONE,       "sequence number not fresh")
X(KMS_ERR_SQN_DELTA,         AUTH,     403,  0, 401, 403, forbidden,               NONE,       "sequence number jumped beyond delta")
X(KMS_ERR_SQN_AGE,           AUTH,     403,  0, 401, 403, forbidden,               NONE,       "sequence number older than the age limit L")
X(KMS_ERR_TS_SKEW,           AUTH,     403,  0, 401, 403, forbidden,               NONE,       "timestamp outside the allowed clock skew")
X(KMS_ERR_REPLAY,            AUTH,     403,  0, 401, 403, forbidden,               NONE,       "message replayed")
X(KMS_ERR_REPLAY_RESTART,    STATE,    503, 12, 503, 503, unavailable,             STARTING,   "timestamp precedes the replay window opened at start")
X(KMS_ERR_TICKET_VERSION,    AUTH,     403,  0, 401, 403, forbidden,               NONE,       "ticket version or type not supported")
X(KMS_ERR_KEY_UNKNOWN,       AUTH,     403,  0, 401, 403, forbidden,               NONE,       "ticket sealed under an unknown key")
X(KMS_ERR_KEY_DESTROYED,     AUTH,     403,  0, 401, 403, forbidden,               NONE,       "ticket sealed under a destroyed key")
X(KMS_ERR_TICKET_TAG,        AUTH,     403,  0, 401, 403, forbidden,               NONE,       "ticket authentication tag does not verify")
X(KMS_ERR_TICKET_FIELD,      AUTH,     403,  0, 401, 403, forbidden,               NONE,       "ticket payload invalid")
X(KMS_ERR_TICKET_EXPIRED,    AUTH,     403,  0, 401, 403, forbidden,               NONE,       "ticket expired")
X(KMS_ERR_TICKET_EARLY,      AUTH,     403,  0, 401, 403, forbidden,               NONE,       "ticket issued in the future")
X(KMS_ERR_TICKET_NAF,        AUTH,     403,  0, 401, 403, forbidden,               NONE,       "Kue issued for another NAF (its NAF_Id is not this KMS's)")
X(KMS_ERR_KEYRING_MAC,       AUTH,     403,  0, 401, 403, forbidden,               NONE,       "keyring file failed its integrity check (wrong KEK or altered file)")
X(KMS_ERR_SQN_RESERVE,       STATE,    503, 12, 503, 503, unavailable,             STORE,      "no reserved sequence numbers left")
X(KMS_ERR_SQN_EXHAUSTED,     STATE,    503, 12, 503, 500, internal,                NONE,       "sequence number space exhausted")
X(KMS_ERR_REPLAY_FULL,       STATE,    503, 12, 503, 503, unavailable,             OVERLOADED, "replay cache full")
X(KMS_ERR_NO_ACTIVE_KEY,     STATE,    503, 12, 503, 503, unavailable,             STORE,      "no active key")
X(KMS_ERR_NOT_FOUND,         STATE,    403,  0, 401, 404, not_found,               NONE,       "not found")
X(KMS_ERR_EXISTS,            STATE,    503, 12, 500, 500, internal,                NONE,       "already exists")
X(KMS_ERR_IO,                STATE,    503, 12, 503, 503, unavailable,             STORE,      "file system error")
X(KMS_ERR_HSM,               STATE,    503, 12, 503, 503, unavailable,             STORE,      "PKCS#11 token failure")
X(KMS_ERR_STORE,             STATE,    503, 12, 503, 503, unavailable,             STORE,      "state store failure")
X(KMS_ERR_KEY_SPENT,         STATE,    503, 12, 503, 503, unavailable,             STORE,      "key reached its usage limit (rotate to the next version)")
X(KMS_ERR_FULL,              STATE,    503, 12, 503, 503, unavailable,             OVERLOADED, "capacity reached")
X(KMS_ERR_RATE,              STATE,    503, 12, 429, 503, unavailable,             OVERLOADED, "too many requests")
X(KMS_ERR_KEYRING_FULL,      STATE,    503, 12, 503, 503, unavailable,             STORE,      "keyring holds too many keys in their grace period")
X(KMS_ERR_KEYSTORE_KIND,     USAGE,    503, 12, 500, 500, internal,                NONE,       "keyring belongs to the other keystore (--kek-file or --hsm)")
X(KMS_ERR_KEYRING_ROLLBACK,  STATE,    503, 12, 503, 503, unavailable,             STORE,      "keyring file rolled back: older than its anchor or than the view held (restore the keyring and its anchor together)")
X(KMS_ERR_KEYRING_ANCHOR,    STATE,    503, 12, 503, 503, unavailable,             STORE,      "keyring anchor missing, altered or of another keyring (PATH.anchor, or the token's anchor object and MAC key)")
X(KMS_ERR_KEYRING_STALE,     STATE,    503, 12, 503, 503, unavailable,             STORE,      "keyring reloads keep failing: refusing to serve a stale view")
X(KMS_ERR_HTTP,              STATE,    503, 12, 500, 500, internal,                NONE,       "HTTP transport failure (connect, timeout, protocol, server start)")
X(KMS_ERR_ZN_UNAVAILABLE,    STATE,    503, 12, 503, 503, unavailable,             ZN,         "BSF unreachable over Zn (no answer within the Zn time-out)")
X(KMS_ERR_TLS_PEER,          STATE,    503, 12, 500, 500, internal,                NONE,       "TLS peer certificate not trusted or not issued for the host")
X(KMS_ERR_POLICY,            STATE,    403, 15, 500, 500, internal,                NONE,       "refused by policy after authentication (mode or ticket not allowed)")
X(KMS_ERR_NO_ROUTE,          PROTO,    404, 12, 404, 404, not_found,               NONE,       "no such resource")
X(KMS_ERR_METHOD,            PROTO,    405, 12, 405, 405, method_not_allowed,      NONE,       "method not allowed")
X(KMS_ERR_BODY_TOO_LARGE,    PROTO,    413, 12, 413, 413, too_large,               NONE,       "request body over the size limit")
X(KMS_ERR_MEDIA_TYPE,        PROTO,    415, 12, 415, 415, unsupported_media_type,  NONE,       "request body of a media type not served")
X(KMS_ERR_NOMEM,             INTERNAL, 503, 12, 503, 503, unavailable,             OVERLOADED, "out of memory")
X(KMS_ERR_INTERNAL,          INTERNAL, 500, 12, 500, 500, internal,                NONE,       "internal error")
/* clang-format on */
