/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kms_tab: a bounded hash table of fixed-size records keyed by 16 random-looking bytes.
 *
 * For state whose keys an attacker cannot choose freely: random ids (challenge ids, RANDs) or
 * keyed hashes of names. Open addressing with linear probing over a table allocated once
 * (capacity = 2 x max records, so the load factor stays <= 0.5); deletion by backward shift, so
 * no tombstones and lookups stay short. A record is `rec_size` bytes; its first 16 bytes are
 * the key. Records are zeroed (wiped) when deleted or when the table is freed, so they may hold
 * secrets. Not thread-safe: the owner locks.
 */
#ifndef KMS_UTIL_TAB_H
#define KMS_UTIL_TAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err/kms_err.h"

#define KMS_TAB_KEY_LEN 16

struct kms_tab;

/* max: most records held at once (> 0); rec_size: >= KMS_TAB_KEY_LEN. */
KMS_MUST_CHECK kms_result kms_tab_new(size_t max, size_t rec_size, struct kms_tab **out);
/* Wipes every record and frees. NULL does nothing. */
void kms_tab_free(struct kms_tab *t);

/* The record with this key, or NULL. */
void *kms_tab_find(struct kms_tab *t, const uint8_t key[KMS_TAB_KEY_LEN]);
/* A new zeroed record with this key (its key bytes set). KMS_ERR_EXISTS when the key is there,
 * KMS_ERR_FULL when max records are held. */
KMS_MUST_CHECK kms_result kms_tab_insert(struct kms_tab *t, const uint8_t key[KMS_TAB_KEY_LEN],
                                         void **rec);
/* Deletes (and wipes) a record returned by find or insert. Other record pointers held by the
 * caller are invalid afterwards (records may move). */
void kms_tab_delete(struct kms_tab *t, void *rec);
/* Deletes every record for which drop(rec, arg) is true; returns how many went. */
size_t kms_tab_sweep(struct kms_tab *t, bool (*drop)(const void *rec, void *arg), void *arg);

size_t kms_tab_count(const struct kms_tab *t);
size_t kms_tab_max(const struct kms_tab *t);

#endif
