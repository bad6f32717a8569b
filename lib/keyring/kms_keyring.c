/* SPDX-License-Identifier: Apache-2.0 */
/* The Kkms keyring: see kms_keyring.h; the file format is in docs/protocol.md. */
#include "keyring/kms_keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/kms_ossl.h"
#include "keyring/kms_keyring_redis.h"
#include "util/kms_buf.h"
#include "util/kms_cur.h"
#include "util/kms_file.h"
#include "util/kms_log.h"
#include "util/kms_mem.h"

static const uint8_t file_magic[8] = {'I', 'M', 'S', 'K', 'M', 'S', 'K', 'R'};
static const uint8_t anchor_magic[8] = {'I', 'M', 'S', 'K', 'M', 'S', 'A', 'N'};
#define FILE_FORMAT      2 /* written; format 1 (no anchor, no epoch) is read to migrate */
#define FILE_MAC_LEN     32
#define ANCHOR_VERSION   1
#define ANCHOR_MIGRATING 0x01 /* a format-1 file at >= the anchor's generation still opens */
#define REVOKED_MAX      4096 /* revoked ids a process remembers */
#define MAX_SECONDS      (UINT64_C(100) * 366 * 86400) /* policy times: at most a century */

/* One key record, as in the file. */
struct kr_rec {
    uint32_t id;
    uint8_t state;
    uint8_t end;
    uint64_t activated, active_until, grace_until, retired, destroyed, seals;
    uint8_t ref[KMS_KEYREF_MAX];
    size_t ref_len;
};

/* The whole file. */
struct kr_state {
    uint8_t format; /* as read (1 or 2); always written as FILE_FORMAT */
    uint8_t kind;
    uint8_t ring_id[KMS_RING_ID_LEN];
    uint64_t generation;
    struct kms_keyring_policy pol;
    uint32_t next_id;
    size_t n;
    struct kr_rec rec[KMS_KEYRING_MAX_RECORDS]; /* ascending id */
    uint64_t epoch;                             /* the wrap epoch of every reference (format 2) */
    uint8_t mac[FILE_MAC_LEN];                  /* the file's MAC: tells a re-read from a rewrite */
};

/* The anchor: the anti-rollback record the keystore keeps apart from the file (docs/keyring.md,
 * format in docs/protocol.md). */
struct kr_anchor {
    bool present;
    uint8_t ring_id[KMS_RING_ID_LEN];
    uint64_t generation; /* the highest generation written */
    uint8_t flags;
    uint64_t epoch; /* the current wrap epoch and its secret */
    uint8_t secret[KMS_EPOCH_SECRET];
    uint64_t next_epoch; /* 0, or an epoch being introduced by a revocation */
    uint8_t next_secret[KMS_EPOCH_SECRET];
};

struct kms_kkms {
    atomic_int refs;
    struct kms_keystore *ks;
    struct kms_keystore_key *h;
    uint32_t id;
};

struct kms_keyring {
    char *path; /* the file, or "redis" */
    /* The durable record: the file at path (rs NULL), or Redis (kms_keyring_redis.h). The
     * file backend is the code below as it always was; Redis replaces the file's lock by a
     * compare-and-swap on the generation and the stat by a poll of the generation key. */
    struct kms_krr *rs;
    uint64_t last_unknown_ms; /* Redis: the last re-read for an unknown key id */
    struct kms_keystore *ks;
    pthread_mutex_t mu;
    struct kr_state st;
    struct kms_kkms *loaded[KMS_KEYRING_MAX_RECORDS]; /* parallel to st.rec; NULL: not loaded */
    /* identity of the file st was read from */
    dev_t dev;
    ino_t ino;
    struct timespec mtim;
    off_t size;
    int fd; /* open on the file st was read from (see struct file_id) */
    uint64_t last_check_ms;
    /* this process's reserved seals: [win_next, win_end) of key win_id; the next reservation
     * asks for `chunk` (1, doubling up to KMS_KEYRING_SEAL_CHUNK, so that a short-lived
     * process such as the CLI does not waste a large part of a key's seal budget) */
    uint32_t win_id;
    uint64_t win_next, win_end;
    uint64_t chunk;
    uint64_t chunk_max; /* KMS_KEYRING_SEAL_CHUNK unless a server raised it */
    /* Random bytes for seal nonces, drawn from the DRBG a kilobyte at a time: one RAND_bytes
     * call per seal cost more than the AES-GCM itself. Nonces are public (they travel in the
     * clear header), so holding them ahead of use reveals nothing. */
    uint8_t nonce_pool[1020]; /* 85 nonces */
    size_t nonce_left;
    unsigned nonce_forks; /* fork_count when the pool was filled: a child never reuses it */
    /* Anti-rollback within the process: once a state is installed (pinned), a reload must be
     * the same ring, a higher generation (or the same file again), and must not bring back a
     * key this process saw revoked. Reloads that keep failing end in `stale`: seals and opens
     * are refused (KMS_ERR_KEYRING_STALE) until a reload succeeds. */
    bool pinned;
    uint32_t *revoked; /* ascending */
    size_t n_revoked;
    unsigned fails; /* consecutive failed reloads */
    unsigned stale_after;
    bool stale;
};

const char *kms_key_state_name(enum kms_key_state s)
{
    switch (s) {
    case KMS_KEY_ACTIVE:
        return "active";
    case KMS_KEY_GRACE:
        return "grace";
    case KMS_KEY_DESTROYED:
        return "destroyed";
    default:
        return "unknown";
    }
}

