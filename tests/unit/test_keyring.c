/* SPDX-License-Identifier: Apache-2.0 */
/* The Kkms keyring: life cycle on an injected clock, durability, refresh, integrity. */
#include "testlib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/kms_ossl.h"
#include "keyring/kms_keyring.h"
#include "ticket/kms_ticket.h"

#define T0 1000000u

struct fx {
    char dir[64];
    char path[128];
    uint8_t kek[32];
    struct kms_keystore *ks;
    struct kms_keyring *kr;
};

static struct fx *fx_new(uint64_t lifetime, uint64_t grace, uint64_t max_seals)
{
    struct fx *f = calloc(1, sizeof(*f));
    th_tmpdir(f->dir, sizeof(f->dir));
    th_path(f->path, sizeof(f->path), f->dir, "keyring");
    memset(f->kek, 0x5a, sizeof(f->kek));
    expect_ok(kms_keystore_file_open_kek(f->kek, &f->ks));
    struct kms_keyring_policy pol = {lifetime, grace, max_seals};
    expect_ok(kms_keyring_create(f->path, f->ks, &pol, T0, &f->kr));
    return f;
}

static void fx_free(struct fx *f)
{
    kms_keyring_close(f->kr);
    kms_keystore_close(f->ks);
    th_rmtree(f->dir);
    free(f);
}

static size_t seal(struct kms_keyring *kr, uint64_t now, uint64_t expires, uint8_t *t,
                   uint32_t *key_id, uint64_t *capped)
{
    struct kms_ticket_claims c;
    memset(&c, 0, sizeof(c));
    c.kind = KMS_TICKET_MEDIA;
    c.expires = expires;
    c.tgk_len = 16;
    expect_ok(kms_ticket_ident_set(&c.initiator, "sip:a@x"));
    expect_ok(kms_ticket_ident_set(&c.responder[0], "sip:b@x"));
    c.n_responder = 1;
    struct kms_buf b;
    kms_buf_init_fixed(&b, t, KMS_TICKET_MAX, false);
    expect_ok(kms_ticket_seal(kr, now, &c, &b));
    if (key_id != NULL) {
        *key_id = c.key_id;
    }
    if (capped != NULL) {
        *capped = c.expires;
    }
    return kms_buf_len(&b);
}

static kms_result open_t(struct kms_keyring *kr, uint64_t now, const uint8_t *t, size_t n)
{
    struct kms_ticket_claims c;
    return kms_ticket_open(kr, now, t, n, KMS_TICKET_MEDIA, &c);
}

static struct kms_key_info info_of(struct kms_keyring *kr, uint64_t now, uint32_t id)
{
    struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    expect_ok(kms_keyring_list(kr, now, k, KMS_KEYRING_MAX_RECORDS, &n));
    for (size_t i = 0; i < n; i++) {
        if (k[i].id == id) {
            return k[i];
        }
    }
    fail_msg("key %u not listed", id);
    return k[0];
}

static size_t n_active(struct kms_keyring *kr, uint64_t now)
{
    struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0, a = 0;
    expect_ok(kms_keyring_list(kr, now, k, KMS_KEYRING_MAX_RECORDS, &n));
    for (size_t i = 0; i < n; i++) {
        a += k[i].state == KMS_KEY_ACTIVE;
    }
    return a;
}

static void test_create_and_policy(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 50, 10);
    struct kms_keyring *again = NULL;
    struct kms_keyring_policy pol = {100, 50, 10};
    expect_err(kms_keyring_create(f->path, f->ks, &pol, T0, &again), KMS_ERR_EXISTS);
    struct kms_key_info k = info_of(f->kr, T0, 1);
    assert_int_equal(k.state, KMS_KEY_ACTIVE);
    assert_int_equal(k.activated, T0);
    assert_int_equal(k.active_until, T0 + 100);
    assert_int_equal(k.grace_until, T0 + 150);
    struct stat s;
    assert_int_equal(stat(f->path, &s), 0);
    assert_int_equal(s.st_mode & 0777, 0600);

    char p2[160];
    th_path(p2, sizeof(p2), f->dir, "other");
    struct kms_keyring_policy bad[] = {
        {0, 50, 10},
        {100, 0, 10},
        {100, 100 * 32 + 1, 10},
        {100, 50, 0},
        {100, 50, (1ull << 32) + 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_err(kms_keyring_create(p2, f->ks, &bad[i], T0, &again), KMS_ERR_ARG);
    }
    assert_int_not_equal(access(p2, F_OK), 0); /* nothing written for a refused policy */
    fx_free(f);
}

