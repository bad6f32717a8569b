/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BSF subscriber store: round trips, the error cases, what the file holds (no K or OPc in
 * clear), the KEK, tampering with the file through SQLite directly, the SQN mark rules, restart,
 * file modes and races between two connections.
 */
#include "testlib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "crypto/kms_sqn.h"
#include "gba/kms_subscriber.h"

static const uint8_t kek1[32] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
static const uint8_t kek2[32] = {0x42};

/* TS 35.208 test set 1 (K, OPc), and a second subscriber's keys. */
static const uint8_t k1[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
                               0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
static const uint8_t opc1[16] = {0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e,
                                 0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf};
static const uint8_t k2[16] = {0xfe, 0xc8, 0x6b, 0xa6, 0xeb, 0x70, 0x7e, 0xd0,
                               0x89, 0x05, 0x75, 0x7b, 0x1b, 0xb4, 0x4b, 0x8f};
static const uint8_t opc2[16] = {0x10, 0x06, 0x02, 0x0f, 0x0a, 0x47, 0x8b, 0xf6,
                                 0xb6, 0x99, 0xf1, 0x5c, 0x06, 0x2e, 0x42, 0xb3};

#define ALICE "alice@ims.example.org"
#define BOB   "bob@ims.example.org"

struct fixture {
    char dir[64];
    char path[128];
    struct kms_subscriber_db *db;
};

static void make_sub(struct kms_subscriber *s, const char *impi, const uint8_t k[16],
                     const uint8_t opc[16], size_t n_impu)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->impi, sizeof(s->impi), "%s", impi);
    for (size_t i = 0; i < n_impu; i++) {
        snprintf(s->impu[i], sizeof(s->impu[i]), "sip:%zu.%s", i, impi);
    }
    s->n_impu = n_impu;
    memcpy(s->k, k, 16);
    memcpy(s->opc, opc, 16);
    s->amf[0] = 0x80;
    s->amf[1] = 0x00;
}

static void add_alice_bob(struct fixture *fx)
{
    struct kms_subscriber s;
    make_sub(&s, ALICE, k1, opc1, 2);
    expect_ok(kms_subscriber_add(fx->db, &s, 0x20));
    make_sub(&s, BOB, k2, opc2, 1);
    expect_ok(kms_subscriber_add(fx->db, &s, 0));
    kms_subscriber_wipe(&s);
}

static void side_path(const struct fixture *fx, const char *suffix, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s%s", fx->path, suffix);
    assert_true(n > 0 && (size_t)n < cap);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "%s", "/tmp/imskms-subs-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    int n = snprintf(fx->path, sizeof(fx->path), "%s/subscribers.db", fx->dir);
    assert_true(n > 0 && (size_t)n < sizeof(fx->path));
    expect_ok(kms_subscriber_db_open(fx->path, kek1, true, &fx->db));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char p[160];
    kms_subscriber_db_close(fx->db);
    const char *suffix[] = {"", "-wal", "-shm", ".2", ".2-wal", ".2-shm"};
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        side_path(fx, suffix[i], p, sizeof(p));
        (void)unlink(p);
    }
    (void)rmdir(fx->dir);
    free(fx);
    return 0;
}

static void reopen(struct fixture *fx)
{
    kms_subscriber_db_close(fx->db);
    fx->db = NULL;
    expect_ok(kms_subscriber_db_open(fx->path, kek1, false, &fx->db));
}

static bool all_bytes(const void *p, size_t n, uint8_t v)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != v) {
            return false;
        }
    }
    return true;
}