static uint64_t mono_ms(void)
{
    /* The coarse clock (a few ms of resolution, no hardware read) is ample for a 200 ms
     * recheck interval and is read on every acquire. */
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- loaded keys ---- */

static void kkms_unref(struct kms_kkms *k)
{
    if (k != NULL && atomic_fetch_sub(&k->refs, 1) == 1) {
        k->ks->ops->unload(k->h);
        free(k);
    }
}

void kms_keyring_release(struct kms_kkms *key)
{
    kkms_unref(key);
}

kms_result kms_kkms_seal(struct kms_kkms *key, const uint8_t nonce[12], const uint8_t *aad,
                         size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct,
                         uint8_t tag[16])
{
    KMS_ENSURE_REF(key);
    return key->ks->ops->seal(key->h, nonce, aad, aad_len, pt, pt_len, ct, tag);
}

kms_result kms_kkms_open(struct kms_kkms *key, const uint8_t nonce[12], const uint8_t *aad,
                         size_t aad_len, const uint8_t *ct, size_t ct_len, const uint8_t tag[16],
                         uint8_t *pt)
{
    KMS_ENSURE_REF(key);
    return key->ks->ops->open(key->h, nonce, aad, aad_len, ct, ct_len, tag, pt);
}

/* The loaded key of record i (loading it on first use); the caller gets its own reference. */
static kms_result kr_hold(struct kms_keyring *kr, size_t i, struct kms_kkms **out)
{
    if (kr->loaded[i] == NULL) {
        const struct kr_rec *r = &kr->st.rec[i];
        struct kms_kkms *k = calloc(1, sizeof(*k));
        KMS_ENSURE(k != NULL, KMS_ERR_NOMEM);
        kms_result rc = kr->ks->ops->load(kr->ks, kr->st.ring_id, r->id, r->ref, r->ref_len, &k->h);
        if (!kms_ok(rc)) {
            free(k);
            return rc;
        }
        atomic_init(&k->refs, 1);
        k->ks = kr->ks;
        k->id = r->id;
        kr->loaded[i] = k;
    }
    atomic_fetch_add(&kr->loaded[i]->refs, 1);
    *out = kr->loaded[i];
    return KMS_RESULT_OK;
}

/* ---- file format ---- */

static kms_result encode_state(struct kms_keystore *ks, struct kr_state *st, struct kms_buf *b)
{
    KMS_TRY(kms_buf_put_bytes(b, file_magic, sizeof(file_magic)));
    KMS_TRY(kms_buf_put_u8(b, FILE_FORMAT));
    KMS_TRY(kms_buf_put_u8(b, st->kind));
    KMS_TRY(kms_buf_put_bytes(b, st->ring_id, sizeof(st->ring_id)));
    KMS_TRY(kms_buf_put_u64(b, st->generation));
    KMS_TRY(kms_buf_put_u64(b, st->pol.lifetime));
    KMS_TRY(kms_buf_put_u64(b, st->pol.grace));
    KMS_TRY(kms_buf_put_u64(b, st->pol.max_seals));
    KMS_TRY(kms_buf_put_u32(b, st->next_id));
    KMS_TRY(kms_buf_put_u8(b, (uint8_t)st->n));
    for (size_t i = 0; i < st->n; i++) {
        const struct kr_rec *r = &st->rec[i];
        KMS_TRY(kms_buf_put_u32(b, r->id));
        KMS_TRY(kms_buf_put_u8(b, r->state));
        KMS_TRY(kms_buf_put_u8(b, r->end));
        KMS_TRY(kms_buf_put_u64(b, r->activated));
        KMS_TRY(kms_buf_put_u64(b, r->active_until));
        KMS_TRY(kms_buf_put_u64(b, r->grace_until));
        KMS_TRY(kms_buf_put_u64(b, r->retired));
        KMS_TRY(kms_buf_put_u64(b, r->destroyed));
        KMS_TRY(kms_buf_put_u64(b, r->seals));
        KMS_TRY(kms_buf_put_u8(b, (uint8_t)r->ref_len));
        KMS_TRY(kms_buf_put_bytes(b, r->ref, r->ref_len));
    }
    KMS_TRY(kms_buf_put_u64(b, st->epoch));
    uint8_t *mac = NULL;
    size_t body = kms_buf_len(b);
    KMS_TRY(kms_buf_put_space(b, FILE_MAC_LEN, &mac));
    KMS_TRY(ks->ops->file_mac(ks, st->ring_id, FILE_FORMAT, kms_buf_data(b), body, mac));
    memcpy(st->mac, mac, FILE_MAC_LEN);
    return KMS_RESULT_OK;
}

static kms_result check_policy(const struct kms_keyring_policy *p)
{
    KMS_ENSURE(p->lifetime >= 1 && p->lifetime <= MAX_SECONDS, KMS_ERR_ARG);
    KMS_ENSURE(p->grace >= 1 && p->grace <= MAX_SECONDS, KMS_ERR_ARG);
    KMS_ENSURE(p->grace <= p->lifetime * KMS_KEYRING_MAX_GRACE_RATIO, KMS_ERR_ARG);
    KMS_ENSURE(p->max_seals >= 1 && p->max_seals <= (UINT64_C(1) << 32), KMS_ERR_ARG);
    return KMS_RESULT_OK;
}

static kms_result decode_rec(struct kms_cur *c, struct kr_rec *r)
{
    KMS_TRY(kms_cur_get_u32(c, &r->id));
    KMS_TRY(kms_cur_get_u8(c, &r->state));
    KMS_TRY(kms_cur_get_u8(c, &r->end));
    KMS_TRY(kms_cur_get_u64(c, &r->activated));
    KMS_TRY(kms_cur_get_u64(c, &r->active_until));
    KMS_TRY(kms_cur_get_u64(c, &r->grace_until));
    KMS_TRY(kms_cur_get_u64(c, &r->retired));
    KMS_TRY(kms_cur_get_u64(c, &r->destroyed));
    KMS_TRY(kms_cur_get_u64(c, &r->seals));
    uint8_t ref_len = 0;
    KMS_TRY(kms_cur_get_u8(c, &ref_len));
    KMS_ENSURE(ref_len <= KMS_KEYREF_MAX, KMS_ERR_MALFORMED);
    r->ref_len = ref_len;
    KMS_TRY(kms_cur_get_bytes(c, r->ref, ref_len));
    /* Consistency: the record must describe a key the code could have written. */
    KMS_ENSURE(r->id >= 1, KMS_ERR_MALFORMED);
    KMS_ENSURE(r->activated <= r->active_until && r->active_until <= r->grace_until,
               KMS_ERR_MALFORMED);
    switch (r->state) {
    case KMS_KEY_ACTIVE:
        KMS_ENSURE(r->retired == 0 && r->destroyed == 0 && r->end == KMS_KEY_END_NONE,
                   KMS_ERR_MALFORMED);
        KMS_ENSURE(r->ref_len > 0, KMS_ERR_MALFORMED);
        break;
    case KMS_KEY_GRACE:
        KMS_ENSURE(r->destroyed == 0 && r->end == KMS_KEY_END_NONE, KMS_ERR_MALFORMED);
        KMS_ENSURE(r->ref_len > 0, KMS_ERR_MALFORMED);
        break;
    case KMS_KEY_DESTROYED:
        KMS_ENSURE(r->end == KMS_KEY_END_EXPIRED || r->end == KMS_KEY_END_REVOKED,
                   KMS_ERR_MALFORMED);
        KMS_ENSURE(r->ref_len == 0, KMS_ERR_MALFORMED);
        break;
    default:
        KMS_BAIL(KMS_ERR_MALFORMED);
    }
    return KMS_RESULT_OK;
}

/* Parses and authenticates a keyring file image. */
static kms_result decode_state(struct kms_keystore *ks, const uint8_t *p, size_t n,
                               struct kr_state *st)
{
    memset(st, 0, sizeof(*st));
    KMS_ENSURE(n >= sizeof(file_magic) + 2 + FILE_MAC_LEN, KMS_ERR_TRUNCATED);
    KMS_ENSURE(memcmp(p, file_magic, sizeof(file_magic)) == 0, KMS_ERR_MALFORMED);
    KMS_ENSURE(p[8] == 1 || p[8] == FILE_FORMAT, KMS_ERR_UNSUPPORTED);
    KMS_ENSURE(p[9] == (uint8_t)ks->ops->kind, KMS_ERR_KEYSTORE_KIND);
    uint8_t mac[FILE_MAC_LEN];
    /* The ring id (bytes 10..25, inside the smallest file) selects the token's MAC key. */
    KMS_TRY(ks->ops->file_mac(ks, p + 10, p[8], p, n - FILE_MAC_LEN, mac));
    KMS_ENSURE(kms_ct_eq(mac, p + n - FILE_MAC_LEN, FILE_MAC_LEN), KMS_ERR_KEYRING_MAC);
    st->format = p[8];
    memcpy(st->mac, p + n - FILE_MAC_LEN, FILE_MAC_LEN);

    struct kms_cur c;
    kms_cur_init(&c, p, n - FILE_MAC_LEN);
    KMS_TRY(kms_cur_skip(&c, sizeof(file_magic) + 1));
    KMS_TRY(kms_cur_get_u8(&c, &st->kind));
    KMS_TRY(kms_cur_get_bytes(&c, st->ring_id, sizeof(st->ring_id)));
    KMS_TRY(kms_cur_get_u64(&c, &st->generation));
    KMS_TRY(kms_cur_get_u64(&c, &st->pol.lifetime));
    KMS_TRY(kms_cur_get_u64(&c, &st->pol.grace));
    KMS_TRY(kms_cur_get_u64(&c, &st->pol.max_seals));
    KMS_ENSURE(kms_ok(check_policy(&st->pol)), KMS_ERR_MALFORMED);
    KMS_TRY(kms_cur_get_u32(&c, &st->next_id));
    uint8_t nrec = 0;
    KMS_TRY(kms_cur_get_u8(&c, &nrec));
    KMS_ENSURE(nrec >= 1 && nrec <= KMS_KEYRING_MAX_RECORDS, KMS_ERR_MALFORMED);
    size_t active = 0;
    for (size_t i = 0; i < nrec; i++) {
        struct kr_rec *r = &st->rec[i];
        KMS_TRY(decode_rec(&c, r));
        KMS_ENSURE(i == 0 || r->id > st->rec[i - 1].id, KMS_ERR_MALFORMED);
        KMS_ENSURE(r->id < st->next_id, KMS_ERR_MALFORMED);
        active += r->state == KMS_KEY_ACTIVE;
    }
    st->n = nrec;
    KMS_ENSURE(active == 1, KMS_ERR_MALFORMED);
    if (st->format >= 2) {
        KMS_TRY(kms_cur_get_u64(&c, &st->epoch));
        KMS_ENSURE(st->epoch <= UINT32_MAX, KMS_ERR_MALFORMED);
    }
    return kms_cur_expect_end(&c);
}

/* ---- the anchor ---- */

static kms_result anchor_encode(const struct kr_anchor *a, struct kms_buf *b)
{
    KMS_TRY(kms_buf_put_bytes(b, anchor_magic, sizeof(anchor_magic)));
    KMS_TRY(kms_buf_put_u8(b, ANCHOR_VERSION));
    KMS_TRY(kms_buf_put_bytes(b, a->ring_id, sizeof(a->ring_id)));
    KMS_TRY(kms_buf_put_u64(b, a->generation));
    KMS_TRY(kms_buf_put_u8(b, a->flags));
    KMS_TRY(kms_buf_put_u64(b, a->epoch));
    KMS_TRY(kms_buf_put_bytes(b, a->secret, sizeof(a->secret)));
    KMS_TRY(kms_buf_put_u64(b, a->next_epoch));
    KMS_TRY(kms_buf_put_bytes(b, a->next_secret, sizeof(a->next_secret)));
    return KMS_RESULT_OK;
}

static kms_result anchor_decode(const uint8_t *rec, size_t n, struct kr_anchor *a);

/* Reads the anchor of ring_id (a->present false when there is none). */
static kms_result anchor_read(struct kms_keystore *ks, const char *path,
                              const uint8_t ring_id[KMS_RING_ID_LEN], struct kr_anchor *a)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t rec[KMS_ANCHOR_MAX];
    size_t n = 0;
    memset(a, 0, sizeof(*a));
    rc = ks->ops->anchor_get(ks, path, ring_id, rec, sizeof(rec), &n);
    if (rc.err == KMS_ERR_NOT_FOUND) {
        rc = KMS_RESULT_OK; /* no anchor */
        goto out;
    }
    KMS_TRY_OUT(rc, rc);
    rc = anchor_decode(rec, n, a);
out:
    kms_wipe(rec, sizeof(rec));
    return rc;
}

/* Parses an anchor record (authenticated by the keystore already) into a. */
static kms_result anchor_decode(const uint8_t *rec, size_t n, struct kr_anchor *a)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t magic[sizeof(anchor_magic)];
    uint8_t version = 0;
    struct kms_cur c;
    memset(a, 0, sizeof(*a));
    kms_cur_init(&c, rec, n);
    rc = kms_cur_get_bytes(&c, magic, sizeof(magic));
    if (kms_ok(rc)) {
        rc = kms_cur_get_u8(&c, &version);
    }
    KMS_ENSURE_OUT(rc, kms_ok(rc) && memcmp(magic, anchor_magic, sizeof(magic)) == 0,
                   KMS_ERR_KEYRING_ANCHOR);
    KMS_ENSURE_OUT(rc, version == ANCHOR_VERSION, KMS_ERR_KEYRING_ANCHOR);
    if (!kms_ok(kms_cur_get_bytes(&c, a->ring_id, sizeof(a->ring_id))) ||
        !kms_ok(kms_cur_get_u64(&c, &a->generation)) || !kms_ok(kms_cur_get_u8(&c, &a->flags)) ||
        !kms_ok(kms_cur_get_u64(&c, &a->epoch)) ||
        !kms_ok(kms_cur_get_bytes(&c, a->secret, sizeof(a->secret))) ||
        !kms_ok(kms_cur_get_u64(&c, &a->next_epoch)) ||
        !kms_ok(kms_cur_get_bytes(&c, a->next_secret, sizeof(a->next_secret))) ||
        !kms_ok(kms_cur_expect_end(&c))) {
        KMS_BAIL_OUT(rc, KMS_ERR_KEYRING_ANCHOR);
    }
    KMS_ENSURE_OUT(rc, a->epoch <= UINT32_MAX && a->next_epoch <= UINT32_MAX,
                   KMS_ERR_KEYRING_ANCHOR);
    a->present = true;
    rc = KMS_RESULT_OK;
