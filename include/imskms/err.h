/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IMSKMS_ERR_H
#define IMSKMS_ERR_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KMS_MUST_CHECK __attribute__((warn_unused_result))
#else
#define KMS_MUST_CHECK
#endif

/* Error groups: the high byte of every code. */
enum kms_err_group {
    KMS_ERR_G_OK = 0,
    KMS_ERR_G_USAGE = 1,    /* bad argument from the caller or the command line */
    KMS_ERR_G_PROTO = 2,    /* malformed bytes from a peer or a file */
    KMS_ERR_G_CRYPTO = 3,   /* the crypto library failed (never a verdict on input) */
    KMS_ERR_G_AUTH = 4,     /* a check on input failed: MAC, tag, freshness */
    KMS_ERR_G_STATE = 5,    /* the operation cannot proceed in the current state */
    KMS_ERR_G_INTERNAL = 6, /* out of memory, broken invariant */
};

/* enum kms_err: KMS_OK = 0, then one code per line of err_table.h, in table order. */
enum kms_err {
    KMS_OK = 0,
#define X(name, group, http, mikey, msg) name,
#include "imskms/err_table.h"
#undef X
    KMS_ERR_COUNT_ /* not an error: the number of codes */
};

/* A result the compiler will not let the caller drop (with -Werror). */
typedef struct kms_result {
    enum kms_err err;
} kms_result;

/* Message for a code, never NULL ("unknown error" for a code not in the table). */
const char *kms_strerror(enum kms_err err);
/* Group of a code. */
enum kms_err_group kms_err_group(enum kms_err err);
/* HTTP status a daemon answers with for this code (200 for KMS_OK). */
int kms_err_http_status(enum kms_err err);
/* RFC 3830 section 6.12 MIKEY error number for this code. */
int kms_err_mikey_code(enum kms_err err);
/* CLI exit status: 0 ok, 1 a check failed (AUTH), 2 bad usage or malformed input, 3 internal. */
int kms_err_exit_status(enum kms_err err);
/* Symbolic name ("KMS_ERR_TRUNCATED"). */
const char *kms_err_name(enum kms_err err);

#ifdef __cplusplus
}
#endif
#endif
