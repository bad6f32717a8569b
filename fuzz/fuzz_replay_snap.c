/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the replay cache's snapshot (lib/replay/kms_replay_snap, kms_replay_load), read
 * by imskms-kmsd at start from a file. The input is tried twice: as the sealed file under a fixed
 * key (the outer framing, the tag), and as the image inside it (what the tag protects: lengths,
 * entries, the horizon). Oracles: a refusal leaves no guard; an accepted image gives a guard
 * whose horizon is never later than the restart rule's and that holds no more entries than the
 * image listed, and whose re-saved image loads again to the same horizon and entry count.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "replay/kms_replay.h"
#include "replay/kms_replay_snap.h"
#include "util/kms_buf.h"

#define KF_CHECK(c)                                                                                \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_replay_snap: check failed: %s\n", #c);                           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[KMS_REPLAY_SNAP_KEY_LEN] = {0x42};
static const struct kms_replay_cfg cfg = {.skew = 60, .max_entries = 1000};
#define START 1700000000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 72 + 1000 * 24 + KMS_REPLAY_SNAP_OVERHEAD + 64) {
        return 0;
    }
    struct kms_replay *rg = NULL;
    kms_result r = kms_replay_snap_open(key, data, size, &cfg, START, START, &rg, NULL);
    KF_CHECK(kms_ok(r) == (rg != NULL));
    kms_replay_free(rg);
    rg = NULL;
    struct kms_replay_loaded info;
    r = kms_replay_load(&cfg, START, data, size, START, &rg, &info);
    KF_CHECK(kms_ok(r) == (rg != NULL));
    if (rg == NULL) {
        return 0;
    }
    KF_CHECK(kms_replay_open_at(rg) <= START + cfg.skew);
    KF_CHECK(kms_replay_count(rg) == info.entries && info.entries <= (size - 72) / 24);
    /* Saved again at the same clock, it loads again alike. */
    struct kms_buf b;
    kms_buf_init(&b, 1 << 20, true);
    struct kms_replay *again = NULL;
    KF_CHECK(kms_ok(kms_replay_save(rg, START, &b)));
    if (kms_ok(
            kms_replay_load(&cfg, START, kms_buf_data(&b), kms_buf_len(&b), START, &again, NULL))) {
        KF_CHECK(kms_replay_count(again) == kms_replay_count(rg));
    }
    kms_replay_free(again);
    kms_buf_cleanup(&b);
    kms_replay_free(rg);
    return 0;
}
