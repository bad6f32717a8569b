/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Redis client, the Redis store backend and the fleet's shared state, against a real
 * redis-server: tests/integration/with_redis.sh starts one on a unix socket and sets
 * REDIS_SOCK; without it this program fails (it never skips).
 * Each test uses database 9, emptied first.
 */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms/kms_fleet.h"
#include "redis/kms_redis.h"
#include "store/kms_store.h"
#include "store/kms_store_redis.h"
#include "util/kms_time.h"

static const uint8_t kek1[32] = {0x11, 0x22, 0x33};
static const uint8_t kek2[32] = {0x42};
static const uint8_t names1[32] = {0x01};
static const uint8_t names2[32] = {0x02};

struct fx {
    struct kms_redis *r;
    struct kms_store *st;
};

static struct kms_redis_url url_of(unsigned db)
{
    const char *sock = getenv("REDIS_SOCK");
    if (sock == NULL) {
        fail_msg("REDIS_SOCK is not set: run through ctest (tests/integration/with_redis.sh)");
    }
    char s[256];
    int n = snprintf(s, sizeof(s), "unix://%s?db=%u", sock, db);
    assert_true(n > 0 && (size_t)n < sizeof(s));
    struct kms_redis_url u;
    expect_ok(kms_redis_url_parse(s, (size_t)n, &u));
    return u;
}

static redisReply *cmd(struct kms_redis *r, const char *a0, const char *a1, const char *a2,
                       const char *a3)
{
    const char *argv[4] = {a0, a1, a2, a3};
    size_t lens[4];
    int argc = 0;
    for (; argc < 4 && argv[argc] != NULL; argc++) {
        lens[argc] = strlen(argv[argc]);
    }
    redisReply *rep = NULL;
    expect_ok(kms_redis_cmd(r, argc, argv, lens, &rep));
    return rep;
}

static void run(struct kms_redis *r, const char *a0, const char *a1, const char *a2, const char *a3)
{
    freeReplyObject(cmd(r, a0, a1, a2, a3));
}

static struct kms_redis *client(void)
{
    struct kms_redis_cfg cfg = {.url = url_of(9)};
    struct kms_redis *r = NULL;
    expect_ok(kms_redis_new(&cfg, &r));
    return r;
}

static kms_result open_store(struct kms_redis *r, const uint8_t kek[32], const uint8_t names[32],
                             struct kms_store **st)
{
    struct kms_store_backend *be = NULL;
    KMS_TRY(kms_store_backend_redis(r, names, &be));
    return kms_store_new(be, kek, st);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->r = client();
    run(f->r, "FLUSHDB", NULL, NULL, NULL);
    expect_ok(open_store(f->r, kek1, names1, &f->st));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    kms_store_close(f->st);
    kms_redis_free(f->r);
    free(f);
    return 0;
}

static void id_of(uint8_t id[KMS_STORE_ID_LEN], unsigned n)
{
    memset(id, 0x5a, KMS_STORE_ID_LEN);
    id[0] = (uint8_t)(n >> 8);
    id[1] = (uint8_t)n;
    id[15] = (uint8_t)(n * 37);
}

static void put_get_del(void **state)
{
    struct fx *f = *state;
    uint8_t id[16];
    id_of(id, 1);
    uint64_t now = kms_now();
    static const uint8_t rec[] = "a Kue record";
    expect_ok(kms_store_kue_put(f->st, id, now + 100, rec, sizeof(rec)));
    expect_err(kms_store_kue_put(f->st, id, now + 100, rec, sizeof(rec)), KMS_ERR_EXISTS);
    struct kms_buf out;
    kms_buf_init(&out, 4096, true);
    uint64_t exp = 0;
    expect_ok(kms_store_kue_get(f->st, id, now, &out, &exp));
    assert_int_equal(exp, now + 100);
    assert_int_equal(kms_buf_len(&out), sizeof(rec));
    expect_bytes_eq(kms_buf_data(&out), rec, sizeof(rec));
    kms_buf_reset(&out);
    /* Expired by the node's clock, whatever Redis's TTL says. */
    expect_err(kms_store_kue_get(f->st, id, now + 100, &out, &exp), KMS_ERR_NOT_FOUND);
    expect_ok(kms_store_kue_del(f->st, id));
    expect_err(kms_store_kue_del(f->st, id), KMS_ERR_NOT_FOUND);
    expect_err(kms_store_kue_get(f->st, id, now, &out, &exp), KMS_ERR_NOT_FOUND);
    kms_buf_cleanup(&out);
}