static bool contains(const void *hay, size_t len, const void *needle, size_t n)
{
    for (size_t i = 0; len >= n && i <= len - n; i++) {
        if (memcmp((const uint8_t *)hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
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
    bool found = contains(d, len, needle, n);
    free(d);
    return found;
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* ---- raw access to the file ---- */

static sqlite3 *raw_open(const struct fixture *fx)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
    return db;
}

static void raw_exec(const struct fixture *fx, const char *sql)
{
    sqlite3 *db = raw_open(fx);
    char *msg = NULL;
    int e = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (e != SQLITE_OK) {
        fail_msg("%s: %s", sql, msg != NULL ? msg : "?");
    }
    sqlite3_close(db);
}

static size_t raw_get_sealed(sqlite3 *db, const char *impi, uint8_t *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT sealed FROM subscriber WHERE impi = ?1", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, impi, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    assert_true(n <= cap);
    memcpy(out, sqlite3_column_blob(st, 0), n);
    sqlite3_finalize(st);
    return n;
}

static void raw_set_sealed(sqlite3 *db, const char *impi, const uint8_t *b, size_t n)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE subscriber SET sealed = ?2 WHERE impi = ?1", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(st, 1, impi, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_bind_blob(st, 2, b, (int)n, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(st);
}

/* get fails with KMS_ERR_STORE and leaves nothing in out (filled with 0xa5 beforehand). */
static void expect_get_store_error(struct fixture *fx, const char *impi)
{
    struct kms_subscriber out;
    uint64_t sqn = 77;
    memset(&out, 0xa5, sizeof(out));
    expect_err(kms_subscriber_get(fx->db, impi, &out, &sqn), KMS_ERR_STORE);
    assert_true(all_bytes(&out, sizeof(out), 0));
    assert_int_equal(sqn, 0);
}

/* ---- behaviour ---- */

static void add_get_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber s, out;
    uint64_t sqn = 1;
    make_sub(&s, ALICE, k1, opc1, KMS_SUBSCRIBER_IMPU_MAX);
    snprintf(s.impu[0], sizeof(s.impu[0]), "%s", "tel:+15551234567");
    expect_ok(kms_subscriber_add(fx->db, &s, 0x123456789abc));
    memset(&out, 0xa5, sizeof(out));
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, &sqn));
    assert_string_equal(out.impi, ALICE);
    assert_int_equal(out.n_impu, KMS_SUBSCRIBER_IMPU_MAX);
    for (size_t i = 0; i < KMS_SUBSCRIBER_IMPU_MAX; i++) {
        assert_string_equal(out.impu[i], s.impu[i]);
    }
    expect_bytes_eq(out.k, k1, 16);
    expect_bytes_eq(out.opc, opc1, 16);
    expect_bytes_eq(out.amf, s.amf, 2);
    assert_int_equal(sqn, 0x123456789abc);
    /* sqn_mark is optional */
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, NULL));
    kms_subscriber_wipe(&out);
    assert_true(all_bytes(&out, sizeof(out), 0));
}

static void add_of_taken_impi_is_exists(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber s, out;
    uint64_t sqn;
    add_alice_bob(fx);
    make_sub(&s, ALICE, k2, opc2, 1);
    expect_err(kms_subscriber_add(fx->db, &s, 5), KMS_ERR_EXISTS);
    /* the first row is untouched */
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, &sqn));
    expect_bytes_eq(out.k, k1, 16);
    assert_int_equal(sqn, 0x20);
    kms_subscriber_wipe(&out);
}

static void absent_impi_is_not_found(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber out;
    uint64_t sqn = 9;
    add_alice_bob(fx);
    memset(&out, 0xa5, sizeof(out));
    expect_err(kms_subscriber_get(fx->db, "carol@ims.example.org", &out, &sqn), KMS_ERR_NOT_FOUND);
    assert_true(all_bytes(&out, sizeof(out), 0));
    assert_int_equal(sqn, 0);
    expect_err(kms_subscriber_del(fx->db, "carol@ims.example.org"), KMS_ERR_NOT_FOUND);
    expect_err(kms_subscriber_set_sqn(fx->db, "carol@ims.example.org", 1), KMS_ERR_NOT_FOUND);
    expect_err(kms_subscriber_sqn_commit(fx->db, "carol@ims.example.org", 1), KMS_ERR_NOT_FOUND);
    /* a prefix or a case variant is another IMPI */
    expect_err(kms_subscriber_get(fx->db, "alice@ims.example.or", &out, NULL), KMS_ERR_NOT_FOUND);
    expect_err(kms_subscriber_get(fx->db, "ALICE@ims.example.org", &out, NULL), KMS_ERR_NOT_FOUND);
}

static void del_removes_the_row(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber out;
    add_alice_bob(fx);
    expect_ok(kms_subscriber_del(fx->db, ALICE));
    expect_err(kms_subscriber_get(fx->db, ALICE, &out, NULL), KMS_ERR_NOT_FOUND);
    expect_err(kms_subscriber_del(fx->db, ALICE), KMS_ERR_NOT_FOUND);
    expect_ok(kms_subscriber_get(fx->db, BOB, &out, NULL));
    kms_subscriber_wipe(&out);
}

