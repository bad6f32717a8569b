/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subscriber store on SQLite 3 (format and rules in kms_subscriber.h).
 *
 * The file handling follows store/kms_store_sqlite.c (O_CREAT | O_EXCL 0600 before SQLite opens
 * the file, WAL, synchronous=FULL, busy_timeout, application_id / user_version, persistent
 * prepared statements under one mutex); it differs in that a missing file is an error unless
 * the caller asks for creation, and the directory is fsynced after a creation so that the new
 * file's name is durable too.
 *
 * Key separation: the AES-256-GCM key is HMAC-SHA-256(KEK, "imskms-subscriber-v1 key") (row
 * SUBSCRIBER, version 1, of crypto/kms_kek.h), not the KEK itself, so that a KEK shared with the
 * KMS state store never encrypts two stores' rows under one key.
 *
 * SQN: an INTEGER column constrained to 0 .. 2^48-1 (it fits SQLite's signed 64 bits, so no
 * byte-order encoding is needed, and the operator can read it with the sqlite3 shell). Raising
 * it is one UPDATE ... WHERE sqn < mark inside BEGIN IMMEDIATE: a lower mark changes no row, the
 * commit then writes no WAL frame, and so costs no fsync.
 */
#include "gba/kms_subscriber.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "crypto/kms_kdf.h"
#include "crypto/kms_kek.h"
#include "crypto/kms_ossl.h"
#include "crypto/kms_sqn.h"
#include "store/kms_sqlite.h"
#include "util/kms_ident.h"
#include "util/kms_mem.h"

#define SCHEMA_VERSION 1
#define APPLICATION_ID 0x494d5353 /* "IMSS" (the KMS state store is "IMSK") */

#define KEY_LEN    32
#define NONCE_LEN  12
#define TAG_LEN    16
#define PT_LEN     (2 * KMS_SUBSCRIBER_KEY_LEN) /* K || OPc */
#define SEALED_LEN (NONCE_LEN + PT_LEN + TAG_LEN)
#define CHECK_LEN  (NONCE_LEN + TAG_LEN)
_Static_assert(SEALED_LEN == KMS_SUBSCRIBER_SEALED_LEN, "the sealed record of the header");

static const char aad_label[] = "imskms-subscriber-v1";
#define AAD_LABEL_LEN (sizeof(aad_label) - 1)
/* IMPUs joined by single spaces, with the NUL. */
#define IMPUS_CAP (KMS_SUBSCRIBER_IMPU_MAX * (KMS_SUBSCRIBER_ID_MAX + 1))
#define AAD_MAX   (AAD_LABEL_LEN + KMS_SUBSCRIBER_AMF_LEN + 1 + KMS_SUBSCRIBER_ID_MAX + IMPUS_CAP)

static const char check_aad[] = "imskms-subscriber-v1 kek-check";

enum stmt_id {
    S_ADD,
    S_GET,
    S_DEL,
    S_LIST,
    S_SET_SQN,
    S_RAISE_SQN,
    S_EXISTS,
    S_EXPORT,
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_ADD] = "INSERT INTO subscriber(impi, impus, amf, sqn, sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_GET] = "SELECT impi, impus, amf, sqn, sealed FROM subscriber WHERE impi = ?1",
    [S_DEL] = "DELETE FROM subscriber WHERE impi = ?1",
    [S_LIST] = "SELECT impi, impus, amf, sqn FROM subscriber ORDER BY impi",
    [S_SET_SQN] = "UPDATE subscriber SET sqn = ?2 WHERE impi = ?1",
    /* Changes no row (and so writes nothing) when the stored mark is already >= ?2. */
    [S_RAISE_SQN] = "UPDATE subscriber SET sqn = ?2 WHERE impi = ?1 AND sqn < ?2",
    [S_EXISTS] = "SELECT 1 FROM subscriber WHERE impi = ?1",
    [S_EXPORT] = "SELECT impi, impus, amf, sqn, sealed FROM subscriber ORDER BY impi",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
};

/* Version 1. The CHECKs keep a row in the shape the reader expects even when the file is written
 * by another program; the reader checks again anyway. */
static const char schema_v1[] =
    "CREATE TABLE meta("
    " name TEXT NOT NULL PRIMARY KEY,"
    " value BLOB NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE subscriber("
    " impi TEXT NOT NULL PRIMARY KEY"
    "  CHECK(typeof(impi) = 'text' AND length(impi) BETWEEN 1 AND 255),"
    " impus TEXT NOT NULL CHECK(typeof(impus) = 'text'),"
    " amf BLOB NOT NULL CHECK(typeof(amf) = 'blob' AND length(amf) = 2),"
    " sqn INTEGER NOT NULL"
    "  CHECK(typeof(sqn) = 'integer' AND sqn BETWEEN 0 AND 281474976710655),"
    " sealed BLOB NOT NULL CHECK(typeof(sealed) = 'blob' AND length(sealed) = 60)"
    ") WITHOUT ROWID;"
    "PRAGMA application_id = 1229804371;" /* APPLICATION_ID */
    "PRAGMA user_version = 1;";

