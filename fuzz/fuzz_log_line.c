/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the log line writer (kms_log_format_line, util/kms_log.h), which puts
 * peer-supplied text (IMPIs, B-TIDs, paths, error details) into every request line. Input: the
 * first byte picks the buffer size (64 .. KMS_LOG_LINE_MAX), the rest is split at NUL bytes into
 * the message and up to three field values. Oracles, for both formats: the line fits (length <
 * cap, NUL-terminated at its length), ends in its only newline, holds no other control
 * character (nothing a peer sends can start a forged line), and its unescaped double quotes
 * pair up (every quoted value is closed, also when cut); a JSON line is one object ("{" ...
 * "}\n") of printable ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keyring_common.h"
#include "util/kms_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t unescaped_quotes(const char *s, size_t n)
{
    size_t q = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            i++;
        } else if (s[i] == '"') {
            q++;
        }
    }
    return q;
}

static void check(const char *line, size_t n, size_t cap, bool json)
{
    KF_CHECK(n > 0 && n < cap);
    KF_CHECK(strlen(line) == n);
    KF_CHECK(line[n - 1] == '\n');
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char ch = (unsigned char)line[i];
        KF_CHECK(ch >= 0x20 && ch != 0x7f);
        KF_CHECK(!json || ch <= 0x7e);
    }
    KF_CHECK(unescaped_quotes(line, n) % 2 == 0);
    if (json) {
        KF_CHECK(line[0] == '{' && n >= 2 && line[n - 2] == '}');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t cap = 64 + (size_t)data[0] * ((KMS_LOG_LINE_MAX - 64) / 255);
    char *text = malloc(size);
    char *line = malloc(cap);
    KF_CHECK(text != NULL && line != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    /* msg, then up to three values, each ending at a NUL byte of the input */
    const char *part[4] = {text, NULL, NULL, NULL};
    size_t n_part = 1;
    for (size_t i = 0; i + 1 < size && n_part < 4; i++) {
        if (text[i] == '\0') {
            part[n_part++] = text + i + 1;
        }
    }
    struct kms_log_kv kv[] = {{"impi", part[1], false},
                              {"status", "403", true},
                              {"btid", part[2], false},
                              {"path", part[3], false}};
    for (int f = 0; f < 2; f++) {
        bool json = f == 1;
        size_t n = kms_log_format_line(line, cap, json ? KMS_LOG_JSON : KMS_LOG_LOGFMT,
                                       "2026-01-02T03:04:05Z", "imskms-kmsd", KMS_LOG_WARN,
                                       "request", kv, 4, part[0]);
        check(line, n, cap, json);
    }
    free(line);
    free(text);
    return 0;
}