/* Seal, rotate by time, open in the grace period, refuse after it. */
static void test_grace_period(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 50, 1000000);
    uint8_t t1[KMS_TICKET_MAX], t2[KMS_TICKET_MAX];
    uint32_t id = 0;
    uint64_t capped = 0;
    size_t n1 = seal(f->kr, T0 + 10, T0 + 100000, t1, &id, &capped);
    assert_int_equal(id, 1);
    assert_int_equal(capped, T0 + 150); /* capped at the key's end of grace */
    /* Past key 1's lifetime the next seal rotates first. */
    size_t n2 = seal(f->kr, T0 + 100, T0 + 100000, t2, &id, NULL);
    assert_int_equal(id, 2);
    assert_int_equal(info_of(f->kr, T0 + 100, 1).state, KMS_KEY_GRACE);
    assert_int_equal(n_active(f->kr, T0 + 100), 1);
    /* Grace: key 1 still opens, until its grace_until, not a second more. */
    expect_ok(open_t(f->kr, T0 + 149, t1, n1));
    expect_err(open_t(f->kr, T0 + 150, t1, n1), KMS_ERR_KEY_DESTROYED);
    expect_ok(open_t(f->kr, T0 + 150, t2, n2));
    /* Housekeeping records the destruction; the key stays refused. */
    size_t destroyed = 0;
    bool rotated = false;
    expect_ok(kms_keyring_maintain(f->kr, T0 + 150, &destroyed, &rotated));
    assert_int_equal(destroyed, 1);
    assert_false(rotated);
    struct kms_key_info k = info_of(f->kr, T0 + 150, 1);
    assert_int_equal(k.state, KMS_KEY_DESTROYED);
    assert_int_equal(k.end, KMS_KEY_END_EXPIRED);
    expect_err(open_t(f->kr, T0 + 151, t1, n1), KMS_ERR_KEY_DESTROYED);
    fx_free(f);
}

/* An early rotation keeps the old key until the end of grace its tickets were capped at. */
static void test_early_rotation_keeps_cap(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 50, 1000000);
    uint8_t t[KMS_TICKET_MAX];
    uint64_t capped = 0;
    size_t n = seal(f->kr, T0, T0 + 100000, t, NULL, &capped);
    uint32_t id = 0;
    expect_ok(kms_keyring_rotate(f->kr, T0 + 1, &id));
    assert_int_equal(id, 2);
    expect_ok(kms_keyring_maintain(f->kr, T0 + 149, NULL, NULL));
    expect_ok(open_t(f->kr, capped - 1, t, n));
    fx_free(f);
}

static void test_count_forced_rotation(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 5);
    uint8_t t[KMS_TICKET_MAX];
    uint32_t id = 0;
    for (int i = 0; i < 5; i++) {
        seal(f->kr, T0 + 1, T0 + 60, t, &id, NULL);
        assert_int_equal(id, 1);
    }
    seal(f->kr, T0 + 1, T0 + 60, t, &id, NULL);
    assert_int_equal(id, 2);
    assert_int_equal(info_of(f->kr, T0 + 1, 1).seals, 5);
    assert_int_equal(info_of(f->kr, T0 + 1, 1).state, KMS_KEY_GRACE);
    fx_free(f);
}

/* Seal counts are reserved in chunks: each holder reserves its own, a reopen sees the sum. */
static void test_seal_reservation(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 10000);
    struct kms_keyring *other = NULL;
    expect_ok(kms_keyring_open(f->path, f->ks, &other));
    uint8_t t[KMS_TICKET_MAX];
    /* Windows of 1, 2, 4, ...: three seals by one holder reserve 1 + 2, one by another 1. */
    for (int i = 0; i < 3; i++) {
        seal(f->kr, T0 + 1, T0 + 60, t, NULL, NULL);
    }
    seal(other, T0 + 1, T0 + 60, t, NULL, NULL);
    expect_ok(kms_keyring_refresh(f->kr));
    assert_int_equal(info_of(f->kr, T0 + 1, 1).seals, 4);
    /* The window grows to KMS_KEYRING_SEAL_CHUNK and stays there. */
    for (int i = 0; i < 3000; i++) {
        seal(f->kr, T0 + 1, T0 + 60, t, NULL, NULL);
    }
    expect_ok(kms_keyring_refresh(f->kr));
    /* 1+2+...+512 = 1023, then chunks of 1024: 3003 seals need 1023 + 2 x 1024 = 3071. */
    assert_int_equal(info_of(f->kr, T0 + 1, 1).seals, 3071 + 1);
    /* Both keep sealing from their own windows without writing. */
    uint64_t g = kms_keyring_generation(f->kr);
    for (int i = 0; i < 50; i++) { /* 68 seals are left in f's window */
        seal(f->kr, T0 + 1, T0 + 60, t, NULL, NULL);
    }
    assert_int_equal(kms_keyring_generation(f->kr), g);
    kms_keyring_close(other);
    fx_free(f);
}

