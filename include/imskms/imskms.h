/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms: key management for IMS media security (GBA bootstrapping, MIKEY-TICKET KMS).
 * The version and the power-on self-test. Like everything under include/imskms/, an internal
 * header shared by lib/ and the programs: nothing is installed and there is no public API yet.
 */
#ifndef IMSKMS_H
#define IMSKMS_H

#include "imskms/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IMSKMS_VERSION "0.1.0"

/* The library version string. */
const char *kms_version(void);

/* Runs the power-on known-answer self-tests (Milenage test set 1 of TS 35.208, RFC 4231 case 1
 * for the HMAC-SHA-256 under the TS 33.220 KDF, a published PRF-HMAC-SHA-256 MIKEY key
 * derivation). KMS_ERR_SELFTEST when any value differs. */
KMS_MUST_CHECK kms_result kms_selftest(void);

#ifdef __cplusplus
}
#endif
#endif
