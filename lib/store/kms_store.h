/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_store: the KMS's state store (mode-2 Kue records and COUNTER-mode replay counters).
 *
 * Two layers, so that a new backend (Redis, for a multi-node KMS) drops in without touching
 * callers:
 *   - the front (this header's kms_store_* functions) encrypts every record under the KEK
 *     with AES-256-GCM before it reaches a backend, with the record's kind and id as
 *     associated data, and decrypts it on the way back; callers see plaintext records;
 *   - a backend stores opaque rows: (kind, 16-byte id, expiry, blob) and per-id counters.
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
#define KMS_STORE_RECORD_MAX 4096 /* largest plaintext record */

/* ---- backend interface (rows are already encrypted) ---- */

struct kms_store_backend;

struct kms_store_backend_ops {
    const char *name; /* "sqlite", "memory" */
    /* Inserts a row; KMS_ERR_EXISTS when the id is taken (even by an expired row not yet
     * purged); KMS_ERR_STORE when the backend is full or fails. */
    kms_result (*put)(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                      uint64_t expires, const uint8_t *blob, size_t len);
    /* Appends the row's blob to out. KMS_ERR_NOT_FOUND when absent or expired (expires <= now). */
    kms_result (*get)(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                      uint64_t now, struct kms_buf *out, uint64_t *expires);
    /* KMS_ERR_NOT_FOUND when absent. */
    kms_result (*del)(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN]);
    /* Atomically: when no counter exists for id, or counter > the stored one, stores counter
     * (with expiry) and succeeds; otherwise KMS_ERR_REPLAY and nothing changes. */
    kms_result (*counter_advance)(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                                  uint64_t counter, uint64_t expires);
    /* Deletes rows and counters with expires <= now; *n (may be NULL) counts them. */
    kms_result (*purge)(struct kms_store_backend *be, uint64_t now, uint64_t *n);
    void (*close)(struct kms_store_backend *be);
};

struct kms_store_backend {
    const struct kms_store_backend_ops *ops;
};

/* SQLite 3 backend: WAL, synchronous=FULL, created when missing (file mode 0600). */
KMS_MUST_CHECK kms_result kms_store_backend_sqlite(const char *path,
                                                   struct kms_store_backend **out);
/* In-memory backend for tests: at most max_rows rows plus max_rows counters. */
KMS_MUST_CHECK kms_result kms_store_backend_memory(size_t max_rows, struct kms_store_backend **out);

/* ---- the front callers use ---- */

struct kms_store;

/* Takes ownership of be (closed by kms_store_close, also on failure). */
KMS_MUST_CHECK kms_result kms_store_new(struct kms_store_backend *be, const uint8_t kek[32],
                                        struct kms_store **out);
void kms_store_close(struct kms_store *st);

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
/* See kms_store_backend_ops.counter_advance. */
KMS_MUST_CHECK kms_result kms_store_counter_advance(struct kms_store *st,
                                                    const uint8_t id[KMS_STORE_ID_LEN],
                                                    uint64_t counter, uint64_t expires);
KMS_MUST_CHECK kms_result kms_store_purge(struct kms_store *st, uint64_t now, uint64_t *n);

#endif