/* A server's windows keep doubling past KMS_KEYRING_SEAL_CHUNK up to the maximum it set. */
static void test_seal_chunk_max(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 1000000);
    uint8_t t[KMS_TICKET_MAX];
    kms_keyring_set_seal_chunk_max(f->kr, 4096);
    /* 1+2+...+512 = 1023, then 1024 and 2048: 3003 seals need 4095. */
    for (int i = 0; i < 3003; i++) {
        seal(f->kr, T0 + 1, T0 + 60, t, NULL, NULL);
    }
    expect_ok(kms_keyring_refresh(f->kr));
    assert_int_equal(info_of(f->kr, T0 + 1, 1).seals, 4095);
    /* Then windows of 4096 (the maximum set), never more. */
    for (int i = 0; i < 4096 + 1092; i++) {
        seal(f->kr, T0 + 1, T0 + 60, t, NULL, NULL);
    }
    expect_ok(kms_keyring_refresh(f->kr));
    assert_int_equal(info_of(f->kr, T0 + 1, 1).seals, 4095 + 4096);
    seal(f->kr, T0 + 1, T0 + 60, t, NULL, NULL);
    expect_ok(kms_keyring_refresh(f->kr));
    assert_int_equal(info_of(f->kr, T0 + 1, 1).seals, 4095 + 2 * 4096);
    fx_free(f);
}

static void test_revoke(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 50, 1000000);
    uint8_t t1[KMS_TICKET_MAX], t2[KMS_TICKET_MAX];
    size_t n1 = seal(f->kr, T0, T0 + 60, t1, NULL, NULL);
    uint32_t id = 0;
    expect_ok(kms_keyring_rotate(f->kr, T0 + 1, &id));
    size_t n2 = seal(f->kr, T0 + 2, T0 + 60, t2, NULL, NULL);
    /* Revoking a key in its grace period. */
    uint32_t repl = 99;
    expect_ok(kms_keyring_revoke(f->kr, T0 + 3, 1, &repl));
    assert_int_equal(repl, 0);
    expect_err(open_t(f->kr, T0 + 3, t1, n1), KMS_ERR_KEY_DESTROYED);
    assert_int_equal(info_of(f->kr, T0 + 3, 1).end, KMS_KEY_END_REVOKED);
    /* Revoking the active key: a replacement in the same write. */
    expect_ok(kms_keyring_revoke(f->kr, T0 + 4, 2, &repl));
    assert_int_equal(repl, 3);
    assert_int_equal(n_active(f->kr, T0 + 4), 1);
    expect_err(open_t(f->kr, T0 + 4, t2, n2), KMS_ERR_KEY_DESTROYED);
    seal(f->kr, T0 + 5, T0 + 60, t2, &id, NULL);
    assert_int_equal(id, 3);
    expect_err(kms_keyring_revoke(f->kr, T0 + 5, 2, NULL), KMS_ERR_KEY_DESTROYED);
    expect_err(kms_keyring_revoke(f->kr, T0 + 5, 42, NULL), KMS_ERR_NOT_FOUND);
    fx_free(f);
}

static void test_unknown_key(void **state)
{
    (void)state;
    struct fx *f = fx_new(100, 50, 1000000);
    uint8_t t[KMS_TICKET_MAX];
    size_t n = seal(f->kr, T0, T0 + 60, t, NULL, NULL);
    t[5] = 7; /* key id 7 */
    expect_err(open_t(f->kr, T0 + 1, t, n), KMS_ERR_KEY_UNKNOWN);
    /* A ticket of another keyring (same ids, other keys) fails on its tag. */
    struct fx *g = fx_new(100, 50, 1000000);
    uint8_t u[KMS_TICKET_MAX];
    size_t m = seal(g->kr, T0, T0 + 60, u, NULL, NULL);
    expect_err(open_t(f->kr, T0 + 1, u, m), KMS_ERR_TICKET_TAG);
    fx_free(g);
    fx_free(f);
}