out:
    if (!kms_ok(rc)) {
        kms_wipe(a, sizeof(*a));
    }
    return rc;
}

/* Writes the anchor beside the file. With Redis it does nothing: the anchor goes with the
 * image in the one atomic write of kr_update_redis (seal_anchor). */
static kms_result anchor_write(struct kms_keyring *kr, const struct kr_anchor *a)
{
    if (kr->rs != NULL) {
        return KMS_RESULT_OK;
    }
    struct kms_keystore *ks = kr->ks;
    const char *path = kr->path;
    uint8_t rec[KMS_ANCHOR_MAX];
    struct kms_buf b;
    kms_buf_init_fixed(&b, rec, sizeof(rec), false);
    kms_result rc = anchor_encode(a, &b);
    if (kms_ok(rc)) {
        rc = ks->ops->anchor_put(ks, path, a->ring_id, rec, kms_buf_len(&b));
    }
    kms_wipe(rec, sizeof(rec));
    return rc;
}

/* The secret of epoch e in the anchor (NULL when the anchor does not hold it). */
static const uint8_t *anchor_secret(const struct kr_anchor *a, uint64_t e)
{
    if (e == a->epoch) {
        return a->secret;
    }
    if (a->next_epoch != 0 && e == a->next_epoch) {
        return a->next_secret;
    }
    return NULL;
}

/* Whether the file state st may be used given its anchor a (see docs/keyring.md): makes the
 * file's wrap epoch known to the keystore. */
static kms_result anchor_check(struct kms_keystore *ks, const struct kr_state *st,
                               const struct kr_anchor *a)
{
    if (!a->present) {
        /* Only a file written before anchors existed opens without one (then migrates). */
        KMS_ENSURE(st->format == 1, KMS_ERR_KEYRING_ANCHOR);
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(kms_ct_eq(a->ring_id, st->ring_id, KMS_RING_ID_LEN), KMS_ERR_KEYRING_ANCHOR);
    KMS_ENSURE(st->generation >= a->generation, KMS_ERR_KEYRING_ROLLBACK);
    if (st->format == 1) {
        /* A copy from before the migration, unless the migration is the write under way. */
        KMS_ENSURE((a->flags & ANCHOR_MIGRATING) != 0, KMS_ERR_KEYRING_ROLLBACK);
        return KMS_RESULT_OK;
    }
    const uint8_t *secret = anchor_secret(a, st->epoch);
    KMS_ENSURE(secret != NULL, KMS_ERR_KEYRING_ROLLBACK); /* an epoch a revocation ended */
    if (st->epoch != 0) {
        KMS_ENSURE(ks->ops->set_epoch != NULL, KMS_ERR_KEYRING_ANCHOR);
        KMS_TRY(ks->ops->set_epoch(ks, st->epoch, secret));
    }
    return KMS_RESULT_OK;
}

/* The identity of the file a state was read from, and a descriptor kept open on it: while we
 * hold the old inode, a rewritten keyring can never get its inode number, so (device, inode,
 * size, mtime) always tells a new file from the one we hold, even within one clock tick. */
struct file_id {
    dev_t dev;
    ino_t ino;
    struct timespec mtim;
    off_t size;
    int fd; /* -1: none */
};

static void file_id_init(struct file_id *f)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
}

static void file_id_close(struct file_id *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
}

static bool same_file(const struct file_id *a, const struct stat *s)
{
    return a->dev == s->st_dev && a->ino == s->st_ino && a->size == s->st_size &&
           a->mtim.tv_sec == s->st_mtim.tv_sec && a->mtim.tv_nsec == s->st_mtim.tv_nsec;
}

/* Reads and authenticates the file at path into st (fid: the identity of what was read, with
 * the descriptor left open for the caller). */
static kms_result read_file_state(struct kms_keystore *ks, const char *path, struct kr_state *st,
                                  struct file_id *fid)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t *img = NULL;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return KMS_ERR(errno == ENOENT ? KMS_ERR_NOT_FOUND : KMS_ERR_IO);
    }
    struct stat s;
    KMS_TRY_OUT(rc, kms_file_read_fd(fd, KMS_KEYRING_FILE_MAX, false, &s, &img, &n));
    KMS_TRY_OUT(rc, decode_state(ks, img, n, st));
    fid->dev = s.st_dev;
    fid->ino = s.st_ino;
    fid->mtim = s.st_mtim;
    fid->size = s.st_size;
    fid->fd = fd;
    fd = -1;
    rc = KMS_RESULT_OK;
out:
    kms_file_free(img, n);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* read_file_state, then the anchor check. A writer replaces the file before the anchor, so a
 * reader between the two can see a file older than the anchor: when the file has changed
 * since it was read, both are read again (a few times) before the verdict stands. */
static kms_result read_state(struct kms_keystore *ks, const char *path, struct kr_state *st,
                             struct file_id *fid, struct kr_anchor *an)
{
    for (int tries = 0;; tries++) {
        KMS_TRY(read_file_state(ks, path, st, fid));
        kms_result rc = anchor_read(ks, path, st->ring_id, an);
        if (kms_ok(rc)) {
            rc = anchor_check(ks, st, an);
        }
        if (kms_ok(rc)) {
            return rc;
        }
        struct stat s;
        bool moved = stat(path, &s) != 0 || !same_file(fid, &s);
        file_id_close(fid);
        if (!moved || tries == 2) {
            return rc;
        }
    }
}

/* ---- anti-rollback within the process ---- */

