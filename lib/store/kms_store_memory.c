/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-memory store backend for tests: one fixed array of rows searched linearly under one
 * mutex. Clarity over speed; it holds at most max_rows rows and never evicts on its own
 * (only kms_store_purge removes anything), so a full table is KMS_ERR_STORE. Key versions and
 * their seal counts live in a small array (MEM_KEYS versions; the store starts at version 1).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/kms_store.h"
#include "util/kms_mem.h"

struct mem_row {
    bool used;
    uint8_t id[KMS_STORE_ID_LEN];
    uint64_t expires;
    uint8_t *blob;
    size_t len;
};

#define MEM_KEYS 16

struct mem_be {
    struct kms_store_backend base; /* first: the backend pointer is a pointer to this */
    pthread_mutex_t mu;
    uint32_t kv_first;        /* version of seals[0] */
    size_t n_keys;            /* versions kv_first .. kv_first + n_keys - 1 */
    uint64_t seals[MEM_KEYS]; /* seals counted under each */
    size_t max;
    struct mem_row *rows;
};

static struct mem_be *mem_of(struct kms_store_backend *be)
{
    return (struct mem_be *)(void *)be;
}

static void row_clear(struct mem_row *r)
{
    if (r->blob != NULL) {
        kms_wipe(r->blob, r->len);
        free(r->blob);
    }
    *r = (struct mem_row){0};
}

/* Ids are lookup keys, not secrets; compared with kms_ct_eq all the same (memcmp in lib/ is
 * allowed only at the call sites listed in tests/banned/memcmp_allow.txt). */
static struct mem_row *row_find(struct mem_be *m, const uint8_t id[KMS_STORE_ID_LEN])
{
    for (size_t i = 0; i < m->max; i++) {
        if (m->rows[i].used && kms_ct_eq(m->rows[i].id, id, KMS_STORE_ID_LEN)) {
            return &m->rows[i];
        }
    }
    return NULL;
}

static kms_result put_locked(struct mem_be *m, const uint8_t id[KMS_STORE_ID_LEN], uint64_t expires,
                             const uint8_t *blob, size_t len)
{
    KMS_ENSURE(row_find(m, id) == NULL, KMS_ERR_EXISTS);
    struct mem_row *free_row = NULL;
    for (size_t i = 0; i < m->max && free_row == NULL; i++) {
        if (!m->rows[i].used) {
            free_row = &m->rows[i];
        }
    }
    KMS_ENSURE(free_row != NULL, KMS_ERR_STORE);
    /* malloc(0) may return NULL: keep at least one byte. */
    uint8_t *copy = malloc(len > 0 ? len : 1);
    KMS_ENSURE(copy != NULL, KMS_ERR_NOMEM);
    if (len > 0) {
        memcpy(copy, blob, len);
    }
    *free_row = (struct mem_row){.used = true, .expires = expires, .blob = copy, .len = len};
    memcpy(free_row->id, id, KMS_STORE_ID_LEN);
    return KMS_RESULT_OK;
}

static kms_result mem_put(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                          uint64_t expires, const uint8_t *blob, size_t len, uint32_t kv,
                          uint64_t limit)
{
    struct mem_be *m = mem_of(be);
    KMS_ENSURE(id != NULL && (blob != NULL || len == 0), KMS_ERR_ARG);
    pthread_mutex_lock(&m->mu);
    uint64_t *seals =
        kv >= m->kv_first && kv - m->kv_first < m->n_keys ? &m->seals[kv - m->kv_first] : NULL;
    kms_result r = KMS_ERR(KMS_ERR_KEY_SPENT);
    if (seals != NULL && *seals < limit) {
        r = put_locked(m, id, expires, blob, len);
        *seals += kms_ok(r) ? 1 : 0;
    }
    pthread_mutex_unlock(&m->mu);
    return r;
}

/* Byte order of two ids (ids are not secret; ordering needs more than kms_ct_eq). */
static int id_cmp(const uint8_t a[KMS_STORE_ID_LEN], const uint8_t b[KMS_STORE_ID_LEN])
{
    for (size_t i = 0; i < KMS_STORE_ID_LEN; i++) {
        if (a[i] != b[i]) {
            return a[i] < b[i] ? -1 : 1;
        }
    }
    return 0;
}

/* A selection of the next-lowest id, cap times over: O(cap x max_rows), for tests. */
static kms_result mem_scan(struct kms_store_backend *be, uint64_t now,
                           const uint8_t after[KMS_STORE_ID_LEN], uint8_t (*ids)[KMS_STORE_ID_LEN],
                           size_t cap, size_t *n)
{
    struct mem_be *m = mem_of(be);
    KMS_ENSURE(ids != NULL && n != NULL && cap > 0, KMS_ERR_ARG);
    *n = 0;
    pthread_mutex_lock(&m->mu);
    const uint8_t *floor = after;
    while (*n < cap) {
        const struct mem_row *next = NULL;
        for (size_t i = 0; i < m->max; i++) {
            const struct mem_row *r = &m->rows[i];
            if (r->used && r->expires > now && (floor == NULL || id_cmp(r->id, floor) > 0) &&
                (next == NULL || id_cmp(r->id, next->id) < 0)) {
                next = r;
            }
        }
        if (next == NULL) {
            break;
        }
        memcpy(ids[(*n)++], next->id, KMS_STORE_ID_LEN);
        floor = ids[*n - 1];
    }
    pthread_mutex_unlock(&m->mu);
    return KMS_RESULT_OK;
}

