/* SPDX-License-Identifier: Apache-2.0 */
/* The keyring in Redis (lib/keyring/kms_keyring_redis): against a real redis-server started by
 * tests/integration/with_redis.sh (REDIS_URL). Several handles on one Redis stand for the
 * nodes of a fleet. */
#include "testlib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keyring/kms_keyring.h"
#include "keyring/kms_keyring_redis.h"
#include "ticket/kms_ticket.h"
#include "util/kms_file.h"

#define T0 1000000u

static struct kms_redis *rd;
static uint8_t kek[32];
static struct kms_keystore *ks;
static unsigned prefix_no;

static int setup(void **state)
{
    (void)state;
    const char *url = getenv("REDIS_URL");
    if (url == NULL) {
        fprintf(stderr, "REDIS_URL not set: run under tests/integration/with_redis.sh\n");
        return -1;
    }
    struct kms_redis_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    if (!kms_ok(kms_redis_url_parse(url, strlen(url), &cfg.url)) ||
        !kms_ok(kms_redis_new(&cfg, &rd))) {
        return -1;
    }
    memset(kek, 0x5a, sizeof(kek));
    return kms_ok(kms_keystore_file_open_kek(kek, &ks)) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kms_keystore_close(ks);
    kms_redis_free(rd);
    return 0;
}

/* A prefix of its own for each keyring made here. */
static void new_prefix(char *out, size_t cap)
{
    (void)snprintf(out, cap, "test%u:{kr}:", ++prefix_no);
}

static struct kms_keyring *create(const char *prefix, uint64_t max_seals)
{
    struct kms_keyring_policy pol = {3600, 600, max_seals};
    struct kms_keyring *kr = NULL;
    expect_ok(kms_keyring_create_redis(rd, prefix, ks, &pol, T0, &kr));
    return kr;
}

static struct kms_keyring *open_r(const char *prefix)
{
    struct kms_keyring *kr = NULL;
    expect_ok(kms_keyring_open_redis(rd, prefix, ks, &kr));
    return kr;
}

/* GET and SET of a key (binary safe). */
static size_t rget(const char *prefix, const char *name, uint8_t *out, size_t cap)
{
    char key[160];
    (void)snprintf(key, sizeof(key), "%s%s", prefix, name);
    const char *argv[2] = {"GET", key};
    size_t lens[2] = {3, strlen(key)};
    redisReply *rep = NULL;
    expect_ok(kms_redis_cmd(rd, 2, argv, lens, &rep));
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_true(rep->len <= cap);
    memcpy(out, rep->str, rep->len);
    size_t n = rep->len;
    freeReplyObject(rep);
    return n;
}

static void rcmd(const char *c, const char *prefix, const char *name, const uint8_t *v, size_t n)
{
    char key[160];
    (void)snprintf(key, sizeof(key), "%s%s", prefix, name);
    const char *argv[3] = {c, key, (const char *)v};
    size_t lens[3] = {strlen(c), strlen(key), n};
    redisReply *rep = NULL;
    expect_ok(kms_redis_cmd(rd, v != NULL ? 3 : 2, argv, lens, &rep));
    freeReplyObject(rep);
}

static void rset(const char *prefix, const char *name, const uint8_t *v, size_t n)
{
    rcmd("SET", prefix, name, v, n);
}

static void config_set(const char *name, const char *value)
{
    const char *argv[4] = {"CONFIG", "SET", name, value};
    size_t lens[4] = {6, 3, strlen(name), strlen(value)};
    redisReply *rep = NULL;
    expect_ok(kms_redis_cmd(rd, 4, argv, lens, &rep));
    freeReplyObject(rep);
}

static size_t seal(struct kms_keyring *kr, uint64_t now, uint8_t *t, uint32_t *key_id)
{
    struct kms_ticket_claims c;
    memset(&c, 0, sizeof(c));
    c.kind = KMS_TICKET_MEDIA;
    c.expires = now + 60;
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
    return kms_buf_len(&b);
}