/* A second holder sees rotations and revocations without a restart. */
static void test_refresh(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 1000000);
    struct kms_keyring *daemon = NULL;
    expect_ok(kms_keyring_open(f->path, f->ks, &daemon));
    uint8_t t[KMS_TICKET_MAX];
    uint32_t id = 0;
    size_t n = seal(daemon, T0, T0 + 60, t, &id, NULL);
    assert_int_equal(id, 1);
    expect_ok(kms_keyring_rotate(f->kr, T0 + 1, NULL));
    expect_ok(kms_keyring_revoke(f->kr, T0 + 1, 1, NULL));
    /* Within KMS_KEYRING_RECHECK_MS the holder notices by itself. */
    struct timespec pause = {0, (KMS_KEYRING_RECHECK_MS + 50) * 1000000L};
    nanosleep(&pause, NULL);
    expect_err(open_t(daemon, T0 + 2, t, n), KMS_ERR_KEY_DESTROYED);
    seal(daemon, T0 + 2, T0 + 60, t, &id, NULL);
    assert_int_equal(id, 2);
    kms_keyring_close(daemon);
    fx_free(f);
}

static void test_integrity(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 1000000);
    kms_keyring_close(f->kr);
    f->kr = NULL;
    /* Wrong KEK. */
    uint8_t kek2[32];
    memset(kek2, 0x5b, sizeof(kek2));
    struct kms_keystore *ks2 = NULL;
    struct kms_keyring *kr = NULL;
    expect_ok(kms_keystore_file_open_kek(kek2, &ks2));
    expect_err(kms_keyring_open(f->path, ks2, &kr), KMS_ERR_KEYRING_MAC);
    kms_keystore_close(ks2);
    /* Every byte of the file altered is detected. */
    FILE *fp = fopen(f->path, "rb");
    uint8_t img[KMS_KEYRING_FILE_MAX];
    size_t n = fread(img, 1, sizeof(img), fp);
    fclose(fp);
    char p2[160];
    th_path(p2, sizeof(p2), f->dir, "altered");
    for (size_t i = 0; i < n; i++) {
        img[i] ^= 0x01;
        fp = fopen(p2, "wb");
        assert_int_equal(fwrite(img, 1, n, fp), n);
        fclose(fp);
        kms_result r = kms_keyring_open(p2, f->ks, &kr);
        img[i] ^= 0x01;
        assert_int_not_equal(r.err, KMS_OK);
        enum kms_err want = i < 8    ? KMS_ERR_MALFORMED
                            : i == 8 ? KMS_ERR_UNSUPPORTED
                            : i == 9 ? KMS_ERR_KEYSTORE_KIND
                                     : KMS_ERR_KEYRING_MAC;
        if (r.err != want) {
            fail_msg("byte %zu: expected %s, got %s", i, kms_err_name(want), kms_err_name(r.err));
        }
    }
    /* Truncated files. */
    for (size_t len = 0; len < n; len += 7) {
        fp = fopen(p2, "wb");
        assert_int_equal(fwrite(img, 1, len, fp), len);
        fclose(fp);
        kms_result r = kms_keyring_open(p2, f->ks, &kr);
        assert_true(r.err == KMS_ERR_TRUNCATED || r.err == KMS_ERR_KEYRING_MAC ||
                    r.err == KMS_ERR_MALFORMED);
    }
    expect_err(kms_keyring_open("/nonexistent/keyring", f->ks, &kr), KMS_ERR_NOT_FOUND);
    expect_ok(kms_keyring_open(f->path, f->ks, &f->kr));
    fx_free(f);
}

/* A crash leaves PATH.tmp behind (empty, partly written, or complete but never renamed): it
 * is never read, and the next write replaces it whole. */
