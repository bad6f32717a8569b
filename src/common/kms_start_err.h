/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start-up error lines that say what to fix: the option, its value (a path or an address) and
 * the system's own reason (no such file, permission denied, address in use), one line each,
 * logged at error level. Both daemons use them for every file and listener they open.
 */
#ifndef KMS_START_ERR_H
#define KMS_START_ERR_H

#include "err/kms_err.h"

/* Why path cannot be opened for reading, in the system's words (strerror of open(2), "is a
 * directory", "not a regular file"), or NULL when it opens as a regular file (then its
 * content, not the system, is at fault). */
const char *kms_start_file_why(const char *path);

/* "OPT PATH: what is wrong" for a file option refused with err: when the system cannot open
 * it as a regular file, "cannot be read: <the system's reason>" whatever err says; else
 * KMS_ERR_IO "cannot be read: <reason>", KMS_ERR_MALFORMED "holds no PEM certificate or key",
 * KMS_ERR_TOO_LONG "too large", KMS_ERR_ARG "is not the private key of <cert_opt>" (when
 * cert_opt is set), anything else the error's message. */
void kms_start_file_error(const char *opt, const char *path, enum kms_err err,
                          const char *cert_opt);

/* "OPT ADDR: <reason>" for a listener that did not start with err: KMS_ERR_ARG "not a numeric
 * ADDR:PORT"; otherwise what binding ADDR now says (address in use, permission denied, cannot
 * assign the address), found by trying it on a probe socket. */
void kms_start_listen_error(const char *opt, const char *addr, enum kms_err err);

#endif