static kms_result open_t(struct kms_keyring *kr, uint64_t now, const uint8_t *t, size_t n)
{
    struct kms_ticket_claims c;
    return kms_ticket_open(kr, now, t, n, KMS_TICKET_MEDIA, &c);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pause_ms(long ms)
{
    struct timespec p = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&p, NULL);
}

/* Two nodes: a key made by one opens at the other at once (the unknown-id re-read, at most
 * once per KMS_KEYRING_UNKNOWN_MS); a revocation is seen on the next poll. */
static void test_two_nodes(void **state)
{
    (void)state;
    char p[64];
    new_prefix(p, sizeof(p));
    struct kms_keyring *a = create(p, 1000000), *b = open_r(p);
    struct kms_keyring *again = NULL;
    struct kms_keyring_policy pol = {3600, 600, 1000};
    expect_err(kms_keyring_create_redis(rd, p, ks, &pol, T0, &again), KMS_ERR_EXISTS);
    uint8_t t[KMS_TICKET_MAX];
    uint32_t id = 0;
    size_t n = seal(b, T0, t, &id);
    assert_int_equal(id, 1);
    expect_ok(open_t(a, T0, t, n));

    /* b re-reads for the unknown key 2 at once, well inside its 200 ms poll interval. */
    expect_ok(kms_keyring_refresh(b));
    uint32_t nid = 0;
    expect_ok(kms_keyring_rotate(a, T0 + 1, &nid));
    assert_int_equal(nid, 2);
    n = seal(a, T0 + 1, t, &id);
    assert_int_equal(id, 2);
    expect_ok(open_t(b, T0 + 1, t, n));
    /* Key 3 right after: the re-read is rate-limited (only asserted when this ran quickly). */
    uint64_t t0 = mono_ms();
    expect_ok(kms_keyring_rotate(a, T0 + 2, &nid));
    n = seal(a, T0 + 2, t, &id);
    assert_int_equal(id, 3);
    kms_result r = open_t(b, T0 + 2, t, n);
    if (mono_ms() - t0 < KMS_KEYRING_UNKNOWN_MS - 20) {
        expect_err(r, KMS_ERR_KEY_UNKNOWN);
    }
    pause_ms(KMS_KEYRING_UNKNOWN_MS + 20);
    expect_ok(open_t(b, T0 + 2, t, n));

    /* A revocation at a: b refuses the key after its next poll. */
    size_t n1 = seal(b, T0 + 3, t, &id);
    assert_int_equal(id, 3);
    expect_ok(kms_keyring_revoke(a, T0 + 3, 3, &nid));
    assert_int_equal(nid, 4);
    expect_ok(kms_keyring_refresh(b));
    expect_err(open_t(b, T0 + 3, t, n1), KMS_ERR_KEY_DESTROYED);
    seal(b, T0 + 3, t, &id);
    assert_int_equal(id, 4);
    /* The generation key is what nodes poll: it follows the image (b's seals were a write). */
    expect_ok(kms_keyring_refresh(a));
    assert_int_equal(kms_keyring_generation(a), kms_keyring_generation(b));
    uint8_t g[24];
    size_t gl = rget(p, "gen", g, sizeof(g));
    char want[24];
    (void)snprintf(want, sizeof(want), "%llu", (unsigned long long)kms_keyring_generation(a));
    assert_int_equal(gl, strlen(want));
    assert_memory_equal(g, want, gl);
    kms_keyring_close(a);
    kms_keyring_close(b);
}

/* A key id the node does not know while Redis does not answer (CLIENT PAUSE longer than the
 * client's 200 ms time-out): KMS_ERR_STORE, a 503 the client retries, not KMS_ERR_KEY_UNKNOWN,
 * a refusal of a key that exists; once Redis answers again the token opens. */
