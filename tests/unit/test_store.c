/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state store: every behavioural case runs against both backends (memory, SQLite); the
 * SQLite cases then cover restart, file modes, the KEK, tampering with the file, the schema
 * version and races between two connections.
 */
#include "testlib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sqlite3.h>

#include "store/kms_store.h"

#define MEM_ROWS 64

static const uint8_t kek1[32] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
static const uint8_t kek2[32] = {0x42};

/* A record no other byte string in the file could look like. */
static const char marker[] = "plaintext-kue-record-marker-7f3a9c";

struct fixture {
    bool sqlite;
    char dir[64];
    char path[128];
    struct kms_store *st;
};

static void id_of(uint8_t id[KMS_STORE_ID_LEN], unsigned n)
{
    memset(id, 0xa5, KMS_STORE_ID_LEN);
    id[0] = (uint8_t)(n >> 8);
    id[1] = (uint8_t)n;
}

static void side_path(const struct fixture *fx, const char *suffix, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s%s", fx->path, suffix);
    assert_true(n > 0 && (size_t)n < cap);
}

static kms_result open_store(const struct fixture *fx, const uint8_t kek[32], struct kms_store **st)
{
    struct kms_store_backend *be = NULL;
    kms_result r = fx->sqlite ? kms_store_backend_sqlite(fx->path, &be)
                              : kms_store_backend_memory(MEM_ROWS, &be);
    if (r.err != KMS_OK) {
        return r;
    }
    return kms_store_new(be, kek, st);
}

static int setup(void **state, bool sqlite)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->sqlite = sqlite;
    snprintf(fx->dir, sizeof(fx->dir), "%s", "/tmp/imskms-store-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    int n = snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
    assert_true(n > 0 && (size_t)n < sizeof(fx->path));
    expect_ok(open_store(fx, kek1, &fx->st));
    *state = fx;
    return 0;
}

static int setup_memory(void **state)
{
    return setup(state, false);
}

static int setup_sqlite(void **state)
{
    return setup(state, true);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char p[160];
    kms_store_close(fx->st);
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        side_path(fx, suffixes[i], p, sizeof(p));
        (void)unlink(p);
    }
    assert_int_equal(rmdir(fx->dir), 0);
    free(fx);
    return 0;
}

/* Closes and reopens the store on the same file (a daemon restart). */
static void reopen(struct fixture *fx, const uint8_t kek[32])
{
    kms_store_close(fx->st);
    fx->st = NULL;
    expect_ok(open_store(fx, kek, &fx->st));
}

/* ---- behaviour, both backends ---- */

static void put_get_round_trip(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN], rec[300];
    uint64_t exp = 1;
    struct kms_buf out;
    for (size_t i = 0; i < sizeof(rec); i++) {
        rec[i] = (uint8_t)(i * 7);
    }
    id_of(id, 1);
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    expect_ok(kms_store_kue_put(fx->st, id, 2000, rec, sizeof(rec)));
    expect_ok(kms_store_kue_get(fx->st, id, 1999, &out, &exp));
    assert_int_equal(kms_buf_len(&out), sizeof(rec));
    expect_bytes_eq(kms_buf_data(&out), rec, sizeof(rec));
    assert_int_equal(exp, 2000);
    kms_buf_reset(&out);
    /* the empty record and the largest one */
    id_of(id, 2);
    expect_ok(kms_store_kue_put(fx->st, id, 2000, NULL, 0));
    expect_ok(kms_store_kue_get(fx->st, id, 0, &out, NULL));
    assert_int_equal(kms_buf_len(&out), 0);
    uint8_t *big = malloc(KMS_STORE_RECORD_MAX);
    assert_non_null(big);
    memset(big, 0x5c, KMS_STORE_RECORD_MAX);
    id_of(id, 3);
    expect_ok(kms_store_kue_put(fx->st, id, 2000, big, KMS_STORE_RECORD_MAX));
    expect_ok(kms_store_kue_get(fx->st, id, 0, &out, NULL));
    assert_int_equal(kms_buf_len(&out), KMS_STORE_RECORD_MAX);
    expect_bytes_eq(kms_buf_data(&out), big, KMS_STORE_RECORD_MAX);
    free(big);
    kms_buf_cleanup(&out);
}

static void put_of_taken_id_is_exists(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    const uint8_t a[] = "first", b[] = "second";
    struct kms_buf out;
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    id_of(id, 1);
    expect_ok(kms_store_kue_put(fx->st, id, 100, a, sizeof(a)));
    expect_err(kms_store_kue_put(fx->st, id, 100, b, sizeof(b)), KMS_ERR_EXISTS);
    /* the first record is untouched */
    expect_ok(kms_store_kue_get(fx->st, id, 50, &out, NULL));
    expect_bytes_eq(kms_buf_data(&out), a, sizeof(a));
    /* an expired row not yet purged still holds its id */
    expect_err(kms_store_kue_put(fx->st, id, 500, b, sizeof(b)), KMS_ERR_EXISTS);
    kms_buf_cleanup(&out);
}

static void get_of_absent_or_expired_is_not_found(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    const uint8_t a[] = "record";
    uint64_t exp = 7;
    struct kms_buf out;
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    id_of(id, 1);
    expect_err(kms_store_kue_get(fx->st, id, 0, &out, &exp), KMS_ERR_NOT_FOUND);
    assert_int_equal(exp, 0);
    expect_ok(kms_store_kue_put(fx->st, id, 100, a, sizeof(a)));
    expect_ok(kms_store_kue_get(fx->st, id, 99, &out, NULL));
    kms_buf_reset(&out);
    /* expires <= now is expired */
    expect_err(kms_store_kue_get(fx->st, id, 100, &out, NULL), KMS_ERR_NOT_FOUND);
    expect_err(kms_store_kue_get(fx->st, id, 101, &out, NULL), KMS_ERR_NOT_FOUND);
    assert_int_equal(kms_buf_len(&out), 0);
    kms_buf_cleanup(&out);
}