struct seen {
    size_t n;
    struct kms_subscriber_info info[4];
    enum kms_err stop_with;
};

static kms_result collect(void *arg, const struct kms_subscriber_info *info)
{
    struct seen *s = arg;
    assert_true(s->n < 4);
    /* the callback's whole view holds no key byte */
    assert_false(contains(info, sizeof(*info), k1, 8));
    assert_false(contains(info, sizeof(*info), opc1, 8));
    assert_false(contains(info, sizeof(*info), k2, 8));
    assert_false(contains(info, sizeof(*info), opc2, 8));
    s->info[s->n++] = *info;
    return (kms_result){s->stop_with};
}

static void list_shows_everything_but_keys(void **state)
{
    struct fixture *fx = *state;
    struct seen s = {0};
    add_alice_bob(fx);
    expect_ok(kms_subscriber_list(fx->db, collect, &s));
    assert_int_equal(s.n, 2);
    /* IMPI order */
    assert_string_equal(s.info[0].impi, ALICE);
    assert_int_equal(s.info[0].n_impu, 2);
    assert_string_equal(s.info[0].impu[0], "sip:0." ALICE);
    assert_string_equal(s.info[0].impu[1], "sip:1." ALICE);
    assert_int_equal(s.info[0].sqn, 0x20);
    assert_int_equal(s.info[0].amf[0], 0x80);
    assert_string_equal(s.info[1].impi, BOB);
    assert_int_equal(s.info[1].n_impu, 1);
    assert_int_equal(s.info[1].sqn, 0);
    /* a callback's failure stops the walk and is returned */
    memset(&s, 0, sizeof(s));
    s.stop_with = KMS_ERR_INTERNAL;
    expect_err(kms_subscriber_list(fx->db, collect, &s), KMS_ERR_INTERNAL);
    assert_int_equal(s.n, 1);
    /* and the handle is usable afterwards */
    memset(&s, 0, sizeof(s));
    expect_ok(kms_subscriber_list(fx->db, collect, &s));
    assert_int_equal(s.n, 2);
}

static void file_never_holds_keys_in_clear(void **state)
{
    struct fixture *fx = *state;
    char wal[160];
    add_alice_bob(fx);
    side_path(fx, "-wal", wal, sizeof(wal));
    /* the search itself works: the IMPI is in the file or its WAL */
    assert_true(file_contains(fx->path, ALICE, strlen(ALICE)) ||
                file_contains(wal, ALICE, strlen(ALICE)));
    const uint8_t *keys[] = {k1, opc1, k2, opc2};
    for (size_t i = 0; i < 4; i++) {
        assert_false(file_contains(fx->path, keys[i], 16));
        assert_false(file_contains(wal, keys[i], 16));
    }
    /* after the last close the WAL is checkpointed into the main file */
    kms_subscriber_db_close(fx->db);
    fx->db = NULL;
    assert_true(file_contains(fx->path, ALICE, strlen(ALICE)));
    for (size_t i = 0; i < 4; i++) {
        assert_false(file_contains(fx->path, keys[i], 16));
        assert_false(file_contains(fx->path, keys[i], 8));
    }
    expect_ok(kms_subscriber_db_open(fx->path, kek1, false, &fx->db));
}

static void wrong_kek_is_refused_at_open(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber_db *db = NULL;
    add_alice_bob(fx);
    expect_err(kms_subscriber_db_open(fx->path, kek2, false, &db), KMS_ERR_AUTH);
    assert_null(db);
    expect_err(kms_subscriber_db_open(fx->path, kek2, true, &db), KMS_ERR_AUTH);
    assert_null(db);
}