static void test_unknown_id_while_redis_is_away(void **state)
{
    (void)state;
    char p[64];
    new_prefix(p, sizeof(p));
    struct kms_keyring *a = create(p, 1000000), *b = open_r(p);
    uint32_t nid = 0;
    expect_ok(kms_keyring_rotate(a, T0 + 1, &nid));
    uint8_t t[KMS_TICKET_MAX];
    uint32_t id = 0;
    size_t n = seal(a, T0 + 1, t, &id);
    assert_int_equal(id, nid);
    const char *argv[4] = {"CLIENT", "PAUSE", "600", "ALL"};
    size_t lens[4] = {6, 5, 3, 3};
    redisReply *r = NULL;
    expect_ok(kms_redis_cmd(rd, 4, argv, lens, &r));
    freeReplyObject(r);
    expect_err(open_t(b, T0 + 1, t, n), KMS_ERR_STORE);
    pause_ms(700);
    expect_ok(open_t(b, T0 + 1, t, n));
    kms_keyring_close(a);
    kms_keyring_close(b);
}

struct sealer {
    struct kms_keyring *kr;
    int n;
};

static void *seal_many(void *arg)
{
    struct sealer *s = arg;
    for (int i = 0; i < s->n; i++) {
        struct kms_kkms *k = NULL;
        uint32_t id = 0;
        uint64_t gu = 0;
        if (!kms_ok(kms_keyring_acquire_seal(s->kr, T0, &k, &id, &gu))) {
            return (void *)1;
        }
        kms_keyring_release(k);
    }
    return NULL;
}

/* Nodes reserving seal windows at once: every reservation lands (the counts add up), so no two
 * windows overlap. A holder doing 2^k - 1 seals reserves exactly 1 + 2 + ... + 2^(k-1). */