static void del_removes_the_row(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN], other[KMS_STORE_ID_LEN];
    const uint8_t a[] = "record";
    struct kms_buf out;
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    id_of(id, 1);
    id_of(other, 2);
    expect_err(kms_store_kue_del(fx->st, id), KMS_ERR_NOT_FOUND);
    expect_ok(kms_store_kue_put(fx->st, id, 100, a, sizeof(a)));
    expect_ok(kms_store_kue_put(fx->st, other, 100, a, sizeof(a)));
    expect_ok(kms_store_kue_del(fx->st, id));
    expect_err(kms_store_kue_get(fx->st, id, 0, &out, NULL), KMS_ERR_NOT_FOUND);
    expect_err(kms_store_kue_del(fx->st, id), KMS_ERR_NOT_FOUND);
    expect_ok(kms_store_kue_get(fx->st, other, 0, &out, NULL));
    /* the id is free again */
    expect_ok(kms_store_kue_put(fx->st, id, 100, a, sizeof(a)));
    kms_buf_cleanup(&out);
}

static void purge_removes_exactly_the_expired(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    const uint8_t a[] = "record";
    uint64_t n = 99;
    struct kms_buf out;
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    /* rows 1..3 expire at 100, 200, 300 */
    for (unsigned i = 1; i <= 3; i++) {
        id_of(id, i);
        expect_ok(kms_store_kue_put(fx->st, id, 100 * i, a, sizeof(a)));
    }
    expect_ok(kms_store_purge(fx->st, 99, &n));
    assert_int_equal(n, 0);
    expect_ok(kms_store_purge(fx->st, 200, &n)); /* expires <= now: rows 1 and 2 */
    assert_int_equal(n, 2);
    expect_ok(kms_store_purge(fx->st, 200, NULL));
    /* rows 1 and 2 are gone (their ids are free), row 3 is kept */
    id_of(id, 1);
    expect_ok(kms_store_kue_put(fx->st, id, 1000, a, sizeof(a)));
    id_of(id, 2);
    expect_err(kms_store_kue_del(fx->st, id), KMS_ERR_NOT_FOUND);
    id_of(id, 3);
    expect_ok(kms_store_kue_get(fx->st, id, 0, &out, NULL));
    expect_ok(kms_store_purge(fx->st, 10000, &n));
    assert_int_equal(n, 2); /* rows 1 (put again) and 3 */
    kms_buf_cleanup(&out);
}

/* The scan pages through the unexpired ids in byte order, each once, in pages of any size;
 * ids with a high first byte sort after low ones (unsigned bytes). */
static void scan_pages_through_unexpired_ids_in_order(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    const uint8_t a[] = "record";
    /* 12 rows: 0x0000.., 0x0100.., ... 0x0b00..; ids 3 and 7 expire at 50; 0xff00.. too. */
    for (unsigned i = 0; i < 12; i++) {
        id_of(id, i << 8);
        expect_ok(kms_store_kue_put(fx->st, id, (i == 3 || i == 7) ? 50 : 1000, a, sizeof(a)));
    }
    id_of(id, 0xff00);
    expect_ok(kms_store_kue_put(fx->st, id, 1000, a, sizeof(a)));
    static const unsigned want[] = {0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 0xff};
    const size_t n_want = sizeof want / sizeof want[0];
    for (size_t page = 1; page <= 12; page++) {
        uint8_t ids[12][KMS_STORE_ID_LEN];
        uint8_t after[KMS_STORE_ID_LEN];
        size_t got = 0, n = 0;
        bool first = true;
        do {
            expect_ok(kms_store_kue_scan(fx->st, 100, first ? NULL : after, ids, page, &n));
            assert_true(n <= page);
            for (size_t i = 0; i < n; i++) {
                assert_true(got < n_want);
                id_of(id, want[got] << 8);
                assert_memory_equal(ids[i], id, KMS_STORE_ID_LEN);
                got++;
            }
            if (n > 0) {
                memcpy(after, ids[n - 1], KMS_STORE_ID_LEN);
            }
            first = false;
        } while (n == page);
        assert_int_equal(got, n_want);
    }
    /* At time 0 the expiring ones are there too; past every expiry, none. */
    uint8_t ids[16][KMS_STORE_ID_LEN];
    size_t n = 0;
    expect_ok(kms_store_kue_scan(fx->st, 0, NULL, ids, 16, &n));
    assert_int_equal(n, 13);
    expect_ok(kms_store_kue_scan(fx->st, 1000, NULL, ids, 16, &n));
    assert_int_equal(n, 0);
    expect_err(kms_store_kue_scan(fx->st, 0, NULL, ids, 0, &n), KMS_ERR_ARG);
}

/* Expiry times order as unsigned 64-bit numbers in every backend (SQLite stores them as
 * big-endian BLOBs: a signed INTEGER would put those above 2^63 before zero). */
