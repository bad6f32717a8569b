/* SPDX-License-Identifier: Apache-2.0 */
/* A BSF node's own SQN marks: see kms_sqndb.h. */
#include "gba/kms_sqndb.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kms_sqn.h"
#include "store/kms_sqlite.h"
#include "util/kms_ident.h"

#define SCHEMA_VERSION 1
#define APPLICATION_ID 0x494d5351 /* "IMSQ" */

static const char schema_v1[] =
    "CREATE TABLE sqn ("
    " impi TEXT PRIMARY KEY NOT NULL,"
    " mark INTEGER NOT NULL CHECK(mark >= 0 AND mark <= 281474976710655)"
    ") WITHOUT ROWID;"
    "PRAGMA application_id = 1229804369;"
    "PRAGMA user_version = 1;";

enum { S_GET, S_RAISE, S_SET, S_COUNT };
static const char *const stmt_sql[S_COUNT] = {
    [S_GET] = "SELECT mark FROM sqn WHERE impi = ?1",
    /* One statement is one transaction: with synchronous=FULL it returns once durable. */
    [S_RAISE] = "INSERT INTO sqn(impi, mark) VALUES (?1, ?2) ON CONFLICT(impi) DO UPDATE SET "
                "mark = excluded.mark WHERE excluded.mark > sqn.mark",
    [S_SET] = "INSERT INTO sqn(impi, mark) VALUES (?1, ?2) ON CONFLICT(impi) DO UPDATE SET "
              "mark = excluded.mark",
};

struct kms_sqndb {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT]; /* prepared once */
    pthread_mutex_t mu;
};

static kms_result exec(sqlite3 *db, const char *sql)
{
    KMS_ENSURE(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

static kms_result schema_locked(sqlite3 *db, bool create)
{
    int64_t version = 0, app_id = 0, objects = 0;
    KMS_TRY(kms_sqlite_pragma_int(db, "PRAGMA user_version", &version));
    KMS_TRY(kms_sqlite_pragma_int(db, "PRAGMA application_id", &app_id));
    if (version == 0) {
        KMS_TRY(kms_sqlite_pragma_int(db, "SELECT count(*) FROM sqlite_master", &objects));
        KMS_ENSURE(create && objects == 0 && app_id == 0, KMS_ERR_STORE);
        return exec(db, schema_v1);
    }
    KMS_ENSURE(app_id == APPLICATION_ID && version == SCHEMA_VERSION, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

kms_result kms_sqndb_open(const char *path, bool create, struct kms_sqndb **out)
{
    KMS_ENSURE(path != NULL && out != NULL, KMS_ERR_ARG);
    *out = NULL;
    kms_result rc = KMS_RC_INIT;
    bool created = false;
    KMS_TRY(kms_sqlite_prepare_file(path, create, &created));
    struct kms_sqndb *s = calloc(1, sizeof(*s));
    KMS_ENSURE(s != NULL, KMS_ERR_NOMEM);
    pthread_mutex_init(&s->mu, NULL);
    int e = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    KMS_ENSURE_OUT(rc, e == SQLITE_OK, KMS_ERR_STORE);
    KMS_TRY_OUT(rc, kms_sqlite_configure(s->db));
    KMS_TRY_OUT(rc, exec(s->db, "BEGIN IMMEDIATE"));
    kms_result r = schema_locked(s->db, create);
    if (kms_ok(r)) {
        r = exec(s->db, "COMMIT");
    }
    if (!kms_ok(r)) {
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    KMS_TRY_OUT(rc, r);
    for (size_t i = 0; i < S_COUNT; i++) {
        KMS_ENSURE_OUT(rc,
                       sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                          &s->st[i], NULL) == SQLITE_OK,
                       KMS_ERR_STORE);
    }
    *out = s;
    s = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_sqndb_close(s);
    return rc;
}

void kms_sqndb_close(struct kms_sqndb *db)
{
    if (db == NULL) {
        return;
    }
    for (size_t i = 0; i < S_COUNT; i++) {
        sqlite3_finalize(db->st[i]); /* NULL is a no-op */
    }
    (void)sqlite3_close(db->db);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

/* Statement `which` on (impi[, mark]) under the lock; a SELECT's first column into *v. */
static kms_result run(struct kms_sqndb *db, int which, const char *impi, bool with_mark,
                      uint64_t mark, uint64_t *v)
{
    KMS_ENSURE(db != NULL && impi != NULL, KMS_ERR_ARG);
    KMS_TRY(kms_ident_check_impi(impi, strlen(impi)));
    KMS_ENSURE(mark <= KMS_SQN_MAX, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st = db->st[which];
    KMS_ENSURE_OUT(rc, sqlite3_bind_text(st, 1, impi, -1, SQLITE_STATIC) == SQLITE_OK,
                   KMS_ERR_STORE);
    if (with_mark) {
        KMS_ENSURE_OUT(rc, sqlite3_bind_int64(st, 2, (sqlite3_int64)mark) == SQLITE_OK,
                       KMS_ERR_STORE);
    }
    int e = sqlite3_step(st);
    if (v != NULL) {
        *v = 0;
        if (e == SQLITE_ROW) {
            sqlite3_int64 m = sqlite3_column_int64(st, 0);
            KMS_ENSURE_OUT(rc, m >= 0 && (uint64_t)m <= KMS_SQN_MAX, KMS_ERR_STORE);
            *v = (uint64_t)m;
            e = SQLITE_DONE;
        }
    }
    KMS_ENSURE_OUT(rc, e == SQLITE_DONE, KMS_ERR_STORE);
    rc = KMS_RESULT_OK;
out:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

kms_result kms_sqndb_get(struct kms_sqndb *db, const char *impi, uint64_t *mark)
{
    KMS_ENSURE(mark != NULL, KMS_ERR_ARG);
    *mark = 0;
    return run(db, S_GET, impi, false, 0, mark);
}

kms_result kms_sqndb_raise(struct kms_sqndb *db, const char *impi, uint64_t mark)
{
    return run(db, S_RAISE, impi, true, mark, NULL);
}

kms_result kms_sqndb_set(struct kms_sqndb *db, const char *impi, uint64_t mark)
{
    return run(db, S_SET, impi, true, mark, NULL);
}

kms_result kms_sqndb_probe(struct kms_sqndb *db)
{
    KMS_ENSURE_REF(db);
    pthread_mutex_lock(&db->mu);
    kms_result r = exec(db->db, "BEGIN IMMEDIATE");
    if (kms_ok(r)) {
        r = exec(db->db, "COMMIT");
        if (!kms_ok(r)) {
            (void)sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    pthread_mutex_unlock(&db->mu);
    return r;
}
