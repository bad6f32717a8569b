/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durability of the Kkms keyring under SIGKILL.
 *
 * A child process works on one keyring for ever (rotate, maintain, revoke, seal) on its own
 * injected clock and reports on a pipe each operation it starts (BEGIN, with its view of the
 * keyring) and each one it finishes (DONE, with the result and, for a seal, the ticket). The
 * parent kills it after a random delay, reaps it, and checks the keyring file against what the
 * child reported:
 *
 *   - the file opens, has exactly one active key (the highest id), ids strictly increasing;
 *   - every change is one atomic write, so the file's generation is the last reported one (G),
 *     or G + 1 when the operation in flight wrote; at G the highest id is the last reported
 *     one (R); at G + 1 it is R + the number of keys that operation creates when it writes
 *     (predicted by the child from its view before the operation: 0, 1 or 2);
 *   - a PATH.tmp left by the kill is never visible: the generation is then G, and a complete
 *     leftover image is exactly the in-flight write (G + 1);
 *   - every reported ticket opens unless its key was revoked (a reported revoke, or the
 *     in-flight one when it landed) or its grace has passed at the check time; then it fails
 *     with KMS_ERR_KEY_DESTROYED, or KMS_ERR_KEY_UNKNOWN only when its record was pruned;
 *     never a tag error (which would mean an id was reused for new key material);
 *   - the durable seal count of every key is at least the number of seals reported under it,
 *     never decreases, and never exceeds max_seals;
 *   - the next child starts on whatever the kill left behind (a leftover PATH.tmp included)
 *     and its first operation is always a write, which must succeed.
 *
 * The random delays only choose the kill points; nothing asserts on timing. The seed is
 * printed, and IMSKMS_CRASH_SEED (or argv[2]) replays a run's sequence of operations and
 * delays. The number of iterations is argv[1] or IMSKMS_CRASH_ITERS (default 200). The test
 * fails when no kill at all landed inside a write, since it would then prove nothing.
 *
 * Usage: test_keyring_crash [--keystore file|pkcs11|all] [ITERS [SEED]] (or
 * IMSKMS_CRASH_KEYSTORE; default file). Keystores come from a table of factories:
 *   - file: the key material is wrapped inside the keyring file;
 *   - pkcs11: the token of IMSKMS_TEST_HSM_URI (run it under tests/hsm/with_softhsm.sh). Each
 *     process opens its own keystore (the child after fork), the parent none across a fork.
 *     After every kill the token's objects of the keyring, listed through the module by the
 *     test itself, are checked against the file (check_token: a referenced key is never
 *     missing, orphans are only what the interrupted operation can leave, and none survives
 *     a completed sweep); the test fails when no kill left an orphan.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "keyring/kms_keyring.h"
#include "keyring/kms_keystore.h"
#include "ticket/kms_ticket.h"
#include "util/kms_buf.h"

#define DEFAULT_ITERS 200
#define DEFAULT_SEED  UINT64_C(0x5eed1e55c0ffee01)
#define T0            UINT64_C(1000000) /* the keyring's creation time */
#define LIFETIME      10
#define GRACE         20
#define MAX_SEALS     1100 /* chunks of 1024 and 76: the second reservation ends the key */
#define MAX_BURST     1200 /* seals in one burst: at most one budget-forced rotation */
#define TICKET_CAP    256
#define REC_MAGIC     UINT32_C(0x4b52434b)
#define TOK_MAX       256 /* token objects of one keyring the test can account for */

/* ---- keystores ---- */

struct ks_kind {
    const char *name;
    kms_result (*open)(struct kms_keystore **out);
    bool token;           /* key material lives as token objects: check them after each kill */
    uint64_t delay_scale; /* kill delays are multiplied by this (a slow token needs longer) */
};

static kms_result file_ks_open(struct kms_keystore **out)
{
    uint8_t kek[32];
    memset(kek, 0x6b, sizeof(kek));
    return kms_keystore_file_open_kek(kek, out);
}

/* The shared page of p11_atomic_shim.c (same layout). */
struct kms_crash_guard {
    atomic_int stop;
    atomic_int busy;
};

static bool g_in_child;

/* The private SoftHSM2 token of tests/hsm/with_softhsm.sh. Every process opens its own (the
 * child after fork: a PKCS#11 session or an initialised module never crosses a fork). The
 * child reaches it through p11_atomic_shim (KMS_P11_SHIM), so that the kill never lands inside
 * a token call; the parent loads the module itself. */
static kms_result p11_ks_open(struct kms_keystore **out)
{
    static const char attr[] = "module-path=";
    const char *uri = getenv("IMSKMS_TEST_HSM_URI");
    if (uri == NULL) {
        return KMS_ERR(KMS_ERR_HSM_URI);
    }
    if (!g_in_child) {
        return kms_keystore_p11_open(uri, out);
    }
    char shim_uri[2048];
    const char *p = strstr(uri, attr);
    if (p == NULL) {
        return KMS_ERR(KMS_ERR_HSM_URI);
    }
    const char *rest = p + sizeof(attr) - 1;
    rest += strcspn(rest, ";?&");
    int n = snprintf(shim_uri, sizeof(shim_uri), "%.*s%s%s%s", (int)(p - uri), uri, attr,
                     KMS_P11_SHIM, rest);
    if (n < 0 || (size_t)n >= sizeof(shim_uri)) {
        return KMS_ERR(KMS_ERR_HSM_URI);
    }
    return kms_keystore_p11_open(shim_uri, out);
}

static const struct ks_kind ks_kinds[] = {
    {"file", file_ks_open, false, 1},
    {"pkcs11", p11_ks_open, true, 8},
};

/* ---- failure: never leaves a child or a directory behind ---- */

static pid_t g_child = -1;
static char g_dir[64];
static struct kms_crash_guard *g_guard; /* token keystores: see p11_atomic_shim.c */

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

static void reap_child(void)
{
    if (g_child > 0) {
        kill(g_child, SIGKILL);
        while (waitpid(g_child, NULL, 0) < 0 && errno == EINTR) {
        }
        g_child = -1;
    }
}

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "keyring_crash: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    reap_child();
    if (g_dir[0] != '\0') {
        rm_dir(g_dir);
    }
    exit(1);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fail(__VA_ARGS__);                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        kms_result r_ = (call);                                                                    \
        int line_ = 0;                                                                             \
        const char *file_ = kms_err_where(&line_);                                                 \
        CHECK(r_.err == KMS_OK, "%s: %s (raised at %s:%d)", #call, kms_err_name(r_.err), file_,    \
              line_);                                                                              \
    } while (0)

/* ---- PRNG (splitmix64): reproducible from the printed seed ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* ---- the child's reports ---- */