static void write_bytes(const char *path, const uint8_t *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static size_t read_bytes(const char *path, uint8_t *p, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(p, 1, cap, fp);
    fclose(fp);
    return n;
}

static void test_leftover_tmp(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 1000000);
    char tmp[160];
    th_path(tmp, sizeof(tmp), f->dir, "keyring.tmp");
    uint8_t t[KMS_TICKET_MAX];
    uint32_t id = 0;
    size_t n = seal(f->kr, T0, T0 + 60, t, &id, NULL);
    /* Garbage larger than the keyring (a write that did not truncate would keep its tail),
     * then an empty file. */
    static uint8_t junk[KMS_KEYRING_FILE_MAX];
    memset(junk, 0xa5, sizeof(junk));
    size_t sizes[] = {sizeof(junk), 0};
    for (size_t i = 0; i < 2; i++) {
        write_bytes(tmp, junk, sizes[i]);
        struct kms_keyring *kr = NULL;
        expect_ok(kms_keyring_open(f->path, f->ks, &kr));
        uint64_t gen = kms_keyring_generation(kr);
        expect_ok(kms_keyring_rotate(kr, T0 + 1, &id));
        assert_int_equal(id, 2 + i);
        assert_int_equal(kms_keyring_generation(kr), gen + 1);
        assert_int_not_equal(access(tmp, F_OK), 0); /* renamed over the keyring */
        kms_keyring_close(kr);
        expect_ok(kms_keyring_open(f->path, f->ks, &kr));
        assert_int_equal(n_active(kr, T0 + 1), 1);
        expect_ok(open_t(kr, T0 + 1, t, n));
        kms_keyring_close(kr);
    }
    /* A complete image killed before its rename: the keyring stays at the old generation,
     * and the id it would have created is free again (it never became durable). Neither the
     * keyring nor its anchor (written after it) changed: both are put back as they were. */
    char old[160], anchor[160], old_anchor[160];
    th_path(old, sizeof(old), f->dir, "old");
    th_path(anchor, sizeof(anchor), f->dir, "keyring.anchor");
    th_path(old_anchor, sizeof(old_anchor), f->dir, "old.anchor");
    uint8_t img[KMS_KEYRING_FILE_MAX];
    size_t len = read_bytes(f->path, img, sizeof(img));
    write_bytes(old, img, len);
    len = read_bytes(anchor, img, sizeof(img));
    write_bytes(old_anchor, img, len);
    expect_ok(kms_keyring_rotate(f->kr, T0 + 2, &id));
    assert_int_equal(id, 4);
    assert_int_equal(rename(f->path, tmp), 0);
    assert_int_equal(rename(old, f->path), 0);
    assert_int_equal(rename(old_anchor, anchor), 0);
    struct kms_keyring *kr = NULL;
    expect_ok(kms_keyring_open(f->path, f->ks, &kr));
    assert_int_equal(info_of(kr, T0 + 2, 3).state, KMS_KEY_ACTIVE);
    expect_ok(kms_keyring_rotate(kr, T0 + 3, &id));
    assert_int_equal(id, 4);
    assert_int_not_equal(access(tmp, F_OK), 0);
    expect_ok(open_t(kr, T0 + 3, t, n));
    kms_keyring_close(kr);
    fx_free(f);
}

/* Many rotations: ids never reused, records bounded, exactly one active key throughout. */
static void test_many_rotations(void **state)
{
    (void)state;
    struct fx *f = fx_new(10, 20, 1000000);
    uint64_t now = T0;
    for (int i = 0; i < 200; i++) {
        now += 5;
        uint32_t id = 0;
        expect_ok(kms_keyring_rotate(f->kr, now, &id));
        assert_int_equal(id, (uint32_t)i + 2);
        expect_ok(kms_keyring_maintain(f->kr, now, NULL, NULL));
        assert_int_equal(n_active(f->kr, now), 1);
    }
    struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    expect_ok(kms_keyring_list(f->kr, now, k, KMS_KEYRING_MAX_RECORDS, &n));
    assert_int_equal(n, KMS_KEYRING_MAX_RECORDS);
    assert_int_equal(k[0].id, 201); /* newest first */
    fx_free(f);
}

/* When every record is a live key, a rotation is refused and the file is unchanged. */
static void test_keyring_full(void **state)
{
    (void)state;
    struct fx *f = fx_new(10, 320, 1000000);
    kms_result r = KMS_RESULT_OK;
    int i = 0;
    for (; i < 100 && kms_ok(r); i++) {
        r = kms_keyring_rotate(f->kr, T0 + 1, NULL);
    }
    assert_int_equal(r.err, KMS_ERR_KEYRING_FULL);
    assert_int_equal(i, KMS_KEYRING_MAX_RECORDS);
    struct kms_keyring *again = NULL;
    expect_ok(kms_keyring_open(f->path, f->ks, &again));
    assert_int_equal(n_active(again, T0 + 1), 1);
    kms_keyring_close(again);
    fx_free(f);
}

/* Threads sealing and opening while another rotates: no ticket is lost, nothing is freed
 * under a user (run under ASan in the sanitizer build). */
