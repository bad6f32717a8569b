/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State files replaced atomically (design.md section 5): the one implementation of
 *  - reading a whole regular file of bounded size (optionally refusing one that group or
 *    others can access),
 *  - writing a new version durably: a temporary file "<path>.tmp" (mode 0600, O_NOFOLLOW),
 *    fsync, rename over <path>, fsync of the directory, so that a crash at any point leaves
 *    either the old or the new file, never a torn one;
 *  - the exclusive lock "<path>.lock" (flock) under which every read-modify-write happens, so
 *    that a CLI and a running daemon never write at once.
 * Used by the keyring (lib/keyring/kms_keyring.c) and the simulated USIM (lib/ue/kms_usim.c).
 */
#ifndef KMS_UTIL_FILE_H
#define KMS_UTIL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "err/kms_err.h"

/* Reads the whole of the open file fd: it must be a regular file of at most max bytes, and
 * with owner_only neither group nor others may have any access bit (else KMS_ERR_IO; a file
 * that is too long is KMS_ERR_TOO_LONG). On success *out is a new heap block of *len bytes
 * (free it with kms_file_free, which wipes it) and *st the fstat of what was read. */
KMS_MUST_CHECK kms_result kms_file_read_fd(int fd, size_t max, bool owner_only, struct stat *st,
                                           uint8_t **out, size_t *len);
/* Opens path and kms_file_read_fd: KMS_ERR_NOT_FOUND when it does not exist. */
KMS_MUST_CHECK kms_result kms_file_read(const char *path, size_t max, bool owner_only,
                                        uint8_t **out, size_t *len);
/* "dir/name" into out (cap bytes): KMS_ERR_TOO_LONG when it does not fit. */
KMS_MUST_CHECK kms_result kms_file_path(char *out, size_t cap, const char *dir, const char *name);

/* kms_file_read of dir/name. */
KMS_MUST_CHECK kms_result kms_file_read_at(const char *dir, const char *name, size_t max,
                                           bool owner_only, uint8_t **out, size_t *len);

/* Wipes and frees a block from kms_file_read*; NULL does nothing. */
void kms_file_free(uint8_t *p, size_t len);

/* Writes p[0..n) durably as the new content of path (see above). On failure the temporary
 * file is removed and path is untouched. KMS_ERR_IO on any system call failure. Run as root,
 * the new file keeps the owner and group of the one it replaces (or takes the directory's when
 * it is new), so an operator's command never locks a daemon out of its files. */
KMS_MUST_CHECK kms_result kms_file_write_atomic(const char *path, const uint8_t *p, size_t n);

/* For a file fd just created at path (an SQLite store made by `imskms subscriber add`): run as
 * root, fd takes the owner and group of path's directory, as kms_file_write_atomic's new files
 * do. Nothing otherwise. KMS_ERR_IO when the change fails. */
KMS_MUST_CHECK kms_result kms_file_adopt_owner(int fd, const char *path);

/* Removes path durably: unlink, then fsync of its directory, so that a crash after the call
 * never finds it again. A path that does not exist is not an error. KMS_ERR_IO otherwise. */
KMS_MUST_CHECK kms_result kms_file_remove(const char *path);

/* Takes the exclusive lock on "<path>.lock" (created 0600 when missing, owned as above when
 * created by root), waiting for it.
 * *fd is the lock's descriptor (-1 on failure); kms_file_unlock releases it. */
KMS_MUST_CHECK kms_result kms_file_lock(const char *path, int *fd);
/* The same without waiting: KMS_ERR_EXISTS when another descriptor holds the lock. */
KMS_MUST_CHECK kms_result kms_file_trylock(const char *path, int *fd);
void kms_file_unlock(int *fd);

#endif
