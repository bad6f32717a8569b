/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQLite 3 store backend.
 *
 * File: created here with open(O_CREAT | O_EXCL, 0600) before SQLite opens it; SQLite gives
 * the -wal and -shm files the mode of the database file, so they are 0600 too. An existing
 * file readable or writable by group or others is refused.
 *
 * Pragmas: journal_mode=WAL (readers never block the writer; a second process may open the
 * file), synchronous=FULL (a committed Kue record, and the seal counted with it, survive a
 * power cut), busy_timeout (a writer in another process makes us wait, not fail).
 * The schema carries application_id and user_version; a newer user_version is refused.
 * Schema 2 adds store_key(kv, seals): the key versions and the seals counted under each, raised
 * in the transaction that inserts the row. A file of schema 1 (rows sealed under the raw KEK)
 * opens with no statement prepared; the front's migrate call re-seals its rows into schema 2 in
 * one transaction (a new table filled from the old one, then renamed over it; schema 1's
 * counter table, left from the removed COUNTER replay mode, is dropped), then prepares.
 *
 * Integers: SQLite's are signed 64-bit, so uint64 expiry times are stored as 8-byte big-endian
 * BLOBs. SQLite compares BLOBs with memcmp, which on big-endian bytes is the unsigned order, so
 * "expires <= now" holds for all 2^64 values.
 *
 * Threads: one connection, one mutex held around every use of it (prepared statements are
 * shared and must not be stepped by two threads at once); the connection is opened NOMUTEX
 * because that mutex already serialises it. put counts the seal and inserts the row in one
 * BEGIN IMMEDIATE transaction, atomic across threads and processes alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/kms_sqlite.h"
#include "store/kms_store.h"

#define SCHEMA_VERSION 2
#define SCHEMA_V1      1          /* before key versions */
#define APPLICATION_ID 0x494d534b /* "IMSK" */

enum stmt_id {
    S_PUT,
    S_GET,
    S_DEL,
    S_SCAN,
    S_PURGE,
    S_SEAL,
    S_KEY_CUR,
    S_KEY_ADD,
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_COUNT
};

/* Prepared once at open, reset and cleared after each use. */
static const char *const stmt_sql[S_COUNT] = {
    [S_PUT] = "INSERT INTO kue(id, expires, blob) VALUES (?1, ?2, ?3)",
    [S_GET] = "SELECT expires, blob FROM kue WHERE id = ?1",
    [S_DEL] = "DELETE FROM kue WHERE id = ?1",
    /* The primary key's order (WITHOUT ROWID: the table is that index), one page at a time. */
    [S_SCAN] = "SELECT id FROM kue WHERE id > ?1 AND expires > ?2 ORDER BY id LIMIT ?3",
    [S_PURGE] = "DELETE FROM kue WHERE expires <= ?1",
    /* Counts one seal under ?1 unless ?2 are counted already. */
    [S_SEAL] = "UPDATE store_key SET seals = seals + 1 WHERE kv = ?1 AND seals < ?2",
    [S_KEY_CUR] = "SELECT kv, seals FROM store_key ORDER BY kv DESC LIMIT 1",
    [S_KEY_ADD] = "INSERT OR IGNORE INTO store_key(kv, seals) VALUES (?1, 0)",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
};

/* The CHECKs keep every id a 16-byte and every expiry an 8-byte BLOB, so the memcmp order holds. */
#define KUE_COLUMNS                                                                                \
    "(id BLOB NOT NULL PRIMARY KEY CHECK(typeof(id) = 'blob' AND length(id) = 16),"                \
    " expires BLOB NOT NULL CHECK(typeof(expires) = 'blob' AND length(expires) = 8),"              \
    " blob BLOB NOT NULL CHECK(typeof(blob) = 'blob')"                                             \
    ") WITHOUT ROWID;"
#define STORE_KEY_TABLE                                                                            \
    "CREATE TABLE store_key("                                                                      \
    " kv INTEGER NOT NULL PRIMARY KEY CHECK(typeof(kv) = 'integer' AND kv BETWEEN 1 AND "          \
    "4294967295),"                                                                                 \
    " seals INTEGER NOT NULL CHECK(typeof(seals) = 'integer' AND seals >= 0)"                      \
    ");"

/* Version 2 (version 1 lacked store_key, and its blobs their key version, and had a counter
 * table for the COUNTER replay mode, since removed). */