struct kms_subscriber_db {
    pthread_mutex_t mu;
    bool mu_ok;
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    struct kms_secret *key; /* derived from the KEK */
};

/* ---- identities ---- */

void kms_subscriber_wipe(struct kms_subscriber *s)
{
    if (s != NULL) {
        kms_wipe(s, sizeof(*s));
    }
}

/* A NUL-terminated string within its array; *len receives its length. */
static kms_result bounded(const char *s, size_t *len)
{
    size_t n = strnlen(s, KMS_SUBSCRIBER_ID_MAX + 1);
    KMS_ENSURE(n <= KMS_SUBSCRIBER_ID_MAX, KMS_ERR_TOO_LONG);
    *len = n;
    return KMS_RESULT_OK;
}

static kms_result check_impi(const char *impi)
{
    size_t n = 0;
    KMS_ENSURE_REF(impi);
    KMS_TRY(bounded(impi, &n));
    return kms_ident_check_impi(impi, n);
}

/* An empty IMPU is KMS_ERR_BAD_LENGTH here, not the KMS_ERR_ARG of kms_ident_check_impu: the
 * code this store has always returned, and the one `imskms subscriber add` tells apart from a
 * repeated IMPU (KMS_ERR_ARG). */
static kms_result check_impu(const char *impu)
{
    size_t n = 0;
    KMS_ENSURE_REF(impu);
    KMS_TRY(bounded(impu, &n));
    KMS_ENSURE(n > 0, KMS_ERR_BAD_LENGTH);
    return kms_ident_check_impu(impu, n);
}

static kms_result check_impus(const char (*impu)[KMS_SUBSCRIBER_ID_MAX + 1], size_t n)
{
    KMS_ENSURE(n >= 1 && n <= KMS_SUBSCRIBER_IMPU_MAX, KMS_ERR_ARG);
    for (size_t i = 0; i < n; i++) {
        KMS_TRY(check_impu(impu[i]));
        for (size_t j = 0; j < i; j++) {
            KMS_ENSURE(strcmp(impu[i], impu[j]) != 0, KMS_ERR_ARG);
        }
    }
    return KMS_RESULT_OK;
}

kms_result kms_subscriber_check(const struct kms_subscriber *s)
{
    KMS_ENSURE_REF(s);
    KMS_TRY(check_impi(s->impi));
    return check_impus(s->impu, s->n_impu);
}

/* IMPUs (already checked: no spaces) joined by single spaces. */
static size_t join_impus(const char (*impu)[KMS_SUBSCRIBER_ID_MAX + 1], size_t n,
                         char out[IMPUS_CAP])
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(impu[i]);
        if (i > 0) {
            out[len++] = ' ';
        }
        memcpy(out + len, impu[i], l);
        len += l;
    }
    out[len] = '\0';
    return len;
}

/* The inverse of join_impus on a column read from the file; checks every IMPU. */
static kms_result split_impus(const char *p, size_t len, char (*impu)[KMS_SUBSCRIBER_ID_MAX + 1],
                              size_t *n)
{
    size_t count = 0, start = 0;
    *n = 0;
    KMS_ENSURE(p != NULL && len > 0, KMS_ERR_STORE);
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != ' ') {
            continue;
        }
        size_t l = i - start;
        KMS_ENSURE(count < KMS_SUBSCRIBER_IMPU_MAX && l >= 1 && l <= KMS_SUBSCRIBER_ID_MAX,
                   KMS_ERR_STORE);
        memcpy(impu[count], p + start, l);
        impu[count][l] = '\0';
        count++;
        start = i + 1;
    }
    /* The cast only adds const (C11 will not do it implicitly for arrays of arrays). */
    KMS_ENSURE(kms_ok(check_impus((const char(*)[KMS_SUBSCRIBER_ID_MAX + 1]) impu, count)),
               KMS_ERR_STORE);
    *n = count;
    return KMS_RESULT_OK;
}

/* "imskms-subscriber-v1" || AMF || len(IMPI) || IMPI || IMPUs joined by spaces. */
static size_t make_aad(uint8_t aad[AAD_MAX], const char *impi, const uint8_t amf[2],
                       const char *impus, size_t impus_len)
{
    size_t n = 0, impi_len = strlen(impi);
    memcpy(aad, aad_label, AAD_LABEL_LEN);
    n += AAD_LABEL_LEN;
    memcpy(aad + n, amf, KMS_SUBSCRIBER_AMF_LEN);
    n += KMS_SUBSCRIBER_AMF_LEN;
    aad[n++] = (uint8_t)impi_len;
    memcpy(aad + n, impi, impi_len);
    n += impi_len;
    memcpy(aad + n, impus, impus_len);
    return n + impus_len;
}

/* ---- AES-256-GCM ---- */

/* One AES-256-GCM operation: blob is nonce || ct || tag, pt is n bytes (n may be 0, for the KEK
 * check, a GMAC). Sealing draws a fresh random nonce. A failed open wipes pt and is
 * KMS_ERR_STORE: a wrong KEK, a moved row and an altered byte are one failure. */
