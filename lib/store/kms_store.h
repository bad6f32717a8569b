/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_store: the KMS's state store (mode-2 Kue records).
 *
 * Two layers, so that a new backend (Redis, for a multi-node KMS) drops in without touching
 * callers:
 *   - the front (this header's kms_store_* functions) encrypts every record with AES-256-GCM
 *     under a key derived from the KEK (row STATE_STORE of crypto/kms_kek.h, at the store's
 *     current key version) before it reaches a backend, with the record's kind, id, expiry and
 *     key version as associated data, and decrypts it on the way back; callers see plaintext;
 *   - a backend stores opaque rows (kind, 16-byte id, expiry, blob) and counts the seals
 *     made under each key version, durably and atomically with the row.
 *
 * Key versions: every blob starts with the version (4 bytes) of the key that sealed it. Each
 * version seals at most KMS_STORE_SEAL_LIMIT records (2^30, far below the 2^32 random-nonce
 * bound of NIST SP 800-38D 8.3); the backend refuses a seal past it (KMS_ERR_KEY_SPENT) and
 * the front then moves the store to the next version and seals again. Records under older
 * versions stay readable until they expire.
 *
 * Migration: a SQLite store of schema 1 (written before key versions, every record sealed under
 * the raw KEK) is re-sealed under version 1 of the derived key when kms_store_new opens it, in
 * one transaction (which also drops schema 1's counter table, left from the removed COUNTER
 * replay mode): a wrong KEK leaves the file as it was and fails with KMS_ERR_STORE.
 *
 * Records are opaque bytes to the store: the KMS serialises a Kue record with the sealed
 * ticket payload encoding (kms_ticket.h). Times are UNIX seconds, given by the caller.
 */
#ifndef KMS_STORE_STORE_H
#define KMS_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "util/kms_buf.h"

#define KMS_STORE_ID_LEN     16
#define KMS_STORE_RECORD_MAX 4096                /* largest plaintext record */
#define KMS_STORE_SEAL_LIMIT (UINT64_C(1) << 30) /* seals per key version */

/* Called by a backend's migrate for each row written before key versions: appends to out the
 * row's blob re-sealed by the front (the ctx it was given). */
typedef kms_result (*kms_store_reseal_fn)(void *ctx, const uint8_t id[16], uint64_t expires,
                                          const uint8_t *blob, size_t len, struct kms_buf *out);

/* ---- backend interface (rows are already encrypted) ---- */

struct kms_store_backend;

struct kms_store_backend_ops {
    const char *name; /* "sqlite", "memory", "redis" */
    /* Atomically counts one seal under key version kv and inserts a row; nothing changes on
     * failure. KMS_ERR_KEY_SPENT when kv already counts `limit` seals or is not a version of
     * the store; KMS_ERR_EXISTS when the id is taken (even by an expired row not yet purged);
     * KMS_ERR_STORE when the backend is full or fails. */
    kms_result (*put)(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                      uint64_t expires, const uint8_t *blob, size_t len, uint32_t kv,
                      uint64_t limit);
    /* Appends the row's blob to out. KMS_ERR_NOT_FOUND when absent or expired (expires <= now). */
    kms_result (*get)(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                      uint64_t now, struct kms_buf *out, uint64_t *expires);
    /* KMS_ERR_NOT_FOUND when absent. */
    kms_result (*del)(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN]);
    /* The ids of unexpired rows (expires > now) above `after` (NULL: from the lowest), in
     * ascending byte order, at most cap of them into ids; *n counts them (< cap: the last
     * page). Rows added or deleted meanwhile may or may not be seen; none is seen twice. */
    kms_result (*scan)(struct kms_store_backend *be, uint64_t now,
                       const uint8_t after[KMS_STORE_ID_LEN], uint8_t (*ids)[KMS_STORE_ID_LEN],
                       size_t cap, size_t *n);
    /* Deletes rows with expires <= now; *n (may be NULL) counts them. */
    kms_result (*purge)(struct kms_store_backend *be, uint64_t now, uint64_t *n);
    /* The store's current (highest) key version, and the seals counted under it. */
    kms_result (*key_current)(struct kms_store_backend *be, uint32_t *kv, uint64_t *seals);
    /* Makes from + 1 a version of the store (once, even when several callers race), and
     * returns the current one. KMS_ERR_KEY_SPENT when from is the last version there can be. */
    kms_result (*key_rotate)(struct kms_store_backend *be, uint32_t from, uint32_t *kv);
    /* Re-seals, in one transaction, the rows written before key versions (reseal gives each
     * row's new blob; the count of them becomes version 1's seals); *n (may be NULL) counts
     * them. Nothing to do (0 rows) for a store that has versions already. On any failure
     * nothing changes. */
    kms_result (*migrate)(struct kms_store_backend *be, kms_store_reseal_fn reseal, void *ctx,
                          uint64_t *n);
    void (*close)(struct kms_store_backend *be);
};

