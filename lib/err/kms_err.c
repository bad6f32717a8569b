/* SPDX-License-Identifier: Apache-2.0 */
#include "err/kms_err.h"

#include <stddef.h>

struct err_row {
    const char *name;
    const char *msg;
    enum kms_err_group group;
    int http;
    int mikey;
};

#define G_USAGE    KMS_ERR_G_USAGE
#define G_PROTO    KMS_ERR_G_PROTO
#define G_CRYPTO   KMS_ERR_G_CRYPTO
#define G_AUTH     KMS_ERR_G_AUTH
#define G_STATE    KMS_ERR_G_STATE
#define G_INTERNAL KMS_ERR_G_INTERNAL

static const struct err_row rows[KMS_ERR_COUNT_] = {
    [KMS_OK] = {"KMS_OK", "success", KMS_ERR_G_OK, 200, 12},
#define X(name, group, http, mikey, msg) [name] = {#name, msg, G_##group, http, mikey},
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

int kms_err_http_status(enum kms_err err)
{
    const struct err_row *r = row(err);
    return r != NULL ? r->http : 500;
}

int kms_err_mikey_code(enum kms_err err)
{
    const struct err_row *r = row(err);
    return r != NULL ? r->mikey : 12;
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