enum rec_type {
    REC_BEGIN = 1, /* an operation starts: the child's view before it */
    REC_DONE = 2,  /* it completed */
    REC_FAIL = 3,  /* it failed: the test fails */
};

enum op {
    OP_ROTATE = 1,
    OP_MAINTAIN = 2,
    OP_REVOKE = 3, /* a grace key, or now and then the active one */
    OP_SEAL = 4,
};

static const char *op_name(uint8_t op)
{
    switch (op) {
    case OP_ROTATE:
        return "rotate";
    case OP_MAINTAIN:
        return "maintain";
    case OP_REVOKE:
        return "revoke";
    case OP_SEAL:
        return "seal";
    default:
        return "?";
    }
}

struct rec {
    uint32_t magic;
    uint8_t type;
    uint8_t op;
    uint16_t ticket_len; /* DONE of a seal: the ticket follows the record */
    uint32_t key_id;     /* seal: key sealed under; rotate: new id; revoke: the victim */
    uint32_t max_id;     /* BEGIN: highest id before; DONE: after */
    uint32_t add;        /* BEGIN: keys the operation creates if it writes */
    int32_t err;         /* FAIL */
    uint64_t now;
    uint64_t gen;     /* BEGIN: file generation before; DONE: after */
    uint64_t expires; /* seal: the ticket's expiry (capped at its key's grace_until) */
    uint64_t live;    /* BEGIN: bit i set when key max_id - i is recorded ACTIVE or GRACE */
};

static void send_rec(int fd, const struct rec *r, const uint8_t *ticket)
{
    uint8_t buf[sizeof(*r) + TICKET_CAP];
    memcpy(buf, r, sizeof(*r));
    if (r->ticket_len > 0) {
        memcpy(buf + sizeof(*r), ticket, r->ticket_len);
    }
    /* At most PIPE_BUF bytes: one atomic write. */
    size_t n = sizeof(*r) + r->ticket_len, off = 0;
    while (off < n) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            _exit(4);
        }
        off += (size_t)w;
    }
}

/* ---- the child ---- */

struct view {
    uint64_t gen;
    uint32_t max_id;
    uint64_t active_until;
    uint64_t active_seals;
    uint32_t grace_ids[KMS_KEYRING_MAX_RECORDS];
    size_t n_grace;
    uint64_t live; /* as in struct rec */
};

static kms_result get_view(struct kms_keyring *kr, uint64_t now, struct view *v)
{
    struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    memset(v, 0, sizeof(*v));
    KMS_TRY(kms_keyring_list(kr, now, k, KMS_KEYRING_MAX_RECORDS, &n));
    v->gen = kms_keyring_generation(kr);
    for (size_t i = 0; i < n; i++) {
        if (k[i].state == KMS_KEY_ACTIVE) {
            v->max_id = k[i].id;
            v->active_until = k[i].active_until;
            v->active_seals = k[i].seals;
        } else if (k[i].state == KMS_KEY_GRACE) {
            v->grace_ids[v->n_grace++] = k[i].id;
        }
    }
    /* The live keys are the newest few (at most lifetime + grace seconds old, a few ids per
     * operation of 2..4 s): they always fit the mask. */
    for (size_t i = 0; i < n; i++) {
        if (k[i].state == KMS_KEY_ACTIVE || k[i].state == KMS_KEY_GRACE) {
            KMS_ENSURE(v->max_id - k[i].id < 64, KMS_ERR_INTERNAL);
            v->live |= UINT64_C(1) << (v->max_id - k[i].id);
        }
    }
    return KMS_RESULT_OK;
}

static kms_result seal_one(struct kms_keyring *kr, uint64_t now, uint8_t *t, size_t *n,
                           uint32_t *key_id, uint64_t *expires)
{
    struct kms_ticket_claims c;
    memset(&c, 0, sizeof(c));
    c.kind = KMS_TICKET_MEDIA;
    c.expires = now + 1000000; /* capped at the key's grace_until */
    c.tgk_len = 16;
    memset(c.tgk, 0x42, c.tgk_len);
    KMS_TRY(kms_ticket_ident_set(&c.initiator, "sip:a@crash.test"));
    KMS_TRY(kms_ticket_ident_set(&c.responder[0], "sip:b@crash.test"));
    c.n_responder = 1;
    struct kms_buf b;
    kms_buf_init_fixed(&b, t, TICKET_CAP, false);
    KMS_TRY(kms_ticket_seal(kr, now, &c, &b));
    *n = kms_buf_len(&b);
    *key_id = c.key_id;
    *expires = c.expires;
    kms_ticket_claims_wipe(&c);
    return KMS_RESULT_OK;
}

/* The keys an operation creates when it writes (the child's view is the file's: it is the only
 * writer). A rotation first rotates an active key whose time is up; a seal rotates when the
 * time or the seal budget is up, never both (a new key has no seals); a revoke of the active
 * key brings its replacement. */
static uint32_t keys_added(uint8_t op, uint32_t victim, const struct view *v, uint64_t now)
{
    bool time_up = now >= v->active_until;
    switch (op) {
    case OP_ROTATE:
        return 1u + (time_up ? 1u : 0u);
    case OP_MAINTAIN:
        return time_up ? 1u : 0u;
    case OP_REVOKE:
        return victim == v->max_id ? 1u : 0u;
    case OP_SEAL:
        return time_up || v->active_seals >= MAX_SEALS ? 1u : 0u;
    default:
        return 0;
    }
}

static void child_fail(int fd, uint8_t op, kms_result rc)
{
    struct rec r = {.magic = REC_MAGIC, .type = REC_FAIL, .op = op, .err = (int32_t)rc.err};
    send_rec(fd, &r, NULL);
    _exit(3);
}

/* One operation, reported before and after. */
static void child_op(int fd, struct kms_keyring *kr, uint8_t op, uint32_t victim, uint64_t now)
{
    struct view v;
    kms_result rc = get_view(kr, now, &v);
    if (!kms_ok(rc)) {
        child_fail(fd, op, rc);
    }
    struct rec r = {.magic = REC_MAGIC, .type = REC_BEGIN, .op = op, .now = now};
    r.key_id = victim;
    r.gen = v.gen;
    r.max_id = v.max_id;
    r.add = keys_added(op, victim, &v, now);
    r.live = v.live;
    send_rec(fd, &r, NULL);

    uint8_t t[TICKET_CAP];
    size_t tn = 0;
    uint32_t id = 0;
    size_t destroyed = 0;
    bool rotated = false;
    switch (op) {
    case OP_ROTATE:
        rc = kms_keyring_rotate(kr, now, &id);
        break;
    case OP_MAINTAIN:
        rc = kms_keyring_maintain(kr, now, &destroyed, &rotated);
        break;
    case OP_REVOKE:
        rc = kms_keyring_revoke(kr, now, victim, &id);
        id = victim;
        break;
    case OP_SEAL:
        rc = seal_one(kr, now, t, &tn, &id, &r.expires);
        break;
    default:
        rc = KMS_ERR(KMS_ERR_INTERNAL);
        break;
    }
    if (kms_ok(rc)) {
        rc = get_view(kr, now, &v);
    }
    if (!kms_ok(rc)) {
        child_fail(fd, op, rc);
    }
    r.type = REC_DONE;
    r.key_id = id;
    r.gen = v.gen;
    r.max_id = v.max_id;
    r.ticket_len = (uint16_t)tn;
    send_rec(fd, &r, t);
}

