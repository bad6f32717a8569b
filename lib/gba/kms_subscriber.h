/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_subscriber: the BSF's subscriber store, standing in for the HSS. One row per private
 * identity (IMPI) holding its public identities (IMPUs), the Milenage keys K and OPc, the AMF
 * and the durable SQN high-water mark (TS 33.102 Annex C, see crypto/kms_sqn.h).
 *
 * Storage: one SQLite 3 file in WAL mode with synchronous=FULL (a committed SQN mark survives a
 * power cut, so an SQN is never handed out twice) and a busy timeout, so the CLI and a running
 * BSF may use the same file at once. The file is created mode 0600; an existing file readable or
 * writable by group or others is refused.
 *
 * Secrets: K || OPc are sealed with AES-256-GCM under the KEK, as nonce(12) || ct(32) || tag(16).
 * The associated data binds the sealed blob to everything else in the row that is not meant to
 * change on its own:
 *     "imskms-subscriber-v1" || AMF (2) || len(IMPI) (1) || IMPI || IMPUs joined by " "
 * so a blob copied to another IMPI, an AMF changed in the file or an IMPU added to a row fails
 * to open (KMS_ERR_STORE). IMPUs and AMF are stored in clear (not secret); the SQN is not bound
 * (it moves on every reservation) and is kept in clear.
 *
 * KEK check: the file records a GMAC under the KEK at creation, so opening it with another KEK
 * fails at once (KMS_ERR_AUTH), before a row could be added under the wrong key.
 *
 * Threads: a handle may be shared by threads (one mutex serialises its connection). Several
 * handles, in one process or several, may use one file: every change is one SQLite transaction.
 *
 * Strings: IMPIs follow kms_ident_check_impi (1..255 octets of printable ASCII, no space); IMPUs
 * follow kms_ident_check_impu (the same rule). Every char array below holds a
 * NUL-terminated string.
 */
#ifndef KMS_GBA_SUBSCRIBER_H
#define KMS_GBA_SUBSCRIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"

#define KMS_SUBSCRIBER_ID_MAX   255 /* octets in an IMPI or an IMPU, without the NUL */
#define KMS_SUBSCRIBER_IMPU_MAX 8   /* IMPUs per subscriber */
#define KMS_SUBSCRIBER_KEY_LEN  16  /* K, OPc */
#define KMS_SUBSCRIBER_AMF_LEN  2

/* A subscriber with its keys. Wipe it (kms_subscriber_wipe) when done. */
struct kms_subscriber {
    char impi[KMS_SUBSCRIBER_ID_MAX + 1];
    char impu[KMS_SUBSCRIBER_IMPU_MAX][KMS_SUBSCRIBER_ID_MAX + 1];
    size_t n_impu; /* 1 .. KMS_SUBSCRIBER_IMPU_MAX, no duplicates */
    uint8_t k[KMS_SUBSCRIBER_KEY_LEN];
    uint8_t opc[KMS_SUBSCRIBER_KEY_LEN];
    uint8_t amf[KMS_SUBSCRIBER_AMF_LEN];
};

/* What kms_subscriber_list shows: no key material. */
struct kms_subscriber_info {
    char impi[KMS_SUBSCRIBER_ID_MAX + 1];
    char impu[KMS_SUBSCRIBER_IMPU_MAX][KMS_SUBSCRIBER_ID_MAX + 1];
    size_t n_impu;
    uint8_t amf[KMS_SUBSCRIBER_AMF_LEN];
    uint64_t sqn; /* the stored SQN high-water mark */
};

/* A subscriber as stored, K and OPc still sealed: what export and import move. sealed is
 * nonce (12) || K || OPc encrypted (32) || tag (16), AES-256-GCM under the store's key derived
 * from the KEK, with the associated data above (IMPI, AMF, IMPUs in this order). */
#define KMS_SUBSCRIBER_SEALED_LEN 60
struct kms_subscriber_rec {
    struct kms_subscriber_info info; /* impi, impu[n_impu], amf, sqn (the SQN mark) */
    uint8_t sealed[KMS_SUBSCRIBER_SEALED_LEN];
};

struct kms_subscriber_db;

/* Wipes every byte of s (keys included). */
void kms_subscriber_wipe(struct kms_subscriber *s);

/* Checks s before it is stored: IMPI and every IMPU well formed, 1..8 IMPUs, no IMPU twice.
 * KMS_ERR_ARG, KMS_ERR_BAD_LENGTH, KMS_ERR_TOO_LONG or KMS_ERR_NOT_ASCII. */
KMS_MUST_CHECK kms_result kms_subscriber_check(const struct kms_subscriber *s);

/* Opens the store at path with the KEK (copied; the caller keeps and wipes its own). When the
 * file is missing it is created (mode 0600) if `create` is set, else KMS_ERR_NOT_FOUND.
 * KMS_ERR_AUTH when the file was created under another KEK; KMS_ERR_STORE when the file is not
 * a subscriber store of a version this build reads, is accessible by group or others, or SQLite
 * fails; KMS_ERR_IO when the file cannot be created. *out is NULL on failure. */
KMS_MUST_CHECK kms_result kms_subscriber_db_open(const char *path, const uint8_t kek[32],
                                                 bool create, struct kms_subscriber_db **out);
/* Closes the handle and wipes its copy of the KEK; NULL does nothing. */
void kms_subscriber_db_close(struct kms_subscriber_db *db);

/* Adds s (borrowed; checked with kms_subscriber_check) whose last used SQN is sqn_last
 * (<= KMS_SQN_MAX, else KMS_ERR_ARG). KMS_ERR_EXISTS when the IMPI is taken. One durable write.
 */
