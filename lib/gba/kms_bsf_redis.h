/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_bsf_redis: a BSF fleet's shared state in Redis (imskms-bsfd --redis; docs/scaling.md,
 * "The BSF's keys in Redis"), over lib/redis/kms_redis.
 *
 *   imskms:bsf:sub:{T(IMPI)}   a subscriber: its record line of the export format
 *                              (kms_subfile_rec_parse), K and OPc sealed under the KEK exactly
 *                              as the SQLite store and the export file hold them. No TTL.
 *   imskms:bsf:rate:{T(IMPI)}  a subscriber's challenge bucket "tokens:refill_at", updated by a
 *                              Lua script (one round trip); TTL burst x period + 60 s.
 *   imskms:bsf:ans:{T(RAND)}   an answered challenge, SET NX with a TTL to its expiry.
 *   imskms:bsf:ses:{T(RAND)}   a bootstrap session: nonce (12) || AES-256-GCM(created (8) ||
 *                              expires (8) || Ks (32) || len (1) || IMPI) || tag (16) under the
 *                              KEK's BSF_SESSION key, RAND in the associated data; SET NX with a
 *                              TTL to the session's expiry.
 *
 * T(x) is kms_redis_tag under the KEK's BSF_REDIS_NAME key: a Redis Cluster hash tag that shows
 * no IMPI or RAND. Every failure of Redis is KMS_ERR_STORE.
 */
#ifndef KMS_GBA_BSF_REDIS_H
#define KMS_GBA_BSF_REDIS_H

#include <stdint.h>

#include "err/kms_err.h"
#include "gba/kms_bsf.h"
#include "gba/kms_subscriber.h"
#include "redis/kms_redis.h"

struct kms_bsf_redis;

/* Over the client r (borrowed; it must outlive the result) with the KEK (its keys derived and
 * kept, the KEK itself kept in secret memory to open subscriber records). */
KMS_MUST_CHECK kms_result kms_bsf_redis_new(struct kms_redis *r, const uint8_t kek[32],
                                            struct kms_bsf_redis **out);
void kms_bsf_redis_free(struct kms_bsf_redis *x);

/* The kms_bsf_shared callbacks over x. */
void kms_bsf_redis_shared(struct kms_bsf_redis *x, struct kms_bsf_shared *out);

/* Subscribers, as kms_subscriber_* (the same codes; KMS_ERR_STORE for Redis). add seals s with
 * SQN mark sqn_last and SET NX (KMS_ERR_EXISTS when the IMPI is taken). */
KMS_MUST_CHECK kms_result kms_bsf_redis_sub_add(struct kms_bsf_redis *x,
                                                const struct kms_subscriber *s, uint64_t sqn_last);
/* A record as it comes (import): its keys must open under the KEK (KMS_ERR_AUTH); SET NX. */
KMS_MUST_CHECK kms_result kms_bsf_redis_sub_put(struct kms_bsf_redis *x,
                                                const struct kms_subscriber_rec *rec);
/* The record of impi, keys still sealed: KMS_ERR_NOT_FOUND; KMS_ERR_STORE when malformed. */
KMS_MUST_CHECK kms_result kms_bsf_redis_sub_rec(struct kms_bsf_redis *x, const char *impi,
                                                struct kms_subscriber_rec *out);
/* The subscriber with its keys (wipe *out after use) and its record's SQN mark. */
KMS_MUST_CHECK kms_result kms_bsf_redis_sub_get(struct kms_bsf_redis *x, const char *impi,
                                                struct kms_subscriber *out, uint64_t *sqn_mark);
KMS_MUST_CHECK kms_result kms_bsf_redis_sub_del(struct kms_bsf_redis *x, const char *impi);
/* Every record (SCAN), in IMPI order; cb as kms_subscriber_export's. Holds every record in
 * memory for the sort: a tool for provisioning, not for a store of millions. */
KMS_MUST_CHECK kms_result
kms_bsf_redis_sub_list(struct kms_bsf_redis *x,
                       kms_result (*cb)(void *arg, const struct kms_subscriber_rec *), void *arg);

#endif
