/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one error table of imskms. Every view of an error (the enum, its message, the HTTP
 * status a daemon answers with, the MIKEY ERR payload code and the CLI exit status) is
 * expanded from this list, so they cannot drift apart.
 *
 * X(name, group, http_status, mikey_err, message)
 *   group      one of USAGE, PROTO, CRYPTO, AUTH, STATE, INTERNAL (see err.h)
 *   mikey_err  RFC 3830 section 6.12 error number (0 = Auth failure, 12 = Unspecified)
 *
 * This header has no include guard on purpose: it is an X-macro list.
 */
/* clang-format off */
X(KMS_ERR_ARG,            USAGE,    400, 12, "invalid argument")
X(KMS_ERR_BAD_HEX,        USAGE,    400, 12, "invalid hex string")
X(KMS_ERR_BAD_BASE64,     USAGE,    400, 11, "invalid base64 string")
X(KMS_ERR_BAD_LENGTH,     USAGE,    400, 12, "value has the wrong length")
X(KMS_ERR_NOT_ASCII,      USAGE,    400, 12, "text must be printable ASCII")
X(KMS_ERR_KEK,            USAGE,    400, 12, "KEK file must hold exactly 32 bytes and be mode 0600")
X(KMS_ERR_HSM_URI,        USAGE,    400, 12, "invalid PKCS#11 URI")
X(KMS_ERR_TRUNCATED,      PROTO,    400, 12, "input truncated")
X(KMS_ERR_TRAILING,       PROTO,    400, 12, "unexpected trailing bytes")
X(KMS_ERR_TOO_LONG,       PROTO,    400, 12, "value exceeds its size limit")
X(KMS_ERR_MALFORMED,      PROTO,    400, 12, "malformed input")
X(KMS_ERR_UNSUPPORTED,    PROTO,    400, 12, "well formed but not supported")
X(KMS_ERR_CRYPTO,         CRYPTO,   500, 12, "cryptographic library failure")
X(KMS_ERR_RANDOM,         CRYPTO,   500, 12, "random number generator failure")
X(KMS_ERR_SELFTEST,       CRYPTO,   500, 12, "known-answer self-test failed")
X(KMS_ERR_AUTH,           AUTH,     403,  0, "authentication failed")
X(KMS_ERR_MAC_A,          AUTH,     403,  0, "network authentication (MAC-A) failed")
X(KMS_ERR_MAC_S,          AUTH,     403,  0, "resynchronisation token (MAC-S) failed")
X(KMS_ERR_SQN_STALE,      AUTH,     403,  0, "sequence number not fresh")
X(KMS_ERR_SQN_DELTA,      AUTH,     403,  0, "sequence number jumped beyond delta")
X(KMS_ERR_SQN_AGE,        AUTH,     403,  0, "sequence number older than the age limit L")
X(KMS_ERR_TS_SKEW,        AUTH,     403,  0, "timestamp outside the allowed clock skew")
X(KMS_ERR_REPLAY,         AUTH,     403,  0, "message replayed")
X(KMS_ERR_REPLAY_RESTART, AUTH,     403,  0, "timestamp precedes the replay window opened at start")
X(KMS_ERR_TICKET_VERSION, AUTH,     403,  0, "ticket version or type not supported")
X(KMS_ERR_KEY_UNKNOWN,    AUTH,     403,  0, "ticket sealed under an unknown key")
X(KMS_ERR_KEY_DESTROYED,  AUTH,     403,  0, "ticket sealed under a destroyed key")
X(KMS_ERR_TICKET_TAG,     AUTH,     403,  0, "ticket authentication tag does not verify")
X(KMS_ERR_TICKET_FIELD,   AUTH,     403,  0, "ticket payload invalid")
X(KMS_ERR_TICKET_EXPIRED, AUTH,     403,  0, "ticket expired")
X(KMS_ERR_TICKET_EARLY,   AUTH,     403,  0, "ticket issued in the future")
X(KMS_ERR_KEYRING_MAC,    AUTH,     403,  0, "keyring file failed its integrity check (wrong KEK or altered file)")
X(KMS_ERR_SQN_RESERVE,    STATE,    503, 12, "no reserved sequence numbers left")
X(KMS_ERR_SQN_EXHAUSTED,  STATE,    503, 12, "sequence number space exhausted")
X(KMS_ERR_REPLAY_FULL,    STATE,    503, 12, "replay cache full")
X(KMS_ERR_NO_ACTIVE_KEY,  STATE,    503, 12, "no active key")
X(KMS_ERR_NOT_FOUND,      STATE,    404, 12, "not found")
X(KMS_ERR_EXISTS,         STATE,    409, 12, "already exists")
X(KMS_ERR_IO,             STATE,    500, 12, "file system error")
X(KMS_ERR_HSM,            STATE,    500, 12, "PKCS#11 token failure")
X(KMS_ERR_STORE,          STATE,    500, 12, "state store failure")
X(KMS_ERR_KEYRING_FULL,   STATE,    503, 12, "keyring holds too many keys in their grace period")
X(KMS_ERR_KEYSTORE_KIND,  USAGE,    400, 12, "keyring belongs to the other keystore (--kek-file or --hsm)")
X(KMS_ERR_NOMEM,          INTERNAL, 500, 12, "out of memory")
X(KMS_ERR_INTERNAL,       INTERNAL, 500, 12, "internal error")
/* clang-format on */