static bool id_revoked(const struct kms_keyring *kr, uint32_t id)
{
    size_t lo = 0, hi = kr->n_revoked;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kr->revoked[mid] == id) {
            return true;
        }
        if (kr->revoked[mid] < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

/* Remembers the revoked records of st (ascending ids, so each insertion keeps the order cheap
 * in the common case). Beyond REVOKED_MAX the oldest are forgotten: the generation check and
 * the anchor still refuse the files that held them. */
static void remember_revoked(struct kms_keyring *kr, const struct kr_state *st)
{
    for (size_t i = 0; i < st->n; i++) {
        const struct kr_rec *r = &st->rec[i];
        if (r->end != KMS_KEY_END_REVOKED || id_revoked(kr, r->id)) {
            continue;
        }
        if (kr->revoked == NULL) {
            kr->revoked = calloc(REVOKED_MAX, sizeof(*kr->revoked));
            if (kr->revoked == NULL) {
                return;
            }
        }
        if (kr->n_revoked == REVOKED_MAX) {
            memmove(kr->revoked, kr->revoked + 1, (REVOKED_MAX - 1) * sizeof(*kr->revoked));
            kr->n_revoked--;
        }
        size_t j = kr->n_revoked;
        while (j > 0 && kr->revoked[j - 1] > r->id) {
            kr->revoked[j] = kr->revoked[j - 1];
            j--;
        }
        kr->revoked[j] = r->id;
        kr->n_revoked++;
    }
}

/* A newly read state must follow the one this process holds: the same ring, a higher
 * generation or the very same file, and no key this process saw revoked alive again.
 * *why names the failed check for the log. */
static kms_result check_view(const struct kms_keyring *kr, const struct kr_state *st,
                             const char **why)
{
    *why = NULL;
    if (!kr->pinned) {
        return KMS_RESULT_OK;
    }
    if (!kms_ct_eq(st->ring_id, kr->st.ring_id, KMS_RING_ID_LEN)) {
        *why = "another keyring (ring id changed)";
    } else if (st->generation < kr->st.generation) {
        *why = "generation went backwards";
    } else if (st->generation == kr->st.generation &&
               !kms_ct_eq(st->mac, kr->st.mac, FILE_MAC_LEN)) {
        *why = "same generation, other content";
    } else {
        for (size_t i = 0; i < st->n && *why == NULL; i++) {
            const struct kr_rec *r = &st->rec[i];
            if (id_revoked(kr, r->id) && r->end != KMS_KEY_END_REVOKED) {
                *why = "a revoked key is back";
            }
        }
    }
    KMS_ENSURE(*why == NULL, KMS_ERR_KEYRING_ROLLBACK);
    return KMS_RESULT_OK;
}

/* Records the outcome of a reload of a held keyring: every failure is logged with its reason,
 * and after stale_after failures in a row the keyring fails closed. */
static void note_reload(struct kms_keyring *kr, kms_result rc, const char *why)
{
    if (kms_ok(rc)) {
        if (kr->fails > 0) {
            kms_log(KMS_LOG_WARN, "keyring %s: reloaded generation %llu after %u failed reloads%s",
                    kr->path, (unsigned long long)kr->st.generation, kr->fails,
                    kr->stale ? ": serving again" : "");
        }
        kr->fails = 0;
        kr->stale = false;
        return;
    }
    if (!kr->pinned) {
        return; /* nothing held yet: the caller gets the error */
    }
    if (kr->fails < UINT32_MAX) {
        kr->fails++;
    }
    if (!kr->stale && kr->fails >= kr->stale_after) {
        kr->stale = true;
    }
    kms_log(kr->stale ? KMS_LOG_ERROR : KMS_LOG_WARN,
            "keyring %s: reload refused (%s%s%s), failure %u of %u: %s generation %llu", kr->path,
            kms_strerror(rc.err), why != NULL ? ": " : "", why != NULL ? why : "", kr->fails,
            kr->stale_after,
            kr->stale ? "FAILING CLOSED (seals and opens refused) instead of serving"
                      : "still serving",
            (unsigned long long)kr->st.generation);
}

/* ---- installing a newly read state ---- */

static void install_state(struct kms_keyring *kr, const struct kr_state *st, struct file_id *fid)
{
    struct kms_kkms *loaded[KMS_KEYRING_MAX_RECORDS] = {0};
    for (size_t i = 0; i < st->n; i++) {
        const struct kr_rec *r = &st->rec[i];
        if (r->state == KMS_KEY_DESTROYED) {
            continue;
        }
        for (size_t j = 0; j < kr->st.n; j++) {
            const struct kr_rec *o = &kr->st.rec[j];
            /* A file keystore's reference is the wrapped key: compared in constant time. */
            if (kr->loaded[j] != NULL && o->id == r->id && o->ref_len == r->ref_len &&
                kms_ct_eq(o->ref, r->ref, r->ref_len)) {
                loaded[i] = kr->loaded[j];
                kr->loaded[j] = NULL;
                break;
            }
        }
    }
    for (size_t j = 0; j < KMS_KEYRING_MAX_RECORDS; j++) {
        kkms_unref(kr->loaded[j]); /* destroyed or replaced: gone once its holders release */
        kr->loaded[j] = loaded[j];
    }
    kms_wipe(&kr->st, sizeof(kr->st));
    kr->st = *st;
    kr->dev = fid->dev;
    kr->ino = fid->ino;
    kr->mtim = fid->mtim;
    kr->size = fid->size;
    if (kr->fd >= 0) {
        close(kr->fd);
    }
    kr->fd = fid->fd; /* adopted */
    fid->fd = -1;
    kr->last_check_ms = mono_ms();
    kr->pinned = true;
    remember_revoked(kr, &kr->st);
}

static kms_result refresh_redis_locked(struct kms_keyring *kr);

static kms_result refresh_locked(struct kms_keyring *kr)
{
    if (kr->rs != NULL) {
        return refresh_redis_locked(kr);
    }
    struct stat s;
    KMS_ENSURE(stat(kr->path, &s) == 0, errno == ENOENT ? KMS_ERR_NOT_FOUND : KMS_ERR_IO);
    struct file_id cur = {kr->dev, kr->ino, kr->mtim, kr->size, -1};
    kr->last_check_ms = mono_ms();
    if (same_file(&cur, &s)) {
        return KMS_RESULT_OK;
    }
    struct kr_state *st = malloc(sizeof(*st));
    KMS_ENSURE(st != NULL, KMS_ERR_NOMEM);
    struct file_id fid;
    file_id_init(&fid);
    struct kr_anchor an;
    const char *why = NULL;
    kms_result rc = read_state(kr->ks, kr->path, st, &fid, &an);
    if (kms_ok(rc)) {
        rc = check_view(kr, st, &why);
    }
    if (kms_ok(rc)) {
        install_state(kr, st, &fid);
    }
    file_id_close(&fid);
    kms_wipe(st, sizeof(*st));
    kms_wipe(&an, sizeof(an));
    free(st);
    return rc;
}

/* A reload of a held keyring: refresh_locked, with the outcome logged and counted. */
static kms_result reload_locked(struct kms_keyring *kr)
{
    kms_result rc = refresh_locked(kr);
    if (!kms_ok(rc) && kr->pinned && rc.err == KMS_ERR_NOT_FOUND) {
        note_reload(kr, rc,
                    kr->rs != NULL ? "the keyring is gone from Redis" : "the keyring file is gone");
    } else if (!kms_ok(rc) && kr->pinned && rc.err == KMS_ERR_KEYRING_ROLLBACK) {
        note_reload(kr, rc, "an older file or another keyring");
    } else {
        note_reload(kr, rc, NULL);
    }
    return rc;
}

/* Rate-limited check for a newer file. A failed reload keeps the last good view until
 * stale_after failures in a row (kms_keyring_refresh reports each failure); a failing file is
 * retried at most once a second. */
static void maybe_refresh(struct kms_keyring *kr)
{
    uint64_t every = kr->fails > 0 ? 1000 : KMS_KEYRING_RECHECK_MS;
    if (mono_ms() - kr->last_check_ms >= every) {
        (void)reload_locked(kr);
    }
}

kms_result kms_keyring_refresh(struct kms_keyring *kr)
{
    KMS_ENSURE_REF(kr);
    pthread_mutex_lock(&kr->mu);
    kms_result rc = reload_locked(kr);
    if (kms_ok(rc) && kr->stale) {
        rc = KMS_ERR(KMS_ERR_KEYRING_STALE);
    }
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

void kms_keyring_set_stale_after(struct kms_keyring *kr, unsigned n)
{
    pthread_mutex_lock(&kr->mu);
    kr->stale_after = n >= 1 ? n : 1;
    pthread_mutex_unlock(&kr->mu);
}

bool kms_keyring_is_stale(struct kms_keyring *kr)
{
    pthread_mutex_lock(&kr->mu);
    bool s = kr->stale;
    pthread_mutex_unlock(&kr->mu);
    return s;
}

/* ---- changes (under the file lock, on a fresh read) ---- */

/* Key material to erase once the file no longer references it. */
struct kr_doomed {
    size_t n;
    struct {
        uint32_t id;
        uint8_t ref[KMS_KEYREF_MAX];
        size_t ref_len;
    } k[KMS_KEYRING_MAX_RECORDS];
};

struct kr_txn {
    struct kms_keyring *kr;
    struct kr_state st;
    struct kr_doomed doomed;
    struct kr_anchor an; /* of the file read */
    uint64_t now;
    bool changed;
    bool sweep;
    bool rekey; /* a revocation: move the surviving keys to a new wrap epoch */
    size_t n_fresh;
    uint32_t fresh[4]; /* keys generated by this change (wrapped in epoch 0 by the keystore) */
};

static struct kr_rec *st_active(struct kr_state *st)
{
    for (size_t i = 0; i < st->n; i++) {
        if (st->rec[i].state == KMS_KEY_ACTIVE) {
            return &st->rec[i];
        }
    }
    return NULL;
}

static struct kr_rec *st_find(struct kr_state *st, uint32_t id)
{
    for (size_t i = 0; i < st->n; i++) {
        if (st->rec[i].id == id) {
            return &st->rec[i];
        }
    }
    return NULL;
}

static void txn_destroy(struct kr_txn *t, struct kr_rec *r, enum kms_key_end why)
{
    struct kr_doomed *d = &t->doomed;
    d->k[d->n].id = r->id;
    memcpy(d->k[d->n].ref, r->ref, r->ref_len);
    d->k[d->n].ref_len = r->ref_len;
    d->n++;
    if (r->state == KMS_KEY_ACTIVE) {
        r->retired = t->now;
    }
    r->state = KMS_KEY_DESTROYED;
    r->end = (uint8_t)why;
    r->destroyed = t->now;
    kms_wipe(r->ref, sizeof(r->ref));
    r->ref_len = 0;
    t->changed = true;
}

/* Makes room for one record: drops the oldest destroyed record when the table is full. */
static kms_result txn_make_room(struct kr_txn *t)
{
    struct kr_state *st = &t->st;
    if (st->n < KMS_KEYRING_MAX_RECORDS) {
        return KMS_RESULT_OK;
    }
    for (size_t i = 0; i < st->n; i++) {
        if (st->rec[i].state == KMS_KEY_DESTROYED) {
            memmove(&st->rec[i], &st->rec[i + 1], (st->n - i - 1) * sizeof(st->rec[0]));
            st->n--;
            return KMS_RESULT_OK;
        }
    }
    KMS_BAIL(KMS_ERR_KEYRING_FULL);
}

/* A new active key (the old active one, if any, enters its grace period). */
static kms_result txn_rotate(struct kr_txn *t, uint32_t *new_id)
{
    struct kr_state *st = &t->st;
    KMS_ENSURE(st->next_id < UINT32_MAX, KMS_ERR_KEYRING_FULL);
    KMS_TRY(txn_make_room(t));
    struct kr_rec r = {0};
    r.id = st->next_id;
    r.state = KMS_KEY_ACTIVE;
    r.activated = t->now;
    r.active_until = t->now + st->pol.lifetime;
    r.grace_until = r.active_until + st->pol.grace;
    struct kms_keystore *ks = t->kr->ks;
    KMS_ENSURE(t->n_fresh < sizeof(t->fresh) / sizeof(t->fresh[0]), KMS_ERR_INTERNAL);
    KMS_TRY(ks->ops->generate(ks, st->ring_id, r.id, r.ref, &r.ref_len));
    KMS_ENSURE(r.ref_len >= 1 && r.ref_len <= KMS_KEYREF_MAX, KMS_ERR_INTERNAL);
    t->fresh[t->n_fresh++] = r.id;
    struct kr_rec *old = st_active(st);
    if (old != NULL) {
        old->state = KMS_KEY_GRACE;
        old->retired = t->now;
    }
    st->next_id++;
    st->rec[st->n++] = r;
    kms_wipe(&r, sizeof(r));
    t->changed = true;
    t->sweep = true;
    if (new_id != NULL) {
        *new_id = st->rec[st->n - 1].id;
    }
    return KMS_RESULT_OK;
}

/* Time-driven transitions: rotate an active key whose time is up, then destroy keys whose
 * grace has passed (in this order, so there is always an active key). */
static kms_result txn_expire(struct kr_txn *t, size_t *destroyed, bool *rotated)
{
    struct kr_rec *a = st_active(&t->st);
    if (a != NULL && t->now >= a->active_until) {
        KMS_TRY(txn_rotate(t, NULL));
        *rotated = true;
    }
    for (size_t i = 0; i < t->st.n; i++) {
        struct kr_rec *r = &t->st.rec[i];
        if (r->state == KMS_KEY_GRACE && t->now >= r->grace_until) {
            txn_destroy(t, r, KMS_KEY_END_EXPIRED);
            (*destroyed)++;
        }
    }
    return KMS_RESULT_OK;
}

typedef kms_result (*kr_change_fn)(struct kr_txn *t, void *arg);

static bool txn_is_fresh(const struct kr_txn *t, uint32_t id)
{
    for (size_t i = 0; i < t->n_fresh; i++) {
        if (t->fresh[i] == id) {
            return true;
        }
    }
    return false;
}

/* Re-wraps the live records (all of them, or only this change's new keys) into epoch e. */
static kms_result txn_rewrap(struct kr_txn *t, bool all, uint64_t e, const uint8_t *secret)
{
    struct kms_keystore *ks = t->kr->ks;
    for (size_t i = 0; i < t->st.n; i++) {
        struct kr_rec *r = &t->st.rec[i];
        if (r->state == KMS_KEY_DESTROYED || !(all || txn_is_fresh(t, r->id))) {
            continue;
        }
        uint8_t ref[KMS_KEYREF_MAX];
        size_t len = 0;
        KMS_TRY(
            ks->ops->rewrap(ks, t->st.ring_id, r->id, r->ref, r->ref_len, e, secret, ref, &len));
        KMS_ENSURE(len >= 1 && len <= KMS_KEYREF_MAX, KMS_ERR_INTERNAL);
        memcpy(r->ref, ref, len);
        r->ref_len = len;
    }
    return KMS_RESULT_OK;
}

/* Before a changed state is written: the anchor must already know what the file will need.
 *  - the first file of format 2 (a new keyring, or a format-1 one migrating): the keystore
 *    prepares the ring (PKCS#11: its MAC key) and the anchor is written first, so a crash
 *    between the two writes never leaves a file without its anchor;
 *  - a revocation (keystores that wrap): a new epoch and its secret go into the anchor as
 *    `next`, then every surviving key is re-wrapped into it;
 *  - otherwise new keys are re-wrapped into the file's epoch. */
static kms_result txn_prepare(struct kr_txn *t, bool creating)
{
    struct kms_keyring *kr = t->kr;
    struct kms_keystore *ks = kr->ks;
    if (creating || t->st.format == 1) {
        KMS_TRY(ks->ops->ring_init(ks, t->st.ring_id));
        memset(&t->an, 0, sizeof(t->an));
        t->an.present = true;
        memcpy(t->an.ring_id, t->st.ring_id, KMS_RING_ID_LEN);
        t->an.generation = t->st.generation;
        t->an.flags = creating ? 0 : ANCHOR_MIGRATING;
        t->an.epoch = t->st.epoch = 0;
        KMS_TRY(anchor_write(kr, &t->an));
    }
    if (ks->ops->rewrap == NULL) {
        return KMS_RESULT_OK; /* PKCS#11: revoked keys are destroyed in the token */
    }
    if (t->rekey) {
        KMS_ENSURE(t->st.epoch < UINT32_MAX, KMS_ERR_KEYRING_FULL);
        t->an.next_epoch = t->st.epoch + 1;
        KMS_TRY(kms_random(t->an.next_secret, sizeof(t->an.next_secret)));
        KMS_TRY(anchor_write(kr, &t->an));
        KMS_TRY(txn_rewrap(t, true, t->an.next_epoch, t->an.next_secret));
        t->st.epoch = t->an.next_epoch;
        return KMS_RESULT_OK;
    }
    const uint8_t *secret = anchor_secret(&t->an, t->st.epoch);
    KMS_ENSURE(secret != NULL, KMS_ERR_INTERNAL);
    return t->st.epoch == 0 ? KMS_RESULT_OK : txn_rewrap(t, false, t->st.epoch, secret);
}

/* The anchor once the file is written: it records the file's generation and forgets every
 * epoch but the file's (an old copy of the file then no longer unwraps). */
static bool txn_final_anchor(struct kr_txn *t)
{
    struct kr_anchor *a = &t->an;
    const uint8_t *secret = anchor_secret(a, t->st.epoch);
    if (secret == NULL) {
        return false; /* cannot happen: txn_prepare put it there */
    }
    if (secret != a->secret) {
        memcpy(a->secret, secret, sizeof(a->secret));
    }
    a->epoch = t->st.epoch;
    a->next_epoch = 0;
    kms_wipe(a->next_secret, sizeof(a->next_secret));
    a->generation = t->st.generation;
    a->flags = 0;
    return true;
}

/* After the file is durable: the final anchor written. A failure leaves the anchor behind the
 * file, which still opens; the next write catches up. */
static void txn_commit_anchor(struct kr_txn *t)
{
    if (!txn_final_anchor(t)) {
        return;
    }
    kms_result rc = anchor_write(t->kr, &t->an);
    if (!kms_ok(rc)) {
        kms_log(KMS_LOG_WARN, "keyring %s: generation %llu written, its anchor not updated: %s",
                t->kr->path, (unsigned long long)t->st.generation, kms_strerror(rc.err));
    }
}

static kms_result kr_update_redis(struct kms_keyring *kr, uint64_t now, bool creating,
                                  kr_change_fn fn, void *arg);

/* Applies fn to a fresh read of the file under the exclusive lock and writes the result
 * atomically when it changed anything; then erases what the new file no longer references,
 * sweeps orphaned token objects when asked, and installs the new state. With creating, the
 * file must not exist and t->st is prepared by fn. */
static kms_result kr_update(struct kms_keyring *kr, uint64_t now, bool creating, kr_change_fn fn,
                            void *arg)
{
    if (kr->rs != NULL) {
        return kr_update_redis(kr, now, creating, fn, arg);
    }
    kms_result rc = KMS_RC_INIT;
    int lfd = -1;
    struct file_id fid;
    file_id_init(&fid);
    struct kms_buf img;
    kms_buf_init(&img, KMS_KEYRING_FILE_MAX, true);
    struct kr_txn *t = calloc(1, sizeof(*t));
    KMS_ENSURE_OUT(rc, t != NULL, KMS_ERR_NOMEM);
    t->kr = kr;
    t->now = now;
    KMS_TRY_OUT(rc, kms_file_lock(kr->path, &lfd));
    if (creating) {
        struct stat s;
        KMS_ENSURE_OUT(rc, lstat(kr->path, &s) != 0 && errno == ENOENT, KMS_ERR_EXISTS);
    } else {
        const char *why = NULL;
        KMS_TRY_OUT(rc, read_state(kr->ks, kr->path, &t->st, &fid, &t->an));
        rc = check_view(kr, &t->st, &why);
        if (!kms_ok(rc)) {
            kms_log(KMS_LOG_ERROR, "keyring %s: change refused on generation %llu: %s", kr->path,
                    (unsigned long long)t->st.generation, why);
            goto out;
        }
    }
    KMS_TRY_OUT(rc, fn(t, arg));
    if (t->changed) {
        KMS_TRY_OUT(rc, txn_prepare(t, creating));
        t->st.generation++;
        t->st.format = FILE_FORMAT;
        KMS_TRY_OUT(rc, encode_state(kr->ks, &t->st, &img));
        KMS_TRY_OUT(rc, kms_file_write_atomic(kr->path, kms_buf_data(&img), kms_buf_len(&img)));
        file_id_close(&fid);
        /* Under the lock nobody else replaces the file: what we open is what we wrote. */
        fid.fd = open(kr->path, O_RDONLY | O_CLOEXEC);
        struct stat s;
        KMS_ENSURE_OUT(rc, fid.fd >= 0 && fstat(fid.fd, &s) == 0, KMS_ERR_IO);
        fid.dev = s.st_dev;
        fid.ino = s.st_ino;
        fid.mtim = s.st_mtim;
        fid.size = s.st_size;
        txn_commit_anchor(t);
    }
    /* The file no longer references these: erase them (a failure leaves an orphan for the
     * next sweep, never a referenced key gone). */
    for (size_t i = 0; i < t->doomed.n; i++) {
        (void)kr->ks->ops->destroy(kr->ks, t->st.ring_id, t->doomed.k[i].id, t->doomed.k[i].ref,
                                   t->doomed.k[i].ref_len);
    }
    if (t->sweep) {
        uint32_t keep[KMS_KEYRING_MAX_RECORDS];
        size_t n_keep = 0;
        for (size_t i = 0; i < t->st.n; i++) {
            if (t->st.rec[i].state != KMS_KEY_DESTROYED) {
                keep[n_keep++] = t->st.rec[i].id;
            }
        }
        (void)kr->ks->ops->sweep(kr->ks, t->st.ring_id, keep, n_keep, NULL);
    }
    install_state(kr, &t->st, &fid);
    note_reload(kr, KMS_RESULT_OK, NULL);
    rc = KMS_RESULT_OK;
out:
    file_id_close(&fid);
    kms_file_unlock(&lfd);
    kms_buf_cleanup(&img);
    if (t != NULL) {
        kms_wipe(t, sizeof(*t));
        free(t);
    }
    return rc;
}

/* ---- the record in Redis (kms_keyring_redis.h) ---- */

#define REDIS_CAS_TRIES 64 /* lost compare-and-swaps in a row before giving up */

/* Reads, authenticates and anchors the image in Redis (the counterpart of read_state). */
static kms_result read_redis_state(struct kms_keystore *ks, struct kms_krr *rs, struct kr_state *st,
                                   struct kr_anchor *an)
{
    kms_result rc = KMS_RC_INIT;
    uint8_t *img = NULL;
    size_t n = 0, sn = 0, rn = 0;
    uint8_t sealed[KMS_ANCHOR_SEALED], rec[KMS_ANCHOR_MAX];
    uint64_t gen = 0;
    memset(an, 0, sizeof(*an));
    KMS_ENSURE_OUT(rc, ks->ops->anchor_unseal != NULL, KMS_ERR_UNSUPPORTED);
    rc = kms_krr_read(rs, KMS_KEYRING_FILE_MAX, &img, &n, sealed, sizeof(sealed), &sn, &gen);
    if (rc.err == KMS_ERR_TOO_LONG) {
        KMS_BAIL_OUT(rc, KMS_ERR_MALFORMED);
    }
    KMS_TRY_OUT(rc, rc);
    KMS_TRY_OUT(rc, decode_state(ks, img, n, st));
    /* Only this code writes there, always format 2 with its anchor: no migration. */
    KMS_ENSURE_OUT(rc, st->format == FILE_FORMAT, KMS_ERR_UNSUPPORTED);
    if (sn > 0) {
        KMS_TRY_OUT(rc, ks->ops->anchor_unseal(ks, sealed, sn, rec, sizeof(rec), &rn));
        KMS_TRY_OUT(rc, anchor_decode(rec, rn, an));
    }
    KMS_TRY_OUT(rc, anchor_check(ks, st, an));
    /* One script writes the three keys together: a generation key out of step was altered. */
    KMS_ENSURE_OUT(rc, gen == st->generation, KMS_ERR_MALFORMED);
    rc = KMS_RESULT_OK;
out:
    kms_file_free(img, n);
    kms_wipe(sealed, sizeof(sealed));
    kms_wipe(rec, sizeof(rec));
    return rc;
}

/* The poll: a re-read only when the generation key moved (or nothing is held yet). */
static kms_result refresh_redis_locked(struct kms_keyring *kr)
{
    uint64_t gen = 0;
    bool exists = false;
    kr->last_check_ms = mono_ms();
    KMS_TRY(kms_krr_poll(kr->rs, &gen, &exists));
    KMS_ENSURE(exists, KMS_ERR_NOT_FOUND);
    if (kr->pinned && gen == kr->st.generation) {
        return KMS_RESULT_OK;
    }
    struct kr_state *st = malloc(sizeof(*st));
    KMS_ENSURE(st != NULL, KMS_ERR_NOMEM);
    struct file_id none;
    file_id_init(&none);
    struct kr_anchor an;
    const char *why = NULL;
    kms_result rc = read_redis_state(kr->ks, kr->rs, st, &an);
    if (kms_ok(rc)) {
        rc = check_view(kr, st, &why);
    }
    if (kms_ok(rc)) {
        install_state(kr, st, &none);
    }
    kms_wipe(st, sizeof(*st));
    kms_wipe(&an, sizeof(an));
    free(st);
    return rc;
}

/* The sealed anchor of t (after txn_final_anchor). */
static kms_result seal_anchor(struct kms_keystore *ks, const struct kr_anchor *a, uint8_t *out,
                              size_t cap, size_t *n)
{
    uint8_t rec[KMS_ANCHOR_MAX];
    struct kms_buf b;
    kms_buf_init_fixed(&b, rec, sizeof(rec), false);
    kms_result rc = anchor_encode(a, &b);
    if (kms_ok(rc)) {
        rc = ks->ops->anchor_seal(ks, rec, kms_buf_len(&b), out, cap, n);
    }
    kms_wipe(rec, sizeof(rec));
    return rc;
}

/* kr_update on Redis: no lock; the change is applied to a fresh read and written with a
 * compare-and-swap on the generation, the image and its final anchor together; a lost race
 * reads again and applies the change again (every kr_change_fn starts from t->st). */
static kms_result kr_update_redis(struct kms_keyring *kr, uint64_t now, bool creating,
                                  kr_change_fn fn, void *arg)
{
    kms_result rc = KMS_RC_INIT;
    struct file_id none;
    file_id_init(&none);
    struct kms_buf img;
    kms_buf_init(&img, KMS_KEYRING_FILE_MAX, true);
    uint8_t sealed[KMS_ANCHOR_SEALED];
    size_t sn = 0;
    struct kr_txn *t = calloc(1, sizeof(*t));
    KMS_ENSURE_OUT(rc, t != NULL, KMS_ERR_NOMEM);
    for (int tries = 0;; tries++) {
        kms_wipe(t, sizeof(*t));
        kms_buf_reset(&img);
        t->kr = kr;
        t->now = now;
        if (!creating) {
            const char *why = NULL;
            KMS_TRY_OUT(rc, read_redis_state(kr->ks, kr->rs, &t->st, &t->an));
            rc = check_view(kr, &t->st, &why);
            if (!kms_ok(rc)) {
                kms_log(KMS_LOG_ERROR, "keyring %s: change refused on generation %llu: %s",
                        kr->path, (unsigned long long)t->st.generation, why);
                goto out;
            }
        }
        KMS_TRY_OUT(rc, fn(t, arg));
        if (!t->changed) {
            break;
        }
        KMS_TRY_OUT(rc, txn_prepare(t, creating));
        uint64_t read_gen = t->st.generation;
        t->st.generation++;
        t->st.format = FILE_FORMAT;
        KMS_TRY_OUT(rc, encode_state(kr->ks, &t->st, &img));
        KMS_ENSURE_OUT(rc, txn_final_anchor(t), KMS_ERR_INTERNAL);
        KMS_TRY_OUT(rc, seal_anchor(kr->ks, &t->an, sealed, sizeof(sealed), &sn));
        bool lost = false;
        KMS_TRY_OUT(rc, kms_krr_write(kr->rs, creating, read_gen, kms_buf_data(&img),
                                      kms_buf_len(&img), sealed, sn, t->st.generation, &lost));
        if (!lost) {
            break;
        }
        KMS_ENSURE_OUT(rc, tries + 1 < REDIS_CAS_TRIES, KMS_ERR_STORE);
    }
    for (size_t i = 0; i < t->doomed.n; i++) {
        (void)kr->ks->ops->destroy(kr->ks, t->st.ring_id, t->doomed.k[i].id, t->doomed.k[i].ref,
                                   t->doomed.k[i].ref_len);
    }
    install_state(kr, &t->st, &none);
    note_reload(kr, KMS_RESULT_OK, NULL);
    rc = KMS_RESULT_OK;
out:
    kms_buf_cleanup(&img);
    kms_wipe(sealed, sizeof(sealed));
    if (t != NULL) {
        kms_wipe(t, sizeof(*t));
        free(t);
    }
    return rc;
}

/* ---- open, create, close ---- */

static char *str_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s != NULL) {
        memcpy(s, a, na);
        memcpy(s + na, b, nb + 1);
    }
    return s;
}