/* Works until killed. The clock continues from `now`; the first operation always writes (a
 * rotation), so a leftover PATH.tmp must not stop the next write. */
__attribute__((noreturn)) static void child_main(const struct ks_kind *kind, const char *path,
                                                 int fd, uint64_t now, uint64_t seed)
{
    struct kms_keystore *ks = NULL;
    struct kms_keyring *kr = NULL;
    kms_result rc = kind->open(&ks);
    if (kms_ok(rc)) {
        rc = kms_keyring_open(path, ks, &kr);
    }
    if (!kms_ok(rc)) {
        child_fail(fd, 0, rc);
    }
    for (bool first = true;; first = false) {
        /* 2..4 s per operation: with lifetime 10 and grace 20 at most about 30 keys are alive,
         * far from KMS_KEYRING_MAX_RECORDS, and expired ones are destroyed and pruned. */
        now += 2 + rng_below(&seed, 3);
        uint64_t pick = first ? 0 : 1 + rng_below(&seed, 100);
        if (pick < 25) {
            child_op(fd, kr, OP_ROTATE, 0, now);
        } else if (pick < 45) {
            child_op(fd, kr, OP_MAINTAIN, 0, now);
        } else if (pick < 60) {
            struct view v;
            rc = get_view(kr, now, &v);
            if (!kms_ok(rc)) {
                child_fail(fd, OP_REVOKE, rc);
            }
            uint32_t victim = v.max_id;
            if (v.n_grace > 0 && pick < 57) {
                victim = v.grace_ids[rng_below(&seed, v.n_grace)];
            }
            child_op(fd, kr, OP_REVOKE, victim, now);
        } else {
            /* A burst at one instant: crosses seal chunks, sometimes the whole budget. */
            uint64_t n = 1 + rng_below(&seed, rng_below(&seed, 16) == 0 ? MAX_BURST : 16);
            for (uint64_t i = 0; i < n; i++) {
                child_op(fd, kr, OP_SEAL, 0, now);
            }
        }
    }
}

/* ---- the parent's model of what was reported ---- */

struct ticket {
    uint32_t key_id;
    uint16_t len;
    uint64_t expires;
    uint8_t b[TICKET_CAP];
};

struct track {        /* per key id */
    uint64_t sealed;  /* seals reported */
    uint64_t durable; /* highest durable seal count seen */
    bool revoked;     /* a revoke of it is durable */
    bool present;     /* recorded in the file at the last check */
    bool have_sample; /* a ticket kept to re-open at every check while it may be alive */
    struct ticket sample;
};

struct model {
    uint64_t gen;
    uint32_t max_id;
    uint64_t now;
    struct track *tr;
    size_t n_tr;
    struct ticket *fresh; /* tickets reported since the last check */
    size_t n_fresh, cap_fresh;
    uint32_t orphans[TOK_MAX]; /* token objects of the ring the file did not reference at the
                                  last check */
    size_t n_orphans;
};

static struct track *track_of(struct model *m, uint32_t id)
{
    if (id >= m->n_tr) {
        size_t n = (size_t)id * 2 + 64;
        struct track *t = realloc(m->tr, n * sizeof(*t));
        CHECK(t != NULL, "out of memory");
        memset(t + m->n_tr, 0, (n - m->n_tr) * sizeof(*t));
        m->tr = t;
        m->n_tr = n;
    }
    return &m->tr[id];
}

static void add_fresh(struct model *m, const struct rec *r, const uint8_t *t)
{
    if (m->n_fresh == m->cap_fresh) {
        size_t n = m->cap_fresh * 2 + 256;
        struct ticket *p = realloc(m->fresh, n * sizeof(*p));
        CHECK(p != NULL, "out of memory");
        m->fresh = p;
        m->cap_fresh = n;
    }
    struct ticket *x = &m->fresh[m->n_fresh++];
    x->key_id = r->key_id;
    x->len = r->ticket_len;
    x->expires = r->expires;
    memcpy(x->b, t, r->ticket_len);
}

struct bytes {
    uint8_t *p;
    size_t n, cap;
};

/* Reads what is there (non-blocking); true at end of file. */
static bool drain(int fd, struct bytes *in)
{
    for (;;) {
        if (in->cap - in->n < 65536) {
            size_t cap = in->cap * 2 + 65536;
            uint8_t *p = realloc(in->p, cap);
            CHECK(p != NULL, "out of memory");
            in->p = p;
            in->cap = cap;
        }
        ssize_t r = read(fd, in->p + in->n, in->cap - in->n);
        if (r > 0) {
            in->n += (size_t)r;
        } else if (r == 0) {
            return true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return false;
        } else if (errno != EINTR) {
            fail("read from the child: %s", strerror(errno));
        }
    }
}

/* ---- checks after a kill ---- */

struct stats {
    unsigned iters;
    unsigned killed_in_write; /* a new PATH.tmp was left */
    unsigned tmp_empty, tmp_partial, tmp_complete;
    unsigned inflight_landed;        /* the operation in flight was durable though not reported */
    unsigned tmp_overwritten;        /* a child completed a write over a leftover PATH.tmp */
    unsigned killed_in[OP_SEAL + 1]; /* by operation in flight (0: none) */
    unsigned kills_orphaned;         /* token: the kill left at least one orphan */
    unsigned orphan_future;          /* ... generated, not yet in the file */
    unsigned orphan_past;            /* ... dropped by the file, not yet destroyed */
    unsigned orphans_swept;          /* a sweep in the next child removed earlier orphans */
    size_t max_orphans;
    unsigned kills_deferred; /* token: held until the child's token call returned */
    unsigned long ops, rotations, revokes, seals, tickets_checked;
};

/* The record of the BEGIN not followed by a DONE (the operation the kill interrupted). */
struct inflight {
    bool set;
    struct rec r;
};

/* *swept: an operation that ends with a sweep of the keystore completed (kr_update sweeps
 * after every rotation, revoke and maintain, a seal that rotated included). */
