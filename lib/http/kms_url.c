/* SPDX-License-Identifier: Apache-2.0 */
#include "http/kms_url.h"

#include <string.h>

kms_result kms_http_url_host(const char *url, char *host, size_t cap)
{
    KMS_ENSURE(url != NULL && host != NULL, KMS_ERR_ARG);
    const char *p = strstr(url, "://");
    KMS_ENSURE(p != NULL, KMS_ERR_ARG);
    p += 3;
    size_t n = strcspn(p, ":/?#");
    KMS_ENSURE(n > 0 && n < cap, KMS_ERR_ARG);
    memcpy(host, p, n);
    host[n] = '\0';
    return KMS_RESULT_OK;
}
