/* SPDX-License-Identifier: Apache-2.0 */
#include "cli_keyring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/kms_codec.h"
#include "util/kms_mem.h"
#include "util/kms_time.h"

int cli_open_keystore(const struct cli_args *a, const char *kek_file, const char *hsm,
                      struct kms_keystore **ks)
{
    *ks = NULL;
    if ((kek_file == NULL) == (hsm == NULL)) {
        return cli_usage_error(a, "give exactly one of --kek-file FILE and --hsm URI");
    }
    kms_result r =
        kek_file != NULL ? kms_keystore_file_open(kek_file, ks) : kms_keystore_p11_open(hsm, ks);
    if (!kms_ok(r)) {
        return cli_fail(a, kek_file != NULL ? "--kek-file" : "--hsm", r.err);
    }
    return CLI_EXIT_OK;
}

int cli_open_keyring(const struct cli_args *a, const char *path, const char *kek_file,
                     const char *hsm, struct kms_keystore **ks, struct kms_keyring **kr)
{
    *kr = NULL;
    if (path == NULL) {
        return cli_missing(a, "keyring");
    }
    int rc = cli_open_keystore(a, kek_file, hsm, ks);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    kms_result r = kms_keyring_open(path, *ks, kr);
    if (kms_ok(r)) {
        return CLI_EXIT_OK;
    }
    kms_keystore_close(*ks);
    *ks = NULL;
    if (r.err == KMS_ERR_NOT_FOUND) {
        fprintf(stderr, "%s: --keyring %s: no such keyring (create one with 'imskms keys init')\n",
                a->cmd, path);
        return CLI_EXIT_USAGE;
    }
    return cli_fail(a, "--keyring", r.err);
}

bool cli_keyring_is_redis(const char *path)
{
    return path != NULL && strcmp(path, "redis") == 0;
}

int cli_open_redis(const struct cli_args *a, const char *url, const char *password_file,
                   struct kms_redis **out)
{
    *out = NULL;
    if (url == NULL) {
        return cli_usage_error(a, "--keyring redis needs --redis URL");
    }
    struct kms_redis_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.password_file = password_file;
    kms_result r = kms_redis_url_parse(url, strlen(url), &cfg.url);
    if (!kms_ok(r)) {
        fprintf(stderr,
                "%s: --redis %s: expected redis://[USER@]HOST:PORT[/DB] or "
                "unix://[USER@]/PATH[?db=N]\n",
                a->cmd, url);
        return CLI_EXIT_USAGE;
    }
    r = kms_redis_new(&cfg, out);
    if (!kms_ok(r)) {
        return cli_fail(a, "--redis-password-file", r.err);
    }
    char why[256] = "";
    r = kms_keyring_redis_check(*out, why, sizeof(why));
    if (!kms_ok(r)) {
        fprintf(stderr, "%s: --redis %s: %s\n", a->cmd, url,
                why[0] != '\0' ? why : kms_strerror(r.err));
        kms_redis_free(*out);
        *out = NULL;
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

void cli_ring_close(struct cli_ring *r)
{
    kms_keyring_close(r->kr);
    kms_redis_free(r->rd);
    kms_keystore_close(r->ks);
    memset(r, 0, sizeof(*r));
}

int cli_ring_open(const struct cli_args *a, const char *path, const char *kek_file, const char *hsm,
                  const char *redis, const char *redis_pw, struct cli_ring *r)
{
    memset(r, 0, sizeof(*r));
    if (!cli_keyring_is_redis(path)) {
        if (redis != NULL || redis_pw != NULL) {
            return cli_usage_error(a, "--redis: only with --keyring redis");
        }
        return cli_open_keyring(a, path, kek_file, hsm, &r->ks, &r->kr);
    }
    if (hsm != NULL) {
        return cli_usage_error(a, "--keyring redis: the file keystore only (--kek-file)");
    }
    int rc = cli_open_keystore(a, kek_file, hsm, &r->ks);
    if (rc == CLI_EXIT_OK) {
        rc = cli_open_redis(a, redis, redis_pw, &r->rd);
    }
    if (rc == CLI_EXIT_OK) {
        kms_result e = kms_keyring_open_redis(r->rd, NULL, r->ks, &r->kr);
        if (e.err == KMS_ERR_NOT_FOUND) {
            fprintf(stderr,
                    "%s: --keyring redis: Redis holds no keyring (create one with 'imskms keys "
                    "init --keyring redis' or 'imskms keys copy')\n",
                    a->cmd);
            rc = CLI_EXIT_USAGE;
        } else if (!kms_ok(e)) {
            rc = cli_fail(a, "--keyring", e.err);
        }
    }
    if (rc != CLI_EXIT_OK) {
        cli_ring_close(r);
    }
    return rc;
}

int cli_parse_u64(const struct cli_args *a, const char *name, const char *s, uint64_t min,
                  uint64_t max, uint64_t *out)
{
    if (s == NULL) {
        return cli_missing(a, name);
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
    if (end == NULL || end == s || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "%s: --%s: expected a decimal number from %llu to %llu\n", a->cmd, name,
                (unsigned long long)min, (unsigned long long)max);
        return CLI_EXIT_USAGE;
    }
    *out = (uint64_t)v;
    return CLI_EXIT_OK;
}

void cli_print_time(const char *name, uint64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    if (t > (uint64_t)253402300799u || gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        printf("%s=@%llu\n", name, (unsigned long long)t);
        return;
    }
    printf("%s=%s\n", name, buf);
}

uint64_t cli_now(void)
{
    return kms_now();
}

#define TOKEN_TEXT_MAX 8192

int cli_read_token(const struct cli_args *a, const char *arg, uint8_t *out, size_t cap, size_t *len)
{
    static char text[TOKEN_TEXT_MAX + 1];
    size_t n = 0;
    if (arg == NULL) {
        return cli_usage_error(a, "missing TOKEN (base64, or - for standard input)");
    }
    if (strcmp(arg, "-") == 0) {
        n = fread(text, 1, TOKEN_TEXT_MAX + 1, stdin);
        if (n > TOKEN_TEXT_MAX) {
            return cli_usage_error(a, "TOKEN: longer than any ticket");
        }
    } else {
        n = strlen(arg);
        if (n > TOKEN_TEXT_MAX) {
            return cli_usage_error(a, "TOKEN: longer than any ticket");
        }
        memcpy(text, arg, n);
    }
    const char *p = text;
    while (n > 0 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r')) {
        n--;
    }
    kms_result r = kms_base64_decode(p, n, out, cap, len);
    if (r.err == KMS_ERR_TOO_LONG) {
        return cli_usage_error(a, "TOKEN: longer than any ticket");
    }
    if (!kms_ok(r)) {
        return cli_fail(a, "TOKEN", r.err);
    }
    return CLI_EXIT_OK;
}