static void apply_records(struct model *m, const struct bytes *in, struct inflight *fl,
                          struct stats *s, unsigned *writes, bool *swept)
{
    size_t off = 0;
    fl->set = false;
    *swept = false;
    while (in->n - off >= sizeof(struct rec)) {
        struct rec r;
        memcpy(&r, in->p + off, sizeof(r));
        CHECK(r.magic == REC_MAGIC && r.ticket_len <= TICKET_CAP, "garbled record from the child");
        if (in->n - off - sizeof(r) < r.ticket_len) {
            break; /* cut by the kill */
        }
        const uint8_t *t = in->p + off + sizeof(r);
        off += sizeof(r) + r.ticket_len;
        CHECK(r.type != REC_FAIL, "child: %s failed: %s", op_name(r.op),
              kms_err_name((enum kms_err)r.err));
        if (r.type == REC_BEGIN) {
            CHECK(!fl->set, "two operations in flight");
            CHECK(r.gen == m->gen && r.max_id == m->max_id,
                  "child starts %s at generation %" PRIu64 " id %u, expected %" PRIu64 " id %u",
                  op_name(r.op), r.gen, r.max_id, m->gen, m->max_id);
            CHECK(r.now >= m->now, "child clock went back");
            fl->set = true;
            fl->r = r;
            continue;
        }
        CHECK(r.type == REC_DONE && fl->set && fl->r.op == r.op && fl->r.now == r.now,
              "record out of order");
        const struct rec *b = &fl->r;
        bool wrote = r.gen == m->gen + 1;
        CHECK(wrote || r.gen == m->gen, "%s moved the generation from %" PRIu64 " to %" PRIu64,
              op_name(r.op), m->gen, r.gen);
        CHECK(r.max_id == m->max_id + (wrote ? b->add : 0), "%s: highest id %u, expected %u + %u",
              op_name(r.op), r.max_id, m->max_id, wrote ? b->add : 0);
        s->ops++;
        *writes += wrote;
        *swept = *swept || r.op != OP_SEAL || (wrote && b->add > 0);
        switch (r.op) {
        case OP_ROTATE:
            CHECK(wrote && r.key_id == r.max_id, "rotate: new id %u, highest %u", r.key_id,
                  r.max_id);
            s->rotations++;
            break;
        case OP_REVOKE:
            CHECK(wrote && r.key_id == b->key_id, "revoke did not write");
            track_of(m, r.key_id)->revoked = true;
            s->revokes++;
            break;
        case OP_SEAL:
            CHECK(r.key_id == r.max_id && r.ticket_len > 0, "sealed under %u, active %u", r.key_id,
                  r.max_id);
            track_of(m, r.key_id)->sealed++;
            add_fresh(m, &r, t);
            s->seals++;
            break;
        default:
            break;
        }
        m->gen = r.gen;
        m->max_id = r.max_id;
        m->now = r.now;
        fl->set = false;
    }
}

/* Structure of the file and the seal counts; marks the ids still recorded. */
static void check_list(struct model *m, struct kms_keyring *kr, uint64_t now)
{
    struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    CHECK_OK(kms_keyring_list(kr, now, k, KMS_KEYRING_MAX_RECORDS, &n));
    CHECK(n >= 1, "no key records");
    for (size_t i = 0; i < m->n_tr; i++) {
        m->tr[i].present = false;
    }
    size_t active = 0;
    for (size_t i = 0; i < n; i++) { /* newest first */
        CHECK(i == 0 || k[i].id < k[i - 1].id, "ids not strictly increasing");
        active += k[i].state == KMS_KEY_ACTIVE;
        struct track *t = track_of(m, k[i].id);
        CHECK(k[i].seals >= t->sealed, "key %u: %" PRIu64 " durable seals, %" PRIu64 " reported",
              k[i].id, k[i].seals, t->sealed);
        CHECK(k[i].seals >= t->durable, "key %u: seal count fell from %" PRIu64 " to %" PRIu64,
              k[i].id, t->durable, k[i].seals);
        CHECK(k[i].seals <= MAX_SEALS, "key %u: %" PRIu64 " seals", k[i].id, k[i].seals);
        t->durable = k[i].seals;
        t->present = true;
        if (t->revoked) {
            CHECK(k[i].state == KMS_KEY_DESTROYED && k[i].end == KMS_KEY_END_REVOKED,
                  "key %u: revoke lost", k[i].id);
        }
        if (k[i].state == KMS_KEY_DESTROYED && k[i].end == KMS_KEY_END_EXPIRED) {
            CHECK(k[i].destroyed >= k[i].grace_until && k[i].destroyed <= now,
                  "key %u destroyed early", k[i].id);
        }
    }
    CHECK(active == 1 && k[0].state == KMS_KEY_ACTIVE, "%zu active keys, newest %u %s", active,
          k[0].id, kms_key_state_name(k[0].state));
    CHECK(k[0].id == m->max_id, "highest id %u, expected %u", k[0].id, m->max_id);
    for (uint32_t id = 1; id < m->n_tr; id++) {
        /* A revoked key stays recorded as destroyed until pruned; pruning never takes a live
         * record. */
        CHECK(m->tr[id].present || id > m->max_id || !m->tr[id].have_sample || m->tr[id].revoked ||
                  m->tr[id].sample.expires <= now,
              "live key %u lost from the file", id);
    }
}

/* Opens one reported ticket; returns whether its key may still open anything. */
static bool check_ticket(struct model *m, struct kms_keyring *kr, uint64_t now,
                         const struct ticket *x)
{
    struct kms_ticket_claims c;
    kms_result rc = kms_ticket_open(kr, now, x->b, x->len, KMS_TICKET_MEDIA, &c);
    bool alive = !track_of(m, x->key_id)->revoked && now < x->expires;
    if (alive) {
        CHECK(rc.err == KMS_OK && c.key_id == x->key_id,
              "ticket under live key %u does not open at %" PRIu64 ": %s", x->key_id, now,
              kms_err_name(rc.err));
    } else if (!track_of(m, x->key_id)->present) {
        CHECK(rc.err == KMS_ERR_KEY_UNKNOWN, "ticket under pruned key %u: %s", x->key_id,
              kms_err_name(rc.err));
    } else {
        CHECK(rc.err == KMS_ERR_KEY_DESTROYED, "ticket under dead key %u: %s", x->key_id,
              kms_err_name(rc.err));
    }
    kms_ticket_claims_wipe(&c);
    return alive;
}

static bool read_file(const char *path, struct bytes *b)
{
    b->n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        CHECK(errno == ENOENT, "%s: %s", path, strerror(errno));
        return false;
    }
    for (;;) {
        if (b->n == b->cap) {
            size_t cap = b->cap * 2 + 4096;
            uint8_t *p = realloc(b->p, cap);
            CHECK(p != NULL, "out of memory");
            b->p = p;
            b->cap = cap;
        }
        ssize_t r = read(fd, b->p + b->n, b->cap - b->n);
        CHECK(r >= 0 || errno == EINTR, "%s: %s", path, strerror(errno));
        if (r == 0) {
            break;
        }
        b->n += r > 0 ? (size_t)r : 0;
    }
    close(fd);
    return true;
}

