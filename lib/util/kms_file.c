/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/kms_mem.h"

/* Longest path we handle (the helpers append a suffix of at most 5 characters). */
#define FILE_PATH_MAX 4000

kms_result kms_file_read_fd(int fd, size_t max, bool owner_only, struct stat *st, uint8_t **out,
                            size_t *len)
{
    KMS_ENSURE(st != NULL && out != NULL && len != NULL, KMS_ERR_ARG);
    *out = NULL;
    *len = 0;
    KMS_ENSURE(fstat(fd, st) == 0, KMS_ERR_IO);
    KMS_ENSURE(S_ISREG(st->st_mode), KMS_ERR_IO);
    KMS_ENSURE(!owner_only || (st->st_mode & 077) == 0, KMS_ERR_IO);
    KMS_ENSURE(st->st_size >= 0 && (uint64_t)st->st_size <= max, KMS_ERR_TOO_LONG);
    size_t n = (size_t)st->st_size;
    /* One byte more than the size, so that a file that grew under us is noticed. */
    uint8_t *img = malloc(n + 1);
    KMS_ENSURE(img != NULL, KMS_ERR_NOMEM);
    size_t got = 0;
    while (got <= n) {
        ssize_t r = read(fd, img + got, n + 1 - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            if (r < 0) {
                got = n + 1; /* fail below */
            }
            break;
        }
        got += (size_t)r;
    }
    if (got != n) { /* changed under us: never happens with rename */
        kms_file_free(img, n + 1);
        KMS_BAIL(KMS_ERR_IO);
    }
    *out = img;
    *len = n;
    return KMS_RESULT_OK;
}

kms_result kms_file_read(const char *path, size_t max, bool owner_only, uint8_t **out, size_t *len)
{
    KMS_ENSURE_REF(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        KMS_BAIL(errno == ENOENT ? KMS_ERR_NOT_FOUND : KMS_ERR_IO);
    }
    struct stat st;
    kms_result rc = kms_file_read_fd(fd, max, owner_only, &st, out, len);
    close(fd);
    return rc;
}

void kms_file_free(uint8_t *p, size_t len)
{
    if (p != NULL) {
        /* kms_file_read_fd allocates one spare byte. */
        kms_wipe(p, len + 1);
        free(p);
    }
}

static char *with_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);
    char *s = malloc(n + m + 1);
    if (s != NULL) {
        memcpy(s, path, n);
        memcpy(s + n, suffix, m + 1);
    }
    return s;
}

/* The directory holding path ("." for a bare name, "/" for a file in the root). */
static char *dir_of(const char *path)
{
    char *d = with_suffix(path, "");
    if (d == NULL) {
        return NULL;
    }
    char *slash = strrchr(d, '/');
    if (slash == NULL) {
        d[0] = '.';
        d[1] = '\0'; /* path is not empty: d has room for "." */
    } else {
        slash[slash == d ? 1 : 0] = '\0';
    }
    return d;
}

static kms_result write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        KMS_ENSURE(w > 0, KMS_ERR_IO);
        p += w;
        n -= (size_t)w;
    }
    return KMS_RESULT_OK;
}

/* Run as root (an operator's `imskms keys rotate` on a daemon's keyring), a file written here
 * takes the owner and group of the file it replaces, or, when there is none yet, of the
 * directory it goes into (the daemon's state directory): root never locks the daemon out of its
 * own files. *want is false when nothing is to change (not root, or root's own files). */
static kms_result owner_for(const char *path, const char *dir, uid_t *uid, gid_t *gid, bool *want)
{
    *want = false;
    if (geteuid() != 0) {
        return KMS_RESULT_OK;
    }
    struct stat st;
    if (lstat(path, &st) != 0) {
        KMS_ENSURE(errno == ENOENT, KMS_ERR_IO);
        KMS_ENSURE(stat(dir, &st) == 0, KMS_ERR_IO);
    }
    *uid = st.st_uid;
    *gid = st.st_gid;
    *want = st.st_uid != 0 || st.st_gid != 0;
    return KMS_RESULT_OK;
}

kms_result kms_file_adopt_owner(int fd, const char *path)
{
    KMS_ENSURE(fd >= 0 && path != NULL, KMS_ERR_ARG);
    if (geteuid() != 0) {
        return KMS_RESULT_OK;
    }
    char *dir = dir_of(path);
    KMS_ENSURE(dir != NULL, KMS_ERR_NOMEM);
    struct stat st;
    int e = stat(dir, &st);
    free(dir);
    KMS_ENSURE(e == 0, KMS_ERR_IO);
    KMS_ENSURE((st.st_uid == 0 && st.st_gid == 0) || fchown(fd, st.st_uid, st.st_gid) == 0,
               KMS_ERR_IO);
    return KMS_RESULT_OK;
}

