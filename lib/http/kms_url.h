/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_url: the few things the UE side reads out of a URL it was given, without a URL parser.
 */
#ifndef KMS_HTTP_URL_H
#define KMS_HTTP_URL_H

#include <stddef.h>

#include "err/kms_err.h"

/* The host of an absolute URL: what follows the first "://" up to the first ':', '/', '?' or
 * '#' (or the end), copied NUL-terminated into host (cap octets). The BSF's host is the realm
 * the UE expects (TS 24.109: realm = BSF FQDN), and the KMS's host its NAF FQDN. The host is
 * not checked here (callers check it as an FQDN); userinfo ("user@") and bracketed IPv6
 * literals are not understood. KMS_ERR_ARG when there is no "://", the host is empty or it does
 * not fit with its NUL; host is then left as it was. */
KMS_MUST_CHECK kms_result kms_http_url_host(const char *url, char *host, size_t cap);

#endif