static void write_file(const char *path, const struct bytes *b)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0, "%s: %s", path, strerror(errno));
    CHECK(write(fd, b->p, b->n) == (ssize_t)b->n, "%s: short write", path);
    close(fd);
}

/* A PATH.tmp the kill left: it must not be visible, and when complete it is exactly the write
 * in flight. Returns true when it is new (the kill landed inside a write). */
static bool check_leftover(const struct ks_kind *kind, const struct model *m,
                           const struct inflight *fl, const struct bytes *before, bool had_before,
                           struct bytes *now_b, uint64_t file_gen, struct stats *s)
{
    char tmp[96], probe[96];
    snprintf(tmp, sizeof(tmp), "%s/keyring.tmp", g_dir);
    snprintf(probe, sizeof(probe), "%s/probe", g_dir);
    if (!read_file(tmp, now_b)) {
        return false;
    }
    if (had_before && before->n == now_b->n && memcmp(before->p, now_b->p, now_b->n) == 0) {
        return false; /* the same leftover as before this child: not touched */
    }
    CHECK(fl->set, "a new PATH.tmp but no operation in flight");
    CHECK(file_gen == m->gen,
          "the interrupted write is visible (generation %" PRIu64 ", expected %" PRIu64 ")",
          file_gen, m->gen);
    if (now_b->n == 0) {
        s->tmp_empty++;
        return true;
    }
    write_file(probe, now_b);
    struct kms_keystore *ks = NULL;
    struct kms_keyring *kr = NULL;
    CHECK_OK(kind->open(&ks));
    kms_result rc = kms_keyring_open(probe, ks, &kr);
    if (kms_ok(rc)) {
        s->tmp_complete++;
        struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
        size_t n = 0;
        CHECK_OK(kms_keyring_list(kr, fl->r.now, k, KMS_KEYRING_MAX_RECORDS, &n));
        CHECK(kms_keyring_generation(kr) == m->gen + 1 && k[0].id == m->max_id + fl->r.add,
              "leftover PATH.tmp is not the write in flight");
        kms_keyring_close(kr);
    } else {
        s->tmp_partial++;
    }
    kms_keystore_close(ks);
    unlink(probe);
    return true;
}

/* ---- the token, seen through the module directly (never through the library) ---- */

/* Copies the value of attribute `name` of the PKCS#11 URI (path or query; the test URIs
 * carry no percent-escapes). */
static void uri_attr(const char *uri, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = uri; (p = strstr(p, name)) != NULL; p += nl) {
        bool starts = p > uri && strchr(":;?&", p[-1]) != NULL;
        if (starts && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t n = strcspn(v, ";?&");
            CHECK(n < cap, "URI attribute %s too long", name);
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
    fail("IMSKMS_TEST_HSM_URI has no %s", name);
}

struct tok_view {
    size_t n;              /* secret-key objects whose CKA_ID starts with the ring id */
    uint32_t ids[TOK_MAX]; /* their key ids (the last 4 bytes of the CKA_ID, big-endian) */
};

#define TOK_OK(call) CHECK((call) == CKR_OK, "token: %s failed", #call)

/* Lists the ring's objects on the token with a module instance of the test's own: C_Initialize
 * must succeed, so it also proves that the parent holds no PKCS#11 state when it next forks. */
static void tok_list(const uint8_t ring[KMS_RING_ID_LEN], struct tok_view *tv)
{
    const char *mod = getenv("IMSKMS_SOFTHSM_MODULE"), *uri = getenv("IMSKMS_TEST_HSM_URI");
    CHECK(mod != NULL && uri != NULL, "run under tests/hsm/with_softhsm.sh");
    char label[64], pin_path[512], pin[64];
    uri_attr(uri, "token", label, sizeof(label));
    uri_attr(uri, "pin-source", pin_path, sizeof(pin_path));
    CHECK(strncmp(pin_path, "file:", 5) == 0, "pin-source is not a file");
    FILE *pf = fopen(pin_path + 5, "r");
    CHECK(pf != NULL && fgets(pin, sizeof(pin), pf) != NULL, "%s: cannot read", pin_path + 5);
    fclose(pf);
    pin[strcspn(pin, "\r\n")] = '\0';

    void *dl = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
    CHECK(dl != NULL, "dlopen %s: %s", mod, dlerror());
    CK_C_GetFunctionList get = NULL;
    void *sym = dlsym(dl, "C_GetFunctionList");
    CHECK(sym != NULL, "%s: no C_GetFunctionList", mod);
    memcpy(&get, &sym, sizeof(get));
    CK_FUNCTION_LIST_PTR f = NULL;
    TOK_OK(get(&f));
    CK_RV rv = f->C_Initialize(NULL);
    CHECK(rv == CKR_OK, "C_Initialize: 0x%lx (the parent still holds the module)",
          (unsigned long)rv);
    CK_SLOT_ID slots[16];
    CK_ULONG n_slots = 16;
    TOK_OK(f->C_GetSlotList(CK_TRUE, slots, &n_slots));
    CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
    for (CK_ULONG i = 0; i < n_slots && sess == CK_INVALID_HANDLE; i++) {
        CK_TOKEN_INFO ti;
        TOK_OK(f->C_GetTokenInfo(slots[i], &ti));
        size_t ll = strlen(label);
        if (ll <= sizeof(ti.label) && memcmp(ti.label, label, ll) == 0 &&
            (ll == sizeof(ti.label) || ti.label[ll] == ' ')) {
            TOK_OK(f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &sess));
        }
    }
    CHECK(sess != CK_INVALID_HANDLE, "no token labelled %s", label);
    TOK_OK(f->C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)));

    /* Every secret key, whatever its type: a stray object of the ring is counted too. */
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl = {CKA_CLASS, &cls, sizeof(cls)};
    CK_OBJECT_HANDLE h[4 * TOK_MAX];
    CK_ULONG n = 0;
    TOK_OK(f->C_FindObjectsInit(sess, &tmpl, 1));
    TOK_OK(f->C_FindObjects(sess, h, 4 * TOK_MAX, &n));
    TOK_OK(f->C_FindObjectsFinal(sess));
    CHECK(n < 4 * TOK_MAX, "too many secret keys on the token");
    tv->n = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        uint8_t id[64];
        CK_ATTRIBUTE a = {CKA_ID, id, sizeof(id)};
        rv = f->C_GetAttributeValue(sess, h[i], &a, 1);
        CHECK(rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL, "C_GetAttributeValue: 0x%lx",
              (unsigned long)rv);
        if (rv != CKR_OK || a.ulValueLen < KMS_RING_ID_LEN ||
            memcmp(id, ring, KMS_RING_ID_LEN) != 0) {
            continue; /* not of this keyring */
        }
        CHECK(a.ulValueLen == KMS_RING_ID_LEN + 4, "object of the ring with a %lu-byte CKA_ID",
              (unsigned long)a.ulValueLen);
        CHECK(tv->n < TOK_MAX, "more than %d objects of the ring", TOK_MAX);
        tv->ids[tv->n++] = (uint32_t)id[16] << 24 | (uint32_t)id[17] << 16 | (uint32_t)id[18] << 8 |
                           (uint32_t)id[19];
    }
    TOK_OK(f->C_Logout(sess));
    TOK_OK(f->C_CloseSession(sess));
    TOK_OK(f->C_Finalize(NULL));
    dlclose(dl);
}

