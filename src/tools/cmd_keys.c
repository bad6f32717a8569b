/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms keys: the Kkms keyring (init, list, status, rotate, revoke, destroy-expired, copy).
 * Every command works on the file named by --keyring (or, with --keyring redis, the keyring in
 * the Redis of --redis) with the keystore named by --kek-file or --hsm; every change goes
 * through the library's locked (file) or compare-and-swap (Redis) atomic update.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_keyring.h"
#include "cmds.h"

#define KEYS_EXIT_NOTE                                                                             \
    "\nExit status: 0 success, 1 a check failed (wrong KEK, altered keyring), 2 bad usage,\n"      \
    "3 internal or file system error.\n"

enum { O_KEYRING, O_KEK, O_HSM, O_REDIS, O_REDIS_PW, O_LIFETIME, O_GRACE, O_MAX_SEALS };
static const struct cli_opt opts[] = {
    CLI_VALUE("keyring"),
    CLI_VALUE("kek-file"),
    CLI_VALUE("hsm"),
    CLI_VALUE("redis"),
    CLI_VALUE("redis-password-file"),
    CLI_VALUE("lifetime"),
    CLI_VALUE("grace"),
    CLI_VALUE("max-seals"),
};
#define N_COMMON 5 /* --keyring, --kek-file, --hsm, --redis, --redis-password-file */
#define RING_USAGE                                                                                 \
    "--keyring PATH (--kek-file FILE | --hsm URI)\n"                                               \
    "       or --keyring redis --redis URL [--redis-password-file FILE] --kek-file FILE"

static const char init_help[] =
    "usage: imskms keys init " RING_USAGE "\n"
    "       --lifetime SECONDS --grace SECONDS [--max-seals N]\n"
    "\n"
    "Creates a keyring with key 1 active. A key seals for --lifetime seconds (less when it\n"
    "reaches --max-seals first, or is rotated by hand), then opens only, until --grace seconds\n"
    "after its planned end; then it is destroyed. Tickets sealed under a key never expire after\n"
    "its end of grace.\n"
    "\n" KEYSTORE_OPTS_HELP REDIS_OPTS_HELP
    "  --lifetime SECONDS  how long a key seals (1 .. 3162240000)\n"
    "  --grace SECONDS     how long it still opens afterwards (1 .. 32 x lifetime)\n"
    "  --max-seals N       seals per key before a forced rotation (default 268435456 = 2^28,\n"
    "                      well below the 2^32 random-nonce limit of AES-GCM; at most 2^32)\n"
    "\n"
    "Prints keyring=, key_id=, and the key's times. Refuses to overwrite an existing "
    "file\n(or a keyring in Redis).\n" KEYS_EXIT_NOTE;

static const char list_help[] =
    "usage: imskms keys list " RING_USAGE "\n"
    "\n"
    "One line per key record, newest first:\n"
    "  key_id=N state=active|grace|destroyed effective=... activated=T active_until=T\n"
    "  grace_until=T seals=N [retired=T] [destroyed=T end=expired|revoked]\n"
    "T is UTC (YYYY-MM-DDTHH:MM:SSZ). `state` is what the file records, `effective` what holds\n"
    "now (a key past its grace opens nothing even before destroy-expired records it).\n"
    "\n" KEYSTORE_OPTS_HELP REDIS_OPTS_HELP KEYS_EXIT_NOTE;

static const char status_help[] =
    "usage: imskms keys status " RING_USAGE "\n"
    "\n"
    "Prints the policy (lifetime=, grace=, max_seals=), the active key (active_key=,\n"
    "active_until=, seals=), keys_grace= and keys_destroyed= counts, and keystore=.\n"
    "\n" KEYSTORE_OPTS_HELP REDIS_OPTS_HELP KEYS_EXIT_NOTE;

static const char rotate_help[] =
    "usage: imskms keys rotate " RING_USAGE "\n"
    "\n"
    "Makes a new key active now; the old one seals no more and opens until its end of grace.\n"
    "Prints key_id= (the new key).\n"
    "\n" KEYSTORE_OPTS_HELP REDIS_OPTS_HELP KEYS_EXIT_NOTE;

