/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_keystore: where the Kkms key material lives and where AES-256-GCM runs with it.
 *
 * The keyring (kms_keyring.h) keeps the metadata of every Kkms version (id, state, times, seal
 * count) in its file, plus for each key a short opaque "reference" that the keystore hands out
 * when it creates the key and takes back to load it:
 *   - file keystore: the reference is the key wrapped under the KEK (AES-256-GCM, the keyring id
 *     and key id bound as associated data), so the material travels in the keyring file;
 *   - PKCS#11 keystore: the reference is the CKA_ID of a non-extractable CKK_AES object generated
 *     inside the token; sealing and opening run there with CKM_AES_GCM.
 * Both give the same semantics: one primitive (AES-256-GCM, 96-bit nonce chosen by the caller,
 * 128-bit tag), so a ticket sealed by one opens through the same code path on the other.
 */
#ifndef KMS_KEYRING_KEYSTORE_H
#define KMS_KEYRING_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"

#define KMS_KKMS_LEN      32 /* AES-256 */
#define KMS_GCM_NONCE_LEN 12
#define KMS_GCM_TAG_LEN   16
#define KMS_RING_ID_LEN   16                    /* random id of a keyring, chosen at `keys init` */
#define KMS_KEYREF_MAX    64                    /* largest reference a keystore may hand out */
#define KMS_ANCHOR_MAX    160                   /* largest anchor record (kms_keyring.c) */
#define KMS_ANCHOR_SEALED (KMS_ANCHOR_MAX + 32) /* the largest sealed anchor (anchor_seal) */
#define KMS_EPOCH_SECRET  32                    /* a wrap epoch's random secret (file keystore) */

/* Values recorded in the keyring file: a keyring is bound to one keystore kind. */
enum kms_keystore_kind {
    KMS_KEYSTORE_FILE = 1,
    KMS_KEYSTORE_PKCS11 = 2,
};

struct kms_keystore;     /* a backend instance; backends embed it as their first member */
struct kms_keystore_key; /* one loaded Kkms, ready to seal and open */

struct kms_keystore_ops {
    const char *name; /* "file", "pkcs11" */
    enum kms_keystore_kind kind;

    /* Creates a new Kkms for (ring_id, key_id) and writes its reference (at most
     * KMS_KEYREF_MAX bytes) to ref / *ref_len. Any leftover object for the same (ring_id,
     * key_id) from an earlier crash is destroyed first. */
    kms_result (*generate)(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                           uint32_t key_id, uint8_t *ref, size_t *ref_len);

    /* Makes a key usable from its reference. KMS_ERR_NOT_FOUND when the token has no such
     * object; KMS_ERR_KEYRING_MAC when a wrapped key does not unwrap (wrong KEK, altered). */
    kms_result (*load)(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                       uint32_t key_id, const uint8_t *ref, size_t ref_len,
                       struct kms_keystore_key **out);

    /* Forgets a loaded key (wiping what it held in memory). NULL does nothing. */
    void (*unload)(struct kms_keystore_key *k);

    /* AES-256-GCM. ct receives pt_len bytes. May be called from several threads at once on
     * the same key: the backend serialises what it must. */
    kms_result (*seal)(struct kms_keystore_key *k, const uint8_t nonce[KMS_GCM_NONCE_LEN],
                       const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                       uint8_t *ct, uint8_t tag[KMS_GCM_TAG_LEN]);

    /* pt receives ct_len bytes. KMS_ERR_TICKET_TAG when the tag does not verify (pt is then
     * wiped); any other error is a failure of the backend, not a verdict on the input. */
    kms_result (*open)(struct kms_keystore_key *k, const uint8_t nonce[KMS_GCM_NONCE_LEN],
                       const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                       const uint8_t tag[KMS_GCM_TAG_LEN], uint8_t *pt);

    /* Erases the key material behind a reference (PKCS#11: C_DestroyObject; file: nothing,
     * the keyring file drops the wrapped key when it is rewritten). Destroying what is already
     * gone succeeds. */
    kms_result (*destroy)(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                          uint32_t key_id, const uint8_t *ref, size_t ref_len);

    /* Destroys every object of ring_id whose key id is not in keep[0..n_keep) (PKCS#11:
     * objects left by a crash between generate and the keyring write; file: nothing).
     * Called under the keyring lock. *n_destroyed (may be NULL) counts what went. */
    kms_result (*sweep)(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                        const uint32_t *keep, size_t n_keep, size_t *n_destroyed);