/* The row's TTL is the Kue's lifetime; its value holds no plaintext. */
static void row_has_ttl_and_no_plaintext(void **state)
{
    struct fx *f = *state;
    uint8_t id[16];
    id_of(id, 2);
    static const char rec[] = "plaintext-marker-in-a-kue-record";
    expect_ok(kms_store_kue_put(f->st, id, kms_now() + 100, (const uint8_t *)rec, sizeof(rec)));
    redisReply *keys = cmd(f->r, "KEYS", "imskms:kms:{*}:kue:*", NULL, NULL);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    assert_int_equal(keys->elements, 1);
    char *key = strdup(keys->element[0]->str);
    freeReplyObject(keys);
    assert_non_null(strstr(key, ":kue:00025a5a5a5a5a5a5a5a5a5a5a5a5a4a"));
    redisReply *ttl = cmd(f->r, "PTTL", key, NULL, NULL);
    assert_int_equal(ttl->type, REDIS_REPLY_INTEGER);
    assert_true(ttl->integer > 95000 && ttl->integer <= 100000);
    freeReplyObject(ttl);
    redisReply *v = cmd(f->r, "GET", key, NULL, NULL);
    assert_int_equal(v->type, REDIS_REPLY_STRING);
    bool found = false;
    for (size_t i = 0; i + 16 <= v->len; i++) {
        found |= memcmp(v->str + i, "plaintext-marker", 16) == 0;
    }
    assert_false(found);
    freeReplyObject(v);
    free(key);
}

static void scan_is_ordered_paged_and_skips_expired(void **state)
{
    struct fx *f = *state;
    uint64_t now = kms_now();
    static const unsigned order[] = {7, 3, 9, 1, 5, 8};
    for (size_t i = 0; i < 6; i++) {
        uint8_t id[16];
        id_of(id, order[i]);
        /* 8 expires at now: not listed */
        uint64_t exp = order[i] == 8 ? now + 1 : now + 1000;
        expect_ok(kms_store_kue_put(f->st, id, exp, (const uint8_t *)"r", 1));
    }
    uint8_t ids[2][16], want[16];
    size_t n = 0;
    static const unsigned expect[] = {1, 3, 5, 7, 9};
    size_t seen = 0;
    const uint8_t *after = NULL;
    uint8_t last[16];
    do {
        expect_ok(kms_store_kue_scan(f->st, now + 1, after, ids, 2, &n));
        for (size_t i = 0; i < n; i++) {
            assert_true(seen < 5);
            id_of(want, expect[seen++]);
            expect_bytes_eq(ids[i], want, 16);
        }
        if (n > 0) {
            memcpy(last, ids[n - 1], 16);
            after = last;
        }
    } while (n == 2);
    assert_int_equal(seen, 5);
    /* Under another KEK the rows are another store's: a scan says so, a get finds nothing. */
    struct kms_store *other = NULL;
    expect_ok(open_store(f->r, kek2, names2, &other));
    expect_err(kms_store_kue_scan(other, now, NULL, ids, 2, &n), KMS_ERR_STORE);
    struct kms_buf out;
    kms_buf_init(&out, 4096, true);
    uint64_t exp = 0;
    id_of(want, 1);
    expect_err(kms_store_kue_get(other, want, now, &out, &exp), KMS_ERR_NOT_FOUND);
    kms_store_close(other);
    /* The same names key but another KEK: the row is found and does not open. */
    expect_ok(open_store(f->r, kek2, names1, &other));
    expect_err(kms_store_kue_get(other, want, now, &out, &exp), KMS_ERR_STORE);
    kms_store_close(other);
    kms_buf_cleanup(&out);
    uint64_t purged = 9;
    expect_ok(kms_store_purge(f->st, now + 5000, &purged));
    assert_int_equal(purged, 0); /* Redis's TTL does it */
}