static kms_result kr_new(const char *path, struct kms_keystore *ks, struct kms_keyring **out)
{
    KMS_ENSURE_REF(path);
    KMS_ENSURE_REF(ks);
    KMS_ENSURE_REF(out);
    *out = NULL;
    KMS_ENSURE(path[0] != '\0' && strlen(path) < 4000, KMS_ERR_ARG);
    struct kms_keyring *kr = calloc(1, sizeof(*kr));
    KMS_ENSURE(kr != NULL, KMS_ERR_NOMEM);
    kr->ks = ks;
    kr->fd = -1;
    kr->chunk = 1;
    kr->chunk_max = KMS_KEYRING_SEAL_CHUNK;
    kr->stale_after = KMS_KEYRING_STALE_AFTER;
    pthread_mutex_init(&kr->mu, NULL);
    kr->path = str_join(path, "");
    if (kr->path == NULL) {
        kms_keyring_close(kr);
        KMS_BAIL(KMS_ERR_NOMEM);
    }
    *out = kr;
    return KMS_RESULT_OK;
}

void kms_keyring_close(struct kms_keyring *kr)
{
    if (kr == NULL) {
        return;
    }
    for (size_t i = 0; i < KMS_KEYRING_MAX_RECORDS; i++) {
        kkms_unref(kr->loaded[i]);
    }
    if (kr->fd >= 0) {
        close(kr->fd);
    }
    pthread_mutex_destroy(&kr->mu);
    kms_krr_free(kr->rs);
    free(kr->revoked);
    free(kr->path);
    kms_wipe(kr, sizeof(*kr));
    free(kr);
}