static void expiries_compare_as_unsigned_64_bit(void **state)
{
    struct fixture *fx = *state;
    uint8_t hi[KMS_STORE_ID_LEN], mid[KMS_STORE_ID_LEN];
    const uint64_t top = UINT64_MAX, half = UINT64_C(1) << 63;
    const uint8_t a[] = "record";
    uint64_t n = 9;
    struct kms_buf out;
    kms_buf_init(&out, 64, true);
    id_of(hi, 1);
    id_of(mid, 2);
    expect_ok(kms_store_kue_put(fx->st, hi, top, a, sizeof(a)));
    expect_ok(kms_store_kue_put(fx->st, mid, half + 5, a, sizeof(a)));
    expect_ok(kms_store_kue_get(fx->st, mid, half + 4, &out, NULL));
    expect_err(kms_store_kue_get(fx->st, mid, half + 5, &out, NULL), KMS_ERR_NOT_FOUND);
    expect_ok(kms_store_kue_get(fx->st, hi, top - 1, &out, NULL));
    expect_err(kms_store_kue_get(fx->st, hi, top, &out, NULL), KMS_ERR_NOT_FOUND);
    kms_buf_cleanup(&out);
    expect_ok(kms_store_purge(fx->st, half - 1, &n));
    assert_int_equal(n, 0);
    expect_ok(kms_store_purge(fx->st, half + 4, &n));
    assert_int_equal(n, 0);
    expect_ok(kms_store_purge(fx->st, top - 1, &n));
    assert_int_equal(n, 1); /* mid */
    expect_ok(kms_store_purge(fx->st, top, &n));
    assert_int_equal(n, 1); /* hi */
}

static void record_too_long_is_refused(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    uint8_t *big = calloc(1, KMS_STORE_RECORD_MAX + 1);
    struct kms_buf out;
    assert_non_null(big);
    id_of(id, 1);
    expect_err(kms_store_kue_put(fx->st, id, 100, big, KMS_STORE_RECORD_MAX + 1), KMS_ERR_TOO_LONG);
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    expect_err(kms_store_kue_get(fx->st, id, 0, &out, NULL), KMS_ERR_NOT_FOUND);
    /* an output buffer too small for the record: TOO_LONG and nothing written */
    expect_ok(kms_store_kue_put(fx->st, id, 100, big, 100));
    kms_buf_cleanup(&out);
    kms_buf_init(&out, 99, true);
    expect_err(kms_store_kue_get(fx->st, id, 0, &out, NULL), KMS_ERR_TOO_LONG);
    assert_int_equal(kms_buf_len(&out), 0);
    kms_buf_cleanup(&out);
    free(big);
}

static void bad_arguments_are_refused(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    struct kms_buf out;
    struct kms_store *st = (struct kms_store *)1;
    kms_buf_init(&out, 64, true);
    id_of(id, 1);
    expect_err(kms_store_kue_put(fx->st, NULL, 1, id, 1), KMS_ERR_ARG);
    expect_err(kms_store_kue_put(fx->st, id, 1, NULL, 1), KMS_ERR_ARG);
    expect_err(kms_store_kue_get(fx->st, id, 0, NULL, NULL), KMS_ERR_ARG);
    expect_err(kms_store_kue_get(NULL, id, 0, &out, NULL), KMS_ERR_ARG);
    expect_err(kms_store_kue_del(fx->st, NULL), KMS_ERR_ARG);
    expect_err(kms_store_purge(NULL, 0, NULL), KMS_ERR_ARG);
    expect_err(kms_store_new(NULL, kek1, &st), KMS_ERR_ARG);
    assert_null(st);
    kms_buf_cleanup(&out);
}

/* Two threads put a record under one fresh id per round, a few hundred rounds: exactly one
 * wins each round, and only the winners' seals are counted. */
struct race {
    struct kms_store *st[2];
    pthread_barrier_t go;
    unsigned rounds;
    unsigned wins[2];
    unsigned other[2]; /* results neither OK nor EXISTS */
};

struct racer {
    struct race *race;
    int k;
};

static void *race_thread(void *arg)
{
    struct racer *me = arg;
    struct race *rc = me->race;
    uint8_t id[KMS_STORE_ID_LEN];
    const uint8_t a[] = "racing record";
    for (unsigned i = 1; i <= rc->rounds; i++) {
        id_of(id, i);
        pthread_barrier_wait(&rc->go);
        kms_result r = kms_store_kue_put(rc->st[me->k], id, UINT64_MAX, a, sizeof(a));
        if (r.err == KMS_OK) {
            rc->wins[me->k]++;
        } else if (r.err != KMS_ERR_EXISTS) {
            rc->other[me->k]++;
        }
    }
    return NULL;
}

static void run_race(struct kms_store *a, struct kms_store *b, unsigned rounds)
{
    struct race rc = {.st = {a, b}, .rounds = rounds};
    struct racer rr[2] = {{&rc, 0}, {&rc, 1}};
    pthread_t t[2];
    assert_int_equal(pthread_barrier_init(&rc.go, NULL, 2), 0);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(pthread_create(&t[k], NULL, race_thread, &rr[k]), 0);
    }
    for (int k = 0; k < 2; k++) {
        assert_int_equal(pthread_join(t[k], NULL), 0);
    }
    pthread_barrier_destroy(&rc.go);
    assert_int_equal(rc.other[0] + rc.other[1], 0);
    /* every round had exactly one winner, and the losers' seals were not counted */
    assert_int_equal(rc.wins[0] + rc.wins[1], rounds);
    uint32_t kv = 0;
    uint64_t seals = 0;
    expect_ok(kms_store_key_info(a, &kv, &seals));
    assert_int_equal(kv, 1);
    assert_int_equal(seals, rounds);
}