static void seals_are_counted_and_rotate(void **state)
{
    struct fx *f = *state;
    uint32_t kv = 0;
    uint64_t seals = 9;
    expect_ok(kms_store_key_info(f->st, &kv, &seals));
    assert_int_equal(kv, 1);
    assert_int_equal(seals, 0);
    kms_store_set_seal_limit(f->st, 3);
    uint64_t now = kms_now();
    for (unsigned i = 0; i < 4; i++) {
        uint8_t id[16];
        id_of(id, 100 + i);
        expect_ok(kms_store_kue_put(f->st, id, now + 100, (const uint8_t *)"rec", 3));
    }
    expect_ok(kms_store_key_info(f->st, &kv, &seals));
    assert_int_equal(kv, 2);
    assert_int_equal(seals, 1);
    redisReply *c = cmd(f->r, "GET", "imskms:kms:{store}:seals:1", NULL, NULL);
    assert_string_equal(c->str, "3");
    freeReplyObject(c);
    /* Every record opens, old version or new. */
    struct kms_buf out;
    kms_buf_init(&out, 4096, true);
    for (unsigned i = 0; i < 4; i++) {
        uint8_t id[16];
        uint64_t exp = 0;
        id_of(id, 100 + i);
        kms_buf_reset(&out);
        expect_ok(kms_store_kue_get(f->st, id, now, &out, &exp));
    }
    kms_buf_cleanup(&out);
    /* A second store on the same Redis sees the version the first moved to. */
    struct kms_store *two = NULL;
    expect_ok(open_store(f->r, kek1, names1, &two));
    expect_ok(kms_store_key_info(two, &kv, &seals));
    assert_int_equal(kv, 2);
    kms_store_close(two);
}

static void backend_refuses_spent_and_unknown_versions(void **state)
{
    struct fx *f = *state;
    (void)f;
    struct kms_redis *r = client();
    struct kms_store_backend *be = NULL;
    expect_ok(kms_store_backend_redis(r, names1, &be));
    uint8_t id[16];
    id_of(id, 7);
    uint64_t now = kms_now();
    expect_err(be->ops->put(be, id, now + 10, (const uint8_t *)"b", 1, 5, 10), KMS_ERR_KEY_SPENT);
    expect_err(be->ops->put(be, id, now + 10, (const uint8_t *)"b", 1, 0, 10), KMS_ERR_KEY_SPENT);
    expect_ok(be->ops->put(be, id, now + 10, (const uint8_t *)"b", 1, 1, 1));
    id_of(id, 8);
    expect_err(be->ops->put(be, id, now + 10, (const uint8_t *)"b", 1, 1, 1), KMS_ERR_KEY_SPENT);
    uint32_t kv = 0;
    expect_ok(be->ops->key_rotate(be, 1, &kv));
    assert_int_equal(kv, 2);
    expect_ok(be->ops->key_rotate(be, 1, &kv)); /* a racing caller: still 2 */
    assert_int_equal(kv, 2);
    expect_ok(be->ops->put(be, id, now + 10, (const uint8_t *)"b", 1, 2, 1));
    be->ops->close(be);
    kms_redis_free(r);
}