struct kms_store_backend {
    const struct kms_store_backend_ops *ops;
};

/* SQLite 3 backend: WAL, synchronous=FULL, created when missing (file mode 0600). */
KMS_MUST_CHECK kms_result kms_store_backend_sqlite(const char *path,
                                                   struct kms_store_backend **out);
/* In-memory backend for tests: at most max_rows rows. */
KMS_MUST_CHECK kms_result kms_store_backend_memory(size_t max_rows, struct kms_store_backend **out);

/* ---- the front callers use ---- */

struct kms_store;

/* Takes ownership of be (closed by kms_store_close, also on failure). Migrates a store written
 * before key versions (see above): KMS_ERR_STORE when one of its records does not open under the
 * KEK (a wrong KEK), the file then unchanged. */
KMS_MUST_CHECK kms_result kms_store_new(struct kms_store_backend *be, const uint8_t kek[32],
                                        struct kms_store **out);
void kms_store_close(struct kms_store *st);

/* The key version new records are sealed under, and the seals counted under it. */
KMS_MUST_CHECK kms_result kms_store_key_info(struct kms_store *st, uint32_t *kv, uint64_t *seals);
/* Tests: lowers the seals allowed per key version (default KMS_STORE_SEAL_LIMIT; 0 ignored). */
void kms_store_set_seal_limit(struct kms_store *st, uint64_t limit);

/* A mode-2 Kue record under its 128-bit reference, until `expires`. */
KMS_MUST_CHECK kms_result kms_store_kue_put(struct kms_store *st,
                                            const uint8_t id[KMS_STORE_ID_LEN], uint64_t expires,
                                            const uint8_t *rec, size_t len);
/* Appends the plaintext record to out (create out with kms_buf_init(..., secret = true)).
 * KMS_ERR_NOT_FOUND when absent or expired; KMS_ERR_STORE when a row fails to decrypt. */
KMS_MUST_CHECK kms_result kms_store_kue_get(struct kms_store *st,
                                            const uint8_t id[KMS_STORE_ID_LEN], uint64_t now,
                                            struct kms_buf *out, uint64_t *expires);
KMS_MUST_CHECK kms_result kms_store_kue_del(struct kms_store *st,
                                            const uint8_t id[KMS_STORE_ID_LEN]);
/* A page of the references of unexpired Kue records, for listing and revoking (imskms kue):
 * the backend's scan (above). Read each with kms_store_kue_get. */
KMS_MUST_CHECK kms_result kms_store_kue_scan(struct kms_store *st, uint64_t now,
                                             const uint8_t after[KMS_STORE_ID_LEN],
                                             uint8_t (*ids)[KMS_STORE_ID_LEN], size_t cap,
                                             size_t *n);
KMS_MUST_CHECK kms_result kms_store_purge(struct kms_store *st, uint64_t now, uint64_t *n);

#endif