static kms_result gcm(bool seal, const struct kms_secret *key, const uint8_t *aad, size_t aad_len,
                      uint8_t *pt, size_t n, uint8_t *blob)
{
    kms_result rc = KMS_RC_INIT;
    const struct kms_ossl *o = kms_ossl();
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *ct = blob + NONCE_LEN, *tag = blob + NONCE_LEN + n;
    int len = 0;
    KMS_ENSURE_OUT(rc, o != NULL && o->aes256_gcm != NULL, KMS_ERR_CRYPTO);
    KMS_ENSURE_OUT(rc, n <= INT_MAX && aad_len <= INT_MAX, KMS_ERR_TOO_LONG);
    if (seal) {
        KMS_TRY_OUT(rc, kms_random(blob, NONCE_LEN));
    }
    ctx = EVP_CIPHER_CTX_new();
    KMS_ENSURE_OUT(rc, ctx != NULL, KMS_ERR_NOMEM);
    /* The default GCM IV length is 12 bytes, the length used here. */
    KMS_TRY_OSSL_OUT(rc, EVP_CipherInit_ex2(ctx, o->aes256_gcm, key->d, blob, seal ? 1 : 0, NULL));
    KMS_TRY_OSSL_OUT(rc, EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len));
    if (n > 0) {
        KMS_TRY_OSSL_OUT(rc, EVP_CipherUpdate(ctx, seal ? ct : pt, &len, seal ? pt : ct, (int)n));
        KMS_ENSURE_OUT(rc, len >= 0 && (size_t)len == n, KMS_ERR_CRYPTO);
    }
    if (seal) {
        KMS_TRY_OSSL_OUT(rc, EVP_CipherFinal_ex(ctx, ct + n, &len));
        KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag));
    } else {
        KMS_TRY_OSSL_OUT(rc, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag));
        KMS_ENSURE_OUT(rc, EVP_CipherFinal_ex(ctx, pt + n, &len) == 1, KMS_ERR_STORE);
    }
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc) && !seal && n > 0) {
        kms_wipe(pt, n);
    }
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return rc;
}

/* ---- SQLite helpers ---- */

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static void stmt_done(sqlite3_stmt *st)
{
    /* reset repeats the step's error, which the caller has handled already. */
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* Steps a statement whose ?1 is the IMPI and that returns no row; SQLITE_OK when done. */
static int run_impi(sqlite3_stmt *st, const char *impi)
{
    int e = bind_text(st, 1, impi);
    if (e == SQLITE_OK) {
        e = sqlite3_step(st);
    }
    stmt_done(st);
    return e == SQLITE_DONE ? SQLITE_OK : e;
}

/* The same with ?2 an SQN. */
static int run_impi_sqn(sqlite3_stmt *st, const char *impi, uint64_t sqn)
{
    int e = sqlite3_bind_int64(st, 2, (sqlite3_int64)sqn);
    if (e != SQLITE_OK) {
        stmt_done(st);
        return e;
    }
    return run_impi(st, impi);
}

static int run0(sqlite3_stmt *st)
{
    int e = sqlite3_step(st);
    stmt_done(st);
    return e == SQLITE_DONE ? SQLITE_OK : e;
}

/* A TEXT column of 1..cap-1 bytes copied out NUL-terminated. */
static kms_result col_text(sqlite3_stmt *st, int i, char *out, size_t cap, size_t *len)
{
    KMS_ENSURE(sqlite3_column_type(st, i) == SQLITE_TEXT, KMS_ERR_STORE);
    const unsigned char *p = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    KMS_ENSURE(p != NULL && n >= 1 && (size_t)n < cap, KMS_ERR_STORE);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    return KMS_RESULT_OK;
}

static kms_result col_blob(sqlite3_stmt *st, int i, uint8_t *out, size_t len)
{
    KMS_ENSURE(sqlite3_column_type(st, i) == SQLITE_BLOB, KMS_ERR_STORE);
    const void *p = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);
    KMS_ENSURE(p != NULL && n >= 0 && (size_t)n == len, KMS_ERR_STORE);
    memcpy(out, p, len);
    return KMS_RESULT_OK;
}

static kms_result col_sqn(sqlite3_stmt *st, int i, uint64_t *sqn)
{
    KMS_ENSURE(sqlite3_column_type(st, i) == SQLITE_INTEGER, KMS_ERR_STORE);
    sqlite3_int64 v = sqlite3_column_int64(st, i);
    KMS_ENSURE(v >= 0 && (uint64_t)v <= KMS_SQN_MAX, KMS_ERR_STORE);
    *sqn = (uint64_t)v;
    return KMS_RESULT_OK;
}

/* The clear columns of a row (impi, impus, amf, sqn at 0..3): IMPI and IMPUs checked. */
static kms_result read_info(sqlite3_stmt *st, struct kms_subscriber_info *info, char *impus,
                            size_t *impus_len)
{
    size_t impi_len;
    KMS_TRY(col_text(st, 0, info->impi, sizeof(info->impi), &impi_len));
    KMS_ENSURE(kms_ok(check_impi(info->impi)), KMS_ERR_STORE);
    KMS_TRY(col_text(st, 1, impus, IMPUS_CAP, impus_len));
    KMS_TRY(split_impus(impus, *impus_len, info->impu, &info->n_impu));
    KMS_TRY(col_blob(st, 2, info->amf, KMS_SUBSCRIBER_AMF_LEN));
    return col_sqn(st, 3, &info->sqn);
}

