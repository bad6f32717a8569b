/* SPDX-License-Identifier: Apache-2.0 */
/* redis/kms_redis: the --redis URL parser (no server needed). */
#include "testlib.h"

#include <string.h>

#include "redis/kms_redis.h"

static struct kms_redis_url parse_ok(const char *s)
{
    struct kms_redis_url u;
    kms_result r = kms_redis_url_parse(s, strlen(s), &u);
    if (r.err != KMS_OK) {
        fail_msg("%s: %s", s, kms_err_name(r.err));
    }
    return u;
}

static void parses_tcp_forms(void **state)
{
    (void)state;
    struct kms_redis_url u = parse_ok("redis://127.0.0.1:6379");
    assert_false(u.unix_socket);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_string_equal(u.user, "");
    assert_int_equal(u.db, 0);

    u = parse_ok("redis://kms-1@redis.example.org:1/15");
    assert_string_equal(u.user, "kms-1");
    assert_string_equal(u.host, "redis.example.org");
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 15);

    u = parse_ok("redis://a:65535/0");
    assert_int_equal(u.port, 65535);
    assert_int_equal(u.db, 0);
    u = parse_ok("redis://u_s.er-2@h:2/65535");
    assert_string_equal(u.user, "u_s.er-2");
    assert_int_equal(u.db, 65535);
}

static void parses_unix_forms(void **state)
{
    (void)state;
    struct kms_redis_url u = parse_ok("unix:///run/redis/redis.sock");
    assert_true(u.unix_socket);
    assert_string_equal(u.path, "/run/redis/redis.sock");
    assert_int_equal(u.db, 0);
    u = parse_ok("unix:///tmp/r.sock?db=3");
    assert_string_equal(u.path, "/tmp/r.sock");
    assert_int_equal(u.db, 3);
    u = parse_ok("unix:///");
    assert_string_equal(u.path, "/");
    assert_string_equal(u.user, "");
    /* An ACL user before the path (redis-py's unix://[username@]/path); '@' in a path is the
     * path's. */
    u = parse_ok("unix://kms@/run/redis/redis.sock?db=2");
    assert_true(u.unix_socket);
    assert_string_equal(u.user, "kms");
    assert_string_equal(u.path, "/run/redis/redis.sock");
    assert_int_equal(u.db, 2);
    u = parse_ok("unix:///tmp/a@b.sock");
    assert_string_equal(u.user, "");
    assert_string_equal(u.path, "/tmp/a@b.sock");
}

static void refuses(const char *s, enum kms_err want)
{
    struct kms_redis_url u;
    memset(&u, 0x5a, sizeof(u));
    kms_result r = kms_redis_url_parse(s, strlen(s), &u);
    if (r.err != want) {
        fail_msg("%s: %s (want %s)", s, kms_err_name(r.err), kms_err_name(want));
    }
    /* Nothing half-parsed is left behind. */
    assert_int_equal(u.host[0], 0);
    assert_int_equal(u.port, 0);
    assert_false(u.unix_socket);
}

static void refuses_malformed_urls(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "redis://",
        "redis://host",            /* the port is required */
        "redis://host:",           /* ... and not empty */
        "redis://:6379",           /* no host */
        "redis://host:0",          /* port 0 */
        "redis://host:65536",      /* past 65535 */
        "redis://host:06379",      /* a leading zero */
        "redis://host:+6379",      /* a sign */
        "redis://host:6379/",      /* an empty database */
        "redis://host:6379/65536", /* past the largest database */
        "redis://host:6379/01",
        "redis://host:6379/1/2",
        "redis://host:6379?x=1",
        "redis://user:pw@host:6379", /* no password in the URL: --redis-password-file */
        "redis://@host:6379",
        "redis://[::1]:6379", /* no IPv6 literal */
        "redis://ho st:6379",
        "redis://host:6379 ",
        "rediss://host:6379", /* no TLS in hiredis 0.14 */
        "REDIS://host:6379",
        "http://host:6379",
        "unix://",
        "unix://relative.sock",
        "unix:///r.sock?db=",
        "unix:///r.sock?db=x",
        "unix:///r.sock?x=1",
        "unix:///r.sock?db=1&x=2",
        "unix:///r%20s.sock",
        "unix:///r s.sock",
        "unix:///r.sock?db=70000",
        "unix://@/r.sock",     /* an empty user */
        "unix://kms/r.sock",   /* no '@' after the user */
        "unix://kms@r.sock",   /* a relative path after it */
        "unix://kms@",         /* no path */
        "unix://k:pw@/r.sock", /* no password in the URL */
        "unix://k m@/r.sock",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        refuses(bad[i], KMS_ERR_MALFORMED);
    }
}

static void refuses_parts_past_their_size(void **state)
{
    (void)state;
    char s[600];
    char path[KMS_REDIS_PATH_MAX + 2];
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0'; /* one byte past the largest socket path */
    (void)snprintf(s, sizeof(s), "unix://%s", path);
    refuses(s, KMS_ERR_TOO_LONG);
    path[sizeof(path) - 2] = '\0'; /* exactly the largest */
    (void)snprintf(s, sizeof(s), "unix://%s", path);
    struct kms_redis_url u = parse_ok(s);
    assert_int_equal(strlen(u.path), KMS_REDIS_PATH_MAX);

    char user[KMS_REDIS_USER_MAX + 2];
    memset(user, 'u', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    (void)snprintf(s, sizeof(s), "redis://%s@h:1", user);
    refuses(s, KMS_ERR_TOO_LONG);
    (void)snprintf(s, sizeof(s), "unix://%s@/r.sock", user);
    refuses(s, KMS_ERR_TOO_LONG);
}

static void reads_only_the_given_length(void **state)
{
    (void)state;
    const char *s = "redis://h:6379/2GARBAGE";
    struct kms_redis_url u;
    expect_ok(kms_redis_url_parse(s, strlen("redis://h:6379/2"), &u));
    assert_int_equal(u.db, 2);
    /* Every proper prefix of a valid URL is refused or parses as a shorter URL (the prefixes
     * ending in a port), never read past its length (ASan would tell). */
    const char *full = "redis://kms@redis.example.org:6379/17";
    for (size_t n = 0; n < strlen(full); n++) {
        kms_result r = kms_redis_url_parse(full, n, &u);
        bool port_end = n >= strlen("redis://kms@redis.example.org:6") &&
                        n <= strlen("redis://kms@redis.example.org:6379");
        bool db_end = n == strlen("redis://kms@redis.example.org:6379/1");
        assert_int_equal(r.err, port_end || db_end ? KMS_OK : KMS_ERR_MALFORMED);
    }
}

static void tag_is_keyed_and_braced(void **state)
{
    (void)state;
    uint8_t k1[32] = {1}, k2[32] = {2}, id[16] = {9};
    char a[KMS_REDIS_TAG_LEN + 1], b[KMS_REDIS_TAG_LEN + 1];
    expect_ok(kms_redis_tag(k1, id, sizeof(id), a));
    expect_ok(kms_redis_tag(k2, id, sizeof(id), b));
    assert_int_equal(strlen(a), KMS_REDIS_TAG_LEN);
    assert_int_equal(a[0], '{');
    assert_int_equal(a[KMS_REDIS_TAG_LEN - 1], '}');
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_tcp_forms),
        cmocka_unit_test(parses_unix_forms),
        cmocka_unit_test(refuses_malformed_urls),
        cmocka_unit_test(refuses_parts_past_their_size),
        cmocka_unit_test(reads_only_the_given_length),
        cmocka_unit_test(tag_is_keyed_and_braced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