static kms_result mem_key_current(struct kms_store_backend *be, uint32_t *kv, uint64_t *seals)
{
    struct mem_be *m = mem_of(be);
    KMS_ENSURE(kv != NULL && seals != NULL, KMS_ERR_ARG);
    pthread_mutex_lock(&m->mu);
    *kv = m->kv_first + (uint32_t)(m->n_keys - 1);
    *seals = m->seals[m->n_keys - 1];
    pthread_mutex_unlock(&m->mu);
    return KMS_RESULT_OK;
}

static kms_result mem_key_rotate(struct kms_store_backend *be, uint32_t from, uint32_t *kv)
{
    struct mem_be *m = mem_of(be);
    KMS_ENSURE(kv != NULL, KMS_ERR_ARG);
    KMS_ENSURE(from < UINT32_MAX, KMS_ERR_KEY_SPENT);
    pthread_mutex_lock(&m->mu);
    uint32_t cur = m->kv_first + (uint32_t)(m->n_keys - 1);
    kms_result r = KMS_RESULT_OK;
    if (from >= cur) {
        if (m->n_keys == MEM_KEYS) {
            /* Forget the oldest version's count: this backend is for tests. */
            memmove(m->seals, m->seals + 1, (MEM_KEYS - 1) * sizeof(m->seals[0]));
            m->kv_first++;
            m->n_keys--;
        }
        m->seals[m->n_keys++] = 0;
        cur++;
    }
    *kv = cur;
    pthread_mutex_unlock(&m->mu);
    return r;
}

/* Memory is never from before key versions. */
static kms_result mem_migrate(struct kms_store_backend *be, kms_store_reseal_fn reseal, void *ctx,
                              uint64_t *n)
{
    (void)be;
    (void)reseal;
    (void)ctx;
    if (n != NULL) {
        *n = 0;
    }
    return KMS_RESULT_OK;
}

static kms_result get_locked(struct mem_be *m, const uint8_t id[KMS_STORE_ID_LEN], uint64_t now,
                             struct kms_buf *out, uint64_t *expires)
{
    const struct mem_row *r = row_find(m, id);
    KMS_ENSURE(r != NULL && r->expires > now, KMS_ERR_NOT_FOUND);
    KMS_TRY(kms_buf_put_bytes(out, r->blob, r->len));
    *expires = r->expires;
    return KMS_RESULT_OK;
}

static kms_result mem_get(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN],
                          uint64_t now, struct kms_buf *out, uint64_t *expires)
{
    struct mem_be *m = mem_of(be);
    KMS_ENSURE(id != NULL && out != NULL && expires != NULL, KMS_ERR_ARG);
    *expires = 0;
    pthread_mutex_lock(&m->mu);
    kms_result r = get_locked(m, id, now, out, expires);
    pthread_mutex_unlock(&m->mu);
    return r;
}

static kms_result mem_del(struct kms_store_backend *be, const uint8_t id[KMS_STORE_ID_LEN])
{
    struct mem_be *m = mem_of(be);
    KMS_ENSURE(id != NULL, KMS_ERR_ARG);
    pthread_mutex_lock(&m->mu);
    struct mem_row *r = row_find(m, id);
    if (r != NULL) {
        row_clear(r);
    }
    pthread_mutex_unlock(&m->mu);
    KMS_ENSURE(r != NULL, KMS_ERR_NOT_FOUND);
    return KMS_RESULT_OK;
}

static kms_result mem_purge(struct kms_store_backend *be, uint64_t now, uint64_t *n)
{
    struct mem_be *m = mem_of(be);
    uint64_t count = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->max; i++) {
        if (m->rows[i].used && m->rows[i].expires <= now) {
            row_clear(&m->rows[i]);
            count++;
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (n != NULL) {
        *n = count;
    }
    return KMS_RESULT_OK;
}

static void mem_close(struct kms_store_backend *be)
{
    struct mem_be *m = mem_of(be);
    if (m == NULL) {
        return;
    }
    if (m->rows != NULL) {
        for (size_t i = 0; i < m->max; i++) {
            row_clear(&m->rows[i]);
        }
    }
    free(m->rows);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static const struct kms_store_backend_ops mem_ops = {
    .name = "memory",
    .put = mem_put,
    .get = mem_get,
    .del = mem_del,
    .scan = mem_scan,
    .purge = mem_purge,
    .key_current = mem_key_current,
    .key_rotate = mem_key_rotate,
    .migrate = mem_migrate,
    .close = mem_close,
};

kms_result kms_store_backend_memory(size_t max_rows, struct kms_store_backend **out)
{
    kms_result rc = KMS_RC_INIT;
    struct mem_be *m = NULL;
    if (out != NULL) {
        *out = NULL;
    }
    KMS_ENSURE_OUT(rc, out != NULL && max_rows > 0, KMS_ERR_ARG);
    m = calloc(1, sizeof(*m));
    KMS_ENSURE_OUT(rc, m != NULL, KMS_ERR_NOMEM);
    /* Set before anything can fail: mem_close destroys the mutex. */
    KMS_ENSURE_OUT(rc, pthread_mutex_init(&m->mu, NULL) == 0, KMS_ERR_NOMEM);
    m->base.ops = &mem_ops;
    m->max = max_rows;
    m->kv_first = 1;
    m->n_keys = 1;
    m->rows = calloc(max_rows, sizeof(*m->rows));
    KMS_ENSURE_OUT(rc, m->rows != NULL, KMS_ERR_NOMEM);
    *out = &m->base;
    m = NULL;
    rc = KMS_RESULT_OK;
out:
    if (m != NULL) {
        if (m->base.ops != NULL) {
            mem_close(&m->base);
        } else {
            free(m);
        }
    }
    return rc;
}
