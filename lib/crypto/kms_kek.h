/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_kek: the one way to get a key from the KEK. The KEK itself never keys a cipher or a MAC:
 * every use derives its own 32-byte key under its own label, listed once in KMS_KEK_REGISTRY
 * below. A new use adds a row here (a new name and a label no other row has; the unit test
 * test_kek checks that the labels are distinct, printable and non-empty), so it cannot silently
 * share another use's key.
 *
 * Derivation (docs/crypto.md, "KEK domain separation"):
 *   HKDF-Expand-SHA-256(PRK = KEK, info = label || version (4 bytes, big-endian), L = 32)
 * (RFC 5869 section 2.3; the KEK is already 32 uniformly random bytes, so the Extract step is
 * skipped as section 3.3 allows), through OpenSSL 3's EVP_KDF "HKDF" in EXPAND_ONLY mode.
 * Exception, for files written before this module existed: a row marked KMS_KEK_V1_HMAC derives
 * its version 1 as HMAC-SHA-256(KEK, label), the construction those files depend on; its later
 * versions are HKDF like every other row's. The two forms never meet on one HMAC input: an HKDF
 * input ends with the byte 0x01 and a label ends with a printable character.
 *
 * Versions start at 1; a use that rotates its key (the state store) moves to the next version.
 */
#ifndef KMS_CRYPTO_KEK_H
#define KMS_CRYPTO_KEK_H

#include <stdint.h>

#include "err/kms_err.h"

#define KMS_KEK_LEN 32

/* How version 1 is derived. */
#define KMS_KEK_V1_HKDF 0 /* as every version */
#define KMS_KEK_V1_HMAC 1 /* HMAC-SHA-256(KEK, label): kept for existing files */

/* X(name, label, version 1)   one row per use of the KEK */
/* clang-format off */
#define KMS_KEK_REGISTRY(X)                                                                        \
    /* file keystore (lib/keyring/kms_keystore_file.c): wraps each Kkms */                         \
    X(KEYRING_WRAP, "imskms keyring wrap v1",   KMS_KEK_V1_HMAC)                                   \
    /* file keystore: the keyring file's MAC */                                                    \
    X(KEYRING_MAC,  "imskms keyring mac v1",    KMS_KEK_V1_HMAC)                                   \
    /* file keystore: the base of the wrap keys of epochs >= 1 (anti-rollback, keyring.md) */      \
    X(KEYRING_EPOCH, "imskms keyring epoch v1", KMS_KEK_V1_HKDF)                                   \
    /* file keystore: the MAC of the keyring's anchor file (PATH.anchor) */                        \
    X(KEYRING_ANCHOR, "imskms keyring anchor v1", KMS_KEK_V1_HKDF)                                 \
    /* BSF subscriber store (lib/gba/kms_subscriber.c): seals K || OPc, and its KEK check */       \
    X(SUBSCRIBER,   "imskms-subscriber-v1 key", KMS_KEK_V1_HMAC)                                   \
    /* KMS state store (lib/store/kms_store.c): seals Kue records; rotates */                      \
    X(STATE_STORE,  "imskms state store",       KMS_KEK_V1_HKDF)                                   \
    /* BSF (lib/gba/kms_bsf.c): seals the state of a Ub challenge into its nonce (AES-256-SIV) */ \
    X(CHALLENGE_SEAL, "imskms bsf challenge seal v1", KMS_KEK_V1_HKDF)                           \
    /* KMS (lib/replay/kms_replay_snap.c): seals the replay cache's snapshot at a clean stop */    \
    X(REPLAY_SNAPSHOT, "imskms replay snapshot v1", KMS_KEK_V1_HKDF)                             \
    /* KMS fleet (lib/kms/kms_fleet.c): keys the names of replay entries and hash tags in Redis */ \
    X(KMS_REDIS_NAMES, "imskms kms redis names v1", KMS_KEK_V1_HKDF)                             \
    /* BSF on Redis (lib/gba/kms_bsf_redis.c): seals bootstrap sessions (Ks, IMPI) */             \
    X(BSF_SESSION, "imskms bsf session seal v1", KMS_KEK_V1_HKDF)                                 \
    /* BSF on Redis: keys the hash tags of its key names (no IMPI or RAND in a name) */          \
    X(BSF_REDIS_NAME, "imskms bsf redis names v1", KMS_KEK_V1_HKDF)
/* clang-format on */

enum kms_kek_use {
#define KMS_KEK_ENUM(name, label, v1) KMS_KEK_##name,
    KMS_KEK_REGISTRY(KMS_KEK_ENUM)
#undef KMS_KEK_ENUM
        KMS_KEK_USE_COUNT
};

/* The label of a use (a static string); NULL for a value outside the registry. */
const char *kms_kek_label(enum kms_kek_use use);

/* out = the key of `use` at `version` (>= 1) derived from the 32-byte KEK (borrowed). KMS_ERR_ARG
 * for a use outside the registry or version 0; KMS_ERR_CRYPTO when OpenSSL fails. out is wiped
 * on failure. */
KMS_MUST_CHECK kms_result kms_kek_derive(const uint8_t kek[KMS_KEK_LEN], enum kms_kek_use use,
                                         uint32_t version, uint8_t out[KMS_KEK_LEN]);

#endif
