/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by `imskms keys` and `imskms token`: opening the keystore and the keyring from the
 * --keyring / --kek-file / --hsm options, times and tokens on the command line. */
#ifndef KMS_CLI_KEYRING_H
#define KMS_CLI_KEYRING_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "keyring/kms_keyring.h"

#define KEYSTORE_OPTS_HELP                                                                         \
    "  --keyring PATH    the keyring file (policy, key ids, states, times, seal counts)\n"         \
    "  --kek-file FILE   file keystore: Kkms wrapped in the keyring under this KEK\n"              \
    "                    (exactly 32 bytes, mode 0600)\n"                                          \
    "  --hsm URI         PKCS#11 keystore (RFC 7512), e.g.\n"                                      \
    "                    'pkcs11:token=LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so"          \
    "&pin-source=file:/path/pin'\n"

#define REDIS_OPTS_HELP                                                                            \
    "  --redis URL       with --keyring redis: the keyring in Redis (docs/keyring.md),\n"          \
    "                    redis://[USER@]HOST:PORT[/DB] or unix://[USER@]/PATH[?db=N];\n"           \
    "                    the file keystore only; Redis must run with appendonly yes and\n"         \
    "                    appendfsync always. (A file named redis: --keyring ./redis)\n"            \
    "  --redis-password-file FILE   the Redis password (owner-only file)\n"

/* What a command on an existing keyring holds (close with cli_ring_close). */
struct cli_ring {
    struct kms_keystore *ks;
    struct kms_redis *rd; /* --keyring redis */
    struct kms_keyring *kr;
};

/* Whether --keyring names the keyring in Redis (the word `redis`; a file so named is ./redis). */
bool cli_keyring_is_redis(const char *path);
/* Connects to --redis URL (with --redis-password-file) and checks that it keeps a keyring
 * (appendonly yes, appendfsync always): prints a one-line reason and returns the exit status
 * otherwise. */
int cli_open_redis(const struct cli_args *a, const char *url, const char *password_file,
                   struct kms_redis **out);
/* cli_open_keyring for a file or, with --keyring redis, Redis (--redis required there and
 * refused elsewhere). */
int cli_ring_open(const struct cli_args *a, const char *path, const char *kek_file, const char *hsm,
                  const char *redis, const char *redis_pw, struct cli_ring *r);
void cli_ring_close(struct cli_ring *r);

/* Opens the keystore named by exactly one of --kek-file / --hsm. */
int cli_open_keystore(const struct cli_args *a, const char *kek_file, const char *hsm,
                      struct kms_keystore **ks);
/* Opens the keystore and the keyring at `path`; on failure prints why and closes both. */
int cli_open_keyring(const struct cli_args *a, const char *path, const char *kek_file,
                     const char *hsm, struct kms_keystore **ks, struct kms_keyring **kr);

/* A decimal number of seconds (or count) in [min, max]. */
int cli_parse_u64(const struct cli_args *a, const char *name, const char *s, uint64_t min,
                  uint64_t max, uint64_t *out);

/* "name=YYYY-MM-DDTHH:MM:SSZ" (UTC). */
void cli_print_time(const char *name, uint64_t t);

/* The current time in UNIX seconds. */
uint64_t cli_now(void);

/* A ticket from the command line or stdin ("-"): standard base64 with padding, surrounding
 * white space ignored. Exit 2 with a one-line reason when it is not base64. */
int cli_read_token(const struct cli_args *a, const char *arg, uint8_t *out, size_t cap,
                   size_t *len);

#endif
