/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A full disk on chosen paths, for tests/integration/test_store_faults.sh (LD_PRELOAD).
 *
 * Every descriptor opened (open, open64, openat, openat64, creat, creat64) on a path that
 * starts with $IMSKMS_ENOSPC_PREFIX is remembered until it is closed. While the file named by
 * $IMSKMS_ENOSPC_FLAG exists (checked on every call, so a test fills and frees the "disk" while
 * the daemon runs), the calls that would need space or make data durable on such a descriptor
 * fail with ENOSPC without doing anything: write, pwrite, pwrite64, writev, pwritev, pwritev64,
 * fsync, fdatasync, ftruncate, ftruncate64, fallocate, fallocate64, posix_fallocate (which
 * returns the error). Those are what the keyring's atomic file (kms_file_write_atomic) and
 * SQLite 3.40 (the state store and the subscriber store, checked with strace) use. Everything
 * else goes to libc. Without the variables the shim only forwards.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 65536

static atomic_uchar marked[MAX_FD];

static bool matches(const char *path)
{
    const char *prefix = getenv("IMSKMS_ENOSPC_PREFIX");
    return prefix != NULL && prefix[0] != '\0' && path != NULL &&
           strncmp(path, prefix, strlen(prefix)) == 0;
}

static int note(int fd, const char *path)
{
    if (fd >= 0 && fd < MAX_FD) {
        atomic_store(&marked[fd], matches(path) ? 1 : 0);
    }
    return fd;
}

/* Whether a call on fd must fail now (errno set). */
static bool full(int fd)
{
    if (fd < 0 || fd >= MAX_FD || atomic_load(&marked[fd]) == 0) {
        return false;
    }
    const char *flag = getenv("IMSKMS_ENOSPC_FLAG");
    struct stat st;
    int saved = errno;
    bool on = flag != NULL && stat(flag, &st) == 0;
    errno = on ? ENOSPC : saved;
    return on;
}

/* dlsym's void * copied into a function pointer (ISO C has no cast between the two). */
#define REAL(ret, name, params)                                                                    \
    static ret(*real_##name) params;                                                               \
    static ret(*get_##name(void)) params                                                           \
    {                                                                                              \
        if (real_##name == NULL) {                                                                 \
            void *sym = dlsym(RTLD_NEXT, #name);                                                   \
            memcpy(&real_##name, &sym, sizeof(sym));                                               \
        }                                                                                          \
        return real_##name;                                                                        \
    }

REAL(int, open, (const char *, int, ...))
REAL(int, open64, (const char *, int, ...))
REAL(int, openat, (int, const char *, int, ...))
REAL(int, openat64, (int, const char *, int, ...))
REAL(int, creat, (const char *, mode_t))
REAL(int, creat64, (const char *, mode_t))
REAL(int, close, (int))
REAL(ssize_t, write, (int, const void *, size_t))
REAL(ssize_t, pwrite, (int, const void *, size_t, off_t))
REAL(ssize_t, pwrite64, (int, const void *, size_t, off64_t))
REAL(ssize_t, writev, (int, const struct iovec *, int))
REAL(ssize_t, pwritev, (int, const struct iovec *, int, off_t))
REAL(ssize_t, pwritev64, (int, const struct iovec *, int, off64_t))
REAL(int, fsync, (int))
REAL(int, fdatasync, (int))
REAL(int, ftruncate, (int, off_t))
REAL(int, ftruncate64, (int, off64_t))
REAL(int, fallocate, (int, int, off_t, off_t))
REAL(int, fallocate64, (int, int, off64_t, off64_t))
REAL(int, posix_fallocate, (int, off_t, off_t))

static mode_t mode_of(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) != 0 ? (mode_t)va_arg(ap, unsigned) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_of(flags, ap);
    va_end(ap);
    return note(get_open()(path, flags, m), path);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_of(flags, ap);
    va_end(ap);
    return note(get_open64()(path, flags, m), path);
}

int openat(int dir, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_of(flags, ap);
    va_end(ap);
    return note(get_openat()(dir, path, flags, m), path);
}

int openat64(int dir, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_of(flags, ap);
    va_end(ap);
    return note(get_openat64()(dir, path, flags, m), path);
}

int creat(const char *path, mode_t m)
{
    return note(get_creat()(path, m), path);
}

int creat64(const char *path, mode_t m)
{
    return note(get_creat64()(path, m), path);
}

int close(int fd)
{
    if (fd >= 0 && fd < MAX_FD) {
        atomic_store(&marked[fd], 0);
    }
    return get_close()(fd);
}

ssize_t write(int fd, const void *p, size_t n)
{
    return full(fd) ? -1 : get_write()(fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t o)
{
    return full(fd) ? -1 : get_pwrite()(fd, p, n, o);
}

ssize_t pwrite64(int fd, const void *p, size_t n, off64_t o)
{
    return full(fd) ? -1 : get_pwrite64()(fd, p, n, o);
}

ssize_t writev(int fd, const struct iovec *v, int n)
{
    return full(fd) ? -1 : get_writev()(fd, v, n);
}

ssize_t pwritev(int fd, const struct iovec *v, int n, off_t o)
{
    return full(fd) ? -1 : get_pwritev()(fd, v, n, o);
}

ssize_t pwritev64(int fd, const struct iovec *v, int n, off64_t o)
{
    return full(fd) ? -1 : get_pwritev64()(fd, v, n, o);
}

int fsync(int fd)
{
    return full(fd) ? -1 : get_fsync()(fd);
}

int fdatasync(int fd)
{
    return full(fd) ? -1 : get_fdatasync()(fd);
}

int ftruncate(int fd, off_t n)
{
    return full(fd) ? -1 : get_ftruncate()(fd, n);
}

int ftruncate64(int fd, off64_t n)
{
    return full(fd) ? -1 : get_ftruncate64()(fd, n);
}

int fallocate(int fd, int mode, off_t o, off_t n)
{
    return full(fd) ? -1 : get_fallocate()(fd, mode, o, n);
}

int fallocate64(int fd, int mode, off64_t o, off64_t n)
{
    return full(fd) ? -1 : get_fallocate64()(fd, mode, o, n);
}

int posix_fallocate(int fd, off_t o, off_t n)
{
    return full(fd) ? ENOSPC : get_posix_fallocate()(fd, o, n);
}
