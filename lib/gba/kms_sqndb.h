/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_sqndb: a BSF node's own SQN marks, when its subscribers live in Redis (imskms-bsfd
 * --redis ... --sqn-db PATH; docs/scaling.md). One row per IMPI this node has challenged: the
 * durable high-water mark of the SQNs it reserved (TS 33.102 Annex C, crypto/kms_sqn.h). Each
 * node hands out only the IND values of its class (--node-id), so the marks of two nodes never
 * need to agree and Redis needs no durability for them.
 *
 * Storage: one SQLite file as every imskms file (lib/store/kms_sqlite: mode 0600, WAL,
 * synchronous=FULL, so a committed mark survives a power cut). No key material: IMPIs and marks
 * in clear (personal data, owner-only as the rest). A row absent is a mark of 0: the node then
 * starts from the mark of the subscriber's record (the higher of the two counts).
 *
 * Threads: one mutex serialises the handle; several processes may share the file (the CLI's
 * set-sqn while the node runs), each change one transaction.
 */
#ifndef KMS_GBA_SQNDB_H
#define KMS_GBA_SQNDB_H

#include <stdbool.h>
#include <stdint.h>

#include "err/kms_err.h"

struct kms_sqndb;

/* Opens (creating it, mode 0600, when create is set) the file at path: KMS_ERR_NOT_FOUND when
 * missing and !create, KMS_ERR_STORE when it is not an SQN file of this version or is
 * accessible by group or others, KMS_ERR_IO when it cannot be created. */
KMS_MUST_CHECK kms_result kms_sqndb_open(const char *path, bool create, struct kms_sqndb **out);
void kms_sqndb_close(struct kms_sqndb *db);

/* The node's mark for impi (0 when it has none). */
KMS_MUST_CHECK kms_result kms_sqndb_get(struct kms_sqndb *db, const char *impi, uint64_t *mark);
/* Raises the mark to `mark`, never lowering it (one transaction, one fsync when it writes).
 * KMS_ERR_ARG above KMS_SQN_MAX. */
KMS_MUST_CHECK kms_result kms_sqndb_raise(struct kms_sqndb *db, const char *impi, uint64_t mark);
/* Operator reset: sets the mark, lower or higher (imskms subscriber set-sqn --sqn-db). */
KMS_MUST_CHECK kms_result kms_sqndb_set(struct kms_sqndb *db, const char *impi, uint64_t mark);
/* A write transaction that writes nothing: the readiness probe (writable, not locked). */
KMS_MUST_CHECK kms_result kms_sqndb_probe(struct kms_sqndb *db);

#endif