static void racing_puts_have_one_winner(void **state)
{
    struct fixture *fx = *state;
    /* one row per round: the memory backend holds MEM_ROWS */
    run_race(fx->st, fx->st, fx->sqlite ? 300 : MEM_ROWS);
}

/* ---- memory backend ---- */

static void memory_backend_full_is_store_error(void **state)
{
    (void)state;
    struct kms_store_backend *be = NULL;
    struct kms_store *st = NULL;
    uint8_t id[KMS_STORE_ID_LEN];
    const uint8_t a[] = "record";
    uint64_t n;
    expect_err(kms_store_backend_memory(0, &be), KMS_ERR_ARG);
    expect_ok(kms_store_backend_memory(2, &be));
    expect_ok(kms_store_new(be, kek1, &st));
    for (unsigned i = 1; i <= 2; i++) {
        id_of(id, i);
        expect_ok(kms_store_kue_put(st, id, 10 * i, a, sizeof(a)));
    }
    id_of(id, 3);
    /* full, even though row 1 has expired: only purge makes room */
    expect_err(kms_store_kue_put(st, id, 100, a, sizeof(a)), KMS_ERR_STORE);
    expect_ok(kms_store_purge(st, 10, &n));
    assert_int_equal(n, 1);
    expect_ok(kms_store_kue_put(st, id, 100, a, sizeof(a)));
    id_of(id, 4);
    expect_err(kms_store_kue_put(st, id, 100, a, sizeof(a)), KMS_ERR_STORE);
    kms_store_close(st);
}

/* ---- SQLite backend ---- */

static void sqlite_survives_restart(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    const uint8_t a[] = "record kept across a restart";
    uint64_t exp = 0;
    struct kms_buf out;
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    id_of(id, 1);
    expect_ok(kms_store_kue_put(fx->st, id, 5000, a, sizeof(a)));
    reopen(fx, kek1);
    expect_ok(kms_store_kue_get(fx->st, id, 0, &out, &exp));
    expect_bytes_eq(kms_buf_data(&out), a, sizeof(a));
    assert_int_equal(exp, 5000);
    kms_buf_cleanup(&out);
}

static void sqlite_files_are_mode_0600(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    const uint8_t a[] = "record";
    char p[160];
    struct stat sb;
    /* A permissive umask must not matter. */
    kms_store_close(fx->st);
    fx->st = NULL;
    assert_int_equal(unlink(fx->path), 0);
    mode_t old = umask(0);
    kms_result r = open_store(fx, kek1, &fx->st);
    umask(old);
    expect_ok(r);
    id_of(id, 1);
    expect_ok(kms_store_kue_put(fx->st, id, 100, a, sizeof(a)));
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        side_path(fx, suffixes[i], p, sizeof(p));
        assert_int_equal(stat(p, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
    }
}

static void sqlite_refuses_a_file_others_may_read(void **state)
{
    struct fixture *fx = *state;
    struct kms_store_backend *be = (struct kms_store_backend *)1;
    kms_store_close(fx->st);
    fx->st = NULL;
    assert_int_equal(chmod(fx->path, 0644), 0);
    expect_err(kms_store_backend_sqlite(fx->path, &be), KMS_ERR_STORE);
    assert_null(be);
    assert_int_equal(chmod(fx->path, 0600), 0);
    expect_ok(open_store(fx, kek1, &fx->st));
    expect_err(kms_store_backend_sqlite(fx->dir, &be), KMS_ERR_STORE); /* a directory */
}

static void sqlite_wrong_kek_fails_to_decrypt(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    const uint8_t a[] = "record";
    uint64_t exp = 9;
    struct kms_buf out;
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    id_of(id, 1);
    expect_ok(kms_store_kue_put(fx->st, id, 100, a, sizeof(a)));
    reopen(fx, kek2);
    expect_err(kms_store_kue_get(fx->st, id, 0, &out, &exp), KMS_ERR_STORE);
    assert_int_equal(kms_buf_len(&out), 0);
    assert_int_equal(exp, 0);
    reopen(fx, kek1);
    expect_ok(kms_store_kue_get(fx->st, id, 0, &out, &exp));
    kms_buf_cleanup(&out);
}

/* Direct access to the database file, as an attacker with write access would have. */
static sqlite3 *raw_open(const struct fixture *fx)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    assert_int_equal(sqlite3_open_v2(fx->path, &db, flags, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
    return db;
}

static size_t raw_get_blob(sqlite3 *db, const uint8_t id[KMS_STORE_ID_LEN], uint8_t *out,
                           size_t cap)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT blob FROM kue WHERE id = ?1", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_blob(st, 1, id, KMS_STORE_ID_LEN, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    assert_true(n <= cap);
    memcpy(out, sqlite3_column_blob(st, 0), n);
    sqlite3_finalize(st);
    return n;
}

static void raw_set_blob(sqlite3 *db, const uint8_t id[KMS_STORE_ID_LEN], const uint8_t *blob,
                         size_t len)
{
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE kue SET blob = ?2 WHERE id = ?1", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_bind_blob(st, 1, id, KMS_STORE_ID_LEN, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_bind_blob(st, 2, blob, (int)len, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(st);
}

static void sqlite_altered_blob_fails_to_decrypt(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN], blob[256], bad[256];
    const uint8_t a[] = "record under test";
    struct kms_buf out;
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    id_of(id, 1);
    expect_ok(kms_store_kue_put(fx->st, id, 100, a, sizeof(a)));
    sqlite3 *db = raw_open(fx);
    size_t n = raw_get_blob(db, id, blob, sizeof(blob));
    assert_int_equal(n, 4 + 12 + sizeof(a) + 16);
    /* one bit in the key version, the nonce, the ciphertext and the tag, each in turn; then
     * truncations */
    const size_t at[] = {0, 3, 4, 15, 16, 16 + sizeof(a) / 2, n - 16, n - 1};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        memcpy(bad, blob, n);
        bad[at[i]] ^= 0x04;
        raw_set_blob(db, id, bad, n);
        expect_err(kms_store_kue_get(fx->st, id, 0, &out, NULL), KMS_ERR_STORE);
        assert_int_equal(kms_buf_len(&out), 0);
    }
    const size_t lens[] = {0, 1, 3, 4, 31, 32, n - 1};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        raw_set_blob(db, id, blob, lens[i]);
        expect_err(kms_store_kue_get(fx->st, id, 0, &out, NULL), KMS_ERR_STORE);
        assert_int_equal(kms_buf_len(&out), 0);
    }
    raw_set_blob(db, id, blob, n);
    expect_ok(kms_store_kue_get(fx->st, id, 0, &out, NULL));
    expect_bytes_eq(kms_buf_data(&out), a, sizeof(a));
    sqlite3_close(db);
    kms_buf_cleanup(&out);
}

