/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_keyring_redis: the keyring's durable record in Redis (`--keyring redis`, docs/keyring.md).
 *
 * Three keys under the KMS prefix, one hash tag (one Redis Cluster slot):
 *   imskms:kms:{keyring}:image   the keyring image, byte for byte a keyring file (format 2)
 *   imskms:kms:{keyring}:anchor  the sealed anchor, byte for byte a PATH.anchor file
 *   imskms:kms:{keyring}:gen     the image's generation in decimal: what nodes poll
 * Every write replaces all three in one Lua script that first compares the generation with the
 * one the writer read (a compare-and-swap): a writer that lost a race re-reads and re-applies
 * its change (kms_keyring.c). Nothing here creates a keyring except a write with `create`.
 */
#ifndef KMS_KEYRING_KEYRING_REDIS_H
#define KMS_KEYRING_KEYRING_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"
#include "redis/kms_redis.h"

#define KMS_KRR_PREFIX "imskms:kms:{keyring}:"

struct kms_krr;

/* A record store on the client r (borrowed: free the store first). prefix NULL:
 * KMS_KRR_PREFIX (tests give their own). */
KMS_MUST_CHECK kms_result kms_krr_new(struct kms_redis *r, const char *prefix,
                                      struct kms_krr **out);
void kms_krr_free(struct kms_krr *s);

/* Whether Redis keeps what it acknowledged: appendonly yes and appendfsync always (CONFIG
 * GET). KMS_ERR_STORE with a one-line reason in why otherwise (or when Redis cannot be asked). */
KMS_MUST_CHECK kms_result kms_krr_check_durable(struct kms_krr *s, char *why, size_t why_cap);

/* Reads the image, the sealed anchor and the generation in one command (MGET). *img (malloc,
 * free with kms_file_free) of at most max bytes; *an_len 0 when there is no anchor.
 * KMS_ERR_NOT_FOUND when there is no image, KMS_ERR_TOO_LONG for an image past max or an
 * anchor past an_cap, KMS_ERR_STORE when Redis fails. */
KMS_MUST_CHECK kms_result kms_krr_read(struct kms_krr *s, size_t max, uint8_t **img,
                                       size_t *img_len, uint8_t *an, size_t an_cap, size_t *an_len,
                                       uint64_t *gen);

/* The generation key and whether the image exists (one round trip): the cheap poll.
 * *exists false: the keyring is gone. */
KMS_MUST_CHECK kms_result kms_krr_poll(struct kms_krr *s, uint64_t *gen, bool *exists);

/* Writes image, anchor and generation new_gen atomically. create: only when there is no image
 * (KMS_ERR_EXISTS otherwise); else only when the image exists (KMS_ERR_NOT_FOUND) and the
 * generation is still expect (*lost true, KMS_OK, nothing written, when it moved on). */
KMS_MUST_CHECK kms_result kms_krr_write(struct kms_krr *s, bool create, uint64_t expect,
                                        const uint8_t *img, size_t img_len, const uint8_t *an,
                                        size_t an_len, uint64_t new_gen, bool *lost);

#endif
