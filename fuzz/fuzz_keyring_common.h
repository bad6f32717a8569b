/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fixtures shared by the harnesses that need a keyring (fuzz_ticket_open.c, fuzz_keyring_file.c)
 * and by the seed writer (seeds/mkseeds.c): a fixed KEK, a fixed clock, a private temporary
 * directory removed at exit, and a file keystore. Header-only (static inline) so each harness
 * stays one source file.
 *
 * The KEK is fixed so that keyring files written by the seed writer carry wrapped keys that
 * the keyring_file harness can unwrap, which takes the fuzzer past kms_keyring_open into key
 * loading. The key material a harness creates itself still comes from the DRBG: no oracle
 * depends on its value.
 *
 * standalone_main.c does not call LLVMFuzzerInitialize, so the harnesses set up lazily on
 * their first input (kf_once) and also from LLVMFuzzerInitialize under libFuzzer.
 */
#ifndef KMS_FUZZ_KEYRING_COMMON_H
#define KMS_FUZZ_KEYRING_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err/kms_err.h"
#include "keyring/kms_keyring.h"
#include "keyring/kms_keystore.h"

#define KF_NOW UINT64_C(1700000000) /* the clock of every harness and seed */

/* The KEK of every fuzz keystore: 0x00, 0x01, ... 0x1f. */
static inline void kf_kek(uint8_t kek[32])
{
    for (size_t i = 0; i < 32; i++) {
        kek[i] = (uint8_t)i;
    }
}

#define KF_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            kf_fail(#cond, __FILE__, __LINE__);                                                    \
        }                                                                                          \
    } while (0)

static inline void kf_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "oracle failed (%s:%d): %s\n", file, line, what);
    abort();
}

/* Set-up failures are not findings: say so and stop. */
static inline void kf_setup_ok(kms_result r, const char *what)
{
    if (!kms_ok(r)) {
        fprintf(stderr, "fuzz set-up: %s: %s\n", what, kms_err_name(r.err));
        exit(2);
    }
}

/* A private directory (mode 0700, from mkdtemp) and the paths a harness keeps in it. */
struct kf_dir {
    char dir[256];
    char file[300]; /* dir/keyring */
};

static struct kf_dir kf_dir_g;

/* Removes the keyring file, its lock and temporary siblings, then the directory. */
static inline void kf_dir_remove(void)
{
    static const char *const suffix[] = {"", ".lock", ".tmp"};
    char p[320];
    if (kf_dir_g.dir[0] == '\0') {
        return;
    }
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", kf_dir_g.file, suffix[i]);
        (void)unlink(p);
    }
    (void)rmdir(kf_dir_g.dir);
    kf_dir_g.dir[0] = '\0';
}

/* Creates the directory once and registers its removal at exit. */
static inline const char *kf_dir_make(void)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 200) {
        tmp = "/tmp";
    }
    snprintf(kf_dir_g.dir, sizeof(kf_dir_g.dir), "%s/kms-fuzz.XXXXXX", tmp);
    if (mkdtemp(kf_dir_g.dir) == NULL) {
        perror("fuzz set-up: mkdtemp");
        exit(2);
    }
    snprintf(kf_dir_g.file, sizeof(kf_dir_g.file), "%s/keyring", kf_dir_g.dir);
    if (atexit(kf_dir_remove) != 0) {
        kf_dir_remove();
        exit(2);
    }
    return kf_dir_g.file;
}

/* The file keystore under the fixed KEK. */
static inline struct kms_keystore *kf_keystore(void)
{
    uint8_t kek[32];
    struct kms_keystore *ks = NULL;
    kf_kek(kek);
    kf_setup_ok(kms_keystore_file_open_kek(kek, &ks), "file keystore");
    memset(kek, 0, sizeof(kek));
    return ks;
}

/* An exact-size heap copy of p (malloc(0) still gives ASan a zero-byte block to guard). */
static inline uint8_t *kf_dup(const uint8_t *p, size_t n, size_t extra)
{
    uint8_t *q = malloc(n + extra);
    if (q == NULL && n + extra > 0) {
        abort();
    }
    if (n > 0) {
        memcpy(q, p, n);
    }
    return q;
}

/* Every byte of p is zero. */
static inline bool kf_all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= b[i];
    }
    return acc == 0;
}

#endif