static bool id_in(uint32_t id, const uint32_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (set[i] == id) {
            return true;
        }
    }
    return false;
}

/* What the file references: its ring id and the ids it records ACTIVE or GRACE. */
struct file_keys {
    uint8_t ring[KMS_RING_ID_LEN];
    uint32_t max_id;
    uint32_t live[KMS_KEYRING_MAX_RECORDS];
    size_t n_live;
};

static void file_keys_get(const char *path, struct kms_keyring *kr, struct file_keys *fk)
{
    /* The ring id sits after the magic (8), the format (1) and the keystore kind (1): see
     * docs/protocol.md. */
    struct bytes b = {0};
    CHECK(read_file(path, &b) && b.n >= 26, "%s: too short", path);
    memcpy(fk->ring, b.p + 10, KMS_RING_ID_LEN);
    free(b.p);
    struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    CHECK_OK(kms_keyring_list(kr, 0, k, KMS_KEYRING_MAX_RECORDS, &n));
    fk->max_id = k[0].id;
    fk->n_live = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i].state == KMS_KEY_ACTIVE || k[i].state == KMS_KEY_GRACE) {
            fk->live[fk->n_live++] = k[i].id;
        }
    }
}

/*
 * The token against the file after a kill. The keyring generates a key before the write that
 * references it and destroys a key after the write that drops it, so:
 *   - every key the file records ACTIVE or GRACE has exactly one object (never missing);
 *   - an object the file does not reference (an orphan) is one of
 *       a. generated by the operation in flight before its write, which did not land: ids
 *          max_id + 1 .. max_id + add (1 or 2; ids are never reused, and a later generate of
 *          the same id destroys the leftover first, so these stay within max_id + 2);
 *       b. live before the operation in flight, whose write landed and dropped it (revoke,
 *          expiry) before it was destroyed;
 *       c. an orphan of the previous check, unless an operation that sweeps (rotate, revoke,
 *          maintain, a seal that rotated) completed since: after a sweep none is left.
 * max_before is the highest id before the operation in flight, landed whether its write
 * landed.
 */
static void check_token(struct model *m, const struct file_keys *fk, const struct inflight *fl,
                        uint32_t max_before, bool landed, bool swept, struct stats *s)
{
    struct tok_view tv;
    tok_list(fk->ring, &tv);
    for (size_t i = 0; i < tv.n; i++) {
        CHECK(!id_in(tv.ids[i], tv.ids, i), "key %u has two objects on the token", tv.ids[i]);
    }
    for (size_t i = 0; i < fk->n_live; i++) {
        CHECK(id_in(fk->live[i], tv.ids, tv.n), "key %u is in the file but not on the token",
              fk->live[i]);
    }
    uint32_t orphans[TOK_MAX];
    size_t n = 0, future = 0, past = 0;
    for (size_t i = 0; i < tv.n; i++) {
        uint32_t id = tv.ids[i];
        if (id_in(id, fk->live, fk->n_live)) {
            continue;
        }
        bool a = fl->set && !landed && id > max_before && id - max_before <= fl->r.add;
        bool b = fl->set && landed && id <= max_before && max_before - id < 64 &&
                 ((fl->r.live >> (max_before - id)) & 1) != 0;
        bool c = !swept && id_in(id, m->orphans, m->n_orphans);
        CHECK(a || b || c,
              "orphan key %u on the token after a kill in %s (highest id %u before, %u in the "
              "file, write %s; %zu orphans before, %s)",
              id, fl->set ? op_name(fl->r.op) : "(between operations)", max_before, fk->max_id,
              landed ? "landed" : "not landed", m->n_orphans,
              swept ? "swept since" : "no sweep since");
        CHECK(!(id > fk->max_id && id - fk->max_id > 2), "orphan %u beyond highest id %u + 2", id,
              fk->max_id);
        future += id > fk->max_id;
        past += id <= fk->max_id;
        orphans[n++] = id;
    }
    if (swept && m->n_orphans > 0) {
        s->orphans_swept++;
    }
    if (n > 0) {
        s->kills_orphaned++;
        s->orphan_future += future > 0;
        s->orphan_past += past > 0;
        s->max_orphans = n > s->max_orphans ? n : s->max_orphans;
    }
    memcpy(m->orphans, orphans, n * sizeof(orphans[0]));
    m->n_orphans = n;
}

/* Just after an operation that swept completed: the token holds exactly the live keys. */
static void check_token_clean(const struct ks_kind *kind, const char *path, const char *when)
{
    struct kms_keystore *ks = NULL;
    struct kms_keyring *kr = NULL;
    struct file_keys fk;
    struct tok_view tv;
    CHECK_OK(kind->open(&ks));
    CHECK_OK(kms_keyring_open(path, ks, &kr));
    file_keys_get(path, kr, &fk);
    kms_keyring_close(kr);
    kms_keystore_close(ks); /* the module is finalised before the test's own view */
    tok_list(fk.ring, &tv);
    for (size_t i = 0; i < fk.n_live; i++) {
        CHECK(id_in(fk.live[i], tv.ids, tv.n), "%s: key %u missing from the token", when,
              fk.live[i]);
    }
    CHECK(tv.n == fk.n_live, "%s: %zu objects of the ring on the token, %zu live keys", when, tv.n,
          fk.n_live);
}

/* After a kill: the file against the reports, then every fresh ticket and the kept samples,
 * then (token keystores) the token's objects against the file. */