/* An expiry pushed back in the database is caught: the expiry is part of the AAD. */
static void sqlite_extended_expiry_fails(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    const uint8_t a[] = "short-lived record";
    struct kms_buf out;
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    id_of(id, 3);
    expect_ok(kms_store_kue_put(fx->st, id, 100, a, sizeof(a)));
    sqlite3 *db = raw_open(fx);
    sqlite3_stmt *st = NULL;
    const uint8_t later[8] = {0, 0, 0, 0, 0, 0, 0x27, 0x10}; /* 10000 */
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE kue SET expires = ?2 WHERE id = ?1", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_bind_blob(st, 1, id, KMS_STORE_ID_LEN, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_bind_blob(st, 2, later, 8, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(st);
    expect_err(kms_store_kue_get(fx->st, id, 150, &out, NULL), KMS_ERR_STORE);
    assert_int_equal(kms_buf_len(&out), 0);
    sqlite3_close(db);
    kms_buf_cleanup(&out);
}

static void sqlite_blob_moved_to_another_id_fails(void **state)
{
    struct fixture *fx = *state;
    uint8_t ida[KMS_STORE_ID_LEN], idb[KMS_STORE_ID_LEN], blob[256];
    const uint8_t a[] = "record of a", b[] = "record of b";
    struct kms_buf out;
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    id_of(ida, 1);
    id_of(idb, 2);
    expect_ok(kms_store_kue_put(fx->st, ida, 100, a, sizeof(a)));
    expect_ok(kms_store_kue_put(fx->st, idb, 100, b, sizeof(b)));
    sqlite3 *db = raw_open(fx);
    size_t n = raw_get_blob(db, ida, blob, sizeof(blob));
    raw_set_blob(db, idb, blob, n);
    sqlite3_close(db);
    expect_err(kms_store_kue_get(fx->st, idb, 0, &out, NULL), KMS_ERR_STORE);
    assert_int_equal(kms_buf_len(&out), 0);
    expect_ok(kms_store_kue_get(fx->st, ida, 0, &out, NULL));
    expect_bytes_eq(kms_buf_data(&out), a, sizeof(a));
    kms_buf_cleanup(&out);
}

static bool file_contains(const char *path, const void *needle, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return false;
    }
    struct stat sb;
    assert_int_equal(fstat(fileno(f), &sb), 0);
    size_t len = (size_t)sb.st_size;
    uint8_t *d = malloc(len + 1);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, len, f), len);
    fclose(f);
    bool found = false;
    for (size_t i = 0; !found && len >= n && i <= len - n; i++) {
        found = memcmp(d + i, needle, n) == 0;
    }
    free(d);
    return found;
}

static void sqlite_file_never_holds_plaintext(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN];
    char p[160];
    id_of(id, 1);
    expect_ok(kms_store_kue_put(fx->st, id, 100, (const uint8_t *)marker, sizeof(marker) - 1));
    /* the search itself works: the id is in the file */
    side_path(fx, "-wal", p, sizeof(p));
    assert_true(file_contains(fx->path, id, sizeof(id)) || file_contains(p, id, sizeof(id)));
    assert_false(file_contains(fx->path, marker, sizeof(marker) - 1));
    assert_false(file_contains(p, marker, sizeof(marker) - 1));
    /* after a close the WAL is checkpointed into the main file */
    kms_store_close(fx->st);
    fx->st = NULL;
    assert_true(file_contains(fx->path, id, sizeof(id)));
    assert_false(file_contains(fx->path, marker, sizeof(marker) - 1));
    expect_ok(open_store(fx, kek1, &fx->st));
}