struct worker {
    struct kms_keyring *kr;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint8_t t[KMS_TICKET_MAX];
    for (int i = 0; i < 2000; i++) {
        struct kms_ticket_claims c;
        memset(&c, 0, sizeof(c));
        c.kind = KMS_TICKET_MEDIA;
        c.expires = T0 + 60;
        c.tgk_len = 16;
        if (!kms_ok(kms_ticket_ident_set(&c.initiator, "a")) ||
            !kms_ok(kms_ticket_ident_set(&c.responder[0], "b"))) {
            w->failures++;
        }
        c.n_responder = 1;
        struct kms_buf b;
        kms_buf_init_fixed(&b, t, sizeof(t), false);
        if (!kms_ok(kms_ticket_seal(w->kr, T0 + 1, &c, &b)) ||
            !kms_ok(kms_ticket_open(w->kr, T0 + 1, t, kms_buf_len(&b), KMS_TICKET_MEDIA, &c))) {
            w->failures++;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 3600, 1500);
    struct worker w[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (struct worker){f->kr, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    struct kms_keyring *admin = NULL;
    expect_ok(kms_keyring_open(f->path, f->ks, &admin));
    for (int i = 0; i < 5; i++) {
        expect_ok(kms_keyring_rotate(admin, T0 + 1, NULL));
        expect_ok(kms_keyring_refresh(f->kr));
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    kms_keyring_close(admin);
    fx_free(f);
}

/* Nonces come from a pool refilled from the DRBG: none repeats across refills. */
static void test_nonces(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 1000);
    enum { N = 300 }; /* more than three pools */
    static uint8_t seen[N][12];
    for (size_t i = 0; i < N; i++) {
        expect_ok(kms_keyring_nonce(f->kr, seen[i]));
        static const uint8_t zero[12] = {0};
        assert_memory_not_equal(seen[i], zero, 12);
        for (size_t j = 0; j < i; j++) {
            assert_memory_not_equal(seen[i], seen[j], 12);
        }
    }
    fx_free(f);
}

/* ---- anti-rollback ---- */

/* Copies a file byte for byte (a backup, or putting one back). */
static void copy_file(const char *from, const char *to)
{
    static uint8_t img[KMS_KEYRING_FILE_MAX];
    size_t n = read_bytes(from, img, sizeof(img));
    assert_true(n > 0);
    write_bytes(to, img, n);
    assert_int_equal(chmod(to, 0600), 0);
}

struct saved {
    char kr[160], an[160], kr_anchor[160];
};

static void save(struct fx *f, struct saved *b, const char *name)
{
    char an_name[64];
    snprintf(an_name, sizeof(an_name), "%s.anchor", name);
    th_path(b->kr, sizeof(b->kr), f->dir, name);
    th_path(b->an, sizeof(b->an), f->dir, an_name);
    snprintf(b->kr_anchor, sizeof(b->kr_anchor), "%s.anchor", f->path);
    copy_file(f->path, b->kr);
    copy_file(b->kr_anchor, b->an);
}

/* The reproduction of issue 23: a keyring file copied before a revocation and put back. The
 * copy no longer opens (its wrap epoch is gone from the anchor); a holder keeps its view;
 * with the anchor rolled back too, a fresh process opens it (the documented limit) but a
 * holder still refuses it. */
static void test_rollback_after_revoke(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 1000000);
    struct kms_keyring *daemon = NULL, *kr = NULL;
    expect_ok(kms_keyring_open(f->path, f->ks, &daemon));
    uint8_t t[KMS_TICKET_MAX];
    uint32_t id = 0;
    size_t n = seal(f->kr, T0, T0 + 60, t, &id, NULL);
    assert_int_equal(id, 1);
    expect_ok(open_t(daemon, T0, t, n));
    struct saved old;
    save(f, &old, "before-revoke");
    uint32_t repl = 0;
    expect_ok(kms_keyring_revoke(f->kr, T0 + 1, 1, &repl));
    assert_int_equal(repl, 2);
    expect_ok(kms_keyring_refresh(daemon));
    expect_err(open_t(daemon, T0 + 1, t, n), KMS_ERR_KEY_DESTROYED);

    /* The old file alone: refused by the anchor, in a new process and in the holder. */
    copy_file(old.kr, f->path);
    expect_err(kms_keyring_open(f->path, f->ks, &kr), KMS_ERR_KEYRING_ROLLBACK);
    expect_err(kms_keyring_refresh(daemon), KMS_ERR_KEYRING_ROLLBACK);
    expect_err(open_t(daemon, T0 + 1, t, n), KMS_ERR_KEY_DESTROYED);
    /* A seal needs a reservation, a write on a fresh read of the file: refused too. */
    struct kms_kkms *key = NULL;
    uint64_t cap = 0;
    expect_err(kms_keyring_acquire_seal(daemon, T0 + 1, &key, &id, &cap), KMS_ERR_KEYRING_ROLLBACK);
    assert_int_equal(info_of(daemon, T0 + 1, 1).state, KMS_KEY_DESTROYED);
    assert_int_equal(info_of(daemon, T0 + 1, 2).state, KMS_KEY_ACTIVE);
    /* The writer refuses to build on it either. */
    expect_err(kms_keyring_rotate(daemon, T0 + 1, NULL), KMS_ERR_KEYRING_ROLLBACK);

    /* Both files rolled back: a new process cannot tell (documented), the holder can. */
    copy_file(old.an, old.kr_anchor);
    expect_ok(kms_keyring_open(f->path, f->ks, &kr));
    kms_keyring_close(kr);
    expect_err(kms_keyring_refresh(daemon), KMS_ERR_KEYRING_ROLLBACK);
    expect_err(open_t(daemon, T0 + 1, t, n), KMS_ERR_KEY_DESTROYED);
    kms_keyring_close(daemon);
    fx_free(f);
}

/* A holder refuses a file of another keyring, even a consistent one with its own anchor. */
static void test_ring_id_pinned(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 1000000);
    struct fx *g = fx_new(3600, 600, 1000000);
    for (int i = 0; i < 3; i++) { /* g's generation above f's */
        expect_ok(kms_keyring_rotate(g->kr, T0 + 1, NULL));
    }
    char f_anchor[160], g_anchor[160];
    snprintf(f_anchor, sizeof(f_anchor), "%s.anchor", f->path);
    snprintf(g_anchor, sizeof(g_anchor), "%s.anchor", g->path);
    copy_file(g->path, f->path);
    copy_file(g_anchor, f_anchor);
    expect_err(kms_keyring_refresh(f->kr), KMS_ERR_KEYRING_ROLLBACK);
    assert_int_equal(kms_keyring_generation(f->kr), 1);
    struct kms_keyring *kr = NULL;
    expect_ok(kms_keyring_open(f->path, f->ks, &kr)); /* a new process may open it */
    kms_keyring_close(kr);
    fx_free(g);
    fx_free(f);
}

/* A file of a higher generation in which a key this process saw revoked is alive again: a
 * pre-revoke backup restored with its anchor and then written to. */
static void test_revoked_id_never_returns(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 1000000);
    struct saved old;
    save(f, &old, "backup");
    expect_ok(kms_keyring_rotate(f->kr, T0 + 1, NULL));
    expect_ok(kms_keyring_revoke(f->kr, T0 + 1, 1, NULL));
    uint64_t gen = kms_keyring_generation(f->kr);
    copy_file(old.kr, f->path);
    copy_file(old.an, old.kr_anchor);
    struct kms_keyring *other = NULL;
    expect_ok(kms_keyring_open(f->path, f->ks, &other));
    while (kms_keyring_generation(other) <= gen) {
        expect_ok(kms_keyring_rotate(other, T0 + 2, NULL));
    }
    assert_int_equal(info_of(other, T0 + 2, 1).state, KMS_KEY_GRACE);
    kms_keyring_close(other);
    expect_err(kms_keyring_refresh(f->kr), KMS_ERR_KEYRING_ROLLBACK);
    assert_int_equal(info_of(f->kr, T0 + 2, 1).state, KMS_KEY_DESTROYED);
    fx_free(f);
}