kms_result kms_file_write_atomic(const char *path, const uint8_t *p, size_t n)
{
    KMS_ENSURE_REF(path);
    KMS_ENSURE(p != NULL || n == 0, KMS_ERR_ARG);
    KMS_ENSURE(path[0] != '\0' && strlen(path) < FILE_PATH_MAX, KMS_ERR_ARG);
    kms_result rc = KMS_RC_INIT;
    int fd = -1;
    char *tmp = with_suffix(path, ".tmp");
    char *dir = dir_of(path);
    KMS_ENSURE_OUT(rc, tmp != NULL && dir != NULL, KMS_ERR_NOMEM);
    uid_t uid = 0;
    gid_t gid = 0;
    bool chown_it = false;
    KMS_TRY_OUT(rc, owner_for(path, dir, &uid, &gid, &chown_it));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    KMS_ENSURE_OUT(rc, fd >= 0, KMS_ERR_IO);
    KMS_ENSURE_OUT(rc, !chown_it || fchown(fd, uid, gid) == 0, KMS_ERR_IO);
    KMS_TRY_OUT(rc, write_all(fd, p, n));
    KMS_ENSURE_OUT(rc, fsync(fd) == 0, KMS_ERR_IO);
    KMS_ENSURE_OUT(rc, close(fd) == 0, KMS_ERR_IO);
    fd = -1;
    KMS_ENSURE_OUT(rc, rename(tmp, path) == 0, KMS_ERR_IO);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    KMS_ENSURE_OUT(rc, fd >= 0, KMS_ERR_IO);
    KMS_ENSURE_OUT(rc, fsync(fd) == 0, KMS_ERR_IO);
    rc = KMS_RESULT_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (!kms_ok(rc) && tmp != NULL) {
        unlink(tmp);
    }
    free(tmp);
    free(dir);
    return rc;
}

kms_result kms_file_remove(const char *path)
{
    KMS_ENSURE_REF(path);
    KMS_ENSURE(path[0] != '\0' && strlen(path) < FILE_PATH_MAX, KMS_ERR_ARG);
    if (unlink(path) != 0) {
        KMS_ENSURE(errno == ENOENT, KMS_ERR_IO);
        return KMS_RESULT_OK; /* nothing to remove, nothing to make durable */
    }
    char *dir = dir_of(path);
    KMS_ENSURE(dir != NULL, KMS_ERR_NOMEM);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    KMS_ENSURE(fd >= 0, KMS_ERR_IO);
    int e = fsync(fd);
    close(fd);
    KMS_ENSURE(e == 0, KMS_ERR_IO);
    return KMS_RESULT_OK;
}

static kms_result lock_file(const char *path, bool wait, int *fd)
{
    KMS_ENSURE_REF(fd);
    *fd = -1;
    KMS_ENSURE_REF(path);
    KMS_ENSURE(path[0] != '\0' && strlen(path) < FILE_PATH_MAX, KMS_ERR_ARG);
    char *lock = with_suffix(path, ".lock");
    char *dir = dir_of(path);
    uid_t uid = 0;
    gid_t gid = 0;
    bool chown_it = false;
    kms_result r = lock != NULL && dir != NULL ? owner_for(path, dir, &uid, &gid, &chown_it)
                                               : KMS_ERR(KMS_ERR_NOMEM);
    int lfd = kms_ok(r) ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
    free(lock);
    free(dir);
    KMS_TRY(r);
    KMS_ENSURE(lfd >= 0, KMS_ERR_IO);
    /* The lock file too: the daemon opens it read-write (see owner_for). */
    if (chown_it && fchown(lfd, uid, gid) != 0) {
        close(lfd);
        KMS_BAIL(KMS_ERR_IO);
    }
    while (flock(lfd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
        if (errno != EINTR) {
            bool held = errno == EWOULDBLOCK;
            close(lfd);
            KMS_BAIL(held ? KMS_ERR_EXISTS : KMS_ERR_IO);
        }
    }
    *fd = lfd;
    return KMS_RESULT_OK;
}

kms_result kms_file_lock(const char *path, int *fd)
{
    return lock_file(path, true, fd);
}

kms_result kms_file_trylock(const char *path, int *fd)
{
    return lock_file(path, false, fd);
}

void kms_file_unlock(int *fd)
{
    if (fd != NULL && *fd >= 0) {
        close(*fd); /* releases the lock */
        *fd = -1;
    }
}

kms_result kms_file_path(char *out, size_t cap, const char *dir, const char *name)
{
    KMS_ENSURE(out != NULL && dir != NULL && name != NULL && cap > 0, KMS_ERR_ARG);
    int n = snprintf(out, cap, "%s/%s", dir, name);
    KMS_ENSURE(n > 0 && (size_t)n < cap, KMS_ERR_TOO_LONG);
    return KMS_RESULT_OK;
}

kms_result kms_file_read_at(const char *dir, const char *name, size_t max, bool owner_only,
                            uint8_t **out, size_t *len)
{
    char path[4096];
    KMS_TRY(kms_file_path(path, sizeof(path), dir, name));
    return kms_file_read(path, max, owner_only, out, len);
}
