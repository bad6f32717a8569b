/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COUNTER-mode replay check: the counter must exceed the token's base and the last counter
 * accepted for the token. The second test and the update are one atomic backend operation
 * (kms_store_counter_advance), so two racing copies of one request cannot both pass.
 */
#include "replay/kms_replay.h"

#include "store/kms_store.h"

_Static_assert(KMS_REPLAY_TOKEN_ID_LEN == KMS_STORE_ID_LEN, "token ids are store ids");

kms_result kms_replay_counter(struct kms_store *st, const uint8_t token_id[KMS_REPLAY_TOKEN_ID_LEN],
                              uint64_t counter_base, uint64_t counter, uint64_t token_expires)
{
    KMS_ENSURE(st != NULL && token_id != NULL, KMS_ERR_ARG);
    /* Below or at the base: refused without a write, so replays cost no disk sync. */
    KMS_ENSURE(counter > counter_base, KMS_ERR_REPLAY);
    return kms_store_counter_advance(st, token_id, counter, token_expires);
}