static const char revoke_help[] =
    "usage: imskms keys revoke " RING_USAGE " KEYID\n"
    "\n"
    "Destroys key KEYID at once (for a compromised Kkms): its material is erased and every\n"
    "ticket under it is refused. Revoking the active key makes a new key active in the same\n"
    "write. Prints revoked= and, when a new key was made, key_id=.\n"
    "\n" KEYSTORE_OPTS_HELP REDIS_OPTS_HELP KEYS_EXIT_NOTE;

static const char destroy_help[] =
    "usage: imskms keys destroy-expired " RING_USAGE "\n"
    "\n"
    "Housekeeping: destroys keys whose grace has ended, rotates an active key whose lifetime\n"
    "is over, drops the oldest destroyed records beyond 64, and removes token objects left by\n"
    "an interrupted write (PKCS#11). Prints destroyed= (count) and rotated=yes|no.\n"
    "\n" KEYSTORE_OPTS_HELP REDIS_OPTS_HELP KEYS_EXIT_NOTE;

static const char *stamp(uint64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(buf, cap, "@%llu", (unsigned long long)t);
    }
    return buf;
}

static void print_key_line(const struct kms_key_info *k)
{
    char a[32], b[32], c[32];
    printf("key_id=%u state=%s effective=%s activated=%s active_until=%s grace_until=%s "
           "seals=%llu",
           k->id, kms_key_state_name(k->state), kms_key_state_name(k->effective),
           stamp(k->activated, a, sizeof(a)), stamp(k->active_until, b, sizeof(b)),
           stamp(k->grace_until, c, sizeof(c)), (unsigned long long)k->seals);
    if (k->retired != 0) {
        printf(" retired=%s", stamp(k->retired, a, sizeof(a)));
    }
    if (k->state == KMS_KEY_DESTROYED) {
        printf(" destroyed=%s end=%s", stamp(k->destroyed, a, sizeof(a)),
               k->end == KMS_KEY_END_REVOKED ? "revoked" : "expired");
    }
    putchar('\n');
}

static int keys_init(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    int rc = cli_parse_help(prefix, opts, 8, 0, argc, argv, init_help, &a);
    if (rc != 0 || a.help) {
        return rc;
    }
    struct kms_keyring_policy pol = {0, 0, KMS_KEYRING_DEFAULT_MAX_SEALS};
    if (a.val[O_KEYRING] == NULL) {
        return cli_missing(&a, "keyring");
    }
    if ((rc = cli_parse_u64(&a, "lifetime", a.val[O_LIFETIME], 1, UINT64_C(3162240000),
                            &pol.lifetime)) != 0 ||
        (rc = cli_parse_u64(&a, "grace", a.val[O_GRACE], 1, UINT64_C(3162240000), &pol.grace)) !=
            0) {
        return rc;
    }
    if (a.val[O_MAX_SEALS] != NULL &&
        (rc = cli_parse_u64(&a, "max-seals", a.val[O_MAX_SEALS], 1, UINT64_C(1) << 32,
                            &pol.max_seals)) != 0) {
        return rc;
    }
    if (pol.grace > pol.lifetime * KMS_KEYRING_MAX_GRACE_RATIO) {
        return cli_usage_error(&a, "--grace: at most 32 x --lifetime (bounds the keys kept)");
    }
    struct kms_keystore *ks = NULL;
    struct kms_keyring *kr = NULL;
    struct kms_redis *rd = NULL;
    bool in_redis = cli_keyring_is_redis(a.val[O_KEYRING]);
    if (!in_redis && (a.val[O_REDIS] != NULL || a.val[O_REDIS_PW] != NULL)) {
        return cli_usage_error(&a, "--redis: only with --keyring redis");
    }
    if (in_redis && a.val[O_HSM] != NULL) {
        return cli_usage_error(&a, "--keyring redis: the file keystore only (--kek-file)");
    }
    if ((rc = cli_open_keystore(&a, a.val[O_KEK], a.val[O_HSM], &ks)) != 0) {
        return rc;
    }
    if (in_redis && (rc = cli_open_redis(&a, a.val[O_REDIS], a.val[O_REDIS_PW], &rd)) != 0) {
        kms_keystore_close(ks);
        return rc;
    }
    uint64_t now = cli_now();
    kms_result r = in_redis ? kms_keyring_create_redis(rd, NULL, ks, &pol, now, &kr)
                            : kms_keyring_create(a.val[O_KEYRING], ks, &pol, now, &kr);
    if (r.err == KMS_ERR_EXISTS && in_redis) {
        fprintf(stderr,
                "%s: --keyring redis: Redis holds a keyring already (a keyring is never "
                "overwritten)\n",
                a.cmd);
        rc = CLI_EXIT_USAGE;
    } else if (r.err == KMS_ERR_EXISTS) {
        fprintf(stderr, "%s: --keyring %s: file exists (a keyring is never overwritten)\n", a.cmd,
                a.val[O_KEYRING]);
        rc = CLI_EXIT_USAGE;
    } else if (!kms_ok(r)) {
        rc = cli_fail(&a, "--keyring", r.err);
    } else {
        struct kms_key_info k;
        size_t n = 0;
        r = kms_keyring_list(kr, now, &k, 1, &n);
        printf("keyring=%s\n", a.val[O_KEYRING]);
        printf("keystore=%s\n", ks->ops->name);
        if (kms_ok(r) && n == 1) {
            printf("key_id=%u\n", k.id);
            cli_print_time("active_until", k.active_until);
            cli_print_time("grace_until", k.grace_until);
        }
    }
    kms_keyring_close(kr);
    kms_redis_free(rd);
    kms_keystore_close(ks);
    return rc;
}