struct create_arg {
    const struct kms_keyring_policy *pol;
};

static kms_result fn_create(struct kr_txn *t, void *arg)
{
    const struct create_arg *a = arg;
    t->st.kind = (uint8_t)t->kr->ks->ops->kind;
    KMS_TRY(kms_random(t->st.ring_id, sizeof(t->st.ring_id)));
    t->st.pol = *a->pol;
    t->st.next_id = 1;
    t->st.format = FILE_FORMAT;
    return txn_rotate(t, NULL);
}

kms_result kms_keyring_create(const char *path, struct kms_keystore *ks,
                              const struct kms_keyring_policy *pol, uint64_t now,
                              struct kms_keyring **out)
{
    KMS_ENSURE_REF(out);
    *out = NULL;
    KMS_ENSURE_REF(pol);
    KMS_TRY(check_policy(pol));
    struct kms_keyring *kr = NULL;
    KMS_TRY(kr_new(path, ks, &kr));
    struct create_arg a = {pol};
    kms_result rc = kr_update(kr, now, true, fn_create, &a);
    if (!kms_ok(rc)) {
        kms_keyring_close(kr);
        return rc;
    }
    *out = kr;
    return KMS_RESULT_OK;
}

kms_result kms_keyring_open(const char *path, struct kms_keystore *ks, struct kms_keyring **out)
{
    KMS_ENSURE_REF(out);
    *out = NULL;
    struct kms_keyring *kr = NULL;
    KMS_TRY(kr_new(path, ks, &kr));
    pthread_mutex_lock(&kr->mu);
    kms_result rc = refresh_locked(kr);
    pthread_mutex_unlock(&kr->mu);
    if (!kms_ok(rc)) {
        kms_keyring_close(kr);
        return rc;
    }
    *out = kr;
    return KMS_RESULT_OK;
}

/* A keyring handle on Redis: kr_new with the record store. */
static kms_result kr_new_redis(struct kms_redis *r, const char *prefix, struct kms_keystore *ks,
                               struct kms_keyring **out)
{
    KMS_ENSURE_REF(r);
    KMS_ENSURE_REF(ks);
    KMS_ENSURE(ks->ops->anchor_seal != NULL && ks->ops->anchor_unseal != NULL, KMS_ERR_UNSUPPORTED);
    struct kms_krr *rs = NULL;
    KMS_TRY(kms_krr_new(r, prefix, &rs));
    kms_result rc = kr_new("redis", ks, out);
    if (!kms_ok(rc)) {
        kms_krr_free(rs);
        return rc;
    }
    (*out)->rs = rs;
    return KMS_RESULT_OK;
}

