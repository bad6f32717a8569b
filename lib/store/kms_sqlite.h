/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_sqlite: what every SQLite file of imskms does the same way (the KMS state store, the
 * BSF's subscriber store): a file only its owner may read or write, WAL, synchronous=FULL,
 * a busy timeout, PRAGMA helpers. Failures of SQLite itself are KMS_ERR_STORE.
 */
#ifndef KMS_STORE_SQLITE_H
#define KMS_STORE_SQLITE_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "err/kms_err.h"

#define KMS_SQLITE_BUSY_TIMEOUT_MS 5000

/* Creates path with mode 0600 when it is missing and create is set (then fsyncs it and its
 * directory: *created tells); refuses anything but a regular file that only its owner may read
 * or write (KMS_ERR_STORE). KMS_ERR_NOT_FOUND when missing and !create; KMS_ERR_IO otherwise. */
KMS_MUST_CHECK kms_result kms_sqlite_prepare_file(const char *path, bool create, bool *created);

/* Extended result codes, the busy timeout, journal_mode=WAL and synchronous=FULL, each checked
 * to be in force. */
KMS_MUST_CHECK kms_result kms_sqlite_configure(sqlite3 *db);

/* The single integer a PRAGMA (or SELECT) query returns. */
KMS_MUST_CHECK kms_result kms_sqlite_pragma_int(sqlite3 *db, const char *sql, int64_t *v);

#endif
