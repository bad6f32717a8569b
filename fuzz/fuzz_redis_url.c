/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the --redis URL parser (kms_redis_url_parse, redis/kms_redis.h); input = the URL
 * bytes, with their length (the parser takes a length, no NUL needed).
 * Oracles: a refusal is KMS_ERR_MALFORMED or KMS_ERR_TOO_LONG and leaves the struct zero; an
 * accepted URL has either a unix socket path (absolute, printable, no '?' or '%') or a host
 * (letters, digits, '.', '-') and a port 1..65535, a user (letters, digits, '.', '_', '-') or
 * none with either, a database up to
 * KMS_REDIS_DB_MAX; the URL the harness writes back from the result is byte for byte the input
 * (the grammar has one spelling per URL, `/0` and `?db=0` aside) and parses to the same result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis/kms_redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RU_CHECK(c)                                                                                \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_redis_url: check failed: %s (line %d)\n", #c, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

static bool chars_ok(const char *s, const char *extra, bool any_printable)
{
    for (const char *p = s; *p != '\0'; p++) {
        uint8_t ch = (uint8_t)*p;
        bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= 'A' && ch <= 'Z') || strchr(extra, ch) != NULL;
        if (any_printable) {
            ok = ch > 0x20 && ch < 0x7f && ch != '?' && ch != '%';
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) {
        return 0;
    }
    /* An exact-size copy, so that ASan sees a read past the length. */
    char *s = malloc(size > 0 ? size : 1);
    RU_CHECK(s != NULL);
    if (size > 0) {
        memcpy(s, data, size);
    }
    struct kms_redis_url u;
    memset(&u, 0x5a, sizeof(u));
    kms_result r = kms_redis_url_parse(s, size, &u);
    if (!kms_ok(r)) {
        RU_CHECK(r.err == KMS_ERR_MALFORMED || r.err == KMS_ERR_TOO_LONG);
        RU_CHECK(all_zero(&u, sizeof(u)));
        free(s);
        return 0;
    }
    char back[1024];
    int n;
    RU_CHECK(u.db <= KMS_REDIS_DB_MAX);
    if (u.unix_socket) {
        RU_CHECK(u.path[0] == '/' && strlen(u.path) <= KMS_REDIS_PATH_MAX);
        RU_CHECK(chars_ok(u.path, "", true));
        RU_CHECK(u.host[0] == '\0' && u.port == 0 && chars_ok(u.user, "._-", false));
        n = snprintf(back, sizeof(back), "unix://%s%s%s?db=%u", u.user, u.user[0] ? "@" : "",
                     u.path, (unsigned)u.db);
    } else {
        RU_CHECK(u.host[0] != '\0' && chars_ok(u.host, ".-", false) && u.port > 0);
        RU_CHECK(chars_ok(u.user, "._-", false) && u.path[0] == '\0');
        n = snprintf(back, sizeof(back), "redis://%s%s%s:%u/%u", u.user, u.user[0] ? "@" : "",
                     u.host, (unsigned)u.port, (unsigned)u.db);
    }
    RU_CHECK(n > 0 && (size_t)n < sizeof(back));
    /* The input is the written-back URL, or it without its database part when that is 0. */
    size_t bn = (size_t)n;
    bool same = size == bn && memcmp(s, back, bn) == 0;
    if (!same && u.db == 0) {
        bn -= u.unix_socket ? strlen("?db=0") : strlen("/0");
        same = size == bn && memcmp(s, back, bn) == 0;
    }
    RU_CHECK(same);
    struct kms_redis_url u2;
    RU_CHECK(kms_ok(kms_redis_url_parse(back, (size_t)n, &u2)));
    RU_CHECK(memcmp(&u, &u2, sizeof(u)) == 0);
    free(s);
    return 0;
}