static void test_reservations_add_up(void **state)
{
    (void)state;
    char p[64];
    new_prefix(p, sizeof(p));
    enum { NODES = 4, SEALS = 255 };
    struct kms_keyring *kr[NODES];
    struct sealer s[NODES];
    pthread_t th[NODES];
    kr[0] = create(p, 1000000);
    for (int i = 1; i < NODES; i++) {
        kr[i] = open_r(p);
    }
    for (int i = 0; i < NODES; i++) {
        s[i].kr = kr[i];
        s[i].n = SEALS;
        assert_int_equal(pthread_create(&th[i], NULL, seal_many, &s[i]), 0);
    }
    for (int i = 0; i < NODES; i++) {
        void *ret = NULL;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    expect_ok(kms_keyring_refresh(kr[0]));
    expect_ok(kms_keyring_list(kr[0], T0, k, KMS_KEYRING_MAX_RECORDS, &n));
    assert_int_equal(n, 1);
    assert_int_equal(k[0].seals, (uint64_t)NODES * SEALS);
    /* 8 windows per node, plus the creation. */
    assert_int_equal(kms_keyring_generation(kr[0]), 1 + NODES * 8);
    for (int i = 0; i < NODES; i++) {
        kms_keyring_close(kr[i]);
    }
}

/* What Redis holds is checked as a file is: altered, rolled back, gone. */
static void test_integrity(void **state)
{
    (void)state;
    char p[64];
    new_prefix(p, sizeof(p));
    struct kms_keyring *a = create(p, 1000000);
    struct kms_keyring *x = NULL;
    uint8_t img1[KMS_KEYRING_FILE_MAX], an1[512], g1[24], img2[KMS_KEYRING_FILE_MAX],
        tmp[KMS_KEYRING_FILE_MAX];
    size_t ni1 = rget(p, "image", img1, sizeof(img1)), na1 = rget(p, "anchor", an1, sizeof(an1));
    size_t ng1 = rget(p, "gen", g1, sizeof(g1));
    expect_ok(kms_keyring_rotate(a, T0 + 1, NULL));
    size_t ni2 = rget(p, "image", img2, sizeof(img2));

    /* One byte of the image changed: refused like an altered file. */
    memcpy(tmp, img2, ni2);
    tmp[ni2 - 40] ^= 1;
    rset(p, "image", tmp, ni2);
    expect_err(kms_keyring_open_redis(rd, p, ks, &x), KMS_ERR_KEYRING_MAC);
    rset(p, "image", img2, ni2);

    /* The image (and its generation) rolled back under a newer anchor. */
    rset(p, "image", img1, ni1);
    rset(p, "gen", g1, ng1);
    expect_err(kms_keyring_open_redis(rd, p, ks, &x), KMS_ERR_KEYRING_ROLLBACK);
    /* A generation key out of step with the image. */
    rset(p, "image", img2, ni2);
    expect_err(kms_keyring_open_redis(rd, p, ks, &x), KMS_ERR_MALFORMED);
    uint8_t g[24];
    size_t gl = (size_t)snprintf((char *)g, sizeof(g), "%llu",
                                 (unsigned long long)kms_keyring_generation(a));
    rset(p, "gen", g, gl);
    x = open_r(p);
    kms_keyring_close(x);

    /* Image, anchor and generation all restored from before a revocation: a new reader cannot
     * tell (restore both together is what a backup does), but a holder refuses to go back, and
     * the old anchor alone under the new image is refused. */
    uint8_t ia[KMS_KEYRING_FILE_MAX], aa[512], ga[24];
    size_t nia = rget(p, "image", ia, sizeof(ia)), naa = rget(p, "anchor", aa, sizeof(aa));
    size_t nga = rget(p, "gen", ga, sizeof(ga));
    expect_ok(kms_keyring_revoke(a, T0 + 2, 1, NULL));
    uint8_t ib[KMS_KEYRING_FILE_MAX], ab[512], gb[24];
    size_t nib = rget(p, "image", ib, sizeof(ib)), nab = rget(p, "anchor", ab, sizeof(ab));
    size_t ngb = rget(p, "gen", gb, sizeof(gb));
    rset(p, "anchor", aa, naa); /* the anchor alone rolled back: the new epoch is unknown */
    expect_err(kms_keyring_open_redis(rd, p, ks, &x), KMS_ERR_KEYRING_ROLLBACK);
    rset(p, "image", ia, nia);
    rset(p, "gen", ga, nga);
    kms_keyring_set_stale_after(a, 1);
    expect_err(kms_keyring_refresh(a), KMS_ERR_KEYRING_ROLLBACK);
    assert_true(kms_keyring_is_stale(a));
    rset(p, "image", ib, nib);
    rset(p, "anchor", ab, nab);
    rset(p, "gen", gb, ngb);
    expect_ok(kms_keyring_refresh(a));
    assert_false(kms_keyring_is_stale(a));
    (void)na1;
    (void)an1;

    /* Deleted: a holder fails closed, nothing re-creates it, a new open refuses. */
    rcmd("DEL", p, "image", NULL, 0);
    expect_err(kms_keyring_refresh(a), KMS_ERR_NOT_FOUND);
    assert_true(kms_keyring_is_stale(a));
    struct kms_kkms *k = NULL;
    uint32_t id = 0;
    uint64_t gu = 0;
    expect_err(kms_keyring_acquire_seal(a, T0 + 3, &k, &id, &gu), KMS_ERR_KEYRING_STALE);
    expect_err(kms_keyring_rotate(a, T0 + 3, NULL), KMS_ERR_NOT_FOUND);
    expect_err(kms_keyring_open_redis(rd, p, ks, &x), KMS_ERR_NOT_FOUND);
    const char *argv[2] = {"EXISTS", NULL};
    char key[96];
    (void)snprintf(key, sizeof(key), "%simage", p);
    argv[1] = key;
    size_t lens[2] = {6, strlen(key)};
    redisReply *rep = NULL;
    expect_ok(kms_redis_cmd(rd, 2, argv, lens, &rep));
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);
    kms_keyring_close(a);

    /* Another KEK: the image does not authenticate. */
    p[0] = p[0]; /* same prefix, recreated */
    char q[64];
    new_prefix(q, sizeof(q));
    struct kms_keyring *c = create(q, 1000);
    kms_keyring_close(c);
    uint8_t other[32];
    memset(other, 0xa5, sizeof(other));
    struct kms_keystore *ks2 = NULL;
    expect_ok(kms_keystore_file_open_kek(other, &ks2));
    expect_err(kms_keyring_open_redis(rd, q, ks2, &x), KMS_ERR_KEYRING_MAC);
    kms_keystore_close(ks2);
}

