/* SPDX-License-Identifier: Apache-2.0 */
/* A BSF node's own SQN marks (lib/gba/kms_sqndb.h): raised, never lowered by raise, set by the
 * operator's reset, kept across a reopen; the file's mode and kind checked. */
#include "testlib.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/kms_sqn.h"
#include "gba/kms_sqndb.h"

#define IMPI "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"

static void marks(void **state)
{
    (void)state;
    char dir[] = "/tmp/imskms-sqndb-XXXXXX", path[64], other[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sqn.db", dir);
    snprintf(other, sizeof(other), "%s/other.db", dir);
    struct kms_sqndb *db = NULL;
    uint64_t m = 99;
    expect_err(kms_sqndb_open(path, false, &db), KMS_ERR_NOT_FOUND);
    assert_null(db);
    expect_ok(kms_sqndb_open(path, true, &db));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    expect_ok(kms_sqndb_get(db, IMPI, &m));
    assert_int_equal(m, 0); /* none yet */
    expect_ok(kms_sqndb_raise(db, IMPI, 64));
    expect_ok(kms_sqndb_raise(db, IMPI, 32)); /* never lowered */
    expect_ok(kms_sqndb_get(db, IMPI, &m));
    assert_int_equal(m, 64);
    expect_ok(kms_sqndb_set(db, IMPI, 7)); /* the operator's reset may lower it */
    expect_ok(kms_sqndb_get(db, IMPI, &m));
    assert_int_equal(m, 7);
    expect_ok(kms_sqndb_raise(db, IMPI, KMS_SQN_MAX));
    expect_err(kms_sqndb_raise(db, IMPI, KMS_SQN_MAX + 1), KMS_ERR_ARG);
    expect_err(kms_sqndb_set(db, "has space", 1), KMS_ERR_NOT_ASCII);
    expect_ok(kms_sqndb_probe(db));
    kms_sqndb_close(db);
    db = NULL;
    expect_ok(kms_sqndb_open(path, false, &db)); /* durable */
    expect_ok(kms_sqndb_get(db, IMPI, &m));
    assert_int_equal(m, KMS_SQN_MAX);
    kms_sqndb_close(db);
    db = NULL;
    /* another kind of file, and one open to others, are refused */
    int fd = open(other, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not sqlite, not empty", 21), 21);
    close(fd);
    assert_false(kms_ok(kms_sqndb_open(other, false, &db)));
    assert_null(db);
    assert_int_equal(chmod(path, 0644), 0);
    expect_err(kms_sqndb_open(path, false, &db), KMS_ERR_STORE);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(marks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