static const char schema_v2[] =
    "CREATE TABLE kue" KUE_COLUMNS STORE_KEY_TABLE "INSERT INTO store_key(kv, seals) VALUES (1, 0);"
    "PRAGMA application_id = 1229804363;" /* APPLICATION_ID */
    "PRAGMA user_version = 2;";

struct sql_be {
    struct kms_store_backend base; /* first: the backend pointer is a pointer to this */
    pthread_mutex_t mu;
    bool mu_ok;
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    bool v1; /* schema 1 found at open: nothing prepared until migrate */
};

struct sql_arg {
    const uint8_t *p;
    size_t len;
};

static struct sql_be *sql_of(struct kms_store_backend *be)
{
    return (struct sql_be *)(void *)be;
}

static void put_be64(uint8_t b[8], uint64_t v)
{
    for (size_t i = 0; i < 8; i++) {
        b[7 - i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_be64(const uint8_t b[8])
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++) {
        v = (v << 8) | b[i];
    }
    return v;
}

/* Binds args as BLOBs ?1..?n and steps once; returns SQLite's code. The caller reads any row,
 * then calls stmt_done. */
static int bind_step(sqlite3_stmt *st, const struct sql_arg *args, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (args[i].len > INT_MAX) {
            return SQLITE_TOOBIG;
        }
        int e = sqlite3_bind_blob(st, (int)i + 1, args[i].p, (int)args[i].len, SQLITE_STATIC);
        if (e != SQLITE_OK) {
            return e;
        }
    }
    return sqlite3_step(st);
}