/* A server that cannot be reached is KMS_ERR_STORE (503), never anything else. */
static void unreachable_server_is_store_error(void **state)
{
    (void)state;
    struct kms_redis_cfg cfg = {.timeout_ms = 100};
    const char *s = "unix:///nonexistent/imskms-test.sock";
    expect_ok(kms_redis_url_parse(s, strlen(s), &cfg.url));
    struct kms_redis *r = NULL;
    expect_ok(kms_redis_new(&cfg, &r));
    char why[128] = "";
    expect_err(kms_redis_check(r, why, sizeof(why)), KMS_ERR_STORE);
    assert_non_null(strstr(why, "cannot connect"));
    struct kms_store *st = NULL;
    expect_err(open_store(r, kek1, names1, &st), KMS_ERR_STORE);
    struct kms_redis_stats stats;
    kms_redis_stats(r, &stats);
    assert_true(stats.errors >= 2 && stats.round_trips >= stats.errors);
    kms_redis_free(r);
}

static void eviction_policy_is_refused(void **state)
{
    struct fx *f = *state;
    run(f->r, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
    struct kms_redis *r = client();
    char why[128] = "";
    kms_result rc = kms_redis_check(r, why, sizeof(why));
    run(f->r, "CONFIG", "SET", "maxmemory-policy", "noeviction");
    expect_err(rc, KMS_ERR_STORE);
    assert_string_equal(why, "maxmemory-policy is allkeys-lru: it must be noeviction");
    expect_ok(kms_redis_check(r, why, sizeof(why)));
    kms_redis_free(r);
}

static struct kms_fleet_cfg fleet_cfg(uint64_t skew)
{
    return (struct kms_fleet_cfg){.url = url_of(9), .skew = skew};
}

static void fleet_replay_horizon_and_skew(void **state)
{
    (void)state;
    struct kms_fleet_cfg c = fleet_cfg(60);
    struct kms_fleet *a = NULL, *b = NULL;
    char why[160] = "";
    uint64_t now = kms_now();
    /* An empty Redis: the first node creates the marker and opens the window for all. */
    expect_ok(kms_fleet_new(&c, kek1, &a, why, sizeof(why)));
    assert_true(kms_fleet_horizon(a) >= now + 60 && kms_fleet_horizon(a) <= kms_now() + 60);
    assert_int_equal(kms_fleet_resets(a), 1);
    expect_ok(kms_fleet_new(&c, kek1, &b, why, sizeof(why)));
    assert_int_equal(kms_fleet_horizon(b), kms_fleet_horizon(a));
    assert_int_equal(kms_fleet_resets(b), 0);
    uint64_t ts = kms_fleet_horizon(a);
    uint8_t tok[16] = {1}, rand1[16] = {2}, rand2[16] = {3};
    expect_ok(kms_fleet_replay_commit(a, tok, rand1, 16, ts, ts));
    expect_err(kms_fleet_replay_commit(b, tok, rand1, 16, ts, ts), KMS_ERR_REPLAY);
    expect_err(kms_fleet_replay_commit(a, tok, rand1, 16, ts, ts), KMS_ERR_REPLAY);
    expect_ok(kms_fleet_replay_commit(b, tok, rand2, 16, ts, ts));
    /* Stamped before the horizon: refused even when the pair is new. */
    uint8_t rand3[16] = {4};
    expect_err(kms_fleet_replay_commit(a, tok, rand3, 16, ts - 1, ts), KMS_ERR_REPLAY_RESTART);
    /* The entry lives until ts + skew. */
    redisReply *keys = NULL;
    const char *kargv[] = {"KEYS", "imskms:kms:{*}:rp:*"};
    size_t klens[] = {4, strlen(kargv[1])};
    expect_ok(kms_redis_cmd(kms_fleet_redis(a), 2, kargv, klens, &keys));
    assert_int_equal(keys->elements, 3);
    const char *targv[] = {"PTTL", keys->element[0]->str};
    size_t tlens[] = {4, keys->element[0]->len};
    redisReply *ttl = NULL;
    expect_ok(kms_redis_cmd(kms_fleet_redis(a), 2, targv, tlens, &ttl));
    assert_true(ttl->integer > 55000 && ttl->integer <= 61000);
    freeReplyObject(ttl);
    freeReplyObject(keys);
    /* Another skew: refused, naming both. */
    struct kms_fleet_cfg c2 = fleet_cfg(61);
    struct kms_fleet *x = NULL;
    expect_err(kms_fleet_new(&c2, kek1, &x, why, sizeof(why)), KMS_ERR_STORE);
    assert_string_equal(why, "the fleet's --skew is 60 s (set by the first node), not 61");
    kms_fleet_free(b);
    kms_fleet_free(a);
}

static void fleet_notices_lost_data_on_reconnect(void **state)
{
    struct fx *f = *state;
    struct kms_fleet_cfg c = fleet_cfg(30);
    struct kms_fleet *a = NULL;
    char why[160] = "";
    expect_ok(kms_fleet_new(&c, kek1, &a, why, sizeof(why)));
    assert_int_equal(kms_fleet_resets(a), 1); /* created the marker */
    /* Redis loses its data and drops the connection: the next command reconnects, finds no
     * marker and applies the restart rule again. */
    run(f->r, "FLUSHDB", NULL, NULL, NULL);
    run(f->r, "CLIENT", "KILL", "TYPE", "normal");
    uint8_t tok[16] = {9}, rnd[16] = {8};
    uint64_t now = kms_now();
    /* The command that reconnects finds the horizon raised: not counted. */
    kms_result r = kms_fleet_replay_commit(a, tok, rnd, 16, now, now);
    if (r.err == KMS_ERR_STORE) { /* the killed connection failed this one: the next connects */
        r = kms_fleet_replay_commit(a, tok, rnd, 16, now, now);
    }
    expect_err(r, KMS_ERR_REPLAY_RESTART);
    assert_int_equal(kms_fleet_resets(a), 2);
    assert_true(kms_fleet_horizon(a) >= now + 30);
    kms_fleet_free(a);
}

/* Another node found Redis emptied and created a new marker first: a node that reconnects
 * then finds a marker (so it creates none) but not the one it saw, and applies the restart rule
 * too (its replay entries may be gone). */
static void fleet_notices_a_marker_another_node_made(void **state)
{
    struct fx *f = *state;
    struct kms_fleet_cfg c = fleet_cfg(30);
    struct kms_fleet *a = NULL, *b = NULL;
    char why[160] = "";
    expect_ok(kms_fleet_new(&c, kek1, &a, why, sizeof(why)));
    assert_int_equal(kms_fleet_resets(a), 1);
    run(f->r, "FLUSHDB", NULL, NULL, NULL);
    run(f->r, "CLIENT", "KILL", "TYPE", "normal");
    expect_ok(kms_fleet_new(&c, kek1, &b, why, sizeof(why)));
    assert_int_equal(kms_fleet_resets(b), 1); /* b made the new marker */
    uint8_t tok[16] = {7}, rnd[16] = {6};
    uint64_t now = kms_now();
    kms_result r = kms_fleet_replay_commit(a, tok, rnd, 16, now, now);
    if (r.err == KMS_ERR_STORE) { /* the killed connection failed this one: the next connects */
        r = kms_fleet_replay_commit(a, tok, rnd, 16, now, now);
    }
    expect_err(r, KMS_ERR_REPLAY_RESTART);
    assert_int_equal(kms_fleet_resets(a), 2);
    assert_true(kms_fleet_horizon(a) >= now + 30);
    kms_fleet_free(b);
    kms_fleet_free(a);
}

/* A redis-server of this test's own in dir (a unix socket; its data in dir), so that it can be
 * stopped and started again with its data, with appendonly aof and appendfsync fsync. */
static void own_redis_start(const char *dir, const char *aof, const char *fsync)
{
    char c[2048];
    int n = snprintf(c, sizeof(c),
                     "redis-server --port 0 --unixsocket %s/redis.sock --unixsocketperm 700 "
                     "--dir %s --save '' --appendonly %s --appendfsync %s --daemonize yes "
                     "--pidfile %s/redis.pid --logfile %s/redis.log && i=0 && "
                     "until [ \"$(redis-cli -s %s/redis.sock ping 2>/dev/null)\" = PONG ]; do "
                     "i=$((i + 1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done",
                     dir, dir, aof, fsync, dir, dir, dir);
    assert_true(n > 0 && (size_t)n < sizeof(c));
    assert_int_equal(system(c), 0);
}

/* SHUTDOWN SAVE (dump.rdb written even with no save points, the AOF flushed) or NOSAVE, then
 * waits until the server is gone. */
static void own_redis_stop(const char *dir, bool save)
{
    char c[1024];
    int n = snprintf(c, sizeof(c),
                     "redis-cli -s %s/redis.sock shutdown %s >/dev/null 2>&1; i=0; "
                     "while [ -e %s/redis.pid ] && kill -0 \"$(cat %s/redis.pid)\" 2>/dev/null; do "
                     "i=$((i + 1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done",
                     dir, save ? "save" : "nosave", dir, dir);
    assert_true(n > 0 && (size_t)n < sizeof(c));
    assert_int_equal(system(c), 0);
}

/* Redis restarted with its data (a new run_id, the marker kept): the replay entries are there,
 * but a server that answered before its writes were on disk may have lost the last ones, so
 * without appendonly yes and appendfsync always the restart rule applies again; with them it
 * does not (docs/scaling.md). */
static void fleet_restart_rule_follows_durability(void **state)
{
    (void)state;
    static const struct {
        const char *aof, *fsync;
        bool durable;
    } cases[] = {{"no", "everysec", false}, {"yes", "everysec", false}, {"yes", "always", true}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char dir[64], s[128];
        th_tmpdir(dir, sizeof(dir));
        own_redis_start(dir, cases[i].aof, cases[i].fsync);
        int n = snprintf(s, sizeof(s), "unix://%s/redis.sock", dir);
        assert_true(n > 0 && (size_t)n < sizeof(s));
        struct kms_fleet_cfg c = {.skew = 30};
        expect_ok(kms_redis_url_parse(s, (size_t)n, &c.url));
        struct kms_fleet *a = NULL;
        char why[160] = "";
        expect_ok(kms_fleet_new(&c, kek1, &a, why, sizeof(why)));
        assert_int_equal(kms_fleet_resets(a), 1); /* an empty Redis */
        uint64_t h0 = kms_fleet_horizon(a);
        uint8_t tok[16] = {5}, rnd[16] = {4};
        expect_ok(kms_fleet_replay_commit(a, tok, rnd, 16, h0, h0));
        own_redis_stop(dir, true);
        own_redis_start(dir, cases[i].aof, cases[i].fsync);
        kms_result r = kms_fleet_replay_commit(a, tok, rnd, 16, h0, h0);
        if (r.err == KMS_ERR_STORE) { /* the closed connection failed this one */
            r = kms_fleet_replay_commit(a, tok, rnd, 16, h0, h0);
        }
        expect_err(r, KMS_ERR_REPLAY); /* the entry came back from disk */
        assert_int_equal(kms_fleet_resets(a), cases[i].durable ? 1 : 2);
        kms_fleet_free(a);
        own_redis_stop(dir, false);
        char rm[128];
        n = snprintf(rm, sizeof(rm), "rm -rf %s", dir);
        assert_true(n > 0 && (size_t)n < sizeof(rm));
        assert_int_equal(system(rm), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(row_has_ttl_and_no_plaintext, setup, teardown),
        cmocka_unit_test_setup_teardown(scan_is_ordered_paged_and_skips_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(seals_are_counted_and_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(backend_refuses_spent_and_unknown_versions, setup,
                                        teardown),
        cmocka_unit_test(unreachable_server_is_store_error),
        cmocka_unit_test_setup_teardown(eviction_policy_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(fleet_replay_horizon_and_skew, setup, teardown),
        cmocka_unit_test_setup_teardown(fleet_notices_lost_data_on_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(fleet_notices_a_marker_another_node_made, setup, teardown),
        cmocka_unit_test(fleet_restart_rule_follows_durability),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