/* A row sealed under another KEK (the row of a second store, copied in) opens nothing. */
static void row_under_another_kek_fails_to_open(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber_db *db2 = NULL;
    struct kms_subscriber s;
    char path2[160];
    uint8_t sealed[128];
    add_alice_bob(fx);
    side_path(fx, ".2", path2, sizeof(path2));
    expect_ok(kms_subscriber_db_open(path2, kek2, true, &db2));
    make_sub(&s, ALICE, k1, opc1, 2);
    expect_ok(kms_subscriber_add(db2, &s, 0x20));
    kms_subscriber_wipe(&s);
    kms_subscriber_db_close(db2);

    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open_v2(path2, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    size_t n = raw_get_sealed(raw, ALICE, sealed, sizeof(sealed));
    sqlite3_close(raw);
    raw = raw_open(fx);
    raw_set_sealed(raw, ALICE, sealed, n);
    sqlite3_close(raw);
    expect_get_store_error(fx, ALICE);
}

static void altered_sealed_column_fails_to_open(void **state)
{
    struct fixture *fx = *state;
    uint8_t orig[128], b[128];
    add_alice_bob(fx);
    sqlite3 *raw = raw_open(fx);
    size_t n = raw_get_sealed(raw, ALICE, orig, sizeof(orig));
    assert_int_equal(n, 12 + 32 + 16);
    /* one bit flipped in the nonce, the ciphertext, the tag */
    const size_t at[] = {0, 11, 12, 27, 28, 43, 44, 59};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        memcpy(b, orig, n);
        b[at[i]] ^= 0x01;
        raw_set_sealed(raw, ALICE, b, n);
        expect_get_store_error(fx, ALICE);
    }
    /* the original still opens */
    raw_set_sealed(raw, ALICE, orig, n);
    struct kms_subscriber out;
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, NULL));
    kms_subscriber_wipe(&out);
    /* a shorter or longer blob is refused by the schema itself */
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(raw, "UPDATE subscriber SET sealed = ?1", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_blob(st, 1, orig, (int)n - 1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_CONSTRAINT);
    sqlite3_finalize(st);
    sqlite3_close(raw);
}

static void sealed_keys_moved_to_another_impi_fail(void **state)
{
    struct fixture *fx = *state;
    uint8_t b[128];
    add_alice_bob(fx);
    sqlite3 *raw = raw_open(fx);
    size_t n = raw_get_sealed(raw, ALICE, b, sizeof(b));
    raw_set_sealed(raw, BOB, b, n);
    sqlite3_close(raw);
    expect_get_store_error(fx, BOB);
    /* Renaming the row does not help either. */
    raw_exec(fx, "DELETE FROM subscriber WHERE impi = '" BOB "';"
                 "UPDATE subscriber SET impi = '" BOB "' WHERE impi = '" ALICE "'");
    expect_get_store_error(fx, BOB);
}

static void altered_impus_or_amf_fail(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber out;
    add_alice_bob(fx);
    /* an IMPU added to Bob's row */
    raw_exec(fx, "UPDATE subscriber SET impus = impus || ' sip:0." ALICE "' "
                 "WHERE impi = '" BOB "'");
    expect_get_store_error(fx, BOB);
    /* the AMF changed */
    raw_exec(fx, "UPDATE subscriber SET amf = x'0000' WHERE impi = '" ALICE "'");
    expect_get_store_error(fx, ALICE);
    raw_exec(fx, "UPDATE subscriber SET amf = x'8000' WHERE impi = '" ALICE "'");
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, NULL));
    kms_subscriber_wipe(&out);
    /* a malformed IMPU list is a store error, for get and list alike */
    raw_exec(fx, "UPDATE subscriber SET impus = 'sip:a  sip:b' WHERE impi = '" ALICE "'");
    expect_get_store_error(fx, ALICE);
    struct seen s = {0};
    expect_err(kms_subscriber_list(fx->db, collect, &s), KMS_ERR_STORE);
}

static void sqn_commit_never_lowers_and_writes_nothing_then(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber out;
    uint64_t sqn;
    char wal[160];
    add_alice_bob(fx);
    side_path(fx, "-wal", wal, sizeof(wal));
    expect_ok(kms_subscriber_sqn_commit(fx->db, ALICE, 0x1000));
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, &sqn));
    assert_int_equal(sqn, 0x1000);
    off_t before = file_size(wal);
    assert_true(before > 0);
    /* lower and equal marks succeed and change nothing, not even the WAL */
    expect_ok(kms_subscriber_sqn_commit(fx->db, ALICE, 0x0fff));
    expect_ok(kms_subscriber_sqn_commit(fx->db, ALICE, 0x1000));
    expect_ok(kms_subscriber_sqn_commit(fx->db, ALICE, 0));
    assert_int_equal(file_size(wal), before);
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, &sqn));
    assert_int_equal(sqn, 0x1000);
    /* a higher one is written */
    expect_ok(kms_subscriber_sqn_commit(fx->db, ALICE, KMS_SQN_MAX));
    assert_true(file_size(wal) > before);
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, &sqn));
    assert_int_equal(sqn, KMS_SQN_MAX);
    /* the other row did not move */
    expect_ok(kms_subscriber_get(fx->db, BOB, &out, &sqn));
    assert_int_equal(sqn, 0);
    kms_subscriber_wipe(&out);
}

