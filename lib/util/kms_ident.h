/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_ident: the syntax of the identities imskms carries, checked in one place for every caller
 * (the BSF, its subscriber store, Zn, the KMS, tickets, the UE side and the CLI).
 *
 *   IMPI   1..KMS_IDENT_NAME_MAX octets of printable ASCII without space (0x21..0x7e). An NAI
 *          has no fixed limit; 255 is what the Diameter User-Name of TS 29.109 carries in
 *          practice. TS 33.220 B.2.1 asks for NFKC normalisation of non-ASCII strings before
 *          they enter the KDF; we do not implement it, so such strings are refused
 *          (KMS_ERR_NOT_ASCII) rather than hashed in a form a peer might normalise differently.
 *   IMPU   the same rule as an IMPI (a SIP or tel URI is not parsed further: the scheme and the
 *          rest are the HSS's business, and every octet we store or seal is printable).
 *   FQDN   1..KMS_IDENT_FQDN_MAX octets of letters (either case), digits, '-' and '.', labels of
 *          1..63 octets (no empty label, so no leading, trailing or doubled dot).
 *   B-TID  1..KMS_BTID_MAX-1 octets of printable ASCII without space. base64(RAND) "@" BSF FQDN
 *          (TS 33.220 4.5.2) always is that; its inner shape is not checked (a B-TID is an
 *          opaque lookup key for everyone but the BSF that made it).
 *
 * Every function takes (pointer, length): the octets need not be NUL-terminated, and an
 * embedded NUL is an octet like any other (refused: below 0x21).
 *
 * This module includes nothing from the project but err/: it sits with util/ at the bottom of
 * the layers, so that every module above may use it.
 */
#ifndef KMS_UTIL_IDENT_H
#define KMS_UTIL_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"

/* Longest IMPI or IMPU, and longest host name we keep (an FQDN itself is at most 253). */
#define KMS_IDENT_NAME_MAX  255
#define KMS_IDENT_FQDN_MAX  253
#define KMS_IDENT_LABEL_MAX 63
/* Buffer size for a B-TID: base64(RAND) (24) + "@" + FQDN + NUL. */
#define KMS_BTID_MAX (24 + 1 + KMS_IDENT_NAME_MAX + 1)

/* Whether each of the n octets at p is printable ASCII other than space (0x21..0x7e).
 * True for n == 0. Runs eight octets at a time: tickets check their identities on every open. */
bool kms_ident_chars_ok(const uint8_t *p, size_t n);

/* KMS_ERR_ARG for NULL or len 0, KMS_ERR_TOO_LONG above KMS_IDENT_NAME_MAX, KMS_ERR_NOT_ASCII
 * for any octet outside 0x21..0x7e. */
KMS_MUST_CHECK kms_result kms_ident_check_impi(const char *impi, size_t len);

/* The same rule and codes as kms_ident_check_impi. */
KMS_MUST_CHECK kms_result kms_ident_check_impu(const char *impu, size_t len);

/* KMS_ERR_ARG for NULL or len 0, KMS_ERR_TOO_LONG above KMS_IDENT_FQDN_MAX, KMS_ERR_NOT_ASCII
 * for an octet with the top bit set, KMS_ERR_ARG for any other octet outside [A-Za-z0-9.-],
 * an empty label or a label above KMS_IDENT_LABEL_MAX. */
KMS_MUST_CHECK kms_result kms_ident_check_fqdn(const char *fqdn, size_t len);

/* KMS_ERR_ARG for NULL or len 0, KMS_ERR_TOO_LONG for len >= KMS_BTID_MAX, KMS_ERR_NOT_ASCII
 * for any octet outside 0x21..0x7e. */
KMS_MUST_CHECK kms_result kms_ident_check_btid(const char *btid, size_t len);

#endif