/* The body of a command on an existing keyring: prints its output, returns the exit status. */
typedef int (*ring_fn)(const struct cli_args *a, struct kms_keystore *ks, struct kms_keyring *kr);

/* Parses the common options (and up to max_pos positional arguments), opens the keystore and
 * the keyring, runs fn, closes both. */
static int with_ring(const char *prefix, int argc, char **argv, size_t max_pos, const char *help,
                     int (*pre)(struct cli_args *a), ring_fn fn)
{
    struct cli_args a;
    struct cli_ring ring;
    int rc = cli_parse_help(prefix, opts, N_COMMON, max_pos, argc, argv, help, &a);
    if (rc != 0 || a.help || (pre != NULL && (rc = pre(&a)) != 0) ||
        (rc = cli_ring_open(&a, a.val[O_KEYRING], a.val[O_KEK], a.val[O_HSM], a.val[O_REDIS],
                            a.val[O_REDIS_PW], &ring)) != 0) {
        return rc;
    }
    rc = fn(&a, ring.ks, ring.kr);
    cli_ring_close(&ring);
    return rc;
}

static int do_list(const struct cli_args *a, struct kms_keystore *ks, struct kms_keyring *kr)
{
    (void)ks;
    struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    kms_result r = kms_keyring_list(kr, cli_now(), k, KMS_KEYRING_MAX_RECORDS, &n);
    if (!kms_ok(r)) {
        return cli_fail(a, NULL, r.err);
    }
    for (size_t i = 0; i < n; i++) {
        print_key_line(&k[i]);
    }
    return CLI_EXIT_OK;
}

static int do_status(const struct cli_args *a, struct kms_keystore *ks, struct kms_keyring *kr)
{
    struct kms_key_info k[KMS_KEYRING_MAX_RECORDS];
    size_t n = 0;
    uint64_t now = cli_now();
    kms_result r = kms_keyring_list(kr, now, k, KMS_KEYRING_MAX_RECORDS, &n);
    if (!kms_ok(r)) {
        return cli_fail(a, NULL, r.err);
    }
    struct kms_keyring_policy pol;
    kms_keyring_get_policy(kr, &pol);
    size_t grace = 0, destroyed = 0;
    const struct kms_key_info *active = NULL;
    for (size_t i = 0; i < n; i++) {
        if (k[i].state == KMS_KEY_ACTIVE) {
            active = &k[i];
        }
        grace += k[i].effective == KMS_KEY_GRACE;
        destroyed += k[i].effective == KMS_KEY_DESTROYED;
    }
    printf("keystore=%s\n", ks->ops->name);
    printf("lifetime=%llu\ngrace=%llu\nmax_seals=%llu\n", (unsigned long long)pol.lifetime,
           (unsigned long long)pol.grace, (unsigned long long)pol.max_seals);
    if (active != NULL) {
        printf("active_key=%u\n", active->id);
        cli_print_time("active_until", active->active_until);
        printf("seals=%llu\n", (unsigned long long)active->seals);
        /* A lifetime that ran out while nothing sealed: the next seal rotates first. */
        printf("rotation_due=%s\n", now >= active->active_until ? "yes" : "no");
    }
    printf("keys_grace=%zu\nkeys_destroyed=%zu\n", grace, destroyed);
    printf("generation=%llu\n", (unsigned long long)kms_keyring_generation(kr));
    return CLI_EXIT_OK;
}