/* --keyring redis refuses a Redis that may lose an acknowledged write. */
static void test_durability(void **state)
{
    (void)state;
    char why[256];
    expect_ok(kms_keyring_redis_check(rd, why, sizeof(why)));
    config_set("appendfsync", "everysec");
    expect_err(kms_keyring_redis_check(rd, why, sizeof(why)), KMS_ERR_STORE);
    assert_non_null(strstr(why, "appendfsync everysec"));
    config_set("appendfsync", "always");
    config_set("appendonly", "no");
    expect_err(kms_keyring_redis_check(rd, why, sizeof(why)), KMS_ERR_STORE);
    assert_non_null(strstr(why, "appendonly no"));
    config_set("appendonly", "yes");
    expect_ok(kms_keyring_redis_check(rd, why, sizeof(why)));
}

/* File -> Redis -> file: the same bytes, the same keys, tokens still open. */
static void test_copy_round_trip(void **state)
{
    (void)state;
    char dir[64], path[128], back[128], p[64];
    th_tmpdir(dir, sizeof(dir));
    th_path(path, sizeof(path), dir, "keyring");
    th_path(back, sizeof(back), dir, "back");
    new_prefix(p, sizeof(p));
    struct kms_keyring_policy pol = {3600, 600, 1000000};
    struct kms_keyring *f = NULL;
    expect_ok(kms_keyring_create(path, ks, &pol, T0, &f));
    uint8_t t1[KMS_TICKET_MAX], t2[KMS_TICKET_MAX];
    size_t n1 = seal(f, T0, t1, NULL);
    expect_ok(kms_keyring_rotate(f, T0 + 1, NULL));
    expect_ok(kms_keyring_revoke(f, T0 + 1, 1, NULL)); /* a wrap epoch > 0 */
    size_t n2 = seal(f, T0 + 2, t2, NULL);
    kms_keyring_close(f);

    uint64_t gen = 0;
    expect_ok(kms_keyring_copy_to_redis(path, ks, rd, p, &gen));
    expect_err(kms_keyring_copy_to_redis(path, ks, rd, p, NULL), KMS_ERR_EXISTS);
    /* The image in Redis is the file's bytes, the anchor PATH.anchor's. */
    uint8_t *fi = NULL, *fa = NULL;
    size_t nfi = 0, nfa = 0;
    char apath[160];
    (void)snprintf(apath, sizeof(apath), "%s.anchor", path);
    expect_ok(kms_file_read(path, KMS_KEYRING_FILE_MAX, false, &fi, &nfi));
    expect_ok(kms_file_read(apath, 4096, false, &fa, &nfa));
    uint8_t ri[KMS_KEYRING_FILE_MAX], ra[512];
    assert_int_equal(rget(p, "image", ri, sizeof(ri)), nfi);
    assert_memory_equal(ri, fi, nfi);
    assert_int_equal(rget(p, "anchor", ra, sizeof(ra)), nfa);
    assert_memory_equal(ra, fa, nfa);

    struct kms_keyring *r = open_r(p);
    assert_int_equal(kms_keyring_generation(r), gen);
    expect_err(open_t(r, T0 + 3, t1, n1), KMS_ERR_KEY_DESTROYED);
    expect_ok(open_t(r, T0 + 3, t2, n2));
    uint8_t t3[KMS_TICKET_MAX];
    uint32_t id = 0;
    size_t n3 = seal(r, T0 + 3, t3, &id);
    assert_int_equal(id, 2);
    kms_keyring_close(r);

    expect_ok(kms_keyring_copy_from_redis(rd, p, ks, back, NULL));
    expect_err(kms_keyring_copy_from_redis(rd, p, ks, back, NULL), KMS_ERR_EXISTS);
    struct kms_keyring *b = NULL;
    expect_ok(kms_keyring_open(back, ks, &b));
    struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    expect_ok(kms_keyring_list(b, T0 + 3, k, KMS_KEYRING_MAX_RECORDS, &n));
    assert_int_equal(n, 2);
    assert_int_equal(k[0].id, 2);
    assert_int_equal(k[0].state, KMS_KEY_ACTIVE);
    assert_int_equal(k[1].id, 1);
    assert_int_equal(k[1].end, KMS_KEY_END_REVOKED);
    expect_ok(open_t(b, T0 + 3, t2, n2));
    expect_ok(open_t(b, T0 + 3, t3, n3));
    kms_keyring_close(b);
    kms_file_free(fi, nfi);
    kms_file_free(fa, nfa);
    th_rmtree(dir);
}