static void set_sqn_may_lower(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber out;
    uint64_t sqn;
    add_alice_bob(fx);
    expect_ok(kms_subscriber_sqn_commit(fx->db, ALICE, 0x5000));
    expect_ok(kms_subscriber_set_sqn(fx->db, ALICE, 0x40));
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, &sqn));
    assert_int_equal(sqn, 0x40);
    expect_ok(kms_subscriber_set_sqn(fx->db, ALICE, 0x41));
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, &sqn));
    assert_int_equal(sqn, 0x41);
    kms_subscriber_wipe(&out);
}

static void sqn_above_48_bits_is_refused(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber s, out;
    uint64_t sqn;
    make_sub(&s, ALICE, k1, opc1, 1);
    expect_err(kms_subscriber_add(fx->db, &s, KMS_SQN_MAX + 1), KMS_ERR_ARG);
    expect_err(kms_subscriber_get(fx->db, ALICE, &out, NULL), KMS_ERR_NOT_FOUND);
    expect_ok(kms_subscriber_add(fx->db, &s, KMS_SQN_MAX));
    expect_err(kms_subscriber_set_sqn(fx->db, ALICE, KMS_SQN_MAX + 1), KMS_ERR_ARG);
    expect_err(kms_subscriber_sqn_commit(fx->db, ALICE, KMS_SQN_MAX + 1), KMS_ERR_ARG);
    expect_err(kms_subscriber_sqn_commit(fx->db, ALICE, UINT64_MAX), KMS_ERR_ARG);
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, &sqn));
    assert_int_equal(sqn, KMS_SQN_MAX);
    kms_subscriber_wipe(&out);
    kms_subscriber_wipe(&s);
    /* the schema refuses it too */
    sqlite3 *raw = raw_open(fx);
    assert_int_equal(
        sqlite3_exec(raw, "UPDATE subscriber SET sqn = 281474976710656", NULL, NULL, NULL),
        SQLITE_CONSTRAINT);
    sqlite3_close(raw);
}

static void malformed_subscribers_are_refused(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber s, out;
    make_sub(&s, "al ice@ims.example.org", k1, opc1, 1);
    expect_err(kms_subscriber_add(fx->db, &s, 0), KMS_ERR_NOT_ASCII);
    make_sub(&s, "", k1, opc1, 1);
    expect_err(kms_subscriber_add(fx->db, &s, 0), KMS_ERR_ARG);
    make_sub(&s, ALICE, k1, opc1, 1);
    memset(s.impi, 'a', sizeof(s.impi)); /* not NUL-terminated */
    expect_err(kms_subscriber_add(fx->db, &s, 0), KMS_ERR_TOO_LONG);
    make_sub(&s, ALICE, k1, opc1, 0);
    expect_err(kms_subscriber_add(fx->db, &s, 0), KMS_ERR_ARG);
    make_sub(&s, ALICE, k1, opc1, 1);
    s.n_impu = KMS_SUBSCRIBER_IMPU_MAX + 1;
    expect_err(kms_subscriber_add(fx->db, &s, 0), KMS_ERR_ARG);
    make_sub(&s, ALICE, k1, opc1, 2);
    memcpy(s.impu[1], s.impu[0], sizeof(s.impu[0]));
    expect_err(kms_subscriber_add(fx->db, &s, 0), KMS_ERR_ARG);
    make_sub(&s, ALICE, k1, opc1, 2);
    snprintf(s.impu[1], sizeof(s.impu[1]), "%s", "sip:a b");
    expect_err(kms_subscriber_add(fx->db, &s, 0), KMS_ERR_NOT_ASCII);
    s.impu[1][0] = '\0';
    expect_err(kms_subscriber_add(fx->db, &s, 0), KMS_ERR_BAD_LENGTH);
    make_sub(&s, ALICE, k1, opc1, 1);
    s.impu[0][5] = '\x7f';
    expect_err(kms_subscriber_add(fx->db, &s, 0), KMS_ERR_NOT_ASCII);
    /* nothing was stored */
    expect_err(kms_subscriber_get(fx->db, ALICE, &out, NULL), KMS_ERR_NOT_FOUND);
    expect_err(kms_subscriber_get(fx->db, "a b", &out, NULL), KMS_ERR_NOT_ASCII);
    expect_err(kms_subscriber_get(fx->db, NULL, &out, NULL), KMS_ERR_ARG);
    expect_err(kms_subscriber_get(fx->db, ALICE, NULL, NULL), KMS_ERR_ARG);
    expect_err(kms_subscriber_add(NULL, &s, 0), KMS_ERR_ARG);
    expect_err(kms_subscriber_list(fx->db, NULL, NULL), KMS_ERR_ARG);
    kms_subscriber_wipe(&s);
}

