/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imskms kue: the KMS's mode-2 Kue records (list, revoke). The records live in the state store
 * (--state-db, or a fleet's Redis with --redis; sealed under the KEK); the KMS reads a record on
 * every request that presents its reference, so a revoked Kue is refused from the next request on,
 * without a restart. Mode-3 tokens are sealed, not stored: they cannot be withdrawn one by one,
 * only all together by revoking the Kkms that sealed them (imskms keys revoke).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cmds.h"
#include "crypto/kms_kek.h"
#include "keyring/kms_keystore.h"
#include "redis/kms_redis.h"
#include "store/kms_store.h"
#include "store/kms_store_redis.h"
#include "ticket/kms_ticket.h"
#include "util/kms_codec.h"
#include "util/kms_mem.h"
#include "util/kms_time.h"

#define KUE_EXIT_NOTE                                                                              \
    "\nExit status: 0 success, 1 nothing matched (revoke) or the KEK does not open the\n"          \
    "records, 2 bad usage (also: no such state store), 3 internal or store error.\n"

#define STORE_OPTS_HELP                                                                            \
    "  --state-db PATH   the KMS's state store (SQLite; the KMS may be running)\n"                 \
    "  --redis URL       instead, a KMS fleet's Redis (redis://[USER@]HOST:PORT[/DB] or\n"         \
    "                    unix://[USER@]/PATH[?db=N]; the nodes may be running)\n"                  \
    "  --redis-password-file FILE  its password (owner-only file)\n"                               \
    "  --kek-file FILE   the KEK the KMS seals it under (32 bytes, mode 0600 or 0400)\n"

enum { O_DB, O_KEK, O_REDIS, O_REDISPW, O_REF, O_IDENTITY };
static const struct cli_opt opts[] = {
    CLI_VALUE("state-db"), CLI_VALUE("kek-file"),
    CLI_VALUE("redis"),    CLI_VALUE("redis-password-file"),
    CLI_VALUE("ref"),      CLI_VALUE("identity"),
};
#define N_LIST   4
#define N_REVOKE 6

static const char list_help[] =
    "usage: imskms kue list (--state-db PATH | --redis URL [--redis-password-file FILE])\n"
    "                       --kek-file FILE\n"
    "\n"
    "One line per mode-2 Kue the store holds and that has not expired, in reference order:\n"
    "  ref=HEX identity=IMPI valid_from=T valid_to=T\n"
    "T is UTC (YYYY-MM-DDTHH:MM:SSZ). The IMPI is personal data: treat the output so.\n"
    "\n" STORE_OPTS_HELP KUE_EXIT_NOTE;

static const char revoke_help[] =
    "usage: imskms kue revoke (--state-db PATH | --redis URL [--redis-password-file FILE])\n"
    "                         --kek-file FILE (--ref HEX | --identity ID)\n"
    "\n"
    "Withdraws mode-2 Kues at once (a lost phone): --ref the one with that reference (16 bytes,\n"
    "as kue list prints it), --identity every one issued to that IMPI or IMPU. The running KMS\n"
    "refuses a withdrawn Kue from its next request on. Prints revoked=N.\n"
    "\n"
    "Mode-3 tokens are not stored and cannot be withdrawn one by one: revoke the Kkms that\n"
    "sealed them (imskms keys revoke), which withdraws every token under it.\n"
    "\n" STORE_OPTS_HELP "  --ref HEX         a Kue reference (32 hex digits)\n"
    "  --identity ID     an IMPI or IMPU\n" KUE_EXIT_NOTE;

#define PAGE 256

/* The store on a fleet's Redis (--redis): the client in *rd (freed after the store). */
static int open_redis(const struct cli_args *a, const uint8_t kek[32], struct kms_redis **rd,
                      struct kms_store **st)
{
    struct kms_redis_cfg rc = {.password_file = a->val[O_REDISPW]};
    const char *url = a->val[O_REDIS];
    if (!kms_ok(kms_redis_url_parse(url, strlen(url), &rc.url))) {
        return cli_usage_error(
            a, "--redis: redis://[USER@]HOST:PORT[/DB] or unix://[USER@]/PATH[?db=N]");
    }
    if (rc.url.user[0] != '\0' && rc.password_file == NULL) {
        return cli_usage_error(a, "--redis names a user: give --redis-password-file");
    }
    kms_result r = kms_redis_new(&rc, rd);
    if (!kms_ok(r)) {
        if (rc.password_file == NULL) {
            return cli_fail(a, "--redis", r.err);
        }
        fprintf(stderr, "%s: --redis-password-file %s: %s\n", a->cmd, rc.password_file,
                kms_strerror(r.err));
        return CLI_EXIT_USAGE;
    }
    char why[256] = "";
    if (!kms_ok(r = kms_redis_check(*rd, why, sizeof(why)))) {
        fprintf(stderr, "%s: --redis %s: %s\n", a->cmd, url, why[0] ? why : kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    uint8_t names[32];
    struct kms_store_backend *be = NULL;
    r = kms_kek_derive(kek, KMS_KEK_KMS_REDIS_NAMES, 1, names);
    if (kms_ok(r)) {
        r = kms_store_backend_redis(*rd, names, &be);
    }
    if (kms_ok(r)) {
        r = kms_store_new(be, kek, st);
    }
    kms_wipe(names, sizeof(names));
    if (!kms_ok(r)) {
        fprintf(stderr, "%s: --redis %s: %s\n", a->cmd, url, kms_strerror(r.err));
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

/* Opens an existing store: a missing file is a usage error here (the KMS creates it). */
static int open_store(const struct cli_args *a, struct kms_redis **rd, struct kms_store **st)
{
    *st = NULL;
    *rd = NULL;
    if (a->val[O_DB] != NULL && a->val[O_REDIS] != NULL) {
        return cli_usage_error(a, "--redis and --state-db: give one");
    }
    if (a->val[O_DB] == NULL && a->val[O_REDIS] == NULL) {
        return cli_missing(a, "state-db");
    }
    if (a->val[O_KEK] == NULL) {
        return cli_missing(a, "kek-file");
    }
    if (a->val[O_REDISPW] != NULL && a->val[O_REDIS] == NULL) {
        return cli_usage_error(a, "--redis-password-file: only with --redis");
    }
    if (a->val[O_REDIS] != NULL) {
        uint8_t kek[32];
        kms_result r = kms_kek_read(a->val[O_KEK], kek);
        int rc = kms_ok(r) ? open_redis(a, kek, rd, st) : cli_fail(a, "--kek-file", r.err);
        kms_wipe(kek, sizeof(kek));
        return rc;
    }
    struct stat sb;
    if (stat(a->val[O_DB], &sb) != 0) {
        fprintf(stderr, "%s: --state-db %s: %s\n", a->cmd, a->val[O_DB], strerror(errno));
        return CLI_EXIT_USAGE;
    }
    uint8_t kek[32];
    kms_result r = kms_kek_read(a->val[O_KEK], kek);
    if (!kms_ok(r)) {
        kms_wipe(kek, sizeof(kek));
        return cli_fail(a, "--kek-file", r.err);
    }
    struct kms_store_backend *be = NULL;
    r = kms_store_backend_sqlite(a->val[O_DB], &be);
    if (kms_ok(r)) {
        r = kms_store_new(be, kek, st);
    }
    kms_wipe(kek, sizeof(kek));
    if (!kms_ok(r)) {
        fprintf(stderr, "%s: --state-db %s: %s\n", a->cmd, a->val[O_DB], kms_strerror(r.err));
        return kms_err_exit_status(r.err) == CLI_EXIT_USAGE ? CLI_EXIT_USAGE : CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

/* One record's claims. KMS_ERR_STORE for a record the KEK does not open (wrong KEK). */
static kms_result read_claims(struct kms_store *st, const uint8_t id[KMS_STORE_ID_LEN],
                              uint64_t now, struct kms_ticket_claims *c, uint64_t *expires)
{
    struct kms_buf rec;
    kms_buf_init(&rec, KMS_TICKET_MAX, true);
    kms_result r = kms_store_kue_get(st, id, now, &rec, expires);
    if (kms_ok(r)) {
        r = kms_ticket_payload_decode(kms_buf_data(&rec), kms_buf_len(&rec), KMS_TICKET_KUE, c);
    }
    kms_buf_cleanup(&rec);
    return r;
}

static int store_error(const struct cli_args *a, kms_result r)
{
    if (r.err == KMS_ERR_STORE) {
        fprintf(stderr,
                "%s: a record does not open: not the KEK of this state store, or the file was "
                "altered\n",
                a->cmd);
        return CLI_EXIT_CHECK;
    }
    return cli_fail(a, "state store", r.err);
}

/* Calls each(ctx, ref, claims, expires) for every unexpired record; a record that expires
 * or is revoked between the scan and the read is skipped. */
typedef int (*kue_fn)(void *ctx, const uint8_t ref[KMS_STORE_ID_LEN],
                      const struct kms_ticket_claims *c, uint64_t expires);

static int for_each(const struct cli_args *a, struct kms_store *st, kue_fn each, void *ctx)
{
    uint8_t(*ids)[KMS_STORE_ID_LEN] = calloc(PAGE, KMS_STORE_ID_LEN);
    struct kms_ticket_claims *c = calloc(1, sizeof(*c)); /* holds a Kue: wiped after each */
    if (ids == NULL || c == NULL) {
        free(ids);
        free(c);
        return cli_fail(a, "list", KMS_ERR_NOMEM);
    }
    uint64_t now = kms_now();
    uint8_t after[KMS_STORE_ID_LEN];
    size_t n = 0;
    bool first = true;
    int rc = CLI_EXIT_OK;
    do {
        kms_result r = kms_store_kue_scan(st, now, first ? NULL : after, ids, PAGE, &n);
        if (!kms_ok(r)) {
            rc = store_error(a, r);
            break;
        }
        for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
            uint64_t exp = 0;
            r = read_claims(st, ids[i], now, c, &exp);
            if (r.err == KMS_ERR_NOT_FOUND) {
                continue; /* gone since the scan */
            }
            rc = kms_ok(r) ? each(ctx, ids[i], c, exp) : store_error(a, r);
            kms_ticket_claims_wipe(c);
        }
        if (n > 0) {
            memcpy(after, ids[n - 1], KMS_STORE_ID_LEN);
        }
        first = false;
    } while (rc == CLI_EXIT_OK && n == PAGE);
    free(ids);
    kms_ticket_claims_wipe(c);
    free(c);
    return rc;
}

static int print_one(void *ctx, const uint8_t ref[KMS_STORE_ID_LEN],
                     const struct kms_ticket_claims *c, uint64_t expires)
{
    (void)ctx;
    char hex[2 * KMS_STORE_ID_LEN + 1], from[KMS_TIME_STR_LEN], to[KMS_TIME_STR_LEN];
    if (!kms_ok(kms_hex_encode(ref, KMS_STORE_ID_LEN, hex, sizeof(hex))) ||
        !kms_ok(kms_time_format(c->issued, from)) || !kms_ok(kms_time_format(expires, to))) {
        return CLI_EXIT_INTERNAL;
    }
    printf("ref=%s identity=%s valid_from=%s valid_to=%s\n", hex, c->impi.s, from, to);
    return CLI_EXIT_OK;
}

/* The store, then its Redis client (the store's backend borrows it). */
static void close_store(struct kms_store *st, struct kms_redis *rd)
{
    kms_store_close(st);
    kms_redis_free(rd);
}

static int kue_list(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct kms_store *st = NULL;
    struct kms_redis *rd = NULL;
    int rc = cli_parse_help(prefix, opts, N_LIST, 0, argc, argv, list_help, &a);
    if (rc != 0 || a.help || (rc = open_store(&a, &rd, &st)) != 0) {
        close_store(st, rd);
        return rc;
    }
    rc = for_each(&a, st, print_one, NULL);
    close_store(st, rd);
    return rc;
}

/* The references of the records naming an identity, collected first (deleting while paging
 * would be safe with the id-ordered scan, but a list read whole is simpler to reason about). */
struct match {
    const char *identity;
    uint8_t (*refs)[KMS_STORE_ID_LEN];
    size_t n, cap;
};

static int collect(void *ctx, const uint8_t ref[KMS_STORE_ID_LEN],
                   const struct kms_ticket_claims *c, uint64_t expires)
{
    (void)expires;
    struct match *m = ctx;
    if (!kms_ticket_claims_name(c, m->identity)) {
        return CLI_EXIT_OK;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap == 0 ? 16 : 2 * m->cap;
        void *p = realloc(m->refs, cap * KMS_STORE_ID_LEN);
        if (p == NULL) {
            return CLI_EXIT_INTERNAL;
        }
        m->refs = p;
        m->cap = cap;
    }
    memcpy(m->refs[m->n++], ref, KMS_STORE_ID_LEN);
    return CLI_EXIT_OK;
}

static int kue_revoke(const char *prefix, int argc, char **argv)
{
    struct cli_args a;
    struct kms_store *st = NULL;
    struct kms_redis *rd = NULL;
    int rc = cli_parse_help(prefix, opts, N_REVOKE, 0, argc, argv, revoke_help, &a);
    if (rc != 0 || a.help) {
        return rc;
    }
    if ((a.val[O_REF] == NULL) == (a.val[O_IDENTITY] == NULL)) {
        return cli_usage_error(&a, "give one of --ref HEX and --identity ID");
    }
    uint8_t ref[KMS_STORE_ID_LEN];
    if (a.val[O_REF] != NULL &&
        (rc = cli_hex_exact(&a, "ref", a.val[O_REF], ref, sizeof(ref))) != 0) {
        return rc;
    }
    if ((rc = open_store(&a, &rd, &st)) != 0) {
        close_store(st, rd);
        return rc;
    }
    struct match m = {.identity = a.val[O_IDENTITY]};
    if (a.val[O_REF] != NULL) {
        m.refs = malloc(KMS_STORE_ID_LEN);
        if (m.refs == NULL) {
            rc = cli_fail(&a, "revoke", KMS_ERR_NOMEM);
        } else {
            memcpy(m.refs[0], ref, KMS_STORE_ID_LEN);
            m.n = 1;
        }
    } else {
        rc = for_each(&a, st, collect, &m);
    }
    size_t revoked = 0;
    for (size_t i = 0; i < m.n && rc == CLI_EXIT_OK; i++) {
        kms_result r = kms_store_kue_del(st, m.refs[i]);
        if (kms_ok(r)) {
            revoked++;
        } else if (r.err != KMS_ERR_NOT_FOUND) {
            rc = cli_fail(&a, "revoke", r.err);
        }
    }
    free(m.refs);
    close_store(st, rd);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    printf("revoked=%zu\n", revoked);
    if (revoked == 0) {
        fprintf(stderr, "%s: no stored Kue %s %s\n", a.cmd,
                a.val[O_REF] != NULL ? "has the reference" : "names",
                a.val[O_REF] != NULL ? a.val[O_REF] : a.val[O_IDENTITY]);
        return CLI_EXIT_CHECK;
    }
    return CLI_EXIT_OK;
}

static const struct cli_cmd kue_cmds[] = {
    {"list", "the stored mode-2 Kues: ref, identity, validity", kue_list},
    {"revoke", "withdraw mode-2 Kues by reference or identity", kue_revoke},
};

int cmd_kue(const char *prefix, int argc, char **argv)
{
    return cli_dispatch(prefix, kue_cmds, sizeof(kue_cmds) / sizeof(kue_cmds[0]), NULL, argc, argv);
}