kms_result kms_keyring_create_redis(struct kms_redis *r, const char *prefix,
                                    struct kms_keystore *ks, const struct kms_keyring_policy *pol,
                                    uint64_t now, struct kms_keyring **out)
{
    KMS_ENSURE_REF(out);
    *out = NULL;
    KMS_ENSURE_REF(pol);
    KMS_TRY(check_policy(pol));
    struct kms_keyring *kr = NULL;
    KMS_TRY(kr_new_redis(r, prefix, ks, &kr));
    struct create_arg a = {pol};
    kms_result rc = kr_update(kr, now, true, fn_create, &a);
    if (!kms_ok(rc)) {
        kms_keyring_close(kr);
        return rc;
    }
    *out = kr;
    return KMS_RESULT_OK;
}

kms_result kms_keyring_open_redis(struct kms_redis *r, const char *prefix, struct kms_keystore *ks,
                                  struct kms_keyring **out)
{
    KMS_ENSURE_REF(out);
    *out = NULL;
    struct kms_keyring *kr = NULL;
    KMS_TRY(kr_new_redis(r, prefix, ks, &kr));
    pthread_mutex_lock(&kr->mu);
    kms_result rc = refresh_locked(kr);
    pthread_mutex_unlock(&kr->mu);
    if (!kms_ok(rc)) {
        kms_keyring_close(kr);
        return rc;
    }
    *out = kr;
    return KMS_RESULT_OK;
}

kms_result kms_keyring_redis_check(struct kms_redis *r, char *why, size_t why_cap)
{
    struct kms_krr *rs = NULL;
    KMS_TRY(kms_krr_new(r, NULL, &rs));
    kms_result rc = kms_krr_check_durable(rs, why, why_cap);
    kms_krr_free(rs);
    return rc;
}

kms_result kms_keyring_copy_to_redis(const char *path, struct kms_keystore *ks, struct kms_redis *r,
                                     const char *prefix, uint64_t *gen)
{
    KMS_ENSURE(path != NULL && ks != NULL && r != NULL, KMS_ERR_ARG);
    KMS_ENSURE(ks->ops->anchor_seal != NULL, KMS_ERR_UNSUPPORTED);
    kms_result rc = KMS_RC_INIT;
    int lfd = -1;
    struct file_id fid;
    file_id_init(&fid);
    struct kms_buf img;
    kms_buf_init(&img, KMS_KEYRING_FILE_MAX, true);
    uint8_t sealed[KMS_ANCHOR_SEALED];
    size_t sn = 0;
    struct kr_anchor an;
    memset(&an, 0, sizeof(an));
    struct kms_krr *rs = NULL;
    struct kr_state *st = calloc(1, sizeof(*st));
    KMS_ENSURE_OUT(rc, st != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_krr_new(r, prefix, &rs));
    KMS_TRY_OUT(rc, kms_file_lock(path, &lfd));
    KMS_TRY_OUT(rc, read_state(ks, path, st, &fid, &an));
    KMS_ENSURE_OUT(rc, st->format == FILE_FORMAT && an.present, KMS_ERR_UNSUPPORTED);
    /* The same bytes as the file: encoding is deterministic, the MAC too. */
    KMS_TRY_OUT(rc, encode_state(ks, st, &img));
    KMS_TRY_OUT(rc, seal_anchor(ks, &an, sealed, sizeof(sealed), &sn));
    bool lost = false;
    KMS_TRY_OUT(rc, kms_krr_write(rs, true, 0, kms_buf_data(&img), kms_buf_len(&img), sealed, sn,
                                  st->generation, &lost));
    if (gen != NULL) {
        *gen = st->generation;
    }
    rc = KMS_RESULT_OK;
out:
    kms_file_unlock(&lfd);
    file_id_close(&fid);
    kms_buf_cleanup(&img);
    kms_wipe(sealed, sizeof(sealed));
    kms_wipe(&an, sizeof(an));
    if (st != NULL) {
        kms_wipe(st, sizeof(*st));
        free(st);
    }
    kms_krr_free(rs);
    return rc;
}

kms_result kms_keyring_copy_from_redis(struct kms_redis *r, const char *prefix,
                                       struct kms_keystore *ks, const char *path, uint64_t *gen)
{
    KMS_ENSURE(path != NULL && ks != NULL && r != NULL, KMS_ERR_ARG);
    KMS_ENSURE(ks->ops->anchor_unseal != NULL, KMS_ERR_UNSUPPORTED);
    kms_result rc = KMS_RC_INIT;
    int lfd = -1;
    struct kms_buf img;
    kms_buf_init(&img, KMS_KEYRING_FILE_MAX, true);
    uint8_t rec[KMS_ANCHOR_MAX];
    struct kms_buf ab;
    kms_buf_init_fixed(&ab, rec, sizeof(rec), false);
    struct kr_anchor an;
    memset(&an, 0, sizeof(an));
    struct kms_krr *rs = NULL;
    struct stat s;
    struct kr_state *st = calloc(1, sizeof(*st));
    KMS_ENSURE_OUT(rc, st != NULL, KMS_ERR_NOMEM);
    KMS_TRY_OUT(rc, kms_krr_new(r, prefix, &rs));
    KMS_TRY_OUT(rc, read_redis_state(ks, rs, st, &an));
    KMS_TRY_OUT(rc, encode_state(ks, st, &img));
    KMS_TRY_OUT(rc, anchor_encode(&an, &ab));
    KMS_TRY_OUT(rc, kms_file_lock(path, &lfd));
    KMS_ENSURE_OUT(rc, lstat(path, &s) != 0 && errno == ENOENT, KMS_ERR_EXISTS);
    /* The anchor first, as a new keyring does: a crash between the two leaves no file. */
    KMS_TRY_OUT(rc, ks->ops->anchor_put(ks, path, st->ring_id, rec, kms_buf_len(&ab)));
    KMS_TRY_OUT(rc, kms_file_write_atomic(path, kms_buf_data(&img), kms_buf_len(&img)));
    if (gen != NULL) {
        *gen = st->generation;
    }
    rc = KMS_RESULT_OK;
out:
    kms_file_unlock(&lfd);
    kms_buf_cleanup(&img);
    kms_wipe(rec, sizeof(rec));
    kms_wipe(&an, sizeof(an));
    if (st != NULL) {
        kms_wipe(st, sizeof(*st));
        free(st);
    }
    kms_krr_free(rs);
    return rc;
}

/* ---- sealing and opening ---- */

struct reserve_arg {
    uint64_t want;
    uint32_t id;
    uint64_t lo, hi;
};

static kms_result fn_reserve(struct kr_txn *t, void *arg)
{
    struct reserve_arg *a = arg;
    size_t destroyed = 0;
    bool rotated = false;
    KMS_TRY(txn_expire(t, &destroyed, &rotated));
    struct kr_rec *r = st_active(&t->st);
    KMS_ENSURE(r != NULL, KMS_ERR_NO_ACTIVE_KEY);
    if (r->seals >= t->st.pol.max_seals) {
        KMS_TRY(txn_rotate(t, NULL)); /* the seal budget forces the rotation */
        r = st_active(&t->st);
    }
    uint64_t chunk = t->st.pol.max_seals - r->seals;
    if (chunk > a->want) {
        chunk = a->want;
    }
    a->id = r->id;
    a->lo = r->seals;
    a->hi = r->seals + chunk;
    r->seals = a->hi;
    t->changed = true;
    return KMS_RESULT_OK;
}

/* Under kr->mu: reserves the next `want` seals of the active key durably (one keyring write)
 * and makes them the window seals are taken from. */
static kms_result reserve_window_locked(struct kms_keyring *kr, uint64_t now, uint64_t want)
{
    struct reserve_arg a = {want, 0, 0, 0};
    KMS_TRY(kr_update(kr, now, false, fn_reserve, &a));
    kr->win_id = a.id;
    kr->win_next = a.lo;
    kr->win_end = a.hi;
    return KMS_RESULT_OK;
}

static bool active_usable(const struct kms_keyring *kr, uint64_t now, size_t *idx)
{
    for (size_t i = 0; i < kr->st.n; i++) {
        const struct kr_rec *r = &kr->st.rec[i];
        if (r->state == KMS_KEY_ACTIVE) {
            *idx = i;
            return now < r->active_until && kr->win_id == r->id && kr->win_next < kr->win_end;
        }
    }
    return false;
}

