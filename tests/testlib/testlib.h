/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers on top of cmocka: known-answer file loading, hex helpers, result assertions.
 * Vector files (tests/vectors/NAME.txt) are blocks of `[name]` followed by `key = value` lines;
 * '#' starts a comment line.
 */
#ifndef KMS_TESTLIB_H
#define KMS_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "imskms/err.h"

#define TV_MAX_KV  32
#define TV_MAX_VAL 1024

struct tv_kv {
    char key[48];
    char val[TV_MAX_VAL];
};

struct tv_block {
    char name[96];
    size_t n;
    struct tv_kv kv[TV_MAX_KV];
};

struct tv_file {
    size_t n;
    struct tv_block *blocks;
};

/* Loads tests/vectors/<name>; fails the test if it cannot. */
void tv_load(const char *name, struct tv_file *f);
void tv_free(struct tv_file *f);
/* Value of key in the block; fails the test when absent. */
const char *tv_get(const struct tv_block *b, const char *key);
/* Value decoded from hex into out of exactly n bytes; fails the test otherwise. */
void tv_hex(const struct tv_block *b, const char *key, uint8_t *out, size_t n);
/* Value decoded from hex into out (cap bytes); returns the length. */
size_t tv_hex_any(const struct tv_block *b, const char *key, uint8_t *out, size_t cap);
/* The block named name; fails the test when absent. */
const struct tv_block *tv_find(const struct tv_file *f, const char *name);

/* Decodes a hex literal in a test (fails the test on bad hex); returns the length. */
size_t th_hex(const char *hex, uint8_t *out, size_t cap);

/* A fresh private directory under /tmp (mkdtemp), and its removal (files only, one level). */
void th_tmpdir(char *dir, size_t cap);
void th_rmtree(const char *dir);
/* dir + "/" + name into out; fails the test when it does not fit. */
void th_path(char *out, size_t cap, const char *dir, const char *name);

struct kms_buf;
/* The MIKEY message msg decoded, its T payload (the body's first) given another timestamp type
 * and value, and encoded again into out (initialised here; kms_buf_cleanup it). Fails the test
 * when msg does not decode or has no T. The MAC is not recomputed: for checks made before it. */
void th_mikey_set_t(const uint8_t *msg, size_t len, uint8_t ts_type, uint64_t value,
                    struct kms_buf *out);

/* Timestamps of every MIKEY type but NTP-UTC (RFC 3830 6.6), the ones the KMS refuses. */
struct th_ts {
    uint8_t type;
    uint64_t value;
};
#define TH_TS_NOT_NTP_UTC_N 4
extern const struct th_ts th_ts_not_ntp_utc[TH_TS_NOT_NTP_UTC_N];

#define expect_ok(call)                                                                            \
    do {                                                                                           \
        kms_result r_ = (call);                                                                    \
        if (r_.err != KMS_OK) {                                                                    \
            fail_msg("%s failed: %s (%s)", #call, kms_err_name(r_.err), kms_strerror(r_.err));     \
        }                                                                                          \
    } while (0)

#define expect_err(call, code)                                                                     \
    do {                                                                                           \
        kms_result r_ = (call);                                                                    \
        if (r_.err != (code)) {                                                                    \
            fail_msg("%s: expected %s, got %s", #call, kms_err_name(code), kms_err_name(r_.err));  \
        }                                                                                          \
    } while (0)

#define expect_bytes_eq(a, b, n) assert_memory_equal((a), (b), (n))

#endif