KMS_MUST_CHECK kms_result kms_subscriber_add(struct kms_subscriber_db *db,
                                             const struct kms_subscriber *s, uint64_t sqn_last);

/* Reads the subscriber with its keys into *out and its SQN mark into *sqn_mark (may be NULL).
 * KMS_ERR_NOT_FOUND when absent; KMS_ERR_STORE when the row is malformed or its sealed keys do
 * not open (another KEK, altered or moved row). On any failure *out is wiped and *sqn_mark is 0.
 * The caller wipes *out after use. */
KMS_MUST_CHECK kms_result kms_subscriber_get(struct kms_subscriber_db *db, const char *impi,
                                             struct kms_subscriber *out, uint64_t *sqn_mark);

/* Deletes the subscriber. KMS_ERR_NOT_FOUND when absent. */
KMS_MUST_CHECK kms_result kms_subscriber_del(struct kms_subscriber_db *db, const char *impi);

/* Calls cb once per subscriber, in IMPI order, with a view valid during the call only. A result
 * other than OK from cb stops the walk and is returned. cb runs with the handle locked: it must
 * not call into the same db. KMS_ERR_STORE for a malformed row (the walk stops there). */
KMS_MUST_CHECK kms_result kms_subscriber_list(struct kms_subscriber_db *db,
                                              kms_result (*cb)(void *arg,
                                                               const struct kms_subscriber_info *),
                                              void *arg);

/* Operator reset: sets the SQN mark to sqn, lower or higher (for a replaced USIM or after a
 * manual resynchronisation). KMS_ERR_ARG above KMS_SQN_MAX; KMS_ERR_NOT_FOUND. One durable
 * write. Never use it to persist a reservation: see kms_subscriber_sqn_commit. */
KMS_MUST_CHECK kms_result kms_subscriber_set_sqn(struct kms_subscriber_db *db, const char *impi,
                                                 uint64_t sqn);

/* Persists a reservation of kms_sqn_he_reserve: atomically raises the stored SQN mark to `mark`,
 * never lowering it. When the stored mark is already >= mark it succeeds without writing (so a
 * second BSF, or the CLI, that raised it meanwhile wins). Otherwise one transaction, one fsync:
 * when it returns KMS_OK the mark is durable and kms_sqn_he_reserved(he, mark) may be called.
 * KMS_ERR_ARG above KMS_SQN_MAX; KMS_ERR_NOT_FOUND; KMS_ERR_STORE.
 *
 * Raising is not a reservation of a disjoint range: two BSF processes that start from the same
 * mark and commit the same new mark both succeed and would hand out the same SQNs. One BSF per
 * store, as designed; several would need a compare-and-set variant. */
KMS_MUST_CHECK kms_result kms_subscriber_sqn_commit(struct kms_subscriber_db *db, const char *impi,
                                                    uint64_t mark);

/* kms_subscriber_sqn_commit for n subscribers in one transaction (one fsync): the BSF's
 * reservations at start. All or nothing: on any failure (KMS_ERR_ARG, KMS_ERR_NOT_FOUND for a
 * subscriber deleted meanwhile, KMS_ERR_STORE) no mark is raised. */
KMS_MUST_CHECK kms_result kms_subscriber_sqn_commit_many(struct kms_subscriber_db *db, size_t n,
                                                         const char *const *impis,
                                                         const uint64_t *marks);

/* Export: calls cb once per subscriber, in IMPI order, with the row as stored (the sealed keys
 * are never opened; a view valid during the call only). cb runs with the handle locked. A
 * result other than OK from cb stops the walk and is returned; KMS_ERR_STORE for a malformed
 * row. */
KMS_MUST_CHECK kms_result kms_subscriber_export(struct kms_subscriber_db *db,
                                                kms_result (*cb)(void *arg,
                                                                 const struct kms_subscriber_rec *),
                                                void *arg);

/* Import: one transaction (one fsync) over the records `next` hands out until it sets *done.
 * Each record is checked (identities as kms_subscriber_check, the SQN mark <= KMS_SQN_MAX:
 * KMS_ERR_ARG and the like) and its sealed keys are opened under this store's KEK and wiped at
 * once: a record that does not open (sealed under another KEK, or its IMPI, AMF or IMPUs
 * altered) is KMS_ERR_AUTH. An IMPI already in the store is KMS_ERR_EXISTS. All or nothing: on
 * any failure (of next too) nothing is added, and *count (may be NULL) holds the number of
 * records read before the one that failed; on success the number added. `next` runs with the
 * handle locked: it must not call into the same db. */
KMS_MUST_CHECK kms_result kms_subscriber_import(struct kms_subscriber_db *db,
                                                kms_result (*next)(void *arg,
                                                                   struct kms_subscriber_rec *rec,
                                                                   bool *done),
                                                void *arg, uint64_t *count);

/* A record sealed as a store would seal it, without a store (a backend of its own, the BSF's
 * Redis store): K and OPc of s sealed under the key the KEK derives for subscribers, bound as
 * above; sqn is the record's SQN mark. KMS_ERR_ARG (sqn above KMS_SQN_MAX) and the codes of
 * kms_subscriber_check. */
KMS_MUST_CHECK kms_result kms_subscriber_rec_seal(const uint8_t kek[32],
                                                  const struct kms_subscriber *s, uint64_t sqn,
                                                  struct kms_subscriber_rec *out);
/* Opens rec's keys under the KEK into *out (wipe it after use): KMS_ERR_AUTH when they do not
 * open (another KEK, or the IMPI, AMF or IMPUs altered); the identity checks' codes. */
KMS_MUST_CHECK kms_result kms_subscriber_rec_open(const uint8_t kek[32],
                                                  const struct kms_subscriber_rec *rec,
                                                  struct kms_subscriber *out);

#endif