/* Reloads that keep failing: the last good view serves until the bound, then seals and
 * opens are refused (KMS_ERR_KEYRING_STALE, a 503 at the KMS); a good file brings it back. */
static void test_failing_reloads_fail_closed(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 1000000);
    uint8_t t[KMS_TICKET_MAX];
    uint32_t id = 0;
    size_t n = seal(f->kr, T0, T0 + 60, t, &id, NULL);
    struct saved good;
    save(f, &good, "good");
    kms_keyring_set_stale_after(f->kr, 3);
    static uint8_t junk[200];
    memset(junk, 0x5a, sizeof(junk));
    write_bytes(f->path, junk, sizeof(junk));
    for (int i = 0; i < 2; i++) {
        expect_err(kms_keyring_refresh(f->kr), KMS_ERR_MALFORMED);
        expect_ok(open_t(f->kr, T0, t, n)); /* still serving */
        assert_false(kms_keyring_is_stale(f->kr));
    }
    expect_err(kms_keyring_refresh(f->kr), KMS_ERR_MALFORMED);
    assert_true(kms_keyring_is_stale(f->kr));
    expect_err(open_t(f->kr, T0, t, n), KMS_ERR_KEYRING_STALE);
    struct kms_ticket_claims c;
    memset(&c, 0, sizeof(c));
    c.kind = KMS_TICKET_MEDIA;
    c.expires = T0 + 60;
    c.tgk_len = 16;
    expect_ok(kms_ticket_ident_set(&c.initiator, "sip:a@x"));
    expect_ok(kms_ticket_ident_set(&c.responder[0], "sip:b@x"));
    c.n_responder = 1;
    struct kms_buf b;
    uint8_t t2[KMS_TICKET_MAX];
    kms_buf_init_fixed(&b, t2, sizeof(t2), false);
    expect_err(kms_ticket_seal(f->kr, T0, &c, &b), KMS_ERR_KEYRING_STALE);
    assert_int_equal(kms_wire_of(KMS_IFACE_KMS, KMS_ERR_KEYRING_STALE).status, 503);
    /* The same file as before, put back: a re-read of the view held, accepted. */
    copy_file(good.kr, f->path);
    expect_ok(kms_keyring_refresh(f->kr));
    assert_false(kms_keyring_is_stale(f->kr));
    expect_ok(open_t(f->kr, T0, t, n));
    fx_free(f);
}

