/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <ctype.h>
#include <dirent.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mikey/kms_mikey.h"
#include "util/kms_buf.h"
#include "util/kms_codec.h"

static char *trim(char *s)
{
    while (*s != '\0' && isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

void tv_load(const char *name, struct tv_file *f)
{
    char path[1024], line[2048];
    snprintf(path, sizeof(path), "%s/%s", KMS_VECTOR_DIR, name);
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        fail_msg("cannot open vector file %s", path);
        return;
    }
    memset(f, 0, sizeof(*f));
    struct tv_block *cur = NULL;
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *s = trim(line);
        if (*s == '\0' || *s == '#') {
            continue;
        }
        if (*s == '[') {
            char *end = strchr(s, ']');
            assert_non_null(end);
            *end = '\0';
            f->blocks = realloc(f->blocks, (f->n + 1) * sizeof(*f->blocks));
            assert_non_null(f->blocks);
            cur = &f->blocks[f->n++];
            memset(cur, 0, sizeof(*cur));
            snprintf(cur->name, sizeof(cur->name), "%s", s + 1);
            continue;
        }
        char *eq = strchr(s, '=');
        if (cur == NULL || eq == NULL || cur->n >= TV_MAX_KV) {
            fail_msg("%s: bad line '%s'", path, s);
        }
        *eq = '\0';
        struct tv_kv *kv = &cur->kv[cur->n++];
        snprintf(kv->key, sizeof(kv->key), "%s", trim(s));
        snprintf(kv->val, sizeof(kv->val), "%s", trim(eq + 1));
    }
    fclose(fp);
    if (f->n == 0) {
        fail_msg("%s holds no vectors", path);
    }
}

void tv_free(struct tv_file *f)
{
    free(f->blocks);
    memset(f, 0, sizeof(*f));
}

const char *tv_get(const struct tv_block *b, const char *key)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->kv[i].key, key) == 0) {
            return b->kv[i].val;
        }
    }
    fail_msg("vector [%s] has no '%s'", b->name, key);
    return NULL;
}

const struct tv_block *tv_find(const struct tv_file *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->blocks[i].name, name) == 0) {
            return &f->blocks[i];
        }
    }
    fail_msg("no vector [%s]", name);
    return NULL;
}

size_t th_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    kms_result r = kms_hex_decode(hex, strlen(hex), out, cap, &n);
    if (r.err != KMS_OK) {
        fail_msg("bad hex literal '%s': %s", hex, kms_strerror(r.err));
    }
    return n;
}

size_t tv_hex_any(const struct tv_block *b, const char *key, uint8_t *out, size_t cap)
{
    return th_hex(tv_get(b, key), out, cap);
}

void tv_hex(const struct tv_block *b, const char *key, uint8_t *out, size_t n)
{
    size_t got = tv_hex_any(b, key, out, n);
    if (got != n) {
        fail_msg("vector [%s] '%s': %zu bytes, expected %zu", b->name, key, got, n);
    }
}

void th_tmpdir(char *dir, size_t cap)
{
    int n = snprintf(dir, cap, "/tmp/imskms-test-XXXXXX");
    assert_true(n > 0 && (size_t)n < cap);
    assert_non_null(mkdtemp(dir));
}

void th_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void th_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

void th_mikey_set_t(const uint8_t *msg, size_t len, uint8_t ts_type, uint64_t value,
                    struct kms_buf *out)
{
    struct kms_mikey_msg *m = calloc(1, sizeof(*m));
    size_t eo = 0;
    assert_non_null(m);
    expect_ok(kms_mikey_decode(msg, len, m, &eo));
    size_t i = 0;
    while (i < m->body.n && m->body.pl[i].type != KMS_MIKEY_PT_T) {
        i++;
    }
    assert_true(i < m->body.n);
    m->body.pl[i].u.t = (struct kms_mikey_t){ts_type, value};
    kms_buf_init(out, 1 << 16, false);
    expect_ok(kms_mikey_encode(m, out));
    free(m);
}

const struct th_ts th_ts_not_ntp_utc[TH_TS_NOT_NTP_UTC_N] = {
    {KMS_MIKEY_TS_COUNTER, 7},
    {KMS_MIKEY_TS_COUNTER, 0xffffffff},
    {KMS_MIKEY_TS_NTP, UINT64_C(0xe9b1c0de12345678)},
    {KMS_MIKEY_TS_NTP_UTC_32, 0xe9b1c0de},
};
