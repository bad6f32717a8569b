/* SPDX-License-Identifier: Apache-2.0 */
#include "util/kms_tab.h"

#include <stdlib.h>
#include <string.h>

#include "util/kms_mem.h"

/* A slot: the record (key first) at offset 0, then a "used" byte in the slot's last octet;
 * slots are a multiple of 16 bytes, so records are aligned for any member type. */
struct kms_tab {
    size_t max, count, cap, rec_size, slot_size;
    uint8_t *slots;
};

static uint8_t *slot_at(const struct kms_tab *t, size_t i)
{
    return t->slots + i * t->slot_size;
}

static bool used(const struct kms_tab *t, const uint8_t *s)
{
    return s[t->slot_size - 1] != 0;
}

static size_t home(const struct kms_tab *t, const uint8_t key[KMS_TAB_KEY_LEN])
{
    uint64_t h;
    memcpy(&h, key, sizeof(h)); /* keys are random or keyed hashes: their bytes are the hash */
    return (size_t)(h % t->cap);
}

kms_result kms_tab_new(size_t max, size_t rec_size, struct kms_tab **out)
{
    KMS_ENSURE_REF(out);
    *out = NULL;
    KMS_ENSURE(max > 0 && rec_size >= KMS_TAB_KEY_LEN, KMS_ERR_ARG);
    KMS_ENSURE(max <= SIZE_MAX / 2 && rec_size < SIZE_MAX - 1, KMS_ERR_ARG);
    struct kms_tab *t = calloc(1, sizeof(*t));
    KMS_ENSURE(t != NULL, KMS_ERR_NOMEM);
    t->max = max;
    t->cap = 2 * max;
    t->rec_size = rec_size;
    t->slot_size = (rec_size + 1 + 15) & ~(size_t)15;
    if (t->cap > SIZE_MAX / t->slot_size || (t->slots = calloc(t->cap, t->slot_size)) == NULL) {
        free(t);
        KMS_BAIL(KMS_ERR_NOMEM);
    }
    *out = t;
    return KMS_RESULT_OK;
}

void kms_tab_free(struct kms_tab *t)
{
    if (t == NULL) {
        return;
    }
    kms_wipe(t->slots, t->cap * t->slot_size);
    free(t->slots);
    free(t);
}

void *kms_tab_find(struct kms_tab *t, const uint8_t key[KMS_TAB_KEY_LEN])
{
    for (size_t i = home(t, key), n = 0; n < t->cap; i = (i + 1) % t->cap, n++) {
        uint8_t *s = slot_at(t, i);
        if (!used(t, s)) {
            return NULL;
        }
        /* Keys are keyed hashes (HMAC under a per-process seed) or RANDs: compared in constant
         * time like any bytes derived from a key. */
        if (kms_ct_eq(s, key, KMS_TAB_KEY_LEN)) {
            return s;
        }
    }
    return NULL;
}

kms_result kms_tab_insert(struct kms_tab *t, const uint8_t key[KMS_TAB_KEY_LEN], void **rec)
{
    KMS_ENSURE(t != NULL && key != NULL && rec != NULL, KMS_ERR_ARG);
    *rec = NULL;
    KMS_ENSURE(kms_tab_find(t, key) == NULL, KMS_ERR_EXISTS);
    KMS_ENSURE(t->count < t->max, KMS_ERR_FULL);
    size_t i = home(t, key);
    while (used(t, slot_at(t, i))) {
        i = (i + 1) % t->cap; /* the load factor is <= 0.5: an empty slot exists */
    }
    uint8_t *s = slot_at(t, i);
    memset(s, 0, t->slot_size);
    s[t->slot_size - 1] = 1;
    memcpy(s, key, KMS_TAB_KEY_LEN);
    t->count++;
    *rec = s;
    return KMS_RESULT_OK;
}

/* Backward-shift deletion: later records of the probe run move up into the hole when their
 * home position allows it, so every remaining record stays reachable from its home. */
static void delete_slot(struct kms_tab *t, size_t hole)
{
    size_t j = hole;
    for (;;) {
        j = (j + 1) % t->cap;
        uint8_t *s = slot_at(t, j);
        if (!used(t, s)) {
            break;
        }
        size_t h = home(t, s);
        /* Can the record at j move to hole? Only if hole lies cyclically in [h, j). */
        bool movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
        if (movable) {
            memcpy(slot_at(t, hole), s, t->slot_size);
            hole = j;
        }
    }
    kms_wipe(slot_at(t, hole), t->slot_size);
    t->count--;
}

void kms_tab_delete(struct kms_tab *t, void *rec)
{
    if (t == NULL || rec == NULL) {
        return;
    }
    size_t off = (size_t)((uint8_t *)rec - t->slots);
    delete_slot(t, off / t->slot_size);
}

size_t kms_tab_sweep(struct kms_tab *t, bool (*drop)(const void *rec, void *arg), void *arg)
{
    size_t n = 0;
    /* Restart the scan at a slot after a deletion: backward shift may have moved a later
     * record into it. */
    for (size_t i = 0; i < t->cap;) {
        uint8_t *s = slot_at(t, i);
        if (used(t, s) && drop(s, arg)) {
            delete_slot(t, i);
            n++;
            continue;
        }
        i++;
    }
    return n;
}

size_t kms_tab_count(const struct kms_tab *t)
{
    return t->count;
}

size_t kms_tab_max(const struct kms_tab *t)
{
    return t->max;
}
