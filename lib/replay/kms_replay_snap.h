/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_replay_snap: the replay cache kept across a clean stop of imskms-kmsd (docs/protocol.md
 * section 10, docs/reliability.md).
 *
 * On SIGTERM, once no request can reach the guard, the daemon seals kms_replay_save's image to
 * a file; at the next start it opens it, builds the guard from it (kms_replay_load: the horizon
 * is the image's oldest covered time, never later than start + skew), then removes it durably
 * before the first request is served, so that a later crash can never reuse it. Without a
 * snapshot (a crash, --hsm without a KEK, or one that fails to open) the restart rule applies.
 *
 * File (all integers big-endian):
 *   "IKMSRPS1" (8) || u32 KEK version (1) || nonce (12) || AES-256-GCM(image) || tag (16)
 * with the first 12 octets as the AAD, under KMS_KEK_REPLAY_SNAPSHOT of the KEK (kms_kek).
 */
#ifndef KMS_REPLAY_REPLAY_SNAP_H
#define KMS_REPLAY_REPLAY_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "replay/kms_replay.h"
#include "util/kms_buf.h"

#define KMS_REPLAY_SNAP_KEY_LEN  32
#define KMS_REPLAY_SNAP_OVERHEAD (8 + 4 + 12 + 16)

/* The snapshot key: KMS_KEK_REPLAY_SNAPSHOT version 1 of the 32-byte KEK. */
KMS_MUST_CHECK kms_result kms_replay_snap_key(const uint8_t kek[32],
                                              uint8_t key[KMS_REPLAY_SNAP_KEY_LEN]);

/* Appends the sealed snapshot of rg at now to out (a secret-flagged buffer is not needed: the
 * output is ciphertext). */
KMS_MUST_CHECK kms_result kms_replay_snap_seal(const uint8_t key[KMS_REPLAY_SNAP_KEY_LEN],
                                               struct kms_replay *rg, uint64_t now,
                                               struct kms_buf *out);

/* Opens a sealed snapshot (untrusted bytes) into a new guard for cfg (kms_replay_load).
 * KMS_ERR_MALFORMED / KMS_ERR_TRUNCATED for a file that is not one, KMS_ERR_UNSUPPORTED for
 * another version, KMS_ERR_TOO_LONG for more than a guard of cfg could hold (told by the length,
 * before decrypting), KMS_ERR_AUTH when the tag does not verify (another KEK, an altered byte),
 * and kms_replay_load's errors for an image that does not load. */
KMS_MUST_CHECK kms_result kms_replay_snap_open(const uint8_t key[KMS_REPLAY_SNAP_KEY_LEN],
                                               const uint8_t *p, size_t len,
                                               const struct kms_replay_cfg *cfg,
                                               uint64_t start_time, uint64_t now,
                                               struct kms_replay **out,
                                               struct kms_replay_loaded *info);

/* kms_replay_snap_seal into path, written atomically and durably (kms_file_write_atomic). */
KMS_MUST_CHECK kms_result kms_replay_snap_write(const char *path,
                                                const uint8_t key[KMS_REPLAY_SNAP_KEY_LEN],
                                                struct kms_replay *rg, uint64_t now);

/* Reads path (owner-only, at most the size a guard of cfg loads) and kms_replay_snap_open.
 * KMS_ERR_NOT_FOUND when there is no snapshot. Never removes it: kms_file_remove does. */
KMS_MUST_CHECK kms_result kms_replay_snap_read(
    const char *path, const uint8_t key[KMS_REPLAY_SNAP_KEY_LEN], const struct kms_replay_cfg *cfg,
    uint64_t start_time, uint64_t now, struct kms_replay **out, struct kms_replay_loaded *info);

#endif