/* A keyring written before anchors existed (format 1: no wrap epoch, no anchor) opens and is
 * migrated by its first write; the format-1 copy is refused afterwards. The format-1 image is
 * made here by hand from the documented layout (docs/protocol.md section 9). */
static void test_format1_migrates(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 600, 1000000);
    uint8_t t[KMS_TICKET_MAX];
    uint32_t id = 0;
    size_t n = seal(f->kr, T0, T0 + 60, t, &id, NULL);
    static uint8_t img[KMS_KEYRING_FILE_MAX];
    size_t len = read_bytes(f->path, img, sizeof(img));
    assert_int_equal(img[8], 2);
    size_t body = len - 32 - 8; /* without the MAC and the wrap epoch (0 here) */
    img[8] = 1;
    uint8_t mk[32];
    static const char label[] = "imskms keyring mac v1";
    expect_ok(kms_hmac_sha256(f->kek, 32, (const uint8_t *)label, sizeof(label) - 1, mk));
    expect_ok(kms_hmac_sha256(mk, 32, img, body, img + body));
    char p1[160], v1[160], an[176];
    th_path(p1, sizeof(p1), f->dir, "legacy");
    th_path(v1, sizeof(v1), f->dir, "legacy-v1-copy");
    snprintf(an, sizeof(an), "%s.anchor", p1);
    write_bytes(p1, img, body + 32);
    write_bytes(v1, img, body + 32);
    struct kms_keyring *kr = NULL;
    expect_ok(kms_keyring_open(p1, f->ks, &kr));
    assert_int_not_equal(access(an, F_OK), 0); /* reading writes nothing */
    expect_ok(open_t(kr, T0, t, n));
    expect_ok(kms_keyring_rotate(kr, T0 + 1, &id)); /* the first write migrates */
    assert_int_equal(access(an, F_OK), 0);
    len = read_bytes(p1, img, sizeof(img));
    assert_int_equal(img[8], 2);
    kms_keyring_close(kr);
    expect_ok(kms_keyring_open(p1, f->ks, &kr));
    expect_ok(open_t(kr, T0 + 1, t, n));
    kms_keyring_close(kr);
    copy_file(v1, p1);
    expect_err(kms_keyring_open(p1, f->ks, &kr), KMS_ERR_KEYRING_ROLLBACK);
    /* A format-2 keyring whose anchor is gone does not open either. */
    copy_file(f->path, p1);
    assert_int_equal(unlink(an), 0);
    expect_err(kms_keyring_open(p1, f->ks, &kr), KMS_ERR_KEYRING_ANCHOR);
    fx_free(f);
}

/* The nonce pool is fork-safe: a child does not take the nonces its parent drew ahead. The
 * parent fills its pool, forks, and the child's next nonce must differ from the parent's next
 * one (without the fork check both take the same pool entry). */
static void test_nonce_pool_fork_safe(void **state)
{
    (void)state;
    struct fx *f = fx_new(3600, 3600, 1000);
    uint8_t first[12], mine[12], child[12];
    expect_ok(kms_keyring_nonce(f->kr, first)); /* the pool is filled */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t n[12];
        ssize_t w = -1;
        if (kms_ok(kms_keyring_nonce(f->kr, n))) {
            w = write(fds[1], n, sizeof(n));
        }
        _exit(w == (ssize_t)sizeof(n) ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    expect_ok(kms_keyring_nonce(f->kr, mine));
    assert_memory_not_equal(mine, child, sizeof(mine));
    assert_memory_not_equal(first, child, sizeof(first));
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_policy),
        cmocka_unit_test(test_grace_period),
        cmocka_unit_test(test_early_rotation_keeps_cap),
        cmocka_unit_test(test_count_forced_rotation),
        cmocka_unit_test(test_seal_reservation),
        cmocka_unit_test(test_seal_chunk_max),
        cmocka_unit_test(test_revoke),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_refresh),
        cmocka_unit_test(test_integrity),
        cmocka_unit_test(test_leftover_tmp),
        cmocka_unit_test(test_many_rotations),
        cmocka_unit_test(test_keyring_full),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_nonces),
        cmocka_unit_test(test_rollback_after_revoke),
        cmocka_unit_test(test_ring_id_pinned),
        cmocka_unit_test(test_revoked_id_never_returns),
        cmocka_unit_test(test_failing_reloads_fail_closed),
        cmocka_unit_test(test_format1_migrates),
        cmocka_unit_test(test_nonce_pool_fork_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