static void check_after_kill(const struct ks_kind *kind, const char *path, struct model *m,
                             const struct inflight *fl, bool swept, const struct bytes *tmp_before,
                             bool had_tmp, struct bytes *tmp_now, struct stats *s)
{
    struct kms_keystore *ks = NULL;
    struct kms_keyring *kr = NULL;
    CHECK_OK(kind->open(&ks));
    kms_result rc = kms_keyring_open(path, ks, &kr);
    CHECK(kms_ok(rc), "keyring does not open after a kill in %s: %s",
          fl->set ? op_name(fl->r.op) : "(between operations)", kms_err_name(rc.err));
    uint64_t gen = kms_keyring_generation(kr);
    uint64_t now = fl->set ? fl->r.now : m->now;
    s->killed_in[fl->set ? fl->r.op : 0]++;

    if (check_leftover(kind, m, fl, tmp_before, had_tmp, tmp_now, gen, s)) {
        s->killed_in_write++;
    }
    uint32_t max_before = m->max_id;
    bool landed = gen == m->gen + 1;
    if (landed) {
        CHECK(fl->set, "generation %" PRIu64 " with no operation in flight", gen);
        s->inflight_landed++;
        m->gen = gen;
        m->max_id += fl->r.add;
        if (fl->r.op == OP_REVOKE) {
            track_of(m, fl->r.key_id)->revoked = true;
        }
    } else {
        CHECK(gen == m->gen, "generation %" PRIu64 " after the kill, reported %" PRIu64, gen,
              m->gen);
    }
    m->now = now;
    check_list(m, kr, now);

    for (size_t i = 0; i < m->n_fresh; i++) {
        const struct ticket *x = &m->fresh[i];
        if (check_ticket(m, kr, now, x)) {
            struct track *t = track_of(m, x->key_id);
            t->sample = *x;
            t->have_sample = true;
        }
        s->tickets_checked++;
    }
    m->n_fresh = 0;
    for (uint32_t id = 1; id <= m->max_id && id < m->n_tr; id++) {
        struct track *t = &m->tr[id];
        if (t->have_sample) {
            t->have_sample = check_ticket(m, kr, now, &t->sample);
            s->tickets_checked++;
        }
    }
    struct file_keys fk;
    file_keys_get(path, kr, &fk);
    kms_keyring_close(kr);
    kms_keystore_close(ks);
    if (kind->token) {
        check_token(m, &fk, fl, max_before, landed, swept, s);
    }
}

/* ---- one run per keystore ---- */

static uint64_t pick_delay_ns(uint64_t *seed)
{
    switch (rng_below(seed, 8)) {
    case 0:
        return 0;
    case 1:
        return rng_below(seed, 50000); /* < 50 us: while the child starts */
    case 2:
    case 3:
        return 50000 + rng_below(seed, 1950000); /* 50 us .. 2 ms */
    default:
        return 2000000 + rng_below(seed, 18000000); /* 2 .. 20 ms */
    }
}

/* Sleeps (never spins: a spinning parent would keep the child off its CPU) until the delay is
 * over, reading what the child reports meanwhile so that the pipe never fills. */
static void wait_draining(int fd, uint64_t delay_ns, struct bytes *in)
{
    uint64_t end = mono_ns() + delay_ns;
    for (;;) {
        (void)drain(fd, in);
        uint64_t t = mono_ns();
        if (t >= end) {
            return;
        }
        uint64_t left = end - t;
        if (left >= 1000000) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            (void)poll(&p, 1, (int)(left / 1000000));
        } else {
            struct timespec ts = {0, (long)left};
            (void)nanosleep(&ts, NULL);
        }
    }
}

/* Token keystores: the shared page the child's shim reads, on an unlinked file in g_dir whose
 * descriptor the child inherits (IMSKMS_CRASH_GUARD_FD). */