/* The record store's compare-and-swap on its own: create once, a stale generation loses and
 * writes nothing, a deleted image is never written back. */
static void test_cas(void **state)
{
    (void)state;
    char p[64];
    new_prefix(p, sizeof(p));
    struct kms_krr *s = NULL;
    expect_ok(kms_krr_new(rd, p, &s));
    uint64_t gen = 0;
    bool exists = true, lost = true;
    expect_ok(kms_krr_poll(s, &gen, &exists));
    assert_false(exists);
    assert_int_equal(gen, 0);
    const uint8_t a[] = "image-a", b[] = "image-b", an[] = "anchor";
    expect_ok(kms_krr_write(s, true, 0, a, 7, an, 6, 5, &lost));
    assert_false(lost);
    expect_err(kms_krr_write(s, true, 0, b, 7, an, 6, 9, &lost), KMS_ERR_EXISTS);
    expect_ok(kms_krr_poll(s, &gen, &exists));
    assert_true(exists);
    assert_int_equal(gen, 5);
    expect_ok(kms_krr_write(s, false, 4, b, 7, an, 6, 6, &lost)); /* read at 4: stale */
    assert_true(lost);
    uint8_t img[16];
    assert_int_equal(rget(p, "image", img, sizeof(img)), 7);
    assert_memory_equal(img, a, 7);
    expect_ok(kms_krr_write(s, false, 5, b, 7, an, 6, 6, &lost));
    assert_false(lost);
    assert_int_equal(rget(p, "image", img, sizeof(img)), 7);
    assert_memory_equal(img, b, 7);
    uint8_t *ri = NULL, ra[16];
    size_t ni = 0, na = 0;
    expect_ok(kms_krr_read(s, 64, &ri, &ni, ra, sizeof(ra), &na, &gen));
    assert_int_equal(ni, 7);
    assert_memory_equal(ri, b, 7);
    assert_int_equal(na, 6);
    assert_int_equal(gen, 6);
    kms_file_free(ri, ni);
    expect_err(kms_krr_read(s, 6, &ri, &ni, ra, sizeof(ra), &na, &gen), KMS_ERR_TOO_LONG);
    rset(p, "gen", (const uint8_t *)"06", 2); /* not a canonical number */
    expect_err(kms_krr_read(s, 64, &ri, &ni, ra, sizeof(ra), &na, &gen), KMS_ERR_MALFORMED);
    expect_err(kms_krr_poll(s, &gen, &exists), KMS_ERR_MALFORMED);
    rset(p, "gen", (const uint8_t *)"6", 1);
    rcmd("DEL", p, "image", NULL, 0);
    expect_err(kms_krr_read(s, 64, &ri, &ni, ra, sizeof(ra), &na, &gen), KMS_ERR_NOT_FOUND);
    expect_err(kms_krr_write(s, false, 6, a, 7, an, 6, 7, &lost), KMS_ERR_NOT_FOUND);
    expect_ok(kms_krr_poll(s, &gen, &exists));
    assert_false(exists);
    kms_krr_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cas),
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_unknown_id_while_redis_is_away),
        cmocka_unit_test(test_reservations_add_up),
        cmocka_unit_test(test_integrity),
        cmocka_unit_test(test_durability),
        cmocka_unit_test(test_copy_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