static void raw_exec(const struct fixture *fx, const char *sql)
{
    sqlite3 *db = raw_open(fx);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void sqlite_refuses_a_newer_schema_or_foreign_file(void **state)
{
    struct fixture *fx = *state;
    struct kms_store_backend *be = NULL;
    kms_store_close(fx->st);
    fx->st = NULL;
    raw_exec(fx, "PRAGMA user_version = 3");
    expect_err(kms_store_backend_sqlite(fx->path, &be), KMS_ERR_STORE);
    assert_null(be);
    raw_exec(fx, "PRAGMA user_version = 2");
    expect_ok(open_store(fx, kek1, &fx->st));
    kms_store_close(fx->st);
    fx->st = NULL;
    /* another program's database: tables but no version of ours */
    assert_int_equal(unlink(fx->path), 0);
    raw_exec(fx, "CREATE TABLE t(x)");
    assert_int_equal(chmod(fx->path, 0600), 0);
    expect_err(kms_store_backend_sqlite(fx->path, &be), KMS_ERR_STORE);
    /* and one that claims our version under another application id */
    raw_exec(fx, "PRAGMA user_version = 1");
    expect_err(kms_store_backend_sqlite(fx->path, &be), KMS_ERR_STORE);
    assert_int_equal(unlink(fx->path), 0);
    expect_ok(open_store(fx, kek1, &fx->st));
}

/* Two connections to one file, as two processes would have: still one winner per round. */
static void sqlite_two_connections_race(void **state)
{
    struct fixture *fx = *state;
    struct kms_store *second = NULL;
    expect_ok(open_store(fx, kek1, &second));
    run_race(fx->st, second, 200);
    kms_store_close(second);
}

/* One behavioural case per backend, named after it. */
#define BOTH(t)                                                                                    \
    {"memory/" #t, t, setup_memory, teardown, NULL},                                               \
    {                                                                                              \
        "sqlite/" #t, t, setup_sqlite, teardown, NULL                                              \
    }
#define SQLITE(t)                                                                                  \
    {                                                                                              \
        "sqlite/" #t, t, setup_sqlite, teardown, NULL                                              \
    }

/* ---- key versions, seal counts, migration ---- */

static void put_rec(struct kms_store *st, unsigned n)
{
    uint8_t id[KMS_STORE_ID_LEN], rec[8] = {'r', 'e', 'c', (uint8_t)n};
    id_of(id, n);
    expect_ok(kms_store_kue_put(st, id, 1000, rec, sizeof(rec)));
}

static void expect_rec(struct kms_store *st, unsigned n)
{
    uint8_t id[KMS_STORE_ID_LEN], rec[8] = {'r', 'e', 'c', (uint8_t)n};
    struct kms_buf out;
    kms_buf_init(&out, KMS_STORE_RECORD_MAX, true);
    id_of(id, n);
    expect_ok(kms_store_kue_get(st, id, 0, &out, NULL));
    assert_int_equal(kms_buf_len(&out), sizeof(rec));
    expect_bytes_eq(kms_buf_data(&out), rec, sizeof(rec));
    kms_buf_cleanup(&out);
}

static void expect_key(struct kms_store *st, uint32_t kv, uint64_t seals)
{
    uint32_t v = 0;
    uint64_t n = 0;
    expect_ok(kms_store_key_info(st, &v, &n));
    assert_int_equal(v, kv);
    assert_int_equal(n, seals);
}

/* Seals are counted per key version; past the limit the store moves to the next version, and
 * records of the older one stay readable (across a restart for SQLite: the count is durable). */
static void seal_limit_rotates_the_key(void **state)
{
    struct fixture *fx = *state;
    expect_key(fx->st, 1, 0);
    kms_store_set_seal_limit(fx->st, 3);
    for (unsigned i = 1; i <= 3; i++) {
        put_rec(fx->st, i);
    }
    expect_key(fx->st, 1, 3);
    put_rec(fx->st, 4);
    expect_key(fx->st, 2, 1);
    /* a refused put (taken id) counts nothing */
    uint8_t id[KMS_STORE_ID_LEN];
    id_of(id, 4);
    expect_err(kms_store_kue_put(fx->st, id, 1000, id, 4), KMS_ERR_EXISTS);
    expect_key(fx->st, 2, 1);
    for (unsigned i = 1; i <= 4; i++) {
        expect_rec(fx->st, i);
    }
    if (fx->sqlite) {
        reopen(fx, kek1);
        expect_key(fx->st, 2, 1);
        kms_store_set_seal_limit(fx->st, 2);
        put_rec(fx->st, 5);
        put_rec(fx->st, 6); /* version 2 spent: version 3 */
        expect_key(fx->st, 3, 1);
        for (unsigned i = 1; i <= 6; i++) {
            expect_rec(fx->st, i);
        }
    }
}

/* The backend refuses a seal past the limit, or under a version it does not have, and then
 * stores nothing. */
static void backend_refuses_a_spent_key(void **state)
{
    struct fixture *fx = *state;
    struct kms_store_backend *be = NULL;
    if (fx->sqlite) {
        kms_store_close(fx->st);
        fx->st = NULL;
        expect_ok(kms_store_backend_sqlite(fx->path, &be));
    } else {
        expect_ok(kms_store_backend_memory(4, &be));
    }
    uint8_t ida[KMS_STORE_ID_LEN], idb[KMS_STORE_ID_LEN], blob[40] = {0, 0, 0, 1};
    id_of(ida, 1);
    id_of(idb, 2);
    expect_ok(be->ops->put(be, ida, 100, blob, sizeof(blob), 1, 1));
    expect_err(be->ops->put(be, idb, 100, blob, sizeof(blob), 1, 1), KMS_ERR_KEY_SPENT);
    expect_err(be->ops->put(be, idb, 100, blob, sizeof(blob), 7, 100), KMS_ERR_KEY_SPENT);
    struct kms_buf out;
    uint64_t exp = 0;
    kms_buf_init(&out, 1024, false);
    expect_err(be->ops->get(be, idb, 0, &out, &exp), KMS_ERR_NOT_FOUND);
    uint32_t kv = 0;
    expect_ok(be->ops->key_rotate(be, 1, &kv));
    assert_int_equal(kv, 2);
    expect_ok(be->ops->key_rotate(be, 1, &kv)); /* a second racer: no version 3 */
    assert_int_equal(kv, 2);
    expect_err(be->ops->key_rotate(be, UINT32_MAX, &kv), KMS_ERR_KEY_SPENT);
    expect_ok(be->ops->put(be, idb, 100, blob, sizeof(blob), 2, 1));
    kms_buf_cleanup(&out);
    be->ops->close(be);
}

/* AES-256-GCM done here with OpenSSL directly (not the store's code). */
static bool gcm(bool enc, const uint8_t key[32], const uint8_t *aad, size_t aad_len,
                const uint8_t nonce[12], const uint8_t *in, size_t len, uint8_t *out,
                uint8_t tag[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0, ok = c != NULL;
    ok = ok && (enc ? EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce)
                    : EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce)) == 1;
    ok = ok && EVP_CipherUpdate(c, NULL, &l, aad, (int)aad_len) == 1;
    ok = ok && EVP_CipherUpdate(c, out, &l, in, (int)len) == 1;
    if (!enc) {
        ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
    }
    ok = ok && EVP_CipherFinal_ex(c, out + len, &l) == 1;
    if (enc) {
        ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    }
    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* label || 'K' || id || expires (8, BE) [|| kv (4, BE)]: the layout kms_store.c documents. */
static size_t test_aad(uint8_t *aad, const char *label, const uint8_t id[16], uint64_t exp,
                       const uint32_t *kv)
{
    size_t n = strlen(label);
    memcpy(aad, label, n);
    aad[n++] = 'K';
    memcpy(aad + n, id, 16);
    n += 16;
    for (int i = 7; i >= 0; i--) {
        aad[n++] = (uint8_t)(exp >> (8 * i));
    }
    if (kv != NULL) {
        for (int i = 3; i >= 0; i--) {
            aad[n++] = (uint8_t)(*kv >> (8 * i));
        }
    }
    return n;
}

/* A record is sealed under HKDF(KEK, "imskms state store" || version), never the raw KEK. */
static void sqlite_record_is_under_the_derived_key(void **state)
{
    struct fixture *fx = *state;
    uint8_t id[KMS_STORE_ID_LEN], blob[256], pt[256], aad[64], key[32], tag[16];
    const uint8_t a[] = "derived-key record";
    id_of(id, 9);
    expect_ok(kms_store_kue_put(fx->st, id, 100, a, sizeof(a)));
    sqlite3 *db = raw_open(fx);
    size_t n = raw_get_blob(db, id, blob, sizeof(blob));
    sqlite3_close(db);
    assert_int_equal(n, 4 + 12 + sizeof(a) + 16);
    const uint8_t v1[4] = {0, 0, 0, 1};
    expect_bytes_eq(blob, v1, 4);
    uint32_t kv = 1;
    size_t al = test_aad(aad, "imskms-store-v2", id, 100, &kv);
    memcpy(tag, blob + n - 16, 16);
    /* the raw KEK does not open it */
    memcpy(key, kek1, 32);
    assert_false(gcm(false, key, aad, al, blob + 4, blob + 16, sizeof(a), pt, tag));
    /* HKDF-Expand-SHA-256(KEK, label || 00000001), computed here with EVP_KDF directly */
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    uint8_t info[] = "imskms state store\0\0\0\1";
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)(uintptr_t) "SHA256", 0),
        OSSL_PARAM_construct_int("mode", &mode),
        OSSL_PARAM_construct_octet_string("key", (void *)(uintptr_t)kek1, 32),
        OSSL_PARAM_construct_octet_string("info", info, sizeof(info) - 1),
        OSSL_PARAM_construct_end(),
    };
    assert_int_equal(EVP_KDF_derive(kc, key, 32, p), 1);
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    assert_true(gcm(false, key, aad, al, blob + 4, blob + 16, sizeof(a), pt, tag));
    expect_bytes_eq(pt, a, sizeof(a));
}