static void survives_close_and_reopen(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber out;
    uint64_t sqn;
    add_alice_bob(fx);
    expect_ok(kms_subscriber_sqn_commit(fx->db, ALICE, 0x3000));
    expect_ok(kms_subscriber_del(fx->db, BOB));
    reopen(fx);
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, &sqn));
    expect_bytes_eq(out.k, k1, 16);
    expect_bytes_eq(out.opc, opc1, 16);
    assert_int_equal(sqn, 0x3000);
    expect_err(kms_subscriber_get(fx->db, BOB, &out, NULL), KMS_ERR_NOT_FOUND);
    kms_subscriber_wipe(&out);
}

static void files_are_mode_0600(void **state)
{
    struct fixture *fx = *state;
    struct stat sb;
    char p[160];
    add_alice_bob(fx);
    assert_int_equal(stat(fx->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    side_path(fx, "-wal", p, sizeof(p));
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void missing_or_open_files_are_refused(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber_db *db = NULL;
    char p[160];
    side_path(fx, ".2", p, sizeof(p));
    expect_err(kms_subscriber_db_open(p, kek1, false, &db), KMS_ERR_NOT_FOUND);
    assert_null(db);
    assert_int_equal(access(p, F_OK), -1); /* and not created */
    kms_subscriber_db_close(fx->db);
    fx->db = NULL;
    assert_int_equal(chmod(fx->path, 0640), 0);
    expect_err(kms_subscriber_db_open(fx->path, kek1, false, &db), KMS_ERR_STORE);
    assert_int_equal(chmod(fx->path, 0604), 0);
    expect_err(kms_subscriber_db_open(fx->path, kek1, true, &db), KMS_ERR_STORE);
    assert_int_equal(chmod(fx->path, 0600), 0);
    expect_ok(kms_subscriber_db_open(fx->path, kek1, false, &fx->db));
    expect_err(kms_subscriber_db_open(fx->dir, kek1, true, &db), KMS_ERR_STORE);
}

static void foreign_or_newer_files_are_refused(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber_db *db = NULL;
    kms_subscriber_db_close(fx->db);
    fx->db = NULL;
    raw_exec(fx, "PRAGMA user_version = 2");
    expect_err(kms_subscriber_db_open(fx->path, kek1, true, &db), KMS_ERR_STORE);
    raw_exec(fx, "PRAGMA user_version = 1; PRAGMA application_id = 1229804363");
    expect_err(kms_subscriber_db_open(fx->path, kek1, true, &db), KMS_ERR_STORE);
    raw_exec(fx, "PRAGMA application_id = 1229804371; DELETE FROM meta");
    expect_err(kms_subscriber_db_open(fx->path, kek1, true, &db), KMS_ERR_STORE);
    assert_null(db);
    /* an empty file is a store only when creation is allowed */
    char p[160];
    side_path(fx, ".2", p, sizeof(p));
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(chmod(p, 0600), 0);
    expect_err(kms_subscriber_db_open(p, kek1, false, &db), KMS_ERR_STORE);
    expect_ok(kms_subscriber_db_open(p, kek1, true, &db));
    kms_subscriber_db_close(db);
}

/* ---- races ---- */

#define RACE_ROUNDS 150

struct racer {
    struct kms_subscriber_db *db;
    uint64_t first; /* commits first, first + 2, ... */
    int violations;
};

/* Commits interleaved rising marks; after each commit the stored mark must be at least the one
 * just committed, whatever the other connection did meanwhile. */
static void *race_thread(void *arg)
{
    struct racer *r = arg;
    struct kms_subscriber out;
    memset(&out, 0, sizeof(out));
    for (uint64_t i = 0; i < RACE_ROUNDS; i++) {
        uint64_t mark = r->first + 2 * i, sqn = 0;
        if (!kms_ok(kms_subscriber_sqn_commit(r->db, ALICE, mark)) ||
            !kms_ok(kms_subscriber_get(r->db, ALICE, &out, &sqn)) || sqn < mark) {
            r->violations++;
        }
        /* an older reservation arriving late must not lower it */
        if (!kms_ok(kms_subscriber_sqn_commit(r->db, ALICE, mark / 2))) {
            r->violations++;
        }
    }
    kms_subscriber_wipe(&out);
    return NULL;
}

static void run_race(struct fixture *fx, struct kms_subscriber_db *a, struct kms_subscriber_db *b)
{
    pthread_t ta, tb;
    struct racer ra = {a, 1000, 0}, rb = {b, 1001, 0};
    struct kms_subscriber out;
    uint64_t sqn;
    assert_int_equal(pthread_create(&ta, NULL, race_thread, &ra), 0);
    assert_int_equal(pthread_create(&tb, NULL, race_thread, &rb), 0);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tb, NULL), 0);
    assert_int_equal(ra.violations, 0);
    assert_int_equal(rb.violations, 0);
    expect_ok(kms_subscriber_get(fx->db, ALICE, &out, &sqn));
    assert_int_equal(sqn, 1001 + 2 * (RACE_ROUNDS - 1));
    kms_subscriber_wipe(&out);
}

static void two_connections_race_to_the_max(void **state)
{
    struct fixture *fx = *state;
    struct kms_subscriber_db *db2 = NULL;
    add_alice_bob(fx);
    expect_ok(kms_subscriber_db_open(fx->path, kek1, false, &db2));
    run_race(fx, fx->db, db2);
    kms_subscriber_db_close(db2);
}

static void two_threads_share_one_handle(void **state)
{
    struct fixture *fx = *state;
    add_alice_bob(fx);
    run_race(fx, fx->db, fx->db);
}

/* ---- export and import ---- */

struct recs {
    struct kms_subscriber_rec r[4];
    size_t n, next;
};

static kms_result keep_rec(void *arg, const struct kms_subscriber_rec *rec)
{
    struct recs *x = arg;
    assert_true(x->n < 4);
    x->r[x->n++] = *rec;
    return (kms_result){KMS_OK};
}

static kms_result give_rec(void *arg, struct kms_subscriber_rec *rec, bool *done)
{
    struct recs *x = arg;
    *done = x->next == x->n;
    if (!*done) {
        *rec = x->r[x->next++];
    }
    return (kms_result){KMS_OK};
}

static struct kms_subscriber_db *open_second(const struct fixture *fx, const uint8_t *kek)
{
    struct kms_subscriber_db *db2 = NULL;
    char path2[160];
    side_path(fx, ".2", path2, sizeof(path2));
    expect_ok(kms_subscriber_db_open(path2, kek, true, &db2));
    return db2;
}

/* Export hands out the rows as stored (the sealed blob byte for byte, the SQN mark); import
 * into another store under the same KEK makes the same subscribers, keys and marks included. */
static void export_import_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct recs a = {0}, b = {0};
    struct kms_subscriber s;
    uint64_t sqn = 0, n = 0;
    uint8_t sealed[128];
    add_alice_bob(fx);
    expect_ok(kms_subscriber_export(fx->db, keep_rec, &a));
    assert_int_equal(a.n, 2);
    assert_string_equal(a.r[0].info.impi, ALICE);
    assert_int_equal(a.r[0].info.sqn, 0x20);
    assert_int_equal(a.r[0].info.n_impu, 2);
    assert_string_equal(a.r[0].info.impu[1], "sip:1." ALICE);
    sqlite3 *raw = raw_open(fx);
    assert_int_equal(raw_get_sealed(raw, ALICE, sealed, sizeof(sealed)), 60);
    sqlite3_close(raw);
    expect_bytes_eq(a.r[0].sealed, sealed, 60);
    struct kms_subscriber_db *db2 = open_second(fx, kek1);
    expect_ok(kms_subscriber_import(db2, give_rec, &a, &n));
    assert_int_equal(n, 2);
    expect_ok(kms_subscriber_get(db2, ALICE, &s, &sqn));
    expect_bytes_eq(s.k, k1, 16);
    expect_bytes_eq(s.opc, opc1, 16);
    assert_int_equal(sqn, 0x20);
    expect_ok(kms_subscriber_get(db2, BOB, &s, &sqn));
    expect_bytes_eq(s.k, k2, 16);
    kms_subscriber_wipe(&s);
    expect_ok(kms_subscriber_export(db2, keep_rec, &b));
    assert_int_equal(b.n, 2);
    assert_memory_equal(&a.r[0], &b.r[0], sizeof(a.r[0]));
    assert_memory_equal(&a.r[1], &b.r[1], sizeof(a.r[1]));
    kms_subscriber_db_close(db2);
}