static void stmt_done(sqlite3_stmt *st)
{
    /* reset returns the step's error again; that was handled from bind_step already. */
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no row; SQLITE_DONE becomes SQLITE_OK. */
static int run(sqlite3_stmt *st, const struct sql_arg *args, size_t n)
{
    int e = bind_step(st, args, n);
    stmt_done(st);
    return e == SQLITE_DONE ? SQLITE_OK : e;
}

/* Binds two integers ?1, ?2 (?2 only when n == 2) and steps once; the caller calls stmt_done. */
static int bind_step_int(sqlite3_stmt *st, int64_t a, int64_t b, int n)
{
    int e = sqlite3_bind_int64(st, 1, a);
    if (e == SQLITE_OK && n == 2) {
        e = sqlite3_bind_int64(st, 2, b);
    }
    return e == SQLITE_OK ? sqlite3_step(st) : e;
}

/* With the mutex held, inside BEGIN IMMEDIATE: count the seal, then insert the row. */
static kms_result put_locked(struct sql_be *s, const struct sql_arg *args, uint32_t kv,
                             uint64_t limit)
{
    int64_t lim = limit > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
    int e = bind_step_int(s->st[S_SEAL], kv, lim, 2);
    stmt_done(s->st[S_SEAL]);
    KMS_ENSURE(e == SQLITE_DONE, KMS_ERR_STORE);
    KMS_ENSURE(sqlite3_changes(s->db) == 1, KMS_ERR_KEY_SPENT);
    e = run(s->st[S_PUT], args, 3);
    /* Expired rows not yet purged still hold their id, as the contract says. */
    KMS_ENSURE(e != SQLITE_CONSTRAINT_PRIMARYKEY, KMS_ERR_EXISTS);
    KMS_ENSURE(e == SQLITE_OK, KMS_ERR_STORE);
    KMS_ENSURE(run(s->st[S_COMMIT], NULL, 0) == SQLITE_OK, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

static kms_result sql_put(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                          uint64_t expires, const uint8_t *blob, size_t len, uint32_t kv,
                          uint64_t limit)
{
    struct sql_be *s = sql_of(be);
    uint8_t exp[8];
    KMS_ENSURE(id != NULL && blob != NULL, KMS_ERR_ARG);
    KMS_ENSURE(!s->v1, KMS_ERR_STORE);
    put_be64(exp, expires);
    const struct sql_arg args[] = {{id, KMS_STORE_ID_LEN}, {exp, 8}, {blob, len}};
    pthread_mutex_lock(&s->mu);
    kms_result r = KMS_ERR(KMS_ERR_STORE);
    if (run(s->st[S_BEGIN], NULL, 0) == SQLITE_OK) {
        r = put_locked(s, args, kv, limit);
        if (!kms_ok(r)) {
            /* Fails harmlessly when SQLite already rolled back on its own. */
            (void)run(s->st[S_ROLLBACK], NULL, 0);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* With the mutex held. */
static kms_result key_current_locked(struct sql_be *s, uint32_t *kv, uint64_t *seals)
{
    sqlite3_stmt *st = s->st[S_KEY_CUR];
    int e = sqlite3_step(st);
    kms_result r = KMS_ERR(KMS_ERR_STORE);
    if (e == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
        if (v >= 1 && v <= UINT32_MAX && n >= 0) {
            *kv = (uint32_t)v;
            *seals = (uint64_t)n;
            r = KMS_RESULT_OK;
        }
    }
    stmt_done(st);
    return r;
}

static kms_result sql_key_current(struct kms_store_backend *be, uint32_t *kv, uint64_t *seals)
{
    struct sql_be *s = sql_of(be);
    KMS_ENSURE(kv != NULL && seals != NULL, KMS_ERR_ARG);
    *kv = 0;
    *seals = 0;
    KMS_ENSURE(!s->v1, KMS_ERR_STORE);
    pthread_mutex_lock(&s->mu);
    kms_result r = key_current_locked(s, kv, seals);
    pthread_mutex_unlock(&s->mu);
    return r;
}

static kms_result sql_key_rotate(struct kms_store_backend *be, uint32_t from, uint32_t *kv)
{
    struct sql_be *s = sql_of(be);
    uint64_t seals = 0;
    KMS_ENSURE(kv != NULL, KMS_ERR_ARG);
    *kv = 0;
    KMS_ENSURE(!s->v1, KMS_ERR_STORE);
    KMS_ENSURE(from < UINT32_MAX, KMS_ERR_KEY_SPENT);
    pthread_mutex_lock(&s->mu);
    /* One statement: of two racing rotations the second inserts nothing. */
    int e = bind_step_int(s->st[S_KEY_ADD], (int64_t)from + 1, 0, 1);
    stmt_done(s->st[S_KEY_ADD]);
    kms_result r = e == SQLITE_DONE ? key_current_locked(s, kv, &seals) : KMS_ERR(KMS_ERR_STORE);
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* With the mutex held and S_GET on a row: checks and copies it out. */
static kms_result get_row(sqlite3_stmt *st, uint64_t now, struct kms_buf *out, uint64_t *expires)
{
    KMS_ENSURE(sqlite3_column_type(st, 0) == SQLITE_BLOB && sqlite3_column_bytes(st, 0) == 8,
               KMS_ERR_STORE);
    uint64_t exp = get_be64(sqlite3_column_blob(st, 0));
    KMS_ENSURE(exp > now, KMS_ERR_NOT_FOUND);
    const uint8_t *p = sqlite3_column_blob(st, 1);
    int n = sqlite3_column_bytes(st, 1);
    KMS_ENSURE(n >= 0 && (p != NULL || n == 0), KMS_ERR_STORE);
    KMS_TRY(kms_buf_put_bytes(out, p, (size_t)n));
    *expires = exp;
    return KMS_RESULT_OK;
}

static kms_result sql_get(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                          uint64_t now, struct kms_buf *out, uint64_t *expires)
{
    struct sql_be *s = sql_of(be);
    KMS_ENSURE(id != NULL && out != NULL && expires != NULL, KMS_ERR_ARG);
    *expires = 0;
    KMS_ENSURE(!s->v1, KMS_ERR_STORE);
    const struct sql_arg args[] = {{id, KMS_STORE_ID_LEN}};
    kms_result r;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[S_GET];
    int e = bind_step(st, args, 1);
    if (e == SQLITE_ROW) {
        r = get_row(st, now, out, expires);
    } else if (e == SQLITE_DONE) {
        r = KMS_ERR(KMS_ERR_NOT_FOUND);
    } else {
        r = KMS_ERR(KMS_ERR_STORE);
    }
    stmt_done(st);
    pthread_mutex_unlock(&s->mu);
    return r;
}

static kms_result sql_del(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN])
{
    struct sql_be *s = sql_of(be);
    KMS_ENSURE(id != NULL, KMS_ERR_ARG);
    KMS_ENSURE(!s->v1, KMS_ERR_STORE);
    const struct sql_arg args[] = {{id, KMS_STORE_ID_LEN}};
    pthread_mutex_lock(&s->mu);
    int e = run(s->st[S_DEL], args, 1);
    int changed = sqlite3_changes(s->db);
    pthread_mutex_unlock(&s->mu);
    KMS_ENSURE(e == SQLITE_OK, KMS_ERR_STORE);
    KMS_ENSURE(changed > 0, KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

static kms_result sql_scan(struct kms_store_backend *be, uint64_t now,
                           const uint8_t after[KMS_STORE_ID_LEN], uint8_t (*ids)[KMS_STORE_ID_LEN],
                           size_t cap, size_t *n)
{
    struct sql_be *s = sql_of(be);
    KMS_ENSURE(ids != NULL && n != NULL && cap > 0 && cap <= INT_MAX, KMS_ERR_ARG);
    *n = 0;
    KMS_ENSURE(!s->v1, KMS_ERR_STORE);
    /* An empty BLOB sorts below every 16-byte id: "from the lowest". */
    static const uint8_t none[1] = {0};
    uint8_t t[8];
    put_be64(t, now);
    const struct sql_arg args[] = {
        {after != NULL ? after : none, after != NULL ? KMS_STORE_ID_LEN : 0}, {t, sizeof(t)}};
    kms_result r = KMS_RESULT_OK;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[S_SCAN];
    int e = sqlite3_bind_int64(st, 3, (sqlite3_int64)cap);
    if (e == SQLITE_OK) {
        e = bind_step(st, args, 2);
    }
    while (e == SQLITE_ROW && kms_ok(r)) {
        const uint8_t *id = sqlite3_column_blob(st, 0);
        if (id == NULL || sqlite3_column_bytes(st, 0) != KMS_STORE_ID_LEN || *n >= cap) {
            r = KMS_ERR(KMS_ERR_STORE);
            break;
        }
        memcpy(ids[(*n)++], id, KMS_STORE_ID_LEN);
        e = sqlite3_step(st);
    }
    if (kms_ok(r) && e != SQLITE_DONE) {
        r = KMS_ERR(KMS_ERR_STORE);
    }
    stmt_done(st);
    pthread_mutex_unlock(&s->mu);
    if (!kms_ok(r)) {
        *n = 0;
    }
    return r;
}

/* With the mutex held: one DELETE, atomic on its own. */
static kms_result purge_locked(struct sql_be *s, const uint8_t now[8], uint64_t *n)
{
    const struct sql_arg args[] = {{now, 8}};
    KMS_ENSURE(run(s->st[S_PURGE], args, 1) == SQLITE_OK, KMS_ERR_STORE);
    /* Read under the mutex: it counts this connection's last statement. */
    int64_t rows = sqlite3_changes64(s->db);
    *n = rows > 0 ? (uint64_t)rows : 0;
    return KMS_RESULT_OK;
}

static kms_result sql_purge(struct kms_store_backend *be, uint64_t now, uint64_t *n)
{
    struct sql_be *s = sql_of(be);
    uint8_t nb[8];
    uint64_t count = 0;
    if (n != NULL) {
        *n = 0;
    }
    KMS_ENSURE(!s->v1, KMS_ERR_STORE);
    put_be64(nb, now);
    pthread_mutex_lock(&s->mu);
    kms_result r = purge_locked(s, nb, &count);
    pthread_mutex_unlock(&s->mu);
    if (n != NULL) {
        *n = count;
    }
    return r;
}

static void sql_close(struct kms_store_backend *be)
{
    struct sql_be *s = sql_of(be);
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < S_COUNT; i++) {
        sqlite3_finalize(s->st[i]); /* NULL is a no-op */
    }
    /* Every statement is finalized, so close cannot be refused as busy. The last connection to
     * close checkpoints the WAL into the database and removes it. */
    (void)sqlite3_close(s->db);
    if (s->mu_ok) {
        pthread_mutex_destroy(&s->mu);
    }
    free(s);
}

static kms_result sql_migrate(struct kms_store_backend *be, kms_store_reseal_fn reseal, void *ctx,
                              uint64_t *n);

static const struct kms_store_backend_ops sql_ops = {
    .name = "sqlite",
    .put = sql_put,
    .get = sql_get,
    .del = sql_del,
    .scan = sql_scan,
    .purge = sql_purge,
    .key_current = sql_key_current,
    .key_rotate = sql_key_rotate,
    .migrate = sql_migrate,
    .close = sql_close,
};

/* Inside BEGIN IMMEDIATE: creates schema version 2 in an empty file, accepts version 2, notes
 * version 1 (*v1: migrate upgrades it), refuses anything else (a newer version this build
 * cannot read, or another program's database). */
static kms_result schema_locked(sqlite3 *db, bool *v1)
{
    int64_t version, app_id, objects;
    *v1 = false;
    KMS_TRY(kms_sqlite_pragma_int(db, "PRAGMA user_version", &version));
    KMS_TRY(kms_sqlite_pragma_int(db, "PRAGMA application_id", &app_id));
    if (version == 0) {
        KMS_TRY(kms_sqlite_pragma_int(db, "SELECT count(*) FROM sqlite_master", &objects));
        KMS_ENSURE(objects == 0 && app_id == 0, KMS_ERR_STORE);
        KMS_ENSURE(sqlite3_exec(db, schema_v2, NULL, NULL, NULL) == SQLITE_OK, KMS_ERR_STORE);
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(app_id == APPLICATION_ID && (version == SCHEMA_VERSION || version == SCHEMA_V1),
               KMS_ERR_STORE);
    *v1 = version == SCHEMA_V1;
    return KMS_RESULT_OK;
}

/* Runs f inside BEGIN IMMEDIATE ... COMMIT, or rolls back. */
static kms_result in_transaction(sqlite3 *db, kms_result (*f)(void *), void *arg)
{
    KMS_ENSURE(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK, KMS_ERR_STORE);
    kms_result r = f(arg);
    if (kms_ok(r) && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        r = KMS_ERR(KMS_ERR_STORE);
    }
    if (!kms_ok(r)) {
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return r;
}

static kms_result schema_tx(void *arg)
{
    struct sql_be *s = arg;
    return schema_locked(s->db, &s->v1);
}

static kms_result prepare_all(struct sql_be *s)
{
    for (size_t i = 0; i < S_COUNT; i++) {
        KMS_ENSURE(sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                                      NULL) == SQLITE_OK,
                   KMS_ERR_STORE);
    }
    return KMS_RESULT_OK;
}

static kms_result configure(struct sql_be *s)
{
    KMS_TRY(kms_sqlite_configure(s->db));
    KMS_TRY(in_transaction(s->db, schema_tx, s));
    /* Schema 1: the statements name store_key, which only migrate creates. */
    return s->v1 ? KMS_RESULT_OK : prepare_all(s);
}

/* ---- migration from schema 1 ---- */

struct migration {
    struct sql_be *s;
    kms_store_reseal_fn reseal;
    void *ctx;
    uint64_t rows;
};

/* Copies every row of kue into kue2 with its blob re-sealed. */
static kms_result reseal_rows(struct migration *m)
{
    kms_result rc = KMS_RC_INIT;
    sqlite3_stmt *sel = NULL, *ins = NULL;
    struct kms_buf nb;
    kms_buf_init(&nb, 64 + KMS_STORE_RECORD_MAX, false);
    sqlite3 *db = m->s->db;
    KMS_ENSURE_OUT(
        rc,
        sqlite3_prepare_v2(db, "SELECT id, expires, blob FROM kue", -1, &sel, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "INSERT INTO kue2(id, expires, blob) VALUES (?1, ?2, ?3)", -1,
                               &ins, NULL) == SQLITE_OK,
        KMS_ERR_STORE);
    int e;
    while ((e = sqlite3_step(sel)) == SQLITE_ROW) {
        const uint8_t *id = sqlite3_column_blob(sel, 0), *exp = sqlite3_column_blob(sel, 1);
        const uint8_t *blob = sqlite3_column_blob(sel, 2);
        int blen = sqlite3_column_bytes(sel, 2);
        KMS_ENSURE_OUT(rc,
                       id != NULL && sqlite3_column_bytes(sel, 0) == KMS_STORE_ID_LEN &&
                           exp != NULL && sqlite3_column_bytes(sel, 1) == 8 && blob != NULL &&
                           blen > 0,
                       KMS_ERR_STORE);
        kms_buf_reset(&nb);
        KMS_TRY_OUT(rc, m->reseal(m->ctx, id, get_be64(exp), blob, (size_t)blen, &nb));
        const struct sql_arg args[] = {
            {id, KMS_STORE_ID_LEN}, {exp, 8}, {kms_buf_data(&nb), kms_buf_len(&nb)}};
        KMS_ENSURE_OUT(rc, run(ins, args, 3) == SQLITE_OK, KMS_ERR_STORE);
        m->rows++;
    }
    KMS_ENSURE_OUT(rc, e == SQLITE_DONE, KMS_ERR_STORE);
    rc = KMS_RESULT_OK;
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    kms_buf_cleanup(&nb);
    return rc;
}

static kms_result migrate_tx(void *arg)
{
    struct migration *m = arg;
    sqlite3 *db = m->s->db;
    bool v1 = false;
    /* Another process may have migrated the file since it was opened here. */
    KMS_TRY(schema_locked(db, &v1));
    if (!v1) {
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(sqlite3_exec(db, "CREATE TABLE kue2" KUE_COLUMNS STORE_KEY_TABLE, NULL, NULL,
                            NULL) == SQLITE_OK,
               KMS_ERR_STORE);
    KMS_TRY(reseal_rows(m));
    KMS_ENSURE(sqlite3_exec(db,
                            "DROP TABLE kue; ALTER TABLE kue2 RENAME TO kue;"
                            "DROP TABLE IF EXISTS counter;"
                            "PRAGMA user_version = 2;",
                            NULL, NULL, NULL) == SQLITE_OK,
               KMS_ERR_STORE);
    /* The migrated rows are version 1's first seals. */
    sqlite3_stmt *st = NULL;
    KMS_ENSURE(sqlite3_prepare_v2(db, "INSERT INTO store_key(kv, seals) VALUES (1, ?1)", -1, &st,
                                  NULL) == SQLITE_OK,
               KMS_ERR_STORE);
    int e = bind_step_int(st, (int64_t)m->rows, 0, 1);
    sqlite3_finalize(st);
    KMS_ENSURE(e == SQLITE_DONE, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

static kms_result sql_migrate(struct kms_store_backend *be, kms_store_reseal_fn reseal, void *ctx,
                              uint64_t *n)
{
    struct sql_be *s = sql_of(be);
    struct migration m = {.s = s, .reseal = reseal, .ctx = ctx};
    if (n != NULL) {
        *n = 0;
    }
    KMS_ENSURE(reseal != NULL, KMS_ERR_ARG);
    if (!s->v1) {
        return KMS_RESULT_OK;
    }
    pthread_mutex_lock(&s->mu);
    kms_result r = in_transaction(s->db, migrate_tx, &m);
    if (kms_ok(r)) {
        s->v1 = false;
        r = prepare_all(s);
    }
    pthread_mutex_unlock(&s->mu);
    if (kms_ok(r) && n != NULL) {
        *n = m.rows;
    }
    return r;
}

kms_result kms_store_backend_sqlite(const char *path, struct kms_store_backend **out)
{
    kms_result rc = KMS_RC_INIT;
    struct sql_be *s = NULL;
    if (out != NULL) {
        *out = NULL;
    }
    KMS_ENSURE_OUT(rc, path != NULL && out != NULL, KMS_ERR_ARG);
    bool created = false;
    kms_result fr = kms_sqlite_prepare_file(path, true, &created);
    /* This store reports every file problem as a store failure. */
    KMS_ENSURE_OUT(rc, kms_ok(fr), KMS_ERR_STORE);
    s = calloc(1, sizeof(*s));
    KMS_ENSURE_OUT(rc, s != NULL, KMS_ERR_NOMEM);
    s->base.ops = &sql_ops;
    KMS_ENSURE_OUT(rc, pthread_mutex_init(&s->mu, NULL) == 0, KMS_ERR_NOMEM);
    s->mu_ok = true;
    /* No CREATE: create_file made the file with the right mode. sqlite3_open_v2 allocates a
     * handle even when it fails; sql_close releases it. */
    int e = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    KMS_ENSURE_OUT(rc, e == SQLITE_OK, KMS_ERR_STORE);
    KMS_TRY_OUT(rc, configure(s));
    *out = &s->base;
    s = NULL;
    rc = KMS_RESULT_OK;
out:
    if (s != NULL) {
        sql_close(&s->base);
    }
    return rc;
}