/* Schema 1 as the store wrote it before key versions (the SQL of that version). */
static const char schema_v1_sql[] =
    "CREATE TABLE kue("
    " id BLOB NOT NULL PRIMARY KEY CHECK(typeof(id) = 'blob' AND length(id) = 16),"
    " expires BLOB NOT NULL CHECK(typeof(expires) = 'blob' AND length(expires) = 8),"
    " blob BLOB NOT NULL CHECK(typeof(blob) = 'blob')"
    ") WITHOUT ROWID;"
    "CREATE TABLE counter("
    " id BLOB NOT NULL PRIMARY KEY CHECK(typeof(id) = 'blob' AND length(id) = 16),"
    " counter BLOB NOT NULL CHECK(typeof(counter) = 'blob' AND length(counter) = 8),"
    " expires BLOB NOT NULL CHECK(typeof(expires) = 'blob' AND length(expires) = 8)"
    ") WITHOUT ROWID;"
    "PRAGMA application_id = 1229804363;"
    "PRAGMA user_version = 1;";

/* A version-0 record, built by hand: nonce || AES-256-GCM(raw KEK) || tag, with AAD
 * "imskms-store-v1" || 'K' || id || expires. */
static void raw_put_v0(sqlite3 *db, unsigned n, uint64_t exp, const uint8_t *rec, size_t len)
{
    uint8_t id[KMS_STORE_ID_LEN], aad[64], blob[256], tag[16], expb[8];
    id_of(id, n);
    size_t al = test_aad(aad, "imskms-store-v1", id, exp, NULL);
    memset(blob, (int)(0x30 + n), 12); /* a fixed nonce is fine for a test record */
    assert_true(gcm(true, kek1, aad, al, blob, rec, len, blob + 12, tag));
    memcpy(blob + 12 + len, tag, 16);
    for (int i = 0; i < 8; i++) {
        expb[i] = (uint8_t)(exp >> (56 - 8 * i));
    }
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO kue(id, expires, blob) VALUES (?1, ?2, ?3)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, expb, 8, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, blob, (int)(12 + len + 16), SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static int64_t raw_user_version(const struct fixture *fx)
{
    sqlite3 *db = raw_open(fx);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Tables named name in the file. */
static int64_t raw_table_count(const struct fixture *fx, const char *name)
{
    sqlite3 *db = raw_open(fx);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                        "AND name = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* A store of schema 1 (records under the raw KEK) is re-sealed under the derived key when it is
 * opened; with a wrong KEK the open fails and the file stays as it was. */
static void sqlite_migrates_a_raw_kek_store(void **state)
{
    struct fixture *fx = *state;
    /* schema 2 as created has no counter table */
    assert_int_equal(raw_table_count(fx, "kue"), 1);
    assert_int_equal(raw_table_count(fx, "counter"), 0);
    kms_store_close(fx->st);
    fx->st = NULL;
    assert_int_equal(unlink(fx->path), 0);
    raw_exec(fx, schema_v1_sql);
    assert_int_equal(chmod(fx->path, 0600), 0);
    const uint8_t rec1[8] = {'r', 'e', 'c', 1}, rec2[8] = {'r', 'e', 'c', 2};
    sqlite3 *db = raw_open(fx);
    raw_put_v0(db, 1, 1000, rec1, sizeof(rec1));
    raw_put_v0(db, 2, 1000, rec2, sizeof(rec2));
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO counter VALUES (x'a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5',"
                                  " x'0000000000000010', x'00000000000003e8')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    uint8_t id1[KMS_STORE_ID_LEN], old[256];
    id_of(id1, 1);
    size_t old_n = raw_get_blob(db, id1, old, sizeof(old));
    sqlite3_close(db);

    /* a wrong KEK: refused, nothing changed */
    struct kms_store *st = NULL;
    expect_err(open_store(fx, kek2, &st), KMS_ERR_STORE);
    assert_null(st);
    assert_int_equal(raw_user_version(fx), 1);
    assert_int_equal(raw_table_count(fx, "counter"), 1);
    uint8_t now_blob[256];
    db = raw_open(fx);
    assert_int_equal(raw_get_blob(db, id1, now_blob, sizeof(now_blob)), old_n);
    expect_bytes_eq(now_blob, old, old_n);
    sqlite3_close(db);

    /* the right KEK: migrated, in schema 2, records under version 1 of the derived key */
    expect_ok(open_store(fx, kek1, &fx->st));
    assert_int_equal(raw_user_version(fx), 2);
    expect_key(fx->st, 1, 2);
    expect_rec(fx->st, 1);
    expect_rec(fx->st, 2);
    db = raw_open(fx);
    size_t n = raw_get_blob(db, id1, now_blob, sizeof(now_blob));
    sqlite3_close(db);
    assert_int_equal(n, old_n + 4);
    const uint8_t v1[4] = {0, 0, 0, 1};
    expect_bytes_eq(now_blob, v1, 4);
    /* schema 1's counter table (the COUNTER replay mode, removed) is gone */
    assert_int_equal(raw_table_count(fx, "counter"), 0);
    assert_int_equal(raw_table_count(fx, "kue"), 1);
    /* and new records work; a reopen does not migrate again */
    put_rec(fx->st, 3);
    reopen(fx, kek1);
    expect_key(fx->st, 1, 3);
    for (unsigned i = 1; i <= 3; i++) {
        expect_rec(fx->st, i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(put_get_round_trip),
        BOTH(put_of_taken_id_is_exists),
        BOTH(get_of_absent_or_expired_is_not_found),
        BOTH(del_removes_the_row),
        BOTH(purge_removes_exactly_the_expired),
        BOTH(scan_pages_through_unexpired_ids_in_order),
        BOTH(expiries_compare_as_unsigned_64_bit),
        BOTH(record_too_long_is_refused),
        BOTH(bad_arguments_are_refused),
        BOTH(racing_puts_have_one_winner),
        BOTH(seal_limit_rotates_the_key),
        BOTH(backend_refuses_a_spent_key),
        {"memory/memory_backend_full_is_store_error", memory_backend_full_is_store_error, NULL,
         NULL, NULL},
        SQLITE(sqlite_survives_restart),
        SQLITE(sqlite_files_are_mode_0600),
        SQLITE(sqlite_refuses_a_file_others_may_read),
        SQLITE(sqlite_wrong_kek_fails_to_decrypt),
        SQLITE(sqlite_altered_blob_fails_to_decrypt),
        SQLITE(sqlite_extended_expiry_fails),
        SQLITE(sqlite_blob_moved_to_another_id_fails),
        SQLITE(sqlite_file_never_holds_plaintext),
        SQLITE(sqlite_refuses_a_newer_schema_or_foreign_file),
        SQLITE(sqlite_two_connections_race),
        SQLITE(sqlite_record_is_under_the_derived_key),
        SQLITE(sqlite_migrates_a_raw_kek_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
