/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms: key management for IMS media security (GBA bootstrapping, MIKEY-TICKET KMS).
 * Public API entry point. The library's internals live under lib/ and are not installed.
 */
#ifndef IMSKMS_H
#define IMSKMS_H

#include "imskms/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IMSKMS_VERSION "0.1.0"

/* The library version string. */
KMS_API const char *kms_version(void);

/* Runs the power-on known-answer self-tests (Milenage test set 1 of TS 35.208, RFC 4231 case 1
 * for the HMAC-SHA-256 under the TS 33.220 KDF, a published PRF-HMAC-SHA-256 MIKEY key
 * derivation). KMS_ERR_SELFTEST when any value differs. */
KMS_API KMS_MUST_CHECK kms_result kms_selftest(void);

#ifdef __cplusplus
}
#endif
#endif