/* ---- operations ---- */

/* With the mutex held: inserts one row. KMS_ERR_EXISTS when the IMPI is taken. */
static kms_result insert_locked(struct kms_subscriber_db *db, const char *impi, const char *impus,
                                size_t impus_len, const uint8_t amf[KMS_SUBSCRIBER_AMF_LEN],
                                uint64_t sqn, const uint8_t sealed[SEALED_LEN])
{
    sqlite3_stmt *st = db->st[S_ADD];
    int e = bind_text(st, 1, impi);
    if (e == SQLITE_OK) {
        e = sqlite3_bind_text(st, 2, impus, (int)impus_len, SQLITE_STATIC);
    }
    if (e == SQLITE_OK) {
        e = sqlite3_bind_blob(st, 3, amf, KMS_SUBSCRIBER_AMF_LEN, SQLITE_STATIC);
    }
    if (e == SQLITE_OK) {
        e = sqlite3_bind_int64(st, 4, (sqlite3_int64)sqn);
    }
    if (e == SQLITE_OK) {
        e = sqlite3_bind_blob(st, 5, sealed, SEALED_LEN, SQLITE_STATIC);
    }
    if (e == SQLITE_OK) {
        e = sqlite3_step(st);
    }
    stmt_done(st);
    KMS_ENSURE(e != SQLITE_CONSTRAINT_PRIMARYKEY, KMS_ERR_EXISTS);
    KMS_ENSURE(e == SQLITE_DONE, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

kms_result kms_subscriber_add(struct kms_subscriber_db *db, const struct kms_subscriber *s,
                              uint64_t sqn_last)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t pt[PT_LEN], sealed[SEALED_LEN], aad[AAD_MAX];
    char impus[IMPUS_CAP];
    KMS_ENSURE_OUT(rc, db != NULL, KMS_ERR_ARG);
    KMS_TRY_OUT(rc, kms_subscriber_check(s));
    KMS_ENSURE_OUT(rc, sqn_last <= KMS_SQN_MAX, KMS_ERR_ARG);
    size_t impus_len = join_impus(s->impu, s->n_impu, impus);
    size_t aad_len = make_aad(aad, s->impi, s->amf, impus, impus_len);
    memcpy(pt, s->k, KMS_SUBSCRIBER_KEY_LEN);
    memcpy(pt + KMS_SUBSCRIBER_KEY_LEN, s->opc, KMS_SUBSCRIBER_KEY_LEN);
    KMS_TRY_OUT(rc, gcm(true, db->key, aad, aad_len, pt, PT_LEN, sealed));

    pthread_mutex_lock(&db->mu);
    rc = insert_locked(db, s->impi, impus, impus_len, s->amf, sqn_last, sealed);
    pthread_mutex_unlock(&db->mu);
out:
    kms_wipe(pt, sizeof(pt));
    return rc;
}

/* With the mutex held and S_GET on a row: checks it and opens its keys into out. */
static kms_result get_row(const struct kms_subscriber_db *db, sqlite3_stmt *st,
                          struct kms_subscriber *out, uint64_t *sqn)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_subscriber_info info;
    uint8_t pt[PT_LEN], sealed[SEALED_LEN], aad[AAD_MAX];
    char impus[IMPUS_CAP];
    size_t impus_len = 0;
    KMS_TRY_OUT(rc, read_info(st, &info, impus, &impus_len));
    KMS_TRY_OUT(rc, col_blob(st, 4, sealed, SEALED_LEN));
    size_t aad_len = make_aad(aad, info.impi, info.amf, impus, impus_len);
    KMS_TRY_OUT(rc, gcm(false, db->key, aad, aad_len, pt, PT_LEN, sealed));
    memcpy(out->impi, info.impi, sizeof(out->impi));
    memcpy(out->impu, info.impu, sizeof(out->impu));
    out->n_impu = info.n_impu;
    memcpy(out->amf, info.amf, sizeof(out->amf));
    memcpy(out->k, pt, KMS_SUBSCRIBER_KEY_LEN);
    memcpy(out->opc, pt + KMS_SUBSCRIBER_KEY_LEN, KMS_SUBSCRIBER_KEY_LEN);
    *sqn = info.sqn;
    rc = KMS_RESULT_OK;
out:
    kms_wipe(pt, sizeof(pt));
    return rc;
}

