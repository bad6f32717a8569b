/* SPDX-License-Identifier: Apache-2.0 */
#include "store/kms_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/kms_file.h"

/* Makes a new file's directory entry durable. */
static kms_result sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    size_t n = slash == NULL ? 1 : (slash == path ? 1 : (size_t)(slash - path));
    KMS_ENSURE(n < sizeof(dir), KMS_ERR_IO);
    memcpy(dir, slash == NULL ? "." : path, n);
    dir[n] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    KMS_ENSURE(fd >= 0, KMS_ERR_IO);
    int e = fsync(fd);
    (void)close(fd);
    KMS_ENSURE(e == 0, KMS_ERR_IO);
    return KMS_RESULT_OK;
}

kms_result kms_sqlite_prepare_file(const char *path, bool create, bool *created)
{
    struct stat sb;
    int fd = -1;
    *created = false;
    if (create) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        *created = fd >= 0;
    }
    if (fd < 0 && (!create || errno == EEXIST)) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        KMS_ENSURE(fd >= 0 || errno != ENOENT, KMS_ERR_NOT_FOUND);
    }
    KMS_ENSURE(fd >= 0, KMS_ERR_IO);
    /* Made by root in a daemon's directory: the daemon's (SQLite gives its -wal and -shm files
     * the database's owner when it runs as root). */
    kms_result own = *created ? kms_file_adopt_owner(fd, path) : KMS_RESULT_OK;
    int st = fstat(fd, &sb);
    int sy = *created ? fsync(fd) : 0;
    (void)close(fd);
    KMS_ENSURE(st == 0 && sy == 0, KMS_ERR_IO);
    KMS_TRY(own);
    KMS_ENSURE(S_ISREG(sb.st_mode) && (sb.st_mode & 077) == 0, KMS_ERR_STORE);
    if (*created) {
        KMS_TRY(sync_dir(path));
    }
    return KMS_RESULT_OK;
}

kms_result kms_sqlite_pragma_int(sqlite3 *db, const char *sql, int64_t *v)
{
    sqlite3_stmt *st = NULL;
    *v = 0;
    KMS_ENSURE(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, KMS_ERR_STORE);
    int e = sqlite3_step(st);
    if (e == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    KMS_ENSURE(e == SQLITE_ROW, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

/* PRAGMA journal_mode answers with the mode now in force, which must be "wal". */
static kms_result set_wal(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    KMS_ENSURE(sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK,
               KMS_ERR_STORE);
    bool wal = sqlite3_step(st) == SQLITE_ROW &&
               sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    KMS_ENSURE(wal, KMS_ERR_STORE);
    return KMS_RESULT_OK;
}

kms_result kms_sqlite_configure(sqlite3 *db)
{
    KMS_ENSURE(sqlite3_extended_result_codes(db, 1) == SQLITE_OK, KMS_ERR_STORE);
    KMS_ENSURE(sqlite3_busy_timeout(db, KMS_SQLITE_BUSY_TIMEOUT_MS) == SQLITE_OK, KMS_ERR_STORE);
    KMS_TRY(set_wal(db));
    KMS_ENSURE(sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) == SQLITE_OK,
               KMS_ERR_STORE);
    int64_t sync;
    KMS_TRY(kms_sqlite_pragma_int(db, "PRAGMA synchronous", &sync));
    KMS_ENSURE(sync == 2, KMS_ERR_STORE); /* FULL */
    return KMS_RESULT_OK;
}
