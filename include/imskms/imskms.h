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

/* IMSKMS_VERSION: `git describe --always --dirty` when built from a git checkout, else the
 * project version of CMakeLists.txt (cmake/KmsVersion.cmake writes it at build time). Files
 * that do not print it define IMSKMS_NO_VERSION first, so that a new commit leaves them alone. */
#ifndef IMSKMS_NO_VERSION
#include "imskms/version.h"
#endif

/* The version string (IMSKMS_VERSION), printed by --version of every program. */
const char *kms_version(void);

/* Runs the power-on known-answer self-tests (Milenage test set 1 of TS 35.208, RFC 4231 case 1
 * for the HMAC-SHA-256 under the TS 33.220 KDF, a published PRF-HMAC-SHA-256 MIKEY key
 * derivation). KMS_ERR_SELFTEST when any value differs. */
KMS_MUST_CHECK kms_result kms_selftest(void);

#ifdef __cplusplus
}
#endif
#endif