kms_result kms_subscriber_get(struct kms_subscriber_db *db, const char *impi,
                              struct kms_subscriber *out, uint64_t *sqn_mark)
{
    kms_result rc = KMS_RC_INIT;
    uint64_t sqn = 0;
    if (out != NULL) {
        kms_subscriber_wipe(out);
    }
    if (sqn_mark != NULL) {
        *sqn_mark = 0;
    }
    KMS_ENSURE_OUT(rc, db != NULL && out != NULL, KMS_ERR_ARG);
    KMS_TRY_OUT(rc, check_impi(impi));
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st = db->st[S_GET];
    int e = bind_text(st, 1, impi);
    if (e == SQLITE_OK) {
        e = sqlite3_step(st);
    }
    if (e == SQLITE_ROW) {
        rc = get_row(db, st, out, &sqn);
    } else if (e == SQLITE_DONE) {
        rc = KMS_ERR(KMS_ERR_NOT_FOUND);
    } else {
        rc = KMS_ERR(KMS_ERR_STORE);
    }
    stmt_done(st);
    pthread_mutex_unlock(&db->mu);
    KMS_TRY_OUT(rc, rc);
    /* The row's key is the IMPI asked for: SQLite compared it with BINARY collation. */
    KMS_ENSURE_OUT(rc, strcmp(out->impi, impi) == 0, KMS_ERR_STORE);
    if (sqn_mark != NULL) {
        *sqn_mark = sqn;
    }
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc) && out != NULL) {
        kms_subscriber_wipe(out);
    }
    return rc;
}