static int do_rotate(const struct cli_args *a, struct kms_keystore *ks, struct kms_keyring *kr)
{
    (void)ks;
    uint32_t id = 0;
    kms_result r = kms_keyring_rotate(kr, cli_now(), &id);
    if (!kms_ok(r)) {
        return cli_fail(a, NULL, r.err);
    }
    printf("key_id=%u\n", id);
    return CLI_EXIT_OK;
}

static uint32_t revoke_id;

static int pre_revoke(struct cli_args *a)
{
    uint64_t id = 0;
    if (a->n_pos != 1) {
        return cli_usage_error(a, "missing KEYID (see 'imskms keys list')");
    }
    int rc = cli_parse_u64(a, "KEYID", a->pos[0], 1, UINT32_MAX, &id);
    revoke_id = (uint32_t)id;
    return rc;
}

static int do_revoke(const struct cli_args *a, struct kms_keystore *ks, struct kms_keyring *kr)
{
    (void)ks;
    uint32_t repl = 0;
    kms_result r = kms_keyring_revoke(kr, cli_now(), revoke_id, &repl);
    if (r.err == KMS_ERR_NOT_FOUND || r.err == KMS_ERR_KEY_DESTROYED) {
        fprintf(stderr, "%s: %s %u\n", a->cmd,
                r.err == KMS_ERR_NOT_FOUND ? "no such key in this keyring:"
                                           : "already destroyed: key",
                revoke_id);
        return CLI_EXIT_USAGE;
    }
    if (!kms_ok(r)) {
        return cli_fail(a, NULL, r.err);
    }
    printf("revoked=%u\n", revoke_id);
    if (repl != 0) {
        printf("key_id=%u\n", repl);
    }
    return CLI_EXIT_OK;
}

static int do_destroy_expired(const struct cli_args *a, struct kms_keystore *ks,
                              struct kms_keyring *kr)
{
    (void)ks;
    size_t destroyed = 0;
    bool rotated = false;
    kms_result r = kms_keyring_maintain(kr, cli_now(), &destroyed, &rotated);
    if (!kms_ok(r)) {
        return cli_fail(a, NULL, r.err);
    }
    printf("destroyed=%zu\nrotated=%s\n", destroyed, rotated ? "yes" : "no");
    return CLI_EXIT_OK;
}

static int keys_list(const char *prefix, int argc, char **argv)
{
    return with_ring(prefix, argc, argv, 0, list_help, NULL, do_list);
}

static int keys_status(const char *prefix, int argc, char **argv)
{
    return with_ring(prefix, argc, argv, 0, status_help, NULL, do_status);
}

static int keys_rotate(const char *prefix, int argc, char **argv)
{
    return with_ring(prefix, argc, argv, 0, rotate_help, NULL, do_rotate);
}

static int keys_revoke(const char *prefix, int argc, char **argv)
{
    return with_ring(prefix, argc, argv, 1, revoke_help, pre_revoke, do_revoke);
}

static int keys_destroy_expired(const char *prefix, int argc, char **argv)
{
    return with_ring(prefix, argc, argv, 0, destroy_help, NULL, do_destroy_expired);
}

enum { C_FROM, C_TO, C_KEK, C_REDIS, C_REDIS_PW };
static const struct cli_opt copy_opts[] = {
    CLI_VALUE("from"),
    CLI_VALUE("to"),
    CLI_VALUE("kek-file"),
    CLI_VALUE("redis"),
    CLI_VALUE("redis-password-file"),
};

