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
#define X(name, group, kms_http, mikey, ub_http, zn_http, zn_code, busy, msg) name,
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
/* The interfaces whose answers the table decides (err_table.h). */
enum kms_iface {
    KMS_IFACE_KMS = 0, /* the KMS: POST /mikey (MIKEY Error messages) */
    KMS_IFACE_UB = 1,  /* the BSF's Ub (HTTP Digest AKA) */
    KMS_IFACE_ZN = 2,  /* the BSF's Zn (JSON errors) */
};

/* What an interface puts on the wire for an error code (KMS_OK: 200). */
struct kms_wire {
    int status;          /* HTTP status */
    int mikey_err;       /* KMS only: the ERR payload's error number; -1 elsewhere */
    const char *zn_code; /* Zn only: the JSON "error" name; NULL elsewhere and for KMS_OK */
    /* Set when the server itself cannot serve now (the table's busy column) and the status says
     * so (503): the `Imskms-Reason` header's value ("zn-unavailable",
     * "store-unavailable", "starting", "overloaded") and the default `Retry-After` seconds.
     * NULL and 0 otherwise, in particular for every authentication failure. */
    const char *reason;
    unsigned retry_after;
};

/* The one place a status is chosen: the row of err in the column of iface. A code outside the
 * table answers as KMS_ERR_INTERNAL does. */
struct kms_wire kms_wire_of(enum kms_iface iface, enum kms_err err);
/* CLI exit status: 0 ok, 1 a check failed (AUTH), 2 bad usage or malformed input, 3 internal. */
int kms_err_exit_status(enum kms_err err);
/* Symbolic name ("KMS_ERR_TRUNCATED"). */
const char *kms_err_name(enum kms_err err);

#ifdef __cplusplus
}
#endif
#endif
