/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulated USIM/ISIM of a UE: what a real card keeps (TS 31.102 / 31.103) and the UE side
 * of AKA needs: the private identity (IMPI, EF_IMPI), the public identities (IMPUs, EF_IMPU),
 * the subscriber key K, OPc, the AMF of the subscription, and the SQN array of TS 33.102
 * Annex C (struct kms_sqn_ms: IND bits, delta, age limit L, SEQ_MS values).
 *
 * The file, version 1, is text: one "name=value" line each, '\n'-terminated, nothing else:
 *
 *   imskms-usim=1                     always the first line
 *   impi=<IMPI>                       once
 *   impu=<IMPU>                       1..8 times, in order, no repeats
 *   k=<32 hex>                        once (secret)
 *   opc=<32 hex>                      once (secret)
 *   amf=<4 hex>                       once
 *   ind_bits=<0..8>                   once, decimal
 *   delta=<1..2^48>                   once, decimal
 *   age_limit=<0..2^48>               once, decimal (0: L not applied)
 *   seq=<12 hex per SEQ_MS(i)>        once, 2^ind_bits values of 48 bits, IND 0 first
 *   sha256=<64 hex>                   always the last line: SHA-256 of every octet before it
 *
 * The lines between the first and the last may come in any order (the writer uses this one).
 * Hex is lower case; decimals have no sign and no leading zero. Values are printable ASCII
 * without space. The reader refuses unknown names, repeats, missing fields, bad lengths and
 * values, and any file whose checksum does not match (KMS_ERR_MALFORMED), so a truncated or
 * corrupted file is refused, never half-read. The checksum is not a MAC: the file is as
 * secret as K itself (mode 0600, like a private key), and anyone who can write it can replace
 * K anyway; it guards against corruption, not against an attacker.
 *
 * Files: the USIM is at `path`, its lock at "<path>.lock" (util/kms_file.h). Every write is
 * atomic and durable (temporary file, fsync, rename, directory fsync) under the exclusive lock,
 * so a crash leaves the previous or the new USIM, and SQN acceptance is durable before the UE
 * answers the challenge (a replayed AUTN can never be accepted twice).
 */
#ifndef KMS_UE_USIM_H
#define KMS_UE_USIM_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kms_kdf.h"
#include "crypto/kms_milenage.h"
#include "crypto/kms_sqn.h"
#include "err/kms_err.h"
#include "util/kms_buf.h"

#define KMS_USIM_VERSION  1
#define KMS_USIM_MAX_IMPU 8
#define KMS_USIM_ID_MAX   (KMS_IDENT_NAME_MAX + 1) /* an IMPI or IMPU and its NUL */
#define KMS_USIM_FILE_MAX 16384

struct kms_usim {
    char impi[KMS_USIM_ID_MAX];
    char impu[KMS_USIM_MAX_IMPU][KMS_USIM_ID_MAX];
    size_t n_impu;
    uint8_t k[KMS_AKA_K_LEN]; /* secret */
    uint8_t opc[16];          /* secret */
    uint8_t amf[KMS_AKA_AMF_LEN];
    struct kms_sqn_ms sqn;
};

/* Checks a USIM in memory: IMPI and 1..8 distinct IMPUs of printable ASCII without space
 * (kms_ident_check_impi), ind_bits <= KMS_SQN_IND_BITS_MAX, delta in 1..2^48, age_limit <= 2^48,
 * every SEQ_MS(i) within 48 - ind_bits bits and the entries past 2^ind_bits zero.
 * KMS_ERR_ARG (or the identity check's code) otherwise. */
KMS_MUST_CHECK kms_result kms_usim_check(const struct kms_usim *u);

/* The file image of u (checked first), appended to out (use a secret buffer). */
KMS_MUST_CHECK kms_result kms_usim_encode(const struct kms_usim *u, struct kms_buf *out);
/* Parses a file image (borrowed). KMS_ERR_MALFORMED for anything but a valid version-1 image,
 * KMS_ERR_UNSUPPORTED for another version, KMS_ERR_TOO_LONG over KMS_USIM_FILE_MAX.
 * u is wiped on failure. */
KMS_MUST_CHECK kms_result kms_usim_decode(const uint8_t *p, size_t n, struct kms_usim *u);

/* Writes a new USIM file (mode 0600) under the lock. KMS_ERR_EXISTS when path exists. */
KMS_MUST_CHECK kms_result kms_usim_create(const char *path, const struct kms_usim *u);
/* Reads the USIM file. KMS_ERR_NOT_FOUND when missing; KMS_ERR_IO when it is not a regular
 * file or group or others have any access to it; decode errors as above. u wiped on failure. */
KMS_MUST_CHECK kms_result kms_usim_load(const char *path, struct kms_usim *u);
/* Replaces the existing USIM file with u, atomically and durably, under the lock.
 * KMS_ERR_NOT_FOUND when there is no file to replace (save never creates one). */
KMS_MUST_CHECK kms_result kms_usim_save(const char *path, const struct kms_usim *u);

/* A read-modify-write under one hold of the lock: load, fn(u, arg), save when fn succeeds
 * (what the UE does when it accepts an SQN). fn's error is returned and nothing is written. */
typedef kms_result (*kms_usim_change_fn)(struct kms_usim *u, void *arg);
KMS_MUST_CHECK kms_result kms_usim_update(const char *path, kms_usim_change_fn fn, void *arg);

/* Wipes the whole structure (K and OPc included); NULL does nothing. */
void kms_usim_wipe(struct kms_usim *u);

#endif
