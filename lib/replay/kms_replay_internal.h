/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_replay internals for the tests and the benchmark only (not part of the contract in
 * kms_replay.h).
 */
#ifndef KMS_REPLAY_INTERNAL_H
#define KMS_REPLAY_INTERNAL_H

#include <stdint.h>

#include "replay/kms_replay.h"

/* How many sweeps the guard has run (to test their rate limit). */
uint64_t kms_replay_sweeps(struct kms_replay *rg);

#endif