/* A target store under another KEK: the first record does not open, KMS_ERR_AUTH, nothing added.
 */
static void import_under_another_kek_adds_nothing(void **state)
{
    struct fixture *fx = *state;
    struct recs a = {0}, none = {0};
    uint64_t n = 9;
    add_alice_bob(fx);
    expect_ok(kms_subscriber_export(fx->db, keep_rec, &a));
    struct kms_subscriber_db *db2 = open_second(fx, kek2);
    expect_err(kms_subscriber_import(db2, give_rec, &a, &n), KMS_ERR_AUTH);
    assert_int_equal(n, 0);
    expect_ok(kms_subscriber_export(db2, keep_rec, &none));
    assert_int_equal(none.n, 0);
    kms_subscriber_db_close(db2);
}

/* All or nothing: the second record fails (its AMF altered: the seal's associated data, or its
 * IMPI taken), and the first, already inserted in the transaction, is rolled back. */
static void import_is_all_or_nothing(void **state)
{
    struct fixture *fx = *state;
    struct recs a = {0}, got = {0};
    struct kms_subscriber s;
    uint64_t n = 0;
    add_alice_bob(fx);
    expect_ok(kms_subscriber_export(fx->db, keep_rec, &a));
    struct kms_subscriber_db *db2 = open_second(fx, kek1);
    a.r[1].info.amf[0] ^= 1;
    expect_err(kms_subscriber_import(db2, give_rec, &a, &n), KMS_ERR_AUTH);
    assert_int_equal(n, 1);
    expect_ok(kms_subscriber_export(db2, keep_rec, &got));
    assert_int_equal(got.n, 0);
    a.r[1].info.amf[0] ^= 1;
    make_sub(&s, BOB, k2, opc2, 1);
    expect_ok(kms_subscriber_add(db2, &s, 0));
    kms_subscriber_wipe(&s);
    a.next = 0;
    expect_err(kms_subscriber_import(db2, give_rec, &a, &n), KMS_ERR_EXISTS);
    expect_err(kms_subscriber_get(db2, ALICE, &s, NULL), KMS_ERR_NOT_FOUND);
    /* a mark above 48 bits, an IMPU twice: refused before the seal is looked at */
    a.next = 0;
    a.n = 1;
    a.r[0].info.sqn = KMS_SQN_MAX + 1;
    expect_err(kms_subscriber_import(db2, give_rec, &a, &n), KMS_ERR_ARG);
    a.next = 0;
    a.r[0].info.sqn = 0;
    memcpy(a.r[0].info.impu[1], a.r[0].info.impu[0], sizeof(a.r[0].info.impu[0]));
    expect_err(kms_subscriber_import(db2, give_rec, &a, &n), KMS_ERR_ARG);
    kms_subscriber_db_close(db2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(add_get_round_trip),
        T(add_of_taken_impi_is_exists),
        T(absent_impi_is_not_found),
        T(del_removes_the_row),
        T(list_shows_everything_but_keys),
        T(file_never_holds_keys_in_clear),
        T(wrong_kek_is_refused_at_open),
        T(row_under_another_kek_fails_to_open),
        T(altered_sealed_column_fails_to_open),
        T(sealed_keys_moved_to_another_impi_fail),
        T(altered_impus_or_amf_fail),
        T(sqn_commit_never_lowers_and_writes_nothing_then),
        T(set_sqn_may_lower),
        T(sqn_above_48_bits_is_refused),
        T(malformed_subscribers_are_refused),
        T(survives_close_and_reopen),
        T(files_are_mode_0600),
        T(missing_or_open_files_are_refused),
        T(foreign_or_newer_files_are_refused),
        T(two_connections_race_to_the_max),
        T(two_threads_share_one_handle),
        T(export_import_round_trip),
        T(import_under_another_kek_adds_nothing),
        T(import_is_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