kms_result kms_keyring_acquire_seal(struct kms_keyring *kr, uint64_t now, struct kms_kkms **key,
                                    uint32_t *key_id, uint64_t *grace_until)
{
    KMS_ENSURE_REF(kr);
    KMS_ENSURE(key != NULL && key_id != NULL && grace_until != NULL, KMS_ERR_ARG);
    *key = NULL;
    kms_result rc = KMS_RC_INIT;
    pthread_mutex_lock(&kr->mu);
    maybe_refresh(kr);
    KMS_ENSURE_OUT(rc, !kr->stale, KMS_ERR_KEYRING_STALE);
    size_t idx = 0;
    if (!active_usable(kr, now, &idx)) {
        KMS_TRY_OUT(rc, reserve_window_locked(kr, now, kr->chunk));
        kr->chunk = kr->chunk < kr->chunk_max / 2 ? kr->chunk * 2 : kr->chunk_max;
        KMS_ENSURE_OUT(rc, active_usable(kr, now, &idx), KMS_ERR_NO_ACTIVE_KEY);
    }
    KMS_TRY_OUT(rc, kr_hold(kr, idx, key));
    kr->win_next++;
    *key_id = kr->st.rec[idx].id;
    *grace_until = kr->st.rec[idx].grace_until;
    rc = KMS_RESULT_OK;
out:
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

kms_result kms_keyring_reserve_ahead(struct kms_keyring *kr, uint64_t now)
{
    KMS_ENSURE_REF(kr);
    kms_result rc = KMS_RC_INIT;
    pthread_mutex_lock(&kr->mu);
    maybe_refresh(kr);
    KMS_ENSURE_OUT(rc, !kr->stale, KMS_ERR_KEYRING_STALE);
    size_t idx = 0;
    if (!active_usable(kr, now, &idx)) {
        /* The window is used up or belongs to a key that no longer seals: nothing of it is
         * lost by taking a full one now. */
        KMS_TRY_OUT(rc, reserve_window_locked(kr, now, kr->chunk_max));
        kr->chunk = kr->chunk_max;
    }
    rc = KMS_RESULT_OK;
out:
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

void kms_keyring_set_seal_chunk_max(struct kms_keyring *kr, uint64_t max)
{
    if (kr == NULL) {
        return;
    }
    if (max < KMS_KEYRING_SEAL_CHUNK) {
        max = KMS_KEYRING_SEAL_CHUNK;
    }
    if (max > KMS_KEYRING_SEAL_CHUNK_SERVER) {
        max = KMS_KEYRING_SEAL_CHUNK_SERVER;
    }
    pthread_mutex_lock(&kr->mu);
    kr->chunk_max = max;
    pthread_mutex_unlock(&kr->mu);
}

static size_t find_id(const struct kms_keyring *kr, uint32_t id)
{
    size_t i = 0;
    while (i < kr->st.n && kr->st.rec[i].id != id) {
        i++;
    }
    return i;
}

kms_result kms_keyring_acquire_open(struct kms_keyring *kr, uint64_t now, uint32_t id,
                                    struct kms_kkms **key)
{
    KMS_ENSURE_REF(kr);
    KMS_ENSURE_REF(key);
    *key = NULL;
    kms_result rc = KMS_RC_INIT;
    pthread_mutex_lock(&kr->mu);
    maybe_refresh(kr);
    KMS_ENSURE_OUT(rc, !kr->stale, KMS_ERR_KEYRING_STALE);
    size_t i = find_id(kr, id);
    if (i == kr->st.n && kr->rs != NULL &&
        mono_ms() - kr->last_unknown_ms >= KMS_KEYRING_UNKNOWN_MS) {
        /* A fleet: another node may have sealed under a key made since our last poll. */
        kr->last_unknown_ms = mono_ms();
        kms_result lr = reload_locked(kr);
        KMS_ENSURE_OUT(rc, !kr->stale, KMS_ERR_KEYRING_STALE);
        i = find_id(kr, id);
        /* Still unknown because Redis did not answer: the key may well exist, so a 503 the
         * client retries (store-unavailable), not a refusal. */
        KMS_ENSURE_OUT(rc, i < kr->st.n || kms_ok(lr) || lr.err != KMS_ERR_STORE, KMS_ERR_STORE);
    }
    KMS_ENSURE_OUT(rc, i < kr->st.n, KMS_ERR_KEY_UNKNOWN);
    const struct kr_rec *r = &kr->st.rec[i];
    KMS_ENSURE_OUT(rc, r->state != KMS_KEY_DESTROYED && now < r->grace_until,
                   KMS_ERR_KEY_DESTROYED);
    KMS_TRY_OUT(rc, kr_hold(kr, i, key));
    rc = KMS_RESULT_OK;
out:
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

/* Forks seen by this process: a child of a fork must not take the nonces its parent holds
 * ahead (both would seal with the same nonce under the same Kkms). The child handler bumps the
 * count; a pool filled before it is then thrown away. No getpid() per seal. */
static atomic_uint fork_count;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void after_fork_in_child(void)
{
    atomic_fetch_add(&fork_count, 1u);
}

static void watch_forks(void)
{
    (void)pthread_atfork(NULL, NULL, after_fork_in_child);
}

kms_result kms_keyring_nonce(struct kms_keyring *kr, uint8_t nonce[KMS_GCM_NONCE_LEN])
{
    KMS_ENSURE_REF(kr);
    KMS_ENSURE_REF(nonce);
    (void)pthread_once(&fork_once, watch_forks);
    kms_result rc = KMS_RC_INIT;
    pthread_mutex_lock(&kr->mu);
    unsigned forks = atomic_load(&fork_count);
    if (kr->nonce_left < KMS_GCM_NONCE_LEN || kr->nonce_forks != forks) {
        KMS_TRY_OUT(rc, kms_random(kr->nonce_pool, sizeof(kr->nonce_pool)));
        kr->nonce_left = sizeof(kr->nonce_pool);
        kr->nonce_forks = forks;
    }
    kr->nonce_left -= KMS_GCM_NONCE_LEN;
    memcpy(nonce, kr->nonce_pool + kr->nonce_left, KMS_GCM_NONCE_LEN);
    memset(kr->nonce_pool + kr->nonce_left, 0, KMS_GCM_NONCE_LEN); /* each nonce used once */
    rc = KMS_RESULT_OK;
out:
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

/* ---- management ---- */

static kms_result fn_rotate(struct kr_txn *t, void *arg)
{
    size_t destroyed = 0;
    bool rotated = false;
    KMS_TRY(txn_expire(t, &destroyed, &rotated));
    return txn_rotate(t, arg);
}

kms_result kms_keyring_rotate(struct kms_keyring *kr, uint64_t now, uint32_t *new_id)
{
    KMS_ENSURE_REF(kr);
    uint32_t id = 0;
    pthread_mutex_lock(&kr->mu);
    kms_result rc = kr_update(kr, now, false, fn_rotate, &id);
    pthread_mutex_unlock(&kr->mu);
    if (kms_ok(rc) && new_id != NULL) {
        *new_id = id;
    }
    return rc;
}

struct revoke_arg {
    uint32_t id;
    uint32_t new_id;
};

static kms_result fn_revoke(struct kr_txn *t, void *arg)
{
    struct revoke_arg *a = arg;
    struct kr_rec *r = st_find(&t->st, a->id);
    KMS_ENSURE(r != NULL, KMS_ERR_NOT_FOUND);
    KMS_ENSURE(r->state != KMS_KEY_DESTROYED, KMS_ERR_KEY_DESTROYED);
    uint32_t victim = r->id;
    if (r->state == KMS_KEY_ACTIVE) {
        KMS_TRY(txn_rotate(t, &a->new_id)); /* the replacement comes in the same write */
    }
    r = st_find(&t->st, victim); /* txn_rotate may have moved records */
    KMS_ENSURE(r != NULL, KMS_ERR_INTERNAL);
    txn_destroy(t, r, KMS_KEY_END_REVOKED);
    t->sweep = true;
    t->rekey = true;
    return KMS_RESULT_OK;
}

kms_result kms_keyring_revoke(struct kms_keyring *kr, uint64_t now, uint32_t id, uint32_t *new_id)
{
    KMS_ENSURE_REF(kr);
    struct revoke_arg a = {id, 0};
    pthread_mutex_lock(&kr->mu);
    kms_result rc = kr_update(kr, now, false, fn_revoke, &a);
    pthread_mutex_unlock(&kr->mu);
    if (kms_ok(rc) && new_id != NULL) {
        *new_id = a.new_id;
    }
    return rc;
}

struct maintain_arg {
    size_t destroyed;
    bool rotated;
};

static kms_result fn_maintain(struct kr_txn *t, void *arg)
{
    struct maintain_arg *a = arg;
    KMS_TRY(txn_expire(t, &a->destroyed, &a->rotated));
    t->sweep = true;
    return KMS_RESULT_OK;
}

kms_result kms_keyring_maintain(struct kms_keyring *kr, uint64_t now, size_t *destroyed,
                                bool *rotated)
{
    KMS_ENSURE_REF(kr);
    struct maintain_arg a = {0, false};
    pthread_mutex_lock(&kr->mu);
    kms_result rc = kr_update(kr, now, false, fn_maintain, &a);
    pthread_mutex_unlock(&kr->mu);
    if (destroyed != NULL) {
        *destroyed = a.destroyed;
    }
    if (rotated != NULL) {
        *rotated = a.rotated;
    }
    return rc;
}

kms_result kms_keyring_list(struct kms_keyring *kr, uint64_t now, struct kms_key_info *out,
                            size_t cap, size_t *n)
{
    KMS_ENSURE_REF(kr);
    KMS_ENSURE(n != NULL && (out != NULL || cap == 0), KMS_ERR_ARG);
    pthread_mutex_lock(&kr->mu);
    maybe_refresh(kr);
    size_t k = 0;
    for (size_t i = kr->st.n; i-- > 0 && k < cap;) {
        const struct kr_rec *r = &kr->st.rec[i];
        struct kms_key_info *o = &out[k++];
        o->id = r->id;
        o->state = (enum kms_key_state)r->state;
        o->effective = o->state;
        if (o->state != KMS_KEY_DESTROYED && now >= r->grace_until) {
            o->effective = KMS_KEY_DESTROYED;
        } else if (o->state == KMS_KEY_ACTIVE && now >= r->active_until) {
            o->effective = KMS_KEY_GRACE;
        }
        o->end = (enum kms_key_end)r->end;
        o->activated = r->activated;
        o->active_until = r->active_until;
        o->grace_until = r->grace_until;
        o->retired = r->retired;
        o->destroyed = r->destroyed;
        o->seals = r->seals;
    }
    *n = k;
    pthread_mutex_unlock(&kr->mu);
    return KMS_RESULT_OK;
}

void kms_keyring_get_policy(struct kms_keyring *kr, struct kms_keyring_policy *pol)
{
    pthread_mutex_lock(&kr->mu);
    *pol = kr->st.pol;
    pthread_mutex_unlock(&kr->mu);
}

uint64_t kms_keyring_generation(struct kms_keyring *kr)
{
    pthread_mutex_lock(&kr->mu);
    uint64_t g = kr->st.generation;
    pthread_mutex_unlock(&kr->mu);
    return g;
}