static const char copy_help[] =
    "usage: imskms keys copy --from PATH --to redis --redis URL [--redis-password-file FILE]\n"
    "                        --kek-file FILE\n"
    "       imskms keys copy --from redis --to PATH --redis URL [--redis-password-file FILE]\n"
    "                        --kek-file FILE\n"
    "\n"
    "Copies a keyring file (and its anchor, PATH.anchor) into Redis, for `--keyring redis`,\n"
    "or the keyring in Redis to a new file (a backup). The keyring is checked first (KEK, MAC,\n"
    "anchor) and copied byte for byte: the same keys, generation and seal counts, so every\n"
    "ticket it sealed still opens. Never overwrites: Redis must hold no keyring, PATH must not\n"
    "exist. Stop writers of the source first (daemons on the file: a change made after the\n"
    "copy is lost to the copy). A keyring file last written before anchors existed (format 1)\n"
    "is refused: make one change to it first (imskms keys rotate).\n"
    "\n"
    "  --from PATH|redis, --to redis|PATH   exactly one of them the word redis\n"
    "  --kek-file FILE   the KEK of the keyring (file keystore only)\n"
    "  --redis URL       redis://[USER@]HOST:PORT[/DB] or unix://[USER@]/PATH[?db=N]; Redis\n"
    "                    must run with appendonly yes and appendfsync always\n"
    "  --redis-password-file FILE   the Redis password (owner-only file)\n"
    "\n"
    "Prints from=, to= and generation=.\n" KEYS_EXIT_NOTE;

static int keys_copy(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    int rc = cli_parse_help(prefix, copy_opts, 5, 0, argc, argv, copy_help, &a);
    if (rc != 0 || a.help) {
        return rc;
    }
    const char *from = a.val[C_FROM], *to = a.val[C_TO];
    if (from == NULL) {
        return cli_missing(&a, "from");
    }
    if (to == NULL) {
        return cli_missing(&a, "to");
    }
    bool up = cli_keyring_is_redis(to);
    if (up == cli_keyring_is_redis(from)) {
        return cli_usage_error(&a, "exactly one of --from and --to must be the word redis");
    }
    struct kms_keystore *ks = NULL;
    struct kms_redis *rd = NULL;
    if ((rc = cli_open_keystore(&a, a.val[C_KEK], NULL, &ks)) != 0) {
        return rc;
    }
    if ((rc = cli_open_redis(&a, a.val[C_REDIS], a.val[C_REDIS_PW], &rd)) != 0) {
        kms_keystore_close(ks);
        return rc;
    }
    uint64_t gen = 0;
    kms_result r = up ? kms_keyring_copy_to_redis(from, ks, rd, NULL, &gen)
                      : kms_keyring_copy_from_redis(rd, NULL, ks, to, &gen);
    if (r.err == KMS_ERR_EXISTS) {
        fprintf(stderr, "%s: --to %s: %s (a keyring is never overwritten)\n", a.cmd, to,
                up ? "Redis holds a keyring already" : "file exists");
        rc = CLI_EXIT_USAGE;
    } else if (r.err == KMS_ERR_NOT_FOUND) {
        fprintf(stderr, "%s: --from %s: no such keyring\n", a.cmd, from);
        rc = CLI_EXIT_USAGE;
    } else if (r.err == KMS_ERR_UNSUPPORTED && up) {
        fprintf(stderr,
                "%s: --from %s: a keyring file of format 1 (no anchor): make one change to it "
                "first (imskms keys rotate)\n",
                a.cmd, from);
        rc = CLI_EXIT_USAGE;
    } else if (!kms_ok(r)) {
        rc = cli_fail(&a, up ? "--from" : "--to", r.err);
    } else {
        printf("from=%s\nto=%s\ngeneration=%llu\n", from, to, (unsigned long long)gen);
    }
    kms_redis_free(rd);
    kms_keystore_close(ks);
    return rc;
}

static const struct cli_cmd keys_cmds[] = {
    {"init", "create a keyring with its first key", keys_init},
    {"list", "every key record with its state and times", keys_list},
    {"status", "policy, the active key, counts", keys_status},
    {"rotate", "make a new key active now", keys_rotate},
    {"revoke", "destroy one key at once (compromise)", keys_revoke},
    {"destroy-expired", "housekeeping: destroy keys past their grace", keys_destroy_expired},
    {"copy", "copy a keyring between a file and Redis", keys_copy},
};

int cmd_keys(const char *prefix, int argc, char **argv)
{
    return cli_dispatch(prefix, keys_cmds, sizeof(keys_cmds) / sizeof(keys_cmds[0]), NULL, argc,
                        argv);
}