    /* A 32-byte integrity value over the bytes of a keyring file of ring_id in `format`:
     * HMAC-SHA-256 under a key derived from the KEK (file keystore, both formats); PKCS#11:
     * format 1 SHA-256 (corruption only; read for migration), format 2 CKM_SHA256_HMAC with
     * the ring's non-extractable MAC key in the token (KMS_ERR_KEYRING_ANCHOR without one). */
    kms_result (*file_mac)(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                           unsigned format, const uint8_t *p, size_t n, uint8_t out[32]);

    /* The keyring's anti-rollback record (its "anchor", opaque here, at most KMS_ANCHOR_MAX
     * bytes), kept where the keyring file's writer alone cannot roll it back: file keystore:
     * the file PATH.anchor, MACed under a KEK-derived key; PKCS#11: a private CKO_DATA object
     * of the token. get: KMS_ERR_NOT_FOUND when there is none, KMS_ERR_KEYRING_ANCHOR when it
     * does not authenticate. put: replaces it durably. */
    kms_result (*anchor_get)(struct kms_keystore *ks, const char *path,
                             const uint8_t ring_id[KMS_RING_ID_LEN], uint8_t *rec, size_t cap,
                             size_t *len);
    kms_result (*anchor_put)(struct kms_keystore *ks, const char *path,
                             const uint8_t ring_id[KMS_RING_ID_LEN], const uint8_t *rec,
                             size_t len);

    /* The anchor as bytes kept elsewhere than beside the file (the Redis keyring): seal
     * appends the integrity value (file keystore: the same bytes as PATH.anchor, the record
     * and HMAC-SHA-256 under the anchor key, at most KMS_ANCHOR_MAX + 32), unseal checks it
     * (KMS_ERR_KEYRING_ANCHOR) and copies the record out. NULL for PKCS#11, whose anchor lives
     * in the token. */
    kms_result (*anchor_seal)(struct kms_keystore *ks, const uint8_t *rec, size_t len, uint8_t *out,
                              size_t cap, size_t *out_len);
    kms_result (*anchor_unseal)(struct kms_keystore *ks, const uint8_t *img, size_t n, uint8_t *rec,
                                size_t cap, size_t *len);

    /* Called before the first format-2 file of ring_id is written (create, migration):
     * PKCS#11 generates the ring's MAC key (CKK_GENERIC_SECRET, sensitive, not extractable,
     * sign/verify only), replacing a leftover of an interrupted attempt; file: nothing. */
    kms_result (*ring_init)(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN]);

    /* Wrap epochs (file keystore; NULL for PKCS#11, whose keys never leave the token). A key
     * wrapped in epoch e >= 1 is wrapped under HMAC(KEK-derived key, e || secret_e), with the
     * epoch in its reference; epoch 0 is the KEK alone (format 1). set_epoch makes epoch e
     * known for load; rewrap re-wraps a reference (of any known epoch) into epoch e. */
    kms_result (*set_epoch)(struct kms_keystore *ks, uint64_t epoch,
                            const uint8_t secret[KMS_EPOCH_SECRET]);
    kms_result (*rewrap)(struct kms_keystore *ks, const uint8_t ring_id[KMS_RING_ID_LEN],
                         uint32_t key_id, const uint8_t *ref, size_t ref_len, uint64_t epoch,
                         const uint8_t secret[KMS_EPOCH_SECRET], uint8_t *out, size_t *out_len);

    /* Releases the backend (PKCS#11: logout, close the session, C_Finalize). NULL-safe. */
    void (*close)(struct kms_keystore *ks);
};

struct kms_keystore {
    const struct kms_keystore_ops *ops;
};

/* The file keystore with the KEK read from a file: exactly 32 bytes, regular, mode 0600
 * (KMS_ERR_KEK otherwise, KMS_ERR_IO when it cannot be read). */
KMS_MUST_CHECK kms_result kms_keystore_file_open(const char *kek_path, struct kms_keystore **out);
/* The file keystore with a KEK given in memory (tests, benchmarks). */
KMS_MUST_CHECK kms_result kms_keystore_file_open_kek(const uint8_t kek[32],
                                                     struct kms_keystore **out);

/* The PKCS#11 keystore from an RFC 7512 URI:
 *   pkcs11:token=LABEL?module-path=/path/lib.so&pin-source=file:/path/pin
 * (token= or serial= selects the token; pin-value= is accepted too; unknown attributes are
 * refused). KMS_ERR_HSM_URI for a bad URI, KMS_ERR_HSM when the module or token fails. */
KMS_MUST_CHECK kms_result kms_keystore_p11_open(const char *uri, struct kms_keystore **out);

/* Convenience: ks->ops->close(ks) when ks is not NULL. */
void kms_keystore_close(struct kms_keystore *ks);

/* Reads a KEK file (exactly 32 bytes, regular file, mode 0600 or stricter). */
KMS_MUST_CHECK kms_result kms_kek_read(const char *path, uint8_t kek[32]);

#endif
