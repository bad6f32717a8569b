/* SPDX-License-Identifier: Apache-2.0 */
#include "err/kms_err.h"

#include <stddef.h>

struct err_row {
    const char *name;
    const char *msg;
    enum kms_err_group group;
    short kms_http, mikey, ub_http, zn_http;
    const char *zn_code;
    unsigned char busy; /* enum busy */
};

/* The busy column: why the server cannot serve now, with the header value and the default
 * Retry-After (seconds). A Zn answer usually returns within the Zn time-out; a store or key
 * store needs an operator (or free space) more often than not; the restart window's real
 * remainder is the service's to give (kms_service_reply.retry_after). */
enum busy { B_NONE, B_ZN, B_STORE, B_STARTING, B_OVERLOADED };
static const struct {
    const char *reason;
    unsigned retry_after;
} busy_rows[] = {
    [B_NONE] = {NULL, 0},
    [B_ZN] = {"zn-unavailable", 5},
    [B_STORE] = {"store-unavailable", 10},
    [B_STARTING] = {"starting", 5},
    [B_OVERLOADED] = {"overloaded", 1},
};

#define G_USAGE    KMS_ERR_G_USAGE
#define G_PROTO    KMS_ERR_G_PROTO
#define G_CRYPTO   KMS_ERR_G_CRYPTO
#define G_AUTH     KMS_ERR_G_AUTH
#define G_STATE    KMS_ERR_G_STATE
#define G_INTERNAL KMS_ERR_G_INTERNAL

static const struct err_row rows[KMS_ERR_COUNT_] = {
    [KMS_OK] = {"KMS_OK", "success", KMS_ERR_G_OK, 200, 0, 200, 200, NULL, B_NONE},
#define X(name, group, kms_http, mikey, ub_http, zn_http, zn_code, busy, msg)                      \
    [name] = {#name, msg, G_##group, kms_http, mikey, ub_http, zn_http, #zn_code, B_##busy},
#include "imskms/err_table.h"
#undef X
};

static const struct err_row *row(enum kms_err err)
{
    if ((unsigned)err >= (unsigned)KMS_ERR_COUNT_) {
        return NULL;
    }
    return &rows[err];
}

const char *kms_strerror(enum kms_err err)
{
    const struct err_row *r = row(err);
    return r != NULL ? r->msg : "unknown error";
}

const char *kms_err_name(enum kms_err err)
{
    const struct err_row *r = row(err);
    return r != NULL ? r->name : "KMS_ERR_UNKNOWN";
}

enum kms_err_group kms_err_group(enum kms_err err)
{
    const struct err_row *r = row(err);
    return r != NULL ? r->group : KMS_ERR_G_INTERNAL;
}

struct kms_wire kms_wire_of(enum kms_iface iface, enum kms_err err)
{
    const struct err_row *r = row(err);
    if (r == NULL) {
        r = &rows[KMS_ERR_INTERNAL];
    }
    struct kms_wire w;
    switch (iface) {
    case KMS_IFACE_KMS:
        w = (struct kms_wire){r->kms_http, r->mikey, NULL, NULL, 0};
        break;
    case KMS_IFACE_UB:
        w = (struct kms_wire){r->ub_http, -1, NULL, NULL, 0};
        break;
    case KMS_IFACE_ZN:
        w = (struct kms_wire){r->zn_http, -1, r->zn_code, NULL, 0};
        break;
    default:
        return (struct kms_wire){500, -1, NULL, NULL, 0};
    }
    if (w.status == 503) {
        w.reason = busy_rows[r->busy].reason;
        w.retry_after = busy_rows[r->busy].retry_after;
    }
    return w;
}

int kms_err_exit_status(enum kms_err err)
{
    switch (kms_err_group(err)) {
    case KMS_ERR_G_OK:
        return 0;
    case KMS_ERR_G_AUTH:
        return 1;
    case KMS_ERR_G_USAGE:
    case KMS_ERR_G_PROTO:
        return 2;
    case KMS_ERR_G_CRYPTO:
    case KMS_ERR_G_STATE:
    case KMS_ERR_G_INTERNAL:
    default:
        return 3;
    }
}

static _Thread_local const char *where_file;
static _Thread_local int where_line;

kms_result kms_err_at(enum kms_err err, const char *file, int line)
{
    where_file = file;
    where_line = line;
    return (kms_result){err};
}

const char *kms_err_where(int *line)
{
    if (line != NULL) {
        *line = where_line;
    }
    return where_file != NULL ? where_file : "?";
}
