/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_store_redis: the Redis backend of kms_store (a KMS fleet's mode-2 Kues; layout in
 * kms_store_redis.c and docs/scaling.md). Kept out of kms_store.h so that the store's users
 * that never touch Redis do not see hiredis.
 */
#ifndef KMS_STORE_STORE_REDIS_H
#define KMS_STORE_STORE_REDIS_H

#include <stdint.h>

#include "err/kms_err.h"
#include "redis/kms_redis.h"
#include "store/kms_store.h"

/* A backend on the client r (borrowed: it must outlive the backend); names keys the rows'
 * hash tags (kms_fleet_names_key, or any 32 bytes shared by every user of the same rows). */
KMS_MUST_CHECK kms_result kms_store_backend_redis(struct kms_redis *r, const uint8_t names[32],
                                                  struct kms_store_backend **out);

#endif