kms_result kms_subscriber_del(struct kms_subscriber_db *db, const char *impi)
{
    KMS_ENSURE_REF(db);
    KMS_TRY(check_impi(impi));
    pthread_mutex_lock(&db->mu);
    int e = run_impi(db->st[S_DEL], impi);
    /* Read under the mutex: it counts this connection's last statement. */
    int changed = sqlite3_changes(db->db);
    pthread_mutex_unlock(&db->mu);
    KMS_ENSURE(e == SQLITE_OK, KMS_ERR_STORE);
    KMS_ENSURE(changed > 0, KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

/* With the mutex held: walks S_LIST. */
static kms_result list_locked(struct kms_subscriber_db *db,
                              kms_result (*cb)(void *arg, const struct kms_subscriber_info *),
                              void *arg)
{
    sqlite3_stmt *st = db->st[S_LIST];
    struct kms_subscriber_info info;
    char impus[IMPUS_CAP];
    size_t impus_len;
    int e;
    while ((e = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&info, 0, sizeof(info));
        KMS_TRY(read_info(st, &info, impus, &impus_len));
        KMS_TRY(cb(arg, &info));
    }
    KMS_ENSURE(e == SQLITE_DONE, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

kms_result kms_subscriber_list(struct kms_subscriber_db *db,
                               kms_result (*cb)(void *arg, const struct kms_subscriber_info *),
                               void *arg)
{
    KMS_ENSURE(db != NULL && cb != NULL, KMS_ERR_ARG);
    pthread_mutex_lock(&db->mu);
    kms_result r = list_locked(db, cb, arg);
    stmt_done(db->st[S_LIST]);
    pthread_mutex_unlock(&db->mu);
    return r;
}

kms_result kms_subscriber_set_sqn(struct kms_subscriber_db *db, const char *impi, uint64_t sqn)
{
    KMS_ENSURE_REF(db);
    KMS_TRY(check_impi(impi));
    KMS_ENSURE(sqn <= KMS_SQN_MAX, KMS_ERR_ARG);
    pthread_mutex_lock(&db->mu);
    int e = run_impi_sqn(db->st[S_SET_SQN], impi, sqn);
    int changed = sqlite3_changes(db->db);
    pthread_mutex_unlock(&db->mu);
    KMS_ENSURE(e == SQLITE_OK, KMS_ERR_STORE);
    KMS_ENSURE(changed > 0, KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

/* With the mutex held, inside BEGIN IMMEDIATE: raises the mark, or finds out why not. */
static kms_result raise_locked(struct kms_subscriber_db *db, const char *impi, uint64_t mark)
{
    int e = run_impi_sqn(db->st[S_RAISE_SQN], impi, mark);
    KMS_ENSURE(e == SQLITE_OK, KMS_ERR_STORE);
    if (sqlite3_changes(db->db) > 0) {
        return KMS_RESULT_OK;
    }
    /* No row changed: either the stored mark is already >= mark (success, nothing to write)
     * or there is no such subscriber. The write lock held since BEGIN IMMEDIATE keeps the
     * answer consistent with the UPDATE. */
    sqlite3_stmt *st = db->st[S_EXISTS];
    e = bind_text(st, 1, impi);
    if (e == SQLITE_OK) {
        e = sqlite3_step(st);
    }
    stmt_done(st);
    KMS_ENSURE(e == SQLITE_ROW || e == SQLITE_DONE, KMS_ERR_STORE);
    KMS_ENSURE(e == SQLITE_ROW, KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

kms_result kms_subscriber_sqn_commit_many(struct kms_subscriber_db *db, size_t n,
                                          const char *const *impis, const uint64_t *marks)
{
    KMS_ENSURE_REF(db);
    KMS_ENSURE(n == 0 || (impis != NULL && marks != NULL), KMS_ERR_ARG);
    for (size_t i = 0; i < n; i++) {
        KMS_TRY(check_impi(impis[i]));
        KMS_ENSURE(marks[i] <= KMS_SQN_MAX, KMS_ERR_ARG);
    }
    pthread_mutex_lock(&db->mu);
    kms_result r = KMS_RESULT_OK;
    if (run0(db->st[S_BEGIN]) != SQLITE_OK) {
        r = KMS_ERR(KMS_ERR_STORE);
    } else {
        for (size_t i = 0; i < n && kms_ok(r); i++) {
            r = raise_locked(db, impis[i], marks[i]);
        }
        if (kms_ok(r) && run0(db->st[S_COMMIT]) != SQLITE_OK) {
            r = KMS_ERR(KMS_ERR_STORE);
        }
        if (!kms_ok(r)) {
            (void)run0(db->st[S_ROLLBACK]);
        }
    }
    pthread_mutex_unlock(&db->mu);
    return r;
}

kms_result kms_subscriber_sqn_commit(struct kms_subscriber_db *db, const char *impi, uint64_t mark)
{
    /* One transaction of one: with synchronous=FULL, COMMIT returns once the WAL is fsynced; a
     * commit that wrote nothing syncs nothing. */
    return kms_subscriber_sqn_commit_many(db, 1, &impi, &mark);
}

/* ---- export and import ---- */

/* With the mutex held: walks S_EXPORT. */
static kms_result export_locked(struct kms_subscriber_db *db,
                                kms_result (*cb)(void *arg, const struct kms_subscriber_rec *),
                                void *arg)
{
    sqlite3_stmt *st = db->st[S_EXPORT];
    struct kms_subscriber_rec rec;
    char impus[IMPUS_CAP];
    size_t impus_len;
    int e;
    while ((e = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&rec, 0, sizeof(rec));
        KMS_TRY(read_info(st, &rec.info, impus, &impus_len));
        KMS_TRY(col_blob(st, 4, rec.sealed, SEALED_LEN));
        KMS_TRY(cb(arg, &rec));
    }
    KMS_ENSURE(e == SQLITE_DONE, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

kms_result kms_subscriber_export(struct kms_subscriber_db *db,
                                 kms_result (*cb)(void *arg, const struct kms_subscriber_rec *),
                                 void *arg)
{
    KMS_ENSURE(db != NULL && cb != NULL, KMS_ERR_ARG);
    pthread_mutex_lock(&db->mu);
    kms_result r = export_locked(db, cb, arg);
    stmt_done(db->st[S_EXPORT]);
    pthread_mutex_unlock(&db->mu);
    return r;
}

/* With the mutex held, inside the import's transaction: checks one record, opens its keys under
 * this store's key (KMS_ERR_AUTH when they do not open) and inserts it as it came. */
static kms_result import_one(struct kms_subscriber_db *db, const struct kms_subscriber_rec *rec)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t pt[PT_LEN], aad[AAD_MAX], sealed[SEALED_LEN];
    char impus[IMPUS_CAP];
    const struct kms_subscriber_info *in = &rec->info;
    KMS_TRY_OUT(rc, check_impi(in->impi));
    KMS_TRY_OUT(rc, check_impus(in->impu, in->n_impu));
    KMS_ENSURE_OUT(rc, in->sqn <= KMS_SQN_MAX, KMS_ERR_ARG);
    size_t impus_len = join_impus(in->impu, in->n_impu, impus);
    size_t aad_len = make_aad(aad, in->impi, in->amf, impus, impus_len);
    memcpy(sealed, rec->sealed, SEALED_LEN);
    kms_result o = gcm(false, db->key, aad, aad_len, pt, PT_LEN, sealed);
    KMS_ENSURE_OUT(rc, kms_ok(o), o.err == KMS_ERR_STORE ? KMS_ERR_AUTH : o.err);
    KMS_TRY_OUT(rc, insert_locked(db, in->impi, impus, impus_len, in->amf, in->sqn, rec->sealed));
    rc = KMS_RESULT_OK;
out:
    kms_wipe(pt, sizeof(pt));
    return rc;
}

/* ---- records without a file (other backends: the BSF's Redis store) ---- */

kms_result kms_subscriber_rec_seal(const uint8_t kek[32], const struct kms_subscriber *s,
                                   uint64_t sqn, struct kms_subscriber_rec *out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_secret *key = NULL;
    uint8_t pt[PT_LEN], aad[AAD_MAX];
    char impus[IMPUS_CAP];
    KMS_ENSURE(kek != NULL && s != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    KMS_TRY_OUT(rc, kms_subscriber_check(s));
    KMS_ENSURE_OUT(rc, sqn <= KMS_SQN_MAX, KMS_ERR_ARG);
    KMS_TRY_OUT(rc, kms_secret_new(KEY_LEN, &key));
    KMS_TRY_OUT(rc, kms_kek_derive(kek, KMS_KEK_SUBSCRIBER, 1, key->d));
    size_t impus_len = join_impus(s->impu, s->n_impu, impus);
    size_t aad_len = make_aad(aad, s->impi, s->amf, impus, impus_len);
    memcpy(pt, s->k, KMS_SUBSCRIBER_KEY_LEN);
    memcpy(pt + KMS_SUBSCRIBER_KEY_LEN, s->opc, KMS_SUBSCRIBER_KEY_LEN);
    KMS_TRY_OUT(rc, gcm(true, key, aad, aad_len, pt, PT_LEN, out->sealed));
    memcpy(out->info.impi, s->impi, sizeof(out->info.impi));
    memcpy(out->info.impu, s->impu, sizeof(out->info.impu));
    out->info.n_impu = s->n_impu;
    memcpy(out->info.amf, s->amf, sizeof(out->info.amf));
    out->info.sqn = sqn;
    rc = KMS_RESULT_OK;
out:
    kms_wipe(pt, sizeof(pt));
    kms_secret_free(key);
    if (!kms_ok(rc) && out != NULL) {
        kms_wipe(out, sizeof(*out));
    }
    return rc;
}

kms_result kms_subscriber_rec_open(const uint8_t kek[32], const struct kms_subscriber_rec *rec,
                                   struct kms_subscriber *out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_secret *key = NULL;
    uint8_t pt[PT_LEN], aad[AAD_MAX], sealed[SEALED_LEN];
    char impus[IMPUS_CAP];
    KMS_ENSURE(kek != NULL && rec != NULL && out != NULL, KMS_ERR_ARG);
    memset(out, 0, sizeof(*out));
    const struct kms_subscriber_info *in = &rec->info;
    KMS_TRY_OUT(rc, check_impi(in->impi));
    KMS_TRY_OUT(rc, check_impus(in->impu, in->n_impu));
    KMS_ENSURE_OUT(rc, in->sqn <= KMS_SQN_MAX, KMS_ERR_ARG);
    KMS_TRY_OUT(rc, kms_secret_new(KEY_LEN, &key));
    KMS_TRY_OUT(rc, kms_kek_derive(kek, KMS_KEK_SUBSCRIBER, 1, key->d));
    size_t impus_len = join_impus(in->impu, in->n_impu, impus);
    size_t aad_len = make_aad(aad, in->impi, in->amf, impus, impus_len);
    memcpy(sealed, rec->sealed, SEALED_LEN);
    kms_result o = gcm(false, key, aad, aad_len, pt, PT_LEN, sealed);
    KMS_ENSURE_OUT(rc, kms_ok(o), o.err == KMS_ERR_STORE ? KMS_ERR_AUTH : o.err);
    memcpy(out->impi, in->impi, sizeof(out->impi));
    memcpy(out->impu, in->impu, sizeof(out->impu));
    out->n_impu = in->n_impu;
    memcpy(out->amf, in->amf, sizeof(out->amf));
    memcpy(out->k, pt, KMS_SUBSCRIBER_KEY_LEN);
    memcpy(out->opc, pt + KMS_SUBSCRIBER_KEY_LEN, KMS_SUBSCRIBER_KEY_LEN);
    rc = KMS_RESULT_OK;
out:
    kms_wipe(pt, sizeof(pt));
    kms_secret_free(key);
    if (!kms_ok(rc) && out != NULL) {
        kms_subscriber_wipe(out);
    }
    return rc;
}

kms_result kms_subscriber_import(struct kms_subscriber_db *db,
                                 kms_result (*next)(void *arg, struct kms_subscriber_rec *rec,
                                                    bool *done),
                                 void *arg, uint64_t *count)
{
    struct kms_subscriber_rec rec;
    uint64_t n = 0;
    if (count != NULL) {
        *count = 0;
    }
    KMS_ENSURE(db != NULL && next != NULL, KMS_ERR_ARG);
    pthread_mutex_lock(&db->mu);
    kms_result r = KMS_RESULT_OK;
    if (run0(db->st[S_BEGIN]) != SQLITE_OK) {
        r = KMS_ERR(KMS_ERR_STORE);
    } else {
        for (;;) {
            bool done = false;
            memset(&rec, 0, sizeof(rec));
            r = next(arg, &rec, &done);
            if (!kms_ok(r) || done || !kms_ok(r = import_one(db, &rec))) {
                break;
            }
            n++;
        }
        if (kms_ok(r) && run0(db->st[S_COMMIT]) != SQLITE_OK) {
            r = KMS_ERR(KMS_ERR_STORE);
        }
        if (!kms_ok(r)) {
            (void)run0(db->st[S_ROLLBACK]);
        }
    }
    pthread_mutex_unlock(&db->mu);
    if (count != NULL) {
        *count = n;
    }
    return r;
}

/* ---- open and close ---- */

/* Writes (seal) or checks the KEK check value in meta. */
static kms_result kek_check(const struct kms_subscriber_db *s, bool seal)
{
    kms_result rc = KMS_RC_INIT;
    sqlite3_stmt *st = NULL;
    uint8_t v[CHECK_LEN], none[1] = {0};
    const char *sql = seal ? "INSERT INTO meta(name, value) VALUES ('kek-check', ?1)"
                           : "SELECT value FROM meta WHERE name = 'kek-check'";
    KMS_ENSURE_OUT(rc, sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK, KMS_ERR_STORE);
    if (seal) {
        KMS_TRY_OUT(
            rc, gcm(true, s->key, (const uint8_t *)check_aad, sizeof(check_aad) - 1, none, 0, v));
        KMS_ENSURE_OUT(rc, sqlite3_bind_blob(st, 1, v, CHECK_LEN, SQLITE_STATIC) == SQLITE_OK,
                       KMS_ERR_STORE);
        KMS_ENSURE_OUT(rc, sqlite3_step(st) == SQLITE_DONE, KMS_ERR_STORE);
    } else {
        KMS_ENSURE_OUT(rc, sqlite3_step(st) == SQLITE_ROW, KMS_ERR_STORE);
        KMS_TRY_OUT(rc, col_blob(st, 0, v, CHECK_LEN));
        rc = gcm(false, s->key, (const uint8_t *)check_aad, sizeof(check_aad) - 1, none, 0, v);
        KMS_ENSURE_OUT(rc, kms_ok(rc), rc.err == KMS_ERR_STORE ? KMS_ERR_AUTH : rc.err);
    }
    rc = KMS_RESULT_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

/* Inside BEGIN IMMEDIATE: creates version 1 in an empty file (when allowed), checks the
 * application id, the version and the KEK otherwise. */
static kms_result schema_locked(const struct kms_subscriber_db *s, bool create)
{
    int64_t version, app_id, objects;
    KMS_TRY(kms_sqlite_pragma_int(s->db, "PRAGMA user_version", &version));
    KMS_TRY(kms_sqlite_pragma_int(s->db, "PRAGMA application_id", &app_id));
    if (version == 0) {
        KMS_TRY(kms_sqlite_pragma_int(s->db, "SELECT count(*) FROM sqlite_master", &objects));
        KMS_ENSURE(create && objects == 0 && app_id == 0, KMS_ERR_STORE);
        KMS_ENSURE(sqlite3_exec(s->db, schema_v1, NULL, NULL, NULL) == SQLITE_OK, KMS_ERR_STORE);
        return kek_check(s, true);
    }
    KMS_ENSURE(app_id == APPLICATION_ID && version == SCHEMA_VERSION, KMS_ERR_STORE);
    return kek_check(s, false);
}

static kms_result schema(const struct kms_subscriber_db *s, bool create)
{
    KMS_ENSURE(sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK,
               KMS_ERR_STORE);
    kms_result r = schema_locked(s, create);
    if (kms_ok(r) && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        r = KMS_ERR(KMS_ERR_STORE);
    }
    if (!kms_ok(r)) {
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return r;
}

static kms_result configure(struct kms_subscriber_db *s, bool create)
{
    KMS_TRY(kms_sqlite_configure(s->db));
    KMS_TRY(schema(s, create));
    for (size_t i = 0; i < S_COUNT; i++) {
        KMS_ENSURE(sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                                      NULL) == SQLITE_OK,
                   KMS_ERR_STORE);
    }
    return KMS_RESULT_OK;
}

kms_result kms_subscriber_db_open(const char *path, const uint8_t kek[32], bool create,
                                  struct kms_subscriber_db **out)
{
    kms_result rc = KMS_RC_INIT;
    struct kms_subscriber_db *s = NULL;
    bool created = false;
    if (out != NULL) {
        *out = NULL;
    }
    KMS_ENSURE_OUT(rc, path != NULL && kek != NULL && out != NULL, KMS_ERR_ARG);
    KMS_TRY_OUT(rc, kms_sqlite_prepare_file(path, create, &created));
    s = calloc(1, sizeof(*s));
    KMS_ENSURE_OUT(rc, s != NULL, KMS_ERR_NOMEM);
    KMS_ENSURE_OUT(rc, pthread_mutex_init(&s->mu, NULL) == 0, KMS_ERR_NOMEM);
    s->mu_ok = true;
    KMS_TRY_OUT(rc, kms_secret_new(KEY_LEN, &s->key));
    KMS_TRY_OUT(rc, kms_kek_derive(kek, KMS_KEK_SUBSCRIBER, 1, s->key->d));
    /* No CREATE: prepare_file made the file with the right mode. sqlite3_open_v2 allocates a
     * handle even when it fails; db_close releases it. */
    int e = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    KMS_ENSURE_OUT(rc, e == SQLITE_OK, KMS_ERR_STORE);
    KMS_TRY_OUT(rc, configure(s, create));
    *out = s;
    s = NULL;
    rc = KMS_RESULT_OK;
out:
    kms_subscriber_db_close(s);
    return rc;
}

void kms_subscriber_db_close(struct kms_subscriber_db *db)
{
    if (db == NULL) {
        return;
    }
    for (size_t i = 0; i < S_COUNT; i++) {
        sqlite3_finalize(db->st[i]); /* NULL is a no-op */
    }
    /* Every statement is finalized, so close cannot be refused as busy. */
    (void)sqlite3_close(db->db);
    if (db->mu_ok) {
        pthread_mutex_destroy(&db->mu);
    }
    kms_secret_free(db->key);
    free(db);
}