static int guard_setup(void)
{
    char gp[96];
    snprintf(gp, sizeof(gp), "%s/guard", g_dir);
    int fd = open(gp, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && unlink(gp) == 0, "%s: %s", gp, strerror(errno));
    CHECK(ftruncate(fd, sizeof(*g_guard)) == 0, "ftruncate: %s", strerror(errno));
    void *p = mmap(NULL, sizeof(*g_guard), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
    g_guard = p;
    char v[16];
    snprintf(v, sizeof(v), "%d", fd);
    CHECK(setenv("IMSKMS_CRASH_GUARD_FD", v, 1) == 0, "setenv: %s", strerror(errno));
    return fd;
}

/* Stops the child's token calls and waits for the one under way (if any) to return: returns
 * whether one was. */
static bool guard_hold(int fd, struct bytes *in)
{
    if (g_guard == NULL) {
        return false;
    }
    atomic_store(&g_guard->stop, 1);
    bool waited = false;
    uint64_t limit = mono_ns() + UINT64_C(30000000000);
    while (atomic_load(&g_guard->busy) != 0) {
        waited = true;
        CHECK(mono_ns() < limit, "the child's token call did not return in 30 s");
        (void)drain(fd, in);
        struct timespec ts = {0, 20000};
        (void)nanosleep(&ts, NULL);
    }
    return waited;
}

static void run(const struct ks_kind *kind, unsigned iters, uint64_t seed)
{
    uint64_t t_start = mono_ns();
    char path[128], tmp[160];
    snprintf(g_dir, sizeof(g_dir), "/tmp/imskms-crash-XXXXXX");
    CHECK(mkdtemp(g_dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof(path), "%s/keyring", g_dir);
    snprintf(tmp, sizeof(tmp), "%s/keyring.tmp", g_dir);
    int guard_fd = kind->token ? guard_setup() : -1;

    struct kms_keystore *ks = NULL;
    struct kms_keyring *kr = NULL;
    struct kms_keyring_policy pol = {LIFETIME, GRACE, MAX_SEALS};
    CHECK_OK(kind->open(&ks));
    CHECK_OK(kms_keyring_create(path, ks, &pol, T0, &kr));
    kms_keyring_close(kr);
    kms_keystore_close(ks);
    if (kind->token) {
        check_token_clean(kind, path, "after create");
    }

    struct model m = {.gen = 1, .max_id = 1, .now = T0};
    struct stats s = {0};
    struct bytes in = {0}, tmp_before = {0}, tmp_now = {0};
    for (unsigned it = 0; it < iters; it++) {
        bool had_tmp = read_file(tmp, &tmp_before);
        uint64_t child_seed = rng_next(&seed);
        uint64_t delay = pick_delay_ns(&seed);
        int p[2];
        CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
        fflush(NULL);
        g_child = fork();
        CHECK(g_child >= 0, "fork: %s", strerror(errno));
        if (g_child == 0) {
            g_in_child = true;
            close(p[0]);
            child_main(kind, path, p[1], m.now, child_seed);
        }
        close(p[1]);
        CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0, "fcntl: %s", strerror(errno));
        in.n = 0;
        wait_draining(p[0], delay * kind->delay_scale, &in);
        s.kills_deferred += guard_hold(p[0], &in);
        kill(g_child, SIGKILL);
        int st = 0;
        while (waitpid(g_child, &st, 0) < 0) {
            CHECK(errno == EINTR, "waitpid: %s", strerror(errno));
        }
        g_child = -1;
        if (g_guard != NULL) {
            /* The kill may land between the shim's increment of `busy` and its decrement on
             * the way to parking (it saw `stop`): the count the dead child left is stale, and
             * the next child starts from zero. */
            atomic_store(&g_guard->busy, 0);
            atomic_store(&g_guard->stop, 0);
        }
        CHECK(fcntl(p[0], F_SETFL, 0) == 0, "fcntl: %s", strerror(errno));
        while (!drain(p[0], &in)) {
        }
        close(p[0]);

        struct inflight fl = {0};
        unsigned writes = 0;
        bool swept = false;
        apply_records(&m, &in, &fl, &s, &writes, &swept); /* a FAIL record fails here */
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child ended with status 0x%x", st);
        if (had_tmp && writes > 0) {
            s.tmp_overwritten++;
        }
        check_after_kill(kind, path, &m, &fl, swept, &tmp_before, had_tmp, &tmp_now, &s);
        s.iters++;
    }

    /* Whatever the last kill left, the keyring still takes a write. On a token, the parent's
     * own maintain (at the last reported time: it may rotate and expire) sweeps the last
     * kill's orphans, and the final rotation leaves none either. */
    size_t orphans_at_end = m.n_orphans;
    if (kind->token) {
        CHECK_OK(kind->open(&ks));
        CHECK_OK(kms_keyring_open(path, ks, &kr));
        CHECK_OK(kms_keyring_maintain(kr, m.now, NULL, NULL));
        struct kms_key_info top; /* newest first: the active key, rotated or not */
        size_t n_top = 0;
        CHECK_OK(kms_keyring_list(kr, m.now, &top, 1, &n_top));
        m.max_id = top.id;
        kms_keyring_close(kr);
        kms_keystore_close(ks);
        check_token_clean(kind, path, "after the parent's maintain");
    }
    CHECK_OK(kind->open(&ks));
    CHECK_OK(kms_keyring_open(path, ks, &kr));
    struct view v;
    uint32_t id = 0;
    CHECK_OK(get_view(kr, m.now + 1, &v));
    CHECK_OK(kms_keyring_rotate(kr, m.now + 1, &id));
    CHECK(id == m.max_id + keys_added(OP_ROTATE, 0, &v, m.now + 1),
          "final rotation made id %u after %u", id, m.max_id);
    kms_keyring_close(kr);
    kms_keystore_close(ks);
    if (kind->token) {
        check_token_clean(kind, path, "after the final rotation");
    }

    double secs = (double)(mono_ns() - t_start) / 1e9;
    printf("keyring_crash[%s]: %u iterations, %u kills mid-write (PATH.tmp left: %u empty, %u "
           "partial, %u complete), %u in-flight writes landed unreported, %u leftovers "
           "overwritten by the next child; %lu operations, %lu rotations reported, %u key ids, "
           "%lu revokes, %lu seals, %lu ticket opens checked; %.1f s\n",
           kind->name, s.iters, s.killed_in_write, s.tmp_empty, s.tmp_partial, s.tmp_complete,
           s.inflight_landed, s.tmp_overwritten, s.ops, s.rotations, m.max_id, s.revokes, s.seals,
           s.tickets_checked, secs);
    printf("keyring_crash[%s]: kills between operations %u, in rotate %u, maintain %u, revoke %u, "
           "seal %u\n",
           kind->name, s.killed_in[0], s.killed_in[OP_ROTATE], s.killed_in[OP_MAINTAIN],
           s.killed_in[OP_REVOKE], s.killed_in[OP_SEAL]);
    if (kind->token) {
        printf("keyring_crash[%s]: token objects checked after every kill: %u kills left orphans "
               "(%u a generated key not yet in the file, %u a dropped key not yet destroyed; at "
               "most %zu at once), %u times the next child's sweep removed them, %zu left at the "
               "end for the parent's maintain; %u kills held until a token call returned\n",
               kind->name, s.kills_orphaned, s.orphan_future, s.orphan_past, s.max_orphans,
               s.orphans_swept, orphans_at_end, s.kills_deferred);
        CHECK(iters == 0 || s.kills_orphaned > 0,
              "no kill left an orphan on the token: the orphan rule went untested (tune the "
              "delays)");
    }
    CHECK(iters == 0 || s.killed_in_write > 0,
          "no kill landed inside a write: the test proved nothing (tune the delays)");
    free(in.p);
    free(tmp_before.p);
    free(tmp_now.p);
    free(m.tr);
    free(m.fresh);
    if (g_guard != NULL) {
        munmap(g_guard, sizeof(*g_guard));
        g_guard = NULL;
        close(guard_fd);
        unsetenv("IMSKMS_CRASH_GUARD_FD");
    }
    rm_dir(g_dir);
    g_dir[0] = '\0';
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    CHECK(errno == 0 && end != s && *end == '\0', "bad %s '%s'", what, s);
    return (uint64_t)v;
}

int main(int argc, char **argv)
{
    const char *e_iters = getenv("IMSKMS_CRASH_ITERS");
    const char *e_seed = getenv("IMSKMS_CRASH_SEED");
    const char *keystore = getenv("IMSKMS_CRASH_KEYSTORE");
    uint64_t iters = DEFAULT_ITERS, seed = DEFAULT_SEED;
    if (argc > 2 && strcmp(argv[1], "--keystore") == 0) {
        keystore = argv[2];
        argc -= 2;
        argv += 2;
    }
    if (keystore == NULL) {
        keystore = "file";
    }
    if (argc > 1) {
        iters = parse_u64(argv[1], "iteration count");
    } else if (e_iters != NULL) {
        iters = parse_u64(e_iters, "IMSKMS_CRASH_ITERS");
    }
    if (argc > 2) {
        seed = parse_u64(argv[2], "seed");
    } else if (e_seed != NULL) {
        seed = parse_u64(e_seed, "IMSKMS_CRASH_SEED");
    }
    CHECK(iters <= 1000000, "too many iterations");
    printf("keyring_crash: seed 0x%016" PRIx64 " (IMSKMS_CRASH_SEED to replay), %" PRIu64
           " iterations, keystore %s\n",
           seed, iters, keystore);
    bool any = false;
    for (size_t i = 0; i < sizeof(ks_kinds) / sizeof(ks_kinds[0]); i++) {
        if (strcmp(keystore, "all") == 0 || strcmp(keystore, ks_kinds[i].name) == 0) {
            run(&ks_kinds[i], (unsigned)iters, seed);
            any = true;
        }
    }
    CHECK(any, "unknown keystore '%s' (file, pkcs11 or all)", keystore);
    return 0;
}
